/// Output shape and dtype of each op, with every operand check in one place.
public enum ShapeInference {
    public typealias Operand = (shape: [Int], dtype: DType)

    public static func infer(_ op: Op, _ inputs: [Operand]) throws -> ([Int], DType) {
        let name = op.name
        func fail(_ detail: String) -> FusionError { .shapeMismatch(op: name, detail: detail) }
        func bad(_ detail: String) -> FusionError { .invalidArgument(op: name, detail: detail) }
        func arity(_ allowed: ClosedRange<Int>) throws {
            guard allowed.contains(inputs.count) else {
                throw bad("expects \(allowed.lowerBound == allowed.upperBound ? "\(allowed.lowerBound)" : "\(allowed.lowerBound)-\(allowed.upperBound)") inputs, got \(inputs.count)")
            }
        }
        func float(_ i: Int) throws {
            guard inputs[i].dtype == .f32 else { throw fail("input \(i) must be f32, is \(inputs[i].dtype)") }
        }
        func rank(_ i: Int, _ r: Int) throws {
            guard inputs[i].shape.count == r else { throw fail("input \(i) must have rank \(r), has shape \(inputs[i].shape)") }
        }
        func vector(_ i: Int, _ n: Int, _ what: String) throws {
            guard inputs[i].shape == [n] else { throw fail("\(what) must have shape [\(n)], has \(inputs[i].shape)") }
        }
        for i in inputs.indices where inputs[i].shape.contains(where: { $0 < 0 }) {
            throw fail("input \(i) has a negative dimension: \(inputs[i].shape)")
        }
        switch op {
        case .embedding, .reshape, .permute: break
        default: for i in inputs.indices { try float(i) }
        }
        let x = inputs.first?.shape ?? []

        switch op {
        case let .conv2d(a):
            try arity(2...3); try rank(0, 4); try rank(1, 4)
            let w = inputs[1].shape
            guard a.groups >= 1, a.stride.0 >= 1, a.stride.1 >= 1, a.dilation.0 >= 1, a.dilation.1 >= 1 else {
                throw bad("stride, dilation and groups must be >= 1 (stride \(a.stride), dilation \(a.dilation), groups \(a.groups))")
            }
            guard [a.padding.0, a.padding.1, a.padding.2, a.padding.3].allSatisfy({ $0 >= 0 }) else {
                throw bad("negative padding \(a.padding)")
            }
            guard x[1] % a.groups == 0, w[0] % a.groups == 0 else {
                throw fail("channels \(x[1]) in and \(w[0]) out must both divide by groups \(a.groups)")
            }
            guard w[1] == x[1] / a.groups else {
                throw fail("weight \(w) expects \(w[1] * a.groups) input channels, input \(x) has \(x[1])")
            }
            if inputs.count == 3 { try vector(2, w[0], "bias") }
            if a.paddingMode == .reflect {
                guard a.padding.0 < x[2], a.padding.1 < x[2], a.padding.2 < x[3], a.padding.3 < x[3] else {
                    throw bad("reflect padding \(a.padding) must be smaller than the input size \(x[2])x\(x[3])")
                }
            }
            let eh = (w[2] - 1) * a.dilation.0 + 1, ew = (w[3] - 1) * a.dilation.1 + 1
            let ph = x[2] + a.padding.0 + a.padding.1, pw = x[3] + a.padding.2 + a.padding.3
            guard ph >= eh, pw >= ew else {
                throw fail("kernel \(w[2])x\(w[3]) (dilated \(eh)x\(ew)) larger than padded input \(ph)x\(pw)")
            }
            return ([x[0], w[0], (ph - eh) / a.stride.0 + 1, (pw - ew) / a.stride.1 + 1], .f32)

        case let .convTranspose2d(a):
            try arity(2...3); try rank(0, 4); try rank(1, 4)
            let w = inputs[1].shape
            guard a.groups >= 1, a.stride.0 >= 1, a.stride.1 >= 1 else {
                throw bad("stride and groups must be >= 1 (stride \(a.stride), groups \(a.groups))")
            }
            guard a.padding.0 >= 0, a.padding.1 >= 0, a.outputPadding.0 >= 0, a.outputPadding.1 >= 0 else {
                throw bad("negative padding \(a.padding) or output padding \(a.outputPadding)")
            }
            guard a.outputPadding.0 < a.stride.0, a.outputPadding.1 < a.stride.1 else {
                throw bad("output padding \(a.outputPadding) must be smaller than the stride \(a.stride)")
            }
            guard w[0] == x[1] else { throw fail("weight \(w) expects \(w[0]) input channels, input \(x) has \(x[1])") }
            guard x[1] % a.groups == 0 else { throw fail("\(x[1]) input channels do not divide by groups \(a.groups)") }
            guard w[2] >= 1, w[3] >= 1 else { throw fail("empty kernel \(w)") }
            let o = w[1] * a.groups
            if inputs.count == 3 { try vector(2, o, "bias") }
            guard x[2] >= 1, x[3] >= 1 else { throw fail("empty input \(x)") }
            let ho = (x[2] - 1) * a.stride.0 - 2 * a.padding.0 + w[2] + a.outputPadding.0
            let wo = (x[3] - 1) * a.stride.1 - 2 * a.padding.1 + w[3] + a.outputPadding.1
            guard ho >= 1, wo >= 1 else {
                throw fail("padding \(a.padding) leaves no output for input \(x) and kernel \(w[2])x\(w[3])")
            }
            return ([x[0], o, ho, wo], .f32)

        case let .pointwiseDepthwise(normEps, a):
            let normed = normEps != nil
            try arity(normed ? 5...5 : 3...3); try rank(0, 4)
            let pw = inputs[normed ? 3 : 1].shape, dw = inputs[normed ? 4 : 2].shape
            if let normEps {
                guard normEps >= 0 else { throw bad("eps must be >= 0") }
                try vector(1, x[1], "norm weight"); try vector(2, x[1], "norm bias")
            }
            guard pw.count == 4, pw[1] == x[1], pw[2] == 1, pw[3] == 1 else {
                throw fail("pointwise weight \(pw) must be [M, \(x[1]), 1, 1]")
            }
            guard dw.count == 4, dw[0] == pw[0], dw[1] == 1, dw[2] >= 1, dw[3] >= 1 else {
                throw fail("depthwise weight \(dw) must be [\(pw[0]), 1, kh, kw]")
            }
            guard a.groups == pw[0], a.stride == (1, 1), a.dilation == (1, 1), a.paddingMode == .zero else {
                throw bad("the depthwise conv must have groups \(pw[0]), stride 1, dilation 1 and zero padding")
            }
            guard [a.padding.0, a.padding.1, a.padding.2, a.padding.3].allSatisfy({ $0 >= 0 }) else {
                throw bad("negative padding \(a.padding)")
            }
            let ph = x[2] + a.padding.0 + a.padding.1, pwid = x[3] + a.padding.2 + a.padding.3
            guard ph >= dw[2], pwid >= dw[3] else {
                throw fail("kernel \(dw[2])x\(dw[3]) larger than padded input \(ph)x\(pwid)")
            }
            return ([x[0], pw[0], ph - dw[2] + 1, pwid - dw[3] + 1], .f32)

        case let .matmul(ta, tb, _):
            try arity(2...2)
            let a = inputs[0].shape, b = inputs[1].shape
            guard a.count >= 2, b.count >= 2 else { throw fail("operands need rank >= 2, got \(a) and \(b)") }
            let (m, k1) = ta ? (a[a.count - 1], a[a.count - 2]) : (a[a.count - 2], a[a.count - 1])
            let (k2, n) = tb ? (b[b.count - 1], b[b.count - 2]) : (b[b.count - 2], b[b.count - 1])
            guard k1 == k2 else { throw fail("inner dimensions differ: \(a)\(ta ? "^T" : "") x \(b)\(tb ? "^T" : "")") }
            let batch = try broadcast(Array(a.dropLast(2)), Array(b.dropLast(2)), op: name)
            return (batch + [m, n], .f32)

        case .linear:
            try arity(2...3)
            guard x.count >= 1 else { throw fail("input must have rank >= 1") }
            try rank(1, 2)
            let w = inputs[1].shape
            guard x.last == w[1] else { throw fail("input \(x) has \(x.last ?? 0) features, weight \(w) expects \(w[1])") }
            if inputs.count == 3 { try vector(2, w[0], "bias") }
            return (Array(x.dropLast()) + [w[0]], .f32)

        case let .layerNormChannels(eps), let .globalNorm(eps):
            try arity(2...3); try rank(0, 4)
            guard eps >= 0 else { throw bad("eps must be >= 0") }
            try vector(1, x[1], "weight")
            if inputs.count == 3 { try vector(2, x[1], "bias") }
            if case .globalNorm = op, inputs.count != 3 { throw bad("needs weight and bias") }
            return (x, .f32)

        case let .layerNorm(eps):
            try arity(2...3)
            guard eps >= 0 else { throw bad("eps must be >= 0") }
            guard let c = x.last else { throw fail("input must have rank >= 1") }
            try vector(1, c, "weight")
            if inputs.count == 3 { try vector(2, c, "bias") }
            return (x, .f32)

        case let .groupNorm(groups, eps):
            try arity(3...3)
            guard x.count >= 2 else { throw fail("input must be [N,C,...], got \(x)") }
            guard groups >= 1, x[1] % groups == 0 else { throw bad("\(x[1]) channels do not divide into \(groups) groups") }
            guard eps >= 0 else { throw bad("eps must be >= 0") }
            try vector(1, x[1], "weight"); try vector(2, x[1], "bias")
            return (x, .f32)

        case let .globalStats(eps):
            try arity(1...1)
            guard x.count >= 1 else { throw fail("input must have rank >= 1") }
            guard eps >= 0 else { throw bad("eps must be >= 0") }
            return ([x[0], 2], .f32)

        case .globalPool, .channelReduce:
            try arity(1...1); try rank(0, 4)
            guard x[2] >= 1, x[3] >= 1, x[1] >= 1 else { throw fail("empty input \(x): nothing to reduce") }
            if case .globalPool = op { return ([x[0], x[1], 1, 1], .f32) }
            return ([x[0], 1, x[2], x[3]], .f32)

        case .softmax:
            try arity(1...1)
            guard x.count >= 1 else { throw fail("input must have rank >= 1") }
            return (x, .f32)

        case .unary:
            try arity(1...1)
            return (x, .f32)

        case .binary:
            try arity(2...2)
            guard inputs[0].shape.count <= 4, inputs[1].shape.count <= 4 else {
                throw fail("broadcasting supports rank <= 4, got \(inputs[0].shape) and \(inputs[1].shape)")
            }
            return (try broadcast(inputs[0].shape, inputs[1].shape, op: name), .f32)

        case .film:
            try arity(3...3); try rank(0, 4)
            guard inputs[1].shape == [x[0], x[1]], inputs[2].shape == [x[0], x[1]] else {
                throw fail("gamma \(inputs[1].shape) and beta \(inputs[2].shape) must be [\(x[0]), \(x[1])] for input \(x)")
            }
            return (x, .f32)

        case .prelu:
            try arity(2...2)
            guard x.count >= 2 else { throw fail("input must be [N,C,...], got \(x)") }
            guard inputs[1].shape == [x[1]] || inputs[1].shape == [1] else {
                throw fail("slope must be [\(x[1])] or [1], has \(inputs[1].shape)")
            }
            return (x, .f32)

        case let .pixelShuffle(r):
            try arity(1...1); try rank(0, 4)
            guard r >= 1 else { throw bad("factor must be >= 1") }
            guard x[1] % (r * r) == 0 else { throw fail("\(x[1]) channels not divisible by \(r * r)") }
            return ([x[0], x[1] / (r * r), x[2] * r, x[3] * r], .f32)

        case let .pixelUnshuffle(r):
            try arity(1...1); try rank(0, 4)
            guard r >= 1 else { throw bad("factor must be >= 1") }
            guard x[2] % r == 0, x[3] % r == 0 else { throw fail("size \(x[2])x\(x[3]) not divisible by \(r)") }
            return ([x[0], x[1] * r * r, x[2] / r, x[3] / r], .f32)

        case let .concat(axis):
            guard !inputs.isEmpty else { throw bad("needs at least one input") }
            guard axis >= 0, axis < x.count else { throw bad("axis \(axis) out of range for rank \(x.count)") }
            var out = x
            for (i, s) in inputs.enumerated().dropFirst() {
                guard s.shape.count == x.count,
                      zip(s.shape, x).enumerated().allSatisfy({ $0.offset == axis || $0.element.0 == $0.element.1 }) else {
                    throw fail("input \(i) shape \(s.shape) does not match \(x) outside axis \(axis)")
                }
                out[axis] += s.shape[axis]
            }
            return (out, .f32)

        case let .slice(axis, start, length):
            try arity(1...1)
            guard axis >= 0, axis < x.count else { throw bad("axis \(axis) out of range for rank \(x.count)") }
            guard start >= 0, length >= 0, start + length <= x[axis] else {
                throw bad("range \(start)..<\(start + length) outside 0..<\(x[axis]) on axis \(axis)")
            }
            var out = x
            out[axis] = length
            return (out, .f32)

        case let .pad(t, b, l, r, mode):
            try arity(1...1); try rank(0, 4)
            guard t >= 0, b >= 0, l >= 0, r >= 0 else { throw bad("negative padding") }
            if mode == .reflect {
                guard t < x[2], b < x[2], l < x[3], r < x[3] else {
                    throw bad("reflect padding (\(t),\(b),\(l),\(r)) must be smaller than the input size \(x[2])x\(x[3])")
                }
            }
            return ([x[0], x[1], x[2] + t + b, x[3] + l + r], .f32)

        case let .crop(y, x0, h, w):
            try arity(1...1); try rank(0, 4)
            guard y >= 0, x0 >= 0, h >= 0, w >= 0, y + h <= x[2], x0 + w <= x[3] else {
                throw bad("crop (y \(y), x \(x0), \(h)x\(w)) outside \(x[2])x\(x[3])")
            }
            return ([x[0], x[1], h, w], .f32)

        case .embedding:
            try arity(2...2)
            guard inputs[0].dtype == .i32 else { throw fail("ids must be i32, are \(inputs[0].dtype)") }
            guard inputs[1].dtype == .f32 else { throw fail("table must be f32") }
            try rank(1, 2)
            return (x + [inputs[1].shape[1]], .f32)

        case let .channelAttention(heads):
            try arity(4...4); try rank(0, 4)
            guard inputs[1].shape == x, inputs[2].shape == x else {
                throw fail("q \(x), k \(inputs[1].shape) and v \(inputs[2].shape) must have the same shape")
            }
            guard heads >= 1, x[1] % heads == 0 else { throw bad("\(x[1]) channels do not divide into \(heads) heads") }
            try vector(3, heads, "temperature")
            return (x, .f32)

        case .attention:
            try arity(3...4); try rank(0, 4); try rank(1, 4); try rank(2, 4)
            let k = inputs[1].shape, v = inputs[2].shape
            guard k[0] == x[0], k[1] == x[1], k[3] == x[3] else { throw fail("q \(x) and k \(k) disagree") }
            guard v[0] == x[0], v[1] == x[1], v[2] == k[2] else { throw fail("k \(k) and v \(v) disagree") }
            if inputs.count == 4 {
                let bias = inputs[3].shape
                guard bias.count <= 4 else { throw fail("bias must have rank <= 4, has \(bias)") }
                let target = [x[0], x[1], x[2], k[2]]
                let padded = Array(repeating: 1, count: 4 - bias.count) + bias
                guard zip(padded, target).allSatisfy({ $0 == $1 || $0 == 1 }) else {
                    throw fail("bias \(bias) does not broadcast to \(target)")
                }
            }
            return ([x[0], x[1], x[2], v[3]], .f32)

        case let .windowAttention(heads, window, _):
            try arity(4...4); try rank(0, 4); try rank(2, 4)
            let v = inputs[2].shape
            guard inputs[1].shape == x else { throw fail("q \(x) and k \(inputs[1].shape) differ") }
            guard v[0] == x[0], v[2] == x[2], v[3] == x[3] else { throw fail("v \(v) does not match q \(x)") }
            guard window >= 1, x[2] % window == 0, x[3] % window == 0 else {
                throw bad("size \(x[2])x\(x[3]) is not a multiple of the window \(window)")
            }
            guard heads >= 1, x[1] % heads == 0, v[1] % heads == 0 else {
                throw bad("channels q \(x[1]) / v \(v[1]) do not divide into \(heads) heads")
            }
            let t = window * window
            guard inputs[3].shape == [heads, t, t] else { throw fail("bias must be [\(heads), \(t), \(t)], is \(inputs[3].shape)") }
            return ([x[0], v[1], x[2], x[3]], .f32)

        case let .resize(_, h, w):
            try arity(1...1); try rank(0, 4)
            guard h >= 1, w >= 1 else { throw bad("output size \(h)x\(w) must be positive") }
            guard x[2] >= 1, x[3] >= 1 else { throw fail("empty input \(x)") }
            return ([x[0], x[1], h, w], .f32)

        case let .reshape(shape):
            try arity(1...1)
            guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == x.reduce(1, *) else {
                throw fail("cannot reshape \(x) to \(shape)")
            }
            return (shape, inputs[0].dtype)

        case let .permute(perm):
            try arity(1...1)
            guard perm.count == x.count, Set(perm) == Set(0..<x.count) else {
                throw bad("\(perm) is not a permutation of rank \(x.count)")
            }
            guard x.count <= 6 else { throw fail("permute supports rank <= 6") }
            return (perm.map { x[$0] }, inputs[0].dtype)
        }
    }

    /// NumPy broadcasting of two shapes.
    public static func broadcast(_ a: [Int], _ b: [Int], op: String) throws -> [Int] {
        let r = max(a.count, b.count)
        let pa = Array(repeating: 1, count: r - a.count) + a
        let pb = Array(repeating: 1, count: r - b.count) + b
        return try zip(pa, pb).map { x, y in
            if x == y || y == 1 { return x }
            if x == 1 { return y }
            throw FusionError.shapeMismatch(op: op, detail: "shapes \(a) and \(b) do not broadcast")
        }
    }
}
