import Foundation
import FusionIO
import FusionMetrics
import FusionTestSupport
import XCTest

/// `fusion eval` on small synthetic folders: pairing, formats, and every error it reports.
final class EvalCommandTests: XCTestCase {
    /// A deterministic 8-bit test image.
    func image(width: Int = 24, height: Int = 20, channels: Int = 3, seed: Int) -> Image {
        var samples = [UInt16](repeating: 0, count: width * height * channels)
        for i in 0..<samples.count { samples[i] = UInt16((i * 37 + seed * 101 + (i / 7) * seed) % 256) }
        return Image(width: width, height: height, channels: channels, samples: samples)
    }

    /// ir/vis/fused folders under a fresh temporary directory.
    func folders() throws -> (ir: URL, vis: URL, fused: URL) {
        let root = try makeTemporaryDirectory("eval")
        let d = ["ir", "vis", "fused"].map { root.appendingPathComponent($0) }
        for u in d { try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true) }
        return (d[0], d[1], d[2])
    }

    func args(_ f: (ir: URL, vis: URL, fused: URL), _ extra: [String] = []) -> [String] {
        ["eval", "--ir", f.ir.path, "--vis", f.vis.path, "--fused", f.fused.path] + extra
    }

    func testPairsMixedExtensionsReportsUnmatchedAndPrintsAllFormats() throws {
        let f = try folders()
        try image(seed: 1).writePNG(to: f.ir.appendingPathComponent("a.png").path)
        try image(seed: 2).writeJPEG(to: f.vis.appendingPathComponent("a.jpg").path)
        try image(seed: 3).writePNG(to: f.fused.appendingPathComponent("a.png").path)
        try image(channels: 1, seed: 4).writePNG(to: f.ir.appendingPathComponent("b.png").path)
        try image(seed: 5).writePNG(to: f.vis.appendingPathComponent("b.png").path)
        try image(seed: 6).writeJPEG(to: f.fused.appendingPathComponent("b.jpeg").path)
        try image(seed: 7).writePNG(to: f.ir.appendingPathComponent("only_ir.png").path)
        try Data("not an image".utf8).write(to: f.fused.appendingPathComponent("notes.txt"))

        let table = try FusionCLI.run(args(f, ["--jobs", "1"]))
        XCTAssertEqual(table.status, 0, table.err)
        XCTAssertTrue(table.err.contains("warning: unmatched image only_ir: in --ir but not in --vis, --fused"), table.err)
        XCTAssertTrue(table.err.contains("eval: 2/2"), table.err)
        let lines = table.out.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("profile: evaluator, 2 images"), table.out)
        XCTAssertEqual(lines[1].split(separator: " ", omittingEmptySubsequences: true).map(String.init),
                       ["name"] + MetricProfile.evaluator.keys)
        XCTAssertEqual(lines.filter { $0.hasPrefix("a ") || $0.hasPrefix("b ") || $0.hasPrefix("mean ") }.count, 3, table.out)

        let csv = try FusionCLI.run(args(f, ["--profile", "vifb", "--metrics", "qcb,Entropy", "--format", "csv"]))
        XCTAssertEqual(csv.status, 0, csv.err)
        let rows = csv.out.split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        XCTAssertEqual(rows.count, 4)
        XCTAssertEqual(rows[0], ["name", "Entropy", "Qcb"], "profile order, canonical names")
        XCTAssertEqual(rows.map { $0[0] }, ["name", "a", "b", "mean"])
        let values = rows[1...2].map { $0[1...].map { Double($0)! } }
        XCTAssertEqual(Double(rows[3][1])!, (values[0][0] + values[1][0]) / 2, accuracy: 1e-12)

        // The library gives the same numbers as the CLI's full-precision CSV.
        let lib = try Evaluation.evaluate(ImageTriple(name: "a", ir: f.ir.appendingPathComponent("a.png").path,
                                                      vis: f.vis.appendingPathComponent("a.jpg").path,
                                                      fused: f.fused.appendingPathComponent("a.png").path),
                                          profile: .vifb, metrics: ["Entropy", "Qcb"])
        XCTAssertEqual(lib.values["Entropy"], values[0][0])
        XCTAssertEqual(lib.values["Qcb"], values[0][1])

        let json = try FusionCLI.run(args(f, ["--metrics", "EN,SSIM", "--format", "json", "--jobs", "3"]))
        XCTAssertEqual(json.status, 0, json.err)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
        XCTAssertEqual(object["profile"] as? String, "evaluator")
        let images = try XCTUnwrap(object["images"] as? [[String: Any]])
        XCTAssertEqual(images.map { $0["name"] as? String }, ["a", "b"])
        XCTAssertEqual((images[0]["metrics"] as? [String: Double]).map { Set($0.keys) }, ["EN", "SSIM"])
        XCTAssertEqual((object["mean"] as? [String: Double]).map { Set($0.keys) }, ["EN", "SSIM"])
    }

    /// Runs `fusion eval` expecting failure, returning stderr.
    func failure(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try FusionCLI.run(arguments)
        XCTAssertNotEqual(r.status, 0, "expected a failure: \(r.out)", file: file, line: line)
        XCTAssertEqual(r.out, "", "nothing on stdout after an error", file: file, line: line)
        return r.err
    }

    func testErrorsNameTheFileOrArgument() throws {
        let f = try folders()
        try image(seed: 1).writePNG(to: f.ir.appendingPathComponent("x.png").path)
        try image(seed: 2).writePNG(to: f.vis.appendingPathComponent("x.png").path)
        try image(width: 30, seed: 3).writePNG(to: f.fused.appendingPathComponent("x.png").path)
        let sizes = try failure(args(f))
        XCTAssertTrue(sizes.contains("images of 'x' differ in size"), sizes)
        XCTAssertTrue(sizes.contains(f.fused.appendingPathComponent("x.png").path + " is 30x20"), sizes)

        try image(seed: 3).writePNG(to: f.fused.appendingPathComponent("x.png").path)
        XCTAssertEqual(try FusionCLI.run(args(f)).status, 0)

        let metric = try failure(args(f, ["--metrics", "EN,Qcb"]))
        XCTAssertTrue(metric.contains("unknown metric 'Qcb' for profile evaluator"), metric)
        XCTAssertTrue(metric.contains("EN SD SF AG MI MSE CC PSNR SCD VIF Qabf SSIM"), metric)
        let empty = try failure(args(f, ["--metrics", ","]))
        XCTAssertTrue(empty.contains("--metrics"), empty)

        let profile = try failure(args(f, ["--profile", "matlab"]))
        XCTAssertTrue(profile.contains("unknown profile 'matlab'"), profile)
        XCTAssertTrue(profile.contains("evaluator, vifb"), profile)

        let format = try failure(args(f, ["--format", "xml"]))
        XCTAssertTrue(format.contains("xml") && format.contains("--format"), format)

        let jobs = try failure(args(f, ["--jobs", "0"]))
        XCTAssertTrue(jobs.contains("--jobs must be at least 1"), jobs)

        let missing = try failure(["eval", "--ir", "/nonexistent/ir", "--vis", f.vis.path, "--fused", f.fused.path])
        XCTAssertTrue(missing.contains("--ir folder '/nonexistent/ir' does not exist"), missing)

        let root = try makeTemporaryDirectory("eval-empty")
        let none = try failure(["eval", "--ir", f.ir.path, "--vis", root.path, "--fused", f.fused.path])
        XCTAssertTrue(none.contains("--vis folder '\(root.path)' holds no .png or .jpg image"), none)

        // No name in all three folders.
        let other = try makeTemporaryDirectory("eval-other")
        try image(seed: 9).writePNG(to: other.appendingPathComponent("y.png").path)
        let unmatched = try failure(["eval", "--ir", f.ir.path, "--vis", f.vis.path, "--fused", other.path])
        XCTAssertTrue(unmatched.contains("no image name is present in all three folders"), unmatched)

        // Two images of one name in a folder.
        try image(seed: 3).writeJPEG(to: f.fused.appendingPathComponent("x.jpg").path)
        let ambiguous = try failure(args(f))
        XCTAssertTrue(ambiguous.contains("--fused folder has several images named 'x': x.jpg, x.png"), ambiguous)
        try FileManager.default.removeItem(at: f.fused.appendingPathComponent("x.jpg"))

        // An image that does not decode.
        try Data("garbage".utf8).write(to: f.vis.appendingPathComponent("x.png"))
        let broken = try failure(args(f))
        XCTAssertTrue(broken.contains("cannot read image '\(f.vis.appendingPathComponent("x.png").path)'"), broken)
    }
}
