import ArgumentParser
import Foundation
import FusionCore
import FusionEngine
import FusionIO
import FusionMetrics
import FusionModels
import FusionReport
#if canImport(Glibc)
import Glibc
#endif

/// `fusion fuse` over a dataset: `--ir DIR --vis DIR -o DIR` (pairs by stem) or
/// `--pairs MANIFEST -o DIR`, pipelined, resumable and shardable.
extension FuseCommand {
    /// Whether this invocation fuses a dataset rather than one pair.
    var isDatasetRun: Bool {
        if pairs != nil { return true }
        var isFolder: ObjCBool = false
        return FileManager.default.fileExists(atPath: ir ?? "", isDirectory: &isFolder) && isFolder.boolValue
    }

    func validateDataset() throws {
        if pairs != nil, ir != nil || vis != nil { throw ValidationError("give either --pairs MANIFEST or --ir DIR --vis DIR, not both") }
        if pairs == nil {
            var isFolder: ObjCBool = false
            guard let vis, FileManager.default.fileExists(atPath: vis, isDirectory: &isFolder), isFolder.boolValue else {
                throw ValidationError("--ir \(ir ?? "") is a folder: --vis must be a folder of visible images too")
            }
        }
        if repeatCount != 1 { throw ValidationError("--repeat applies to one pair (benchmarking); a dataset run reports its own times") }
        if let shard, DatasetShard(shard) == nil { throw ValidationError("--shard \(shard): expected I/N with 1 <= I <= N, e.g. 2/8") }
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if batch < 1 || batch > 64 { throw ValidationError("--batch must be 1...64 (got \(batch))") }
        if metrics != nil, report == nil { throw ValidationError("--metrics chooses the metrics of --report") }
        if let report, URL(fileURLWithPath: report).pathExtension.lowercased() != "html" {
            throw ValidationError("--report \(report): the report is an HTML page; name it *.html")
        }
        if let metrics {
            do { _ = try MetricProfile.evaluator.metrics(from: metrics) } catch { throw ValidationError("--metrics \(metrics): \(error)") }
        }
        if textDir != nil, text != nil || textFeatures != nil {
            throw ValidationError("--text-dir gives each pair its own prompt: it does not go with --text or --text-features")
        }
        if textFeaturesDir != nil, text != nil || textFeatures != nil || textDir != nil || pairs != nil {
            throw ValidationError("--text-features-dir gives each pair its own features (STEM.npy): it does not go with --text, --text-features, --text-dir or --pairs")
        }
    }

    func fuseDataset() throws {
        // The plan: which pairs, which prompts, which outputs.
        var plan: DatasetPlan
        do {
            if let pairs { plan = try DatasetSources.manifest(pairs) } else { plan = try DatasetSources.folders(ir: ir!, vis: vis!, textFolder: textDir, featuresFolder: textFeaturesDir) }
        } catch let error as DatasetError {
            throw CLIError(error.description)
        }
        let total = plan.pairs.count
        if let shard, let (index, count) = DatasetShard(shard) { plan = plan.shard(index, of: count) }
        for line in plan.unmatched { printError("unmatched: \(line)") }

        // The output folder must take files before any work.
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw CLIError("--output \(output): cannot create the folder: \(error.localizedDescription)")
        }
        do { try AtomicFile.checkWritable(output + "/" + RunLog.fileName, format: "output folder") } catch let error as FileFormatError {
            throw CLIError("--output \(output): \(error.message)")
        }
        let log: RunLog
        do { log = try RunLog(folder: output) } catch { throw CLIError("\(error)") }

        let selected = try openBackend(backend, device: device, options: precisionOptions.options)
        passOptions.apply(to: selected.backend)
        let (model, loaded) = try datasetModel(selected)
        let weightsLabel = loaded.weightsLabel, weightsPath = loaded.weightsPath
        let jobs = try datasetJobs(plan, selected: selected, loaded: loaded)
        // Every output: not an input, in a folder that takes files (each folder probed once).
        var probed: Set<String> = [URL(fileURLWithPath: output).standardizedFileURL.path]
        for job in jobs {
            for path in job.outputs {
                // A manifest may name outputs in folders of their own.
                let folder = URL(fileURLWithPath: path).deletingLastPathComponent().standardizedFileURL.path
                try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try OutputChecks.check(path, distinctFrom: [("--ir", job.pair.ir), ("--vis", job.pair.vis), ("--weights", weights)],
                                       probe: probed.insert(folder).inserted)
            }
        }

