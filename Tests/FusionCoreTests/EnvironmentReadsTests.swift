import Foundation
import FusionCore
import XCTest

/// Every `FUSIONKIT_*` knob is read in one place: `FusionOptions` (and checked by
/// `FusionEnvironment`). Any other read of one, in the engine or its tests, fails here.
final class EnvironmentReadsTests: XCTestCase {
    func testNoKnobIsReadOutsideFusionOptions() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let allowed: Set<String> = ["Sources/FusionCore/FusionOptions.swift", "Sources/FusionCore/FusionEnvironment.swift"]
        // An environment lookup by a FUSIONKIT_ name, or a getenv of one.
        let read = try NSRegularExpression(pattern: #"(environment\s*\[\s*"FUSIONKIT_|getenv\(\s*"FUSIONKIT_|FusionEnvironment\.(string|flag|positiveNumber|values))"#)
        var offenders: [String] = []
        for folder in ["Sources", "Tests"] {
            let base = root.appendingPathComponent(folder)
            guard let files = FileManager.default.enumerator(atPath: base.path) else { continue }
            for case let file as String in files where file.hasSuffix(".swift") || file.hasSuffix(".c") {
                let relative = folder + "/" + file
                if allowed.contains(relative) { continue }
                let text = try String(contentsOf: base.appendingPathComponent(file), encoding: .utf8)
                for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                where read.firstMatch(in: String(line), range: NSRange(line.startIndex..., in: line)) != nil {
                    offenders.append("\(relative):\(n + 1): \(line.trimmingCharacters(in: .whitespaces))")
                }
            }
        }
        XCTAssertEqual(offenders, [], "FUSIONKIT_* read outside FusionOptions:\n" + offenders.joined(separator: "\n"))
    }

    /// The options an environment gives, and their defaults.
    func testOptionsFromAnEnvironment() {
        let o = FusionOptions(environment: ["FUSIONKIT_KERNELS": "tiled", "FUSIONKIT_SUBMISSION_GFLOP": "5", "FUSIONKIT_VALIDATION": "yes",
                                            "FUSIONKIT_DEVICE": "1", "FUSIONKIT_CACHE": "/tmp/c", "FUSIONKIT_TEST_DATA": "", "HOME": "/home/x"])
        XCTAssertEqual(o.vulkan.kernels, "tiled")
        XCTAssertEqual(o.vulkan.submissionGFLOP, 5)
        XCTAssertTrue(o.vulkan.validation)
        XCTAssertEqual(o.vulkan.deviceIndex, 1)
        XCTAssertEqual(o.cacheRoot.path, "/tmp/c")
        XCTAssertNil(o.sharedData)
        let d = FusionOptions(environment: ["HOME": "/home/x"])
        XCTAssertEqual(d.cacheRoot.path, "/home/x/.cache/fusionkit")
        XCTAssertEqual(d.sharedData?.relativePath, "../shared")
        XCTAssertFalse(d.sharedDataGiven)
        XCTAssertNil(d.vulkan.kernels)
        XCTAssertFalse(d.vulkan.validation)
    }
}
