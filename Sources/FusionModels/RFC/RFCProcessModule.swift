import FusionCore
import FusionIO

/// RFC's `PModule` (`processmodule.{w,b}conv{1,2,3}`): six `Conv1d(1, C, kernel 512,
/// bias=False)` on the process embedding [1, 1, 512], i.e. bias-free Linear 512 -> C with
/// weight `W[:, 0, :]`. They give the ResBlocks' FiLM vectors `film_w[k] = wconv_k(e)` and
/// `film_b[k] = bconv_k(e)` (k = 1...3), each [1, C]. Read from `model.pth`
/// (`{'model_state_dict': ...}`) or any archive holding the keys under a prefix.
public struct RFCProcessModule {
    public let channels: Int
    public let embedDimension: Int
    /// `wconv1..3` stacked: [3C, E]; `bconv1..3` stacked: [3C, E].
    public var scaleWeight: Tensor, shiftWeight: Tensor

    public init(_ archive: TensorArchive) throws {
        let key = "processmodule.wconv1.weight"
        guard let p = archive.keyPrefix(anchoredAt: key) else {
            throw FileFormatError(path: archive.path, format: archive.format.rawValue,
                                  "RFC weights: tensor '\(key)' (or 'model_state_dict.\(key)') is missing: not an RFC model.pth")
        }
        let r = WeightReader(archive, model: "RFC")
        let first = try r.tensor(p + key)
        guard first.shape.count == 3, first.shape[1] == 1, first.shape[0] > 0, first.shape[2] > 0 else {
            throw FileFormatError(path: archive.path, format: archive.format.rawValue, "RFC weights: '\(p + key)' has shape \(first.shape), expected [C, 1, 512]")
        }
        channels = first.shape[0]
        embedDimension = first.shape[2]
        func stack(_ kind: String) throws -> Tensor {
            let rows = try (1...3).flatMap { try r.floats(p + "processmodule.\(kind)conv\($0).weight", shape: [first.shape[0], 1, first.shape[2]]) }
            return Tensor(shape: [3 * first.shape[0], first.shape[2]], floats: rows)
        }
        scaleWeight = try stack("w")
        shiftWeight = try stack("b")
    }

    /// Graph: input `embedding` [1, E] -> outputs `film_w`, `film_b` [3, 1, C].
    public func graph() throws -> Graph {
        let g = Graph()
        let e = g.input("embedding", shape: [1, embedDimension])
        for (name, weight) in [("film_w", scaleWeight), ("film_b", shiftWeight)] {
            let y = try g.linear(e, weight: g.constant(weight, name: name + ".weight"))
            g.output(name, try g.reshape(y, [3, 1, channels]))
        }
        return g
    }
}
