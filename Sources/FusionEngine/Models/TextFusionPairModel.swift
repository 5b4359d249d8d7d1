import Foundation
import FusionCore
import FusionCPU
import FusionIO
import FusionModels

/// TextFusion as a `PairFusionModel`: luminance (or grey) in, the visible image's chroma
/// restored on the output, exactly as the single-pair command does it.
public final class TextFusionPairModel: PairFusionModel {
    public let model: TextFusionModel
    public let grey: Bool
    public let resizeIR: Bool
    public var name: String { "textfusion" }
    public var textFeatureWidth: Int { 512 }

    public init(model: TextFusionModel, grey: Bool, resizeIR: Bool) {
        self.model = model
        self.grey = grey
        self.resizeIR = resizeIR
    }

    public func prepare(infrared: Image, visible: Image) throws -> PairInputs {
        var infrared = infrared
        if infrared.width != visible.width || infrared.height != visible.height {
            guard resizeIR else {
                throw FusionError.invalidArgument(op: "textfusion", detail: "the infrared image is \(infrared.width)x\(infrared.height) but the visible image is \(visible.width)x\(visible.height); pass --resize-ir to resize the infrared image")
            }
            infrared = try resizedImage(infrared, width: visible.width, height: visible.height)
        }
        let t = try TextFusionImages.inputs(infrared: infrared, visible: visible, grey: grey)
        return PairInputs(tensors: ["vis": t.visible, "ir": t.infrared], visible: visible, outputWidth: visible.width, outputHeight: visible.height)
    }

    public func run(_ inputs: PairInputs, features: [[Float]]) throws -> [Tensor] {
        try features.map { try model.fuse(visible: inputs.tensors["vis"]!, infrared: inputs.tensors["ir"]!, textFeatures: $0) }
    }

    public func runBatch(_ inputs: [PairInputs], features: [[Float]]) throws -> [Tensor] {
        try model.fuse(visible: inputs.map { $0.tensors["vis"]! }, infrared: inputs.map { $0.tensors["ir"]! }, textFeatures: features)
    }

    /// Queued on the backend (`TextFusionModel.submitFuse`) for one pair under one prompt or a
    /// batch; a pair under several prompts runs now (its prompts would need more runs in
    /// flight than an executable has staging sets).
    public func submit(_ inputs: [PairInputs], features: [[[Float]]]) throws -> PendingPairRun {
        guard inputs.count == features.count, !inputs.isEmpty, features.allSatisfy({ $0.count == 1 }) else {
            let outputs = try runSynchronously(inputs, features: features)
            return PendingPairRun { outputs }
        }
        let pending = inputs.count == 1
            ? try model.submitFuse(visible: inputs[0].tensors["vis"]!, infrared: inputs[0].tensors["ir"]!, textFeatures: features[0][0])
            : try model.submitFuse(visible: inputs.map { $0.tensors["vis"]! }, infrared: inputs.map { $0.tensors["ir"]! },
                                   textFeatures: features.map { $0[0] })
        let model = self.model
        return PendingPairRun { try model.finish(pending).map { [$0] } }
    }

    public func image(_ output: Tensor, for inputs: PairInputs) throws -> Image {
        TextFusionImages.image(fused: output, visible: inputs.visible, grey: grey)
    }
}
