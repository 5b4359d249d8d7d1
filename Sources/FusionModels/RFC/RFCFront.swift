import FusionCore
import FusionIO

/// The front half of RFC on one backend (`models/rfc.md` sections 2-4): the instruction's
/// text embeddings and FiLM vectors, and CLIPSeg's 22x22 features of the (IR, visible)
/// pair. Prepared graphs are kept per image size and CLIPSeg path.
public final class RFCFront {
    public let text: CLIPTextEncoder
    public let tokenizer: CLIPTokenizer
    public let vision: CLIPVisionWeights
    public let decoder: CLIPSegDecoderWeights
    public let processModule: RFCProcessModule
    public let backend: Backend
    private var processExecutable: Executable?
    private var clipsegExecutables: [String: Executable] = [:]

    /// - Parameters: `clip` an OpenAI CLIP state dict with both towers (ViT-B/16), `clipseg`
    ///   the rd64-uni-refined decoder, `rfc` RFC's `model.pth`; `visionHeads` / `textHeads`
    ///   override OpenAI's width / 64.
    public convenience init(clip: TensorArchive, clipseg: TensorArchive, rfc: TensorArchive, tokenizer: CLIPTokenizer, backend: Backend,
                            visionHeads: Int? = nil, textHeads: Int? = nil) throws {
        let text = try CLIPTextWeights(clip, heads: textHeads)
        let processModule = try RFCProcessModule(rfc)
        let decoder = try CLIPSegDecoderWeights(clipseg)
        guard text.embedDimension == processModule.embedDimension, text.embedDimension == decoder.conditionDimension else {
            throw FileFormatError(path: clip.path, format: clip.format.rawValue,
                                  "CLIP embeds to \(text.embedDimension), RFC's PModule reads \(processModule.embedDimension) (\(rfc.path)) and CLIPSeg's FiLM \(decoder.conditionDimension) (\(clipseg.path))")
        }
        try self.init(text: text, vision: CLIPVisionWeights(clip, heads: visionHeads), decoder: decoder, processModule: processModule,
                      tokenizer: tokenizer, backend: backend)
    }

    /// From weights already read (their sizes must agree: checked by the archive initialiser).
    public init(text: CLIPTextWeights, vision: CLIPVisionWeights, decoder: CLIPSegDecoderWeights, processModule: RFCProcessModule,
                tokenizer: CLIPTokenizer, backend: Backend) {
        self.text = CLIPTextEncoder(weights: text, backend: backend)
        self.vision = vision
        self.decoder = decoder
        self.processModule = processModule
        self.tokenizer = tokenizer
        self.backend = backend
    }

    /// What the instruction contributes: the process phrase's tokens and embedding, the
    /// ResBlocks' FiLM vectors, and on the text path the target's tokens and embedding
    /// (two equal rows, one per image).
    public struct Conditioning {
        public var processTokens: [Int32]
        public var processEmbedding: [Float]
        /// [3, 1, C] each.
        public var filmW: Tensor, filmB: Tensor
        public var targetTokens: [[Int32]]?
        /// [2, 512] on the text path.
        public var targetEmbedding: Tensor?
    }

    /// `clip.tokenize` (no truncation: an over-long phrase is an error) and `encode_text`.
    public func condition(_ instruction: RFCInstruction) throws -> Conditioning {
        let context = text.weights.contextLength
        let processTokens = try tokenizer.tokenize(instruction.process, contextLength: context, truncate: false)
        let embedding = try text.encode(tokens: [processTokens])[0]
        if processExecutable == nil { processExecutable = try backend.prepare(processModule.graph()) }
        let film = try processExecutable!.run(["embedding": Tensor(shape: [1, embedding.count], floats: embedding)])
        guard let filmW = film["film_w"], let filmB = film["film_b"] else { throw FusionError.backend("RFC PModule: the graph produced no output") }
        var result = Conditioning(processTokens: processTokens, processEmbedding: embedding, filmW: filmW, filmB: filmB)
        if case let .text(target) = instruction.target {
            let tokens = try tokenizer.tokenize(target, contextLength: context, truncate: false)
            let rows = [tokens, tokens]
            result.targetTokens = rows
            let e = try text.encode(tokens: rows)
            result.targetEmbedding = Tensor(shape: [2, e[0].count], floats: e[0] + e[1])
        }
        return result
    }

    /// CLIPSeg's input [2, 3, 352, 352] and features [2, R, 22, 22]; nil input and zero
    /// features for the "none" target (CLIPSeg does not run).
    public func clipseg(ir: Tensor, vis: Tensor, conditioning: Conditioning, target: RFCTarget) throws -> (input: Tensor?, features: Tensor) {
        let grid = CLIPSegGraph.inputSize / vision.patchSize
        let path: CLIPSegPath
        switch target {
        case .none: return (nil, Tensor(shape: [2, decoder.reduceDimension, grid, grid]))
        case .image: path = .image
        case .text: path = .text
        }
        guard ir.shape.count == 4, ir.shape[0] == 1, ir.shape[1] == 1, vis.shape == [1, 3, ir.shape[2], ir.shape[3]] else {
            throw FusionError.invalidArgument(op: "RFC", detail: "ir \(ir.shape) and vis \(vis.shape) must be [1,1,H,W] and [1,3,H,W]")
        }
        let h = ir.shape[2], w = ir.shape[3]
        let key = "\(h)x\(w) \(path.rawValue)"
        let executable: Executable
        if let e = clipsegExecutables[key] { executable = e } else {
            executable = try backend.prepare(CLIPSegGraph.build(vision: vision, decoder: decoder, height: h, width: w, path: path))
            clipsegExecutables[key] = executable
        }
        var inputs = ["ir": ir, "vis": vis]
        if path == .text {
            guard let e = conditioning.targetEmbedding else { throw FusionError.invalidArgument(op: "RFC", detail: "the text path needs the target embedding") }
            inputs["condition"] = e
        }
        let out = try executable.run(inputs)
        guard let input = out["clipseg_input"], let features = out["clipseg_features"] else {
            throw FusionError.backend("RFC CLIPSeg: the graph produced no output")
        }
        return (input, features)
    }
}
