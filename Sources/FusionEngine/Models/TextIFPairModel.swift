import Foundation
import FusionCore
import FusionIO
import FusionModels

/// Text-IF as a `PairFusionModel`: the encoders run once per pair, the decoder once per
/// prompt.
public final class TextIFPairModel: PairFusionModel {
    public let model: TextIFModel
    public let fit: TextIFImages.Fit
    public let post: TextIFImages.Post
    public var name: String { "textif" }
    public var textFeatureWidth: Int { 512 }

    public init(model: TextIFModel, fit: TextIFImages.Fit, post: TextIFImages.Post) {
        self.model = model
        self.fit = fit
        self.post = post
    }

    public func prepare(infrared: Image, visible: Image) throws -> PairInputs {
        try requireRegisteredPair(infrared: infrared, visible: visible, title: "Text-IF")
        let t = try TextIFImages.inputs(infrared: infrared, visible: visible, fit: fit)
        return PairInputs(tensors: ["vis": t.visible, "ir": t.infrared], visible: visible, outputWidth: t.width, outputHeight: t.height)
    }

    public func run(_ inputs: PairInputs, features: [[Float]]) throws -> [Tensor] {
        try model.fuse(visible: inputs.tensors["vis"]!, infrared: inputs.tensors["ir"]!, texts: features)
    }

    public func runBatch(_ inputs: [PairInputs], features: [[Float]]) throws -> [Tensor] {
        try model.fuse(pairs: inputs.map { (visible: $0.tensors["vis"]!, infrared: $0.tensors["ir"]!) }, texts: features)
    }

    public func image(_ output: Tensor, for inputs: PairInputs) throws -> Image {
        TextIFImages.image(fused: output, width: inputs.outputWidth, height: inputs.outputHeight, post: post)
    }
}
