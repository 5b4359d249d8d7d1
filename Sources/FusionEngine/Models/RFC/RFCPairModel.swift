import Foundation
import FusionCore
import FusionIO
import FusionModels

/// RFC as a `PairFusionModel`: PIL-style inputs (`L` infrared, `RGB` visible), one
/// `RFCModel.Condition.vector` per prompt (`RFCPromptEncoder`), RGB out. Several prompts on
/// one pair share the CLIPSeg vision tower and each distinct target's decoder.
public final class RFCPairModel: PairFusionModel {
    public let model: RFCModel
    public var name: String { "rfc" }
    public var textFeatureWidth: Int { RFCModel.Condition.vectorWidth(embedDimension: model.front.processModule.embedDimension) }

    public init(model: RFCModel) {
        self.model = model
    }

    public func prepare(infrared: Image, visible: Image) throws -> PairInputs {
        try requireRegisteredPair(infrared: infrared, visible: visible, title: "RFC")
        return PairInputs(tensors: ["ir": RFCImages.infrared(infrared), "vis": RFCImages.visible(visible)],
                          visible: visible, outputWidth: visible.width, outputHeight: visible.height)
    }

    public func run(_ inputs: PairInputs, features: [[Float]]) throws -> [Tensor] {
        let e = model.front.processModule.embedDimension
        let conditions = try features.map { try RFCModel.Condition(vector: $0, embedDimension: e) }
        return try model.fuse(ir: inputs.tensors["ir"]!, vis: inputs.tensors["vis"]!, conditions: conditions).map(\.output)
    }

    public func image(_ output: Tensor, for inputs: PairInputs) throws -> Image {
        RFCImages.image(output)
    }
}
