import Foundation
import FusionCore
import FusionIO
import FusionModels

/// Runs golden cases on one backend. Each supported kind reproduces what the original
/// PyTorch code did and compares with its stored output; a kind the engine does not
/// support is an error, never a pass.
public final class GoldenRunner {
    public let backend: SelectedBackend
    /// TextFusion models by weights path, so cases sharing weights share prepared graphs.
    private var textFusionModels: [String: TextFusionModel] = [:]

    public static let supportedKinds = ["textfusion", "textfusion_rgb"]

    public init(backend: SelectedBackend) {
        self.backend = backend
    }

    public func run(_ path: String) throws -> GoldenResult {
        let golden = try GoldenCase(path: path)
        let start = Date()
        switch golden.kind {
        case "textfusion": return try runTextFusion(golden, start: start)
        case "textfusion_rgb": return try runTextFusionRGB(golden, start: start)
        default:
            throw FileFormatError(path: path, format: "golden case",
                                  "kind '\(golden.kind)' is not supported by this engine yet (supported: \(Self.supportedKinds.joined(separator: ", ")))")
        }
    }

    private func textFusion(weights path: String) throws -> TextFusionModel {
        if let m = textFusionModels[path] { return m }
        let weights = try TextFusionWeights(CheckpointReader.read(path: path).archive)
        let m = TextFusionModel(weights: weights, backend: backend.backend)
        m.cachedSizes = 1
        textFusionModels[path] = m
        return m
    }

    private func runTextFusion(_ golden: GoldenCase, start: Date) throws -> GoldenResult {
        let model = try textFusion(weights: golden.resolve("weights"))
        let vis = try golden.archive.require("vis").toTensor()
        let ir = try golden.archive.require("ir").toTensor()
        let expected = try golden.floats("output")
        let out = try model.fuse(visible: vis, infrared: ir, textFeatures: golden.floats("text_features"))
        let (maxAbs, rel) = errorStatistics(out.toFloatArray(), expected)
        let tolerance = 1e-4
        return GoldenResult(file: golden.path, kind: golden.kind, backend: backend.name, shape: out.shape,
                            maxAbsError: maxAbs, relativeL2Error: rel, criterion: "max |err| <= 1e-4",
                            passed: maxAbs <= tolerance, detail: "", seconds: Date().timeIntervalSince(start))
    }

    /// The whole script path: images in, uint8 RGB out; at most 0.1% of the samples may be
    /// off by one (float summation order), none by more.
    private func runTextFusionRGB(_ golden: GoldenCase, start: Date) throws -> GoldenResult {
        let network = try GoldenCase(path: golden.resolve("network_case"))
        let model = try textFusion(weights: network.resolve("weights"))
        let infrared = try Image.read(path: golden.resolve("ir"))
        let visible = try Image.read(path: golden.resolve("vis"))
        let inputs = try TextFusionImages.inputs(infrared: infrared, visible: visible, grey: false)
        let fused = try model.fuse(visible: inputs.visible, infrared: inputs.infrared, textFeatures: network.floats("text_features"))
        let image = TextFusionImages.image(fused: fused, visible: visible, grey: false)
        let expected = try golden.archive.require("fused_rgb").integerValues()
        guard expected.count == image.samples.count else {
            throw FileFormatError(path: golden.path, format: "golden case",
                                  "fused_rgb holds \(expected.count) samples, the fused image \(image.samples.count)")
        }
        var offByOne = 0, worse = 0, maxAbs = 0
        for (a, b) in zip(image.samples, expected) {
            let d = abs(Int(a) - Int(b))
            maxAbs = max(maxAbs, d)
            if d == 1 { offByOne += 1 } else if d > 1 { worse += 1 }
        }
        let share = Double(offByOne) / Double(expected.count)
        let (_, rel) = errorStatistics(image.samples.map(Float.init), expected.map(Float.init))
        return GoldenResult(file: golden.path, kind: golden.kind, backend: backend.name, shape: [image.height, image.width, image.channels],
                            maxAbsError: Double(maxAbs), relativeL2Error: rel,
                            criterion: "<= 0.1% of samples off by 1, none by more",
                            passed: worse == 0 && share <= 0.001,
                            detail: String(format: "%d samples off by 1 (%.4f%%), %d by more", offByOne, share * 100, worse),
                            seconds: Date().timeIntervalSince(start))
    }
}
