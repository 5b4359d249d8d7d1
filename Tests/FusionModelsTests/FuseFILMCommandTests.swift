import Foundation
import FusionCore
import FusionCPU
import FusionIO
import FusionEngine
import FusionModels
import FusionTestSupport
import XCTest

/// `fusion fuse --model film` (one pair and dataset mode) with the golden random checkpoint
/// on crops of the mixed4 pairs.
final class FuseFILMCommandTests: XCTestCase {
    static let stems = ["00016N", "00036N", "010007", "FLIR_01932"]

    /// A `.npy` (v1.0, little-endian f4, C order) of `shape`.
    static func writeNPY(_ values: [Float], shape: [Int], to path: String) throws {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(dims), }"
        while (10 + header.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)])
        data.append(Data(header.utf8))
        values.withUnsafeBufferPointer { data.append(Data(buffer: $0)) }
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// Crops (64x48 at (x, y)) of the four mixed4 pairs into ir/ and vi/ of `dir`, and one
    /// features file per stem (L = 3 + i tokens) into text/.
    func dataset(in dir: URL, width: Int = 64, height: Int = 48) throws -> (ir: String, vis: String, text: String) {
        let fm = FileManager.default
        for sub in ["ir", "vi", "text"] { try fm.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true) }
        for (i, stem) in Self.stems.enumerated() {
            for (role, folder) in [("ir", "ir"), ("vi", "vi")] {
                let ext = stem.hasPrefix("FLIR") ? "jpg" : "png"
                let image = try Image.read(path: TestData.path("data/pairs/mixed4/\(folder)/\(stem).\(ext)"))
                var samples: [UInt16] = []
                for y in 0..<height { for x in 0..<width { for c in 0..<image.channels { samples.append(image[x: 100 + x, y: 120 + y, channel: c]) } } }
                try Image(width: width, height: height, channels: image.channels, bitDepth: image.bitDepth, samples: samples)
                    .writePNG(to: dir.appendingPathComponent("\(role)/\(stem).png").path)
            }
            let l = 3 + i
            let values = Tensor.random(shape: [1, l, 768], seed: UInt64(10 + i), in: -1...1).toFloatArray()
            try Self.writeNPY(values, shape: [1, l, 768], to: dir.appendingPathComponent("text/\(stem).npy").path)
        }
        return (dir.appendingPathComponent("ir").path, dir.appendingPathComponent("vi").path, dir.appendingPathComponent("text").path)
    }

    /// One pair equals the engine's API on the same inputs: grey clamp (default) and
    /// `--post original` (the test script's stretch and truncation).
    func testSinglePairGreyAndOriginal() throws {
        let dir = try makeTemporaryDirectory()
        let d = try dataset(in: dir)
        let weights = try TestData.path("golden/film.pth")
        let ir = d.ir + "/00016N.png", vis = d.vis + "/00016N.png", text = d.text + "/00016N.npy"
        for post in ["clamp", "original"] {
            let out = dir.appendingPathComponent("fused_\(post).png").path
            let r = try FusionCLI.runTimed(["fuse", "--model", "film", "--weights", weights, "--backend", "cpu", "--ir", ir, "--vis", vis,
                                            "--text-features", text, "--post", post, "-o", out])
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertTrue(r.out.contains("size: 64x48 grey"), r.out)
            let got = try Image.read(path: out)
            XCTAssertEqual([got.width, got.height, got.channels], [64, 48, 1])
            // The same through the API.
            let w = try FILMWeights(CheckpointReader.read(path: weights).archive)
            let model = FILMModel(weights: w, backend: CPUBackend())
            let t = try TextFeaturesFile.read(text)
            let fused = try model.fuse(infrared: FILMImages.grey(Image.read(path: ir)), visible: FILMImages.grey(Image.read(path: vis)), text: t)
            let expected = FILMImages.greyLevels(fused.toFloatArray(), post: FILMImages.Post(rawValue: post)!)
            let diff = zip(got.plane(0), expected).map { abs(Int($0) - Int($1)) }
            XCTAssertLessThanOrEqual(diff.max() ?? 0, 1, post)
            XCTAssertLessThanOrEqual(diff.filter { $0 > 0 }.count, 3, post)
            if post == "original" {
                XCTAssertEqual(got.plane(0).min(), 0)
                XCTAssertEqual(got.plane(0).max(), 255)
            }
        }
    }

    /// The same features as .npy [1, L, 768], .npy [L, 768] and safetensors [L, 768] give
    /// the same image; the Vulkan backend gives it within one level.
    func testFeatureLayoutsAndVulkan() throws {
        let dir = try makeTemporaryDirectory()
        let d = try dataset(in: dir)
        let weights = try TestData.path("golden/film.pth")
        let ir = d.ir + "/00036N.png", vis = d.vis + "/00036N.png"
        let t = try TextFeaturesFile.read(d.text + "/00036N.npy")
        let l = t.shape[1]
        let flat = dir.appendingPathComponent("flat.npy").path
        try Self.writeNPY(t.toFloatArray(), shape: [l, 768], to: flat)
        let st = dir.appendingPathComponent("text.safetensors").path
        try SafetensorsWriter.write([(name: "text_features", tensor: Tensor(shape: [l, 768], floats: t.toFloatArray()))], to: st)
        _ = try VulkanTestBackend.open()   // skips without a Vulkan device
        var images: [[UInt16]] = []
        for (k, (features, backend)) in [(d.text + "/00036N.npy", "cpu"), (flat, "cpu"), (st, "cpu"), (flat, "vulkan")].enumerated() {
            let out = dir.appendingPathComponent("fused\(k).png").path
            let r = try FusionCLI.runTimed(["fuse", "--model", "film", "--weights", weights, "--backend", backend, "--ir", ir, "--vis", vis,
                                            "--text-features", features, "--color", "-o", out])
            XCTAssertEqual(r.status, 0, r.err)
            images.append(try Image.read(path: out).samples)
        }
        XCTAssertEqual(images[1], images[0])
        XCTAssertEqual(images[2], images[0])
        let diff = zip(images[3], images[0]).map { abs(Int($0) - Int($1)) }
        XCTAssertLessThanOrEqual(diff.max() ?? 0, 2, "vulkan vs cpu")
        XCTAssertLessThanOrEqual(diff.filter { $0 > 0 }.count, images[0].count / 100, "vulkan vs cpu")
    }

    /// Acceptance 4: a colour fusion of the mixed4 pairs (dataset mode, features per stem)
    /// keeps the visible chroma, and its luminance (OpenCV YCrCb Y of the written RGB) is
    /// the fused grey of the same Y input; the grey run is within rounding of it.
    func testColourDatasetLuminanceEqualsGrey() throws {
        let dir = try makeTemporaryDirectory()
        let d = try dataset(in: dir)
        let weights = try TestData.path("golden/film.pth")
        let greyOut = dir.appendingPathComponent("grey").path, colourOut = dir.appendingPathComponent("colour").path
        var r = try FusionCLI.runTimed(["fuse", "--model", "film", "--weights", weights, "--backend", "cpu", "--ir", d.ir, "--vis", d.vis,
                                        "--text-features-dir", d.text, "-o", greyOut])
        XCTAssertEqual(r.status, 0, r.err + r.out)
        r = try FusionCLI.runTimed(["fuse", "--model", "film", "--weights", weights, "--backend", "cpu", "--ir", d.ir, "--vis", d.vis,
                                    "--text-features-dir", d.text, "--color", "-o", colourOut])
        XCTAssertEqual(r.status, 0, r.err + r.out)
        let w = try FILMWeights(CheckpointReader.read(path: weights).archive)
        let model = FILMModel(weights: w, backend: CPUBackend())
        for stem in Self.stems {
            let grey = try Image.read(path: "\(greyOut)/\(stem).png")
            let colour = try Image.read(path: "\(colourOut)/\(stem).png")
            let visible = try Image.read(path: "\(d.vis)/\(stem).png")
            XCTAssertEqual(grey.channels, 1, stem)
            XCTAssertEqual(colour.channels, visible.isGray ? 1 : 3, stem)
            // The fused grey of the colour run: the network on the visible image's Y.
            let t = try TextFeaturesFile.read("\(d.text)/\(stem).npy")
            let fused = try model.fuse(infrared: FILMImages.grey(Image.read(path: "\(d.ir)/\(stem).png")),
                                       visible: FILMImages.grey(visible, luma: true), text: t)
            let y = FILMImages.greyLevels(fused.toFloatArray(), post: .clamp)
            let rgb = colour.rgbPlanes(scaledTo: 255)
            let luma = ColorConversion.openCVGray8(red: rgb.red, green: rgb.green, blue: rgb.blue)
            var worst = 0, unsaturated = 0
            for i in 0..<y.count {
                let saturated = [rgb.red[i], rgb.green[i], rgb.blue[i]].contains { $0 == 0 || $0 == 255 }
                if saturated { continue }
                unsaturated += 1
                worst = max(worst, abs(Int(luma[i]) - Int(y[i])))
            }
            let chroma = zip(rgb.red, rgb.blue).map { abs($0 - $1) }.max() ?? 0
            if !visible.isGray { XCTAssertGreaterThan(chroma, 2, "\(stem): the output has the visible image's colour") }
            print("FILM colour \(stem) (visible \(visible.channels) channels, max |R - B| \(chroma)): luminance within \(worst) of the fused grey on \(unsaturated) of \(y.count) unsaturated pixels")
            XCTAssertLessThanOrEqual(worst, 1, "\(stem): the colour output's luminance is the fused grey (up to RGB rounding)")
            XCTAssertGreaterThan(unsaturated, y.count / 2, stem)
            // The grey run (BGR2GRAY input) differs from the Y input only by rounding.
            let g = grey.plane(0).map { Float($0) }
            let off = zip(g, y).filter { abs($0 - $1) > 2 }.count
            XCTAssertLessThanOrEqual(off, y.count / 100, "\(stem): grey and colour runs agree up to input rounding")
        }
    }

    /// Acceptance 3: wrong text width, an empty [0, 768] array, another model's checkpoint,
    /// mismatched pair sizes: errors naming the file and the shape; nothing written.
    func testBadInputErrors() throws {
        let dir = try makeTemporaryDirectory()
        let d = try dataset(in: dir)
        let weights = try TestData.path("golden/film.pth")
        let out = dir.appendingPathComponent("fused.png").path
        let ir = d.ir + "/00016N.png", vis = d.vis + "/00016N.png"
        func run(_ args: [String]) throws -> FusionCLI.Result { try FusionCLI.runTimed(["fuse", "--model", "film", "--backend", "cpu", "-o", out] + args) }

        let wide = dir.appendingPathComponent("wide.npy").path
        try Self.writeNPY([Float](repeating: 0.5, count: 2 * 512), shape: [1, 2, 512], to: wide)
        var r = try run(["--weights", weights, "--ir", ir, "--vis", vis, "--text-features", wide])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("wide.npy") && r.err.contains("[1, 2, 512]") && r.err.contains("768"), r.err)

        let empty = dir.appendingPathComponent("empty.npy").path
        try Self.writeNPY([], shape: [0, 768], to: empty)
        r = try run(["--weights", weights, "--ir", ir, "--vis", vis, "--text-features", empty])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("empty.npy") && r.err.contains("[0, 768]") && r.err.contains("no tokens"), r.err)

        let text = d.text + "/00016N.npy"
        r = try run(["--weights", TestData.path("golden/textif_dim8.pth"), "--ir", ir, "--vis", vis, "--text-features", text])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("not an IF-FILM checkpoint") && r.err.contains("textif_dim8.pth"), r.err)

        let small = dir.appendingPathComponent("small.png").path
        try Image(width: 60, height: 48, channels: 1, bitDepth: 8, samples: [UInt16](repeating: 9, count: 60 * 48)).writePNG(to: small)
        r = try run(["--weights", weights, "--ir", small, "--vis", vis, "--text-features", text])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("small.png") && r.err.contains("60x48") && r.err.contains("64x48"), r.err)

        r = try run(["--weights", weights, "--ir", ir, "--vis", vis, "--text", "a person"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("--text-features"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))

        // The API names the shape too.
        let w = try FILMWeights(CheckpointReader.read(path: weights).archive)
        XCTAssertThrowsError(try FILMModel(weights: w, backend: CPUBackend()).fuse(infrared: Tensor(shape: [1, 1, 8, 8]), visible: Tensor(shape: [1, 1, 8, 9]),
                                                                             text: Tensor(shape: [1, 1, 768]))) {
            XCTAssertTrue("\($0)".contains("8x8") && "\($0)".contains("9x8"), "\($0)")
        }
    }

    /// `check-golden` runs the film kind.
    func testCheckGoldenCommand() throws {
        let r = try FusionCLI.runTimed(["check-golden", "--backend", "cpu", TestData.path("golden/film_64x80.safetensors")])
        XCTAssertEqual(r.status, 0, r.err + r.out)
        XCTAssertTrue(r.out.contains("film"), r.out)
    }
}

/// Reads a features file into [1, L, 768] (what the CLI does, through the same reader).
enum TextFeaturesFile {
    static func read(_ path: String) throws -> Tensor {
        let v = try FusionEngine.TextFeatures.readTokens(path: path, width: 768)
        return Tensor(shape: [1, v.count / 768, 768], floats: v)
    }
}
