import Foundation
import FusionMetrics
import FusionTestSupport
import XCTest

/// The rows of `golden/metrics.json`: reference values of both profiles for 105 VIFB triples.
struct GoldenMetrics {
    struct Row {
        let ir: String, vis: String, fused: String
        let values: [String: Double]
        /// `carLight_ADF` for `output/fused_images/carLight_ADF.jpg`.
        var name: String { URL(fileURLWithPath: fused).deletingPathExtension().lastPathComponent }
    }
    let methods: [String]
    let rows: [MetricProfile: [Row]]
    let imageRoot: String

    static func load() throws -> GoldenMetrics {
        let path = try TestData.path("golden/metrics.json")
        let imageRoot = try TestData.path("data/vifb")
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        var rows: [MetricProfile: [Row]] = [:]
        for profile in MetricProfile.allCases {
            let list = try XCTUnwrap(json[profile.rawValue] as? [[String: Any]], "golden file lacks \(profile)")
            rows[profile] = try list.map { r in
                var values: [String: Double] = [:]
                for key in profile.keys { values[key] = try XCTUnwrap(r[key] as? Double, "\(profile) row lacks \(key)") }
                return Row(ir: imageRoot + "/" + (r["ir"] as! String), vis: imageRoot + "/" + (r["vis"] as! String),
                           fused: imageRoot + "/" + (r["fused"] as! String), values: values)
            }
        }
        return GoldenMetrics(methods: json["methods"] as? [String] ?? [], rows: rows, imageRoot: imageRoot)
    }
}

/// Compares computed values with the golden ones, keeping the worst error per metric.
struct GoldenComparison {
    let profile: MetricProfile
    /// Relative tolerance (acceptance: 1e-4).
    let tolerance: Double
    private(set) var worst: [String: (error: Double, name: String, got: Double, expected: Double)] = [:]
    private(set) var checked = 0
    private(set) var failures: [String] = []
    /// VIFB's values are printed to 5 significant digits: also count the values whose own
    /// 5-digit rendering differs from the reference's.
    private(set) var digitMismatches: [String] = []

    init(profile: MetricProfile, tolerance: Double) {
        self.profile = profile
        self.tolerance = tolerance
    }

    mutating func compare(name: String, got: [String: Double], expected: [String: Double]) {
        for key in profile.keys {
            guard let e = expected[key] else { continue }
            guard let g = got[key] else { failures.append("\(name) \(key): missing"); continue }
            checked += 1
            let err = abs(g - e) / max(abs(e), 1e-300)
            if err.isNaN || err > (worst[key]?.error ?? -1) { worst[key] = (err, name, g, e) }
            if !(err <= tolerance) { failures.append("\(name) \(key): \(g) vs \(e) (relative error \(err))") }
            if profile == .vifb, String(format: "%.5g", g) != String(format: "%.5g", e) {
                digitMismatches.append("\(name) \(key): \(String(format: "%.5g", g)) vs \(String(format: "%.5g", e))")
            }
        }
    }

    func report(_ label: String) -> String {
        var lines = ["\(label) \(profile): \(checked) values, worst relative error per metric:"]
        for key in profile.keys {
            if let w = worst[key] {
                lines.append("  \(key.padding(toLength: 18, withPad: " ", startingAt: 0)) \(String(format: "%.2e", w.error))  (\(w.name): \(w.got) vs \(w.expected))")
            }
        }
        if profile == .vifb { lines.append("  values whose 5-significant-digit rendering differs: \(digitMismatches.count)") }
        return lines.joined(separator: "\n")
    }
}

