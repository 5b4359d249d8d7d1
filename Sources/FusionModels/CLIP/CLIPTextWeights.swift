import FusionCore
import FusionIO

/// The text tower of a CLIP model, read from any of the layouts users have:
/// OpenAI's state dict (`token_embedding.weight`, `transformer.resblocks.N...`), the same
/// under a prefix (Text-IF keeps it as `model_clip.*`), OpenAI's TorchScript archives (same
/// names), and Hugging Face `CLIPModel` / `CLIPTextModelWithProjection` names
/// (`text_model.encoder.layers.N.self_attn.q_proj...`). Width, depth and context length
/// come from the tensor shapes; the head count is width / 64, as OpenAI's `build_model`
/// derives it.
public struct CLIPTextWeights {
    /// One residual block (shared with the vision tower).
    public typealias Layer = CLIPResidualBlockWeights

    public enum Layout: String { case openAI = "OpenAI", huggingFace = "Hugging Face" }

    public let layout: Layout
    /// The key prefix the tower was found under ("" or "model_clip." ...).
    public let prefix: String
    public let width: Int
    public let heads: Int
    public let contextLength: Int
    public let vocabularySize: Int
    public let embedDimension: Int
    public var tokenEmbedding: Tensor        // [V, W]
    public var positionalEmbedding: Tensor   // [ctx, W]
    public var layers: [Layer]
    public var finalLNWeight: Tensor, finalLNBias: Tensor
    /// [W, E]: features = x @ projection.
    public var projection: Tensor

    /// - Parameter heads: the attention head count; nil derives it as OpenAI does (width / 64).
    public init(_ archive: TensorArchive, heads headCount: Int? = nil) throws {
        if let key = archive.names.first(where: { $0.hasSuffix("token_embedding.weight") && !$0.hasSuffix("embeddings.token_embedding.weight") }) {
            layout = .openAI
            prefix = String(key.dropLast("token_embedding.weight".count))
        } else if let key = archive.names.first(where: { $0.hasSuffix("text_model.embeddings.token_embedding.weight") }) {
            layout = .huggingFace
            prefix = String(key.dropLast("text_model.embeddings.token_embedding.weight".count))
        } else {
            throw FileFormatError(path: archive.path, format: archive.format.rawValue,
                                  "no CLIP text tower: no tensor named 'token_embedding.weight' (OpenAI) or 'text_model.embeddings.token_embedding.weight' (Hugging Face)")
        }
        let r = WeightReader(archive, model: "CLIP text")
        let p = prefix
        switch layout {
        case .openAI:
            tokenEmbedding = try r.tensor(p + "token_embedding.weight")
        case .huggingFace:
            tokenEmbedding = try r.tensor(p + "text_model.embeddings.token_embedding.weight")
        }
        guard tokenEmbedding.shape.count == 2 else {
            throw FileFormatError(path: archive.path, format: archive.format.rawValue, "token embedding has shape \(tokenEmbedding.shape), expected [vocabulary, width]")
        }
        vocabularySize = tokenEmbedding.shape[0]
        let w = tokenEmbedding.shape[1]
        width = w
        if let headCount {
            guard headCount > 0, w % headCount == 0 else {
                throw FileFormatError(path: archive.path, format: archive.format.rawValue, "width \(w) does not split into \(headCount) heads")
            }
            heads = headCount
        } else {
            guard w % 64 == 0 else {
                throw FileFormatError(path: archive.path, format: archive.format.rawValue, "width \(w) is not a multiple of 64 (heads = width / 64); give the head count explicitly (--clip-heads N)")
            }
            heads = w / 64
        }

        let detected = layout
        func layerNames(_ i: Int) -> [String] {
            switch detected {
            case .openAI:
                let b = p + "transformer.resblocks.\(i)."
                return [b + "ln_1", b + "attn", b + "ln_2", b + "mlp.c_fc", b + "mlp.c_proj"]
            case .huggingFace:
                let b = p + "text_model.encoder.layers.\(i)."
                return [b + "layer_norm1", b + "self_attn", b + "layer_norm2", b + "mlp.fc1", b + "mlp.fc2"]
            }
        }
        var count = 0
        while archive.tensor(named: layerNames(count)[0] + ".weight") != nil { count += 1 }
        guard count > 0 else {
            throw FileFormatError(path: archive.path, format: archive.format.rawValue, "no transformer layers found (\(layerNames(0)[0]).weight is missing)")
        }
        var layers: [Layer] = []
        for i in 0..<count {
            let n = layerNames(i)
            let inW: Tensor, inB: Tensor, outW: Tensor, outB: Tensor
            switch detected {
            case .openAI:
                inW = try r.tensor(n[1] + ".in_proj_weight", shape: [3 * w, w])
                inB = try r.tensor(n[1] + ".in_proj_bias", shape: [3 * w])
                outW = try r.tensor(n[1] + ".out_proj.weight", shape: [w, w])
                outB = try r.tensor(n[1] + ".out_proj.bias", shape: [w])
            case .huggingFace:
                let q = try r.floats(n[1] + ".q_proj.weight", shape: [w, w]), k = try r.floats(n[1] + ".k_proj.weight", shape: [w, w])
                let v = try r.floats(n[1] + ".v_proj.weight", shape: [w, w])
                let qb = try r.floats(n[1] + ".q_proj.bias", shape: [w]), kb = try r.floats(n[1] + ".k_proj.bias", shape: [w])
                let vb = try r.floats(n[1] + ".v_proj.bias", shape: [w])
                inW = Tensor(shape: [3 * w, w], floats: q + k + v)
                inB = Tensor(shape: [3 * w], floats: qb + kb + vb)
                outW = try r.tensor(n[1] + ".out_proj.weight", shape: [w, w])
                outB = try r.tensor(n[1] + ".out_proj.bias", shape: [w])
            }
            let fcW = try r.tensor(n[3] + ".weight")
            guard fcW.shape.count == 2, fcW.shape[1] == w else {
                throw FileFormatError(path: archive.path, format: archive.format.rawValue, "tensor '\(n[3]).weight' has shape \(fcW.shape), expected [hidden, \(w)]")
            }
            let hidden = fcW.shape[0]
            layers.append(Layer(
                ln1Weight: try r.tensor(n[0] + ".weight", shape: [w]), ln1Bias: try r.tensor(n[0] + ".bias", shape: [w]),
                inProjWeight: inW, inProjBias: inB, outProjWeight: outW, outProjBias: outB,
                ln2Weight: try r.tensor(n[2] + ".weight", shape: [w]), ln2Bias: try r.tensor(n[2] + ".bias", shape: [w]),
                fcWeight: fcW, fcBias: try r.tensor(n[3] + ".bias", shape: [hidden]),
                projWeight: try r.tensor(n[4] + ".weight", shape: [w, hidden]), projBias: try r.tensor(n[4] + ".bias", shape: [w])))
        }
        self.layers = layers

        switch layout {
        case .openAI:
            positionalEmbedding = try r.tensor(p + "positional_embedding")
            finalLNWeight = try r.tensor(p + "ln_final.weight", shape: [w])
            finalLNBias = try r.tensor(p + "ln_final.bias", shape: [w])
            projection = try r.tensor(p + "text_projection")
            guard projection.shape.count == 2, projection.shape[0] == w else {
                throw FileFormatError(path: archive.path, format: archive.format.rawValue, "text_projection has shape \(projection.shape), expected [\(w), embed]")
            }
        case .huggingFace:
            positionalEmbedding = try r.tensor(p + "text_model.embeddings.position_embedding.weight")
            finalLNWeight = try r.tensor(p + "text_model.final_layer_norm.weight", shape: [w])
            finalLNBias = try r.tensor(p + "text_model.final_layer_norm.bias", shape: [w])
            // nn.Linear(W, E, bias=False): [E, W]; features = x W^T.
            let t = try r.tensor(p + "text_projection.weight")
            guard t.shape.count == 2, t.shape[1] == w else {
                throw FileFormatError(path: archive.path, format: archive.format.rawValue, "text_projection.weight has shape \(t.shape), expected [embed, \(w)]")
            }
            let e = t.shape[0], v = t.floats
            var transposed = [Float](repeating: 0, count: e * w)
            for i in 0..<e { for j in 0..<w { transposed[j * e + i] = v[i * w + j] } }
            projection = Tensor(shape: [w, e], floats: transposed)
        }
        guard positionalEmbedding.shape.count == 2, positionalEmbedding.shape[1] == w else {
            throw FileFormatError(path: archive.path, format: archive.format.rawValue, "positional embedding has shape \(positionalEmbedding.shape), expected [context, \(w)]")
        }
        contextLength = positionalEmbedding.shape[0]
        embedDimension = projection.shape[1]
    }

