import FusionCore
import FusionCPU
import FusionVulkan

/// Every attention variant (`AttentionVariant.all`: the scalar flash kernel, the GEMM path,
/// the register-tiled flash configurations and the plain twins of the cooperative-matrix
/// ones) that a device can run, against the CPU: head dims that are not multiples of the
/// tiles, sequence lengths that are not multiples of the blocks, biases broadcast over
/// every dimension, causal masks, batch x heads > 1, rows that see no key, and key ranges
/// long enough to be split over workgroups. Run by `fusion parity --ops` (which lists the
/// variants it checked) and `AttentionVariantTests`.
public enum AttentionVariantParity {
    /// One (variant, case) on one backend.
    public struct Result {
        public let variant: String
        public let precision: StoragePrecision
        public let caseName: String
        public let maxAbsError: Float
        public let scale: Float
        public let tolerance: Float
        public var passed: Bool { maxAbsError <= tolerance * scale }
    }

    /// The graphs of the sweep (seeded, small enough for lavapipe).
    public static func cases() throws -> [VariantParityCase] {
        var out: [VariantParityCase] = []
        /// q, k, v (and a bias) of the given shapes, seeded from `seed`.
        func add(_ name: String, _ shapes: [[Int]], scale: Float, causal: Bool = false, seed: UInt64, fixedBias: Tensor? = nil) throws {
            try VariantParitySupport.add(name, to: &out) { g in
                let names = ["q", "k", "v", "bias"]
                var inputs: [String: Tensor] = [:]
                var values: [Value] = []
                for (i, shape) in shapes.enumerated() {
                    values.append(g.input(names[i], shape: shape))
                    inputs[names[i]] = i == 3 && fixedBias != nil ? fixedBias! : Tensor.random(shape: shape, seed: seed + UInt64(i))
                }
                g.output("y", try g.attention(q: values[0], k: values[1], v: values[2], bias: values.count > 3 ? values[3] : nil,
                                              scale: scale, causal: causal))
                return inputs
            }
        }
        try add("q[1,2,37,24] k[1,2,53,24] v[1,2,53,20] bias[2,37,53] (odd sizes, bias broadcast over batch)",
                [[1, 2, 37, 24], [1, 2, 53, 24], [1, 2, 53, 20], [2, 37, 53]], scale: 0.2, seed: 41)
        try add("q/k/v[2,3,45,16] bias[1,45] causal (bias broadcast over queries)",
                [[2, 3, 45, 16], [2, 3, 45, 16], [2, 3, 45, 16], [1, 45]], scale: 0.25, causal: true, seed: 45)
        try add("q[1,2,5,8] k[1,2,40,8] v[1,2,40,5] bias[1,2,5,40] causal (Nq < Nk)",
                [[1, 2, 5, 8], [1, 2, 40, 8], [1, 2, 40, 5], [1, 2, 5, 40]], scale: 0.3, causal: true, seed: 49)
        try add("q[1,1,40,8] k/v[1,1,5,8] causal (rows without keys)",
                [[1, 1, 40, 8], [1, 1, 5, 8], [1, 1, 5, 8]], scale: 0.3, causal: true, seed: 53)
        try add("q[1,1,9,130] k[1,1,20,130] v[1,1,20,150] bias[9,1] (head-dim chunks, dv slices)",
                [[1, 1, 9, 130], [1, 1, 20, 130], [1, 1, 20, 150], [9, 1]], scale: 0.08, seed: 57)
        try add("q[1,2,40,32] k[1,2,2500,32] v[1,2,2500,24] bias[1,1,40,2500] causal (key splits)",
                [[1, 2, 40, 32], [1, 2, 2500, 32], [1, 2, 2500, 24], [1, 1, 40, 2500]], scale: 0.18, causal: true, seed: 61)
        try add("q[3,2,70,64] k/v[3,2,77,64] (CLIP-like, batch x heads 6)",
                [[3, 2, 70, 64], [3, 2, 77, 64], [3, 2, 77, 64]], scale: 0.125, seed: 65)
        // A bias that masks every key of a row (-inf) must give zeros, not NaN.
        let mask = Tensor(shape: [1, 1, 3, 6], floats: [
            0, 0, 0, 0, 0, 0,
            -.infinity, -.infinity, -.infinity, -.infinity, -.infinity, -.infinity,
            -.infinity, 0, -.infinity, 0, -.infinity, 0,
        ])
        try add("q[1,1,3,4] k/v[1,1,6,4] -inf bias rows", [[1, 1, 3, 4], [1, 1, 6, 4], [1, 1, 6, 4], [1, 1, 3, 6]],
                scale: 1, seed: 69, fixedBias: mask)
        return out
    }

    /// The variants `gpu` can run at its precision (cooperative-matrix ones only where they
    /// are enabled), in table order.
    public static func runnable(on gpu: VulkanBackend) -> [AttentionVariant] {
        AttentionVariant.supported(on: gpu.context.info, precision: gpu.precision).filter {
            !$0.cooperativeMatrix || gpu.context.enabledFeatures.cooperativeMatrixNV
        }
    }

    /// Checks every variant `gpu` can run at its precision on every case against `cpu`.
    /// `progress` sees each result as it comes.
    public static func run(gpu: VulkanBackend, cpu: CPUBackend, variants: [AttentionVariant]? = nil,
                           progress: (Result) -> Void = { _ in }) throws -> [Result] {
        let precision = gpu.precision
        let chosen = runnable(on: gpu).filter { v in variants?.contains(v) ?? true }
        var results: [Result] = []
        for c in try cases() {
            let inputs = VariantParitySupport.referenceInputs(c, precision: precision)
            let expected = try cpu.run(c.graph, inputs: inputs)
            for v in chosen {
                let got = try AttentionVariantOverride.with(v) { try gpu.prepare(c.graph).run(inputs) }
                let (worst, scale) = VariantParitySupport.maxError(expected: expected, got: got)
                let r = Result(variant: v.name, precision: precision, caseName: c.name, maxAbsError: worst, scale: scale,
                               tolerance: OpFamily.attention.tolerance(at: precision))
                progress(r)
                results.append(r)
            }
        }
        return results
    }
}
