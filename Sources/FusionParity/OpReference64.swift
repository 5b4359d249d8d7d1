import FusionCore

/// The output of an op case computed in float64 from the case's inputs, and how close an
/// fp32 backend must come to it.
public struct OpReference64 {
    /// What each element's error is measured against.
    public enum Scale: Sendable {
        /// max(1, max |expected|) over the whole output: the form of the family tolerances.
        case largestOutput
        /// max(1, |expected|) of the same element.
        case output
        /// max(1, |x|) of the same element of the first input (GELU's `x * Phi(x)` carries
        /// Phi's error times x).
        case input
        /// max(floor, |expected|) of the same element: outputs much smaller than 1 (softmax
        /// over long rows), where an absolute bound would be weak.
        case relative(floor: Double)
    }

    /// Allowed max |output - expected| / scale.
    public let tolerance: Double
    public let scale: Scale
    private let compute: ([String: Tensor]) -> Float64Tensor

    public init(tolerance: Double, scale: Scale = .largestOutput, expected: @escaping ([String: Tensor]) -> Float64Tensor) {
        self.tolerance = tolerance
        self.scale = scale
        self.compute = expected
    }

    /// The output `y` of `graph`, evaluated in float64 by `GraphReference64`.
    public init(graph: Graph, tolerance: Double, scale: Scale = .largestOutput) {
        self.init(tolerance: tolerance, scale: scale) { inputs in
            guard let y = GraphReference64.evaluate(graph, inputs: inputs)["y"] else { preconditionFailure("the case's graph has no output 'y'") }
            return y
        }
    }

    /// The expected output for `inputs` (computed on each call: compute it once per run).
    public func expected(_ inputs: [String: Tensor]) -> Float64Tensor { compute(inputs) }

    /// The worst element of `output` against `expected` (an infinite error when the shape is
    /// wrong or an element is NaN or infinite where float64's is not).
    public func compare(_ output: Tensor, with expected: Float64Tensor, inputs: [String: Tensor]) -> Reference64Error {
        guard output.shape == expected.shape, output.dtype == .f32 || output.dtype == .i32 else {
            return Reference64Error(scaled: .infinity, index: 0, got: .nan, want: .nan)
        }
        let got = Float64Tensor(output).data, want = expected.data
        let first = inputs["x0"].flatMap { $0.dtype == .f32 && $0.count == want.count ? $0.floats : nil }
        let largest = max(1, want.reduce(0) { max($0, abs($1)) })
        var worst = Reference64Error(scaled: 0, index: 0, got: got.first ?? 0, want: want.first ?? 0)
        for i in 0..<want.count {
            let base: Double
            switch scale {
            case .largestOutput: base = largest
            case .output: base = max(1, abs(want[i]))
            case .input: base = max(1, abs(Double(first?[i] ?? 0)))
            case let .relative(floor): base = max(floor, abs(want[i]))
            }
            let e = abs(got[i] - want[i]) / base
            // `!(e <= worst)` also catches NaN; an infinity that matches is no error.
            if got[i] != want[i], !(e <= worst.scaled) {
                worst = Reference64Error(scaled: e.isNaN ? .infinity : e, index: i, got: got[i], want: want[i])
            }
        }
        return worst
    }
}

/// The worst element of a backend's output against the float64 reference.
public struct Reference64Error: CustomStringConvertible {
    /// |got - want| / scale.
    public let scaled: Double
    /// Flat index of the element.
    public let index: Int
    public let got: Double
    public let want: Double

    public var description: String { String(format: "%.2e (element %d: %.9g vs float64 %.9g)", scaled, index, got, want) }
}

/// How a catalogue case is held to float64 when it is added (test cases only: see
/// `OpCaseBuilder.attachesReference64`).
enum Reference64Bound {
    /// The family's float64 tolerance (`OpFamily.reference64Tolerance`).
    case family
    /// A bound of its own, e.g. a few ulp of each element for the pointwise extremes.
    case custom(tolerance: Double, scale: OpReference64.Scale)
    /// No float64 check, for the reason given (plain float64 loops that would take minutes).
    case none(because: String)
}
