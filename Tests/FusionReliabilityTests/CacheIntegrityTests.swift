import Foundation
import FusionCore
import FusionEngine
import FusionIO
import FusionTestSupport
import FusionVulkan
import XCTest

/// Class 9 of the hostile probe: a damaged cache entry (one flipped bit, a truncated file,
/// or a valid entry stored under another key) is discarded, recomputed and reported once,
/// never used.
final class CacheIntegrityTests: XCTestCase {
    /// Warnings `CacheEntry` reports while `body` runs.
    private func warnings(_ body: () throws -> Void) rethrows -> [String] {
        let saved = CacheEntry.warn
        let box = WarningBox()
        CacheEntry.warn = { box.append($0) }
        defer { CacheEntry.warn = saved }
        try body()
        return box.lines
    }

    private func flipBit(_ path: String, at fraction: Double) throws {
        var bytes = [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: path)))
        let i = min(bytes.count - 1, Int(Double(bytes.count) * fraction))
        bytes[i] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    func testEntryRoundTripAndEveryKindOfDamage() throws {
        let dir = try makeTemporaryDirectory("cache-entry")
        let path = dir.appendingPathComponent("x.entry").path
        let payload = Data((0..<1000).map { UInt8($0 % 251) })
        XCTAssertNil(CacheEntry.write(payload, key: "k1", to: path))
        XCTAssertEqual(CacheEntry.read(path, key: "k1"), payload)
        // Another key: the entry is not used (and removed).
        var seen = warnings { XCTAssertNil(CacheEntry.read(path, key: "k2")) }
        XCTAssertEqual(seen.count, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        // One flipped bit anywhere: header, key, length, checksum or payload.
        for fraction in [0.0, 0.01, 0.02, 0.03, 0.05, 0.5, 0.999] {
            XCTAssertNil(CacheEntry.write(payload, key: "k1", to: path))
            try flipBit(path, at: fraction)
            seen = warnings { XCTAssertNil(CacheEntry.read(path, key: "k1"), "bit flipped at \(fraction) went unnoticed") }
            XCTAssertEqual(seen.count, 1, "\(seen)")
            XCTAssertNil(CacheEntry.read(path, key: "k1"))  // gone: reported once
        }
        // Truncated.
        XCTAssertNil(CacheEntry.write(payload, key: "k1", to: path))
        try Data(try XCTUnwrap(FileManager.default.contents(atPath: path)).prefix(500)).write(to: URL(fileURLWithPath: path))
        seen = warnings { XCTAssertNil(CacheEntry.read(path, key: "k1")) }
        XCTAssertEqual(seen.count, 1)
        XCTAssertEqual(Fixtures.strayFiles(in: dir), [])
    }

    func testDamagedOrMisfiledSPIRVIsRecompiledNotRun() throws {
        let dir = try makeTemporaryDirectory("spirv-cache")
        let compiler = try ShaderCompiler(target: .vulkan1_1, cacheDirectory: dir)
        let a = try compiler.compile(shader: "peak_copy.comp")
        let b = try compiler.compile(shader: "peak_fma.comp")
        XCTAssertFalse(a.fromCache)
        let again = try ShaderCompiler(target: .vulkan1_1, cacheDirectory: dir)
        XCTAssertTrue(try again.compile(shader: "peak_copy.comp").fromCache)
        let folder = dir.appendingPathComponent("spirv")
        let fileA = folder.appendingPathComponent("\(a.cacheKey).spv").path, fileB = folder.appendingPathComponent("\(b.cacheKey).spv").path
        // A flipped bit in the module: discarded and recompiled, once.
        try flipBit(fileA, at: 0.6)
        var fresh = try ShaderCompiler(target: .vulkan1_1, cacheDirectory: dir)
        var result: CompiledShader?
        var seen = try warnings { result = try fresh.compile(shader: "peak_copy.comp") }
        XCTAssertEqual(result?.fromCache, false)
        XCTAssertEqual(result?.spirv, a.spirv)
        XCTAssertEqual(seen.count, 1, "\(seen)")
        seen = try warnings { XCTAssertTrue(try ShaderCompiler(target: .vulkan1_1, cacheDirectory: dir).compile(shader: "peak_copy.comp").fromCache) }
        XCTAssertEqual(seen, [])
        // A valid entry of another shader stored under this one's name: never run.
        try FileManager.default.removeItem(atPath: fileB)
        try FileManager.default.copyItem(atPath: fileA, toPath: fileB)
        fresh = try ShaderCompiler(target: .vulkan1_1, cacheDirectory: dir)
        seen = try warnings { result = try fresh.compile(shader: "peak_fma.comp") }
        XCTAssertEqual(result?.fromCache, false)
        XCTAssertEqual(result?.spirv, b.spirv)
        XCTAssertEqual(seen.count, 1, "\(seen)")
    }

    func testDamagedSPIRVCacheDoesNotBreakLaterVulkanRuns() throws {
        // The probe's symptom: one flipped bit made every later run fail with
        // VK_ERROR_UNKNOWN (norm_stats.comp). Now the run reports the entry and goes on.
        let cache = try makeTemporaryDirectory("spirv-e2e")
        let env = ["FUSIONKIT_CACHE": cache.path]
        var r = try FusionCLI.runLimited(["parity", "--ops", "--op", "layer_norm"], environment: env, timeout: 600)
        guard r.status == 0 else { return XCTFail("first run: \(r)") }
        let folder = cache.appendingPathComponent("vulkan/spirv")
        let entries = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".spv") }
        XCTAssertFalse(entries.isEmpty)
        for name in entries { try flipBit(folder.appendingPathComponent(name).path, at: 0.7) }
        r = try FusionCLI.runLimited(["parity", "--ops", "--op", "layer_norm"], environment: env, timeout: 600)
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(r.err.components(separatedBy: "discarded the cache entry").count - 1, entries.count, r.err)
        r = try FusionCLI.runLimited(["parity", "--ops", "--op", "layer_norm"], environment: env, timeout: 600)
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertFalse(r.err.contains("discarded"), "reported more than once: \(r.err)")
    }

    func testDamagedTextFeatureEntryIsNotUsed() throws {
        let cache = try makeTemporaryDirectory("features-cache")
        let env = ["FUSIONKIT_CACHE": cache.path, "FUSIONKIT_TEST_DATA": TestData.root]
        let backend = try SelectedBackend.open(.cpu)
        let first = try PromptEncoder(clipPath: try Fixtures.clip(), backend: backend, environment: env)
        let expected = try first.encode(["a pedestrian on the road"])
        let reread = try PromptEncoder(clipPath: try Fixtures.clip(), backend: backend, environment: env)
        XCTAssertEqual(try reread.encode(["a pedestrian on the road"]), expected)
        XCTAssertEqual(reread.diskHits, 1)
        // Alter a value inside the entry.
        let entries = try XCTUnwrap(FileManager.default.enumerator(atPath: cache.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".features") })
        XCTAssertEqual(entries.count, 1)
        try flipBit(cache.appendingPathComponent(entries[0]).path, at: 0.8)
        let damaged = try PromptEncoder(clipPath: try Fixtures.clip(), backend: backend, environment: env)
        var got: [[Float]] = []
        let seen = try warnings { got = try damaged.encode(["a pedestrian on the road"]) }
        XCTAssertEqual(got, expected)
        XCTAssertEqual(damaged.diskHits, 0)
        XCTAssertEqual(seen.count, 1, "\(seen)")
    }
}

private final class WarningBox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var lines: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
