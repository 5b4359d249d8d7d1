import ArgumentParser
import Foundation
import FusionBench
import FusionCore
import FusionCPU
import FusionEngine
import FusionIO
import FusionModels
import FusionVulkan

/// `fusion bench`: kernel and model timings with FLOP/s, bytes/s and the share of the
/// device's measured peak, the same way on every backend.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark kernels and models against the device's measured peak.",
        discussion: """
        Ops: \(OpBenchCases.families.joined(separator: ", ")) (or all). Models: \(ModelCatalogue.names.joined(separator: ", ")) (or all).
        With neither --op nor --model every op runs. Times are GPU timestamps on Vulkan (wall time on the CPU) over --repeat runs \
        after --warmup; peak_share is the share of the roofline bound max(FLOP/peak FLOP/s, bytes/peak bandwidth). --peak measures \
        and prints the peaks alone.
        """
    )

    enum BackendSet: String, ExpressibleByArgument, CaseIterable { case cpu, vulkan, all }

    @Option(name: .customLong("op"), help: "Op family to benchmark (repeatable; 'all' for every one).")
    var ops: [String] = []

    @Option(name: .customLong("model"), help: "Model to benchmark (repeatable; 'all' for every one).")
    var models: [String] = []

    @Option(parsing: .unconditional, help: "Image size HxW the ops and models run at.")
    var size: String = "512x640"

    @Option(help: "Backends: cpu, vulkan or all.")
    var backend: BackendSet = .all

    @Option(parsing: .unconditional, help: "Vulkan device index (see `fusion devices`).")
    var device: Int?

    @Option(name: .customLong("repeat"), parsing: .unconditional, help: "Timed runs per case.")
    var repeatCount = 5

    @Option(parsing: .unconditional, help: "Untimed runs before timing.")
    var warmup = 1

    @Flag(help: "Measure and print the devices' peak FLOP/s and copy bandwidth only.")
    var peak = false

    @Flag(name: .customLong("no-peak"), help: "Skip the peak probes (no peak_share).")
    var noPeak = false

    @Flag(help: "Print JSON: {\"device\": {...}, \"devices\": [...], \"results\": [...]}.")
    var json = false

    @Flag(help: "Print each --model's bytes moved (GraphTraffic) by op, as built and after --passes, at --precision; runs nothing.")
    var traffic = false

    @OptionGroup var modelOptions: ModelWorkloadOptions
    @OptionGroup var passOptions: GraphPassOptions

    @OptionGroup var precisionOptions: PrecisionOptions

    func validate() throws {
        guard BenchCase.parseSize(size) != nil else { throw ValidationError(BenchCase.sizeError(size)) }
        if let device, device < 0 { throw ValidationError("--device must be a device index (0, 1, ...; see `fusion devices`), got \(device)") }
        if repeatCount < 1 { throw ValidationError("--repeat must be at least 1") }
        if warmup < 0 { throw ValidationError("--warmup must not be negative") }
        if peak, noPeak { throw ValidationError("--peak and --no-peak contradict each other") }
        for op in ops where op != "all" && !OpBenchCases.families.contains(op) {
            throw ValidationError("--op \(op): unknown op; known: \(OpBenchCases.families.joined(separator: ", ")), all")
        }
        try modelOptions.validate(models: models)
        try precisionOptions.validate(cpuOnly: backend == .cpu)
        if modelOptions.batch != 1, models.isEmpty { throw ValidationError("--batch applies to --model") }
        if traffic, models.isEmpty { throw ValidationError("--traffic reports models: give --model NAME (or all)") }
        if traffic, json || peak { throw ValidationError("--traffic prints a table; it does not combine with --json or --peak") }
    }

    func run() throws {
        let (height, width) = BenchCase.parseSize(size)!
        if traffic { return try printTraffic(height: height, width: width) }
        var backends: [(Backend, BenchDevice)] = []
        func log(_ line: String) { if json { printError(line) } else { print(line) } }
        if backend != .vulkan {
            let cpu = CPUBackend(passes: passOptions.passes)
            let peak = noPeak ? nil : CPUPeakProbe().measure()
            backends.append((cpu, BenchDevice(backend: "cpu", name: "CPU (\(ProcessInfo.processInfo.activeProcessorCount) threads, \(CPUBackend.kernelISA) kernels)", peak: peak)))
        }
        if backend != .cpu {
            let gpu: VulkanBackend
            do { gpu = try VulkanBackend(deviceIndex: device, options: precisionOptions.options) } catch { throw CLIError("cannot open the vulkan backend: \(error)") }
            passOptions.apply(to: gpu)
            if let warning = gpu.context.gemmTuningWarning { printError("warning: \(warning)") }
            log(gpu.context.gemmTuningSummary)
            let peak = noPeak ? nil : try VulkanPeakProbe(context: gpu.context).measure()
            let name = gpu.deviceDescription + (gpu.precision == .fp32 ? "" : ", \(gpu.precision) storage")
            backends.append((gpu, BenchDevice(backend: "vulkan", name: name, peak: peak)))
        }
        if peak {
            if json {
                print(try BenchReport(devices: backends.map(\.1), results: []).json())
            } else {
                printTable(header: ["backend", "device", "peak GFLOP/s", "peak GB/s", "method"],
                           rows: backends.map { b in
                               [b.1.backend, b.1.name, String(format: "%.1f", b.1.peak?.gflops ?? 0), String(format: "%.1f", b.1.peak?.gbps ?? 0),
                                b.1.peak?.method ?? ""]
                           })
            }
            return
        }

        let cases = try benchCases(height: height, width: width)
        var results: [BenchResult] = []
        for (b, info) in backends {
            var runner = BenchRunner(backend: b, peak: info.peak)
            runner.warmup = warmup
            runner.repeats = repeatCount
            for c in cases {
                printError("bench: \(info.backend) \(c.name) \(c.size)...")
                do {
                    results.append(try runner.run(c))
                } catch {
                    throw CLIError("\(c.name) on \(info.backend): \(error)")
                }
            }
        }
        if json {
            print(try BenchReport(devices: backends.map(\.1), results: results).json())
            return
        }
        for (_, info) in backends {
            let peakText = info.peak.map { String(format: "peak %.1f GFLOP/s, %.1f GB/s", $0.gflops, $0.gbps) } ?? "no peak measured"
            log("\(info.backend): \(info.name) — \(peakText)")
        }
        log("passes: \(passOptions.passes) (nodes and GB: as built -> as run)")
        printTable(header: ["case", "backend", "size", "median ms", "min", "max", "timer", "nodes", "GFLOP", "GB", "GFLOP/s", "GB/s", "peak share"],
                   rows: results.map { r in
                       [r.name, r.backend, r.size, String(format: "%.3f", r.medianMs), String(format: "%.3f", r.minMs), String(format: "%.3f", r.maxMs),
                        r.timer, r.nodesBefore == r.nodes ? "\(r.nodes)" : "\(r.nodesBefore) -> \(r.nodes)", String(format: "%.3f", r.gflop),
                        r.nodesBefore == r.nodes ? String(format: "%.3f", r.gbytes) : String(format: "%.3f -> %.3f", r.gbytesBefore, r.gbytes),
                        String(format: "%.1f", r.gflops),
                        String(format: "%.1f", r.gbps), r.peakShare.map { String(format: "%.1f%% (%@)", $0 * 100, r.bound ?? "") } ?? "-"]
                   })
    }

    /// Bytes by op of each model's graph as built and as run (the passes are the same on
    /// every backend; weight-only subgraphs fold on the CPU).
    func printTraffic(height: Int, width: Int) throws {
        let precision = precisionOptions.resolved
        let backend = CPUBackend(passes: passOptions.passes)
        for model in models.contains("all") ? ModelCatalogue.names : models {
            let built = try modelOptions.workload(model, height: height, width: width).graph
            let tables = [("as built", TrafficTable(built, precision: precision)), ("as run", TrafficTable(try backend.optimized(built), precision: precision))]
            for (label, table) in tables {
                print(String(format: "%@ %dx%d %@ (passes %@, %@): %d nodes (%d run a kernel), %.3f GB", model, height, width, label,
                             label == "as built" ? "none" : passOptions.passes.description, precision.rawValue, table.nodes,
                             table.kernelNodes, table.bytes / 1e9))
                printTable(header: ["op", "nodes", "GB", "share"], rows: table.rows.map {
                    [$0.op, "\($0.nodes)", String(format: "%.3f", $0.bytes / 1e9), String(format: "%.1f%%", $0.share * 100)]
                })
            }
        }
    }

    func benchCases(height: Int, width: Int) throws -> [BenchCase] {
        var cases: [BenchCase] = []
        if !ops.isEmpty || models.isEmpty {
            cases += try OpBenchCases.cases(height: height, width: width, families: ops.isEmpty || ops.contains("all") ? nil : Set(ops))
        }
        for model in models.contains("all") ? ModelCatalogue.names : models {
            cases.append(BenchCase(try modelOptions.workload(model, height: height, width: width)))
        }
        return cases
    }
}
