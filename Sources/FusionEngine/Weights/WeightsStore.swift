import Crypto
import Foundation
import FusionCore
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import FusionIO

/// Finds published weights on this machine, or fetches them once into the cache.
///
/// Order: the cache (`$FUSIONKIT_CACHE/weights`, else `~/.cache/fusionkit/weights`), then a
/// copy under `FUSIONKIT_TEST_DATA` (works offline), then a download from the published
/// location (`FUSIONKIT_WEIGHTS_URL` replaces the address's folder, for mirrors and tests).
/// Every file is checked against the published SHA-256 before use; a download lands in the
/// cache only after it passed, by an atomic rename, so an interrupted or wrong download
/// never leaves a file that looks valid.
public struct WeightsStore {
    public let cacheDirectory: URL
    public let testDataDirectory: URL?
    public let mirror: String?
    /// Reports progress lines ("downloading ...").
    public var log: (String) -> Void = { _ in }

    /// The cache under `options.cacheRoot`, the shared data folder (only ever read) and the
    /// mirror, as the options give them.
    public init(options: FusionOptions = .current) {
        cacheDirectory = options.cacheRoot.appendingPathComponent("weights")
        testDataDirectory = options.sharedData
        mirror = options.weightsMirror
    }

    /// The store an environment describes (tests).
    public init(environment: [String: String]) {
        self.init(options: FusionOptions(environment: environment))
    }

    /// Where the verified file lives after `resolve`.
    public func cachedPath(_ weights: PublishedWeights) -> String {
        cacheDirectory.appendingPathComponent(weights.name).path
    }

    /// The download address: the published URL, or its file name under the mirror.
    public func downloadURL(_ weights: PublishedWeights) -> String {
        guard let mirror else { return weights.url }
        let file = weights.url.split(separator: "/").last.map(String.init) ?? weights.name
        return mirror.hasSuffix("/") ? mirror + file : mirror + "/" + file
    }

    /// A local path holding the verified weights, downloading them when needed.
    public func resolve(_ weights: PublishedWeights) throws -> String {
        let cached = cachedPath(weights)
        if FileManager.default.fileExists(atPath: cached) {
            if try Self.sha256(ofFile: cached) == weights.sha256 { return cached }
            log("cached \(cached) does not match its SHA-256; fetching it again")
        }
        if let testData = testDataDirectory?.appendingPathComponent(weights.testDataPath).path,
           FileManager.default.fileExists(atPath: testData) {
            if try Self.sha256(ofFile: testData) == weights.sha256 { return testData }
            log("warning: \(testData) does not match the published SHA-256 of \(weights.name); not using it")
        }
        do {
            try download(weights, to: cached)
        } catch let error as FileFormatError {
            throw FileFormatError(path: error.path, format: error.format,
                                  error.message + "; pass the checkpoint with --weights FILE, or put a copy at \(cached)")
        }
        return cached
    }

    /// Fetches the file, checks size and SHA-256, and moves it into place atomically.
    public func download(_ weights: PublishedWeights, to destination: String) throws {
        let address = downloadURL(weights)
        guard let url = URL(string: address) else {
            throw FileFormatError(path: address, format: "download", "not a valid URL")
        }
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: destination).deletingLastPathComponent(), withIntermediateDirectories: true)
        log("downloading \(weights.name) from \(address)")
        let data = try Self.fetch(url)
        let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        guard digest == weights.sha256 else {
            throw FileFormatError(path: address, format: "download",
                                  "SHA-256 \(digest) does not match the published \(weights.sha256) (\(data.count) bytes received, \(weights.byteCount) expected); nothing was saved")
        }
        try AtomicFile.write(data, to: destination, format: "weights")
        log("saved \(destination) (\(data.count) bytes, SHA-256 verified)")
    }

    /// GET `url` into memory; HTTP errors and timeouts become errors naming the address.
    static func fetch(_ url: URL, timeout: TimeInterval = 120) throws -> Data {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 30
        configuration.timeoutIntervalForResource = timeout
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        let task = session.dataTask(with: url) { data, response, error in
            defer { done.signal() }
            if let error {
                box.result = .failure(FileFormatError(path: url.absoluteString, format: "download", error.localizedDescription))
            } else if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
                box.result = .failure(FileFormatError(path: url.absoluteString, format: "download", "HTTP status \(http.statusCode)"))
            } else {
                box.result = .success(data ?? Data())
            }
        }
        task.resume()
        if done.wait(timeout: .now() + timeout + 5) == .timedOut {
            task.cancel()
            throw FileFormatError(path: url.absoluteString, format: "download", "timed out after \(Int(timeout)) s")
        }
        return try (box.result ?? .failure(FileFormatError(path: url.absoluteString, format: "download", "no response"))).get()
    }

    /// The completion handler's result, handed over through the semaphore.
    private final class ResultBox: @unchecked Sendable {
        var result: Result<Data, Error>?
    }

    /// SHA-256 of a file, read through a memory map.
    public static func sha256(ofFile path: String) throws -> String {
        let file = try MappedFile(path: path)
        var hash = SHA256()
        var offset = 0
        while offset < file.count {
            let n = min(1 << 24, file.count - offset)
            if let chunk = file.slice(offset, n) { hash.update(bufferPointer: chunk) }
            offset += n
        }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
