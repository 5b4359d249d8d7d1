import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension FusionCLI {
    /// How one run under resource limits ended.
    public struct LimitedResult: Sendable, CustomStringConvertible {
        /// Exit status, or the signal number when `signaled`.
        public let status: Int32
        /// Ended by a signal (a crash, or the test's timeout kill).
        public let signaled: Bool
        public let timedOut: Bool
        public let out: String
        public let err: String
        public let seconds: Double

        /// Exited on its own with a status in 1...125 and a message on stderr.
        public var isCleanFailure: Bool { !signaled && !timedOut && (1...125).contains(status) && !err.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }

        public var description: String {
            let how = timedOut ? "timed out" : signaled ? "killed by signal \(status)" : "exit \(status)"
            return "\(how) after \(String(format: "%.2f", seconds)) s; stderr: \(err.suffix(600))"
        }
    }

    /// Runs `fusion arguments` through `/bin/sh` with `ulimit -v virtualKiB` (address space)
    /// and `ulimit -f fileKiB` (largest file written; SIGXFSZ ignored so writes fail with
    /// EFBIG) when given; stdout goes to `stdoutPath` when given (e.g. `/dev/full`).
    public static func runLimited(_ arguments: [String], virtualKiB: Int? = nil, fileKiB: Int? = nil,
                                  stdoutPath: String? = nil, environment: [String: String] = [:],
                                  timeout: TimeInterval = 120) throws -> LimitedResult {
        let fusion = try executable().path
        var script = ""
        if let virtualKiB { script += "ulimit -v \(virtualKiB) || exit 126; " }
        if let fileKiB { script += "ulimit -f \(fileKiB) || exit 126; trap '' XFSZ; " }
        script += "exec \"$@\""
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script, "sh", fusion] + arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("fusion-stderr-\(UUID().uuidString)")
        let outURL = FileManager.default.temporaryDirectory.appendingPathComponent("fusion-stdout-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errURL); try? FileManager.default.removeItem(at: outURL) }
        let errHandle = try FileHandle(forWritingTo: errURL)
        defer { try? errHandle.close() }
        let outHandle = try FileHandle(forWritingTo: stdoutPath.map { URL(fileURLWithPath: $0) } ?? outURL)
        defer { try? outHandle.close() }
        p.standardOutput = outHandle
        p.standardError = errHandle
        p.standardInput = FileHandle.nullDevice
        let start = Date()
        try p.run()
        let pid = p.processIdentifier
        let done = DispatchSemaphore(value: 0)
        let timedOut = TimeoutFlag()
        DispatchQueue.global().async {
            if done.wait(timeout: .now() + timeout) == .timedOut { timedOut.set(); kill(pid, SIGKILL) }
        }
        p.waitUntilExit()
        done.signal()
        return LimitedResult(status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal,
                             timedOut: timedOut.value, out: String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self),
                             err: String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self),
                             seconds: Date().timeIntervalSince(start))
    }

    /// Starts `fusion arguments` and sends `signal` after `delay` seconds (if it still runs);
    /// returns how it ended.
    public static func runInterrupted(_ arguments: [String], signal: Int32, after delay: TimeInterval,
                                      environment: [String: String] = [:], timeout: TimeInterval = 300) throws -> LimitedResult {
        let p = Process()
        p.executableURL = try executable()
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let errPipe = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = errPipe
        let start = Date()
        try p.run()
        let pid = p.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + delay) { kill(pid, signal) }
        let timedOut = TimeoutFlag()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            if done.wait(timeout: .now() + timeout) == .timedOut { timedOut.set(); kill(pid, SIGKILL) }
        }
        let err = errPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        done.signal()
        return LimitedResult(status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal, timedOut: timedOut.value,
                             out: "", err: String(decoding: err, as: UTF8.self), seconds: Date().timeIntervalSince(start))
    }
}

private final class TimeoutFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    func set() { lock.lock(); flag = true; lock.unlock() }
    var value: Bool { lock.lock(); defer { lock.unlock() }; return flag }
}