    /// A tower of the given shape with seeded random weights (benchmarks, tests).
    public init(randomWidth width: Int, layers count: Int, contextLength: Int = 77, vocabularySize: Int = 49408, embedDimension: Int = 512, seed: UInt64 = 1) {
        layout = .openAI
        prefix = ""
        self.width = width
        heads = max(1, width / 64)
        self.contextLength = contextLength
        self.vocabularySize = vocabularySize
        self.embedDimension = embedDimension
        var s = seed
        func random(_ shape: [Int], _ scale: Float) -> Tensor { s &+= 1; return Tensor.random(shape: shape, seed: s, in: -scale...scale) }
        func ones(_ n: Int) -> Tensor { Tensor(shape: [n], floats: [Float](repeating: 1, count: n)) }
        let a = 1 / Float(width).squareRoot()
        tokenEmbedding = random([vocabularySize, width], 0.02)
        positionalEmbedding = random([contextLength, width], 0.01)
        layers = (0..<count).map { _ in
            Layer(ln1Weight: ones(width), ln1Bias: random([width], 0.01),
                  inProjWeight: random([3 * width, width], a), inProjBias: random([3 * width], 0.01),
                  outProjWeight: random([width, width], a), outProjBias: random([width], 0.01),
                  ln2Weight: ones(width), ln2Bias: random([width], 0.01),
                  fcWeight: random([4 * width, width], a), fcBias: random([4 * width], 0.01),
                  projWeight: random([width, 4 * width], a / 2), projBias: random([width], 0.01))
        }
        finalLNWeight = ones(width)
        finalLNBias = random([width], 0.01)
        projection = random([width, embedDimension], a)
    }
}
