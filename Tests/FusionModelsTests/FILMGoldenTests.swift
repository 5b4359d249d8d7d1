import FusionCore
import FusionCPU
import FusionEngine
import FusionIO
import FusionModels
import FusionTestSupport
import XCTest

/// IF-FILM against the original `net/Film.py` (random weights in the released format).
final class FILMGoldenTests: XCTestCase {
    func check(_ backend: SelectedBackend, _ names: [String]) throws {
        let runner = GoldenRunner(backend: backend)
        for name in names {
            let r = try runner.run(TestData.path("golden/\(name).safetensors"))
            print("\(name) on \(r.backend): max |err| \(r.maxAbsError), rel L2 \(r.relativeL2Error); \(r.detail) (\(String(format: "%.1f", r.seconds)) s)")
            XCTAssertTrue(r.passed, "\(name) on \(r.backend): max |err| \(r.maxAbsError); \(r.detail)")
        }
    }

    func testGoldenCasesOnCPU() throws {
        try check(try SelectedBackend.open(.cpu), ["film_64x80", "film_97x131"])
    }

    func testGoldenCasesOnVulkan() throws {
        try check(try VulkanTestBackend.open(), ["film_64x80", "film_97x131"])
    }

    /// 480x640 (about 100 GMAC; about 10 s on 2 CPU threads); on lavapipe it checks the
    /// 128 MiB binding limit.
    func testLargeGoldenCaseOnCPU() throws {
        try check(try SelectedBackend.open(.cpu), ["film_480x640"])
    }

    /// About 4 minutes on lavapipe (validation on): only with FUSIONKIT_LARGE_TESTS=1.
    func testLargeGoldenCaseOnVulkan() throws {
        guard FusionOptions.current.largeTests else {
            print("SKIP: film_480x640 on Vulkan takes minutes on lavapipe; set FUSIONKIT_LARGE_TESTS=1")
            throw XCTSkip("film_480x640 on Vulkan: set FUSIONKIT_LARGE_TESTS=1")
        }
        try check(try VulkanTestBackend.open(), ["film_480x640"])
    }

    /// The banded FFN equals the unbanded graph; the text changes the output.
    func testBandedEqualsUnbandedAndTextMatters() throws {
        let golden = try SafetensorsReader.read(path: TestData.path("golden/film_97x131.safetensors"))
        let weights = try FILMWeights(CheckpointReader.read(path: TestData.path("golden/film.pth")).archive)
        XCTAssertEqual(weights.midChannels, 32)
        XCTAssertEqual(weights.hiddenDimension, 256)
        XCTAssertEqual(weights.textDimension, 768)
        XCTAssertEqual(weights.imageTokens, 13_824)
        let ir = try golden.require("ir").toTensor(), vis = try golden.require("vis").toTensor()
        let text = try golden.require("text_features").toTensor()
        let model = FILMModel(weights: weights, backend: CPUBackend())
        model.bandBytes = nil
        let whole = try model.fuse(infrared: ir, visible: vis, text: text).toFloatArray()
        model.bandBytes = 97 * 131 * 4   // a band of one row of the 128-channel hidden tensors... at most a few rows
        let banded = try model.fuse(infrared: ir, visible: vis, text: text).toFloatArray()
        XCTAssertLessThanOrEqual(errorStatistics(banded, whole).maxAbs, 1e-6)
        let expected = try golden.require("output").floatValues()
        XCTAssertLessThanOrEqual(errorStatistics(whole, expected).maxAbs, 1e-4)
        let other = try model.fuse(infrared: ir, visible: vis, text: Tensor(shape: text.shape, floats: text.toFloatArray().map { -$0 }))
        XCTAssertGreaterThan(errorStatistics(other.toFloatArray(), whole).maxAbs, 1e-5, "the text changes the output")
    }

    /// At 480x640 no tensor of the graph exceeds lavapipe's 128 MiB binding (the FFN's
    /// hidden halves are banded; the attention's K/V are 14 MB at any size).
    func testEveryTensorFitsOneBindingAt480x640() throws {
        let weights = FILMWeights(randomSeed: 1)
        XCTAssertEqual(weights.parameterCount, 2_070_235, "the released configuration's parameters (as film.pth holds)")
        let graph = try FILMGraph.build(weights, height: 480, width: 640, textTokens: 77)
        let largest = graph.values.max { $0.value.byteCount < $1.value.byteCount }!
        print("FILM 480x640: largest tensor \(largest.value.shape) \(largest.value.byteCount >> 20) MiB")
        XCTAssertLessThanOrEqual(largest.value.byteCount, 128 << 20)
        let unbanded = try FILMGraph.build(weights, height: 480, width: 640, textTokens: 77, bandBytes: nil)
        XCTAssertGreaterThan(unbanded.values.map(\.value.byteCount).max()!, 128 << 20, "banding is what keeps it within")
    }

    /// PyTorch's legacy nearest index (float32 scale and product), at sizes where it differs
    /// from floor(dst * in / out) (values measured with torch 2.13 `F.interpolate`).
    func testNearestIndexIsPyTorchs() {
        XCTAssertEqual(ResizeMode.nearestIndex(216, input: 84, output: 288), 62)
        XCTAssertEqual(ResizeMode.nearestIndex(37, input: 288, output: 111), 95)
        XCTAssertEqual(ResizeMode.nearestIndex(74, input: 288, output: 111), 191)
        XCTAssertEqual(ResizeMode.nearestIndex(37, input: 384, output: 74), 191)
        XCTAssertEqual(ResizeMode.nearestIndex(5, input: 3, output: 6), 2)
    }

    /// Both backends' nearest resize picks those indices (an arange in, its indices out).
    func testNearestResizeOnBothBackends() throws {
        for backend in [try SelectedBackend.open(.cpu), try VulkanTestBackend.open()] {
            for (input, output) in [(84, 288), (288, 111), (384, 74), (64, 288), (131, 384), (288, 97)] {
                let g = Graph()
                let x = g.input("x", shape: [1, 1, 2, input])
                g.output("y", try g.resize(x, mode: .nearest, height: 2, width: output))
                let values = (0..<(2 * input)).map { Float($0 % input) }
                let y = try backend.backend.prepare(g).run(["x": Tensor(shape: [1, 1, 2, input], floats: values)])["y"]!.toFloatArray()
                let expected = (0..<output).map { Float(ResizeMode.nearestIndex($0, input: input, output: output)) }
                XCTAssertEqual(Array(y[0..<output]), expected, "\(backend.name): \(input) -> \(output)")
            }
        }
    }
}
