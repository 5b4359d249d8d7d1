import FusionCore
import FusionIO

/// CLIPSeg's decoder (`CLIPDensePredT`) as RFC loads it: the `rd64-uni-refined.pth` layout,
/// a plain state dict without the `clip_model.*` / `model.*` keys: `film_mul`, `film_add`
/// (Linear 512 -> R), `reduces.{0..D-1}` (Linear W -> R, W the vision width), `blocks.{0..D-1}`
/// (`nn.TransformerEncoderLayer(d_model=R, nhead=4)`: post-LN, ReLU, dim_feedforward 2048),
/// and `trans_conv.{0,2,4}` (the refined head: conv 3x3, ConvT k4 s4, ConvT k4 s4). `reduce`
/// is stored but never used. R (64 in rd64) and D come from the shapes; nhead is not stored
/// (CLIPSeg's default 4; `heads` overrides it).
public struct CLIPSegDecoderWeights {
    /// `nn.TransformerEncoderLayer` weights (sequence-first in the original; the engine runs
    /// it batch-first).
    public struct Block {
        public var inProjWeight: Tensor, inProjBias: Tensor     // [3R, R], [3R]
        public var outProjWeight: Tensor, outProjBias: Tensor   // [R, R], [R]
        public var linear1Weight: Tensor, linear1Bias: Tensor   // [F, R], [F]
        public var linear2Weight: Tensor, linear2Bias: Tensor   // [R, F], [R]
        public var norm1Weight: Tensor, norm1Bias: Tensor
        public var norm2Weight: Tensor, norm2Bias: Tensor
    }

    public let path: String
    /// R: the decoder's token width.
    public let reduceDimension: Int
    /// The vision tower width the `reduces` read.
    public let visionWidth: Int
    /// The conditional vector's size (CLIP's embedding, 512).
    public let conditionDimension: Int
    public let heads: Int
    public var filmMulWeight: Tensor, filmMulBias: Tensor
    public var filmAddWeight: Tensor, filmAddBias: Tensor
    /// Applied in order to the taps 9, 6, 3 (CLIPSeg's activations reversed).
    public var reduces: [(weight: Tensor, bias: Tensor)]
    public var blocks: [Block]
    /// `trans_conv.0` (Conv2d R->R 3x3), `.2` (ConvTranspose2d R->R/2 k4 s4; weight [in, out, 4, 4]),
    /// `.4` (ConvTranspose2d R/2->1 k4 s4).
    public var transConv: [(weight: Tensor, bias: Tensor)]

    public init(_ archive: TensorArchive, heads: Int = 4) throws {
        path = archive.path
        func fail(_ message: String) -> FileFormatError {
            FileFormatError(path: archive.path, format: archive.format.rawValue, "CLIPSeg decoder weights: \(message)")
        }
        // The rd64-uni-refined layout: every key it needs, named in the error when missing.
        for key in ["film_mul.weight", "reduces.0.weight", "blocks.0.self_attn.in_proj_weight", "trans_conv.0.weight"] {
            guard archive.tensor(named: key) != nil else {
                let hint = archive.tensor(named: "trans_conv.weight") != nil
                    ? " (this looks like a CLIPSeg checkpoint without the refined transposed-conv head, e.g. rd16-uni / rd64-uni; RFC uses rd64-uni-refined.pth)" : ""
                throw fail("tensor '\(key)' is missing: not the rd64-uni-refined.pth layout RFC loads\(hint)")
            }
        }
        let r = WeightReader(archive, model: "CLIPSeg decoder")
        filmMulWeight = try r.tensor("film_mul.weight")
        guard filmMulWeight.shape.count == 2 else { throw fail("'film_mul.weight' has shape \(filmMulWeight.shape), expected [reduce_dim, 512]") }
        let rd = filmMulWeight.shape[0], cond = filmMulWeight.shape[1]
        reduceDimension = rd
        conditionDimension = cond
        guard heads > 0, rd % heads == 0 else { throw fail("reduce_dim \(rd) does not split into \(heads) heads") }
        self.heads = heads
        filmMulBias = try r.tensor("film_mul.bias", shape: [rd])
        filmAddWeight = try r.tensor("film_add.weight", shape: [rd, cond])
        filmAddBias = try r.tensor("film_add.bias", shape: [rd])
        let first = try r.tensor("reduces.0.weight")
        guard first.shape.count == 2, first.shape[0] == rd else { throw fail("'reduces.0.weight' has shape \(first.shape), expected [\(rd), width]") }
        let w = first.shape[1]
        visionWidth = w
        var reduces: [(weight: Tensor, bias: Tensor)] = []
        while archive.tensor(named: "reduces.\(reduces.count).weight") != nil {
            let i = reduces.count
            reduces.append((try r.tensor("reduces.\(i).weight", shape: [rd, w]), try r.tensor("reduces.\(i).bias", shape: [rd])))
        }
        self.reduces = reduces
        var blocks: [Block] = []
        for i in 0..<reduces.count {
            let b = "blocks.\(i)."
            let l1 = try r.tensor(b + "linear1.weight")
            guard l1.shape.count == 2, l1.shape[1] == rd else { throw fail("'\(b)linear1.weight' has shape \(l1.shape), expected [ff, \(rd)]") }
            let ff = l1.shape[0]
            blocks.append(Block(inProjWeight: try r.tensor(b + "self_attn.in_proj_weight", shape: [3 * rd, rd]),
                                inProjBias: try r.tensor(b + "self_attn.in_proj_bias", shape: [3 * rd]),
                                outProjWeight: try r.tensor(b + "self_attn.out_proj.weight", shape: [rd, rd]),
                                outProjBias: try r.tensor(b + "self_attn.out_proj.bias", shape: [rd]),
                                linear1Weight: l1, linear1Bias: try r.tensor(b + "linear1.bias", shape: [ff]),
                                linear2Weight: try r.tensor(b + "linear2.weight", shape: [rd, ff]),
                                linear2Bias: try r.tensor(b + "linear2.bias", shape: [rd]),
                                norm1Weight: try r.tensor(b + "norm1.weight", shape: [rd]), norm1Bias: try r.tensor(b + "norm1.bias", shape: [rd]),
                                norm2Weight: try r.tensor(b + "norm2.weight", shape: [rd]), norm2Bias: try r.tensor(b + "norm2.bias", shape: [rd])))
        }
        self.blocks = blocks
        let half = rd / 2
        transConv = [
            (try r.tensor("trans_conv.0.weight", shape: [rd, rd, 3, 3]), try r.tensor("trans_conv.0.bias", shape: [rd])),
            (try r.tensor("trans_conv.2.weight", shape: [rd, half, 4, 4]), try r.tensor("trans_conv.2.bias", shape: [half])),
            (try r.tensor("trans_conv.4.weight", shape: [half, 1, 4, 4]), try r.tensor("trans_conv.4.bias", shape: [1])),
        ]
    }
}
