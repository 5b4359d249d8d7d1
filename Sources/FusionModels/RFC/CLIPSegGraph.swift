import FusionCore

/// Which CLIPSeg decoder path RFC takes for a target (`models/rfc.md` section 4): a text
/// query (FiLM by the target's CLIP embedding, three transformer blocks), or the whole
/// image (`reduces[0]` of block 9's tokens only). The "none" target runs no CLIPSeg.
public enum CLIPSegPath: String, Sendable {
    case text, image
}

/// RFC's CLIPSeg stage on an (IR, visible) pair as one graph: the pre-processing
/// (`Pre_trained.clipseg_preprocess`), the CLIP vision tower and the decoder up to its
/// 22x22 features.
///
/// Inputs: `ir` [1,1,H,W], `vis` [1,3,H,W] in [0, 1]; on the text path also `condition`
/// [2, 512], the target's CLIP text embedding for each image. Outputs: `clipseg_input`
/// [2,3,S,S] (S = 352: IR repeated to 3 channels, then ImageNet-normalised, then resized
/// with antialiased bilinear, as torchvision's `Resize` on tensors) and `clipseg_features`
/// [2, R, S/P, S/P] (row 0 IR, row 1 visible).
public enum CLIPSegGraph {
    /// CLIPSeg's input side (352 in RFC).
    public static let inputSize = 352
    public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imageNetStd: [Float] = [0.229, 0.224, 0.225]

    public static func build(vision: CLIPVisionWeights, decoder: CLIPSegDecoderWeights, height: Int, width: Int,
                             path: CLIPSegPath, extractLayers: [Int] = [3, 6, 9], size: Int = inputSize) throws -> Graph {
        guard vision.width == decoder.visionWidth else {
            throw FusionError.invalidArgument(op: "CLIPSeg", detail: "the decoder's reduces read width \(decoder.visionWidth), the vision tower has width \(vision.width) (\(decoder.path))")
        }
        guard extractLayers.count == decoder.reduces.count else {
            throw FusionError.invalidArgument(op: "CLIPSeg", detail: "\(extractLayers.count) extract layers for \(decoder.reduces.count) reduces (\(decoder.path))")
        }
        let g = Graph()
        let ir = g.input("ir", shape: [1, 1, height, width])
        let vis = g.input("vis", shape: [1, 3, height, width])
        let condition = path == .text ? g.input("condition", shape: [2, decoder.conditionDimension]) : nil
        let input = try g.scope("clipseg.preprocess") { try preprocess(g, ir: ir, vis: vis, size: size) }
        g.output("clipseg_input", input)
        let taps = try CLIPVisionGraph.tokenOutputs(g, input, vision, taps: extractLayers)
        let features = try g.scope("clipseg.decoder") {
            try CLIPSegDecoder.features(g, taps: taps, condition: condition, decoder, gridHeight: size / vision.patchSize, gridWidth: size / vision.patchSize)
        }
        g.output("clipseg_features", features)
        return g
    }

    /// `stack([Normalize(ir.repeat(3,1,1)), Normalize(vis)])` resized to size x size:
    /// normalisation first (`sub` then `div`, as `Normalize`), then the antialiased bilinear.
    public static func preprocess(_ g: Graph, ir: Value, vis: Value, size: Int) throws -> Value {
        let pair = try g.concat([g.concat([ir, ir, ir], axis: 1), vis], axis: 0)
        let mean = g.constant(Tensor(shape: [1, 3, 1, 1], floats: imageNetMean), name: "imagenet_mean")
        let std = g.constant(Tensor(shape: [1, 3, 1, 1], floats: imageNetStd), name: "imagenet_std")
        let normalised = try g.div(g.sub(pair, mean), std)
        return try g.resize(normalised, mode: .bilinearAntialias, height: size, width: size)
    }
}
