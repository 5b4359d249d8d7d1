import FusionCore

/// RFC's mask branch and fusion network (`../shared/models/rfc.md`, sections 5 and 6) as a
/// graph for one H x W, from the CLIPSeg decoder features, the two seg maps and the FiLM
/// vectors: everything after CLIP and CLIPSeg's transformer.
public enum RFCFusionGraph {
    /// The values the network reads.
    public struct Inputs {
        public var ir: Value            // [1, 1, H, W]
        public var vis: Value           // [1, 3, H, W]
        public var features: Value      // clipseg_features [2, 64, 22, 22] (IR, visible)
        public var seg: Value           // [1, 2, H, W] (seg_IR, seg_vis)
        public var filmW: Value         // [3, 1, 64]
        public var filmB: Value         // [3, 1, 64]

        public init(ir: Value, vis: Value, features: Value, seg: Value, filmW: Value, filmB: Value) {
            self.ir = ir; self.vis = vis; self.features = features; self.seg = seg; self.filmW = filmW; self.filmB = filmB
        }
    }

    /// What the network computes: the output and the mask branch's checkpoints.
    public struct Outputs {
        public var output: Value        // [1, 3, H, W], ReLU'd, not clamped
        public var mask: Value          // [1, 66, H, W]
        public var resOut: Value        // m4 [1, 64, H, W]
    }

    /// The LeakyReLU slope used everywhere in RFC.
    public static let leakySlope: Float = 0.01

    /// A graph with inputs `ir`, `vis`, `clipseg_features`, `seg`, `film_w`, `film_b` and
    /// outputs `output` (plus `mask` and `res_out` with `intermediates`).
    public static func build(_ w: RFCFusionWeights, height: Int, width: Int, intermediates: Bool = false) throws -> Graph {
        let g = Graph()
        let inputs = Inputs(ir: g.input("ir", shape: [1, 1, height, width]), vis: g.input("vis", shape: [1, 3, height, width]),
                            features: g.input("clipseg_features", shape: [2, RFCFusionWeights.featureChannels, 22, 22]),
                            seg: g.input("seg", shape: [1, 2, height, width]),
                            filmW: g.input("film_w", shape: [3, 1, 64]), filmB: g.input("film_b", shape: [3, 1, 64]))
        let out = try add(to: g, w, inputs)
        g.output("output", out.output)
        if intermediates {
            g.output("mask", out.mask)
            g.output("res_out", out.resOut)
        }
        return g
    }

    /// Adds the mask branch and the fusion network to `g` (H x W from `inputs.ir`).
    public static func add(to g: Graph, _ w: RFCFusionWeights, _ inputs: Inputs) throws -> Outputs {
        let height = inputs.ir.shape[2], width = inputs.ir.shape[3]
        func conv3(_ x: Value, _ c: RFCFusionWeights.Conv) throws -> Value {
            try g.conv2d(x, weight: g.constant(c.weight), bias: c.bias.map { g.constant($0) }, Conv2DAttributes(padding: 1))
        }
        func conv3(_ x: Value, _ weight: Tensor) throws -> Value { try conv3(x, (weight, nil)) }
        func leaky(_ x: Value) throws -> Value { try g.leakyReLU(x, slope: leakySlope) }
        func upsample4(_ x: Value, _ c: RFCFusionWeights.Conv) throws -> Value {
            try g.convTranspose2d(x, weight: g.constant(c.weight), bias: c.bias.map { g.constant($0) }, .init(stride: 4))
        }

        // 5.1-5.2: upsampling to 352x352, resized to H x W, mask_feature.
        var u = try leaky(conv3(inputs.features, w.upsampling0))
        u = try leaky(upsample4(u, w.upsampling2))
        u = try leaky(upsample4(u, w.upsampling4))
        u = try g.resize(u, mode: .bilinear, height: height, width: width)
        u = try leaky(conv3(u, w.maskFeature0))
        u = try leaky(conv3(u, w.maskFeature2))                                 // [2, 32, H, W]
        // 5.3: IR features, visible features, seg_IR, seg_vis.
        let mask = try g.concat([g.slice(u, axis: 0, start: 0, length: 1), g.slice(u, axis: 0, start: 1, length: 1), inputs.seg], axis: 1)
        // 5.4-5.5: maskconv + tanh, three FiLM ResBlocks.
        var m = try g.tanh(conv3(mask, w.maskConv))
        for (k, block) in w.resBlocks.enumerated() {
            let scale = try g.reshape(g.slice(inputs.filmW, axis: 0, start: k, length: 1), [1, 64, 1, 1])
            let shift = try g.reshape(g.slice(inputs.filmB, axis: 0, start: k, length: 1), [1, 64, 1, 1])
            var f = try leaky(conv3(m, block.conv1))
            f = try g.add(g.mul(f, scale), shift)
            f = try leaky(conv3(g.concat([f, mask], axis: 1), block.conv2))
            m = try g.add(f, m)
        }
        let resOut = m
        // 6: the fusion network, its CBAM blocks modulated by imagemoudle's per-pixel maps.
        let irF = try g.relu(conv3(inputs.ir, w.irConv))
        let viF = try g.relu(conv3(inputs.vis, w.viConv))
        let f1 = try g.concat([irF, viF], axis: 1)
        var skips = [f1]
        var x = f1
        for (j, block) in w.cbam.enumerated() {
            x = try cbam(g, x, block, scale: conv3(resOut, w.imageW[j]), shift: conv3(resOut, w.imageB[j]))
            skips.append(x)                                                     // f2, f3, f4, F
        }
        var d = try g.relu(conv3(x, w.dconv[0]))
        for (i, skip) in [skips[3], skips[2], skips[1], skips[0]].enumerated() {
            d = try g.relu(conv3(g.concat([skip, d], axis: 1), w.dconv[i + 1]))
        }
        d = try g.relu(conv3(d, w.dconv[5]))
        let output = try g.relu(conv3(d, w.dconv[6]))
        return Outputs(output: output, mask: mask, resOut: resOut)
    }

    /// `CBA{j}(x, W_j, B_j)`: channel attention (shared MLP over the global max and mean
    /// pools), spatial attention (7x7 conv over the channel max and mean), then
    /// `z * W + B + z + x`.
    static func cbam(_ g: Graph, _ x: Value, _ w: RFCFusionWeights.CBAM, scale: Value, shift: Value) throws -> Value {
        func conv(_ v: Value, _ c: RFCFusionWeights.Conv, padding: Int = 0) throws -> Value {
            try g.conv2d(v, weight: g.constant(c.weight), bias: c.bias.map { g.constant($0) }, Conv2DAttributes(padding: padding))
        }
        func mlp(_ v: Value) throws -> Value { try conv(g.relu(conv(v, w.mlp0)), w.mlp2) }
        let ca = try g.sigmoid(g.add(mlp(g.globalPool(.max, x)), mlp(g.globalPool(.mean, x))))
        let y = try g.mul(x, ca)
        let pooled = try g.concat([g.channelReduce(.max, y), g.channelReduce(.mean, y)], axis: 1)
        let sa = try g.sigmoid(conv(pooled, w.spatial, padding: 3))
        let z = try g.mul(sa, y)
        return try g.add(g.add(g.add(g.mul(z, scale), shift), z), x)
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
