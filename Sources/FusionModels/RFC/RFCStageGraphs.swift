import FusionCore

/// RFC split into the graphs whose work one image pair shares between prompts
/// (`models/rfc.md` sections 4-6): the CLIPSeg vision tower (once per pair), the CLIPSeg
/// decoder (once per distinct target) and the mask branch with the fusion network (once per
/// prompt); and the whole network as one graph (`bench`, `profile`, `parity`).
public enum RFCStageGraphs {
    /// The vision tower blocks CLIPSeg's decoder reads (`extract_layers`).
    public static let taps = [3, 6, 9]

    /// Inputs `ir` [1,1,H,W], `vis` [1,3,H,W] -> `clipseg_input` [2,3,352,352] and `tap_3`,
    /// `tap_6`, `tap_9` [2, 485, W] (row 0 IR, row 1 visible).
    public static func vision(_ v: CLIPVisionWeights, height: Int, width: Int) throws -> Graph {
        let g = Graph()
        let ir = g.input("ir", shape: [1, 1, height, width]), vis = g.input("vis", shape: [1, 3, height, width])
        let input = try g.scope("clipseg.preprocess") { try CLIPSegGraph.preprocess(g, ir: ir, vis: vis, size: CLIPSegGraph.inputSize) }
        g.output("clipseg_input", input)
        for (k, tap) in zip(taps, try CLIPVisionGraph.tokenOutputs(g, input, v, taps: taps)) { g.output("tap_\(k)", tap) }
        return g
    }

    /// The decoder on the vision taps. Text path: inputs `tap_3`, `tap_6`, `tap_9` and
    /// `condition` [2, 512] -> `clipseg_features` [2, R, 22, 22], `logits` [2, 1, 352, 352]
    /// and `seg` [1, 2, H, W] (sigmoid, bilinear to H x W). Image path: input `tap_9` ->
    /// `clipseg_features` (`reduces[0]` alone; the seg maps are ones).
    public static func decoder(_ v: CLIPVisionWeights, _ d: CLIPSegDecoderWeights, path: CLIPSegPath, height: Int, width: Int) throws -> Graph {
        let g = Graph()
        let grid = CLIPSegGraph.inputSize / v.patchSize, tokens = 1 + grid * grid
        switch path {
        case .image:
            let tap = g.input("tap_9", shape: [2, tokens, v.width])
            let features = try g.scope("clipseg.decoder") { try CLIPSegDecoder.features(g, taps: [tap], condition: nil, d, gridHeight: grid, gridWidth: grid) }
            g.output("clipseg_features", features)
        case .text:
            let inputs = taps.map { g.input("tap_\($0)", shape: [2, tokens, v.width]) }
            let condition = g.input("condition", shape: [2, d.conditionDimension])
            let seg = try textHead(g, taps: inputs, condition: condition, v, d, height: height, width: width)
            g.output("clipseg_features", seg.features)
            g.output("logits", seg.logits)
            g.output("seg", seg.seg)
        }
        return g
    }

    /// The text path's decoder, `trans_conv` head and seg maps inside `g`.
    static func textHead(_ g: Graph, taps: [Value], condition: Value, _ v: CLIPVisionWeights, _ d: CLIPSegDecoderWeights,
                         height: Int, width: Int) throws -> (features: Value, logits: Value, seg: Value) {
        let grid = CLIPSegGraph.inputSize / v.patchSize
        let features = try g.scope("clipseg.decoder") { try CLIPSegDecoder.features(g, taps: taps, condition: condition, d, gridHeight: grid, gridWidth: grid) }
        let logits = try g.scope("clipseg.trans_conv") { try CLIPSegDecoder.logits(g, features: features, d) }
        return (features, logits, try CLIPSegTransConv.seg(g, logits: logits, height: height, width: width))
    }

    /// The whole network on the text path (the costliest): inputs `ir`, `vis`, `condition`
    /// [2, 512] (the target's embedding per image), `film_w`, `film_b` [3, 1, 64] -> `output`
    /// [1, 3, H, W]. The text tower and PModule (a few small GEMMs per prompt) are left out.
    public static func whole(_ v: CLIPVisionWeights, _ d: CLIPSegDecoderWeights, _ f: RFCFusionWeights, height: Int, width: Int) throws -> Graph {
        let g = Graph()
        let ir = g.input("ir", shape: [1, 1, height, width]), vis = g.input("vis", shape: [1, 3, height, width])
        let condition = g.input("condition", shape: [2, d.conditionDimension])
        let filmW = g.input("film_w", shape: [3, 1, 64]), filmB = g.input("film_b", shape: [3, 1, 64])
        let input = try g.scope("clipseg.preprocess") { try CLIPSegGraph.preprocess(g, ir: ir, vis: vis, size: CLIPSegGraph.inputSize) }
        let tapValues = try CLIPVisionGraph.tokenOutputs(g, input, v, taps: taps)
        let head = try textHead(g, taps: tapValues, condition: condition, v, d, height: height, width: width)
        let out = try RFCFusionGraph.add(to: g, f, .init(ir: ir, vis: vis, features: head.features, seg: head.seg, filmW: filmW, filmB: filmB))
        g.output("output", out.output)
        return g
    }
}
