import Foundation
import FusionCore
import FusionCPU
import FusionParity
import FusionTestSupport
@testable import FusionVulkan
import XCTest

/// The attention variants (`AttentionVariant.all`): every one the device can run, fp32 and
/// fp16 storage, on odd sizes, broadcast biases, causal masks, head-dim chunks, dv slices,
/// key splits and fully masked rows (`AttentionVariantParity`), against the CPU; the
/// cooperative-matrix twins' builds; and the choice knobs.
final class AttentionVariantTests: XCTestCase {
    private func backend(_ precision: StoragePrecision) throws -> VulkanBackend {
        _ = try VulkanTestSupport.backend()   // skips without a device
        var options = FusionOptions.current
        options.vulkan.precision = precision
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
        let runnable = AttentionVariantParity.runnable(on: gpu)
        XCTAssert(runnable.contains { $0.kernel == .tiled }, "no tiled attention variant runs on \(gpu.deviceDescription)")
        let results = try AttentionVariantParity.run(gpu: gpu, cpu: cpu) { r in
            print(String(format: "[attention-variant] %@ %@ %@: max |err| %.2e scale %.2f", r.variant, r.precision.rawValue, r.caseName, r.maxAbsError, r.scale))
            XCTAssert(r.passed, "\(r.variant) \(r.precision) \(r.caseName): max |err| \(r.maxAbsError) > \(r.tolerance) x \(r.scale)")
        }
        XCTAssertEqual(Set(results.map(\.variant)), Set(runnable.map(\.name)), "every runnable variant is checked")
        XCTAssertEqual(results.count, runnable.count * (try AttentionVariantParity.cases()).count)
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }

    func testEveryVariantFP32() throws { try sweep(.fp32) }

    func testEveryVariantFP16() throws { try sweep(.fp16) }

    /// A broken variant must fail the sweep: the tiled result matches the CPU, and differs
    /// from a deliberately wrong reference (the CPU result scaled by 1.01).
    func testSweepDetectsAWrongResult() throws {
        let gpu = try backend(.fp32)
        let c = try XCTUnwrap(try AttentionVariantParity.cases().first)
        let expected = try CPUBackend().run(c.graph, inputs: c.inputs)["y"]!
        let v = try XCTUnwrap(AttentionVariantParity.runnable(on: gpu).first { $0.kernel == .tiled })
        let got = try AttentionVariantOverride.with(v) { try gpu.prepare(c.graph).run(c.inputs)["y"]! }
        XCTAssertLessThanOrEqual(VulkanTestSupport.maxAbsDifference(got, expected), 1e-5)
        let wrong = Tensor(shape: expected.shape, floats: expected.floats.map { $0 * 1.01 })
        XCTAssertGreaterThan(VulkanTestSupport.maxAbsDifference(got, wrong), 1e-3)
    }

    /// FUSIONKIT_ATTENTION_VARIANT: a known name forces that variant (same result as the
    /// CPU), an unknown one is an error naming the variable and the known names.
    func testVariantKnob() throws {
        _ = try VulkanTestSupport.backend()
        let c = try XCTUnwrap(try AttentionVariantParity.cases().first)
        let expected = try CPUBackend().run(c.graph, inputs: c.inputs)["y"]!
        var options = FusionOptions.current
        options.vulkan.attentionVariant = "t32x32d32r2x4"
        let forced = try VulkanBackend(validation: options.requireValidation ? true : nil, options: options)
        XCTAssertLessThanOrEqual(VulkanTestSupport.maxAbsDifference(try forced.prepare(c.graph).run(c.inputs)["y"]!, expected), 1e-5)
        VulkanTestSupport.assertNoValidationMessages(forced)
        options.vulkan.attentionVariant = "no-such-variant"
        let bad = try VulkanBackend(validation: options.requireValidation ? true : nil, options: options)
        XCTAssertThrowsError(try bad.prepare(c.graph).run(c.inputs)) { error in
            XCTAssert("\(error)".contains("FUSIONKIT_ATTENTION_VARIANT"), "\(error)")
            XCTAssert("\(error)".contains("t64x32d32r4x4"), "\(error)")
        }
        XCTAssertNoThrow(try FusionEnvironment.validate(["FUSIONKIT_ATTENTION_VARIANT": "flash-scalar"]))
        XCTAssertThrowsError(try FusionEnvironment.validate(["FUSIONKIT_ATTENTION_VARIANT": "t32 x32"]))
    }

