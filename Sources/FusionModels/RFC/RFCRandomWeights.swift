import Foundation
import FusionCore
import FusionIO

/// Seeded random checkpoints in the released layouts and shapes (benchmarks and parity
/// without the files): CLIPSeg's `rd64-uni-refined.pth` for a ViT-B/16 tower (1,176,225
/// parameters) and RFC's `model.pth` (73 tensors, 2,806,255 parameters). They are built as
/// in-memory archives and read by the same loaders as the files.
public enum RFCRandomWeights {
    static func archive(_ tensors: [(String, [Int])], seed: UInt64, label: String) throws -> TensorArchive {
        var seeded = SeededWeights(seed: seed)
        let data = try SafetensorsWriter.encode(tensors.map { (name: $0.0, tensor: seeded.random($0.1)) })
        return try SafetensorsReader.read(file: MappedFile(data: data, path: label))
    }

    /// `rd64-uni-refined.pth` for a tower of `visionWidth` (768 in ViT-B/16).
    public static func clipseg(visionWidth: Int = 768, seed: UInt64 = 1) throws -> TensorArchive {
        let rd = 64, ff = 2048, cond = 512
        var t: [(String, [Int])] = [("film_mul.weight", [rd, cond]), ("film_mul.bias", [rd]), ("film_add.weight", [rd, cond]), ("film_add.bias", [rd]),
                                    ("reduce.weight", [rd, visionWidth]), ("reduce.bias", [rd])]
        for i in 0..<3 { t += [("reduces.\(i).weight", [rd, visionWidth]), ("reduces.\(i).bias", [rd])] }
        for i in 0..<3 {
            let b = "blocks.\(i)."
            t += [(b + "self_attn.in_proj_weight", [3 * rd, rd]), (b + "self_attn.in_proj_bias", [3 * rd]),
                  (b + "self_attn.out_proj.weight", [rd, rd]), (b + "self_attn.out_proj.bias", [rd]),
                  (b + "linear1.weight", [ff, rd]), (b + "linear1.bias", [ff]), (b + "linear2.weight", [rd, ff]), (b + "linear2.bias", [rd]),
                  (b + "norm1.weight", [rd]), (b + "norm1.bias", [rd]), (b + "norm2.weight", [rd]), (b + "norm2.bias", [rd])]
        }
        t += [("trans_conv.0.weight", [rd, rd, 3, 3]), ("trans_conv.0.bias", [rd]), ("trans_conv.2.weight", [rd, rd / 2, 4, 4]),
              ("trans_conv.2.bias", [rd / 2]), ("trans_conv.4.weight", [rd / 2, 1, 4, 4]), ("trans_conv.4.bias", [1])]
        return try archive(t, seed: seed, label: "random rd64-uni-refined (seed \(seed))")
    }

    /// RFC's `model.pth` state dict (the 73 trainable tensors).
    public static func rfc(seed: UInt64 = 1) throws -> TensorArchive {
        var t: [(String, [Int])] = []
        func conv(_ name: String, _ o: Int, _ i: Int, _ k: Int, bias: Bool = true) {
            t.append((name + ".weight", [o, i, k, k]))
            if bias { t.append((name + ".bias", [o])) }
        }
        conv("upsampling.0", 64, 64, 3)
        for name in ["upsampling.2", "upsampling.4"] { t += [(name + ".weight", [64, 64, 4, 4]), (name + ".bias", [64])] }
        conv("mask_feature.0", 64, 64, 3)
        conv("mask_feature.2", 32, 64, 3)
        conv("maskconv", 64, 66, 3, bias: false)
        for k in 1...3 {
            conv("ResBlock\(k).conv1", 64, 64, 3, bias: false)
            conv("ResBlock\(k).conv2", 64, 130, 3, bias: false)
        }
        for j in 1...4 {
            conv("imagemoudle.wconv\(j)", 128, 64, 3, bias: false)
            conv("imagemoudle.bconv\(j)", 128, 64, 3, bias: false)
        }
        for k in 1...3 { t += [("processmodule.wconv\(k).weight", [64, 1, 512]), ("processmodule.bconv\(k).weight", [64, 1, 512])] }
        conv("irconv", 64, 1, 3)
        conv("viconv", 64, 3, 3)
        for j in 1...4 {
            conv("CBA\(j).mlp.0", 16, 128, 1)
            conv("CBA\(j).mlp.2", 128, 16, 1)
            conv("CBA\(j).convs", 1, 2, 7)
        }
        for (i, s) in [(128, 128), (128, 256), (128, 256), (128, 256), (128, 256), (64, 128), (3, 64)].enumerated() { conv("dconv\(i + 1)", s.0, s.1, 3) }
        return try archive(t, seed: seed, label: "random RFC model.pth (seed \(seed))")
    }
}
