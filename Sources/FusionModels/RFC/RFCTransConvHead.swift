import FusionCore
import FusionIO

/// The `trans_conv` head of CLIPSeg's decoder (`rd64-uni-refined`): Conv2d(64,64,3,p=1) ->
/// ReLU -> ConvTranspose2d(64,32,4,s4) -> ReLU -> ConvTranspose2d(32,1,4,s4).
public struct CLIPSegTransConvWeights {
    public var conv: RFCFusionWeights.Conv       // [64, 64, 3, 3]
    public var up1: RFCFusionWeights.Conv        // [64, 32, 4, 4]
    public var up2: RFCFusionWeights.Conv        // [32, 1, 4, 4]

    /// Reads `trans_conv.{0,2,4}` (under any prefix) from a CLIPSeg decoder checkpoint.
    public init(_ archive: TensorArchive) throws {
        let anchor = "trans_conv.0.weight"
        guard let p = archive.keyPrefix(anchoredAt: anchor) else {
            throw FileFormatError(path: archive.path, format: archive.format.rawValue,
                                  "not a CLIPSeg decoder checkpoint: no tensor named '\(anchor)'")
        }
        let r = WeightReader(archive, model: "CLIPSeg")
        func t(_ name: String, _ shape: [Int]) throws -> Tensor { try r.tensor(p + name, shape: shape) }
        let d = RFCFusionWeights.featureChannels
        conv = (try t("trans_conv.0.weight", [d, d, 3, 3]), try t("trans_conv.0.bias", [d]))
        up1 = (try t("trans_conv.2.weight", [d, d / 2, 4, 4]), try t("trans_conv.2.bias", [d / 2]))
        up2 = (try t("trans_conv.4.weight", [d / 2, 1, 4, 4]), try t("trans_conv.4.bias", [1]))
    }
}

/// CLIPSeg's `trans_conv` head and the step from its logits to RFC's seg maps.
public enum CLIPSegTransConv {
    /// features [B, 64, 22, 22] -> logits [B, 1, 352, 352].
    public static func logits(_ g: Graph, _ w: CLIPSegTransConvWeights, features: Value) throws -> Value {
        var x = try g.relu(g.conv2d(features, weight: g.constant(w.conv.weight), bias: w.conv.bias.map { g.constant($0) },
                                    Conv2DAttributes(padding: 1)))
        x = try g.relu(g.convTranspose2d(x, weight: g.constant(w.up1.weight), bias: w.up1.bias.map { g.constant($0) }, .init(stride: 4)))
        return try g.convTranspose2d(x, weight: g.constant(w.up2.weight), bias: w.up2.bias.map { g.constant($0) }, .init(stride: 4))
    }

    /// logits [2, 1, h, w] (IR, visible) -> seg [1, 2, H, W]: sigmoid, then bilinear resize
    /// (align_corners=False, no antialias, even when shrinking).
    public static func seg(_ g: Graph, logits: Value, height: Int, width: Int) throws -> Value {
        let s = try g.resize(g.sigmoid(logits), mode: .bilinear, height: height, width: width)
        return try g.reshape(s, [1, logits.shape[0], height, width])
    }
}
