import Foundation
import FusionCore
import FusionCPU
import FusionParity
@testable import FusionVulkan
import XCTest

/// Runs one family's test cases of the op catalogue on the CPU reference and on Vulkan:
/// each case within its family's tolerance, against its float64 reference where it has one,
/// and with no validation-layer message.
enum CatalogueParity {
    /// The direct-sum reference (no Winograd: its rounding is the CPU's own choice, not the
    /// reference's).
    private static let cpu: CPUBackend = {
        let b = CPUBackend()
        b.winograd = false
        return b
    }()

    /// `variants`: which of the family's cases to run (default: all).
    static func check(_ family: OpFamily, variants: (OpVariant) -> Bool = { _ in true },
                      file: StaticString = #filePath, line: UInt = #line) throws {
        let gpu = try VulkanTestSupport.backend()
        print("[parity] \(family.rawValue) on \(gpu.deviceDescription), validation \(gpu.context.validationEnabled), tolerance \(family.tolerance)")
        let runner = ParityRunner(reference: cpu, candidate: gpu)
        let cases = try OpCatalogue.testCases(family).filter { variants($0.variant) }
        XCTAssertFalse(cases.isEmpty, "\(family.rawValue) has no test cases", file: file, line: line)
        // The full-size cases take minutes on lavapipe (conv 96 -> 96 on 1024 x 1024: about
        // 150 s on 2 cores); they run when FUSIONKIT_LARGE_TESTS=1.
        let runLarge = FusionOptions.current.largeTests
        for c in cases {
            if c.isLarge, !runLarge {
                print("[parity] skipped \(c.op) \(c.shapes): full-size case; set FUSIONKIT_LARGE_TESTS=1 to run it")
                continue
            }
            HeavyOpsTuning.splitBytesOverride = c.splitBytes
            defer { HeavyOpsTuning.splitBytesOverride = nil }
            let start = Date()
            let r = runner.run(c)
            let reference = r.reference64Errors.map { String(format: ", float64 errors cpu %.2e vulkan %.2e", $0.reference, $0.candidate) } ?? ""
            print("[parity] \(r.op) \(r.shapes): max |err| \(r.maxAbsError) scale \(r.scale)\(reference)"
                  + String(format: " (%.0f ms)", Date().timeIntervalSince(start) * 1000))
            XCTAssert(r.passed, "\(r.op) \(r.shapes): max |err| \(r.maxAbsError) (allowed \(r.tolerance) x scale \(r.scale))"
                      + (r.failure.map { "; \($0)" } ?? ""), file: file, line: line)
            VulkanTestSupport.assertNoValidationMessages(gpu, file: file, line: line)
        }
    }
}
