import Foundation
import FusionCore
import FusionIO
import FusionTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Classes 5, 6, 13, 14 and 15 of the hostile probe: malformed golden cases, absurd sizes,
/// negative numbers, options that do not apply, invalid environment values, a broken
/// shader, a named pipe as input, and a published-weights copy that fails its checksum:
/// each a clear message and a status in 1...125, never a trap, a hang or silence.
final class CommandInputTests: XCTestCase {
    private func assertCleanFailure(_ arguments: [String], environment: [String: String] = [:], says expected: String,
                                    file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try FusionCLI.runLimited(arguments, environment: environment, timeout: 60)
        XCTAssertTrue(r.isCleanFailure, "\(arguments.joined(separator: " ")): \(r)", file: file, line: line)
        XCTAssert(r.err.contains(expected), "\(arguments.joined(separator: " ")): expected '\(expected)' in: \(r.err)", file: file, line: line)
        XCTAssertFalse(r.err.contains("Missing value"), r.err, file: file, line: line)
    }

    // MARK: - Class 5: malformed golden cases are errors of that case, and the run goes on

    private func writeCase(_ folder: URL, _ name: String, json: [String: Any], tensors: [(name: String, tensor: Tensor)]) throws -> String {
        let path = folder.appendingPathComponent(name).path
        let text = String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self)
        try SafetensorsWriter.write(tensors, metadata: ["json": text], to: path)
        return path
    }

    func testMalformedGoldenCasesAreReportedOneByOne() throws {
        let dir = try makeTemporaryDirectory("golden-malformed")
        let original = try SafetensorsReader.read(path: TestData.path("golden/textfusion_64x64.safetensors"))
        let weights = try Fixtures.weights()
        let textFusion: [String: Any] = ["kind": "textfusion", "weights": weights]
        let vis = try original.require("vis").toTensor(), ir = try original.require("ir").toTensor()
        let features = try original.require("text_features").toTensor()
        let output = try original.require("output").toTensor()
        var cases: [String] = []
        cases.append(try writeCase(dir, "wrong_output_shape.safetensors", json: textFusion,
                                   tensors: [("vis", vis), ("ir", ir), ("text_features", features), ("output", Tensor(shape: [1, 1, 32, 64]))]))
        cases.append(try writeCase(dir, "input_1d.safetensors", json: textFusion,
                                   tensors: [("vis", Tensor(shape: [4096])), ("ir", ir), ("text_features", features), ("output", output)]))
        cases.append(try writeCase(dir, "input_3d.safetensors", json: textFusion,
                                   tensors: [("vis", Tensor(shape: [1, 64, 64])), ("ir", Tensor(shape: [1, 64, 64])), ("text_features", features), ("output", output)]))
        cases.append(try writeCase(dir, "tokens_empty.safetensors", json: ["kind": "tokenizer", "prompts": ["a"]],
                                   tensors: [("tokens", Tensor(shape: [1, 0], dtype: .i32))]))
        cases.append(try writeCase(dir, "tokens_1d.safetensors", json: ["kind": "tokenizer", "prompts": ["a"]],
                                   tensors: [("tokens", Tensor(shape: [77], dtype: .i32))]))
        cases.append(try writeCase(dir, "context_huge.safetensors", json: ["kind": "tokenizer", "prompts": ["a"], "context_length": 1e12],
                                   tensors: [("tokens", Tensor(shape: [1, 77], dtype: .i32))]))
        cases.append(try writeCase(dir, "clip_tokens_empty.safetensors", json: ["kind": "clip_text", "weights": try Fixtures.clip(), "prompts": []],
                                   tensors: [("tokens", Tensor(shape: [0, 77], dtype: .i32)), ("features", Tensor(shape: [0, 512]))]))
        let notSafetensors = dir.appendingPathComponent("not_safetensors.safetensors").path
        try FileManager.default.copyItem(atPath: weights, toPath: notSafetensors)
        cases.append(notSafetensors)
        let passing = try TestData.path("golden/textfusion_64x64.safetensors")
        let r = try FusionCLI.runLimited(["check-golden", "--backend", "cpu"] + cases + [passing], timeout: 300)
        XCTAssertEqual(r.status, 1, "\(r)")
        XCTAssertFalse(r.signaled)
        let rows = r.out.split(separator: "\n").map(String.init)
        for path in cases {
            let name = URL(fileURLWithPath: path).lastPathComponent
            let row = rows.first { $0.hasPrefix(name) } ?? ""
            XCTAssert(row.contains("ERROR") || row.contains("FAIL"), "\(name): \(row)\n\(r.out)\n\(r.err)")
        }
        XCTAssert(rows.first { $0.hasPrefix("textfusion_64x64.safetensors") }?.contains("PASS") == true, r.out)
        XCTAssert(r.out.contains("1 passed, \(cases.count) failed"), r.out)
        // The error rows say what is wrong.
        XCTAssert(r.out.contains("'output' has shape [1, 1, 32, 64]"), r.out)
        XCTAssert(r.out.contains("'vis' has shape [4096]"), r.out)
        XCTAssert(r.out.contains("context_length"), r.out)
    }

    // MARK: - Class 6 and 13: sizes and numbers

    func testAbsurdSizesAndNegativeNumbersAreClearErrors() throws {
        for size in ["100000x100000", "3037000496x3037000496", "0x5", "-3x4", "12", "4x4x4", "x"] {
            try assertCleanFailure(["bench", "--size", size, "--backend", "cpu"], says: "--size \(size)")
            try assertCleanFailure(["profile", "--size", size], says: "--size \(size)")
        }
        let dir = try makeTemporaryDirectory("numbers")
        let (ir, vis) = try Fixtures.smallPair(in: dir)
        let fuse = try Fixtures.fuseArguments(ir: ir, vis: vis, output: dir.appendingPathComponent("o.png").path)
        try assertCleanFailure(fuse + ["--repeat", "-1"], says: "--repeat must be at least 1")
        try assertCleanFailure(["fuse", "--ir", ir, "--vis", vis, "--text-features", try Fixtures.features(), "-o", dir.appendingPathComponent("o.png").path,
                                "--device", "-1"], says: "--device must be a device index")
        try assertCleanFailure(["parity", "--ops", "--seed", "-1"], says: "-1")
        try assertCleanFailure(["bench", "--repeat", "-2"], says: "--repeat must be at least 1")
        try assertCleanFailure(["fuse", "--model", "textif", "--random-weights", "-1", "--ir", ir, "--vis", vis, "--task", "low-light", "--clip", try Fixtures.clip(),
                                "-o", dir.appendingPathComponent("o.png").path], says: "-1")
        try assertCleanFailure(fuse + ["--max-pixels", "-5"], says: "--max-pixels must be positive")
    }

    // MARK: - Class 14: options that do not apply

    func testOptionsThatDoNotApplyAreRejected() throws {
        let dir = try makeTemporaryDirectory("not-apply")
        let (ir, vis) = try Fixtures.smallPair(in: dir)
        let out = dir.appendingPathComponent("o.png").path
        let fuse = try Fixtures.fuseArguments(ir: ir, vis: vis, output: out)
        try assertCleanFailure(fuse + ["--device", "0"], says: "does not apply to --backend cpu")
        try assertCleanFailure(fuse + ["--post", "original"], says: "--post applies to --model textif")
        try assertCleanFailure(fuse + ["--fit", "original"], says: "--fit applies to --model textif")
        try assertCleanFailure(fuse + ["--clip", try Fixtures.clip()], says: "--clip applies to --text")
        try assertCleanFailure(fuse + ["--vocab", "x.txt.gz"], says: "--vocab applies to --text")
        try assertCleanFailure(fuse + ["--truncate"], says: "--truncate applies to --text")
        let textIF = ["fuse", "--model", "textif", "--random-weights", "1", "--backend", "cpu", "--ir", ir, "--vis", vis, "-o", out]
        try assertCleanFailure(textIF + ["--text-features", try Fixtures.features(), "--resize-ir"], says: "--resize-ir applies to --model textfusion")
        try assertCleanFailure(textIF + ["--clip", try Fixtures.clip(), "--task", "low-light", "--task", "low-light"], says: "--task low-light is given more than once")
        try assertCleanFailure(textIF + ["--text-features", try Fixtures.features(), "--clip", try Fixtures.clip()], says: "--clip applies to prompts")
        try assertCleanFailure(["encode-text", "--backend", "cpu", "--device", "0", "--clip", try Fixtures.clip(), "-o", dir.appendingPathComponent("f.safetensors").path, "a"],
                               says: "does not apply to --backend cpu")
        try assertCleanFailure(["check-golden", "--backend", "cpu", "--device", "1", try TestData.path("golden/textfusion_64x64.safetensors")],
                               says: "does not apply to --backend cpu")
        // Nothing was written by any of them.
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testAMistypedDatasetFolderIsNamed() throws {
        // `--ir DIR` that does not exist with an output folder: the folder is what is wrong.
        let dir = try makeTemporaryDirectory("mistyped")
        try assertCleanFailure(["fuse", "--ir", dir.appendingPathComponent("irx").path, "--vis", dir.path, "--text-features", try Fixtures.features(),
                                "-o", dir.appendingPathComponent("out").path], says: "irx: no such file or folder")
    }

    func testInvalidEnvironmentValuesAreRejected() throws {
        for (name, value, says) in [("FUSIONKIT_KERNELS", "fast", "expected direct or tiled"), ("FUSIONKIT_DEVICE", "gpu", "not a device index"),
                                    ("FUSIONKIT_SUBMISSION_GFLOP", "-4", "positive number"), ("FUSIONKIT_GPU_TIMEOUT", "soon", "positive number"),
                                    ("FUSIONKIT_VALIDATION", "maybe", "expected 1 or 0"), ("FUSIONKIT_SHADER_DIR", "/no/such/folder", "no such folder"),
                                    ("FUSIONKIT_KERNEL", "direct", "is not a FusionKit variable")] {
            try assertCleanFailure(["devices"], environment: [name: value], says: name)
            try assertCleanFailure(["devices"], environment: [name: value], says: says)
        }
    }

    // MARK: - Class 13: messages that say what to do

    func testABrokenShaderReportsItsFirstErrorsBriefly() throws {
        let shaders = try makeTemporaryDirectory("broken-shaders")
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Shaders")
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: shaders.appendingPathComponent(name))
        }
        // Thousands of lines of follow-on errors: a stray token in a shared include.
        let common = shaders.appendingPathComponent("common.glsl")
        let text = try String(contentsOf: common, encoding: .utf8)
        try (text + "\n" + String(repeating: "this is not glsl;\n", count: 2000)).write(to: common, atomically: true, encoding: .utf8)
        let cache = try makeTemporaryDirectory("broken-shaders-cache")
        let r = try FusionCLI.runLimited(["parity", "--ops", "--op", "softmax"], environment: ["FUSIONKIT_SHADER_DIR": shaders.path, "FUSIONKIT_CACHE": cache.path],
                                         timeout: 300)
        XCTAssertFalse(r.signaled || r.timedOut, "\(r)")
        XCTAssertNotEqual(r.status, 0)
        let lines = (r.out + r.err).split(separator: "\n")
        XCTAssert((r.out + r.err).contains("failed to compile shader"), r.out + r.err)
        XCTAssertLessThan(lines.count, 200, "\(lines.count) lines of output")
    }

    func testAnImageOverTheDeviceBindingLimitSaysWhatToDo() throws {
        // On lavapipe (128 MiB maxStorageBufferRange) TextFusion's window attention at
        // 2560x2048 cannot be bound; the message says what to do instead.
        let dir = try makeTemporaryDirectory("binding-limit")
        let (ir, vis) = try Fixtures.smallPair(in: dir, width: 2560, height: 2048)
        let r = try FusionCLI.runLimited(["fuse", "--backend", "vulkan", "--weights", try Fixtures.weights(), "--ir", ir, "--vis", vis,
                                          "--text-features", try Fixtures.features(), "-o", dir.appendingPathComponent("o.png").path], timeout: 900)
        if r.status != 0 {
            XCTAssertTrue(r.isCleanFailure, "\(r)")
            XCTAssert(r.err.contains("maxStorageBufferRange") && r.err.contains("use --backend cpu, or a smaller image"), r.err)
        }
    }

    func testNaNMetricsPrintAsNaN() throws {
        // Constant images make correlation-type metrics NaN: the table says "nan", not "-nan".
        let dir = try makeTemporaryDirectory("eval-nan")
        for sub in ["ir", "vi", "fused"] {
            let folder = dir.appendingPathComponent(sub)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Image(planes: [[Float](repeating: 0.5, count: 64)], width: 8, height: 8, bitDepth: 8, scaledFrom: 1)
                .writePNG(to: folder.appendingPathComponent("a.png").path)
        }
        let r = try FusionCLI.runLimited(["eval", "--ir", dir.appendingPathComponent("ir").path, "--vis", dir.appendingPathComponent("vi").path,
                                          "--fused", dir.appendingPathComponent("fused").path])
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertFalse(r.out.contains("-nan"), r.out)
        XCTAssert(r.out.contains("nan"), r.out)
    }

    func testAPublishedWeightsCopyThatFailsItsChecksumIsReported() throws {
        let data = try makeTemporaryDirectory("bad-copy")
        let weights = data.appendingPathComponent("weights")
        try FileManager.default.createDirectory(at: weights, withIntermediateDirectories: true)
        var bytes = [UInt8](try XCTUnwrap(Fixtures.contents(try Fixtures.weights())))
        bytes[bytes.count / 2] ^= 1
        try Data(bytes).write(to: weights.appendingPathComponent("textfusion_llvip.model"))
        let cache = try makeTemporaryDirectory("bad-copy-cache")
        let dir = try makeTemporaryDirectory("bad-copy-out")
        let (ir, vis) = try Fixtures.smallPair(in: dir)
        let r = try FusionCLI.runLimited(["fuse", "--backend", "cpu", "--ir", ir, "--vis", vis, "--text-features", try Fixtures.features(),
                                          "-o", dir.appendingPathComponent("o.png").path],
                                         environment: ["FUSIONKIT_TEST_DATA": data.path, "FUSIONKIT_CACHE": cache.path, "FUSIONKIT_WEIGHTS_URL": "http://127.0.0.1:9/"])
        XCTAssertTrue(r.isCleanFailure, "\(r)")
        XCTAssert(r.err.contains("does not match the published SHA-256"), r.err)
    }

    // MARK: - Class 15: inputs that would block

    func testANamedPipeAsInputIsRefusedWithoutWaiting() throws {
        let dir = try makeTemporaryDirectory("fifo")
        let (ir, vis) = try Fixtures.smallPair(in: dir)
        let fifo = dir.appendingPathComponent("pipe.png").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let out = dir.appendingPathComponent("o.png").path
        for arguments in [try Fixtures.fuseArguments(ir: fifo, vis: vis, output: out), try Fixtures.fuseArguments(ir: ir, vis: fifo, output: out),
                          ["fuse", "--backend", "cpu", "--weights", fifo, "--ir", ir, "--vis", vis, "--text-features", try Fixtures.features(), "-o", out],
                          ["fuse", "--backend", "cpu", "--weights", try Fixtures.weights(), "--ir", ir, "--vis", vis, "--text-features", fifo, "-o", out],
                          ["inspect", fifo]] {
            let r = try FusionCLI.runLimited(arguments, timeout: 30)
            XCTAssertTrue(r.isCleanFailure, "\(arguments.joined(separator: " ")): \(r)")
            XCTAssert(r.err.contains(fifo) && r.err.contains("named pipe"), "\(r.out)\n\(r.err)")
            XCTAssertLessThan(r.seconds, 10)
        }
        // check-golden reports the case as an error row and exits 1.
        let r = try FusionCLI.runLimited(["check-golden", "--backend", "cpu", fifo], timeout: 30)
        XCTAssertEqual(r.status, 1, "\(r)")
        XCTAssertFalse(r.signaled || r.timedOut)
        XCTAssert(r.out.contains("ERROR") && r.out.contains("named pipe"), r.out)
    }

    func testALongPromptCanBeTruncatedInFuse() throws {
        let dir = try makeTemporaryDirectory("truncate")
        let (ir, vis) = try Fixtures.smallPair(in: dir)
        let out = dir.appendingPathComponent("o.png").path
        let prompt = String(repeating: "a pedestrian walks on the sidewalk at night ", count: 20)
        let base = ["fuse", "--backend", "cpu", "--weights", try Fixtures.weights(), "--ir", ir, "--vis", vis, "--text", prompt, "--clip", try Fixtures.clip(), "-o", out]
        let cache = try makeTemporaryDirectory("truncate-cache")
        var r = try FusionCLI.runLimited(base, environment: ["FUSIONKIT_CACHE": cache.path])
        XCTAssertTrue(r.isCleanFailure, "\(r)")
        XCTAssert(r.err.contains("--truncate"), r.err)
        r = try FusionCLI.runLimited(base + ["--truncate"], environment: ["FUSIONKIT_CACHE": cache.path])
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertNoThrow(try Image.read(path: out))
    }
}
