import FusionCore
import FusionEngine
import FusionIO
import XCTest

/// `PairFusionModel.requireRegisteredPair`: the size check of every model that fuses pixel by
/// pixel without resizing (Text-IF, IF-FILM, RFC) names both sizes and the model.
final class RegisteredPairTests: XCTestCase {
    private final class Stub: PairFusionModel {
        var name: String { "stub" }
        var textFeatureWidth: Int { 1 }
        func prepare(infrared: Image, visible: Image) throws -> PairInputs {
            try requireRegisteredPair(infrared: infrared, visible: visible, title: "Stub-Net")
            return PairInputs(tensors: [:], visible: visible, outputWidth: visible.width, outputHeight: visible.height)
        }
        func run(_ inputs: PairInputs, features: [[Float]]) throws -> [Tensor] { [] }
        func image(_ output: Tensor, for inputs: PairInputs) throws -> Image { inputs.visible }
    }

    private func grey(_ width: Int, _ height: Int) -> Image {
        Image(planes: [[Float](repeating: 0.5, count: width * height)], width: width, height: height, bitDepth: 8, scaledFrom: 1)
    }

    func testMismatchedSizesAreRefusedWithBothSizes() throws {
        let model = Stub()
        XCTAssertNoThrow(try model.prepare(infrared: grey(6, 4), visible: grey(6, 4)))
        XCTAssertThrowsError(try model.prepare(infrared: grey(6, 4), visible: grey(6, 5))) { error in
            let text = "\(error)"
            for part in ["6x4", "6x5", "Stub-Net", "registered pair"] { XCTAssertTrue(text.contains(part), text) }
        }
    }
}
