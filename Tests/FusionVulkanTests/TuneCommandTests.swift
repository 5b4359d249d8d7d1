import Foundation
import FusionCore
import FusionTestSupport
import FusionVulkan
import XCTest

/// `fusion tune`: it writes the device's tuning table in the cache, `bench` then reports
/// using it, and a corrupt or foreign table is ignored with a warning naming the file
/// while the command still runs.
final class TuneCommandTests: XCTestCase {
    private func run(_ arguments: [String], cache: URL, file: StaticString = #filePath, line: UInt = #line) throws -> (status: Int32, out: String, err: String) {
        let r = try FusionCLI.run(arguments, environment: ["FUSIONKIT_CACHE": cache.path, "FUSIONKIT_KERNELS": "tiled"])
        XCTAssertFalse(r.err.contains("[vulkan validation]"), "validation messages from \(arguments):\n\(r.err)", file: file, line: line)
        return r
    }

    private func tableFile(in cache: URL) throws -> URL {
        let folder = cache.appendingPathComponent("vulkan/tuning")
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil).filter { $0.pathExtension == "json" }
        XCTAssertEqual(files.count, 1, "\(files)")
        return try XCTUnwrap(files.first)
    }

    private let bench = ["bench", "--model", "textfusion", "--size", "32x40", "--backend", "vulkan", "--repeat", "1", "--warmup", "0", "--no-peak"]

    func testTuneWritesTheTableAndBenchUsesIt() throws {
        _ = try VulkanTestSupport.backend()
        _ = try TestData.path("weights/textfusion_llvip.model")
        let cache = try makeTemporaryDirectory("tune")
        let before = try run(bench, cache: cache)
        XCTAssertEqual(before.status, 0, before.err)
        XCTAssert(before.out.contains("tuning: none"), before.out)

        let tune = try run(["tune", "--model", "textfusion", "--size", "32x40", "--repeat", "1", "--candidates", "3"], cache: cache)
        XCTAssertEqual(tune.status, 0, tune.err)
        print(tune.out)
        let url = try tableFile(in: cache)
        XCTAssert(tune.out.contains("tuning table: \(url.path)"), tune.out)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        XCTAssertEqual(json["format"] as? String, "fusionkit-gemm-tuning-1")
        let entries = try XCTUnwrap(json["entries"] as? [[String: Any]])
        XCTAssertGreaterThan(entries.count, 0, "TextFusion has convolutions to tune")
        let names = Set(GemmVariant.all.map(\.name))
        for e in entries {
            XCTAssert(names.contains(e["variant"] as? String ?? ""), "\(e)")
            XCTAssertGreaterThanOrEqual(e["splits"] as? Int ?? 0, 1)
            XCTAssertGreaterThan(e["microseconds"] as? Double ?? 0, 0)
            // The winner is never slower than the default: the default is a candidate.
            XCTAssertLessThanOrEqual(e["microseconds"] as? Double ?? .infinity, e["defaultMicroseconds"] as? Double ?? 0)
        }

        let after = try run(bench, cache: cache)
        XCTAssertEqual(after.status, 0, after.err)
        XCTAssert(after.out.contains("tuning: \(url.path) (\(entries.count) shapes)"), after.out)
        XCTAssertFalse(after.err.contains("ignoring GEMM tuning table"), after.err)

        // A second tune merges: the same shapes, one entry each.
        let again = try run(["tune", "--model", "textfusion", "--size", "32x40", "--repeat", "1", "--candidates", "2", "--json"], cache: cache)
        XCTAssertEqual(again.status, 0, again.err)
        let merged = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        XCTAssertEqual((merged["entries"] as? [Any])?.count, entries.count)
    }

    func testCorruptOrForeignTableIsIgnoredWithAWarning() throws {
        _ = try VulkanTestSupport.backend()
        _ = try TestData.path("weights/textfusion_llvip.model")
        let cache = try makeTemporaryDirectory("tune-corrupt")
        let gpu = try VulkanTestSupport.backend()
        let url = GemmTuningTable.fileURL(in: cache.appendingPathComponent("vulkan"), for: gpu.context.info)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)

        try Data("{\"format\": \"fusionkit-gemm-tuning-1\", \"entr".utf8).write(to: url)
        let corrupt = try run(bench, cache: cache)
        XCTAssertEqual(corrupt.status, 0, corrupt.err)
        XCTAssert(corrupt.err.contains("ignoring GEMM tuning table \(url.path)"), corrupt.err)
        XCTAssert(corrupt.out.contains("tuning: none"), corrupt.out)

        var identity = GemmTuningTable.DeviceIdentity(gpu.context.info)
        identity.deviceID &+= 1
        identity.name = "another device"
        let key = GemmShapeKey(kind: .conv, m: 16, n: 1280, k: 144, batch: 1, fp16: false)
        try GemmTuningTable(device: identity, entries: [.init(key: key, variant: GemmVariant.all[0].name, splits: 1, microseconds: 1, defaultMicroseconds: 2)])
            .write(to: url)
        let foreign = try run(bench, cache: cache)
        XCTAssertEqual(foreign.status, 0, foreign.err)
        XCTAssert(foreign.err.contains("ignoring GEMM tuning table \(url.path): written for 'another device'"), foreign.err)
    }
}
