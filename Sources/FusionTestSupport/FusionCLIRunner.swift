import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the `fusion` executable that `swift build` put next to the test bundle.
public enum FusionCLI {
    /// What one run of `fusion` produced.
    public struct Result: Sendable {
        public let status: Int32
        public let out: String
        public let err: String
        /// Wall-clock seconds from launch to exit.
        public let seconds: Double
    }

    /// The `fusion` executable built next to the test bundle (the xctest binary is
    /// `CommandLine.arguments[0]`; `fusion` sits in its folder or the one above).
    public static func executable() throws -> URL {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [dir, dir.deletingLastPathComponent()].map { $0.appendingPathComponent("fusion") }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            // A failure, not a skip: the CLI tests must never pass silently in CI.
            throw MissingExecutable(searched: candidates.map(\.path))
        }
        return found
    }

    /// Runs `fusion` with `arguments`; `environment` is merged over this process's
    /// environment, then the variables in `removing` are dropped. A run longer than
    /// `timeout` seconds is killed (status then reports the signal).
    public static func run(_ arguments: [String], environment: [String: String] = [:], removing: [String] = [],
                           timeout: TimeInterval = 900) throws -> (status: Int32, out: String, err: String) {
        let r = try runTimed(arguments, environment: environment, removing: removing, timeout: timeout)
        return (r.status, r.out, r.err)
    }

    /// `run`, also reporting how long the process took.
    public static func runTimed(_ arguments: [String], environment: [String: String] = [:], removing: [String] = [],
                                timeout: TimeInterval = 900) throws -> Result {
        let p = Process()
        p.executableURL = try executable()
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        for key in removing { env.removeValue(forKey: key) }
        p.environment = env
        // stderr goes to a file so that neither pipe can fill up and block the child.
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("fusion-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errURL) }
        let errHandle = try FileHandle(forWritingTo: errURL)
        defer { try? errHandle.close() }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = errHandle
        let start = Date()
        try p.run()
        let pid = p.processIdentifier
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            if finished.wait(timeout: .now() + timeout) == .timedOut { kill(pid, SIGKILL) }
        }
        let outBytes = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        finished.signal()
        let seconds = Date().timeIntervalSince(start)
        let errBytes = (try? Data(contentsOf: errURL)) ?? Data()
        return Result(status: p.terminationStatus, out: String(decoding: outBytes, as: UTF8.self),
                      err: String(decoding: errBytes, as: UTF8.self), seconds: seconds)
    }
}

/// The `fusion` executable is not where `swift build` puts it next to the tests.
public struct MissingExecutable: Error, CustomStringConvertible {
    public let searched: [String]
    public init(searched: [String]) { self.searched = searched }
    public var description: String { "the fusion executable was not built next to the tests (\(searched)); run `swift build` first" }
}
