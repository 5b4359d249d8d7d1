import XCTest
import FusionCore
import FusionCPU
import FusionParity

/// Tolerance of the hand-built graphs' CPU-vs-float64 comparisons (the catalogue's cases
/// carry their own, per family):
///
///     max |cpu - ref| <= 1e-5 * max(1, max |ref|)
///
/// The reference is exact to ~1e-15 (float64 from the same float32 inputs); the backend
/// computes in float32 (unit round-off 6e-8) over sums of at most a few hundred terms, so
/// 1e-5 leaves a wide margin while any indexing or semantic mistake shows up as an error of
/// order 1e-2 or more.
let referenceTolerance = 1e-5

/// Seeded uniform random f32 tensor.
func rnd(_ shape: [Int], _ seed: UInt64, _ range: ClosedRange<Float> = -1...1) -> Tensor {
    Tensor.random(shape: shape, seed: seed, in: range)
}

class ReferenceTestCase: XCTestCase {
    /// Compares a backend output tensor with a float64 result under `referenceTolerance`.
    func verify(_ label: String, _ t: Tensor, _ expected: Float64Tensor, file: StaticString = #filePath, line: UInt = #line) {
        let r64 = OpReference64(tolerance: referenceTolerance) { _ in expected }
        let worst = r64.compare(t, with: expected, inputs: [:])
        print("[reference] \(label): \(worst)")
        XCTAssert(worst.scaled <= referenceTolerance, "\(label): \(t.dtype) \(t.shape) vs float64 \(expected.shape): error \(worst) > \(referenceTolerance)",
                  file: file, line: line)
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
