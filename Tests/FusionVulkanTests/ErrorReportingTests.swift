import Foundation
import FusionCore
import FusionVulkan
import XCTest

/// Bad input must end in a typed error with a message a user can act on.
final class ErrorReportingTests: XCTestCase {
    func testMissingDeviceFeatureIsATypedError() throws {
        let gpu = try VulkanTestSupport.backend()
        guard let missing = DeviceFeature.allCases.first(where: { !$0.isSupported(by: gpu.context.info) }) else {
            throw XCTSkip("\(gpu.context.info.name) supports every optional feature")
        }
        XCTAssertThrowsError(try gpu.context.require([missing], for: "conv2d (fp16 path)")) { error in
            guard case let .unsupportedFeature(message)? = error as? VulkanError else { return XCTFail("\(error)") }
            XCTAssert(message.contains("conv2d (fp16 path)"), message)
            XCTAssert(message.contains(missing.vulkanName), message)
            XCTAssert(message.contains(gpu.context.info.name), message)
        }
        XCTAssertNoThrow(try gpu.context.require(DeviceFeature.allCases.filter { $0.isSupported(by: gpu.context.info) }, for: "x"))
    }

    func testShaderCompileErrorNamesTheShader() throws {
        let gpu = try VulkanTestSupport.backend()
        let broken = "#version 450\nlayout(local_size_x = 1) in;\nvoid main() { undefined_function(); }\n"
        XCTAssertThrowsError(try gpu.context.pipeline(name: "broken_kernel.comp", source: broken, defines: [], specialization: [],
                                                      bindings: 0, pushConstantBytes: 0)) { error in
            guard case let .shaderCompilation(shader, log)? = error as? VulkanError else { return XCTFail("\(error)") }
            XCTAssertEqual(shader, "broken_kernel.comp")
            XCTAssert(log.contains("undefined_function"), log)
        }
    }

    func testUnknownShaderIsATypedError() throws {
        let gpu = try VulkanTestSupport.backend()
        XCTAssertThrowsError(try gpu.context.pipeline(shader: "no_such_kernel.comp", bindings: 1, pushConstantBytes: 0)) { error in
            guard case .shaderNotFound? = error as? VulkanError else { return XCTFail("\(error)") }
        }
    }

    func testShapeMismatchIsATypedErrorBeforeAnyDeviceWork() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 3, 8, 8])
        XCTAssertThrowsError(try g.matmul(x, g.input("w", shape: [5, 2]))) { error in
            guard case let .shapeMismatch(op, detail)? = error as? FusionError else { return XCTFail("\(error)") }
            XCTAssertEqual(op, "matmul")
            XCTAssert(detail.contains("inner dimensions"), detail)
        }
    }
}
