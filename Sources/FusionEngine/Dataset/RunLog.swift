import Foundation
import FusionIO
#if canImport(Glibc)
import Glibc
#endif

/// `fusion-run.jsonl` in a dataset run's output folder: one JSON line per finished pair
/// (inputs, prompt, model and weights SHA-256, backend, size, times, status).
///
/// A line is appended with one `write(2)` after the pair's outputs were renamed into place,
/// so a kill leaves at most a partial last line, which the next run cuts off. A rerun
/// appends a line (`"status": "existing"`) for a pair whose output exists but was never
/// logged, so a run that was killed and resumed ends with exactly one line per pair.
public final class RunLog: @unchecked Sendable {
    public static let fileName = "fusion-run.jsonl"
    public let path: String
    private let fd: Int32
    private let lock = NSLock()
    /// Stems that already have a line.
    public private(set) var loggedStems: Set<String> = []

    public init(folder: String) throws {
        path = URL(fileURLWithPath: folder).appendingPathComponent(Self.fileName).path
        fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DatasetError("\(path): cannot open the run log: \(String(cString: strerror(errno)))") }
        // Several shards may share the folder: repairs and appends hold an exclusive lock.
        flock(fd, LOCK_EX)
        defer { flock(fd, LOCK_UN) }
        let data = (try? RegularFile.read(path: path, maxBytes: 1 << 30, format: "run log")) ?? Data()
        var text = String(decoding: data, as: UTF8.self)
        if !text.isEmpty, !text.hasSuffix("\n") {
            // A kill during the last append: cut the partial line.
            let keep = text.lastIndex(of: "\n").map { text.utf8.distance(from: text.startIndex, to: $0) + 1 } ?? 0
            _ = ftruncate(fd, off_t(keep))
            text = String(text.prefix(keep))
        }
        for line in text.split(separator: "\n") {
            if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let stem = object["stem"] as? String {
                loggedStems.insert(stem)
            }
        }
    }

    deinit { close(fd) }

    /// Appends one line (keys sorted) and syncs it.
    public func append(_ fields: [String: Any]) throws {
        var object = fields
        object["time"] = ISO8601DateFormatter().string(from: Date())
        var line = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        line.append(0x0A)
        lock.lock()
        defer { lock.unlock() }
        flock(fd, LOCK_EX)
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        flock(fd, LOCK_UN)
        guard written == line.count else {
            throw DatasetError("\(path): cannot append to the run log: \(String(cString: strerror(errno)))")
        }
        fsync(fd)
        if let stem = fields["stem"] as? String { loggedStems.insert(stem) }
    }
}
