import Foundation
import FusionTestSupport
import XCTest

/// The command line turns bad arguments into one clear line and exit status 1.
final class CLIErrorTests: XCTestCase {
    func testUnknownOpIsReported() throws {
        let r = try FusionCLI.run(["parity", "--ops", "--op", "frobnicate"])
        XCTAssertEqual(r.status, 1)
        XCTAssert(r.err.contains("unknown op 'frobnicate'"), r.err)
        XCTAssert(r.err.contains("conv2d"), "the message lists the known ops: \(r.err)")
    }

    func testDeviceIndexOutOfRangeIsReported() throws {
        _ = try VulkanTestSupport.backend()
        let r = try FusionCLI.run(["parity", "--ops", "--op", "relu", "--device", "99"])
        XCTAssertEqual(r.status, 1)
        XCTAssert(r.err.contains("99"), r.err)
    }

    func testMissingFeatureIsReported() throws {
        _ = try VulkanTestSupport.backend()
        let r = try FusionCLI.run(["parity", "--ops", "--op", "relu", "--require", "coop-matrix"])
        // lavapipe has no cooperative matrices; a GPU that has them passes.
        if r.status != 0 {
            XCTAssertEqual(r.status, 1)
            XCTAssert(r.err.contains("cooperative matrices"), r.err)
        }
    }

    func testDevicesListsLimitsAndFeatures() throws {
        _ = try VulkanTestSupport.backend()
        let r = try FusionCLI.run(["devices"])
        XCTAssertEqual(r.status, 0, r.err)
        for needle in ["maxStorageBufferRange", "maxMemoryAllocationSize", "shaderFloat16", "subgroupSize", "cooperativeMatrix", "API 1."] {
            XCTAssert(r.out.contains(needle), "missing \(needle) in:\n\(r.out)")
        }
    }
}
