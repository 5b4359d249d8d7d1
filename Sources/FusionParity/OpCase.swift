import FusionCore

/// One case of the op catalogue: a graph (one op, plus the constants it reads) with its
/// inputs, the tolerance it is compared under and, where one exists, its float64 reference.
public struct OpCase {
    /// The op variant under test; the graph holds a node of it (`OpCatalogueTests` checks).
    public let variant: OpVariant
    /// A readable description of the operand shapes and attributes.
    public let shapes: String
    public let graph: Graph
    /// The graph's inputs by name, made by `makeInputs()`.
    public let feeds: [String: CaseInput]
    /// Allowed max |candidate - reference| as a fraction of the output's scale.
    public let tolerance: Float
    /// The expected output computed in Double, for checking each backend on its own.
    public let reference64: OpReference64?
    /// A small planned binding size (bytes) that forces the GPU's split paths; the tests
    /// set it through `HeavyOpsTuning.splitBytesOverride`.
    public let splitBytes: Int?
    /// Compare the second run of the prepared executable (steady state, caches warm).
    public let runsTwice: Bool
    /// Takes minutes on lavapipe: run only when `FUSIONKIT_LARGE_TESTS=1`.
    public let isLarge: Bool

    /// The op's name (`Op.name`).
    public var op: String { variant.opName }
    public var family: OpFamily { variant.family }

    /// The input tensors (the same values on every call: they come from seeds).
    public func makeInputs() -> [String: Tensor] { feeds.mapValues { $0.make() } }
}

/// The output of an op case computed in float64 from the case's inputs, and how close an
/// fp32 backend must come to it.
public struct OpReference64 {
    /// What each element's error is measured against.
    public enum Scale: Sendable {
        /// max(1, |expected|).
        case output
        /// max(1, |x|) of the same element of the first input (GELU's `x * Phi(x)` carries
        /// Phi's error times x).
        case input
    }

    /// Allowed max |output - expected| / scale per element.
    public let tolerance: Double
    public let scale: Scale
    public let expected: ([String: Tensor]) -> [Double]

    public init(tolerance: Double, scale: Scale = .output, expected: @escaping ([String: Tensor]) -> [Double]) {
        self.tolerance = tolerance
        self.scale = scale
        self.expected = expected
    }

    /// The largest scaled error of `output` (infinity when any element is not finite or the
    /// count is wrong).
    public func worstError(of output: Tensor, inputs: [String: Tensor]) -> Double {
        let want = expected(inputs)
        guard output.dtype == .f32, output.count == want.count else { return .infinity }
        let got = output.floats
        let first = inputs["x0"].flatMap { $0.dtype == .f32 && $0.count == want.count ? $0.floats : nil }
        var worst = 0.0
        for i in 0..<want.count {
            guard got[i].isFinite else { return .infinity }
            let base: Double
            switch scale {
            case .output: base = max(1, abs(want[i]))
            case .input: base = max(1, abs(Double(first?[i] ?? 0)))
            }
            worst = max(worst, abs(Double(got[i]) - want[i]) / base)
        }
        return worst
    }
}