    /// The table is one list with unique names; tiled variants' tiles divide their blocks,
    /// and plain ones fit lavapipe's 32 KiB, so CI checks each of them.
    func testVariantTable() throws {
        XCTAssertEqual(Set(AttentionVariant.all.map(\.name)).count, AttentionVariant.all.count)
        for v in AttentionVariant.all where v.kernel == .tiled {
            XCTAssertEqual(v.bq % v.tm, 0, v.name)
            XCTAssertEqual(v.bk % v.tn, 0, v.name)
            XCTAssertEqual(v.bk % 4, 0, v.name)
            XCTAssertEqual(v.dk % 4, 0, v.name)
            if !v.cooperativeMatrix { XCTAssertLessThanOrEqual(v.sharedBytes, 32768, v.name) }
        }
    }

    /// Every cooperative-matrix variant has its plain twin in the table; the ATTN_COOPMAT
    /// builds compile with the engine's shader compiler (GL_NV_cooperative_matrix), with and
    /// without bias, mask and key splits; no device without the extension or fp16 storage
    /// can run one.
    func testCooperativeMatrixTwins() throws {
        let gpu = try VulkanTestSupport.backend()
        XCTAssertFalse(AttentionVariant.coopmatVariants.isEmpty)
        for v in AttentionVariant.coopmatVariants {
            let twin = try XCTUnwrap(AttentionVariant.named(v.name + "-plain"), "\(v.name) has no plain twin")
            XCTAssertFalse(twin.cooperativeMatrix)
            XCTAssertEqual([twin.bq, twin.bk, twin.dk, twin.tm, twin.tn], [v.bq, v.bk, v.dk, v.tm, v.tn])
            XCTAssertEqual(v.threads, 32 * (v.bq / v.wm) * (v.bk / v.wn), "\(v.name): one subgroup of 32 per warp tile")
            XCTAssertEqual(v.bk % 16, 0, v.name)
            XCTAssertEqual(v.dk % 16, 0, v.name)
            XCTAssertLessThanOrEqual(v.sharedBytes, 48 * 1024, v.name)
            XCTAssertNotNil(v.unsupportedReason(on: gpu.context.info, precision: .fp32), "coopmat needs fp16 storage")
        }
        let compiled = try gpu.context.shaderCompiler.compile(shader: "attention_tiled.comp", defines: [("ATTN_COOPMAT", "1"), ("FK_FP16", "1")])
        XCTAssertFalse(compiled.spirv.isEmpty)
        let info = gpu.context.info
        if !info.extensions.contains("VK_NV_cooperative_matrix") {
            XCTAssertTrue(AttentionVariant.supported(on: info, precision: .fp16).allSatisfy { !$0.cooperativeMatrix })
        }
    }

    /// The tuner times the attention variants per attention problem (the default first, so
    /// the winner is never slower), and the table stores, reloads and returns the winner.
    func testTunerTimesTheAttentionVariants() throws {
        let gpu = try backend(.fp32)
        let c = try XCTUnwrap(try AttentionVariantParity.cases().first)
        var tuner = GemmTuner(backend: gpu)
        tuner.repeats = 1
        tuner.maxCandidates = 3
        let outcomes = try tuner.tuneAttention(graph: try gpu.optimized(c.graph), inputs: c.inputs)
        XCTAssertEqual(outcomes.count, 1, "one attention problem")
        let o = try XCTUnwrap(outcomes.first)
        XCTAssertEqual(o.key, AttentionShapeKey(batch: 2, nq: 37, nk: 53, d: 24, dv: 20, bias: true, causal: false, fp16: false))
        XCTAssertEqual(o.candidates, 3)
        XCTAssertEqual(o.defaultChoice, AttentionVariant.defaultChoice(directKernels: gpu.context.usesDirectKernels))
        XCTAssertLessThanOrEqual(o.bestMicroseconds, o.defaultMicroseconds)
        let table = tuner.table([], attention: outcomes, merging: nil)
        XCTAssertEqual(table.attentionVariant(for: o.key), o.best)
        let url = try makeTemporaryDirectory("attention-tuning").appendingPathComponent("table.json")
        try table.write(to: url)
        XCTAssertEqual(GemmTuningTable.load(from: url, for: gpu.context.info).table, table)
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }

    /// `fusion parity --ops --op attention` sweeps and lists every attention variant the
    /// device runs.
    func testParityListsTheVariants() throws {
        let gpu = try VulkanTestSupport.backend()
        let parity = try FusionCLI.run(["parity", "--ops", "--op", "attention"])
        XCTAssertEqual(parity.status, 0, parity.err)
        XCTAssertFalse(parity.err.contains("[vulkan validation]"), parity.err)
        let runnable = AttentionVariantParity.runnable(on: gpu)
        XCTAssert(parity.out.contains("attention variants checked: \(runnable.count) "), parity.out)
        for v in runnable {
            XCTAssert(parity.out.contains("\(v.name) "), "\(v.name) missing from:\n\(parity.out)")
        }
    }
}
