import FusionCore
import FusionIO

/// RFC's trainable network (`model/model.pth`: `{'model_state_dict': ...}`, the 73 tensors
/// `train.py` saves): the mask branch (`upsampling`, `mask_feature`, `maskconv`,
/// `ResBlock{1,2,3}`, `imagemoudle`), the fusion network (`irconv`, `viconv`, `CBA{1..4}`,
/// `dconv1..7`). `processmodule` (the FiLM vectors from the process embedding) is
/// `RFCProcessModule`'s. See `../shared/models/rfc.md`, sections 3, 5 and 6.
public struct RFCFusionWeights {
    public typealias Conv = (weight: Tensor, bias: Tensor?)

    /// `ResBlock{k}`: conv3 64->64 then conv3 (64 + 66)->64, both without bias.
    public struct ResBlock {
        public var conv1: Tensor, conv2: Tensor
    }

    /// `CBA{j}`: the shared channel-attention MLP (1x1 128->16->128, with biases) and the
    /// 7x7 spatial-attention conv over (channel max, channel mean).
    public struct CBAM {
        public var mlp0: Conv, mlp2: Conv, spatial: Conv
    }

    public var upsampling0: Conv              // conv3 64->64
    public var upsampling2: Conv              // ConvT 64->64, k4 s4 ([in, out, 4, 4])
    public var upsampling4: Conv
    public var maskFeature0: Conv             // conv3 64->64
    public var maskFeature2: Conv             // conv3 64->32
    public var maskConv: Tensor               // conv3 66->64, no bias
    public var resBlocks: [ResBlock]          // 3
    /// `imagemoudle.wconv{1..4}` and `bconv{1..4}`: conv3 64->128, no bias.
    public var imageW: [Tensor], imageB: [Tensor]
    public var irConv: Conv, viConv: Conv     // conv3 1->64, 3->64
    public var cbam: [CBAM]                   // 4
    public var dconv: [Conv]                  // dconv1..7

    /// The widths the graph is built for (those of the released network).
    public static let featureChannels = 64, maskChannels = 66, fusionChannels = 128

    /// Reads the tensors from a checkpoint (names with or without a `model_state_dict.`
    /// prefix); a missing or misshaped tensor is an error naming the file and the tensor.
    public init(_ archive: TensorArchive) throws {
        let anchor = "irconv.weight"
        guard let p = archive.keyPrefix(anchoredAt: anchor) else {
            throw FileFormatError(path: archive.path, format: archive.format.rawValue,
                                  "not an RFC checkpoint: no tensor named '\(anchor)' (under any prefix, e.g. 'model_state_dict.'); it holds \(archive.names.count) tensors such as \(archive.names.prefix(3).map { "'\($0)'" }.joined(separator: ", "))")
        }
        let r = WeightReader(archive, model: "RFC")
        func t(_ name: String, _ shape: [Int]) throws -> Tensor { try r.tensor(p + name, shape: shape) }
        func conv(_ name: String, _ o: Int, _ i: Int, _ k: Int) throws -> Conv {
            (try t(name + ".weight", [o, i, k, k]), try t(name + ".bias", [o]))
        }
        func convT(_ name: String, _ i: Int, _ o: Int, _ k: Int) throws -> Conv {
            (try t(name + ".weight", [i, o, k, k]), try t(name + ".bias", [o]))
        }
        upsampling0 = try conv("upsampling.0", 64, 64, 3)
        upsampling2 = try convT("upsampling.2", 64, 64, 4)
        upsampling4 = try convT("upsampling.4", 64, 64, 4)
        maskFeature0 = try conv("mask_feature.0", 64, 64, 3)
        maskFeature2 = try conv("mask_feature.2", 32, 64, 3)
        maskConv = try t("maskconv.weight", [64, 66, 3, 3])
        resBlocks = try (1...3).map { k in
            ResBlock(conv1: try t("ResBlock\(k).conv1.weight", [64, 64, 3, 3]), conv2: try t("ResBlock\(k).conv2.weight", [64, 130, 3, 3]))
        }
        imageW = try (1...4).map { try t("imagemoudle.wconv\($0).weight", [128, 64, 3, 3]) }
        imageB = try (1...4).map { try t("imagemoudle.bconv\($0).weight", [128, 64, 3, 3]) }
        irConv = try conv("irconv", 64, 1, 3)
        viConv = try conv("viconv", 64, 3, 3)
        cbam = try (1...4).map { j in
            CBAM(mlp0: try conv("CBA\(j).mlp.0", 16, 128, 1), mlp2: try conv("CBA\(j).mlp.2", 128, 16, 1),
                 spatial: try conv("CBA\(j).convs", 1, 2, 7))
        }
        let dconvShapes = [(128, 128), (128, 256), (128, 256), (128, 256), (128, 256), (64, 128), (3, 64)]
        dconv = try dconvShapes.enumerated().map { i, s in try conv("dconv\(i + 1)", s.0, s.1, 3) }
    }
}
