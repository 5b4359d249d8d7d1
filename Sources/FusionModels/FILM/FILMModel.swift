import Foundation
import FusionCore

/// IF-FILM on one backend: one graph per (height, width, text tokens), the last one kept
/// prepared (a dataset of one image size and varying text lengths prepares once per length).
public final class FILMModel {
    public let weights: FILMWeights
    public let backend: Backend
    /// FFN band size (`FILMGraph`); nil never bands.
    public var bandBytes: Int? = FILMGraph.defaultBandBytes
    private var prepared: (key: [Int], executable: Executable)?
    public private(set) var runs = 0, seconds = 0.0

    public init(weights: FILMWeights, backend: Backend) {
        self.weights = weights
        self.backend = backend
    }

    /// Checks text features [1, L, D] or [L, D] (D = the checkpoint's text width, L >= 1,
    /// finite) and returns them as [1, L, D]; `what` names the source in errors.
    public func textTensor(_ values: [Float], shape: [Int], what: String) throws -> Tensor {
        let d = weights.textDimension
        let ok = (shape.count == 3 && shape[0] == 1 && shape[2] == d) || (shape.count == 2 && shape[1] == d)
        guard ok else {
            throw FusionError.invalidArgument(op: "IF-FILM", detail: "\(what): text features have shape \(shape); expected [1, L, \(d)] or [L, \(d)] (BLIP-2 token features)")
        }
        let l = shape[shape.count - 2]
        guard l >= 1 else {
            throw FusionError.invalidArgument(op: "IF-FILM", detail: "\(what): text features have shape \(shape): no tokens; IF-FILM needs at least one [\(d)] token")
        }
        guard values.count == l * d, values.allSatisfy({ $0.isFinite }) else {
            throw FusionError.invalidArgument(op: "IF-FILM", detail: "\(what): text features of shape \(shape) hold NaN or infinite values")
        }
        return Tensor(shape: [1, l, d], floats: values)
    }

    /// The raw sigmoid output [1,1,H,W] for grey `infrared` and `visible` [1,1,H,W] in [0,1]
    /// and `text` [1,L,D].
    public func fuse(infrared: Tensor, visible: Tensor, text: Tensor) throws -> Tensor {
        guard infrared.shape.count == 4, infrared.shape[0] == 1, infrared.shape[1] == 1 else {
            throw FusionError.invalidArgument(op: "IF-FILM", detail: "infrared input has shape \(infrared.shape), expected [1, 1, H, W]")
        }
        guard visible.shape == infrared.shape else {
            throw FusionError.invalidArgument(op: "IF-FILM", detail: "the infrared input is \(infrared.shape[3])x\(infrared.shape[2]) but the visible input is \(visible.shape.count == 4 ? "\(visible.shape[3])x\(visible.shape[2])" : "\(visible.shape)"); IF-FILM needs a registered pair of one size")
        }
        let text = try textTensor(text.toFloatArray(), shape: text.shape, what: "text")
        let h = infrared.shape[2], w = infrared.shape[3], l = text.shape[1]
        let key = [h, w, l]
        let e: Executable
        if let p = prepared, p.key == key { e = p.executable } else {
            prepared = nil
            e = try backend.prepare(FILMGraph.build(weights, height: h, width: w, textTokens: l, bandBytes: bandBytes))
            prepared = (key, e)
        }
        let start = Date()
        guard let out = try e.run(["ir": infrared, "vis": visible, "text": text])["fused"] else {
            throw FusionError.backend("IF-FILM: the graph produced no output")
        }
        seconds += Date().timeIntervalSince(start)
        runs += 1
        return out
    }
}
