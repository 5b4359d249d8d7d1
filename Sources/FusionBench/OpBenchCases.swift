import FusionCore

/// The kernels the fusion networks spend their time in, at the shapes they run them:
/// Text-IF's levels (48, 96, 192, 384 channels at 1/1, 1/2, 1/4, 1/8 of the image) and
/// TextFusion's 24-channel streams.
public enum OpBenchCases {
    /// Names of every op case, for `--op` and error messages.
    public static let families = ["conv3x3", "dwconv3x3", "conv1x1", "textfusion-dwconv5x5", "channel-attention",
                                  "spatial-attention", "window-attention", "film", "layernorm", "gemm"]

    /// Every op case for an image of `height` x `width` whose family is in `families`
    /// (all when nil). The size must be a multiple of 8.
    public static func cases(height: Int, width: Int, families selected: Set<String>? = nil) throws -> [BenchCase] {
        guard height % 8 == 0, width % 8 == 0 else {
            throw FusionError.invalidArgument(op: "bench", detail: "size \(height)x\(width): ops are benchmarked at Text-IF's scales, which need multiples of 8")
        }
        func wanted(_ family: String) -> Bool { selected?.contains(family) ?? true }
        var cases: [BenchCase] = []
        var seed: UInt64 = 10
        func weight(_ shape: [Int]) -> Tensor {
            seed += 1
            return Tensor.random(shape: shape, seed: seed, in: -0.1...0.1)
        }
        func shapeText(_ s: [Int]) -> String { s.map(String.init).joined(separator: "x") }

        for scale in [1, 2, 4, 8] {
            let c = 48 * scale, h = height / scale, w = width / scale
            let x = [1, c, h, w]
            let at = "1/\(scale)"
            if wanted("conv3x3") {
                let g = Graph()
                g.output("y", try g.conv2d(g.input("x", shape: x), weight: g.constant(weight([c, c, 3, 3])), Conv2DAttributes(padding: 1)))
                cases.append(BenchCase(name: "conv2d 3x3 \(c)->\(c) \(at)", kind: .op, size: shapeText(x), graph: g))
            }
            if wanted("dwconv3x3") {
                let g = Graph()
                g.output("y", try g.conv2d(g.input("x", shape: x), weight: g.constant(weight([c, 1, 3, 3])), Conv2DAttributes(padding: 1, groups: c)))
                cases.append(BenchCase(name: "conv2d depthwise 3x3 \(c) \(at)", kind: .op, size: shapeText(x), graph: g))
            }
            if wanted("conv1x1") {
                let g = Graph()
                g.output("y", try g.conv2d(g.input("x", shape: x), weight: g.constant(weight([2 * c, c, 1, 1]))))
                cases.append(BenchCase(name: "conv2d 1x1 \(c)->\(2 * c) \(at)", kind: .op, size: shapeText(x), graph: g))
            }
            if wanted("channel-attention") {
                let g = Graph()
                let q = g.input("q", shape: x), k = g.input("k", shape: x), v = g.input("v", shape: x)
                g.output("y", try g.channelAttention(q: q, k: k, v: v, temperature: g.constant(Tensor.random(shape: [scale], seed: 3, in: 0.5...1.5)), heads: scale))
                cases.append(BenchCase(name: "channel attention \(c) ch \(scale) heads \(at)", kind: .op, size: shapeText(x), graph: g))
            }
        }
        if wanted("textfusion-dwconv5x5") {
            let x = [1, 24, height, width]
            let g = Graph()
            g.output("y", try g.conv2d(g.input("x", shape: x), weight: g.constant(weight([24, 1, 5, 5])), bias: g.constant(weight([24])),
                                       Conv2DAttributes(padding: 2, groups: 24, paddingMode: .reflect)))
            cases.append(BenchCase(name: "conv2d depthwise 5x5 reflect 24 (TextFusion)", kind: .op, size: shapeText(x), graph: g))
        }
        if wanted("spatial-attention") {
            let n = (height / 8) * (width / 8), d = 384
            let g = Graph()
            let q = g.input("q", shape: [1, 1, n, d]), k = g.input("k", shape: [1, 1, n, d]), v = g.input("v", shape: [1, 1, n, d])
            g.output("y", try g.attention(q: q, k: k, v: v, scale: 1 / Float(d).squareRoot()))
            cases.append(BenchCase(name: "spatial attention N=\(n) d=\(d) (Text-IF 1/8)", kind: .op, size: shapeText([1, 1, n, d]), graph: g))
        }
        if wanted("window-attention") {
            let x = [1, 24, height, width]
            let g = Graph()
            let q = g.input("q", shape: x), k = g.input("k", shape: x), v = g.input("v", shape: x)
            g.output("y", try g.windowAttention(q: q, k: k, v: v, bias: g.constant(weight([2, 64, 64])), heads: 2, window: 8,
                                                scale: 1 / Float(12).squareRoot()))
            cases.append(BenchCase(name: "window attention 24 ch 2 heads 8x8 (TextFusion)", kind: .op, size: shapeText(x), graph: g))
        }
        if wanted("film") {
            let x = [1, 48, height, width]
            let g = Graph()
            g.output("y", try g.film(g.input("x", shape: x), gamma: g.input("gamma", shape: [1, 48]), beta: g.input("beta", shape: [1, 48])))
            cases.append(BenchCase(name: "FiLM (1+gamma)x+beta 48 ch", kind: .op, size: shapeText(x), graph: g))
        }
        if wanted("layernorm") {
            let x = [1, 48, height, width]
            let g = Graph()
            g.output("y", try g.layerNormChannels(g.input("x", shape: x), weight: g.constant(weight([48])), bias: g.constant(weight([48]))))
            cases.append(BenchCase(name: "LayerNorm over channels 48 ch", kind: .op, size: shapeText(x), graph: g))
        }
        if wanted("gemm") {
            let g = Graph()
            g.output("y", try g.matmul(g.input("a", shape: [1024, 1024]), g.input("b", shape: [1024, 1024])))
            cases.append(BenchCase(name: "GEMM 1024x1024x1024", kind: .op, size: "1024x1024x1024", graph: g))
        }
        return cases
    }
}
