import FusionModels
import XCTest

/// RFC's deterministic instruction splitter (`models/rfc.md` 2.1) on the README templates,
/// the spaCy quirks it must not imitate, and its errors. The golden prompts are checked in
/// `RFCFrontGoldenTests.testTextSplitGoldenCase`.
final class InstructionSplitterTests: XCTestCase {
    private func split(_ prompt: String) throws -> (String, String) {
        let s = try InstructionSplitter.split(prompt)
        return (s.target.description, s.process)
    }

    func testTemplates() throws {
        // T4: VERB the NOUN of the OBJ
        XCTAssertTrue(try split("enhance the light of the car") == ("car", "enhance the light of the photo"))
        XCTAssertEqual(try InstructionSplitter.split("Reduce the haze of the image").target, .image)
        XCTAssertTrue(try split("enhance the light of the street lamp") == ("street lamp", "enhance the light of the photo photo"))
        // T3: make the OBJ ADJ
        XCTAssertTrue(try split("make the building brighter") == ("building", "make the photo brighter"))
        // T2 / T1
        XCTAssertTrue(try split("I want the image to have less noise") == ("image", "i want the photo to have less noise"))
        XCTAssertTrue(try split("I want the haze of the image to go down") == ("image", "i want the haze of the photo to go down"))
        // Trailing punctuation stays in the process as separate tokens.
        XCTAssertTrue(try split("Enhance the light of the car.") == ("car", "enhance the light of the photo ."))
        XCTAssertTrue(try split("make the sky darker!?") == ("sky", "make the photo darker ! ?"))
    }

    func testNoneAndEmpty() throws {
        for prompt in ["none", "None", "NONE", ""] {
            XCTAssertEqual(try InstructionSplitter.split(prompt), RFCInstruction(target: .none, process: "the photo"), prompt)
        }
        // The original compares the unstripped string: "none " is parsed, and fails.
        XCTAssertThrowsError(try InstructionSplitter.split("none "))
    }

    func testRejectsWhatTheTemplatesDoNotCover() {
        for prompt in ["brighten the road", "enhance the light", "enhance the low light of the car", "the car is too dark",
                       "brighten the person's face", "remove the glare from the headlights", "the sofa on the left is too dark",
                       "enhance the light of the car and the person", "reduce the glare of the headlights on the road",
                       "make the trees and the road brighter", "enhance the light, of the car", "   ", "..."] {
            XCTAssertThrowsError(try InstructionSplitter.split(prompt), prompt) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains("\"\(prompt)\""), message)
                XCTAssertTrue(message.contains("--target") && message.contains("--process"), message)
            }
        }
    }

    func testTargetKinds() {
        XCTAssertEqual(RFCTarget(nil), .none)
        XCTAssertEqual(RFCTarget("image"), .image)
        XCTAssertEqual(RFCTarget("images"), .text("images"))
        XCTAssertEqual(RFCTarget.none.description, "0")
    }
}
