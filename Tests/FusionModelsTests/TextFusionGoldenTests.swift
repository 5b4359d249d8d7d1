import FusionCore
import FusionCPU
import FusionEngine
import FusionIO
import FusionModels
import FusionTestSupport
import FusionVulkan
import XCTest

/// TextFusion against the original PyTorch outputs (golden cases), on both backends.
final class TextFusionGoldenTests: XCTestCase {
    static let networkCases = ["textfusion_64x64", "textfusion_97x131", "textfusion_256x320", "textfusion_1024x1280"]

    private func check(_ runner: GoldenRunner, _ name: String) throws {
        let r = try runner.run(TestData.path("golden/\(name).safetensors"))
        print("\(name) on \(r.backend): max |err| \(r.maxAbsError), rel L2 \(r.relativeL2Error), \(String(format: "%.2f", r.seconds)) s \(r.detail)")
        XCTAssertTrue(r.passed, "\(name) on \(r.backend): \(r.criterion) failed: max |err| \(r.maxAbsError) \(r.detail)")
    }

    func testEveryCaseOnCPU() throws {
        let runner = GoldenRunner(backend: try SelectedBackend.open(.cpu))
        for name in Self.networkCases + ["textfusion_rgb_1024x1280"] { try check(runner, name) }
    }

    /// lavapipe takes minutes at 1024x1280: that case runs with FUSIONKIT_LARGE_TESTS=1 (CI).
    func testCasesOnVulkan() throws {
        let runner = GoldenRunner(backend: try VulkanTestBackend.open())
        let large = FusionOptions.current.largeTests
        for name in Self.networkCases where large || !name.contains("1024") { try check(runner, name) }
        if !large { print("SKIP: textfusion_1024x1280 on Vulkan (set FUSIONKIT_LARGE_TESTS=1)") }
    }

    func testUnsupportedKindIsAnErrorNotAPass() throws {
        let runner = GoldenRunner(backend: try SelectedBackend.open(.cpu))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fk-unsupported-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafetensorsWriter.write([(name: "output", tensor: Tensor(shape: [1]))], metadata: ["json": #"{"kind": "no-such-model"}"#], to: path)
        XCTAssertThrowsError(try runner.run(path)) { error in
            XCTAssertTrue("\(error)".contains("not supported"), "\(error)")
        }
    }
}

/// The Vulkan backend for model tests: a failure (not a skip) when CI requires Vulkan.
enum VulkanTestBackend {
    /// No Vulkan validation message came from `selected`'s device (nothing to check on the CPU).
    static func assertNoValidationMessages(_ selected: SelectedBackend, file: StaticString = #filePath, line: UInt = #line) {
        guard let vulkan = selected.backend as? VulkanBackend else { return }
        let messages = vulkan.context.validationMessages
        XCTAssert(messages.isEmpty, "validation messages:\n" + messages.prefix(5).joined(separator: "\n"), file: file, line: line)
    }

    static func open() throws -> SelectedBackend {
        do {
            return try SelectedBackend.open(.vulkan)
        } catch {
            if FusionOptions.current.requireVulkan { throw error }
            print("SKIP: no Vulkan device: \(error)")
            throw XCTSkip("no Vulkan device: \(error)")
        }
    }
}
