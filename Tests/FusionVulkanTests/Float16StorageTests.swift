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
    /// Allowed max |err| as a fraction of the output's scale for one op in fp16 storage,
    /// given fp16-rounded inputs and weights: the output's own rounding (2^-11 = 4.9e-4)
    /// and fp16 intermediates (attention scores, split-K partial sums). Measured worst on
    /// lavapipe: 8.1e-4 (a split GEMM).
    static let opTolerance: Float = 4e-3

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

    /// Every op of the op catalogue (large cases aside, binding splits included) on Vulkan
    /// fp16 against the CPU. fp16 storage rounds every input and weight once: the reference
    /// gets the same rounded values, so the comparison measures the kernels (fp32
    /// arithmetic, fp16 intermediates and output rounding), not how badly an op is
    /// conditioned (a LayerNorm over two channels turns a 5e-4 input rounding into an O(1)
    /// output change). Cases with values beyond fp16's range (65504) are skipped.
    func testEveryOpFamilyInFP16() throws {
        let gpu = try backend()
        XCTAssertEqual(gpu.precision, .fp16)
        let cpu = CPUBackend()
        var worst: (Float, String) = (0, "")
        var checked = 0
        func roundToHalf(_ t: Tensor) { let f = t.floats; for i in 0..<f.count { f[i] = Float(Float16(f[i])) } }
        func floats(_ t: Tensor) -> [Float] { t.dtype == .i32 ? t.int32s.map(Float.init) : Array(t.floats) }
        for family in OpFamily.allCases {
            for c in try OpCatalogue.testCases(family) where !c.isLarge {
                let inputs = c.makeInputs()
                var tensors = inputs.values.filter { $0.dtype == .f32 }
                for info in c.graph.values { if case let .constant(t) = info.kind, t.dtype == .f32 { tensors.append(t) } }
                if tensors.contains(where: { $0.floats.contains { !($0.magnitude <= 65504) } }) {
                    print("[fp16] skipped \(c.op) \(c.shapes): values beyond fp16's range")
                    continue
                }
                tensors.forEach(roundToHalf)
                HeavyOpsTuning.splitBytesOverride = c.splitBytes
                defer { HeavyOpsTuning.splitBytesOverride = nil }
                let expected = try cpu.run(c.graph, inputs: inputs)
                let actual: [String: Tensor]
                do { actual = try gpu.run(c.graph, inputs: inputs) } catch {
                    XCTFail("\(c.op) \(c.shapes): \(error)")
                    continue
                }
                var maxErr: Float = 0, scale: Float = 1
                for (name, e) in expected {
                    guard let a = actual[name], a.shape == e.shape, a.dtype == e.dtype else {
                        XCTFail("\(c.op) \(c.shapes): output \(name) missing or mis-shaped")
                        continue
                    }
                    for (x, y) in zip(floats(e), floats(a)) {
                        let d = abs(x - y)
                        maxErr = d.isNaN ? .infinity : max(maxErr, d)
                        if x.isFinite { scale = max(scale, abs(x)) }
                    }
                }
                checked += 1
                let relative = maxErr / scale
                if relative > worst.0 { worst = (relative, "\(c.op) \(c.shapes)") }
                print("[fp16] \(c.op) \(c.shapes): max |err| \(maxErr) scale \(scale) (\(relative) of scale)")
                XCTAssert(relative <= Self.opTolerance, "\(c.op) \(c.shapes): max |err| \(maxErr), scale \(scale)")
                VulkanTestSupport.assertNoValidationMessages(gpu)
            }
        }
        print("[fp16] \(checked) cases; worst op error: \(worst.0) of scale (\(worst.1))")
        XCTAssertGreaterThan(checked, 100)
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

    /// A device without shaderFloat16 or storageBuffer16BitAccess: an error naming them.
    func testDeviceWithoutTheFeaturesIsAClearError() throws {
        let info = try backend().context.info
        XCTAssertNoThrow(try VulkanContext.checkPrecision(.fp16, on: info))
        var lacking = info
        lacking.shaderFloat16 = false
        XCTAssertNoThrow(try VulkanContext.checkPrecision(.fp32, on: lacking))
        XCTAssertThrowsError(try VulkanContext.checkPrecision(.fp16, on: lacking)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("requires shaderFloat16 and storageBuffer16BitAccess") && text.contains("lacks shaderFloat16"), text)
        }
        lacking.storageBuffer16BitAccess = false
        XCTAssertThrowsError(try VulkanContext.checkPrecision(.fp16, on: lacking)) { error in
            XCTAssertTrue("\(error)".contains("lacks shaderFloat16 and storageBuffer16BitAccess"), "\(error)")
        }
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

extension Float16StorageTests {
    /// `fusion parity --ops --precision fp16`: every case of the chosen ops on an fp16-storing
    /// candidate against the fp32 reference on the same rounded values, under the families'
    /// fp16 tolerances; a kernel off by 0.1 (`--break-op`) fails.
    func testOpParityFP16ReportsAndCatchesABrokenKernel() throws {
        _ = try backend()
        let ops = ["--op", "relu", "--op", "conv2d", "--op", "softmax", "--op", "attention", "--no-variants"]
        let r = try FusionCLI.run(["parity", "--ops", "--precision", "fp16"] + ops)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertFalse(r.err.contains("[vulkan validation]"), r.err)
        XCTAssert(r.out.contains("fp16 storage"), r.out)
        XCTAssert(r.out.contains("pointwise \(OpFamily.pointwise.fp16Tolerance)"), r.out)
        XCTAssertFalse(r.out.contains("FAIL"), r.out)
        let passed = try XCTUnwrap(r.out.split(separator: "\n").last { $0.hasSuffix("failed") })
        XCTAssert(passed.hasSuffix(" 0 failed") && !passed.hasPrefix("0 passed"), String(passed))

        let broken = try FusionCLI.run(["parity", "--ops", "--precision", "fp16", "--op", "relu", "--break-op", "relu"])
        XCTAssertNotEqual(broken.status, 0, broken.out)
        XCTAssert(broken.out.contains("FAIL"), broken.out)
        XCTAssert(broken.out.contains("'relu' broken"), broken.out)
    }
}
