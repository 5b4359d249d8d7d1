import Foundation
import FusionCore
import FusionVulkan
import XCTest

/// Shared setup of the Vulkan tests: one context per process (pipelines compile once),
/// validation when CI asks for it, and a skip only when no device exists and CI does not
/// require one.
enum VulkanTestSupport {
    private static let shared: Result<VulkanBackend, Error> = Result {
        try VulkanBackend(validation: ProcessInfo.processInfo.environment["FUSIONKIT_REQUIRE_VALIDATION"] == "1" ? true : nil)
    }

    static func backend() throws -> VulkanBackend {
        switch shared {
        case let .success(b): return b
        case let .failure(error):
            if ProcessInfo.processInfo.environment["FUSIONKIT_REQUIRE_VULKAN"] == "1" { throw error }
            throw XCTSkip("no usable Vulkan device (\(error)); install mesa-vulkan-drivers for lavapipe")
        }
    }

    /// Fails the test if the validation layer reported anything so far.
    static func assertNoValidationMessages(_ backend: VulkanBackend, file: StaticString = #filePath, line: UInt = #line) {
        let messages = backend.context.validationMessages
        XCTAssert(messages.isEmpty, "validation messages:\n" + messages.prefix(5).joined(separator: "\n"), file: file, line: line)
    }

    /// Largest |a - b| over two tensors of the same shape.
    static func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
        precondition(a.shape == b.shape, "\(a.shape) vs \(b.shape)")
        var m: Float = 0
        let x = a.floats, y = b.floats
        for i in 0..<a.count { m = max(m, abs(x[i] - y[i])) }
        return m
    }

    static func maxAbs(_ a: Tensor) -> Float { a.floats.reduce(0) { max($0, abs($1)) } }

    /// The `fusion` executable built next to the test bundle.
    static func fusionExecutable() throws -> URL {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [dir, dir.deletingLastPathComponent()].map { $0.appendingPathComponent("fusion") }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            // A failure, not a skip: the CLI tests must never pass silently in CI.
            throw MissingExecutable(searched: candidates.map(\.path))
        }
        return found
    }

    /// Runs `fusion` with arguments; returns exit status, stdout and stderr.
    static func runFusion(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = try fusionExecutable()
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        // stderr goes to a file so that neither pipe can fill up and block the child.
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("fusion-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errURL) }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = try FileHandle(forWritingTo: errURL)
        try p.run()
        let outBytes = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let errBytes = (try? Data(contentsOf: errURL)) ?? Data()
        return (p.terminationStatus, String(decoding: outBytes, as: UTF8.self), String(decoding: errBytes, as: UTF8.self))
    }
}

/// The `fusion` executable is not where `swift build` puts it next to the tests.
struct MissingExecutable: Error, CustomStringConvertible {
    let searched: [String]
    var description: String { "the fusion executable was not built next to the tests (\(searched)); run `swift build` first" }
}
