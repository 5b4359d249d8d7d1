import Foundation
import FusionCore

// Unary activations, broadcast binary ops, FiLM and PReLU.

private let elementChunk = 1 << 15

protocol UnaryFunction {
    func callAsFunction(_ x: Float) -> Float
}
struct ReLUFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? x : (x.isNaN ? x : 0) }
}
struct LeakyReLUFunction: UnaryFunction {
    let slope: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x >= 0 ? x : x * slope }
}
struct GELUFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { 0.5 * x * (1 + Foundation.erf(x * 0.707_106_78)) }
}
struct QuickGELUFunction: UnaryFunction {
    /// Below -52, x sigmoid(1.702 x) is -0 in float32; the select also keeps -1.702 x from
    /// overflowing to inf, which `fastExp` would clamp to a finite value (giving -1.41 at
    /// -3.4e38).
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x <= -52 ? 0 * x : x / (1 + fastExp(-1.702 * x)) }
}
struct TanhFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { Foundation.tanh(x) }
}
struct SigmoidFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }
}
struct AffineFunction: UnaryFunction {
    let scale: Float, shift: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x * scale + shift }
}

/// `out[i] = f(x[i])` over `count` elements in parallel chunks (specialised per function).
private func map<F: UnaryFunction>(_ f: F, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ count: Int, _ ctx: KernelContext) {
    parallelRanges(count, threads: ctx.threads, chunk: elementChunk) { r in
        let src = x + r.lowerBound, dst = out + r.lowerBound
        for i in 0..<r.count { dst[i] = f(src[i]) }
    }
}

func unary(_ kind: UnaryKind, x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count: Int, ctx: KernelContext) {
    switch kind {
    case .relu: map(ReLUFunction(), x, out, count, ctx)
    case let .leakyReLU(slope): map(LeakyReLUFunction(slope: slope), x, out, count, ctx)
    case .gelu: map(GELUFunction(), x, out, count, ctx)
    case .quickGELU: map(QuickGELUFunction(), x, out, count, ctx)
    case .tanh: map(TanhFunction(), x, out, count, ctx)
    case .sigmoid: map(SigmoidFunction(), x, out, count, ctx)
    case let .affine(scale, shift): map(AffineFunction(scale: scale, shift: shift), x, out, count, ctx)
    }
}

protocol BinaryFunction {
    static func apply(_ a: Float, _ b: Float) -> Float
}
enum AddFunction: BinaryFunction { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a + b } }
enum SubFunction: BinaryFunction { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a - b } }
enum MulFunction: BinaryFunction { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a * b } }
enum DivFunction: BinaryFunction { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a / b } }

/// A broadcast iteration space with adjacent compatible dimensions merged.
struct BroadcastLayout {
    /// Sizes and element strides of a and b, outermost first; the last dimension is the
    /// innermost loop.
    var sizes: [Int] = []
    var aStrides: [Int] = []
    var bStrides: [Int] = []

    init(a: [Int], b: [Int], out: [Int]) {
        let sa = broadcastStrides(a, to: out), sb = broadcastStrides(b, to: out)
        for d in out.indices where out[d] != 1 {
            if let last = sizes.indices.last,
               aStrides[last] == sa[d] * out[d], bStrides[last] == sb[d] * out[d] {
                sizes[last] *= out[d]
                aStrides[last] = sa[d]
                bStrides[last] = sb[d]
            } else {
                sizes.append(out[d]); aStrides.append(sa[d]); bStrides.append(sb[d])
            }
        }
        if sizes.isEmpty { sizes = [1]; aStrides = [0]; bStrides = [0] }
    }
}

func binary(_ kind: BinaryKind, a: UnsafePointer<Float>, aShape: [Int], b: UnsafePointer<Float>, bShape: [Int],
            out: UnsafeMutablePointer<Float>, outShape: [Int], ctx: KernelContext) {
    switch kind {
    case .add: binaryLoop(AddFunction.self, a, aShape, b, bShape, out, outShape, ctx)
    case .sub: binaryLoop(SubFunction.self, a, aShape, b, bShape, out, outShape, ctx)
    case .mul: binaryLoop(MulFunction.self, a, aShape, b, bShape, out, outShape, ctx)
    case .div: binaryLoop(DivFunction.self, a, aShape, b, bShape, out, outShape, ctx)
    }
}

