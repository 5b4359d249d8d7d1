/// Typed builder methods: one per op, so model code reads like the published network.
extension Graph {
    public func conv2d(_ x: Value, weight: Value, bias: Value? = nil, _ attributes: Conv2DAttributes = .init(), name: String? = nil) throws -> Value {
        try add(.conv2d(attributes), [x, weight] + (bias.map { [$0] } ?? []), name: name)
    }

    /// PyTorch `ConvTranspose2d`: weight [Cin, Cout/groups, kh, kw], optional bias [Cout].
    public func convTranspose2d(_ x: Value, weight: Value, bias: Value? = nil, _ attributes: ConvTranspose2DAttributes,
                                name: String? = nil) throws -> Value {
        try add(.convTranspose2d(attributes), [x, weight] + (bias.map { [$0] } ?? []), name: name)
    }

    /// Global max or average pooling per channel: [N,C,H,W] -> [N,C,1,1].
    public func globalPool(_ kind: PoolKind, _ x: Value, name: String? = nil) throws -> Value {
        try add(.globalPool(kind), [x], name: name)
    }

    /// Max or mean over the channels of each pixel: [N,C,H,W] -> [N,1,H,W].
    public func channelReduce(_ kind: PoolKind, _ x: Value, name: String? = nil) throws -> Value {
        try add(.channelReduce(kind), [x], name: name)
    }

    /// `conv2d(conv2d(layerNormChannels(x), pointwise), depthwise)` as one node (`norm` nil:
    /// no LayerNorm); see `Op.pointwiseDepthwise`.
    public func pointwiseDepthwise(_ x: Value, norm: (weight: Value, bias: Value, eps: Float)? = nil, pointwise: Value,
                                   depthwise: Value, _ attributes: Conv2DAttributes, name: String? = nil) throws -> Value {
        let normInputs = norm.map { [$0.weight, $0.bias] } ?? []
        return try add(.pointwiseDepthwise(normEps: norm?.eps, depthwise: attributes), [x] + normInputs + [pointwise, depthwise], name: name)
    }

    public func matmul(_ a: Value, _ b: Value, transposeA: Bool = false, transposeB: Bool = false, alpha: Float = 1, name: String? = nil) throws -> Value {
        try add(.matmul(transposeA: transposeA, transposeB: transposeB, alpha: alpha), [a, b], name: name)
    }

    public func linear(_ x: Value, weight: Value, bias: Value? = nil, name: String? = nil) throws -> Value {
        try add(.linear, [x, weight] + (bias.map { [$0] } ?? []), name: name)
    }

    public func layerNormChannels(_ x: Value, weight: Value, bias: Value? = nil, eps: Float = 1e-5, name: String? = nil) throws -> Value {
        try add(.layerNormChannels(eps: eps), [x, weight] + (bias.map { [$0] } ?? []), name: name)
    }

    public func layerNorm(_ x: Value, weight: Value, bias: Value? = nil, eps: Float = 1e-5, name: String? = nil) throws -> Value {
        try add(.layerNorm(eps: eps), [x, weight] + (bias.map { [$0] } ?? []), name: name)
    }

    public func groupNorm(_ x: Value, groups: Int, weight: Value, bias: Value, eps: Float = 1e-5, name: String? = nil) throws -> Value {
        try add(.groupNorm(groups: groups, eps: eps), [x, weight, bias], name: name)
    }

    public func globalNorm(_ x: Value, weight: Value, bias: Value, eps: Float = 1e-5, name: String? = nil) throws -> Value {
        try add(.globalNorm(eps: eps), [x, weight, bias], name: name)
    }

    public func globalStats(_ x: Value, eps: Float = 1e-5, name: String? = nil) throws -> Value {
        try add(.globalStats(eps: eps), [x], name: name)
    }

    public func softmax(_ x: Value, name: String? = nil) throws -> Value {
        try add(.softmax, [x], name: name)
    }

    public func unary(_ kind: UnaryKind, _ x: Value, name: String? = nil) throws -> Value {
        try add(.unary(kind), [x], name: name)
    }

