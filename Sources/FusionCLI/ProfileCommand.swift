import ArgumentParser
import Foundation
import FusionBench
import FusionCore
import FusionEngine
import FusionIO
import FusionModels
import FusionVulkan

/// `fusion profile`: one model run with GPU timestamps, the top ops by GPU time, and GPU
/// time against wall time so host overhead and idle gaps show.
struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Run one model once on a Vulkan device and print the top ops by GPU time."
    )

    @Option(help: "Model: \(ModelCatalogue.names.joined(separator: ", ")).")
    var model: String = "textfusion"

    @Option(parsing: .unconditional, help: "Image size HxW.")
    var size: String = "512x640"

    @Option(parsing: .unconditional, help: "Vulkan device index (see `fusion devices`).")
    var device: Int?

    @Option(parsing: .unconditional, help: "How many ops to list.")
    var top = 20

    @Option(parsing: .unconditional, help: "Untimed runs before the profiled one (the first run pays for first-touch of memory).")
    var warmup = 1

    @OptionGroup var modelOptions: ModelWorkloadOptions

    func validate() throws {
        if model == "all" { throw ValidationError("--model all: profile runs one model; known: \(ModelCatalogue.names.joined(separator: ", "))") }
        try modelOptions.validate(models: [model])
        guard BenchCase.parseSize(size) != nil else { throw ValidationError(BenchCase.sizeError(size)) }
        if let device, device < 0 { throw ValidationError("--device must be a device index (0, 1, ...; see `fusion devices`), got \(device)") }
        if top < 1 { throw ValidationError("--top must be at least 1") }
        if warmup < 0 { throw ValidationError("--warmup must not be negative") }
    }

    func run() throws {
        let (height, width) = BenchCase.parseSize(size)!
        let c = BenchCase(try modelOptions.workload(model, height: height, width: width))
        let gpu: VulkanBackend
        do { gpu = try VulkanBackend(deviceIndex: device) } catch { throw CLIError("cannot open the vulkan backend: \(error)") }
        let prepareStart = DispatchTime.now().uptimeNanoseconds
        guard let executable = try gpu.prepare(c.graph) as? VulkanExecutable else { throw CLIError("the Vulkan backend returned no Vulkan executable") }
        let prepareMs = Double(DispatchTime.now().uptimeNanoseconds - prepareStart) / 1e6
        for _ in 0..<warmup { _ = try executable.run(c.inputs) }
        let start = DispatchTime.now().uptimeNanoseconds
        _ = try executable.run(c.inputs)
        let wallMs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        let profile = try GPUProfile(executable: executable, graph: c.graph, wallMilliseconds: wallMs)

        print("model: \(c.name) at \(c.size) on \(gpu.deviceDescription)")
        print(String(format: "prepare: %.1f ms; %d dispatches in %d submission(s), %d barriers; %.1f GFLOP", prepareMs, executable.dispatchCount,
                     profile.submissions, executable.barrierCount, c.flops / 1e9))
        printTable(header: ["op", "node", "shape", "dispatches", "ms", "share", "GFLOP/s"],
                   rows: profile.rows.prefix(top).map { r in
                       [r.op, r.node, r.shape.map(String.init).joined(separator: "x"), "\(r.dispatches)", String(format: "%.3f", r.milliseconds),
                        String(format: "%.1f%%", r.share * 100), String(format: "%.1f", r.gflops)]
                   })
        if profile.rows.count > top { print("... \(profile.rows.count - top) more ops") }
        print(String(format: "GPU: %.3f ms in dispatches, %.3f ms from first dispatch to last (idle inside: %.3f ms)",
                     profile.dispatchMilliseconds, profile.spanMilliseconds, profile.idleMilliseconds))
        print(String(format: "wall: %.3f ms for the run (host overhead, uploads and downloads: %.3f ms); %.1f GFLOP/s on GPU time, %.1f on wall time",
                     profile.wallMilliseconds, profile.hostOverheadMilliseconds,
                     c.flops / 1e9 / max(profile.dispatchMilliseconds / 1e3, 1e-12), c.flops / 1e9 / max(wallMs / 1e3, 1e-12)))
    }
}