final class GoldenMetricsTests: XCTestCase {
    /// Every value of both profiles for every golden row, through the library.
    func testLibraryReproducesEveryGoldenValue() throws {
        let golden = try GoldenMetrics.load()
        for profile in MetricProfile.allCases {
            let rows = golden.rows[profile]!
            XCTAssertEqual(rows.count, 105)
            let triples = rows.map { ImageTriple(name: $0.name, ir: $0.ir, vis: $0.vis, fused: $0.fused) }
            let start = Date()
            let report = try Evaluation.run(triples, profile: profile, metrics: profile.keys,
                                            jobs: ProcessInfo.processInfo.activeProcessorCount)
            let seconds = Date().timeIntervalSince(start)
            var cmp = GoldenComparison(profile: profile, tolerance: 1e-4)
            for (row, image) in zip(rows, report.images) {
                XCTAssertEqual(image.name, row.name)
                cmp.compare(name: row.name, got: image.values, expected: row.values)
            }
            print(cmp.report("library") + String(format: "\n  (%.1f s)", seconds))
            XCTAssertEqual(cmp.checked, 105 * profile.keys.count)
            XCTAssertEqual(cmp.failures, [], "values outside 1e-4 relative")
        }
    }
}

/// The same golden check through `fusion eval --format json`: one run per method and
/// profile over folders of symbolic links (the fused files are named `carLight_ADF.jpg`,
/// the sources `carLight.jpg`, so each method gets its own folder triple).
final class EvalCommandGoldenTests: XCTestCase {
    func testCLIReproducesEveryGoldenValue() throws {
        let golden = try GoldenMetrics.load()
        XCTAssertEqual(golden.methods.count, 5)
        let fm = FileManager.default
        for profile in MetricProfile.allCases {
            var cmp = GoldenComparison(profile: profile, tolerance: 1e-4)
            var seconds = 0.0
            for method in golden.methods {
                let rows = golden.rows[profile]!.filter { $0.name.hasSuffix("_" + method) }
                XCTAssertEqual(rows.count, 21, method)
                let root = try makeTemporaryDirectory("eval-\(method)")
                let dirs = ["ir", "vis", "fused"].map { root.appendingPathComponent($0) }
                for d in dirs { try fm.createDirectory(at: d, withIntermediateDirectories: true) }
                var byName: [String: GoldenMetrics.Row] = [:]
                for row in rows {
                    let stem = URL(fileURLWithPath: row.ir).deletingPathExtension().lastPathComponent
                    byName[stem] = row
                    for (dir, target) in zip(dirs, [row.ir, row.vis, row.fused]) {
                        let ext = URL(fileURLWithPath: target).pathExtension
                        try fm.createSymbolicLink(atPath: dir.appendingPathComponent(stem + "." + ext).path, withDestinationPath: target)
                    }
                }
                let run = try FusionCLI.runTimed(["eval", "--ir", dirs[0].path, "--vis", dirs[1].path, "--fused", dirs[2].path,
                                                  "--profile", profile.rawValue, "--format", "json"])
                seconds += run.seconds
                XCTAssertEqual(run.status, 0, run.err)
                let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.out.utf8)) as? [String: Any], run.out)
                XCTAssertEqual(json["profile"] as? String, profile.rawValue)
                let images = try XCTUnwrap(json["images"] as? [[String: Any]])
                XCTAssertEqual(images.count, 21)
                var sums: [String: Double] = [:]
                for image in images {
                    let name = try XCTUnwrap(image["name"] as? String)
                    let values = try XCTUnwrap(image["metrics"] as? [String: Double])
                    XCTAssertEqual(Set(values.keys), Set(profile.keys))
                    let row = try XCTUnwrap(byName[name], "unexpected image \(name)")
                    cmp.compare(name: row.name, got: values, expected: row.values)
                    for (k, v) in values { sums[k, default: 0] += v }
                }
                let mean = try XCTUnwrap(json["mean"] as? [String: Double])
                for key in profile.keys {
                    XCTAssertEqual(mean[key]!, sums[key]! / 21, accuracy: 1e-12 * max(1, abs(mean[key]!)), "mean \(key)")
                }
                XCTAssertTrue(run.err.contains("eval: 21/21"), "progress on stderr: \(run.err)")
            }
            print(cmp.report("fusion eval") + String(format: "\n  (%.1f s for the 5 runs)", seconds))
            XCTAssertEqual(cmp.checked, 105 * profile.keys.count)
            XCTAssertEqual(cmp.failures, [], "values outside 1e-4 relative")
        }
    }
}
