import FusionEngine
import FusionTestSupport
import XCTest

/// `fusion check-golden`'s tokenizer and clip_text kinds, through the golden runner.
final class CLIPGoldenTests: XCTestCase {
    func testTokenizerCase() throws {
        let r = try GoldenRunner(backend: SelectedBackend.open(.cpu)).run(TestData.path("golden/tokenizer.safetensors"))
        XCTAssertTrue(r.passed, "\(r.maxAbsError) ids differ: \(r.detail)")
    }

    func testCLIPTextCaseOnBothBackends() throws {
        for backend in [try SelectedBackend.open(.cpu), try VulkanTestBackend.open()] {
            let r = try GoldenRunner(backend: backend).run(TestData.path("golden/clip_text.safetensors"))
            print("clip_text on \(r.backend): rel L2 \(r.relativeL2Error)")
            XCTAssertTrue(r.passed, "\(r.backend): rel L2 \(r.relativeL2Error) \(r.detail)")
        }
    }
}
