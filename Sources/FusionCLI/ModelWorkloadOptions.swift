import ArgumentParser
import Foundation
import FusionBench
import FusionEngine

/// The options `bench` and `profile` share to build a model's workload from the catalogue:
/// whose weights, and how many inputs per graph run.
struct ModelWorkloadOptions: ParsableArguments {
    @Option(name: .customLong("weights"),
            help: "Checkpoint of a model: FILE (with one --model) or MODEL=FILE (repeatable). Default: TextFusion's published weights; the released configuration with random weights for the others.")
    var weights: [String] = []

    @Option(name: .customLong("clip-heads"), parsing: .unconditional, help: "Attention heads of a clip-text tower given with --weights, when not width / 64.")
    var clipHeads: Int?

    @Option(parsing: .unconditional, help: "Pairs per graph run (prompts for clip-text): the batch dimension of the model's graph.")
    var batch = 1

    /// Checks the options against the models that will run.
    func validate(models: [String]) throws {
        if batch < 1 || batch > 64 { throw ValidationError("--batch must be 1...64 (got \(batch))") }
        if let clipHeads, clipHeads < 1 { throw ValidationError("--clip-heads must be positive (got \(clipHeads))") }
        for model in models where model != "all" {
            do { _ = try ModelCatalogue.model(named: model) } catch { throw ValidationError("\(error)") }
        }
        for entry in weights {
            if let (model, file) = Self.split(entry) {
                do { _ = try ModelCatalogue.model(named: model) } catch { throw ValidationError("--weights \(entry): \(error)") }
                if file.isEmpty { throw ValidationError("--weights \(entry): no file after '='") }
            } else if models.count != 1 || models == ["all"] {
                throw ValidationError("--weights \(entry): with several models (or none), name the model: --weights MODEL=FILE")
            }
        }
    }

    /// "textif=/a/b.pth" -> ("textif", "/a/b.pth"); nil for a plain file (also one with '='
    /// in a folder name, when what precedes it is not a model name).
    static func split(_ entry: String) -> (String, String)? {
        guard let eq = entry.firstIndex(of: "=") else { return nil }
        let model = String(entry[..<eq])
        guard ModelCatalogue.names.contains(model) || !model.contains("/") else { return nil }
        return (model, String(entry[entry.index(after: eq)...]))
    }

    /// The weights file given for `model`, if any.
    func weightsFile(for model: String) -> String? {
        for entry in weights {
            if let (m, file) = Self.split(entry) { if m == model { return file } } else { return entry }
        }
        return nil
    }

    /// `model` loaded as given (or its default weights) and built at `height` x `width`.
    func workload(_ model: String, height: Int, width: Int) throws -> ModelWorkload {
        let entry = try ModelCatalogue.model(named: model)
        var settings = ModelSettings(weights: weightsFile(for: model))
        if settings.weights == nil, entry.fuseOptions.contains(.randomWeights) { settings.randomSeed = 7 }
        settings.clipHeads = clipHeads
        settings.log = { printError($0) }
        return try entry.load(settings).workload(height: height, width: width, batch: batch)
    }
}

extension BenchCase {
    /// A model benchmark: the workload's graph, its fixed inputs and random others.
    init(_ workload: ModelWorkload) {
        self.init(name: workload.name, kind: .model, size: workload.size, graph: workload.graph,
                  inputs: BenchCase.randomInputs(for: workload.graph).merging(workload.fixedInputs) { $1 })
    }
}
