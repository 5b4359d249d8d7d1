import FusionCore

/// An input of an op case, made when the case runs: the large cases' tensors (hundreds of
/// MiB) exist one case at a time, not for the whole catalogue.
public struct CaseInput {
    public let shape: [Int]
    public let dtype: DType
    let make: () -> Tensor

    /// Uniform random values in `range` from `seed`.
    static func random(_ shape: [Int], seed: UInt64, range: ClosedRange<Float>) -> CaseInput {
        CaseInput(shape: shape, dtype: .f32) { Tensor.random(shape: shape, seed: seed, in: range) }
    }

    /// Given values (masks, extreme inputs, token ids).
    public static func fixed(_ tensor: Tensor) -> CaseInput {
        CaseInput(shape: tensor.shape, dtype: tensor.dtype) { tensor }
    }
}

/// Builds the catalogue's op cases from one seed; each family's file adds its own.
struct OpCaseBuilder {
    private var rng: SplitMix64
    private(set) var cases: [OpCase] = []
    private var counter: UInt64 = 0
    /// Whether cases get their family's float64 reference by default: the test cases do; the
    /// randomised parity cases do not, so `fusion parity --ops` stays fast.
    let attachesReference64: Bool

    init(seed: UInt64, attachesReference64: Bool) {
        rng = SplitMix64(seed: seed)
        self.attachesReference64 = attachesReference64
    }

    mutating func next() -> UInt64 { rng.next() }

    /// A random size in `range`, biased towards odd values.
    mutating func dim(_ range: ClosedRange<Int>) -> Int {
        let v = range.lowerBound + Int(rng.next() % UInt64(range.count))
        return (v % 2 == 0 && v + 1 <= range.upperBound) ? v + 1 : v
    }

    /// A random element of `choices`.
    mutating func pick<T>(_ choices: [T]) -> T { choices[Int(rng.next() % UInt64(choices.count))] }

    private mutating func nextSeed() -> UInt64 {
        counter += 1
        return rng.next() &+ counter
    }

    /// A constant operand (weights, biases, tables), made now.
    mutating func tensor(_ shape: [Int], range: ClosedRange<Float> = -1...1) -> Tensor {
        Tensor.random(shape: shape, seed: nextSeed(), in: range)
    }

    /// A graph input, made when the case runs.
    mutating func input(_ shape: [Int], range: ClosedRange<Float> = -1...1) -> CaseInput {
        .random(shape, seed: nextSeed(), range: range)
    }

    /// Adds a case of `variant` whose graph has inputs `x0, x1, ...` and one output `y`.
    /// Its float64 reference is the graph itself evaluated in float64, bounded as `reference64` says.
    mutating func add(_ variant: OpVariant, _ shapes: String, inputs: [CaseInput], tolerance: Float? = nil,
                      reference64: Reference64Bound = .family, splitBytes: Int? = nil, runsTwice: Bool = false,
                      isLarge: Bool = false, _ build: (Graph, [Value]) throws -> Value) throws {
        let g = Graph()
        var feeds: [String: CaseInput] = [:]
        var values: [Value] = []
        for (i, x) in inputs.enumerated() {
            values.append(g.input("x\(i)", shape: x.shape, dtype: x.dtype))
            feeds["x\(i)"] = x
        }
        g.output("y", try build(g, values))
        let float64: OpReference64?
        switch reference64 {
        case .family:
            float64 = attachesReference64 ? OpReference64(graph: g, tolerance: variant.family.reference64Tolerance) : nil
        case let .custom(tolerance, scale):
            float64 = attachesReference64 ? OpReference64(graph: g, tolerance: tolerance, scale: scale) : nil
        case .none: float64 = nil
        }
        cases.append(OpCase(variant: variant, shapes: shapes, graph: g, feeds: feeds, tolerance: tolerance ?? variant.family.tolerance,
                            reference64: float64, splitBytes: splitBytes, runsTwice: runsTwice, isLarge: isLarge))
    }
}
