import FusionCore
import FusionIO

/// RFC end to end on one backend (`models/rfc.md`): instruction -> CLIP text embeddings and
/// PModule's FiLM vectors -> CLIPSeg on the (IR, visible) pair -> mask branch and fusion
/// network -> RGB (not clamped). For one pair and several prompts the CLIPSeg vision tower
/// runs once, its decoder once per distinct target, and the fusion network once per prompt.
/// Prepared graphs are kept per image size.
public final class RFCModel {
    public let front: RFCFront
    public let fusion: RFCFusionWeights
    public var backend: Backend { front.backend }
    /// How often each stage ran (the sharing between prompts shows here).
    public private(set) var visionRuns = 0, decoderRuns = 0, fusionRuns = 0
    private var executables: [String: Executable] = [:]

    public init(front: RFCFront, fusion: RFCFusionWeights) {
        self.front = front
        self.fusion = fusion
    }

    /// From the three checkpoints: OpenAI CLIP (both towers), CLIPSeg's rd64-uni-refined
    /// decoder and RFC's `model.pth`.
    public convenience init(clip: TensorArchive, clipseg: TensorArchive, rfc: TensorArchive, tokenizer: CLIPTokenizer, backend: Backend) throws {
        self.init(front: try RFCFront(clip: clip, clipseg: clipseg, rfc: rfc, tokenizer: tokenizer, backend: backend),
                  fusion: try RFCFusionWeights(rfc))
    }

    /// What one prompt gives the network: its CLIPSeg path (nil: the "none" target), the
    /// process embedding, and on the text path the target's embedding (one row; both
    /// images use it).
    public struct Condition: Equatable, Sendable {
        public var path: CLIPSegPath?
        public var processEmbedding: [Float]
        public var targetEmbedding: [Float]?

        public init(path: CLIPSegPath?, processEmbedding: [Float], targetEmbedding: [Float]?) {
            self.path = path
            self.processEmbedding = processEmbedding
            self.targetEmbedding = targetEmbedding
        }

        /// As one flat vector (a pipeline's "text features"): [path code (0 none, 1 image,
        /// 2 text), the process embedding, the target embedding or zeros].
        public var vector: [Float] {
            let code: Float = path == nil ? 0 : path == .image ? 1 : 2
            return [code] + processEmbedding + (targetEmbedding ?? [Float](repeating: 0, count: processEmbedding.count))
        }

        /// Values of `vector` for embeddings of `embedDimension`.
        public static func vectorWidth(embedDimension e: Int) -> Int { 1 + 2 * e }

        public init(vector v: [Float], embedDimension e: Int) throws {
            guard v.count == Self.vectorWidth(embedDimension: e), [0, 1, 2].contains(v[0]) else {
                throw FusionError.invalidArgument(op: "rfc", detail: "a prompt's conditioning vector has \(v.count) values (code \(v.first ?? -1)); expected \(Self.vectorWidth(embedDimension: e)): a path code 0/1/2 and two \(e)-d embeddings")
            }
            path = v[0] == 0 ? nil : v[0] == 1 ? .image : .text
            processEmbedding = Array(v[1...e])
            targetEmbedding = path == .text ? Array(v[(1 + e)...]) : nil
        }
    }

    /// The instruction's tokens, embeddings and FiLM vectors (`RFCFront.condition`) and the
    /// `Condition` the network takes.
    public func condition(_ instruction: RFCInstruction) throws -> (conditioning: RFCFront.Conditioning, condition: Condition) {
        let c = try front.condition(instruction)
        let path: CLIPSegPath? = instruction.target == .none ? nil : instruction.target == .image ? .image : .text
        let target = c.targetEmbedding.map { Array($0.toFloatArray().prefix($0.shape[1])) }
        return (c, Condition(path: path, processEmbedding: c.processEmbedding, targetEmbedding: target))
    }

    /// Everything one prompt computed on one pair.
    public struct Result {
        /// [3, 1, C] each.
        public var filmW: Tensor, filmB: Tensor
        /// [2, 3, 352, 352]; nil on the "none" path (CLIPSeg does not run).
        public var clipsegInput: Tensor?
        /// Text path: logits [2, 1, 352, 352]; image path ones, none path zeros [2, 1, H, W].
        public var clipsegOut: Tensor
        /// [2, R, 22, 22].
        public var features: Tensor
        /// [1, 2, H, W].
        public var seg: Tensor
        /// [1, 3, H, W], not clamped.
        public var output: Tensor
        /// With `intermediates`: [1, 66, H, W] and [1, 64, H, W].
        public var mask: Tensor?, resOut: Tensor?
    }

    private func executable(_ key: String, _ build: () throws -> Graph) throws -> Executable {
        if let e = executables[key] { return e }
        let e = try backend.prepare(build())
        executables[key] = e
        return e
    }

