import FusionCore
import FusionParity
import XCTest

/// The op catalogue covers the op set: the list of variants is `OpVariant.allCases`, which
/// `OpVariant.init(_: Op)` (a switch over `Op` and its kinds and modes, no default) keeps in
/// step with the op set. Needs no device.
final class OpCatalogueTests: XCTestCase {
    private func allTestCases() throws -> [OpCase] {
        try OpFamily.allCases.flatMap { try OpCatalogue.testCases($0) }
    }

    /// A new op, kind or mode fails here until the catalogue has a randomised parity case and
    /// an XCTest case of it.
    func testEveryOpVariantHasParityAndTestCases() throws {
        let parity = Set(try OpCatalogue.parityCases().map(\.variant))
        let tested = Set(try allTestCases().map(\.variant))
        for variant in OpVariant.allCases {
            XCTAssert(parity.contains(variant), "'\(variant.rawValue)' has no randomised case in the op catalogue (fusion parity --ops)")
            XCTAssert(tested.contains(variant), "'\(variant.rawValue)' has no test case in the op catalogue (the XCTest parity suites)")
        }
    }

    /// Every variant of the op set has a test case checked against float64 on each backend
    /// (the CPU in `CPUReference64Tests`, both in the parity suites). `GraphReference64`
    /// switches over `Op` with no default, so a new op has no float64 definition until one
    /// is written; this rule then asks for a case that uses it.
    func testEveryOpVariantHasAFloat64Reference() throws {
        let referenced = Set(try allTestCases().filter { $0.reference64 != nil }.map(\.variant))
        for variant in OpVariant.allCases {
            XCTAssert(referenced.contains(variant), "'\(variant.rawValue)' has no test case with a float64 reference in the op catalogue")
        }
        XCTAssert(try OpCatalogue.parityCases().allSatisfy { $0.reference64 == nil }, "the randomised cases stay CPU vs GPU only (fast)")
    }

    /// Each case's graph holds a node of the variant it is filed under (named as `Op.name`
    /// names it), and the case carries its family's tolerance.
    func testEveryCaseHoldsItsVariant() throws {
        for c in try OpCatalogue.parityCases() + allTestCases() {
            let nodes = c.graph.nodes.filter { OpVariant($0.op) == c.variant }
            XCTAssertFalse(nodes.isEmpty, "\(c.variant.rawValue) \(c.shapes): its graph has no \(c.variant.rawValue) node")
            XCTAssert(nodes.allSatisfy { $0.op.name == c.op }, "\(c.variant.rawValue): op name \(c.op)")
            XCTAssertEqual(c.tolerance, c.family.tolerance, "\(c.op) \(c.shapes)")
            XCTAssertEqual(Set(c.feeds.keys), Set(c.graph.inputs.map(\.name)), "\(c.op) \(c.shapes)")
        }
        for family in OpFamily.allCases {
            for c in try OpCatalogue.testCases(family) { XCTAssertEqual(c.family, family, "\(c.op) \(c.shapes)") }
        }
    }

    /// The same seed gives the same cases (shapes and values); another seed other ones.
    func testParityCasesComeFromTheSeed() throws {
        let a = try OpCatalogue.parityCases(seed: 7), b = try OpCatalogue.parityCases(seed: 7), c = try OpCatalogue.parityCases(seed: 8)
        XCTAssertEqual(a.map(\.shapes), b.map(\.shapes))
        XCTAssertNotEqual(a.map(\.shapes), c.map(\.shapes))
        let first = a[0].makeInputs()["x0"]!, again = b[0].makeInputs()["x0"]!
        XCTAssertEqual(Array(first.floats), Array(again.floats))
    }

    /// `fusion bench --op` names each family once, and every name has cases at any size.
    func testBenchFamiliesHaveCases() throws {
        let names = OpCatalogue.benchFamilies
        XCTAssertEqual(names.count, Set(names).count, "\(names)")
        XCTAssertEqual(Set(names), ["conv3x3", "dwconv3x3", "conv1x1", "textfusion-dwconv5x5", "channel-attention",
                                    "spatial-attention", "window-attention", "film", "layernorm", "gemm",
                                    "convtranspose4x4", "pooling"],
                       "the names fusion bench --op accepts")
        let shapes = try OpCatalogue.benchCases(height: 16, width: 24)
        XCTAssertEqual(Set(shapes.map(\.family)), Set(names))
        XCTAssertEqual(try OpCatalogue.benchCases(height: 16, width: 24, families: ["film"]).map(\.family), ["film"])
        XCTAssertThrowsError(try OpCatalogue.benchCases(height: 20, width: 24))
    }
}
