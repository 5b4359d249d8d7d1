import XCTest
import FusionCore
import FusionCPU

/// Tolerance of every CPU-vs-reference comparison:
///
///     max |cpu - ref| <= 1e-5 * max(1, max |ref|)
///
/// The reference is exact to ~1e-15 (float64 from the same float32 inputs); the backend
/// computes in float32 (unit round-off 6e-8). The largest reductions in these tests are a few
/// thousand terms of magnitude <= 1, whose float32 rounding error stays around 1e-6 of the
/// output scale, so 1e-5 relative to the largest reference magnitude (absolute 1e-5 for
/// outputs of order 1 or smaller) leaves a margin of ~10x while any indexing or semantic
/// mistake shows up as an error of order 1e-2 or more.
///
/// Where outputs are much smaller than 1 (softmax over 5000 entries is ~2e-4 per entry) the
/// absolute bound alone would be weak, so those cases also ask for a per-element relative
/// error `|cpu - ref| <= relative * |ref| + 1e-12`.
let referenceTolerance = 1e-5

/// One operand of a one-op test graph: a runtime input, or a graph constant (weights).
struct Operand {
    let name: String
    let tensor: Tensor
    var constant = false

    init(_ name: String, _ tensor: Tensor, constant: Bool = false) {
        self.name = name
        self.tensor = tensor
        self.constant = constant
    }
}

extension Tensor {
    /// The f32 contents widened to float64 (exactly).
    var doubles: [Double] { floats.map(Double.init) }
}

/// Seeded uniform random f32 tensor.
func rnd(_ shape: [Int], _ seed: UInt64, _ range: ClosedRange<Float> = -1...1) -> Tensor {
    Tensor.random(shape: shape, seed: seed, in: range)
}

/// Result of comparing one output with its reference.
struct Comparison {
    var maxError = 0.0
    var maxRef = 0.0
    var worst = 0
    var bound: Double { referenceTolerance * max(1, maxRef) }
    var relativeFailure: (index: Int, got: Double, want: Double)?
}

func compare(_ got: [Double], _ want: [Double], relative: Double?) -> Comparison {
    var c = Comparison()
    for i in want.indices {
        c.maxRef = max(c.maxRef, abs(want[i]))
        let e = abs(got[i] - want[i])
        // `!(e <= ...)` also catches NaN.
        if !(e <= c.maxError) { c.maxError = e.isNaN ? .infinity : e; c.worst = i }
        if let r = relative, c.relativeFailure == nil, !(e <= r * abs(want[i]) + 1e-12) {
            c.relativeFailure = (i, got[i], want[i])
        }
    }
    return c
}

class ReferenceTestCase: XCTestCase {
    /// Builds a one-op graph over `operands`, runs it on `CPUBackend`, and compares the output
    /// with `expected` under `referenceTolerance` (and `relative`, when given).
    func check(_ label: String, _ operands: [Operand], expected: Reference64.Out, relative: Double? = nil,
               file: StaticString = #filePath, line: UInt = #line,
               build: (Graph, [Value]) throws -> Value) {
        do {
            let g = Graph()
            var values: [Value] = []
            var feeds: [String: Tensor] = [:]
            for o in operands {
                if o.constant {
                    values.append(g.constant(o.tensor, name: o.name))
                } else {
                    values.append(g.input(o.name, shape: o.tensor.shape, dtype: o.tensor.dtype))
                    feeds[o.name] = o.tensor
                }
            }
            let y = try build(g, values)
            g.output("y", y)
            XCTAssertEqual(y.shape, expected.shape, "\(label): graph builder inferred \(y.shape)", file: file, line: line)
            let outputs = try CPUBackend().run(g, inputs: feeds)
            guard let t = outputs["y"] else {
                XCTFail("\(label): output 'y' missing (got \(outputs.keys.sorted()))", file: file, line: line)
                return
            }
            verify(label, t, expected, relative: relative, file: file, line: line)
        } catch {
            XCTFail("\(label): threw \(error)", file: file, line: line)
        }
    }

    /// Compares a backend output tensor with a reference result.
    func verify(_ label: String, _ t: Tensor, _ expected: Reference64.Out, relative: Double? = nil,
                file: StaticString = #filePath, line: UInt = #line) {
        guard t.shape == expected.shape, t.dtype == .f32 else {
            XCTFail("\(label): output is \(t.dtype) \(t.shape), expected f32 \(expected.shape)", file: file, line: line)
            return
        }
        let got = t.doubles
        let c = compare(got, expected.data, relative: relative)
        let at = Reference64.unravel(c.worst, expected.shape)
        let summary = "\(label): max |err| \(c.maxError) (bound \(c.bound), max |ref| \(c.maxRef))"
        print("[reference] \(summary)")
        if !(c.maxError <= c.bound) {
            XCTFail("\(summary); worst at \(at): cpu \(got[c.worst]) vs ref \(expected.data[c.worst])", file: file, line: line)
        }
        if let f = c.relativeFailure {
            XCTFail("\(label): relative error above \(relative!) at \(Reference64.unravel(f.index, expected.shape)): cpu \(f.got) vs ref \(f.want)",
                    file: file, line: line)
        }
    }

    /// Asserts that `body` throws a `FusionError` accepted by `matches`.
    func assertFusionError(_ label: String, file: StaticString = #filePath, line: UInt = #line,
                           _ matches: (FusionError) -> Bool, _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("\(label): did not throw", file: file, line: line)
        } catch let e as FusionError {
            XCTAssertTrue(matches(e), "\(label): wrong FusionError \(e)", file: file, line: line)
            print("[reference] \(label): threw \(e)")
        } catch {
            XCTFail("\(label): threw a non-FusionError \(type(of: error)): \(error)", file: file, line: line)
        }
    }
}
