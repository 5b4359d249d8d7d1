import Foundation
import FusionCore
import FusionIO
import FusionModels

/// IF-FILM as a `PairFusionModel`: grey pairs (OpenCV grey, or with `color` the visible
/// image's YCrCb luminance), one text feature per prompt as a flat [L x D] array.
public final class FILMPairModel: PairFusionModel {
    public let model: FILMModel
    public let post: FILMImages.Post
    public let color: Bool
    public var name: String { "film" }
    /// Values of one token; a prompt's features hold any positive multiple of it.
    public var textFeatureWidth: Int { model.weights.textDimension }

    public init(model: FILMModel, post: FILMImages.Post, color: Bool) {
        self.model = model
        self.post = post
        self.color = color
    }

    public func prepare(infrared: Image, visible: Image) throws -> PairInputs {
        try requireRegisteredPair(infrared: infrared, visible: visible, title: "IF-FILM")
        return PairInputs(tensors: ["ir": FILMImages.grey(infrared), "vis": FILMImages.grey(visible, luma: color)],
                          visible: visible, outputWidth: visible.width, outputHeight: visible.height)
    }

    public func run(_ inputs: PairInputs, features: [[Float]]) throws -> [Tensor] {
        let d = textFeatureWidth
        return try features.map { f in
            guard f.count % d == 0 else {
                throw FusionError.invalidArgument(op: "film", detail: "text features of \(f.count) values are not whole [\(d)] tokens")
            }
            return try model.fuse(infrared: inputs.tensors["ir"]!, visible: inputs.tensors["vis"]!,
                                  text: model.textTensor(f, shape: [1, f.count / d, d], what: "text"))
        }
    }

    public func image(_ output: Tensor, for inputs: PairInputs) throws -> Image {
        FILMImages.image(fused: output, visible: inputs.visible, post: post, color: color)
    }
}
