import FusionCore
import FusionCPU
import FusionVulkan

/// Every register-tiled GEMM / implicit-GEMM conv variant (`GemmVariant.all`) that a device
/// can run, against the CPU: small GEMM and conv graphs with odd sizes, tails, transposes,
/// batches, vec4-aligned operands, fused epilogues and long K, each without and with K
/// splits. Run by `fusion parity --ops` (which lists the variants it checked) and
/// `GEMMVariantTests`.
public enum GemmVariantParity {
    /// One graph of the sweep.
    public typealias Case = VariantParityCase

    /// One (variant, splits, case) on one backend.
    public struct Result {
        public let variant: String
        public let splits: Int
        public let precision: StoragePrecision
        public let caseName: String
        public let maxAbsError: Float
        public let scale: Float
        public let tolerance: Float
        public var passed: Bool { maxAbsError <= tolerance * scale }
    }

    /// K splits each variant is checked with: none, and an odd count (uneven last split).
    public static let splitCounts = [1, 3]

    /// The graphs of the sweep (seeded, small enough for lavapipe).
    public static func cases() throws -> [Case] {
        var out: [Case] = []
        func add(_ name: String, _ build: (Graph) throws -> [String: Tensor]) throws {
            try VariantParitySupport.add(name, to: &out, build)
        }
        try add("matmul [3,37,29]x[29,45] (odd, batch folded)") { g in
            let a = g.input("a", shape: [3, 37, 29])
            let b = g.constant(Tensor.random(shape: [29, 45], seed: 11))
            g.output("y", try g.matmul(a, b))
            return ["a": Tensor.random(shape: [3, 37, 29], seed: 12)]
        }
        try add("matmul [2,33,19]^T x [2,21,33]^T alpha 0.5 (transposed, batched)") { g in
            let a = g.input("a", shape: [2, 33, 19])
            let b = g.input("b", shape: [2, 21, 33])
            g.output("y", try g.matmul(a, b, transposeA: true, transposeB: true, alpha: 0.5))
            return ["a": Tensor.random(shape: [2, 33, 19], seed: 13), "b": Tensor.random(shape: [2, 21, 33], seed: 14)]
        }
        try add("matmul [64,128]x[128,96] (vec4 aligned)") { g in
            let a = g.input("a", shape: [64, 128])
            let b = g.input("b", shape: [128, 96])
            g.output("y", try g.matmul(a, b))
            return ["a": Tensor.random(shape: [64, 128], seed: 15), "b": Tensor.random(shape: [128, 96], seed: 16)]
        }
        try add("matmul [2,12,2048]x[2,2048,12] (long K, Gram-like)") { g in
            let a = g.input("a", shape: [2, 12, 2048])
            let b = g.input("b", shape: [2, 2048, 12])
            g.output("y", try g.matmul(a, b))
            return ["a": Tensor.random(shape: [2, 12, 2048], seed: 17), "b": Tensor.random(shape: [2, 2048, 12], seed: 18)]
        }
        try add("linear [50,64] -> 36 +bias, relu, + residual (fused epilogue)") { g in
            let x = g.input("x", shape: [50, 64])
            let r = g.input("r", shape: [50, 36])
            let w = g.constant(Tensor.random(shape: [36, 64], seed: 19))
            let bias = g.constant(Tensor.random(shape: [36], seed: 20))
            g.output("y", try g.add(try g.relu(try g.linear(x, weight: w, bias: bias)), r))
            return ["x": Tensor.random(shape: [50, 64], seed: 21), "r": Tensor.random(shape: [50, 36], seed: 22)]
        }
        try add("conv 3x3 p1 [2,5,9,11] -> 7 +bias, sigmoid") { g in
            let x = g.input("x", shape: [2, 5, 9, 11])
            let w = g.constant(Tensor.random(shape: [7, 5, 3, 3], seed: 23))
            let bias = g.constant(Tensor.random(shape: [7], seed: 24))
            g.output("y", try g.sigmoid(try g.conv2d(x, weight: w, bias: bias, Conv2DAttributes(padding: 1))))
            return ["x": Tensor.random(shape: [2, 5, 9, 11], seed: 25)]
        }
        try add("conv 5x3 s(2,1) d(1,2) reflect p(2,1,2,1) [1,6,11,9] -> 9 +bias") { g in
            let x = g.input("x", shape: [1, 6, 11, 9])
            let w = g.constant(Tensor.random(shape: [9, 6, 5, 3], seed: 30))
            let bias = g.constant(Tensor.random(shape: [9], seed: 31))
            g.output("y", try g.conv2d(x, weight: w, bias: bias,
                                       Conv2DAttributes(stride: (2, 1), padding: (2, 1, 2, 1), dilation: (1, 2), paddingMode: .reflect)))
            return ["x": Tensor.random(shape: [1, 6, 11, 9], seed: 32)]
        }
        try add("conv 1x1 [1,256,4,4] -> 24 (pointwise vec4, long K, small map)") { g in
            let x = g.input("x", shape: [1, 256, 4, 4])
            let w = g.constant(Tensor.random(shape: [24, 256, 1, 1], seed: 33, in: -0.1...0.1))
            g.output("y", try g.conv2d(x, weight: w))
            return ["x": Tensor.random(shape: [1, 256, 4, 4], seed: 34)]
        }
        return out
    }

    /// Checks every variant `gpu` can run at its precision, each case with each of
    /// `splitCounts` K splits, against `cpu`. `progress` sees each result as it comes.
    public static func run(gpu: VulkanBackend, cpu: CPUBackend, variants: [GemmVariant]? = nil,
                           progress: (Result) -> Void = { _ in }) throws -> [Result] {
        let precision = gpu.precision
        let chosen = (variants ?? GemmVariant.all).filter {
            $0.isSupported(on: gpu.context.info, precision: precision) && (!$0.cooperativeMatrix || gpu.context.enabledFeatures.cooperativeMatrixNV)
        }
        var results: [Result] = []
        for c in try cases() {
            let inputs = VariantParitySupport.referenceInputs(c, precision: precision)
            let expected = try cpu.run(c.graph, inputs: inputs)
            for v in chosen {
                for splits in splitCounts {
                    let got = try GemmChoiceOverride.with(GemmChoice(variant: v, splits: splits)) {
                        try gpu.prepare(c.graph).run(inputs)
                    }
                    let (worst, scale) = VariantParitySupport.maxError(expected: expected, got: got)
                    let r = Result(variant: v.name, splits: splits, precision: precision, caseName: c.name, maxAbsError: worst, scale: scale,
                                   tolerance: OpFamily.matrixProduct.tolerance(at: precision))
                    progress(r)
                    results.append(r)
                }
            }
        }
        return results
    }
}
