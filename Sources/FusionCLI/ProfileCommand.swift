import ArgumentParser
import Foundation
import FusionBench
import FusionCore
import FusionEngine
import FusionVulkan

/// `fusion profile`: one model run with per-node times from the backend (GPU timestamps on
/// a Vulkan device, wall time on the CPU), the top ops, and device time against wall time
/// so host overhead and idle gaps show.
struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Run one model once and print the top ops by time (GPU timestamps on Vulkan, wall time on the CPU)."
    )

    @Option(help: "Model: \(ModelCatalogue.names.joined(separator: ", ")).")
    var model: String = "textfusion"

    @Option(parsing: .unconditional, help: "Image size HxW.")
    var size: String = "512x640"

    @Option(help: "Backend: vulkan (the default) or cpu.")
    var backend: BackendChoice = .vulkan

    @Option(parsing: .unconditional, help: "Vulkan device index (see `fusion devices`).")
    var device: Int?

    @Option(parsing: .unconditional, help: "How many ops to list.")
    var top = 20

    @Option(parsing: .unconditional, help: "Untimed runs before the profiled one (the first run pays for first-touch of memory).")
    var warmup = 1

    @OptionGroup var modelOptions: ModelWorkloadOptions
    @OptionGroup var passOptions: GraphPassOptions

    @OptionGroup var precisionOptions: PrecisionOptions

    func validate() throws {
        if model == "all" { throw ValidationError("--model all: profile runs one model; known: \(ModelCatalogue.names.joined(separator: ", "))") }
        try modelOptions.validate(models: [model])
        guard BenchCase.parseSize(size) != nil else { throw ValidationError(BenchCase.sizeError(size)) }
        if let device, device < 0 { throw ValidationError("--device must be a device index (0, 1, ...; see `fusion devices`), got \(device)") }
        if device != nil, backend == .cpu { throw ValidationError("--device selects a Vulkan device; it does not apply to --backend cpu") }
        try precisionOptions.validate(cpuOnly: backend == .cpu)
        if top < 1 { throw ValidationError("--top must be at least 1") }
        if warmup < 0 { throw ValidationError("--warmup must not be negative") }
    }

    func run() throws {
        let (height, width) = BenchCase.parseSize(size)!
        let c = BenchCase(try modelOptions.workload(model, height: height, width: width))
        let selected = try openBackend(backend, device: device, options: precisionOptions.options)
        passOptions.apply(to: selected.backend)
        let prepareStart = DispatchTime.now().uptimeNanoseconds
        let graph = try selected.backend.optimized(c.graph)
        let executable = try selected.backend.prepare(graph)
        let prepareMs = Double(DispatchTime.now().uptimeNanoseconds - prepareStart) / 1e6
        for _ in 0..<warmup { _ = try executable.run(c.inputs) }
        let start = DispatchTime.now().uptimeNanoseconds
        _ = try executable.run(c.inputs)
        let wallMs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        let table = try RunProfileTable(executable: executable, graph: graph, wallMilliseconds: wallMs)
        let p = table.profile

        print("model: \(c.name) at \(c.size) on \(selected.name) — \(selected.device)")
        if let gpu = selected.backend as? VulkanBackend { print(gpu.context.gemmTuningSummary) }
        print(String(format: "passes: %@; %d nodes as built, %d as run; %.3f GB moved as built, %.3f as run", selected.backend.passes.description,
                     c.graph.nodes.count, graph.nodes.count, c.bytes / 1e9, GraphTraffic.bytes(graph) / 1e9))
        print(String(format: "prepare: %.1f ms; %d dispatches in %d submission(s), %d barriers; %.1f GFLOP; %.1f MiB held", prepareMs, p.dispatches,
                     p.submissions, p.barriers, c.flops / 1e9, Double(executable.heldBytes) / 1048576))
        printTable(header: ["op", "node", "shape", "dispatches", "ms", "share", "GFLOP/s"],
                   rows: table.rows.prefix(top).map { r in
                       [r.op, r.node, r.shape.map(String.init).joined(separator: "x"), "\(r.dispatches)", String(format: "%.3f", r.milliseconds),
                        String(format: "%.1f%%", r.share * 100), String(format: "%.1f", r.gflops)]
                   })
        if table.rows.count > top { print("... \(table.rows.count - top) more ops") }
        if p.deviceSpanSeconds != nil {
            print(String(format: "GPU: %.3f ms in dispatches, %.3f ms from first dispatch to last (idle inside: %.3f ms)",
                         table.nodeMilliseconds, table.spanMilliseconds, table.idleMilliseconds))
        } else {
            print(String(format: "nodes: %.3f ms (wall clock, one node at a time)", table.nodeMilliseconds))
        }
        let rate = p.timer == "gpu" ? String(format: "%.1f GFLOP/s on GPU time, %.1f on wall time", c.flops / 1e9 / max(table.nodeMilliseconds / 1e3, 1e-12),
                                             c.flops / 1e9 / max(wallMs / 1e3, 1e-12))
            : String(format: "%.1f GFLOP/s", c.flops / 1e9 / max(wallMs / 1e3, 1e-12))
        print(String(format: "wall: %.3f ms for the run (host overhead, uploads and downloads: %.3f ms); %@",
                     table.wallMilliseconds, table.hostOverheadMilliseconds, rate))
    }
}