        var options = DatasetRunner.Options()
        options.readers = self.jobs
        options.writers = self.jobs
        options.failFast = failFast
        options.overwrite = overwrite
        options.pixelLimit = maxPixels ?? Image.defaultPixelLimit
        options.batch = batch
        let weightsDigest = weightsPath.flatMap { try? WeightsStore.sha256(ofFile: $0) } ?? "random"
        let runner = DatasetRunner(model: model, options: options, log: log,
                                   logFields: ["model": model.name, "weights": weightsLabel, "weights_sha256": weightsDigest,
                                               "backend": "\(selected.name): \(selected.device)"])
        let progress = DatasetProgress(total: jobs.count, interactive: isatty(2) != 0 && !json)
        if !json {
            print("model: \(model.name) (\(weightsLabel))")
            print("backend: \(selected.name) — \(selected.device)")
            print("pairs: \(jobs.count)\(shard.map { " (shard \($0) of \(total))" } ?? ""), output: \(output)")
        }
        if let report { try OutputChecks.check(report, option: "--report", distinctFrom: []) }
        let outcomes = OutcomeList()
        let summary = runner.run(jobs) { outcome, summary in
            outcomes.append(outcome)
            progress.update(outcome, summary)
        }
        progress.finish(summary)
        if let report { try writeReport(report, jobs: jobs, outcomes: outcomes.all) }
        if json {
            let object: [String: Any] = [
                "pairs": jobs.count, "fused": summary.fused, "skipped": summary.skipped, "failed": summary.failed,
                "pairs_per_second": summary.pairsPerSecond, "wall_seconds": summary.wallSeconds,
                "seconds": ["decode": summary.decodeSeconds, "network": summary.networkSeconds, "encode": summary.encodeSeconds,
                            "network_idle": summary.networkIdleSeconds],
                "failures": summary.failures.map { ["stem": $0.stem, "reason": $0.reason] },
                "model": model.name, "backend": selected.name, "output": output,
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted]), as: UTF8.self))
        } else {
            print(String(format: "fused %d, skipped %d (already there), failed %d in %.2f s: %.2f pairs/s", summary.fused, summary.skipped,
                         summary.failed, summary.wallSeconds, summary.pairsPerSecond))
            print(String(format: "time: network %.2f s (idle %.2f s waiting for input); decode %.2f s and encode %.2f s on %d thread(s) each",
                         summary.networkSeconds, summary.networkIdleSeconds, summary.decodeSeconds, summary.encodeSeconds, self.jobs))
            print("run log: \(log.path)")
        }
        if !summary.failures.isEmpty {
            printError("failed pairs:")
            for (stem, reason) in summary.failures { printError("  \(stem): \(reason)") }
            throw ExitCode(1)
        }
    }

    /// The model of this run (from the catalogue), its label for the log, and its weights file.
    private func datasetModel(_ selected: SelectedBackend) throws -> (PairFusionModel, any CatalogueModel) {
        let loaded = try entry.load(modelSettings)
        guard let pairModel = try loaded.pairModel(on: selected, settings: modelSettings) else {
            throw CLIError("--model \(model) fuses no images")
        }
        return (pairModel, loaded)
    }

    /// Each pair's prompts (encoded once per distinct prompt, in one batch) and outputs.
    private func datasetJobs(_ plan: DatasetPlan, selected: SelectedBackend, loaded: any CatalogueModel) throws -> [DatasetJob] {
        // The run's own prompts: --task (Text-IF), --text, --text-features.
        var runPrompts: [(label: String, source: PromptSource)] = task.map { t in
            (t, .text(TextIFImages.taskPrompts.first { $0.task == t }!.prompt))
        }
        if let text { runPrompts.append(("text", .text(text))) }
        if let textFeatures { runPrompts.append(("features", .features(textFeatures))) }

        struct Resolved { var labels: [String]; var sources: [PromptSource]; var texts: [String?]; var failure: String? }
        var resolved: [Resolved] = []
        var distinctTexts: [String] = []
        var seenTexts = Set<String>()
        for pair in plan.pairs {
            var r = Resolved(labels: [], sources: [], texts: [], failure: nil)
            let prompts: [(String, PromptSource)] = pair.prompt.map { [("text", $0)] } ?? runPrompts
            if prompts.isEmpty {
                r.failure = "no prompt: give --text, --task or --text-features, --text-dir, --text-features-dir, or a manifest column"
            }
            for (label, source) in prompts {
                r.labels.append(label)
                r.sources.append(source)
                switch source {
                case let .text(t): r.texts.append(t)
                case let .textFile(path):
                    do {
                        let data = try RegularFile.read(path: path, maxBytes: 1 << 20, format: "prompt file")
                        let t = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                        if t.isEmpty { r.failure = "\(path): the prompt file is empty" }
                        r.texts.append(t)
                    } catch {
                        r.failure = "\(error)"
                        r.texts.append(nil)
                    }
                case .features: r.texts.append(nil)
                }
            }
            for t in r.texts.compactMap({ $0 }) where r.failure == nil && seenTexts.insert(t).inserted { distinctTexts.append(t) }
            resolved.append(r)
        }

        // Encode every distinct text once; a prompt that cannot be encoded fails its pairs only.
        var features: [String: [Float]] = [:], textFailures: [String: String] = [:]
        if !distinctTexts.isEmpty {
            let encoder = try loaded.promptEncoder(modelSettings, on: selected)
            var encodable: [String] = []
            for t in distinctTexts {
                do { _ = try encoder.tokens(t, truncate: truncate); encodable.append(t) } catch { textFailures[t] = "\(error)" }
            }
            if !encodable.isEmpty {
                for (t, f) in zip(encodable, try encoder.encode(encodable, truncate: truncate)) { features[t] = f }
            }
        }
        var fileFeatures: [String: Result<[Float], Error>] = [:]
        return zip(plan.pairs, resolved).map { pair, r in
            var failure = r.failure
            var values: [[Float]] = []
            for (source, text) in zip(r.sources, r.texts) where failure == nil {
                if let text {
                    if let f = features[text] { values.append(f) } else { failure = textFailures[text] ?? "prompt not encoded" }
                } else if case let .features(path) = source {
                    let result = fileFeatures[path] ?? Result { try loaded.readTextFeatures(path: path) }
                    fileFeatures[path] = result
                    switch result {
                    case let .success(f): values.append(f)
                    case let .failure(e): failure = "\(e)"
                    }
                }
            }
            let outputs: [String]
            if let explicit = pair.output {
                outputs = r.labels.count > 1 ? r.labels.map { Self.labelled(explicit, $0) } : [explicit]
            } else {
                let base = URL(fileURLWithPath: output).appendingPathComponent(pair.stem + ".png").path
                outputs = r.labels.count > 1 ? r.labels.map { Self.labelled(base, $0) } : [base]
            }
            return DatasetJob(pair: pair, outputs: outputs, features: values,
                              prompts: zip(r.sources, r.texts).map { $1 ?? $0.description }, failure: failure)
        }
    }

    /// The HTML page of a run: one entry per output (per prompt), failed pairs with their reasons.
    private func writeReport(_ path: String, jobs: [DatasetJob], outcomes: [DatasetOutcome]) throws {
        let byStem = Dictionary(outcomes.map { ($0.stem, $0) }, uniquingKeysWith: { $1 })
        var entries: [FusionReportEntry] = []
        for job in jobs {
            guard let outcome = byStem[job.pair.stem] else { continue }
            for (k, output) in job.outputs.enumerated() {
                let stem = job.outputs.count > 1 ? URL(fileURLWithPath: output).deletingPathExtension().lastPathComponent : job.pair.stem
                let prompt = k < job.prompts.count ? job.prompts[k] : nil
                let status: FusionReportEntry.Status = outcome.status == .failed ? .failed(reason: outcome.reason ?? "failed") : .fused
                let seconds = outcome.status == .fused ? outcome.decodeSeconds + outcome.networkSeconds + outcome.encodeSeconds : nil
                entries.append(FusionReportEntry(stem: stem, irPath: job.pair.ir, visPath: job.pair.vis, fusedPath: output,
                                                 prompt: prompt, status: status, seconds: seconds))
            }
        }
        let keys = try metrics.map { try MetricProfile.evaluator.metrics(from: $0) } ?? MetricProfile.evaluator.keys
        let title = "FusionKit: \(model) on \(pairs ?? ir ?? "")"
        let written = try FusionHTMLReport.write(entries: entries, title: title, profile: .evaluator, metrics: keys,
                                                 jobs: ProcessInfo.processInfo.activeProcessorCount, to: path)
        if !json { print("report: \(path) (\(written.evaluated) pairs evaluated, \(written.failed) failed)") }
    }

    /// `out.png` -> `out_LABEL.png`.
    static func labelled(_ path: String, _ label: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingPathExtension().path + "_" + label + "." + (url.pathExtension.isEmpty ? "png" : url.pathExtension)
    }
}

/// "I/N" -> (I, N) with 1 <= I <= N.
func DatasetShard(_ text: String) -> (Int, Int)? {
    let parts = text.split(separator: "/")
    guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, (1...n).contains(i) else { return nil }
    return (i, n)
}

/// Outcomes collected from the pipeline's threads.
private final class OutcomeList: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [DatasetOutcome] = []
    func append(_ o: DatasetOutcome) { lock.lock(); items.append(o); lock.unlock() }
    var all: [DatasetOutcome] { lock.lock(); defer { lock.unlock() }; return items }
}
