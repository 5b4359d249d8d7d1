import Foundation
import FusionCore
import FusionCPU
@testable import FusionVulkan
import XCTest

/// pointwiseDepthwise on Vulkan (conv2d_pointwise_depthwise.comp): the fused node against
/// the unfused `[LayerNorm ->] 1x1 -> depthwise` chain, on the CPU and on the same device,
/// in fp32 and fp16 storage, under the validation layer when CI asks for it.
final class PointwiseDepthwiseTests: XCTestCase {
    /// Both backends run graphs as built, so the unfused graph stays unfused.
    private static let cpu = CPUBackend(threads: 2, passes: .none)
    private static var backends: [String: VulkanBackend] = [:]

    /// `kernels`: "direct" (CPU drivers' variant, no shared staging) or "tiled".
    private func backend(_ precision: StoragePrecision, kernels: String) throws -> VulkanBackend {
        _ = try VulkanTestSupport.backend()   // skips without a device
        let key = "\(precision) \(kernels)"
        if let b = Self.backends[key] { return b }
        var options = FusionOptions.current
        options.passes = .none
        options.vulkan.precision = precision
        options.vulkan.kernels = kernels
        let b = try VulkanBackend(validation: FusionOptions.current.requireValidation ? true : nil, options: options)
        Self.backends[key] = b
        return b
    }

    struct Spec {
        var n, c, m, h, w, kh, kw: Int
        var padding: (Int, Int, Int, Int)
        var norm: Bool
        var splitBytes: Int? = nil
    }

    /// The same computation as one fused node and as the chain of nodes.
    private func graphs(_ s: Spec) throws -> (fused: Graph, unfused: Graph) {
        let pw = Tensor.random(shape: [s.m, s.c, 1, 1], seed: 1, in: -0.5...0.5)
        let dw = Tensor.random(shape: [s.m, 1, s.kh, s.kw], seed: 2, in: -0.5...0.5)
        let nw = Tensor.random(shape: [s.c], seed: 3, in: 0.5...1.5), nb = Tensor.random(shape: [s.c], seed: 4, in: -0.5...0.5)
        let attrs = Conv2DAttributes(stride: (1, 1), padding: s.padding, dilation: (1, 1), groups: s.m)
        let fused = Graph(), unfused = Graph()
        let fx = fused.input("x", shape: [s.n, s.c, s.h, s.w]), ux = unfused.input("x", shape: [s.n, s.c, s.h, s.w])
        let norm = s.norm ? (weight: fused.constant(nw), bias: fused.constant(nb), eps: Float(1e-5)) : nil
        fused.output("y", try fused.pointwiseDepthwise(fx, norm: norm, pointwise: fused.constant(pw), depthwise: fused.constant(dw), attrs))
        let h = s.norm ? try unfused.layerNormChannels(ux, weight: unfused.constant(nw), bias: unfused.constant(nb), eps: 1e-5) : ux
        unfused.output("y", try unfused.conv2d(unfused.conv2d(h, weight: unfused.constant(pw)), weight: unfused.constant(dw), attrs))
        return (fused, unfused)
    }

    private func check(_ specs: [Spec], precision: StoragePrecision, tolerance: Float,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        for kernels in ["direct", "tiled"] {
        let b = try backend(precision, kernels: kernels)
        for s in specs {
            let (fused, unfused) = try graphs(s)
            let inputs = ["x": Tensor.random(shape: [s.n, s.c, s.h, s.w], seed: 5, in: -2...3)]
            let expected = try Self.cpu.run(unfused, inputs: inputs)["y"]!
            HeavyOpsTuning.splitBytesOverride = s.splitBytes
            defer { HeavyOpsTuning.splitBytesOverride = nil }
            let got = try b.prepare(fused).run(inputs)["y"]!
            let same = try b.prepare(unfused).run(inputs)["y"]!
            let scale = max(VulkanTestSupport.maxAbs(expected), 1e-6)
            let err = VulkanTestSupport.maxAbsDifference(got, expected) / scale
            let errSame = VulkanTestSupport.maxAbsDifference(got, same) / scale
            print("[pointwise_depthwise \(precision) \(kernels)] \(s): vs CPU \(err), vs unfused Vulkan \(errSame)")
            XCTAssertLessThanOrEqual(err, tolerance, "\(s) [\(kernels)] vs unfused CPU", file: file, line: line)
            XCTAssertLessThanOrEqual(errSame, tolerance, "\(s) [\(kernels)] vs unfused Vulkan", file: file, line: line)
        }
        VulkanTestSupport.assertNoValidationMessages(b, file: file, line: line)
        }
    }

    private static let specs = [
        Spec(n: 2, c: 20, m: 20, h: 13, w: 17, kh: 3, kw: 3, padding: (1, 1, 1, 1), norm: true),
        Spec(n: 1, c: 48, m: 48, h: 24, w: 40, kh: 3, kw: 3, padding: (1, 1, 1, 1), norm: true),
        Spec(n: 1, c: 37, m: 19, h: 9, w: 31, kh: 3, kw: 3, padding: (0, 1, 1, 1), norm: true),
        Spec(n: 2, c: 5, m: 33, h: 11, w: 7, kh: 3, kw: 3, padding: (1, 1, 1, 1), norm: false),
        Spec(n: 1, c: 7, m: 9, h: 10, w: 12, kh: 5, kw: 5, padding: (2, 2, 2, 2), norm: true),
        Spec(n: 2, c: 9, m: 14, h: 11, w: 15, kh: 1, kw: 3, padding: (0, 0, 1, 1), norm: false),
        Spec(n: 1, c: 3, m: 4, h: 1, w: 1, kh: 3, kw: 3, padding: (1, 1, 1, 1), norm: true),
        // Outputs over a 3000-byte planned binding: per-sample dispatches in 16-channel chunks.
        Spec(n: 2, c: 4, m: 40, h: 6, w: 6, kh: 3, kw: 3, padding: (1, 1, 1, 1), norm: true, splitBytes: 3000),
    ]

    func testFusedMatchesTheUnfusedChain() throws {
        try check(Self.specs, precision: .fp32, tolerance: 1e-6)
    }

    func testFusedMatchesTheUnfusedChainInFloat16Storage() throws {
        try check(Self.specs, precision: .fp16, tolerance: 1e-2)
    }

    /// With every pass, a Restormer-style graph on Vulkan runs the fused node and matches
    /// the graph as built on the CPU.
    func testThePassRunsOnVulkan() throws {
        _ = try VulkanTestSupport.backend()
        var options = FusionOptions.current
        options.passes = .all
        let b = try VulkanBackend(validation: FusionOptions.current.requireValidation ? true : nil, options: options)
        let (_, unfused) = try graphs(Spec(n: 1, c: 24, m: 24, h: 16, w: 20, kh: 3, kw: 3, padding: (1, 1, 1, 1), norm: true))
        XCTAssertEqual(try b.optimized(unfused).nodes.map(\.op.name), ["pointwise_depthwise"])
        let inputs = ["x": Tensor.random(shape: [1, 24, 16, 20], seed: 6, in: -2...3)]
        let expected = try Self.cpu.run(unfused, inputs: inputs)["y"]!
        let got = try b.prepare(unfused).run(inputs)["y"]!
        XCTAssertLessThanOrEqual(VulkanTestSupport.maxAbsDifference(got, expected) / max(VulkanTestSupport.maxAbs(expected), 1e-6), 1e-6)
        VulkanTestSupport.assertNoValidationMessages(b)
    }
}
