import Foundation
import FusionCore
import FusionCPU
import FusionParity
import FusionTestSupport
@testable import FusionVulkan
import XCTest

/// fp16 storage on Vulkan (`FusionOptions.vulkan.precision = .fp16`): every op of the op
/// catalogue against the fp32 CPU reference (binding splits included), byte sizes of the
/// planner and the traffic model, host conversion of inputs and outputs, and the CLI's
/// `--precision` option.
final class Float16StorageTests: XCTestCase {
    /// Allowed max |err| as a fraction of the output's scale for one op in fp16 storage
    /// (inputs and weights rounded to fp16, the output rounded once more).
    static let opTolerance: Float = 2e-2

    private static let shared: Result<VulkanBackend, Error> = Result {
        var options = FusionOptions.current
        options.vulkan.precision = .fp16
        return try VulkanBackend(validation: options.requireValidation ? true : nil, options: options)
    }

    private func backend() throws -> VulkanBackend {
        switch Self.shared {
        case let .success(b): return b
        case let .failure(error):
            if FusionOptions.current.requireVulkan { throw error }
            throw XCTSkip("no Vulkan device with fp16 storage (\(error))")
        }
    }

    func testEveryOpFamilyInFP16() throws {
        let gpu = try backend()
        XCTAssertEqual(gpu.precision, .fp16)
        let runner = ParityRunner(reference: CPUBackend(), candidate: gpu)
        var worst: (Float, String) = (0, "")
        for family in OpFamily.allCases {
            for c in try OpCatalogue.testCases(family) where !c.isLarge {
                HeavyOpsTuning.splitBytesOverride = c.splitBytes
                defer { HeavyOpsTuning.splitBytesOverride = nil }
                let r = runner.run(c)
                let relative = r.maxAbsError / r.scale
                if relative > worst.0 { worst = (relative, "\(r.op) \(r.shapes)") }
                print("[fp16] \(r.op) \(r.shapes): max |err| \(r.maxAbsError) scale \(r.scale) (\(relative) of scale)")
                XCTAssert(relative <= Self.opTolerance, "\(r.op) \(r.shapes): max |err| \(r.maxAbsError), scale \(r.scale)"
                          + (r.failure.map { "; \($0)" } ?? ""))
                VulkanTestSupport.assertNoValidationMessages(gpu)
            }
        }
        print("[fp16] worst op error: \(worst.0) of scale (\(worst.1))")
    }

    /// Inputs and outputs stay f32 for the caller; i32 token ids stay i32; values round to fp16.
    func testInputsAndOutputsStayFloat32() throws {
        let gpu = try backend()
        let g = Graph()
        let x = g.input("x", shape: [1, 3, 5, 7])
        let y = try g.add(x, x)
        g.output("y", y)
        g.output("x", try g.reshape(x, [105]))
        let exe = try gpu.prepare(g)
        let input = Tensor(shape: [1, 3, 5, 7], floats: (0..<105).map { Float($0) * 0.37 + 1e-3 })
        let out = try exe.run(["x": input])
        let yOut = try XCTUnwrap(out["y"])
        XCTAssertEqual(yOut.dtype, .f32)
        XCTAssertEqual(try XCTUnwrap(out["x"]).dtype, .f32)
        for i in 0..<105 {
            let rounded = Float(Float16(input.floats[i]))
            XCTAssertEqual(yOut.floats[i], Float(Float16(rounded * 2)), "element \(i)")
        }
        let vulkan = try XCTUnwrap(exe as? VulkanExecutable)
        XCTAssertEqual(vulkan.precision, .fp16)
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }

    func testPlannerAndTrafficCountTwoBytesPerFloat() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 4, 8, 8])
        let y = try g.conv2d(x, weight: g.constant(Tensor(shape: [6, 4, 3, 3])), Conv2DAttributes(padding: 1))
        let z = try g.relu(y)
        g.output("z", try g.add(z, y))
        let full = try MemoryPlanner.plan(g, alignment: 4)
        let half = try MemoryPlanner.plan(g, alignment: 4, precision: .fp16)
        XCTAssertEqual(half.peakLiveBytes * 2, full.peakLiveBytes)
        XCTAssertEqual(GraphTraffic.bytes(g, storageBytes: 2) * 2, GraphTraffic.bytes(g))
        XCTAssertEqual(GraphTraffic.bytes(g, precision: .fp16), GraphTraffic.bytes(g, storageBytes: 2))
        XCTAssertEqual(GraphTraffic.bytes(g, precision: .fp32), GraphTraffic.bytes(g))
        XCTAssertEqual(StoragePrecision.fp16.storageType(of: .i32), .i32)
        XCTAssertEqual(StoragePrecision.fp16.storageType(of: .f32), .f16)
        XCTAssertEqual(FusionOptions(environment: ["FUSIONKIT_PRECISION": "fp16"]).vulkan.precision, .fp16)
        XCTAssertEqual(FusionOptions(environment: [:]).vulkan.precision, .fp32)
        XCTAssertEqual(StoragePrecision.fp16RequiredFeatures.map(\.vulkanName), ["shaderFloat16", "storageBuffer16BitAccess"])
    }

    func testBenchReportsFP16BytesAndCPURefusesFP16() throws {
        _ = try backend()
        let r = try FusionCLI.run(["bench", "--model", "textfusion", "--size", "32x40", "--backend", "vulkan", "--precision", "fp16",
                                   "--json", "--repeat", "1", "--warmup", "0", "--no-peak"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertFalse(r.err.contains("[vulkan validation]"), r.err)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let result = try XCTUnwrap((json["results"] as? [[String: Any]])?.first)
        XCTAssertEqual(result["precision"] as? String, "fp16")
        let half = try XCTUnwrap(result["gbytes"] as? Double)
        let r32 = try FusionCLI.run(["bench", "--model", "textfusion", "--size", "32x40", "--backend", "cpu", "--json", "--repeat", "1",
                                     "--warmup", "0", "--no-peak"])
        XCTAssertEqual(r32.status, 0, r32.err)
        let json32 = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r32.out.utf8)) as? [String: Any])
        let full = try XCTUnwrap(((json32["results"] as? [[String: Any]])?.first)?["gbytes"] as? Double)
        XCTAssertLessThan(half, full * 0.51)
        XCTAssertGreaterThan(half, full * 0.49)

        for command in [["bench", "--model", "textfusion", "--size", "32x40"], ["profile", "--model", "textfusion", "--size", "32x40"]] {
            let bad = try FusionCLI.run(command + ["--backend", "cpu", "--precision", "fp16"])
            XCTAssertNotEqual(bad.status, 0)
            XCTAssertTrue(bad.err.contains("--precision fp16 applies to the Vulkan backend"), bad.err)
        }
        let unknown = try FusionCLI.run(["bench", "--model", "textfusion", "--precision", "fp8"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.err.contains("precision"), unknown.err)
    }
}
