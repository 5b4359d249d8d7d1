import Foundation
import FusionCore
import FusionCPU
import FusionParity
import FusionTestSupport
@testable import FusionVulkan
import XCTest

/// The register-tiled GEMM / implicit-GEMM conv variants (`GemmVariant.all`): every one the
/// device can run, fp32 and fp16 storage, without and with K splits, on odd sizes, tails,
/// transposes, vec4-aligned operands, fused epilogues, reflect padding and long K
/// (`GemmVariantParity`), against the CPU; and the choice knobs.
final class GEMMVariantTests: XCTestCase {
    private func backend(_ precision: StoragePrecision) throws -> VulkanBackend {
        _ = try VulkanTestSupport.backend()   // skips without a device
        var options = FusionOptions.current
        options.vulkan.precision = precision
        options.vulkan.kernels = "tiled"
        do {
            return try VulkanBackend(validation: options.requireValidation ? true : nil, options: options)
        } catch where precision == .fp16 {
            throw XCTSkip("no fp16 storage on this device: \(error)")
        }
    }

    private func sweep(_ precision: StoragePrecision) throws {
        let gpu = try backend(precision)
        let cpu = CPUBackend()
        cpu.winograd = false
        let supported = GemmVariant.supported(on: gpu.context.info, precision: precision)
        XCTAssertFalse(supported.isEmpty, "no GEMM variant runs on \(gpu.deviceDescription)")
        let results = try GemmVariantParity.run(gpu: gpu, cpu: cpu) { r in
            print(String(format: "[gemm-variant] %@ %@ splits %d %@: max |err| %.2e scale %.2f", r.variant, r.precision.rawValue, r.splits, r.caseName, r.maxAbsError, r.scale))
            XCTAssert(r.passed, "\(r.variant) \(r.precision) splits \(r.splits) \(r.caseName): max |err| \(r.maxAbsError) > \(r.tolerance) x \(r.scale)")
        }
        XCTAssertEqual(Set(results.map(\.variant)), Set(supported.map(\.name)), "every supported variant is checked")
        XCTAssertEqual(results.count, supported.count * GemmVariantParity.splitCounts.count * (try GemmVariantParity.cases()).count)
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }

    func testEveryVariantFP32() throws { try sweep(.fp32) }

    func testEveryVariantFP16() throws { try sweep(.fp16) }

    /// A broken variant must fail the sweep: a forced choice with the wrong result would
    /// otherwise go unnoticed. Checked by comparing a split run against a deliberately
    /// wrong reference (the CPU result scaled by 1.01).
    func testSweepDetectsAWrongResult() throws {
        let gpu = try backend(.fp32)
        let c = try XCTUnwrap(try GemmVariantParity.cases().first)
        let expected = try CPUBackend().run(c.graph, inputs: c.inputs)["y"]!
        let v = try XCTUnwrap(GemmVariant.supported(on: gpu.context.info, precision: .fp32).first)
        let got = try GemmChoiceOverride.with(GemmChoice(variant: v, splits: 3)) { try gpu.prepare(c.graph).run(c.inputs)["y"]! }
        XCTAssertLessThanOrEqual(VulkanTestSupport.maxAbsDifference(got, expected), 1e-4)
        let wrong = Tensor(shape: expected.shape, floats: expected.floats.map { $0 * 1.01 })
        XCTAssertGreaterThan(VulkanTestSupport.maxAbsDifference(got, wrong), 1e-3)
    }

    /// FUSIONKIT_GEMM_VARIANT: a known name forces that variant (same result as the CPU),
    /// an unknown one is an error naming the variable and the known names.
    func testVariantKnob() throws {
        _ = try VulkanTestSupport.backend()
        let g = Graph()
        let a = g.input("a", shape: [40, 24])
        let b = g.constant(Tensor.random(shape: [24, 30], seed: 3))
        g.output("y", try g.matmul(a, b))
        let inputs = ["a": Tensor.random(shape: [40, 24], seed: 4)]
        let expected = try CPUBackend().run(g, inputs: inputs)["y"]!
        var options = FusionOptions.current
        options.vulkan.kernels = "tiled"
        options.vulkan.gemmVariant = "b32x32k16t4x4"
        let forced = try VulkanBackend(validation: options.requireValidation ? true : nil, options: options)
        XCTAssertLessThanOrEqual(VulkanTestSupport.maxAbsDifference(try forced.prepare(g).run(inputs)["y"]!, expected), 1e-4)
        options.vulkan.gemmVariant = "no-such-variant"
        let bad = try VulkanBackend(validation: options.requireValidation ? true : nil, options: options)
        XCTAssertThrowsError(try bad.prepare(g).run(inputs)) { error in
            XCTAssert("\(error)".contains("FUSIONKIT_GEMM_VARIANT"), "\(error)")
            XCTAssert("\(error)".contains("b64x64k16t8x8"), "\(error)")
        }
        XCTAssertNoThrow(try FusionEnvironment.validate(["FUSIONKIT_GEMM_VARIANT": "b64x64k16t8x8"]))
        XCTAssertThrowsError(try FusionEnvironment.validate(["FUSIONKIT_GEMM_VARIANT": "b64 x64"]))
    }