private func binaryLoop<F: BinaryFunction>(_: F.Type, _ a: UnsafePointer<Float>, _ aShape: [Int],
                                           _ b: UnsafePointer<Float>, _ bShape: [Int],
                                           _ out: UnsafeMutablePointer<Float>, _ outShape: [Int], _ ctx: KernelContext) {
    let total = outShape.reduce(1, *)
    if total == 0 { return }
    let layout = BroadcastLayout(a: aShape, b: bShape, out: outShape)
    let inner = layout.sizes.last!
    let ia = layout.aStrides.last!, ib = layout.bStrides.last!
    let outerSizes = Array(layout.sizes.dropLast())
    let outerA = Array(layout.aStrides.dropLast()), outerB = Array(layout.bStrides.dropLast())
    let outer = total / inner

    // Splits long inner rows into pieces so a single row still runs in parallel.
    let piece = min(inner, elementChunk)
    let pieces = (inner + piece - 1) / piece
    parallelFor(outer * pieces, threads: ctx.threads, grain: max(1, elementChunk / piece)) { t in
        let row = t / pieces, s = (t % pieces) * piece
        let len = min(piece, inner - s)
        var rem = row, oa = 0, ob = 0
        for d in stride(from: outerSizes.count - 1, through: 0, by: -1) {
            let i = rem % outerSizes[d]
            rem /= outerSizes[d]
            oa += i * outerA[d]
            ob += i * outerB[d]
        }
        let pa = a + oa + s * ia, pb = b + ob + s * ib, po = out + row * inner + s
        switch (ia, ib) {
        case (1, 1): for i in 0..<len { po[i] = F.apply(pa[i], pb[i]) }
        case (1, 0): let v = pb[0]; for i in 0..<len { po[i] = F.apply(pa[i], v) }
        case (0, 1): let v = pa[0]; for i in 0..<len { po[i] = F.apply(v, pb[i]) }
        default: for i in 0..<len { po[i] = F.apply(pa[i &* ia], pb[i &* ib]) }
        }
    }
}

/// FiLM: `(1 + gamma[n, c]) * x + beta[n, c]` on [N,C,H,W].
func film(x: UnsafePointer<Float>, shape: [Int], gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
          out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let planes = shape[0] * shape[1], plane = shape[2] * shape[3]
    perPlane(planes: planes, plane: plane, ctx: ctx) { p, r in
        let g = 1 + gamma[p], b = beta[p]
        for i in r { out[i] = g * x[i] + b }
    }
}

/// PReLU with one slope per channel (or one shared slope).
func prelu(x: UnsafePointer<Float>, shape: [Int], slope: UnsafePointer<Float>, slopeCount: Int,
           out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let c = shape[1]
    let planes = shape[0] * c, plane = shape.dropFirst(2).reduce(1, *)
    perPlane(planes: planes, plane: plane, ctx: ctx) { p, r in
        let s = slopeCount == 1 ? slope[0] : slope[p % c]
        for i in r { out[i] = x[i] >= 0 ? x[i] : s * x[i] }
    }
}

/// Calls `body(plane, flat range)` over planes of `plane` elements, splitting long planes.
@inline(__always)
func perPlane(planes: Int, plane: Int, ctx: KernelContext, _ body: (Int, Range<Int>) -> Void) {
    if planes * plane == 0 { return }
    let piece = min(plane, elementChunk)
    let pieces = (plane + piece - 1) / piece
    parallelFor(planes * pieces, threads: ctx.threads, grain: max(1, elementChunk / piece)) { t in
        let p = t / pieces, s = (t % pieces) * piece
        let start = p * plane + s
        body(p, start..<(start + min(piece, plane - s)))
    }
}
