import FusionCore
import FusionCPU
import FusionIO
import FusionModels
import XCTest

final class TextFusionGoldenTests: XCTestCase {
    func testGolden64OnCPU() throws {
        let weights = try TextFusionWeights(CheckpointReader.read(path: TestData.path("weights/textfusion_llvip.model")).archive)
        let golden = try SafetensorsReader.read(path: TestData.path("golden/textfusion_64x64.safetensors"))
        let vis = try golden.require("vis").toTensor(), ir = try golden.require("ir").toTensor()
        let expected = try golden.require("output").floatValues()
        let text = try golden.require("text_features").floatValues()
        let graph = try TextFusionGraph.build(weights, height: vis.shape[2], width: vis.shape[3])
        let out = try CPUBackend().run(graph, inputs: ["vis": vis, "ir": ir, "head_ir": TextFusionHead.infraredKernel(weights, textFeatures: text)])
        let got = out["fused"]!.toFloatArray()
        let err = zip(got, expected).map { abs($0 - $1) }.max()!
        print("textfusion 64x64 max |err| = \(err)")
        XCTAssertLessThanOrEqual(err, 1e-4)
    }
}
