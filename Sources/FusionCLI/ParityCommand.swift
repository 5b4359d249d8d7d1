import ArgumentParser
import Foundation
import FusionCore
import FusionCPU
import FusionEngine
import FusionParity
import FusionVulkan

struct ParityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parity",
        abstract: "Compare a candidate backend with the CPU reference: every op of the op set (--ops), or every node of a model (--model).",
        discussion: """
        --model M runs the model's graph (`fusion bench`'s workload: --size, --weights, --batch) on the reference and the \
        candidate at once and compares every node's output as both produce it, one row per node in graph order (--summary: \
        failures and the first divergent node only). Tolerances per op family: Docs/architecture.md, "Parity per node".
        """
    )

    @Option(name: .long, help: "Compare every node of this model: \(ModelCatalogue.names.joined(separator: ", ")).")
    var model: String?

    @Option(name: .long, parsing: .unconditional, help: "With --model: image size HxW.")
    var size: String = "64x96"

    @OptionGroup var modelOptions: ModelWorkloadOptions
    @OptionGroup var passOptions: GraphPassOptions

    @OptionGroup var precisionOptions: PrecisionOptions

    @Option(name: .long, help: "With --model: the reference backend, cpu or vulkan.")
    var reference: ParityBackend = .cpu

    @Option(name: .long, help: "With --model: the candidate backend, cpu or vulkan.")
    var candidate: ParityBackend = .vulkan

    @Flag(name: .long, help: "With --model: print only failing nodes, the first divergent node and the totals.")
    var summary = false

    @Flag(name: .long, help: "With --model: print a JSON report on stdout.")
    var json = false

    @Option(name: .customLong("tolerance-factor"), parsing: .unconditional, help: "With --model: multiply every op family's node tolerance.")
    var toleranceFactor: Float = 1

    @Option(name: .customLong("break-op"), help: .hidden)
    var breakOp: String?

    @Flag(name: .long, help: "Check every op of the op set on randomised shapes.")
    var ops = false

    @Flag(name: .customLong("no-variants"), help: "With --ops: skip the sweeps of the GEMM/conv and attention kernel variants (the kernel set does not change them).")
    var noVariants = false

    @Option(name: .long, parsing: .unconditional, help: "Vulkan device index (see `fusion devices`); default: FUSIONKIT_DEVICE or the first GPU.")
    var device: Int?

    @Option(name: .long, parsing: .unconditional, help: "Seed of the randomised shapes and values.")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Only this op (repeatable), e.g. --op conv2d --op softmax.")
    var op: [String] = []

    @Option(name: .long, help: "Fail unless the device supports this feature (\(DeviceFeature.allCases.map(\.rawValue).joined(separator: ", "))); repeatable.")
    var require: [DeviceFeature] = []

    @Flag(name: .long, help: "Print shader and pipeline cache statistics after the run.")
    var cacheStats = false

    @Option(name: .long, parsing: .unconditional, help: "Allowed max |err| as a fraction of the output's scale, for every case (default: each op family's tolerance from the op catalogue).")
    var tolerance: Float?

    func validate() throws {
        if model != nil { return try validateModel() }
        guard ops else { throw ValidationError("nothing to check: pass --ops or --model M") }
        if let device, device < 0 { throw ValidationError("--device must be a device index (0, 1, ...; see `fusion devices`), got \(device)") }
        if let tolerance, !(tolerance > 0) { throw ValidationError("--tolerance must be positive") }
    }

    func run() throws {
        if let model { return try runModel(model) }
        let precision = precisionOptions.resolved
        let gpu: VulkanBackend
        do {
            gpu = try VulkanBackend(deviceIndex: device, requiredFeatures: require, options: precisionOptions.options)
        } catch { throw CLIError("vulkan: \(error)") }
        let reference = CPUBackend()
        reference.winograd = false   // the reference is the direct sum
        // --break-op (a test hook): the candidate's kernel for one op is off by 0.1, over every
        // family's tolerance at fp32 and fp16 for the catalogue's output scales (up to ~10).
        let candidate: Backend = breakOp.map { FaultInjectingBackend(base: gpu, breaking: $0, shift: 0.1) } ?? gpu
        let runner = ParityRunner(reference: reference, candidate: candidate, tolerance: tolerance, candidatePrecision: precision)
        var cases = try OpCatalogue.parityCases(seed: seed)
        let known = Set(cases.map(\.op))
        if let unknown = op.first(where: { !known.contains($0) }) {
            throw CLIError("unknown op '\(unknown)'; known ops: \(known.sorted().joined(separator: ", "))")
        }
        if !op.isEmpty { cases = cases.filter { op.contains($0.op) } }
        print("reference: \(runner.reference.deviceDescription)")
        print("candidate: \(candidate.deviceDescription), \(precision.rawValue) storage")
        if precision == .fp16 {
            print("fp16: the reference reads the candidate's fp16-rounded inputs and weights; the float64 references are checked by the fp32 run")
        }
        if let tolerance {
            print("tolerance: max |err| <= \(tolerance) x output scale (scale = max(1, max |reference|))")
        } else {
            print("tolerance: max |err| <= the op family's tolerance x output scale (scale = max(1, max |reference|)); "
                  + OpFamily.allCases.map { "\($0.rawValue) \($0.tolerance(at: precision))" }.joined(separator: ", "))
        }
        print("")
        let header = ["op", "shapes", "max |err|", "rel L2 err", "scale", "result"]
        var rows: [[String]] = []
        var failed = 0
        for c in cases {
            let r = runner.run(c)
            if !r.passed { failed += 1 }
            rows.append([r.op, r.shapes, format(r.maxAbsError), format(r.relativeError), format(r.scale),
                         r.passed ? "PASS" : "FAIL" + (r.failure.map { ": \($0)" } ?? "")])
        }
        printTable(header: header, rows: rows)
        print("")
        print("\(cases.count - failed) passed, \(failed) failed")
        if !noVariants, op.isEmpty || op.contains("conv2d") || op.contains("matmul") || op.contains("linear") {
            failed += try checkGemmVariants(gpu: gpu, reference: reference)
        }
        if !noVariants, op.isEmpty || op.contains("attention") {
            failed += try checkAttentionVariants(gpu: gpu, reference: reference)
        }
        if cacheStats {
            gpu.context.flushCaches()
            let s = gpu.context.stats
            print("cache: shaders compiled \(s.shadersCompiled), spirv cache hits \(s.spirvCacheHits), pipelines created \(s.pipelinesCreated), pipeline cache hits \(s.pipelineCacheHits), pipeline cache bytes loaded \(s.pipelineCacheBytesLoaded), submissions \(s.submissions)")
        }
        if !gpu.context.validationMessages.isEmpty {
            printError("\(gpu.context.validationMessages.count) Vulkan validation messages")
            throw ExitCode(1)
        }
        if failed > 0 { throw ExitCode(1) }
    }

    /// Every register-tiled GEMM / conv variant the device can run (`GemmVariantParity`) at
    /// the run's precision; returns the number of failed rows.
    private func checkGemmVariants(gpu: VulkanBackend, reference: CPUBackend) throws -> Int {
        let info = gpu.context.info
        print("")
        print("GEMM variants (register-tiled GEMM and implicit-GEMM conv, K splits \(GemmVariantParity.splitCounts.map(String.init).joined(separator: ", "))):")
        for v in GemmVariant.all {
            let why = v.unsupportedReason(on: info, precision: gpu.precision)
            print("  \(v)\(why.map { ": not checked, \($0)" } ?? "")")
        }
        var rows: [[String]] = []
        var failed = 0
        let results = try GemmVariantParity.run(gpu: gpu, cpu: reference)
        let groups = Dictionary(grouping: results) { "\($0.variant) \($0.splits)" }
        for v in GemmVariant.all {
            for splits in GemmVariantParity.splitCounts {
                guard let rs = groups["\(v.name) \(splits)"] else { continue }
                let worst = rs.map { $0.maxAbsError / $0.scale }.max() ?? 0
                let bad = rs.filter { !$0.passed }
                failed += bad.isEmpty ? 0 : 1
                rows.append([v.name, gpu.precision.rawValue, String(splits), String(rs.count), format(worst),
                             bad.isEmpty ? "PASS" : "FAIL: " + bad.map(\.caseName).joined(separator: "; ")])
            }
        }
        printTable(header: ["variant", "precision", "K splits", "cases", "max |err| / scale", "result"], rows: rows)
        print("variants checked: \(Set(rows.map { $0[0] }).count) (\(rows.count) variant x split rows, \(gpu.precision.rawValue)), \(failed) failed")
        return failed
    }

    /// Every attention variant the device can run (`AttentionVariantParity`) at the run's
    /// precision; returns the number of failed rows.
    private func checkAttentionVariants(gpu: VulkanBackend, reference: CPUBackend) throws -> Int {
        let info = gpu.context.info
        print("")
        print("attention variants (flash kernels with key splits where the keys are long, and the GEMM path):")
        for v in AttentionVariant.all {
            let why = v.unsupportedReason(on: info, precision: gpu.precision)
                ?? (v.cooperativeMatrix && !gpu.context.enabledFeatures.cooperativeMatrixNV ? "cooperative matrices are not enabled" : nil)
            print("  \(v)\(why.map { ": not checked, \($0)" } ?? "")")
        }
        var rows: [[String]] = []
        var failed = 0
        let groups = Dictionary(grouping: try AttentionVariantParity.run(gpu: gpu, cpu: reference), by: \.variant)
        for v in AttentionVariant.all {
            guard let rs = groups[v.name] else { continue }
            let worst = rs.map { $0.maxAbsError / $0.scale }.max() ?? 0
            let bad = rs.filter { !$0.passed }
            failed += bad.isEmpty ? 0 : 1
            rows.append([v.name, gpu.precision.rawValue, String(rs.count), format(worst),
                         bad.isEmpty ? "PASS" : "FAIL: " + bad.map(\.caseName).joined(separator: "; ")])
        }
        printTable(header: ["variant", "precision", "cases", "max |err| / scale", "result"], rows: rows)
        print("attention variants checked: \(rows.count) (\(gpu.precision.rawValue)), \(failed) failed")
        return failed
    }

    func format(_ v: Float) -> String {
        v.isFinite ? String(format: "%.2e", Double(v)) : "-"
    }
}

extension DeviceFeature: ExpressibleByArgument {}
