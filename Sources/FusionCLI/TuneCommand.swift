import ArgumentParser
import Foundation
import FusionBench
import FusionCore
import FusionEngine
import FusionVulkan

/// `fusion tune`: measures the register-tiled GEMM / conv variants on every distinct GEMM
/// and conv problem, and the attention variants on every attention problem, of a model's
/// workload on this device (`GemmTuner`) and writes the
/// winners to the device's tuning table in the cache, which `fuse`, `bench` and `profile`
/// then use.
struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Time the GEMM/conv and attention kernel variants on a model's problem shapes and store the fastest in the device's tuning table.",
        discussion: """
        The table is $FUSIONKIT_CACHE/vulkan/tuning/<vendor>-<device>-<driver>.json, keyed by problem shape (kind, M, N, K, batch, \
        precision); a later tune merges into it. Candidates: the variants the device can run (`fusion parity --ops` lists them), \
        each without and with K splits, at most --candidates per shape, timed by GPU timestamps over --repeat whole-graph runs; \
        attention problems (batch x heads, Nq, Nk, d, dv, bias, mask, precision) over the attention variants likewise. \
        On a CPU driver the tiled kernels run only with FUSIONKIT_KERNELS=tiled; the tuner measures them regardless.
        """
    )

    @Option(help: "Model whose workload is tuned: \(ModelCatalogue.names.joined(separator: ", ")).")
    var model = "textfusion"

    @Option(parsing: .unconditional, help: "Image size HxW.")
    var size = "256x256"

    @Option(parsing: .unconditional, help: "Vulkan device index (see `fusion devices`).")
    var device: Int?

    @Option(name: .customLong("repeat"), parsing: .unconditional, help: "Timed runs per candidate round (the best counts).")
    var repeatCount = 3

    @Option(parsing: .unconditional, help: "Most candidates timed per shape, the default choice included.")
    var candidates = 12

    @Flag(help: "Print the outcome as JSON.")
    var json = false

    @OptionGroup var modelOptions: ModelWorkloadOptions
    @OptionGroup var precisionOptions: PrecisionOptions

    func validate() throws {
        guard BenchCase.parseSize(size) != nil else { throw ValidationError(BenchCase.sizeError(size)) }
        if model == "all" { throw ValidationError("--model all: tune takes one model at a time; known: \(ModelCatalogue.names.joined(separator: ", "))") }
        try modelOptions.validate(models: [model])
        if let device, device < 0 { throw ValidationError("--device must be a device index (0, 1, ...; see `fusion devices`), got \(device)") }
        if repeatCount < 1 { throw ValidationError("--repeat must be at least 1") }
        if candidates < 1 { throw ValidationError("--candidates must be at least 1") }
    }

    func run() throws {
        let (height, width) = BenchCase.parseSize(size)!
        func log(_ line: String) { if json { printError(line) } else { print(line) } }
        let gpu: VulkanBackend
        do { gpu = try VulkanBackend(deviceIndex: device, options: precisionOptions.options) } catch { throw CLIError("cannot open the vulkan backend: \(error)") }
        if let warning = gpu.context.gemmTuningWarning { printError("warning: \(warning)") }
        let c = BenchCase(try modelOptions.workload(model, height: height, width: width))
        let graph = try gpu.optimized(c.graph)
        var tuner = GemmTuner(backend: gpu)
        tuner.repeats = repeatCount
        tuner.maxCandidates = candidates
        log("tune: \(c.name) at \(c.size) on \(gpu.deviceDescription), \(gpu.precision) storage")
        let start = Date()
        let outcomes: [GemmTuner.Outcome]
        let attention: [GemmTuner.AttentionOutcome]
        do {
            outcomes = try tuner.tune(graph: graph, inputs: c.inputs) { printError("tune: \($0)") }
            attention = try tuner.tuneAttention(graph: graph, inputs: c.inputs) { printError("tune: \($0)") }
        } catch {
            throw CLIError("tune \(c.name): \(error)")
        }
        let url = gpu.context.gemmTuningURL
        let table = tuner.table(outcomes, attention: attention, merging: gpu.context.gemmTuning)
        do { try table.write(to: url) } catch { throw CLIError("cannot write the tuning table \(url.path): \(error)") }
        let seconds = Date().timeIntervalSince(start)
        if json {
            let rows = outcomes.map { o in
                "{\"shape\": \"\(o.key)\", \"kind\": \"\(o.key.kind.rawValue)\", \"m\": \(o.key.m), \"n\": \(o.key.n), \"k\": \(o.key.k), \"batch\": \(o.key.batch), "
                    + "\"default\": \"\(o.defaultChoice.variant.name)/\(o.defaultChoice.splits)\", \"default_us\": \(String(format: "%.3f", o.defaultMicroseconds)), "
                    + "\"best\": \"\(o.best.variant.name)/\(o.best.splits)\", \"best_us\": \(String(format: "%.3f", o.bestMicroseconds)), \"candidates\": \(o.candidates)}"
            }
            let attentionRows = attention.map { o in
                "{\"shape\": \"\(o.key)\", \"default\": \"\(o.defaultChoice.name)\", \"default_us\": \(String(format: "%.3f", o.defaultMicroseconds)), "
                    + "\"best\": \"\(o.best.name)\", \"best_us\": \(String(format: "%.3f", o.bestMicroseconds)), \"candidates\": \(o.candidates)}"
            }
            print("{\"table\": \"\(url.path)\", \"shapes\": \(table.entries.count), \"seconds\": \(String(format: "%.1f", seconds)), \"results\": [\n  "
                  + rows.joined(separator: ",\n  ") + "\n], \"attention\": [" + (attentionRows.isEmpty ? "" : "\n  " + attentionRows.joined(separator: ",\n  ") + "\n") + "]}")
            return
        }
        printTable(header: ["shape", "nodes", "default", "default us", "best", "best us", "speed-up"],
                   rows: outcomes.map { o in
                       [o.key.description, "\(o.nodes)", "\(o.defaultChoice.variant.name) /\(o.defaultChoice.splits)", String(format: "%.1f", o.defaultMicroseconds),
                        "\(o.best.variant.name) /\(o.best.splits)", String(format: "%.1f", o.bestMicroseconds),
                        String(format: "%.2fx", o.defaultMicroseconds / max(o.bestMicroseconds, 1e-9))]
                   })
        let total = outcomes.reduce((0.0, 0.0)) { ($0.0 + $1.defaultMicroseconds, $0.1 + $1.bestMicroseconds) }
        print(String(format: "GEMM/conv GPU time: %.1f us with the defaults, %.1f us tuned (%.2fx); %.1f s", total.0, total.1, total.0 / max(total.1, 1e-9), seconds))
        if !attention.isEmpty {
            printTable(header: ["attention shape", "nodes", "default", "default us", "best", "best us", "speed-up"],
                       rows: attention.map { o in
                           [o.key.description, "\(o.nodes)", o.defaultChoice.name, String(format: "%.1f", o.defaultMicroseconds),
                            o.best.name, String(format: "%.1f", o.bestMicroseconds), String(format: "%.2fx", o.defaultMicroseconds / max(o.bestMicroseconds, 1e-9))]
                       })
        }
        print("tuning table: \(url.path) (\(table.entries.count) shapes)")
    }
}
