import FusionCore

// Unary activations, broadcast binary ops, FiLM and PReLU (Shaders/elementwise.comp).
// One thread per output element. Tensors larger than one storage-buffer binding are
// processed in flat ranges: same-shape operands are bound range by range, broadcast
// operands (and FiLM's gamma/beta, PReLU's slope) are bound whole.

extension EncodeContext {
    func encodeUnary(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .unary(kind) = node.op else { return }
        let x = inputs[0]
        try lightCheck([x, output])
        var p0: Float = 0, p1: Float = 0
        let op: Int
        switch kind {
        case .relu: op = 0
        case let .leakyReLU(slope): op = 1; p0 = slope
        case .gelu: op = 2
        case .quickGELU: op = 3
        case .tanh: op = 4
        case .sigmoid: op = 5
        case let .affine(scale, shift): op = 6; p0 = scale; p1 = shift
        }
        for r in lightRanges(output.count, maxItems: lightMaxElements) {
            let (xb, xOff) = try lightBind(x, .read, elements: r)
            let (yb, yOff) = try lightBind(output, .write, elements: r)
            var args = ShaderArguments()
            args.int(r.count); args.int(xOff); args.int(yOff); args.float(p0); args.float(p1)
            try lightDispatch("elementwise.comp", defines: [("UNARY_OP", "\(op)")], bindings: [xb, yb],
                              arguments: args, items: r.count)
        }
    }

    func encodeBinary(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .binary(kind) = node.op else { return }
        let a = inputs[0], b = inputs[1]
        try lightCheck([a, b, output])
        let op: Int
        switch kind {
        case .add: op = 0
        case .sub: op = 1
        case .mul: op = 2
        case .div: op = 3
        }
        let total = output.count
        guard total > 0 else { return }
        // An operand with as many elements as the output is the output's shape up to
        // leading ones: it is indexed (and can be bound) by the same flat range.
        let aFlat = a.count == total, bFlat = b.count == total
        let broadcast = !(aFlat && bFlat)
        let layout = LightBroadcastLayout(out: output.shape, a: a.shape, b: b.shape)
        let aWhole = aFlat ? nil : try lightBindWhole(a, .read)
        let bWhole = bFlat ? nil : try lightBindWhole(b, .read)
        for r in lightRanges(total, maxItems: lightMaxElements) {
            let (ab, aOff): (BufferBinding, Int)
            if let w = aWhole {
                (ab, aOff) = w
            } else {
                let (bind, off) = try lightBind(a, .read, elements: r)
                (ab, aOff) = (bind, broadcast ? off - r.lowerBound : off)
            }
            let (bb, bOff): (BufferBinding, Int)
            if let w = bWhole {
                (bb, bOff) = w
            } else {
                let (bind, off) = try lightBind(b, .read, elements: r)
                (bb, bOff) = (bind, broadcast ? off - r.lowerBound : off)
            }
            let (yb, yOff) = try lightBind(output, .write, elements: r)
            var args = ShaderArguments()
            args.int(r.count); args.int(r.lowerBound); args.int(aOff); args.int(bOff); args.int(yOff)
            args.ints(Array(layout.dims[1...]))
            args.ints(layout.aStrides)
            args.ints(layout.bStrides)
            try lightDispatch("elementwise.comp", defines: [("BINARY_OP", "\(op)"), ("BROADCAST", broadcast ? "1" : "0")],
                              bindings: [ab, bb, yb], arguments: args, items: r.count)
        }
    }

    func encodeFilm(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        let x = inputs[0], gamma = inputs[1], beta = inputs[2]
        try lightCheck([x, gamma, beta, output])
        let plane = x.shape[2] * x.shape[3]
        guard output.count > 0, plane > 0 else { return }
        let (gb, gOff) = try lightBindWhole(gamma, .read)
        let (bb, bOff) = try lightBindWhole(beta, .read)
        for r in lightRanges(output.count, maxItems: lightMaxElements) {
            let (xb, xOff) = try lightBind(x, .read, elements: r)
            let (yb, yOff) = try lightBind(output, .write, elements: r)
            var args = ShaderArguments()
            args.ints([r.count, r.lowerBound, plane, xOff, gOff, bOff, yOff])
            try lightDispatch("elementwise.comp", defines: [("FILM", "1")], bindings: [xb, gb, bb, yb],
                              arguments: args, items: r.count)
        }
    }

    func encodePrelu(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        let x = inputs[0], slope = inputs[1]
        try lightCheck([x, slope, output])
        let inner = x.shape.dropFirst(2).reduce(1, *)
        guard output.count > 0, inner > 0 else { return }
        let (sb, sOff) = try lightBindWhole(slope, .read)
        for r in lightRanges(output.count, maxItems: lightMaxElements) {
            let (xb, xOff) = try lightBind(x, .read, elements: r)
            let (yb, yOff) = try lightBind(output, .write, elements: r)
            var args = ShaderArguments()
            args.ints([r.count, r.lowerBound, inner, max(slope.count, 1), xOff, sOff, yOff])
            try lightDispatch("elementwise.comp", defines: [("PRELU", "1")], bindings: [xb, sb, yb],
                              arguments: args, items: r.count)
        }
    }
}

/// The output's iteration space for a broadcast binary op as 4 dims (outermost first),
/// with each operand's element stride per dim (0 where it is broadcast). Adjacent dims
/// that both operands walk contiguously are merged to save index math.
struct LightBroadcastLayout {
    var dims: [Int] = []
    var aStrides: [Int] = []
    var bStrides: [Int] = []

    init(out: [Int], a: [Int], b: [Int]) {
        func strides(_ s: [Int]) -> [Int] {
            let padded = Array(repeating: 1, count: out.count - s.count) + s
            let contiguous = contiguousStrides(padded)
            return padded.indices.map { padded[$0] == 1 ? 0 : contiguous[$0] }
        }
        let sa = strides(a), sb = strides(b)
        for d in out.indices where out[d] != 1 {
            if let last = dims.indices.last,
               aStrides[last] == sa[d] * out[d], bStrides[last] == sb[d] * out[d] {
                dims[last] *= out[d]
                aStrides[last] = sa[d]
                bStrides[last] = sb[d]
            } else {
                dims.append(out[d]); aStrides.append(sa[d]); bStrides.append(sb[d])
            }
        }
        // Ranks up to 4 never merge into more than 4 dims; pad to exactly 4.
        while dims.count < 4 {
            dims.insert(1, at: 0); aStrides.insert(0, at: 0); bStrides.insert(0, at: 0)
        }
    }
}
