import Foundation
import FusionCore
import FusionIO
import FusionTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `fusion fuse` over datasets: identical to the single-pair command, resumable after a
/// kill at any moment, shardable, and going on past pairs that fail.
final class DatasetFuseCommandTests: XCTestCase {
    private func weights() throws -> String { try TestData.path("weights/textfusion_llvip.model") }
    private func clip() throws -> String { try TestData.path("golden/clip_text_tiny.pt") }
    private func features() throws -> String { try TestData.path("golden/textfusion_1024x1280.safetensors") }

    private func run(_ arguments: [String], environment: [String: String] = [:]) throws -> FusionCLI.Result {
        let r = try FusionCLI.runTimed(arguments, environment: environment, timeout: 900)
        print("fusion \(arguments.prefix(3).joined(separator: " ")) ... -> \(r.status) in \(String(format: "%.2f", r.seconds)) s")
        return r
    }

    /// A small dataset of `count` registered pairs of assorted sizes (grey IR, colour visible).
    private func smallDataset(_ count: Int, in folder: URL, sizes: [(Int, Int)] = [(40, 32), (56, 48), (40, 32), (64, 40)]) throws -> (ir: URL, vis: URL) {
        let ir = folder.appendingPathComponent("ir"), vis = folder.appendingPathComponent("vi")
        try FileManager.default.createDirectory(at: ir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: vis, withIntermediateDirectories: true)
        for i in 0..<count {
            let (w, h) = sizes[i % sizes.count]
            try Image(planes: [(0..<(w * h)).map { Float(($0 * (i + 3)) % 97) / 96 }], width: w, height: h, bitDepth: 8, scaledFrom: 1)
                .writePNG(to: ir.appendingPathComponent(String(format: "p%02d.png", i)).path)
            try Image(planes: (0..<3).map { c in (0..<(w * h)).map { Float(($0 * (c + 2) + i * 7) % 89) / 88 } }, width: w, height: h, bitDepth: 8, scaledFrom: 1)
                .writePNG(to: vis.appendingPathComponent(String(format: "p%02d.png", i)).path)
        }
        return (ir, vis)
    }

    private func files(_ folder: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
    }

