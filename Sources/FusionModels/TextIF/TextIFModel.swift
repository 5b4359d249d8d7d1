import Foundation
import FusionCore

/// Text-IF on one backend, split where the text enters: the two encoders run once per
/// image pair, the decoder once per prompt, so re-prompting a pair skips the encoders.
public final class TextIFModel {
    public let weights: TextIFWeights
    public let backend: Backend
    private var encoders: [[Int]: Executable] = [:]
    private var decoders: [[Int]: Executable] = [:]
    /// Runs and seconds of each half since creation (re-prompting shows here).
    public private(set) var encoderRuns = 0, decoderRuns = 0
    public private(set) var encoderSeconds = 0.0, decoderSeconds = 0.0
    private var encoderFLOPs: [[Int]: Double] = [:], decoderFLOPs: [[Int]: Double] = [:]

    /// The encoder features of one pair at one size.
    public struct Features {
        public let height: Int, width: Int
        let tensors: [String: Tensor]
    }

    public init(weights: TextIFWeights, backend: Backend) {
        self.weights = weights
        self.backend = backend
    }

    /// Runs both encoders on `visible` and `infrared` ([1,3,H,W], H and W multiples of 8).
    public func encode(visible: Tensor, infrared: Tensor) throws -> Features {
        guard visible.shape.count == 4, visible.shape[0] == 1, visible.shape[1] == 3 else {
            throw FusionError.invalidArgument(op: "Text-IF", detail: "visible input has shape \(visible.shape), expected [1, 3, H, W]")
        }
        guard infrared.shape == visible.shape else {
            throw FusionError.invalidArgument(op: "Text-IF", detail: "infrared input has shape \(infrared.shape), visible \(visible.shape): they must match")
        }
        let key = [visible.shape[2], visible.shape[3]]
        let e: Executable
        if let cached = encoders[key] { e = cached } else {
            let graph = try TextIFGraph.buildEncoders(weights, height: key[0], width: key[1])
            e = try backend.prepare(graph)
            encoders = [key: e]
            encoderFLOPs = [key: GraphCost.flops(graph)]
        }
        let start = Date()
        let out = try e.run(["vis": visible, "ir": infrared])
        encoderSeconds += Date().timeIntervalSince(start)
        encoderRuns += 1
        return Features(height: key[0], width: key[1], tensors: out)
    }

    /// The fused image [1,3,H,W] (raw network output) for one text feature.
    public func decode(_ features: Features, text: [Float]) throws -> Tensor {
        let dimension = weights.guidance[0].w1.shape[1]
        guard text.count == dimension, text.allSatisfy({ $0.isFinite }) else {
            throw FusionError.invalidArgument(op: "Text-IF", detail: "text features have \(text.count) values (finite: \(text.allSatisfy { $0.isFinite })), expected \(dimension) finite values")
        }
        let key = [features.height, features.width]
        let d: Executable
        if let cached = decoders[key] { d = cached } else {
            let graph = try TextIFGraph.buildDecoder(weights, height: key[0], width: key[1])
            d = try backend.prepare(graph)
            decoders = [key: d]
            decoderFLOPs = [key: GraphCost.flops(graph)]
        }
        var inputs = features.tensors
        inputs["text"] = Tensor(shape: [1, dimension], floats: text)
        let start = Date()
        guard let out = try d.run(inputs)["fused"] else { throw FusionError.backend("Text-IF: the decoder produced no output") }
        decoderSeconds += Date().timeIntervalSince(start)
        decoderRuns += 1
        return out
    }

    /// Operations of the encoders and of one decoder pass at a size that has run (`GraphCost`).
    public func flops(height: Int, width: Int) -> (encoders: Double, decoder: Double) {
        (encoderFLOPs[[height, width]] ?? 0, decoderFLOPs[[height, width]] ?? 0)
    }

    /// One pair under several prompts: the encoders run once.
    public func fuse(visible: Tensor, infrared: Tensor, texts: [[Float]]) throws -> [Tensor] {
        let features = try encode(visible: visible, infrared: infrared)
        return try texts.map { try decode(features, text: $0) }
    }
}
