import FusionCore

/// The text-conditioned head folded into two small 3x3 kernels.
///
/// The original computes `x = W_vis·relu_vis + t ⊙ (W_ir·relu_ir)` (512 channels) and then a
/// 3x3 conv 512->1. Both 1x1 projections and the conv are linear, and reflect padding
/// commutes with 1x1 convs, so the whole head is a 3x3 conv on the two 48-channel ReLU
/// maps with kernels `K_vis[j] = Σ_c W_vis[c,j] K[c]` (fixed) and
/// `K_ir[j] = Σ_c t_c W_ir[c,j] K[c]` (per prompt). The 512-channel map never exists:
/// at 1280x1024 it would be 2.7 GB.
public enum TextFusionHead {
    /// `Σ_c scale_c · W[c,j] · K[c]` → [1, 48, 3, 3], accumulated in Double.
    static func fold(projection: [Float], head: [Float], scale: [Float]?) -> Tensor {
        let hidden = TextFusionWeights.hidden, text = TextFusionWeights.textDimension
        var kernel = [Double](repeating: 0, count: hidden * 9)
        for c in 0..<text {
            let s = Double(scale?[c] ?? 1)
            if s == 0 { continue }
            for j in 0..<hidden {
                let w = s * Double(projection[c * hidden + j])
                for k in 0..<9 { kernel[j * 9 + k] += w * Double(head[c * 9 + k]) }
            }
        }
        return Tensor(shape: [1, hidden, 3, 3], floats: kernel.map { Float($0) })
    }

    /// The fixed visible-stream kernel.
    public static func visibleKernel(_ weights: TextFusionWeights) -> Tensor {
        fold(projection: weights.visible.textProjection, head: weights.headWeight, scale: nil)
    }

    /// The infrared-stream kernel for one prompt's 512-d text feature.
    public static func infraredKernel(_ weights: TextFusionWeights, textFeatures: [Float]) throws -> Tensor {
        guard textFeatures.count == TextFusionWeights.textDimension else {
            throw FusionError.invalidArgument(op: "TextFusion", detail: "text features have \(textFeatures.count) values, expected \(TextFusionWeights.textDimension)")
        }
        guard textFeatures.allSatisfy({ $0.isFinite }) else {
            throw FusionError.invalidArgument(op: "TextFusion", detail: "text features hold NaN or infinite values")
        }
        return fold(projection: weights.infrared.textProjection, head: weights.headWeight, scale: textFeatures)
    }
}
