import FusionCore
import FusionCPU
import FusionVulkan

/// One graph of a kernel-variant sweep (`GemmVariantParity`, `AttentionVariantParity`).
public struct VariantParityCase {
    public let name: String
    public let graph: Graph
    public let inputs: [String: Tensor]
}

/// What the variant sweeps share: building the seeded cases, the reference's view of an
/// fp16 device, and the error measure.
enum VariantParitySupport {
    /// Appends the case `build` makes on a fresh graph.
    static func add(_ name: String, to cases: inout [VariantParityCase], _ build: (Graph) throws -> [String: Tensor]) throws {
        let g = Graph()
        let inputs = try build(g)
        cases.append(VariantParityCase(name: name, graph: g, inputs: inputs))
    }

    /// The inputs the reference reads for `c` at `precision`: with fp16 storage, what the
    /// device stores (fp16-rounded inputs; the graph's fp32 constants are rounded in place).
    static func referenceInputs(_ c: VariantParityCase, precision: StoragePrecision) -> [String: Tensor] {
        guard precision == .fp16 else { return c.inputs }
        HalfRounding.roundConstants(of: c.graph)
        return c.inputs.mapValues(HalfRounding.rounded)
    }

    /// Max |expected - got| over every output (NaN counts as infinite) and the scale,
    /// max(1, max |expected|).
    static func maxError(expected: [String: Tensor], got: [String: Tensor]) -> (maxAbsError: Float, scale: Float) {
        var worst: Float = 0, scale: Float = 1
        for (name, e) in expected {
            guard let y = got[name] else { continue }
            let ef = e.floats, yf = y.floats
            for i in 0..<e.count {
                let err = abs(ef[i] - yf[i])
                worst = max(worst, err.isNaN ? .infinity : err)
                scale = max(scale, abs(ef[i]))
            }
        }
        return (worst, scale)
    }
}
