import ArgumentParser
import Foundation
import FusionBench
import FusionCore
import FusionCPU
import FusionEngine
import FusionParity
import FusionVulkan
#if canImport(Glibc)
import Glibc
#endif

/// The backends `fusion parity --model` compares.
enum ParityBackend: String, ExpressibleByArgument, CaseIterable { case cpu, vulkan }

/// `fusion parity --model M`: every node of a model's graph on the reference and the
/// candidate, compared as both run.
extension ParityCommand {
    func validateModel() throws {
        if ops { throw ValidationError("give either --ops or --model, not both") }
        if !op.isEmpty { throw ValidationError("--op applies to --ops") }
        if model == "all" { throw ValidationError("--model all: parity runs one model; known: \(ModelCatalogue.names.joined(separator: ", "))") }
        try modelOptions.validate(models: [model!])
        guard BenchCase.parseSize(size) != nil else { throw ValidationError(BenchCase.sizeError(size)) }
        if let device, device < 0 { throw ValidationError("--device must be a device index (0, 1, ...; see `fusion devices`), got \(device)") }
        guard toleranceFactor > 0, toleranceFactor.isFinite else { throw ValidationError("--tolerance-factor must be positive") }
        try precisionOptions.validate(cpuOnly: reference == .cpu && candidate == .cpu)
    }

    private func open(_ choice: ParityBackend) throws -> Backend {
        switch choice {
        case .cpu:
            let cpu = CPUBackend()
            cpu.winograd = false   // a CPU in a parity run is the direct-sum reference
            return cpu
        case .vulkan:
            do { return try VulkanBackend(deviceIndex: device, requiredFeatures: require, options: precisionOptions.options) } catch { throw CLIError("vulkan: \(error)") }
        }
    }

    func runModel(_ name: String) throws {
        let (height, width) = BenchCase.parseSize(size)!
        let workload = try modelOptions.workload(name, height: height, width: width)
        let bench = BenchCase(workload)
        let referenceBackend = try open(reference)
        var candidateBackend = try open(candidate)
        passOptions.apply(to: referenceBackend)
        passOptions.apply(to: candidateBackend)
        if let breakOp { candidateBackend = FaultInjectingBackend(base: candidateBackend, breaking: breakOp) }
        let runner = GraphParityRunner(reference: referenceBackend, candidate: candidateBackend)
        runner.toleranceFactor = toleranceFactor
        // fp16 storage on the candidate: fp16 node tolerances (NodeTolerance).
        let precision = candidate == .vulkan ? precisionOptions.resolved : .fp32
        runner.precision = precision
        if !json {
            let optimised = try referenceBackend.optimized(workload.graph)
            print("model: \(workload.name) at \(workload.size), \(workload.graph.nodes.count) nodes as built, \(optimised.nodes.count) as run (passes: \(passOptions.passes))")
            print("reference: \(referenceBackend.name) — \(referenceBackend.deviceDescription)")
            print("candidate: \(candidateBackend.name) — \(candidateBackend.deviceDescription)")
            print("tolerance: max |err| <= t x scale per node (scale = max(1, max |reference|)); t = \(NodeTolerance.standard(for: precision) * toleranceFactor), normalisations \(NodeTolerance.normalisation(for: precision) * toleranceFactor) (candidate storage \(precision))")
        }
        let header = ["node", "name", "op", "shape", "max |err|", "rel L2", "scale", "result"]
        func row(_ r: NodeParity) -> [String] {
            ["\(r.node)", r.name, r.op, r.shape.map(String.init).joined(separator: "x"), format(r.maxAbsError), format(r.relativeError),
             format(r.scale), r.passed ? "PASS" : "FAIL"]
        }
        let start = Date()
        var rows: [NodeParity] = []
        let result = try runner.run(workload.graph, inputs: bench.inputs) { r in
            if !summary || !r.passed { rows.append(r) }
        }
        let seconds = Date().timeIntervalSince(start)
        let peak = Self.peakResidentBytes()
        if json {
            struct Report: Encodable {
                let model: String, size: String, reference: String, candidate: String
                let summary: GraphParitySummary, nodes: [NodeParity], seconds: Double, peakResidentBytes: Int
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            print(String(decoding: try encoder.encode(Report(model: workload.name, size: workload.size, reference: referenceBackend.deviceDescription,
                                                              candidate: candidateBackend.deviceDescription, summary: result, nodes: rows,
                                                              seconds: seconds, peakResidentBytes: peak)), as: UTF8.self))
        } else {
            print("")
            if !rows.isEmpty { printTable(header: header, rows: rows.map(row)) }
            print("")
            print("\(result.nodes - result.failed) of \(result.nodes) nodes passed, \(result.failed) failed in \(String(format: "%.1f", seconds)) s; peak memory \(peak >> 20) MiB")
            if let worst = result.worst {
                print("largest error: node \(worst.node) \(worst.name) (\(worst.op)): max |err| \(format(worst.maxAbsError)) at scale \(format(worst.scale))")
            }
            if let first = result.firstDivergent {
                print("first divergent node: \(first.node) \(first.name) (\(first.op), \(first.shape.map(String.init).joined(separator: "x"))): max |err| \(format(first.maxAbsError)) > \(format(first.tolerance)) x scale \(format(first.scale))")
            }
        }
        if let vulkan = candidateBackend as? VulkanBackend ?? referenceBackend as? VulkanBackend, !vulkan.context.validationMessages.isEmpty {
            printError("\(vulkan.context.validationMessages.count) Vulkan validation messages")
            throw ExitCode(1)
        }
        if !result.passed { throw ExitCode(1) }
    }

    /// The process's peak resident memory (getrusage), in bytes.
    static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}
