import FusionCore
import FusionIO

/// The vision tower (ViT) of an OpenAI CLIP state dict: `visual.conv1.weight` [W,3,P,P]
/// (no bias), `visual.class_embedding` [W], `visual.positional_embedding` [1+G*G, W],
/// `visual.ln_pre.*`, `visual.transformer.resblocks.N.*`, `visual.ln_post.*`, `visual.proj`
/// [W, E], possibly under a prefix. Width, patch size, grid, depth and embedding size come
/// from the shapes (f16 weights widen to f32 exactly). The head count is not stored:
/// OpenAI's `build_model` sets `vision_heads = vision_width // 64` (ViT-B/16: 768 -> 12;
/// RFC's tiny golden towers: 128 -> 2, 192 -> 3), which is the default here; `heads`
/// overrides it for towers built otherwise.
public struct CLIPVisionWeights {
    public let prefix: String
    public let width: Int
    public let heads: Int
    public let patchSize: Int
    /// Side of the positional grid the tower was trained at (224 / 16 = 14).
    public let grid: Int
    public let embedDimension: Int
    public var patchWeight: Tensor              // [W, 3, P, P]
    public var classEmbedding: Tensor           // [W]
    public var positionalEmbedding: Tensor      // [1 + grid*grid, W]
    public var lnPreWeight: Tensor, lnPreBias: Tensor
    public var layers: [CLIPResidualBlockWeights]

    public var imageResolution: Int { grid * patchSize }

    /// - Parameter heads: the attention head count; nil derives it as OpenAI's
    ///   `build_model` does (width / 64).
    public init(_ archive: TensorArchive, heads headCount: Int? = nil) throws {
        let key = "visual.conv1.weight"
        guard let p = archive.keyPrefix(anchoredAt: key) else {
            throw FileFormatError(path: archive.path, format: archive.format.rawValue,
                                  "no CLIP vision tower: no tensor named '\(key)' (an OpenAI CLIP state dict with its visual part is needed)")
        }
        prefix = p
        let r = WeightReader(archive, model: "CLIP vision")
        func fail(_ message: String) -> FileFormatError {
            FileFormatError(path: archive.path, format: archive.format.rawValue, "CLIP vision weights: \(message)")
        }
        patchWeight = try r.tensor(p + key)
        let s = patchWeight.shape
        guard s.count == 4, s[1] == 3, s[2] == s[3], s[2] > 0 else {
            throw fail("tensor '\(p + key)' has shape \(s), expected [width, 3, patch, patch]")
        }
        let w = s[0]
        width = w
        patchSize = s[2]
        if let headCount {
            guard headCount > 0, w % headCount == 0 else { throw fail("width \(w) does not split into \(headCount) heads") }
            heads = headCount
        } else {
            guard w % 64 == 0 else {
                throw fail("width \(w) is not a multiple of 64 (OpenAI's build_model sets heads = width // 64); give the head count explicitly")
            }
            heads = w / 64
        }
        classEmbedding = try r.tensor(p + "visual.class_embedding", shape: [w])
        positionalEmbedding = try r.tensor(p + "visual.positional_embedding")
        let positions = positionalEmbedding.shape
        let g = Int(Double(max(positions.first ?? 1, 1) - 1).squareRoot().rounded())
        guard positions.count == 2, positions[1] == w, g > 0, positions[0] == 1 + g * g else {
            throw fail("tensor '\(p)visual.positional_embedding' has shape \(positions), expected [1 + grid^2, \(w)]")
        }
        grid = g
        lnPreWeight = try r.tensor(p + "visual.ln_pre.weight", shape: [w])
        lnPreBias = try r.tensor(p + "visual.ln_pre.bias", shape: [w])
        var layers: [CLIPResidualBlockWeights] = []
        while archive.tensor(named: p + "visual.transformer.resblocks.\(layers.count).ln_1.weight") != nil {
            layers.append(try CLIPResidualBlockWeights(openAI: r, p + "visual.transformer.resblocks.\(layers.count)", width: w))
        }
        guard !layers.isEmpty else { throw fail("no transformer blocks ('\(p)visual.transformer.resblocks.0.ln_1.weight' is missing)") }
        self.layers = layers
        guard let projection = archive.tensor(named: p + "visual.proj") else { throw fail("tensor '\(p)visual.proj' is missing") }
        guard projection.shape.count == 2, projection.shape[0] == w else {
            throw fail("tensor '\(p)visual.proj' has shape \(projection.shape), expected [\(w), embed]")
        }
        embedDimension = projection.shape[1]
    }

    /// A tower of the given shape with seeded random weights (benchmarks, tests); ViT-B/16
    /// is width 768, 12 layers, patch 16, grid 14.
    public init(randomWidth width: Int, layers count: Int, patchSize: Int = 16, grid: Int = 14, embedDimension: Int = 512, seed: UInt64 = 1) {
        prefix = ""
        self.width = width
        heads = max(1, width / 64)
        self.patchSize = patchSize
        self.grid = grid
        self.embedDimension = embedDimension
        var s = seed
        func random(_ shape: [Int], _ scale: Float) -> Tensor { s &+= 1; return Tensor.random(shape: shape, seed: s, in: -scale...scale) }
        func ones(_ n: Int) -> Tensor { Tensor(shape: [n], floats: [Float](repeating: 1, count: n)) }
        let a = 1 / Float(width).squareRoot()
        patchWeight = random([width, 3, patchSize, patchSize], 1 / Float(3 * patchSize * patchSize).squareRoot())
        classEmbedding = random([width], a)
        positionalEmbedding = random([1 + grid * grid, width], a)
        lnPreWeight = ones(width)
        lnPreBias = random([width], 0.01)
        layers = (0..<count).map { _ in
            CLIPResidualBlockWeights(ln1Weight: ones(width), ln1Bias: random([width], 0.01),
                                     inProjWeight: random([3 * width, width], a), inProjBias: random([3 * width], 0.01),
                                     outProjWeight: random([width, width], a), outProjBias: random([width], 0.01),
                                     ln2Weight: ones(width), ln2Bias: random([width], 0.01),
                                     fcWeight: random([4 * width, width], a), fcBias: random([4 * width], 0.01),
                                     projWeight: random([width, 4 * width], a / 2), projBias: random([width], 0.01))
        }
    }
}
