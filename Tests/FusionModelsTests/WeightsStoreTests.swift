import Foundation
import FusionEngine
import FusionTestSupport
import XCTest

/// The published weights are found in the cache, else under FUSIONKIT_TEST_DATA, else
/// downloaded (here from a loopback server, never the internet), verified by SHA-256 and
/// only then written into the cache.
final class WeightsStoreTests: XCTestCase {
    private let weights = PublishedWeights.textFusionLLVIP
    /// The name the download URL ends with (the authors' file name).
    private let publishedName = "LLVIP_pretrained.model"
    /// Folders this test made: the only places it may write (see `overwriteCachedFile`).
    private var temporary: [URL] = []

    private func scratchFolder(_ label: String) throws -> URL {
        let url = try makeTemporaryDirectory(label)
        temporary.append(url)
        return url
    }



    /// The shared weights file (checked: every test below relies on its content).
    private func sharedWeights() throws -> String {
        let path = try TestData.path(weights.testDataPath)
        let digest = try WeightsStore.sha256(ofFile: path)
        guard digest == weights.sha256 else {
            XCTFail("the shared weights \(path) are damaged (SHA-256 \(digest))")
            throw XCTSkip("damaged shared weights")
        }
        return path
    }

    /// A server whose folder holds the shared weights under the published file name.
    private func makeServer() throws -> LoopbackHTTPServer {
        let folder = try scratchFolder("served")
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent(publishedName).path,
                                                   withDestinationPath: sharedWeights())
        return try LoopbackHTTPServer(directory: folder.path)
    }

    /// A store with an empty cache and no test data, downloading from `server`. "No test
    /// data" is an empty folder: without FUSIONKIT_TEST_DATA the store looks in ../shared.
    private func makeStore(server: LoopbackHTTPServer) throws -> WeightsStore {
        let store = WeightsStore(environment: [
            "FUSIONKIT_CACHE": try scratchFolder("cache").path,
            "FUSIONKIT_TEST_DATA": try scratchFolder("no-test-data").path,
            "FUSIONKIT_WEIGHTS_URL": server.baseURL,
        ])
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.cachedPath(weights)))
        return store
    }

    /// Overwrites the cached file of `store`, refusing (and failing the test) for any path
    /// outside this test's temporary cache: the shared data must never be written.
    private func overwriteCachedFile(_ store: WeightsStore, with data: Data, file: StaticString = #filePath, line: UInt = #line) throws {
        let path = URL(fileURLWithPath: store.cachedPath(weights)).standardizedFileURL.path
        let inTemporary = temporary.contains { path.hasPrefix($0.standardizedFileURL.path + "/") }
        guard inTemporary, path.hasPrefix(store.cacheDirectory.standardizedFileURL.path + "/") else {
            XCTFail("refusing to write \(path): not in this test's cache", file: file, line: line)
            throw XCTSkip("unsafe path \(path)")
        }
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// Every entry of the cache folder (hidden temporary files included).
    private func cacheContents(_ store: WeightsStore) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: store.cacheDirectory.path)) ?? []
    }

    private func sha256(_ path: String) throws -> String { try WeightsStore.sha256(ofFile: path) }

    func testDownloadsIntoEmptyCacheAndVerifies() throws {
        let server = try makeServer()
        defer { server.stop() }
        let store = try makeStore(server: server)
        XCTAssertEqual(store.downloadURL(weights), server.url(publishedName))
        var lines: [String] = []
        var logging = store
        logging.log = { lines.append($0) }

        let path = try logging.resolve(weights)
        XCTAssertEqual(path, store.cachedPath(weights))
        XCTAssertEqual(try sha256(path), weights.sha256)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, weights.byteCount)
        XCTAssertEqual(server.requests, ["/" + publishedName])
        XCTAssertEqual(cacheContents(store), [weights.name], "only the verified file is left in the cache")
        XCTAssert(lines.contains { $0.contains("downloading") && $0.contains(server.url(publishedName)) }, "\(lines)")
    }

    func testSecondResolveUsesTheCacheEvenWithTheServerStopped() throws {
        let server = try makeServer()
        let store = try makeStore(server: server)
        let first = try store.resolve(weights)
        XCTAssertEqual(server.requestCount, 1)
        let again = try store.resolve(weights)
        XCTAssertEqual(again, first)
        XCTAssertEqual(server.requestCount, 1, "a verified cached file needs no request")
        server.stop()
        XCTAssertEqual(try store.resolve(weights), first, "offline: the cache alone suffices")
        XCTAssertEqual(server.requestCount, 1)
    }

    func testCorruptedCachedFileIsDownloadedAgain() throws {
        let server = try makeServer()
        defer { server.stop() }
        let store = try makeStore(server: server)
        let path = try store.resolve(weights)
        XCTAssertEqual(path, store.cachedPath(weights))
        XCTAssertEqual(server.requestCount, 1)

        // Same size, one byte flipped.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(bytes.count, weights.byteCount)
        bytes[bytes.count / 2] ^= 0xFF
        try overwriteCachedFile(store, with: bytes)
        XCTAssertNotEqual(try sha256(path), weights.sha256)
        XCTAssertEqual(try store.resolve(weights), path)
        XCTAssertEqual(server.requestCount, 2, "the damaged file was fetched again")
        XCTAssertEqual(try sha256(path), weights.sha256)

        // An empty (interrupted) file, too.
        try overwriteCachedFile(store, with: Data())
        XCTAssertEqual(try store.resolve(weights), path)
        XCTAssertEqual(server.requestCount, 3)
        XCTAssertEqual(try sha256(path), weights.sha256)
        XCTAssertEqual(cacheContents(store), [weights.name])
    }

    func testWrongBytesAreRejectedAndNothingIsSaved() throws {
        let server = try makeServer()
        defer { server.stop() }
        // The right size, the wrong content.
        var wrong = try Data(contentsOf: URL(fileURLWithPath: sharedWeights()))
        XCTAssertEqual(wrong.count, weights.byteCount)
        wrong[100] ^= 0x01
        server.setBody(wrong, forPath: publishedName)
        let store = try makeStore(server: server)
        XCTAssertThrowsError(try store.resolve(weights)) { error in
            let message = "\(error)"
            print("wrong bytes: \(message)")
            XCTAssert(message.contains("SHA-256"), message)
            XCTAssert(message.contains(server.url(publishedName)), message)
            XCTAssert(message.contains(weights.sha256), message)
        }
        XCTAssertEqual(server.requestCount, 1)
        XCTAssertEqual(cacheContents(store), [], "no file and no temporary file in the cache")
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.cachedPath(weights)))

        // Once the server is fixed, the same store downloads it.
        server.setBody(nil, forPath: publishedName)
        XCTAssertEqual(try sha256(store.resolve(weights)), weights.sha256)
    }

    func testHTTPErrorsNameTheAddressAndSaveNothing() throws {
        // 404: the file is not on the server.
        let empty = try LoopbackHTTPServer(directory: scratchFolder("empty").path)
        defer { empty.stop() }
        let store404 = try makeStore(server: empty)
        XCTAssertThrowsError(try store404.resolve(weights)) { error in
            let message = "\(error)"
            print("404: \(message)")
            XCTAssert(message.contains(empty.url(publishedName)), message)
            XCTAssert(message.contains("404"), message)
        }
        XCTAssertEqual(empty.requestCount, 1)
        XCTAssertEqual(cacheContents(store404), [])

        // 500 from a server that has the file.
        let failing = try makeServer()
        defer { failing.stop() }
        failing.statusOverride = 500
        let store500 = try makeStore(server: failing)
        XCTAssertThrowsError(try store500.resolve(weights)) { error in
            let message = "\(error)"
            print("500: \(message)")
            XCTAssert(message.contains(failing.url(publishedName)), message)
            XCTAssert(message.contains("500"), message)
        }
        XCTAssertEqual(cacheContents(store500), [])
    }

    func testNoServerIsAClearErrorNamingTheAddress() throws {
        let server = try makeServer()
        let store = try makeStore(server: server)
        server.stop()
        XCTAssertThrowsError(try store.resolve(weights)) { error in
            let message = "\(error)"
            print("connection refused: \(message)")
            XCTAssert(message.contains(server.url(publishedName)), message)
        }
        XCTAssertEqual(cacheContents(store), [])
    }

    func testTestDataCopyIsUsedOffline() throws {
        // A port nobody listens on: any download attempt would fail.
        let server = try LoopbackHTTPServer()
        server.stop()
        let cache = try scratchFolder("cache")
        let store = WeightsStore(environment: [
            "FUSIONKIT_CACHE": cache.path,
            "FUSIONKIT_TEST_DATA": TestData.root,
            "FUSIONKIT_WEIGHTS_URL": server.baseURL,
        ])
        let path = try store.resolve(weights)
        XCTAssertEqual(URL(fileURLWithPath: path).standardizedFileURL.path,
                       URL(fileURLWithPath: try sharedWeights()).standardizedFileURL.path)
        XCTAssertEqual(try sha256(path), weights.sha256)
        XCTAssertEqual(cacheContents(store), [], "the test-data copy is used in place")
    }

    func testDamagedTestDataCopyIsIgnored() throws {
        // A test-data folder whose copy is damaged: the store downloads instead.
        let data = try scratchFolder("testdata")
        let copy = data.appendingPathComponent(weights.testDataPath)
        try FileManager.default.createDirectory(at: copy.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(Data(contentsOf: URL(fileURLWithPath: sharedWeights())).prefix(1000)).write(to: copy)
        let server = try makeServer()
        defer { server.stop() }
        let cache = try scratchFolder("cache")
        let store = WeightsStore(environment: [
            "FUSIONKIT_CACHE": cache.path, "FUSIONKIT_TEST_DATA": data.path, "FUSIONKIT_WEIGHTS_URL": server.baseURL,
        ])
        XCTAssertEqual(try store.resolve(weights), store.cachedPath(weights))
        XCTAssertEqual(server.requestCount, 1)
        XCTAssertEqual(try sha256(store.cachedPath(weights)), weights.sha256)
    }

    func testTruncatedBodyIsAnErrorAndNothingIsSaved() throws {
        let server = try makeServer()
        defer { server.stop() }
        server.truncateBodyTo = weights.byteCount / 2
        let store = try makeStore(server: server)
        XCTAssertThrowsError(try store.resolve(weights)) { error in
            let message = "\(error)"
            print("truncated: \(message)")
            XCTAssert(message.contains(server.url(publishedName)), message)
        }
        XCTAssertEqual(cacheContents(store), [])

        // A connection closed without any answer, too.
        server.truncateBodyTo = nil
        server.closeWithoutResponse = true
        XCTAssertThrowsError(try store.resolve(weights)) { error in
            let message = "\(error)"
            print("closed early: \(message)")
            XCTAssert(message.contains(server.url(publishedName)), message)
        }
        XCTAssertEqual(cacheContents(store), [])
    }
}
