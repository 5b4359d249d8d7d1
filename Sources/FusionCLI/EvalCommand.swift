import ArgumentParser
import Foundation
import FusionIO
import FusionMetrics
#if canImport(Glibc)
import Glibc
#endif

/// `fusion eval`: fusion-quality metrics of fused images against their sources.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Fusion-quality metrics (EN, SD, SF, MI, VIF, Qabf, SSIM, ...) of fused images.",
        discussion: """
        Pairs the images of the three folders by file name without extension (any mix of .png \
        and .jpg) and reports each image's metrics and their mean. Profiles: \
        evaluator (utils/Evaluator.py of CDDFuse/FILM: \(MetricProfile.evaluator.keys.joined(separator: " "))); \
        vifb (VIFB's MATLAB metrics per RGB channel: \(MetricProfile.vifb.keys.joined(separator: " "))). \
        See Docs/metrics.md for every formula and convention.
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, csv, json }

    @Option(help: "Folder of infrared source images.")
    var ir: String

    @Option(help: "Folder of visible source images.")
    var vis: String

    @Option(help: "Folder of fused images.")
    var fused: String

    @Option(help: "Metric convention: evaluator or vifb.")
    var profile: String = MetricProfile.evaluator.rawValue

    @Option(help: "Comma-separated metric names of the profile (default: all).")
    var metrics: String?

    @Option(help: "Output: table, csv or json.")
    var format: Format = .table

    @Option(parsing: .unconditional, help: "Images evaluated at once (default: the number of CPU cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        do {
            guard let profile = MetricProfile(rawValue: profile.lowercased()) else { throw MetricsError.unknownProfile(self.profile) }
            let keys = try metrics.map { try profile.metrics(from: $0) } ?? profile.keys
            guard jobs >= 1 else { throw MetricsError.badJobs(jobs) }
            let pairing = try TriplePairing.pair(ir: ir, vis: vis, fused: fused)
            for line in pairing.unmatched { printError("warning: unmatched image \(line)") }
            let interactive = isatty(STDERR_FILENO) == 1
            let report = try Evaluation.run(pairing.triples, profile: profile, metrics: keys, jobs: jobs) { done, total, name in
                let line = "eval: \(done)/\(total) \(name)"
                if interactive {
                    FileHandle.standardError.write(Data(("\r\u{1B}[K" + line + (done == total ? "\n" : "")).utf8))
                } else {
                    printError(line)
                }
            }
            switch format {
            case .table: printEvalTable(report)
            case .csv: print(evalCSV(report), terminator: "")
            case .json: print(evalJSON(report))
            }
        } catch let error as MetricsError {
            throw CLIError(error.description)
        }
    }
}

/// One row per image and the mean, 4 decimals.
func printEvalTable(_ report: EvaluationReport) {
    func cells(_ values: [String: Double]) -> [String] {
        report.metrics.map { MetricValueFormat.table(values[$0]) }
    }
    var rows = report.images.map { [$0.name] + cells($0.values) }
    rows.append(["mean"] + cells(report.mean))
    print("profile: \(report.profile), \(report.images.count) image\(report.images.count == 1 ? "" : "s")")
    printTable(header: ["name"] + report.metrics, rows: rows)
}

/// `name,KEY...` then one row per image and a last `mean` row, values at full precision.
func evalCSV(_ report: EvaluationReport) -> String {
    func quoted(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
    var lines = [(["name"] + report.metrics).joined(separator: ",")]
    for image in report.images {
        lines.append(([quoted(image.name)] + report.metrics.map { image.values[$0].map(MetricValueFormat.exact) ?? "" }).joined(separator: ","))
    }
    lines.append((["mean"] + report.metrics.map { report.mean[$0].map(MetricValueFormat.exact) ?? "" }).joined(separator: ","))
    return lines.joined(separator: "\n") + "\n"
}

/// `{"profile": ..., "images": [{"name": ..., "metrics": {KEY: value}}], "mean": {KEY: value}}`,
/// keys in the profile's order, values at full precision (NaN and infinities as null).
func evalJSON(_ report: EvaluationReport) -> String {
    func object(_ values: [String: Double]) -> String {
        "{" + report.metrics.compactMap { key in
            values[key].map { jsonStringLiteral(key) + ": " + ($0.isFinite ? "\($0)" : "null") }
        }.joined(separator: ", ") + "}"
    }
    let images = report.images.map { "    {\"name\": \(jsonStringLiteral($0.name)), \"metrics\": \(object($0.values))}" }
    return """
    {
      "profile": \(jsonStringLiteral(report.profile.rawValue)),
      "images": [
    \(images.joined(separator: ",\n"))
      ],
      "mean": \(object(report.mean))
    }
    """
}
