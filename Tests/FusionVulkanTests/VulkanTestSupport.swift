import Foundation
import FusionCore
import FusionVulkan
import XCTest

/// Shared setup of the Vulkan tests: one context per process (pipelines compile once),
/// validation when CI asks for it, and a skip only when no device exists and CI does not
/// require one.
enum VulkanTestSupport {
    private static let shared: Result<VulkanBackend, Error> = Result {
        try VulkanBackend(validation: FusionOptions.current.requireValidation ? true : nil)
    }

    static func backend() throws -> VulkanBackend {
        switch shared {
        case let .success(b): return b
        case let .failure(error):
            if FusionOptions.current.requireVulkan { throw error }
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
}