    private func output(_ out: [String: Tensor], _ name: String, _ stage: String) throws -> Tensor {
        guard let t = out[name] else { throw FusionError.backend("RFC \(stage): the graph produced no '\(name)'") }
        return t
    }

    /// One pair (`ir` [1,1,H,W], `vis` [1,3,H,W] in [0, 1]) under each condition: one
    /// result per condition, in order.
    public func fuse(ir: Tensor, vis: Tensor, conditions: [Condition], intermediates: Bool = false) throws -> [Result] {
        guard ir.shape.count == 4, ir.shape[0] == 1, ir.shape[1] == 1, ir.shape[2] > 0, ir.shape[3] > 0, vis.shape == [1, 3, ir.shape[2], ir.shape[3]] else {
            throw FusionError.invalidArgument(op: "rfc", detail: "ir \(ir.shape) and vis \(vis.shape) must be [1,1,H,W] and [1,3,H,W] of one size")
        }
        let h = ir.shape[2], w = ir.shape[3]
        let e = front.processModule.embedDimension, r = front.decoder.reduceDimension
        let grid = CLIPSegGraph.inputSize / front.vision.patchSize
        for c in conditions {
            guard c.processEmbedding.count == e, c.targetEmbedding.map({ $0.count == front.decoder.conditionDimension }) ?? (c.path != .text) else {
                throw FusionError.invalidArgument(op: "rfc", detail: "a condition's embeddings do not match the weights (\(e)-d process, \(front.decoder.conditionDimension)-d target on the text path)")
            }
        }
        // The vision tower: once for the pair, when some prompt has a target.
        var vision: [String: Tensor] = [:]
        if conditions.contains(where: { $0.path != nil }) {
            vision = try executable("vision \(h)x\(w)") { try RFCStageGraphs.vision(front.vision, height: h, width: w) }.run(["ir": ir, "vis": vis])
            visionRuns += 1
        }
        // The decoder: once per distinct (path, target embedding).
        struct Seg { var out: Tensor; var features: Tensor; var seg: Tensor }
        var segs: [[Float]: Seg] = [:]
        func segKey(_ c: Condition) -> [Float] { c.path == nil ? [0] : c.path == .image ? [1] : [2] + c.targetEmbedding! }
        for c in conditions where segs[segKey(c)] == nil {
            switch c.path {
            case nil:
                segs[segKey(c)] = Seg(out: Tensor(shape: [2, 1, h, w]), features: Tensor(shape: [2, r, grid, grid]), seg: Tensor(shape: [1, 2, h, w]))
            case .image?:
                let out = try executable("decoder image") { try RFCStageGraphs.decoder(front.vision, front.decoder, path: .image, height: h, width: w) }
                    .run(["tap_9": try output(vision, "tap_9", "vision")])
                decoderRuns += 1
                let ones = [Float](repeating: 1, count: 2 * h * w)
                segs[segKey(c)] = Seg(out: Tensor(shape: [2, 1, h, w], floats: ones), features: try output(out, "clipseg_features", "decoder"),
                                      seg: Tensor(shape: [1, 2, h, w], floats: ones))
            case .text?:
                let row = c.targetEmbedding!
                var inputs = ["condition": Tensor(shape: [2, row.count], floats: row + row)]
                for k in RFCStageGraphs.taps { inputs["tap_\(k)"] = try output(vision, "tap_\(k)", "vision") }
                let out = try executable("decoder text \(h)x\(w)") { try RFCStageGraphs.decoder(front.vision, front.decoder, path: .text, height: h, width: w) }
                    .run(inputs)
                decoderRuns += 1
                segs[segKey(c)] = Seg(out: try output(out, "logits", "decoder"), features: try output(out, "clipseg_features", "decoder"),
                                      seg: try output(out, "seg", "decoder"))
            }
        }
        // PModule and the fusion network: once per prompt.
        let film = try executable("pmodule") { try front.processModule.graph() }
        let network = try executable("fusion \(h)x\(w) \(intermediates)") { try RFCFusionGraph.build(fusion, height: h, width: w, intermediates: intermediates) }
        return try conditions.map { c in
            let f = try film.run(["embedding": Tensor(shape: [1, e], floats: c.processEmbedding)])
            let filmW = try output(f, "film_w", "PModule"), filmB = try output(f, "film_b", "PModule")
            let s = segs[segKey(c)]!
            let out = try network.run(["ir": ir, "vis": vis, "clipseg_features": s.features, "seg": s.seg, "film_w": filmW, "film_b": filmB])
            fusionRuns += 1
            return Result(filmW: filmW, filmB: filmB, clipsegInput: c.path == nil ? nil : vision["clipseg_input"], clipsegOut: s.out,
                          features: s.features, seg: s.seg, output: try output(out, "output", "fusion"),
                          mask: intermediates ? out["mask"] : nil, resOut: intermediates ? out["res_out"] : nil)
        }
    }
}
