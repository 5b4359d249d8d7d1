import XCTest
import Foundation
import FusionCore
import FusionParity

/// The float64 references themselves, on hand-computed values from the PyTorch definitions:
/// what every backend is held to must be right on its own.
final class Reference64SelfCheckTests: XCTestCase {
    private let row = Float64Tensor([0, 1, 2, 3], [1, 1, 1, 4])

    func testResize() {
        // F.interpolate(arange(4), size=8, mode="bilinear", align_corners=False).
        XCTAssertEqual(ResamplingReference64.resize(row, mode: .bilinear, height: 1, width: 8).data, [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])
        // Antialiased bilinear upsampling is plain bilinear; shrinking arange(4) to 2 is a
        // triangle of radius 2: taps 0...2 weights [.75, .75, .25] / 1.75 and 1...3 [.25, .75, .75] / 1.75
        // (torch 2.15: 0.7142857313, 2.2857143879).
        XCTAssertEqual(ResamplingReference64.resize(row, mode: .bilinearAntialias, height: 1, width: 8).data, [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])
        let shrunk = ResamplingReference64.resize(row, mode: .bilinearAntialias, height: 1, width: 2).data
        XCTAssertEqual(shrunk[0], 1.25 / 1.75, accuracy: 1e-7)
        XCTAssertEqual(shrunk[1], 4 / 1.75, accuracy: 1e-7)
        // Nearest: floor(dst * 4 / 8).
        XCTAssertEqual(ResamplingReference64.resize(row, mode: .nearest, height: 1, width: 8).data, [0, 0, 1, 1, 2, 2, 3, 3])
        // Bicubic weights sum to one, and the kernel interpolates (t = 0 -> [0, 1, 0, 0]).
        for t in stride(from: 0.0, to: 1.0, by: 0.125) {
            XCTAssertEqual(ResamplingReference64.cubicWeights(t).reduce(0, +), 1, accuracy: 1e-12)
        }
        XCTAssertEqual(ResamplingReference64.cubicWeights(0), [0, 1, 0, 0])
        // Bicubic at the left border of arange(4) -> 8: src -0.25, taps clamped to [0,0,0,1],
        // weights [-0.03515625, 0.26171875, 0.87890625, -0.10546875].
        let bc = ResamplingReference64.resize(row, mode: .bicubic, height: 1, width: 8).data
        XCTAssertEqual(bc[0], -0.10546875, accuracy: 1e-12)
        // Inside: src 1.25, taps 0...3 with weights [-0.10546875, 0.87890625, 0.26171875, -0.03515625]
        // (a = -0.75 does not reproduce a ramp exactly: 1.296875, not 1.25).
        XCTAssertEqual(bc[3], 1.296875, accuracy: 1e-12)
        XCTAssertEqual(bc[4], 1.703125, accuracy: 1e-12)
        // Mirror symmetry of a ramp: out[i] + out[7 - i] = 3.
        for i in 0..<8 { XCTAssertEqual(bc[i] + bc[7 - i], 3, accuracy: 1e-12) }
    }

    func testLayout() {
        // Reflect padding of [1, 2, 3] by 2 on each side: [3, 2, 1, 2, 3, 2, 1].
        let p = LayoutReference64.pad(Float64Tensor([1, 2, 3], [1, 1, 1, 3]), top: 0, bottom: 0, left: 2, right: 2, mode: .reflect)
        XCTAssertEqual(p.data, [3, 2, 1, 2, 3, 2, 1])
        // Pixel unshuffle of a 2x2 image: channel dy*2+dx holds pixel (dy, dx).
        XCTAssertEqual(LayoutReference64.pixelUnshuffle(Float64Tensor([1, 2, 3, 4], [1, 1, 2, 2]), factor: 2), Float64Tensor([1, 2, 3, 4], [1, 4, 1, 1]))
        XCTAssertEqual(LayoutReference64.pixelShuffle(Float64Tensor([1, 2, 3, 4], [1, 4, 1, 1]), factor: 2), Float64Tensor([1, 2, 3, 4], [1, 1, 2, 2]))
        // Permute is a transpose for rank 2; concat and slice along the last axis.
        XCTAssertEqual(LayoutReference64.permute(Float64Tensor([1, 2, 3, 4, 5, 6], [2, 3]), [1, 0]).data, [1, 4, 2, 5, 3, 6])
        let a = Float64Tensor([1, 2, 3, 4], [2, 2]), b = Float64Tensor([5, 6], [2, 1])
        XCTAssertEqual(LayoutReference64.concat([a, b], axis: 1), Float64Tensor([1, 2, 5, 3, 4, 6], [2, 3]))
        XCTAssertEqual(LayoutReference64.slice(Float64Tensor([1, 2, 5, 3, 4, 6], [2, 3]), axis: 1, start: 1, length: 2).data, [2, 5, 4, 6])
    }

