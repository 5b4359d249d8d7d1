import FusionCore

/// The one table of op cases (after ggml's test-backend-ops: one catalogue, several modes).
/// Each family's file states, for each op of the family, the cases at three sizes:
///
/// - parity: small randomised shapes from a seed (`fusion parity --ops`);
/// - test: the edge cases the XCTest parity suites check (odd sizes, tails, 1x1 maps, large
///   channel counts, tensors over one binding, forced split paths, extreme values);
/// - bench: the shapes the fusion networks run the op at, for an image size
///   (`fusion bench --op`).
///
/// Tolerances are per family (`OpFamily.tolerance` between the backends,
/// `OpFamily.reference64Tolerance` against float64). Every test case carries a float64
/// reference (its own graph evaluated by `GraphReference64`) unless it says why not, so each
/// backend is also checked on its own: the CPU by `Reference64Runner`, both by `ParityRunner`.
public enum OpCatalogue {
    /// The randomised cases of every op: the same seed gives the same cases.
    public static func parityCases(seed: UInt64 = 1) throws -> [OpCase] {
        var b = OpCaseBuilder(seed: seed, attachesReference64: false)
        for family in OpFamily.allCases { try family.cases.addParityCases(to: &b) }
        return b.cases
    }

    /// The edge cases of one family that the XCTest parity suites check.
    public static func testCases(_ family: OpFamily) throws -> [OpCase] {
        var b = OpCaseBuilder(seed: 1, attachesReference64: true)
        try family.cases.addTestCases(to: &b)
        return b.cases
    }

    /// The names `fusion bench --op` accepts, in catalogue order.
    public static var benchFamilies: [String] {
        OpFamily.allCases.flatMap { $0.cases.benchFamilies }
    }

    /// The bench cases for an image of `height` x `width` (a multiple of 8: Text-IF's four
    /// scales) whose bench family is in `families` (all when nil).
    public static func benchCases(height: Int, width: Int, families: Set<String>? = nil) throws -> [OpBenchShape] {
        guard height % 8 == 0, width % 8 == 0 else {
            throw FusionError.invalidArgument(op: "bench", detail: "size \(height)x\(width): ops are benchmarked at Text-IF's scales, which need multiples of 8")
        }
        var b = OpBenchBuilder(height: height, width: width, selected: families)
        for family in OpFamily.allCases { try family.cases.addBenchCases(to: &b) }
        return b.shapes
    }
}

/// One family's part of the catalogue.
protocol OpFamilyCases {
    /// Small randomised shapes of every op of the family.
    static func addParityCases(to b: inout OpCaseBuilder) throws
    /// The shapes the XCTest parity suite checks.
    static func addTestCases(to b: inout OpCaseBuilder) throws
    /// The `fusion bench --op` names this family's bench cases go by.
    static var benchFamilies: [String] { get }
    /// The family's bench cases at the builder's image size.
    static func addBenchCases(to b: inout OpBenchBuilder) throws
}

extension OpFamily {
    /// The file of cases of the family.
    var cases: OpFamilyCases.Type {
        switch self {
        case .convolution: return ConvolutionCases.self
        case .matrixProduct: return MatrixProductCases.self
        case .attention: return AttentionCases.self
        case .reduction: return ReductionCases.self
        case .pointwise: return PointwiseCases.self
        case .layout: return LayoutCases.self
        case .resampling: return ResamplingCases.self
        }
    }
}