    public func relu(_ x: Value) throws -> Value { try unary(.relu, x) }
    public func gelu(_ x: Value) throws -> Value { try unary(.gelu, x) }
    public func quickGELU(_ x: Value) throws -> Value { try unary(.quickGELU, x) }
    public func tanh(_ x: Value) throws -> Value { try unary(.tanh, x) }
    public func sigmoid(_ x: Value) throws -> Value { try unary(.sigmoid, x) }
    public func leakyReLU(_ x: Value, slope: Float = 0.01) throws -> Value { try unary(.leakyReLU(slope: slope), x) }
    public func scale(_ x: Value, by s: Float, shift: Float = 0) throws -> Value { try unary(.affine(scale: s, shift: shift), x) }

    public func binary(_ kind: BinaryKind, _ a: Value, _ b: Value, name: String? = nil) throws -> Value {
        try add(.binary(kind), [a, b], name: name)
    }

    public func add(_ a: Value, _ b: Value) throws -> Value { try binary(.add, a, b) }
    public func sub(_ a: Value, _ b: Value) throws -> Value { try binary(.sub, a, b) }
    public func mul(_ a: Value, _ b: Value) throws -> Value { try binary(.mul, a, b) }
    public func div(_ a: Value, _ b: Value) throws -> Value { try binary(.div, a, b) }

    public func film(_ x: Value, gamma: Value, beta: Value, name: String? = nil) throws -> Value {
        try add(.film, [x, gamma, beta], name: name)
    }

    public func prelu(_ x: Value, slope: Value, name: String? = nil) throws -> Value {
        try add(.prelu, [x, slope], name: name)
    }

    public func pixelShuffle(_ x: Value, factor: Int) throws -> Value { try add(.pixelShuffle(factor: factor), [x]) }
    public func pixelUnshuffle(_ x: Value, factor: Int) throws -> Value { try add(.pixelUnshuffle(factor: factor), [x]) }

    public func concat(_ xs: [Value], axis: Int = 1, name: String? = nil) throws -> Value {
        try add(.concat(axis: axis), xs, name: name)
    }

    public func slice(_ x: Value, axis: Int = 1, start: Int, length: Int, name: String? = nil) throws -> Value {
        try add(.slice(axis: axis, start: start, length: length), [x], name: name)
    }

    public func pad(_ x: Value, top: Int, bottom: Int, left: Int, right: Int, mode: PaddingMode, name: String? = nil) throws -> Value {
        try add(.pad(top: top, bottom: bottom, left: left, right: right, mode: mode), [x], name: name)
    }

    public func crop(_ x: Value, y: Int, x x0: Int, height: Int, width: Int, name: String? = nil) throws -> Value {
        try add(.crop(y: y, x: x0, height: height, width: width), [x], name: name)
    }

    public func embedding(_ ids: Value, table: Value, name: String? = nil) throws -> Value {
        try add(.embedding, [ids, table], name: name)
    }

    public func channelAttention(q: Value, k: Value, v: Value, temperature: Value, heads: Int, name: String? = nil) throws -> Value {
        try add(.channelAttention(heads: heads), [q, k, v, temperature], name: name)
    }

    public func attention(q: Value, k: Value, v: Value, bias: Value? = nil, scale: Float, causal: Bool = false, name: String? = nil) throws -> Value {
        try add(.attention(scale: scale, causal: causal), [q, k, v] + (bias.map { [$0] } ?? []), name: name)
    }

    public func windowAttention(q: Value, k: Value, v: Value, bias: Value, heads: Int, window: Int, scale: Float, name: String? = nil) throws -> Value {
        try add(.windowAttention(heads: heads, window: window, scale: scale), [q, k, v, bias], name: name)
    }

    public func resize(_ x: Value, mode: ResizeMode, height: Int, width: Int, name: String? = nil) throws -> Value {
        try add(.resize(mode: mode, height: height, width: width), [x], name: name)
    }

    public func reshape(_ x: Value, _ shape: [Int]) throws -> Value { try add(.reshape(shape: shape), [x]) }
    public func permute(_ x: Value, _ perm: [Int]) throws -> Value { try add(.permute(perm), [x]) }
}
