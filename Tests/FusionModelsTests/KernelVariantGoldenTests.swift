import FusionCore
import FusionEngine
import FusionParity
import FusionTestSupport
import FusionVulkan
import XCTest

/// Every kernel variant the tuner can choose, forced for a whole network, reproduces golden
/// cases of the original code: each register-tiled GEMM / implicit-GEMM conv variant (and the
/// plain twin of each cooperative-matrix one) on Text-IF and TextFusion through the tiled
/// kernel set, each attention variant on the CLIP text tower and RFC's CLIP vision tower.
/// `fusion parity --ops` checks the same variants op by op; this checks them in the networks.
final class KernelVariantGoldenTests: XCTestCase {
    /// A Vulkan backend with the GPU's tiled kernels (lavapipe's default is the direct set).
    private func tiledBackend() throws -> SelectedBackend {
        _ = try VulkanTestBackend.open()   // skips without a device
        var options = FusionOptions.current
        options.vulkan.kernels = "tiled"
        return try SelectedBackend.open(.vulkan, options: options)
    }

    private func check(_ cases: [String], on backend: SelectedBackend, label: String) throws {
        let runner = GoldenRunner(backend: backend)   // a fresh runner: prepared under the forced variant
        for name in cases {
            let r = try runner.run(TestData.path("golden/\(name).safetensors"))
            print("[variant golden] \(label) \(name): max |err| \(r.maxAbsError), rel L2 \(r.relativeL2Error), \(String(format: "%.2f", r.seconds)) s")
            XCTAssertTrue(r.passed, "\(label) \(name): \(r.criterion) failed: max |err| \(r.maxAbsError) \(r.detail)")
        }
    }

    func testEveryGemmVariantReproducesTheGoldens() throws {
        let selected = try tiledBackend()
        let gpu = try XCTUnwrap(selected.backend as? VulkanBackend)
        let variants = GemmVariant.supported(on: gpu.context.info, precision: .fp32)
        XCTAssertFalse(variants.isEmpty)
        for v in variants {
            try GemmChoiceOverride.with(GemmChoice(variant: v, splits: 1)) {
                try check(["textif_dim8_32x48", "textfusion_64x64"], on: selected, label: v.name)
            }
        }
        // K splits in a whole network (every GEMM and conv split in three).
        try GemmChoiceOverride.with(GemmChoice(variant: variants[0], splits: 3)) {
            try check(["textif_dim8_32x48"], on: selected, label: "\(variants[0].name) 3 splits")
        }
        // The override reaches the networks' kernels: a variant the device cannot run fails.
        if let unrunnable = GemmVariant.all.first(where: { !variants.contains($0) }) {
            XCTAssertThrowsError(try GemmChoiceOverride.with(GemmChoice(variant: unrunnable, splits: 1)) {
                try GoldenRunner(backend: selected).run(TestData.path("golden/textif_dim8_32x48.safetensors"))
            }) { XCTAssertTrue("\($0)".contains(unrunnable.name), "\($0)") }
        }
        VulkanTestBackend.assertNoValidationMessages(selected)
    }

    func testEveryAttentionVariantReproducesTheGoldens() throws {
        let selected = try tiledBackend()
        let gpu = try XCTUnwrap(selected.backend as? VulkanBackend)
        let variants = AttentionVariantParity.runnable(on: gpu)
        XCTAssertFalse(variants.isEmpty)
        for v in variants {
            try AttentionVariantOverride.with(v) {
                try check(["clip_text", "rfc_clip_vision"], on: selected, label: v.name)
            }
        }
        if let unrunnable = AttentionVariant.all.first(where: { !variants.contains($0) }) {
            XCTAssertThrowsError(try AttentionVariantOverride.with(unrunnable) {
                try GoldenRunner(backend: selected).run(TestData.path("golden/clip_text.safetensors"))
            }) { XCTAssertTrue("\($0)".contains(unrunnable.name), "\($0)") }
        }
        VulkanTestBackend.assertNoValidationMessages(selected)
    }
}
