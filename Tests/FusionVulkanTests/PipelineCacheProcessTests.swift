import Foundation
import FusionTestSupport
import XCTest

/// A second process with the same cache directory must compile no shader.
final class PipelineCacheProcessTests: XCTestCase {
    func testSecondProcessCompilesNoShader() throws {
        _ = try VulkanTestSupport.backend()
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("fusionkit-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }

        func run() throws -> [String: Int] {
            let (status, text, err) = try FusionCLI.run(
                ["parity", "--ops", "--op", "conv2d", "--op", "relu", "--op", "softmax", "--cache-stats"],
                environment: ["FUSIONKIT_CACHE": cache.path])
            XCTAssertEqual(status, 0, text + err)
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cache:") }) else {
                XCTFail("no cache line in output:\n\(text)"); return [:]
            }
            // "cache: shaders compiled 3, spirv cache hits 0, ..."
            var stats: [String: Int] = [:]
            for field in line.dropFirst("cache:".count).split(separator: ",") {
                let words = field.split(separator: " ")
                if let value = words.last.flatMap({ Int($0) }) { stats[words.dropLast().joined(separator: " ")] = value }
            }
            return stats
        }
        let first = try run()
        XCTAssertGreaterThan(first["shaders compiled"] ?? 0, 0, "\(first)")
        let second = try run()
        XCTAssertEqual(second["shaders compiled"], 0, "second process compiled shaders: \(second)")
        XCTAssertGreaterThan(second["spirv cache hits"] ?? 0, 0, "\(second)")
        XCTAssertGreaterThan(second["pipeline cache bytes loaded"] ?? 0, 0, "\(second)")
    }
}