    func testConvolution() {
        // 3x3 ones over 3x3 arange with zero padding 1 (centre = sum = 36).
        let img = Float64Tensor((0..<9).map(Double.init), [1, 1, 3, 3])
        let conv = ConvolutionReference64.conv2d(img, weight: Float64Tensor(Array(repeating: 1, count: 9), [1, 1, 3, 3]), bias: nil,
                                                 Conv2DAttributes(padding: 1))
        XCTAssertEqual(conv.data, [8, 15, 12, 21, 36, 27, 20, 33, 24])
    }

    func testPointwise() {
        // GELU(1) = 0.8413447460685429, quickGELU(1) = sigmoid(1.702).
        XCTAssertEqual(PointwiseReference64.function(.gelu)(1), 0.8413447460685429, accuracy: 1e-15)
        XCTAssertEqual(PointwiseReference64.function(.quickGELU)(1), 1 / (1 + exp(-1.702)), accuracy: 1e-15)
        // Broadcasting [2, 1] with [3]: rows plus columns.
        let sum = PointwiseReference64.binary(.add, Float64Tensor([10, 20], [2, 1]), Float64Tensor([1, 2, 3], [3]))
        XCTAssertEqual(sum, Float64Tensor([11, 12, 13, 21, 22, 23], [2, 3]))
    }

    func testAttentionAndReductions() {
        // Causal attention: query 0 sees key 0 only.
        let q = Float64Tensor([1, 1], [1, 1, 2, 1])
        let att = AttentionReference64.attention(q: q, k: Float64Tensor([1, 2], [1, 1, 2, 1]), v: Float64Tensor([5, 7], [1, 1, 2, 1]),
                                                 bias: nil, scale: 1, causal: true).data
        XCTAssertEqual(att[0], 5)
        XCTAssertEqual(att[1], (5 * exp(1.0) + 7 * exp(2.0)) / (exp(1.0) + exp(2.0)), accuracy: 1e-12)
        // A query that sees no key (causal, Nq > Nk) gives zeros.
        let none = AttentionReference64.attention(q: Float64Tensor([1, 1], [1, 1, 2, 1]), k: Float64Tensor([1], [1, 1, 1, 1]),
                                                  v: Float64Tensor([5], [1, 1, 1, 1]), bias: nil, scale: 1, causal: true).data
        XCTAssertEqual(none, [0, 5])
        // Softmax of [0, ln 3]: [1/4, 3/4]; global stats of [1, 3]: mean 2, std sqrt(1 + eps).
        let s = ReductionReference64.softmax(Float64Tensor([0, log(3)], [2])).data
        XCTAssertEqual(s[0], 0.25, accuracy: 1e-15)
        XCTAssertEqual(s[1], 0.75, accuracy: 1e-15)
        XCTAssertEqual(ReductionReference64.globalStats(Float64Tensor([1, 3], [1, 2]), eps: 0).data, [2, 1])
    }

    /// The graph evaluator runs nodes in order over inputs and constants.
    func testGraphEvaluation() throws {
        let g = Graph()
        let x = g.input("x", shape: [2, 2])
        g.output("y", try g.add(g.relu(x), g.constant(Tensor(shape: [2], floats: [10, 20]))))
        let y = GraphReference64.evaluate(g, inputs: ["x": Tensor(shape: [2, 2], floats: [-1, 2, 3, -4])])["y"]
        XCTAssertEqual(y, Float64Tensor([10, 22, 13, 20], [2, 2]))
    }
}