    /// The table is one list with unique names, each within Vulkan's guaranteed limits or
    /// marked unsupported with a reason; cooperative-matrix variants are never chosen on a
    /// device without them.
    func testVariantTable() throws {
        XCTAssertEqual(Set(GemmVariant.all.map(\.name)).count, GemmVariant.all.count)
        for v in GemmVariant.all {
            XCTAssertEqual(v.bm % v.tm, 0, v.name)
            XCTAssertEqual(v.bn % v.tn, 0, v.name)
            XCTAssertEqual(v.bk % 4, 0, v.name)
            // Plain variants fit lavapipe's 32 KiB, so CI checks every one of them.
            if !v.cooperativeMatrix { XCTAssertLessThanOrEqual(v.sharedBytes, 32768, v.name) }
        }
        let gpu = try VulkanBackend.shared()
        let info = gpu.context.info
        for precision in [StoragePrecision.fp32, .fp16] {
            for m in [1, 12, 100, 1000] {
                let key = GemmShapeKey(kind: .gemm, m: m, n: m, k: 4096, batch: 1, fp16: precision == .fp16)
                let choice = GemmVariant.defaultChoice(for: key, on: info, precision: precision)
                XCTAssert(choice.variant.isSupported(on: info, precision: precision))
                XCTAssertFalse(choice.variant.cooperativeMatrix && !info.cooperativeMatrix)
                XCTAssertGreaterThanOrEqual(choice.splits, 1)
            }
        }
    }
}

extension GEMMVariantTests {
    /// Every cooperative-matrix variant has its plain twin in the table (the twin shares the
    /// tiling and is what the sweep checks where the device has no cooperative matrices),
    /// the GEMM_COOPMAT builds of both kernels compile with the engine's shader compiler
    /// (GL_NV_cooperative_matrix), and no device without the extension or fp16 storage gets
    /// a cooperative-matrix choice.
    func testCooperativeMatrixTwins() throws {
        let gpu = try VulkanTestSupport.backend()
        XCTAssertFalse(GemmVariant.coopmatVariants.isEmpty)
        for v in GemmVariant.coopmatVariants {
            let twin = try XCTUnwrap(GemmVariant.named(v.name + "-plain"), "\(v.name) has no plain twin")
            XCTAssertFalse(twin.cooperativeMatrix)
            XCTAssertEqual([twin.bm, twin.bn, twin.bk, twin.tm, twin.tn], [v.bm, v.bn, v.bk, v.tm, v.tn])
            XCTAssertEqual(v.threads, 32 * (v.bm / v.wm) * (v.bn / v.wn), "\(v.name): one subgroup of 32 per warp tile")
            XCTAssertEqual(v.bk % 16, 0, v.name)
            XCTAssertLessThanOrEqual(v.sharedBytes, 48 * 1024, v.name)
            XCTAssertNotNil(v.unsupportedReason(on: gpu.context.info, precision: .fp32), "coopmat needs fp16 storage")
        }
        for shader in ["gemm_tiled.comp", "conv2d_gemm.comp"] {
            for extra in [[], [("SPLIT_K", "1")], [("EPILOGUE", "1"), ("EPI_OPERANDS", "2")]] {
                let compiled = try gpu.context.shaderCompiler.compile(shader: shader, defines: [("GEMM_COOPMAT", "1"), ("FK_FP16", "1")] + extra)
                XCTAssertFalse(compiled.spirv.isEmpty, "\(shader) \(extra)")
            }
        }
        let info = gpu.context.info
        if !info.extensions.contains("VK_NV_cooperative_matrix") {
            XCTAssertTrue(GemmVariant.supported(on: info, precision: .fp16).allSatisfy { !$0.cooperativeMatrix })
            XCTAssertFalse(gpu.context.enabledFeatures.cooperativeMatrixNV)
        }
    }
}

extension GEMMVariantTests {
    /// `fusion parity --ops` sweeps and lists every variant the device runs, fp32 and fp16;
    /// `fusion devices` shows cooperative-matrix support and the runnable variants.
    func testParityAndDevicesListTheVariants() throws {
        let gpu = try VulkanTestSupport.backend()
        let parity = try FusionCLI.run(["parity", "--ops", "--op", "matmul"])
        XCTAssertEqual(parity.status, 0, parity.err)
        XCTAssertFalse(parity.err.contains("[vulkan validation]"), parity.err)
        let supported = GemmVariant.supported(on: gpu.context.info, precision: .fp32)
        XCTAssert(parity.out.contains("variants checked: \(supported.count) "), parity.out)
        for v in supported {
            XCTAssert(parity.out.contains("\(v.name) "), "\(v.name) missing from:\n\(parity.out)")
        }
        let skipped = try FusionCLI.run(["parity", "--ops", "--op", "matmul", "--no-variants"])
        XCTAssertEqual(skipped.status, 0, skipped.err)
        XCTAssertFalse(skipped.out.contains("variants checked"), skipped.out)
        let devices = try FusionCLI.run(["devices"])
        XCTAssertEqual(devices.status, 0, devices.err)
        XCTAssert(devices.out.contains("cooperativeMatrix "), devices.out)
        XCTAssert(devices.out.contains("GEMM/conv variants (fp32): "), devices.out)
    }
}

private extension VulkanBackend {
    static func shared() throws -> VulkanBackend { try VulkanTestSupport.backend() }
}
