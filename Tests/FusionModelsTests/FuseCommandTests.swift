import Foundation
import FusionCore
import FusionIO
import FusionTestSupport
import XCTest

/// `fusion fuse` through the built executable: the full-size pair against the original
/// script's RGB output, then options and errors on small crops.
///
/// Every run gets a fresh `FUSIONKIT_CACHE`, `FUSIONKIT_TEST_DATA` pointing at the shared
/// data, and `FUSIONKIT_WEIGHTS_URL` pointing at a loopback port nobody listens on, so no
/// run can ever reach the internet.
final class FuseCommandTests: XCTestCase {



    /// The environment of every run (see the class comment).
    private func environment() throws -> [String: String] {
        ["FUSIONKIT_CACHE": try makeTemporaryDirectory("cache").path,
         "FUSIONKIT_TEST_DATA": TestData.root,
         "FUSIONKIT_WEIGHTS_URL": "http://127.0.0.1:9/"]
    }

    private func fusion(_ arguments: [String], environment extra: [String: String]? = nil) throws -> FusionCLI.Result {
        let r = try FusionCLI.runTimed(["fuse"] + arguments, environment: extra ?? environment())
        print("fusion fuse \(arguments.joined(separator: " ")) -> \(r.status) in \(String(format: "%.2f", r.seconds)) s")
        return r
    }

    // MARK: Inputs

    private func pairPath(_ name: String) throws -> String { try TestData.path("data/pairs/llvip_sample/\(name).png") }
    private func featuresPath() throws -> String { try TestData.path("golden/textfusion_1024x1280.safetensors") }
    private func weightsPath() throws -> String { try TestData.path("weights/textfusion_llvip.model") }

    /// A `width`x`height` window of `image` at (`x`, `y`).
    private func crop(_ image: Image, x: Int, y: Int, width: Int, height: Int) -> Image {
        var samples: [UInt16] = []
        samples.reserveCapacity(width * height * image.channels)
        for row in y..<(y + height) {
            let start = (row * image.width + x) * image.channels
            samples.append(contentsOf: image.samples[start..<(start + width * image.channels)])
        }
        return Image(width: width, height: height, channels: image.channels, bitDepth: image.bitDepth, samples: samples)
    }

    /// Crops of the sample pair (a region with a pedestrian) written as PNG files.
    private func writeCrops(width: Int = 64, height: Int = 48, irWidth: Int? = nil, irHeight: Int? = nil,
                            in folder: URL) throws -> (ir: String, vis: String) {
        let ir = try Image.read(path: pairPath("ir")), vis = try Image.read(path: pairPath("vis"))
        let irPath = folder.appendingPathComponent("ir.png").path, visPath = folder.appendingPathComponent("vis.png").path
        try crop(ir, x: 517, y: 300, width: irWidth ?? width, height: irHeight ?? height).writePNG(to: irPath)
        try crop(vis, x: 517, y: 300, width: width, height: height).writePNG(to: visPath)
        return (irPath, visPath)
    }

    /// The golden text features as a float array.
    private func goldenFeatures() throws -> [Float] {
        try SafetensorsReader.read(path: featuresPath()).require("text_features").floatValues()
    }

