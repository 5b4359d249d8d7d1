import XCTest
import FusionCore
import FusionCPU
import FusionParity

/// The CPU backend against float64 on every test case of the op catalogue that carries a
/// float64 reference (the catalogue's "backend vs float64" mode; the Vulkan parity suites
/// hold the GPU to the same references). One method per op family; the tolerances and
/// their reasons are `OpFamily.reference64Tolerance` / `reference64ToleranceReason`.
final class CPUReference64Tests: XCTestCase {
    private func check(_ family: OpFamily, variants: (OpVariant) -> Bool = { _ in true },
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let runner = Reference64Runner(backend: CPUBackend())
        let cases = try OpCatalogue.testCases(family).filter { $0.reference64 != nil && variants($0.variant) }
        print("[float64] \(family.rawValue): \(cases.count) cases, tolerance \(family.reference64Tolerance) (\(family.reference64ToleranceReason))")
        XCTAssertFalse(cases.isEmpty, "\(family.rawValue) has no case with a float64 reference", file: file, line: line)
        let runLarge = FusionOptions.current.largeTests
        for c in cases {
            if c.isLarge, !runLarge {
                print("[float64] skipped \(c.op) \(c.shapes): full-size case; set FUSIONKIT_LARGE_TESTS=1 to run it")
                continue
            }
            let start = Date()
            let r = runner.run(c)
            print("[float64] \(r.op) \(r.shapes): \(r.error.map { "\($0)" } ?? "-") allowed \(r.tolerance)"
                  + String(format: " (%.0f ms)", Date().timeIntervalSince(start) * 1000))
            XCTAssert(r.passed, "\(r.op) \(r.shapes): \(r.failure ?? "")", file: file, line: line)
        }
    }

    func testConvolutionAgainstFloat64() throws { try check(.convolution) { $0 != .convTranspose2d } }

    func testConvTransposeAgainstFloat64() throws { try check(.convolution) { $0 == .convTranspose2d } }

    func testMatrixProductAgainstFloat64() throws { try check(.matrixProduct) }

    func testAttentionAgainstFloat64() throws { try check(.attention) }

    func testReductionAgainstFloat64() throws { try check(.reduction) { !OpVariant.pooling.contains($0) } }

    func testPoolingAgainstFloat64() throws { try check(.reduction) { OpVariant.pooling.contains($0) } }

    func testPointwiseAgainstFloat64() throws { try check(.pointwise) }

    func testLayoutAgainstFloat64() throws { try check(.layout) }

    func testResamplingAgainstFloat64() throws { try check(.resampling) }
}
