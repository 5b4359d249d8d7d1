import FusionEngine
import FusionTestSupport
import XCTest

/// Text-IF against the original `Text_IF_model.py` (random dim-8 weights), on both backends.
final class TextIFGoldenTests: XCTestCase {
    func testGoldenCasesOnBothBackends() throws {
        for backend in [try SelectedBackend.open(.cpu), try VulkanTestBackend.open()] {
            let runner = GoldenRunner(backend: backend)
            for name in ["textif_dim8_32x48", "textif_dim8_64x40"] {
                let r = try runner.run(TestData.path("golden/\(name).safetensors"))
                print("\(name) on \(r.backend): max |err| \(r.maxAbsError), rel L2 \(r.relativeL2Error)")
                XCTAssertTrue(r.passed, "\(name) on \(r.backend): max |err| \(r.maxAbsError)")
            }
        }
    }
}