    private func logLines(_ folder: URL) throws -> [[String: Any]] {
        let text = try String(contentsOf: folder.appendingPathComponent("fusion-run.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    // MARK: - Acceptance 1: the same bytes as the single-pair command

    func testTNO25WithTextFolderEqualsTheSinglePairCommand() throws {
        let pairs = try TestData.path("data/pairs/tno25")
        let out = try makeTemporaryDirectory("tno25")
        let r = try run(["fuse", "--model", "textfusion", "--backend", "cpu", "--weights", try weights(), "--ir", pairs + "/ir", "--vis", pairs + "/vi",
                         "--text-dir", pairs + "/text/text_ir_vi_GT", "--clip", try clip(), "--truncate", "-o", out.path])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let images = files(out).filter { $0.hasSuffix(".png") }
        XCTAssertEqual(images.count, 25, "\(images)")
        XCTAssertEqual(try logLines(out).count, 25)
        let single = try makeTemporaryDirectory("tno25-single")
        for name in images {
            let stem = String(name.dropLast(4))
            let ir = try XCTUnwrap(files(URL(fileURLWithPath: pairs + "/ir")).first { $0.hasPrefix(stem + ".") })
            let vis = try XCTUnwrap(files(URL(fileURLWithPath: pairs + "/vi")).first { $0.hasPrefix(stem + ".") })
            let prompt = try String(contentsOfFile: pairs + "/text/text_ir_vi_GT/\(stem).txt", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let path = single.appendingPathComponent(name).path
            let s = try run(["fuse", "--backend", "cpu", "--weights", try weights(), "--ir", pairs + "/ir/" + ir, "--vis", pairs + "/vi/" + vis,
                             "--text", prompt, "--clip", try clip(), "--truncate", "-o", path])
            XCTAssertEqual(s.status, 0, s.err)
            XCTAssertEqual(FileManager.default.contents(atPath: path), FileManager.default.contents(atPath: out.appendingPathComponent(name).path),
                           "\(name) differs from the single-pair command's output")
        }
    }

    func testTextIFTasksPerPairEqualTheSinglePairCommand() throws {
        let dir = try makeTemporaryDirectory("textif-dataset")
        let (ir, vis) = try smallDataset(3, in: dir)
        let out = dir.appendingPathComponent("out")
        let base = ["--model", "textif", "--random-weights", "3", "--backend", "cpu", "--clip", try clip(), "--task", "low-light", "--task", "overexposure"]
        let r = try run(["fuse"] + base + ["--ir", ir.path, "--vis", vis.path, "-o", out.path])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertEqual(files(out).filter { $0.hasSuffix(".png") }.count, 6)
        for i in 0..<3 {
            let stem = String(format: "p%02d", i)
            let single = dir.appendingPathComponent("single_\(stem).png").path
            let s = try run(["fuse"] + base + ["--ir", ir.appendingPathComponent(stem + ".png").path, "--vis", vis.appendingPathComponent(stem + ".png").path, "-o", single])
            XCTAssertEqual(s.status, 0, s.err)
            for task in ["low-light", "overexposure"] {
                XCTAssertEqual(FileManager.default.contents(atPath: dir.appendingPathComponent("single_\(stem)_\(task).png").path),
                               FileManager.default.contents(atPath: out.appendingPathComponent("\(stem)_\(task).png").path), "\(stem) \(task)")
            }
        }
    }

    func testBatch4GivesTheBytesOfBatch1() throws {
        let dir = try makeTemporaryDirectory("batch")
        let (ir, vis) = try smallDataset(7, in: dir)
        for model in [["--model", "textfusion", "--weights", try weights()], ["--model", "textif", "--random-weights", "5"]] {
            let one = dir.appendingPathComponent("one-\(model[1])"), four = dir.appendingPathComponent("four-\(model[1])")
            let base = ["fuse", "--backend", "cpu"] + model + ["--ir", ir.path, "--vis", vis.path, "--text-features", try features()]
            XCTAssertEqual(try run(base + ["-o", one.path]).status, 0)
            let r = try run(base + ["-o", four.path, "--batch", "4"])
            XCTAssertEqual(r.status, 0, r.out + r.err)
            let names = files(one).filter { $0.hasSuffix(".png") }
            XCTAssertEqual(names.count, 7)
            XCTAssertEqual(files(four).filter { $0.hasSuffix(".png") }, names)
            for name in names {
                XCTAssertEqual(FileManager.default.contents(atPath: one.appendingPathComponent(name).path),
                               FileManager.default.contents(atPath: four.appendingPathComponent(name).path), "\(model[1]) \(name)")
            }
        }
    }

    // MARK: - Acceptance 2: kills at any moment, then a rerun

    func testKilledRunsResumeToExactlyTheUninterruptedFiles() throws {
        let dir = try makeTemporaryDirectory("resume")
        let (ir, vis) = try smallDataset(8, in: dir, sizes: [(320, 256), (256, 200)])
        let arguments = { (out: URL) in ["fuse", "--backend", "cpu", "--weights", try self.weights(), "--ir", ir.path, "--vis", vis.path,
                                         "--text-features", try self.features(), "-o", out.path] }
        let reference = dir.appendingPathComponent("reference")
        let start = Date()
        XCTAssertEqual(try run(try arguments(reference)).status, 0)
        let full = Date().timeIntervalSince(start)
        let out = dir.appendingPathComponent("killed")
        for k in 1...5 {
            let delay = full * Double(k) / 6
            _ = try FusionCLI.runInterrupted(try arguments(out), signal: SIGKILL, after: delay)
        }
        let r = try run(try arguments(out))
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertEqual(files(out), files(reference))
        for name in files(reference) where name.hasSuffix(".png") {
            XCTAssertEqual(FileManager.default.contents(atPath: out.appendingPathComponent(name).path),
                           FileManager.default.contents(atPath: reference.appendingPathComponent(name).path), name)
        }
        let stems = try logLines(out).compactMap { $0["stem"] as? String }
        XCTAssertEqual(stems.sorted(), (0..<8).map { String(format: "p%02d", $0) }, "one log line per pair")
        // A rerun skips everything and adds no line.
        let again = try run(try arguments(out))
        XCTAssertEqual(again.status, 0)
        XCTAssert(again.out.contains("fused 0, skipped 8"), again.out)
        XCTAssertEqual(try logLines(out).count, 8)
    }

    // MARK: - Acceptance 3: shards

    func testShardsCoverEveryPairOnce() throws {
        let dir = try makeTemporaryDirectory("shards")
        let (ir, vis) = try smallDataset(7, in: dir)
        var seen: [String] = []
        for i in 1...3 {
            let out = dir.appendingPathComponent("shard\(i)")
            let r = try run(["fuse", "--backend", "cpu", "--weights", try weights(), "--ir", ir.path, "--vis", vis.path, "--text-features", try features(),
                             "--shard", "\(i)/3", "-o", out.path])
            XCTAssertEqual(r.status, 0, r.out + r.err)
            seen += files(out).filter { $0.hasSuffix(".png") }
        }
        XCTAssertEqual(seen.sorted(), (0..<7).map { String(format: "p%02d.png", $0) })
        let bad = try run(["fuse", "--backend", "cpu", "--ir", ir.path, "--vis", vis.path, "--text-features", try features(), "--shard", "4/3", "-o", dir.path + "/x"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssert(bad.err.contains("--shard 4/3"), bad.err)
    }

    // MARK: - Acceptance 5: failures are listed and the rest still fuses

    func testFailingPairsAreListedAndTheOthersFuse() throws {
        let dir = try makeTemporaryDirectory("failures")
        let (ir, vis) = try smallDataset(5, in: dir)
        // A truncated image, a size mismatch, and a missing prompt file.
        let truncated = ir.appendingPathComponent("p01.png")
        let bytes = try Data(contentsOf: truncated)
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        try Image(planes: [[Float](repeating: 0.5, count: 30 * 20)], width: 30, height: 20, bitDepth: 8, scaledFrom: 1)
            .writePNG(to: ir.appendingPathComponent("p02.png").path)
        let text = dir.appendingPathComponent("text")
        try FileManager.default.createDirectory(at: text, withIntermediateDirectories: true)
        for i in [0, 1, 2, 4] { try "a person walking at night".write(to: text.appendingPathComponent(String(format: "p%02d.txt", i)), atomically: true, encoding: .utf8) }
        let out = dir.appendingPathComponent("out")
        let r = try run(["fuse", "--backend", "cpu", "--weights", try weights(), "--ir", ir.path, "--vis", vis.path, "--text-dir", text.path,
                         "--clip", try clip(), "-o", out.path])
        XCTAssertEqual(r.status, 1, r.out + r.err)
        XCTAssertEqual(files(out).filter { $0.hasSuffix(".png") }, ["p00.png", "p04.png"])
        XCTAssert(r.err.contains("p01") && r.err.contains(truncated.path), r.err)
        XCTAssert(r.err.contains("p02") && r.err.contains("pass --resize-ir"), r.err)
        XCTAssert(r.err.contains("p03") && r.err.contains("p03.txt"), r.err)
        // --fail-fast stops at the first failure.
        let fast = try run(["fuse", "--backend", "cpu", "--weights", try weights(), "--ir", ir.path, "--vis", vis.path, "--text-dir", text.path,
                            "--clip", try clip(), "--fail-fast", "--jobs", "1", "-o", dir.appendingPathComponent("fast").path])
        XCTAssertEqual(fast.status, 1)
    }

    // MARK: - Acceptance 6: the HTML report

    func testReportEmbedsEveryImageAndMatchesFusionEval() throws {
        let dir = try makeTemporaryDirectory("report")
        let (ir, vis) = try smallDataset(4, in: dir)
        let out = dir.appendingPathComponent("out")
        let page = dir.appendingPathComponent("report.html").path
        let r = try run(["fuse", "--backend", "cpu", "--weights", try weights(), "--ir", ir.path, "--vis", vis.path, "--text", "a <b>person</b> & a car",
                         "--clip", try clip(), "-o", out.path, "--report", page, "--metrics", "EN,SD,SSIM"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let html = try String(contentsOfFile: page, encoding: .utf8)
        // Every image is embedded (no file is referenced), three per pair.
        let sources = html.components(separatedBy: "<img").dropFirst().compactMap { tag -> String? in
            guard let start = tag.range(of: "src=\"")?.upperBound, let end = tag[start...].firstIndex(of: "\"") else { return nil }
            return String(tag[start..<end])
        }
        XCTAssertEqual(sources.count, 12)
        for src in sources {
            XCTAssert(src.hasPrefix("data:image/"), String(src.prefix(40)))
            let base64 = String(src[src.index(after: try XCTUnwrap(src.firstIndex(of: ",")))...])
            XCTAssertNoThrow(try Image.decode(try XCTUnwrap(Data(base64Encoded: base64)), name: "thumbnail"))
        }
        XCTAssert(html.contains("a &lt;b&gt;person&lt;/b&gt; &amp; a car"), "the prompt is escaped")
        XCTAssertFalse(html.contains("<b>person"))
        // The metric values are `fusion eval`'s.
        let e = try FusionCLI.runTimed(["eval", "--ir", ir.path, "--vis", vis.path, "--fused", out.path, "--metrics", "EN,SD,SSIM", "--format", "json"])
        XCTAssertEqual(e.status, 0, e.err)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(e.out.utf8)) as? [String: Any])
        let images = try XCTUnwrap(object["images"] as? [[String: Any]])
        XCTAssertEqual(images.count, 4)
        for image in images {
            let values = try XCTUnwrap(image["metrics"] as? [String: Double])
            for key in ["EN", "SD", "SSIM"] {
                let v = try XCTUnwrap(values[key])
                XCTAssert(html.contains(String(format: "%.4f", v)), "\(image["name"] ?? "") \(key) \(v) not in the report")
            }
        }
    }

    func testManifestsInCSVAndJSONLines() throws {
        let dir = try makeTemporaryDirectory("manifest")
        let (_, _) = try smallDataset(3, in: dir)
        let csv = """
        ir,vis,prompt,output
        ir/p00.png,vi/p00.png,"a car, parked",named/first.png
        ir/p01.png,vi/p01.png,,
        """
        try csv.write(to: dir.appendingPathComponent("pairs.csv"), atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out")
        var r = try run(["fuse", "--backend", "cpu", "--weights", try weights(), "--pairs", dir.appendingPathComponent("pairs.csv").path,
                         "--text", "a person", "--clip", try clip(), "-o", out.path])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("named/first.png").path), "the manifest's output, folder created")
        XCTAssertEqual(files(out).filter { $0.hasSuffix(".png") }, ["p01.png"])
        let jsonl = """
        {"ir": "ir/p00.png", "vis": "vi/p00.png", "features": "\(try features())"}
        {"ir": "ir/p02.png", "vis": "vi/p02.png", "prompt": "a bright road"}
        """
        try jsonl.write(to: dir.appendingPathComponent("pairs.jsonl"), atomically: true, encoding: .utf8)
        let out2 = dir.appendingPathComponent("out2")
        r = try run(["fuse", "--backend", "cpu", "--weights", try weights(), "--pairs", dir.appendingPathComponent("pairs.jsonl").path,
                     "--clip", try clip(), "-o", out2.path])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertEqual(files(out2).filter { $0.hasSuffix(".png") }, ["p00.png", "p02.png"])
        let prompts = try logLines(out2).compactMap { ($0["prompts"] as? [String])?.first }
        XCTAssert(prompts.contains("a bright road"), "\(prompts)")
        // Unknown columns and rows without images are errors naming the line.
        try "ir,vis,colour\nir/p00.png,vi/p00.png,red\n".write(to: dir.appendingPathComponent("bad.csv"), atomically: true, encoding: .utf8)
        r = try run(["fuse", "--backend", "cpu", "--pairs", dir.appendingPathComponent("bad.csv").path, "--text-features", try features(), "-o", out.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssert(r.err.contains("unknown column 'colour'"), r.err)
    }
}