    /// A NumPy 1.0 `.npy` file holding `values` as `<f4` with shape (count,), built by hand.
    private func writeNPY(_ values: [Float], to path: String) throws {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(values.count),), }"
        // magic (6) + version (2) + header length (2) + header, padded to 64 bytes, ending in \n.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        XCTAssertEqual(data.count % 64, 0)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// Files in `folder` (hidden ones included), less those in `except`.
    private func entries(_ folder: URL, except: Set<String> = []) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { !except.contains($0) }.sorted()
    }

    /// Asserts a failure: exit status 1 with exactly one line on stderr, or, for a usage
    /// error (`usage`: an argument combination `validate()` rejects before anything runs),
    /// ArgumentParser's status 64 (EX_USAGE) with the message line followed by the usage
    /// text. The message line contains every needle, and no output file (nor a temporary
    /// one) is left in `folder` beyond `inputs`.
    private func assertFailure(_ r: FusionCLI.Result, mentions needles: [String], usage: Bool = false,
                               folder: URL, inputs: Set<String>, file: StaticString = #filePath, line: UInt = #line) {
        print("  stderr: \(r.err.trimmingCharacters(in: .whitespacesAndNewlines))")
        XCTAssertEqual(r.status, usage ? 64 : 1, "stdout: \(r.out)\nstderr: \(r.err)", file: file, line: line)
        let lines = r.err.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        let message = lines.first ?? ""
        XCTAssert(message.hasPrefix("Error: "), "stderr:\n\(r.err)", file: file, line: line)
        if usage {
            XCTAssert(lines.dropFirst().first?.hasPrefix("Usage: fusion fuse") == true, "expected the usage after the message:\n\(r.err)",
                      file: file, line: line)
        } else {
            XCTAssertEqual(lines.count, 1, "expected one line on stderr:\n\(r.err)", file: file, line: line)
        }
        for needle in needles {
            XCTAssert(message.contains(needle), "the message does not mention \(needle):\n\(r.err)", file: file, line: line)
        }
        XCTAssertEqual(r.out, "", "nothing on stdout for a failed run", file: file, line: line)
        XCTAssertEqual(entries(folder, except: inputs), [], "files left behind", file: file, line: line)
    }

    // MARK: Acceptance

    /// Compares a fused PNG with the original script's RGB output: at most 0.1% of samples
    /// off by one, none by more.
    private func assertMatchesGoldenRGB(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let image = try Image.read(path: path)
        let golden = try SafetensorsReader.read(path: TestData.path("golden/textfusion_rgb_1024x1280.safetensors")).require("fused_rgb")
        XCTAssertEqual(golden.shape, [1024, 1280, 3], file: file, line: line)
        XCTAssertEqual([image.height, image.width, image.channels], golden.shape, file: file, line: line)
        XCTAssertEqual(image.bitDepth, 8, file: file, line: line)
        let expected = try golden.integerValues()
        guard expected.count == image.samples.count else { return XCTFail("sample counts differ", file: file, line: line) }
        var offByOne = 0, worse = 0, maxAbs = 0
        for (a, b) in zip(image.samples, expected) {
            let d = abs(Int(a) - Int(b))
            maxAbs = max(maxAbs, d)
            if d == 1 { offByOne += 1 } else if d > 1 { worse += 1 }
        }
        let share = Double(offByOne) / Double(expected.count)
        print(String(format: "fused vs fused_rgb: %d of %d samples off by 1 (%.4f%%), %d by more, max |diff| %d",
                     offByOne, expected.count, share * 100, worse, maxAbs))
        XCTAssertEqual(worse, 0, "samples off by more than 1", file: file, line: line)
        XCTAssertLessThanOrEqual(share, 0.001, "more than 0.1% of samples off by 1", file: file, line: line)
    }

    private func assertReports(_ r: FusionCLI.Result, weights: String, file: StaticString = #filePath, line: UInt = #line) {
        print(r.out)
        XCTAssertEqual(r.status, 0, "stdout: \(r.out)\nstderr: \(r.err)", file: file, line: line)
        let lines = r.out.split(separator: "\n").map(String.init)
        func find(_ prefix: String) -> String? { lines.first { $0.hasPrefix(prefix) } }
        XCTAssert(find("backend: cpu — CPU (")?.contains("threads)") == true, "backend/device line:\n\(r.out)", file: file, line: line)
        XCTAssertEqual(find("size:"), "size: 1280x1024 colour", file: file, line: line)
        XCTAssertNotNil(find("time:").flatMap { Double($0.dropFirst("time: ".count).prefix { $0 != " " }) },
                        "time line:\n\(r.out)", file: file, line: line)
        XCTAssertEqual(find("model:"), "model: textfusion (\(weights))", file: file, line: line)
    }

    func testFullSizePairMatchesTheOriginalScriptWithPublishedWeightsFromTestData() throws {
        let folder = try makeTemporaryDirectory()
        let out = folder.appendingPathComponent("fused.png").path
        var env = try environment()
        let cache = try makeTemporaryDirectory("cache")
        env["FUSIONKIT_CACHE"] = cache.path
        let r = try fusion(["--backend", "cpu", "--ir", pairPath("ir"), "--vis", pairPath("vis"),
                            "--text-features", featuresPath(), "-o", out], environment: env)
        // Resolved offline from FUSIONKIT_TEST_DATA: used in place, nothing downloaded.
        assertReports(r, weights: try weightsPath())
        XCTAssertEqual(entries(cache.appendingPathComponent("weights")), [])
        try assertMatchesGoldenRGB(out)
        XCTAssertEqual(entries(folder), ["fused.png"], "no temporary file left next to the output")
    }

    func testFullSizePairMatchesTheOriginalScriptWithExplicitWeights() throws {
        let folder = try makeTemporaryDirectory()
        let out = folder.appendingPathComponent("fused.png").path
        let r = try fusion(["--model", "textfusion", "--weights", weightsPath(), "--backend", "cpu",
                            "--ir", pairPath("ir"), "--vis", pairPath("vis"), "--text-features", featuresPath(), "-o", out])
        assertReports(r, weights: try weightsPath())
        try assertMatchesGoldenRGB(out)
    }

    /// The prompt itself, encoded by the tiny CLIP the golden features came from: the same
    /// image as with the stored features. A second run finds the features in the cache.
    func testTextPromptWithCLIPMatchesTheOriginalScript() throws {
        let folder = try makeTemporaryDirectory()
        let out = folder.appendingPathComponent("fused.png").path
        var env = try environment()
        let cache = try makeTemporaryDirectory("cache")
        env["FUSIONKIT_CACHE"] = cache.path
        let arguments = ["--weights", try weightsPath(), "--backend", "cpu", "--ir", try pairPath("ir"), "--vis", try pairPath("vis"),
                         "--text", "A pedestrian is walking on the sidewalk.", "--clip", try TestData.path("golden/clip_text_tiny.pt"), "-o", out]
        let r = try fusion(arguments, environment: env)
        assertReports(r, weights: try weightsPath())
        try assertMatchesGoldenRGB(out)
        XCTAssertEqual(entries(cache.appendingPathComponent("text-features")).count, 1, "one weights folder in the feature cache")
    }

    // MARK: Options

    func testGreyWritesOneChannelImageOfTheSameSize() throws {
        let folder = try makeTemporaryDirectory()
        let (ir, vis) = try writeCrops(in: folder)
        let out = folder.appendingPathComponent("grey.png").path
        let r = try fusion(["--backend", "cpu", "--weights", weightsPath(), "--ir", ir, "--vis", vis,
                            "--text-features", featuresPath(), "--grey", "-o", out])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssert(r.out.contains("size: 64x48 grey"), r.out)
        let image = try Image.read(path: out)
        XCTAssertEqual([image.width, image.height, image.channels], [64, 48, 1])

        // Without --grey the same crop gives three channels.
        let colour = folder.appendingPathComponent("colour.png").path
        let c = try fusion(["--backend", "cpu", "--weights", weightsPath(), "--ir", ir, "--vis", vis,
                            "--text-features", featuresPath(), "-o", colour])
        XCTAssertEqual(c.status, 0, c.err)
        XCTAssertEqual(try Image.read(path: colour).channels, 3)
    }

    func testNPYTextFeaturesGiveTheSameImageAsSafetensors() throws {
        let folder = try makeTemporaryDirectory()
        let (ir, vis) = try writeCrops(in: folder)
        let npy = folder.appendingPathComponent("features.npy").path
        try writeNPY(goldenFeatures(), to: npy)
        let fromNPY = folder.appendingPathComponent("npy.png").path
        let fromSafetensors = folder.appendingPathComponent("st.png").path
        let a = try fusion(["--backend", "cpu", "--weights", weightsPath(), "--ir", ir, "--vis", vis, "--text-features", npy, "-o", fromNPY])
        XCTAssertEqual(a.status, 0, a.err)
        let b = try fusion(["--backend", "cpu", "--weights", weightsPath(), "--ir", ir, "--vis", vis,
                            "--text-features", featuresPath(), "-o", fromSafetensors])
        XCTAssertEqual(b.status, 0, b.err)
        XCTAssertEqual(try Image.read(path: fromNPY), try Image.read(path: fromSafetensors))
    }

    func testResizeIRMakesDifferentSizesWork() throws {
        let folder = try makeTemporaryDirectory()
        let (ir, vis) = try writeCrops(width: 64, height: 48, irWidth: 32, irHeight: 24, in: folder)
        let out = folder.appendingPathComponent("fused.png").path
        let r = try fusion(["--backend", "cpu", "--weights", weightsPath(), "--ir", ir, "--vis", vis,
                            "--text-features", featuresPath(), "--resize-ir", "-o", out])
        XCTAssertEqual(r.status, 0, r.err)
        let image = try Image.read(path: out)
        XCTAssertEqual([image.width, image.height, image.channels], [64, 48, 3])
    }

    // MARK: Errors

    func testMissingIRFile() throws {
        let folder = try makeTemporaryDirectory()
        let (_, vis) = try writeCrops(in: folder)
        let missing = folder.appendingPathComponent("no-such-ir.png").path
        let r = try fusion(["--backend", "cpu", "--weights", weightsPath(), "--ir", missing, "--vis", vis,
                            "--text-features", featuresPath(), "-o", folder.appendingPathComponent("out.png").path])
        assertFailure(r, mentions: [missing], folder: folder, inputs: ["ir.png", "vis.png"])
    }

    func testIRThatIsNotAnImage() throws {
        let folder = try makeTemporaryDirectory()
        let (ir, vis) = try writeCrops(in: folder)
        try Data("this is not a picture\n".utf8).write(to: URL(fileURLWithPath: ir))
        let r = try fusion(["--backend", "cpu", "--weights", weightsPath(), "--ir", ir, "--vis", vis,
                            "--text-features", featuresPath(), "-o", folder.appendingPathComponent("out.png").path])
        assertFailure(r, mentions: [ir, "not a PNG or JPEG"], folder: folder, inputs: ["ir.png", "vis.png"])
    }

    func testDifferentSizesWithoutResizeIR() throws {
        let folder = try makeTemporaryDirectory()
        let (ir, vis) = try writeCrops(width: 64, height: 48, irWidth: 32, irHeight: 24, in: folder)
        let r = try fusion(["--backend", "cpu", "--weights", weightsPath(), "--ir", ir, "--vis", vis,
                            "--text-features", featuresPath(), "-o", folder.appendingPathComponent("out.png").path])
        assertFailure(r, mentions: [ir, vis, "32x24", "64x48", "--resize-ir"], folder: folder, inputs: ["ir.png", "vis.png"])
    }

    func testTextPromptNeedsTheCLIPEncoder() throws {
        let folder = try makeTemporaryDirectory()
        let (ir, vis) = try writeCrops(in: folder)
        let r = try fusion(["--backend", "cpu", "--weights", weightsPath(), "--ir", ir, "--vis", vis,
                            "--text", "a prompt", "-o", folder.appendingPathComponent("out.png").path])
        assertFailure(r, mentions: ["--text", "CLIP text encoder", "--clip", "--text-features"], usage: true, folder: folder, inputs: ["ir.png", "vis.png"])
    }

    func testTextAndTextFeaturesTogether() throws {
        let folder = try makeTemporaryDirectory()
        let (ir, vis) = try writeCrops(in: folder)
        let r = try fusion(["--backend", "cpu", "--weights", weightsPath(), "--ir", ir, "--vis", vis, "--text", "a prompt",
                            "--text-features", featuresPath(), "-o", folder.appendingPathComponent("out.png").path])
        assertFailure(r, mentions: ["--text", "--text-features", "not both"], usage: true, folder: folder, inputs: ["ir.png", "vis.png"])
    }

    func testTextFeaturesOfTheWrongLength() throws {
        let folder = try makeTemporaryDirectory()
        let (ir, vis) = try writeCrops(in: folder)
        let features = folder.appendingPathComponent("short.safetensors").path
        try SafetensorsWriter.write([(name: "text_features", tensor: Tensor(shape: [1, 10], floats: (0..<10).map { Float($0) / 10 }))], to: features)
        let r = try fusion(["--backend", "cpu", "--weights", weightsPath(), "--ir", ir, "--vis", vis,
                            "--text-features", features, "-o", folder.appendingPathComponent("out.png").path])
        assertFailure(r, mentions: [features, "512"], folder: folder, inputs: ["ir.png", "vis.png", "short.safetensors"])
    }

    func testUnknownOutputExtensionIsRejectedBeforeRunning() throws {
        let folder = try makeTemporaryDirectory()
        // The inputs do not even exist: the output name is checked first.
        let missing = folder.appendingPathComponent("missing.png").path
        let out = folder.appendingPathComponent("fused.bmp").path
        let r = try fusion(["--backend", "cpu", "--ir", missing, "--vis", missing, "--text-features", missing, "-o", out])
        assertFailure(r, mentions: ["--output", out, ".png", ".jpg"], usage: true, folder: folder, inputs: [])
        XCTAssertFalse(r.err.contains("missing.png"), r.err)
    }

    func testOutputIntoMissingFolder() throws {
        let folder = try makeTemporaryDirectory()
        let (ir, vis) = try writeCrops(in: folder)
        let missingFolder = folder.appendingPathComponent("no-such-folder")
        let out = missingFolder.appendingPathComponent("fused.png").path
        let r = try fusion(["--backend", "cpu", "--weights", weightsPath(), "--ir", ir, "--vis", vis,
                            "--text-features", featuresPath(), "-o", out])
        assertFailure(r, mentions: [missingFolder.path], folder: folder, inputs: ["ir.png", "vis.png"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: missingFolder.path))
    }

    func testDamagedWeightsFile() throws {
        let folder = try makeTemporaryDirectory()
        let (ir, vis) = try writeCrops(in: folder)
        let damaged = folder.appendingPathComponent("damaged.model").path
        let bytes = try Data(contentsOf: URL(fileURLWithPath: weightsPath()))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: damaged))
        let r = try fusion(["--backend", "cpu", "--weights", damaged, "--ir", ir, "--vis", vis,
                            "--text-features", featuresPath(), "-o", folder.appendingPathComponent("out.png").path])
        assertFailure(r, mentions: [damaged], folder: folder, inputs: ["ir.png", "vis.png", "damaged.model"])
    }

    func testImagesSmallerThan8x8() throws {
        let folder = try makeTemporaryDirectory()
        let (ir, vis) = try writeCrops(width: 6, height: 5, in: folder)
        let r = try fusion(["--backend", "cpu", "--weights", weightsPath(), "--ir", ir, "--vis", vis,
                            "--text-features", featuresPath(), "-o", folder.appendingPathComponent("out.png").path])
        assertFailure(r, mentions: ["6x5", "8x8"], folder: folder, inputs: ["ir.png", "vis.png"])
    }
}
