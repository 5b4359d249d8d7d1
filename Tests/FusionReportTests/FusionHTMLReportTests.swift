import Foundation
import FusionIO
import FusionMetrics
import FusionReport
import FusionTestSupport
import XCTest

/// The HTML report of a small fused dataset (five TNO pairs, their averages as the "fused"
/// images, one failed pair and one whose fused file is missing), read back with a strict
/// little HTML scanner.
final class FusionHTMLReportTests: XCTestCase {
    static let stems = ["07", "19", "20", "24", "08"]
    static let side = 160
    static let profile = MetricProfile.evaluator
    static let metrics = ["EN", "SD", "SF", "MI", "SCD", "Qabf", "SSIM"]
    static let title = "TNO <five> & \"friends\""
    static let scriptPrompt = "<script>alert(\"x\")</script> & 'more' </td></tr>"
    static let failedStem = "bad <stem> & \"quotes\" 'x'"
    static let failedReason = "out of memory: <GPU> & \"device lost\""

    /// Everything the tests share, built once.
    struct Fixture {
        let root: URL
        let entries: [FusionReportEntry]
        let summary: FusionReportSummary
        let html: String
        let page: HTMLElement
        /// The evaluated entries' triples, in entry order.
        var triples: [ImageTriple] { entries.prefix(FusionHTMLReportTests.stems.count).map(\.triple) }
    }

    nonisolated(unsafe) static var cached: Result<Fixture, Error>?

    override class func tearDown() {
        if case .success(let f)? = cached { try? FileManager.default.removeItem(at: f.root) }
        cached = nil
        super.tearDown()
    }

    func fixture() throws -> Fixture {
        if let cached = Self.cached { return try cached.get() }
        let tno = try TestData.path("data/pairs/tno25")
        let r = Result { try Self.makeFixture(tno: tno) }
        Self.cached = r
        return try r.get()
    }

    static func makeFixture(tno: String) throws -> Fixture {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fusionkit-report-\(UUID().uuidString)")
        let fused = root.appendingPathComponent("fused")
        try FileManager.default.createDirectory(at: fused, withIntermediateDirectories: true)
        var entries: [FusionReportEntry] = []
        for (i, stem) in stems.enumerated() {
            let ir = "\(tno)/ir/\(stem).png", vis = "\(tno)/vi/\(stem).png"
            let out = fused.appendingPathComponent("\(stem).png").path
            try average(Image.read(path: ir), Image.read(path: vis)).writePNG(to: out)
            let prompt = i == 1 ? scriptPrompt : (try? String(contentsOfFile: "\(tno)/text/text_ir_vi_GT/\(stem).txt", encoding: .utf8))
            entries.append(FusionReportEntry(stem: stem, irPath: ir, visPath: vis, fusedPath: out, prompt: prompt,
                                             status: .fused, seconds: 0.25 * Double(i + 1)))
        }
        entries.append(FusionReportEntry(stem: failedStem, irPath: "\(tno)/ir/01.png", visPath: "\(tno)/vi/01.png",
                                         fusedPath: fused.appendingPathComponent("01.png").path, prompt: "a prompt",
                                         status: .failed(reason: failedReason)))
        // Marked fused, but its file is not there.
        entries.append(FusionReportEntry(stem: "02", irPath: "\(tno)/ir/02.png", visPath: "\(tno)/vi/02.png",
                                         fusedPath: fused.appendingPathComponent("02.png").path))
        let path = root.appendingPathComponent("report.html").path
        let summary = try FusionHTMLReport.write(entries: entries, title: title, profile: profile, metrics: metrics,
                                                 thumbnailSide: side, jobs: 2, to: path)
        let html = try String(contentsOfFile: path, encoding: .utf8)
        return Fixture(root: root, entries: entries, summary: summary, html: html, page: try HTMLElement.parse(html))
    }

    /// The rounded mean of two images of one size.
    static func average(_ a: Image, _ b: Image) -> Image {
        precondition(a.width == b.width && a.height == b.height && a.channels == b.channels && a.bitDepth == b.bitDepth)
        let samples = zip(a.samples, b.samples).map { UInt16((UInt32($0) + UInt32($1) + 1) / 2) }
        return Image(width: a.width, height: a.height, channels: a.channels, bitDepth: a.bitDepth, samples: samples)
    }

    /// The size a thumbnail must have: the longer side `side`, the other one rounded.
    func expectedSize(_ width: Int, _ height: Int, side: Int) -> (Int, Int) {
        let longer = max(width, height)
        if longer <= side { return (width, height) }
        let w = width == longer ? side : Int((Double(width) * Double(side) / Double(longer)).rounded())
        let h = height == longer ? side : Int((Double(height) * Double(side) / Double(longer)).rounded())
        return (w, h)
    }

    func decodeDataURI(_ src: String, file: StaticString = #filePath, line: UInt = #line) throws -> Image {
        let prefixes = ["data:image/jpeg;base64,", "data:image/png;base64,"]
        let prefix = try XCTUnwrap(prefixes.first(where: src.hasPrefix), "not an embedded image: \(src.prefix(40))", file: file, line: line)
        let bytes = try XCTUnwrap(Data(base64Encoded: String(src.dropFirst(prefix.count))), "bad base64", file: file, line: line)
        return try Image.decode(bytes, name: "thumbnail")
    }

    // MARK: - Thumbnails

    func testEveryImageIsAnEmbeddedThumbnailWithinTheSide() throws {
        let f = try fixture()
        let images = f.page.all("img")
        // Five evaluated pairs with three thumbnails, two failed ones with their two sources.
        XCTAssertEqual(images.count, 5 * 3 + 2 * 2)
        for img in images {
            let src = try XCTUnwrap(img.attributes["src"])
            XCTAssertTrue(src.hasPrefix("data:image/jpeg;base64,"), "default thumbnails are JPEG")
            let image = try decodeDataURI(src)
            XCTAssertLessThanOrEqual(max(image.width, image.height), Self.side)
            XCTAssertEqual(img.attributes["width"], "\(image.width)")
            XCTAssertEqual(img.attributes["height"], "\(image.height)")
        }
        // Each pair's thumbnails keep the aspect of its images.
        for row in f.page.all("tr", class: "pair") {
            let stem = try XCTUnwrap(row.attributes["data-stem"])
            let source = try Image.read(path: try XCTUnwrap(f.entries.first { $0.stem == stem }).irPath)
            let expected = expectedSize(source.width, source.height, side: Self.side)
            let roles = row.all("img").map { $0.attributes["data-role"] ?? "" }
            XCTAssertEqual(roles, ["ir", "vis", "fused"], stem)
            for img in row.all("img") {
                let image = try decodeDataURI(img.attributes["src"] ?? "")
                XCTAssertEqual(image.width, expected.0, stem)
                XCTAssertEqual(image.height, expected.1, stem)
            }
        }
        // Nothing is loaded from elsewhere, and nothing runs.
        for element in f.page.all() {
            for name in ["src", "href", "srcset", "action"] {
                if let value = element.attributes[name] { XCTAssertTrue(value.hasPrefix("data:"), "\(element.name) \(name)=\(value.prefix(60))") }
            }
            XCTAssertFalse(["script", "link", "iframe", "object", "embed"].contains(element.name), element.name)
            XCTAssertFalse(element.attributes.keys.contains { $0.hasPrefix("on") }, element.name)
        }
        XCTAssertFalse(f.html.contains("url("), "no CSS resources")
    }

    /// PNG thumbnails of an image that fits are the image itself, sample for sample; a
    /// larger one is shrunk to the side. Without metrics there are no metric columns.
    func testPNGThumbnailsAreExactAndSmallImagesAreNotEnlarged() throws {
        let tno = try TestData.path("data/pairs/tno25")
        let dir = try makeTemporaryDirectory("report-png")
        let entries = ["07", "19"].map { stem in
            FusionReportEntry(stem: stem, irPath: "\(tno)/ir/\(stem).png", visPath: "\(tno)/vi/\(stem).png",
                              fusedPath: "\(tno)/vi/\(stem).png")
        }
        let path = dir.appendingPathComponent("r.html").path
        final class Calls: @unchecked Sendable { let lock = NSLock(); var seen: [String] = [] }
        let calls = Calls()
        let summary = try FusionHTMLReport.write(entries: entries, title: "png", profile: .vifb, metrics: [],
                                                 thumbnailSide: 300, thumbnailFormat: .png, jobs: 1,
                                                 progress: { done, total, stem in
                                                     calls.lock.lock(); calls.seen.append("\(done)/\(total) \(stem)"); calls.lock.unlock()
                                                 }, to: path)
        XCTAssertEqual(calls.seen, ["1/2 07", "2/2 19"])
        XCTAssertEqual(summary.evaluated, 2)
        XCTAssertEqual(summary.failed, 0)
        let page = try HTMLElement.parse(try String(contentsOfFile: path, encoding: .utf8))
        let rows = page.all("tr", class: "pair")
        XCTAssertEqual(rows.count, 2)
        let small = try rows[0].all("img").map { try decodeDataURI($0.attributes["src"] ?? "") }
        XCTAssertEqual(small.count, 3)
        XCTAssertEqual(small[0], try Image.read(path: "\(tno)/ir/07.png").removingAlpha(), "256x256 kept as it is")
        XCTAssertEqual(small[1], try Image.read(path: "\(tno)/vi/07.png").removingAlpha())
        let large = try rows[1].all("img").map { try decodeDataURI($0.attributes["src"] ?? "") }
        XCTAssertEqual(large.map { "\($0.width)x\($0.height)" }, ["300x225", "300x225", "300x225"])
        XCTAssertEqual(page.all("td", class: "metric").count, 0)
        XCTAssertEqual(page.all("tr", class: "mean").count, 0)
    }

    // MARK: - Metrics

    /// Per pair, metric -> (shown text, data-value), from the report's table.
    func reportValues(_ f: Fixture) throws -> [(stem: String, cells: [String: (text: String, value: String)])] {
        try f.page.all("tr", class: "pair").map { row in
            var cells: [String: (String, String)] = [:]
            for td in row.all("td", class: "metric") {
                cells[try XCTUnwrap(td.attributes["data-metric"])] = (td.text, try XCTUnwrap(td.attributes["data-value"]))
            }
            return (try XCTUnwrap(row.attributes["data-stem"]), cells)
        }
    }

    func testMetricsAreThoseOfEvaluationFormattedAsFusionEval() throws {
        let f = try fixture()
        let reference = try Evaluation.run(f.triples, profile: Self.profile, metrics: Self.metrics, jobs: 2)
        XCTAssertEqual(reference.images.count, Self.stems.count)
        let rows = try reportValues(f)
        XCTAssertEqual(rows.map(\.stem), Self.stems, "the evaluated pairs, in entry order")
        let headers = f.page.all("th", class: "metric").map(\.text)
        XCTAssertEqual(headers, Self.metrics)
        for (row, image) in zip(rows, reference.images) {
            XCTAssertEqual(row.stem, image.name)
            XCTAssertEqual(Set(row.cells.keys), Set(Self.metrics))
            for key in Self.metrics {
                let v = try XCTUnwrap(image.values[key])
                XCTAssertEqual(row.cells[key]?.text, String(format: "%.4f", v), "\(row.stem) \(key)")
                XCTAssertEqual(row.cells[key]?.value, "\(v)", "\(row.stem) \(key)")
            }
        }
        // The means row: the mean of the per-pair values, shown the same way.
        let meanRow = try XCTUnwrap(f.page.all("tr", class: "mean").first)
        let means = Dictionary(uniqueKeysWithValues: meanRow.all("td", class: "metric").map { ($0.attributes["data-metric"] ?? "", $0) })
        XCTAssertEqual(Set(means.keys), Set(Self.metrics))
        for key in Self.metrics {
            let perPair = try rows.map { try XCTUnwrap(Double(try XCTUnwrap($0.cells[key]).value)) }
            let mean = perPair.reduce(0, +) / Double(perPair.count)
            let cell = try XCTUnwrap(means[key])
            XCTAssertEqual(try XCTUnwrap(Double(cell.attributes["data-value"] ?? "")), mean, accuracy: 1e-12 * max(1, abs(mean)), key)
            XCTAssertEqual(cell.attributes["data-value"], "\(try XCTUnwrap(reference.mean[key]))", key)
            XCTAssertEqual(cell.text, String(format: "%.4f", try XCTUnwrap(reference.mean[key])), key)
            XCTAssertEqual(f.summary.mean[key], reference.mean[key], key)
        }
    }

    /// The built `fusion eval` on the same triples prints the same numbers (JSON at full
    /// precision, the table at 4 decimals).
    func testMetricsEqualTheFusionEvalCommand() throws {
        let f = try fixture()
        let dirs = ["ir", "vis", "fused"].map { f.root.appendingPathComponent("cli-\($0)") }
        for d in dirs { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        for t in f.triples {
            for (d, source) in zip(dirs, [t.ir, t.vis, t.fused]) {
                let link = d.appendingPathComponent("\(t.name).png").path
                if !FileManager.default.fileExists(atPath: link) { try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: source) }
            }
        }
        let base = ["eval", "--ir", dirs[0].path, "--vis", dirs[1].path, "--fused", dirs[2].path,
                    "--profile", Self.profile.rawValue, "--metrics", Self.metrics.joined(separator: ","), "--jobs", "2"]
        let rows = try reportValues(f)

        let json = try FusionCLI.run(base + ["--format", "json"])
        XCTAssertEqual(json.status, 0, json.err)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
        let images = try XCTUnwrap(object["images"] as? [[String: Any]])
        XCTAssertEqual(images.compactMap { $0["name"] as? String }, rows.map(\.stem).sorted())
        // Values compared as the text `fusion eval` printed: Foundation's JSON parser on Linux
        // can be one unit in the last place off when it reads a double.
        let jsonLines = json.out.split(separator: "\n").map(String.init)
        for image in images {
            let name = try XCTUnwrap(image["name"] as? String)
            XCTAssertEqual((image["metrics"] as? [String: Any]).map { Set($0.keys) }, Set(Self.metrics))
            let row = try XCTUnwrap(rows.first { $0.stem == name })
            let line = try XCTUnwrap(jsonLines.first { $0.contains("{\"name\": \"\(name)\"") }, name)
            for key in Self.metrics {
                let value = try XCTUnwrap(row.cells[key]?.value)
                XCTAssertTrue(line.contains("\"\(key)\": \(value),") || line.contains("\"\(key)\": \(value)}"),
                              "\(name) \(key): the report says \(value); fusion eval: \(line)")
            }
        }
        let cliMean = try XCTUnwrap(object["mean"] as? [String: Double])
        let meanCells = try XCTUnwrap(f.page.all("tr", class: "mean").first).all("td", class: "metric")
        XCTAssertEqual(meanCells.count, Self.metrics.count)
        for cell in meanCells {
            let key = cell.attributes["data-metric"] ?? ""
            let reportMean = try XCTUnwrap(Double(cell.attributes["data-value"] ?? ""))
            let cli = try XCTUnwrap(cliMean[key], key)
            // The CLI averages in name order, the report in entry order: equal up to rounding.
            XCTAssertEqual(reportMean, cli, accuracy: 1e-12 * max(1, abs(cli)), key)
        }

        let table = try FusionCLI.run(base + ["--format", "table"])
        XCTAssertEqual(table.status, 0, table.err)
        let lines = table.out.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        let header = try XCTUnwrap(lines.first { $0.first == "name" })
        XCTAssertEqual(Array(header.dropFirst()), Self.metrics)
        var compared = 0
        for line in lines where line.count == Self.metrics.count + 1 {
            guard let row = rows.first(where: { $0.stem == line[0] }) else { continue }
            XCTAssertEqual(Self.metrics.map { row.cells[$0]?.text ?? "?" }, Array(line.dropFirst()), line[0])
            compared += 1
        }
        XCTAssertEqual(compared, Self.stems.count, table.out)
    }

    // MARK: - Text and failures

    func testStemsPromptsAndTitleAreEscaped() throws {
        let f = try fixture()
        XCTAssertEqual(f.page.all("title").first?.text, Self.title)
        XCTAssertEqual(f.page.all("h1").first?.text, Self.title)
        let rows = f.page.all("tr", class: "pair") + f.page.all("tr", class: "failed")
        XCTAssertEqual(rows.count, f.entries.count)
        for entry in f.entries {
            let row = try XCTUnwrap(rows.first { $0.attributes["data-stem"] == entry.stem }, entry.stem)
            XCTAssertEqual(row.all("div", class: "stem").first?.text, entry.stem)
            XCTAssertEqual(row.all("div", class: "prompt").first?.text, entry.prompt, entry.stem)
            XCTAssertEqual(row.all("div", class: "seconds").first?.text, entry.seconds.map { String(format: "%.2f s", $0) })
        }
        XCTAssertTrue(f.html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;more&#39; &lt;/td&gt;&lt;/tr&gt;"))
        XCTAssertTrue(f.html.contains("bad &lt;stem&gt; &amp; &quot;quotes&quot; &#39;x&#39;"))
        XCTAssertFalse(f.html.lowercased().contains("<script"))
        XCTAssertTrue(f.page.all("script").isEmpty)
    }

    func testFailedPairsShowTheirReasonsAndNoFusedThumbnail() throws {
        let f = try fixture()
        XCTAssertEqual(f.summary.pairs, 7)
        XCTAssertEqual(f.summary.evaluated, 5)
        XCTAssertEqual(f.summary.failed, 2)
        XCTAssertEqual(f.summary.metrics, Self.metrics)
        XCTAssertEqual(f.summary.bytes, f.html.utf8.count)
        let counts = Dictionary(uniqueKeysWithValues: f.page.all("span", class: "count").map { ($0.attributes["data-count"] ?? "", $0.text) })
        XCTAssertEqual(counts, ["pairs": "7 pairs", "evaluated": "5 fused", "failed": "2 failed"])

        let failed = f.page.all("tr", class: "failed")
        XCTAssertEqual(failed.map { $0.attributes["data-stem"] }, [Self.failedStem, "02"])
        XCTAssertEqual(failed[0].all("td", class: "reason").first?.text, Self.failedReason)
        let missing = try XCTUnwrap(failed[1].all("td", class: "reason").first?.text)
        XCTAssertTrue(missing.contains(f.entries[6].fusedPath), missing)
        for row in failed {
            XCTAssertEqual(row.all("img").map { $0.attributes["data-role"] ?? "" }, ["ir", "vis"], "sources only")
            XCTAssertTrue(row.all("td", class: "metric").isEmpty)
        }
        // Failed pairs do not count in the means (the mean row says of how many).
        XCTAssertEqual(f.page.all("tr", class: "mean").first?.all("th").first?.text, "mean of 5 pairs")
    }

    func testWrittenAtomicallyAndErrorsNameTheFile() throws {
        let tno = try TestData.path("data/pairs/tno25")
        let dir = try makeTemporaryDirectory("report-errors")
        let entry = FusionReportEntry(stem: "07", irPath: "\(tno)/ir/07.png", visPath: "\(tno)/vi/07.png",
                                      fusedPath: "\(tno)/vi/07.png", status: .failed(reason: "skipped"))
        func write(_ path: String, metrics: [String] = ["EN"], jobs: Int = 1, side: Int = 64) throws -> FusionReportSummary {
            try FusionHTMLReport.write(entries: [entry], title: "t", profile: .evaluator, metrics: metrics,
                                       thumbnailSide: side, jobs: jobs, to: path)
        }
        let path = dir.appendingPathComponent("report.html").path
        try Data("old".utf8).write(to: URL(fileURLWithPath: path))
        let summary = try write(path)
        XCTAssertEqual(summary.failed, 1)
        XCTAssertTrue(try String(contentsOfFile: path, encoding: .utf8).hasPrefix("<!DOCTYPE html>"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["report.html"], "no temporary left")

        let nowhere = dir.appendingPathComponent("missing/report.html").path
        XCTAssertThrowsError(try write(nowhere)) { error in
            XCTAssertEqual((error as? FileFormatError)?.path, nowhere)
            XCTAssertTrue("\(error)".contains(nowhere), "\(error)")
        }
        XCTAssertThrowsError(try write(dir.path)) { error in
            XCTAssertEqual((error as? FileFormatError)?.path, dir.path, "\(error)")
        }
        XCTAssertThrowsError(try write(path, metrics: ["EN", "Entropy"])) { error in
            XCTAssertEqual(error as? MetricsError, .unknownMetric("Entropy", profile: .evaluator))
        }
        XCTAssertThrowsError(try write(path, jobs: 0)) { XCTAssertEqual($0 as? MetricsError, .badJobs(0)) }
        XCTAssertThrowsError(try write(path, side: 4)) { XCTAssertEqual($0 as? FusionReportError, .badThumbnailSide(4)) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["report.html"])
    }

    func testThumbnailSize() {
        XCTAssertTrue(FusionHTMLReport.thumbnailSize(width: 595, height: 328, side: 160) == (160, 88))
        XCTAssertTrue(FusionHTMLReport.thumbnailSize(width: 328, height: 595, side: 160) == (88, 160))
        XCTAssertTrue(FusionHTMLReport.thumbnailSize(width: 256, height: 256, side: 256) == (256, 256))
        XCTAssertTrue(FusionHTMLReport.thumbnailSize(width: 100, height: 40, side: 256) == (100, 40))
        XCTAssertTrue(FusionHTMLReport.thumbnailSize(width: 10_000, height: 3, side: 64) == (64, 1))
    }
}

// MARK: - A strict little HTML scanner

/// An element of the page. The scanner knows just enough HTML5 for pages it can check:
/// void elements, quoted attributes, comments, the doctype and raw-text `<style>`/`<script>`;
/// every other element must be closed explicitly, and `&` must start a known character
/// reference, so unescaped text makes parsing fail.
final class HTMLElement {
    let name: String
    let attributes: [String: String]
    var children: [Child] = []

    enum Child {
        case element(HTMLElement)
        case text(String)
    }

    struct ParseError: Error, CustomStringConvertible {
        let offset: Int
        let message: String
        var description: String { "HTML at \(offset): \(message)" }
    }

    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    /// The text of the element and its descendants, character references decoded.
    var text: String {
        children.map { child in
            switch child {
            case .text(let t): return t
            case .element(let e): return e.text
            }
        }.joined()
    }

    /// Descendants (depth first) named `name` (any when nil) whose class list holds `className`.
    func all(_ name: String? = nil, class className: String? = nil) -> [HTMLElement] {
        var out: [HTMLElement] = []
        for case .element(let e) in children {
            let classes = (e.attributes["class"] ?? "").split(separator: " ").map(String.init)
            if (name == nil || e.name == name) && (className == nil || classes.contains(className!)) { out.append(e) }
            out += e.all(name, class: className)
        }
        return out
    }

    static let voidElements: Set<String> = ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]
    static let rawTextElements: Set<String> = ["style", "script"]

    static func parse(_ html: String) throws -> HTMLElement {
        let s = Array(html.unicodeScalars)
        var i = 0
        let root = HTMLElement(name: "#document", attributes: [:])
        var stack = [root]
        var pending = ""

        func fail(_ message: String) -> ParseError { ParseError(offset: i, message: message) }
        func at(_ literal: String) -> Bool {
            let l = Array(literal.unicodeScalars)
            guard i + l.count <= s.count else { return false }
            for k in 0..<l.count where String(s[i + k]).lowercased() != String(l[k]).lowercased() { return false }
            return true
        }
        func flush() throws {
            if !pending.isEmpty { stack.last!.children.append(.text(try decode(pending))); pending = "" }
        }
        func isNameScalar(_ c: Unicode.Scalar) -> Bool {
            CharacterSet.alphanumerics.contains(c) || c == "-" || c == "_" || c == ":"
        }
        func skipSpace() { while i < s.count, CharacterSet.whitespacesAndNewlines.contains(s[i]) { i += 1 } }
        func readName() -> String {
            var n = ""
            while i < s.count, isNameScalar(s[i]) { n.unicodeScalars.append(s[i]); i += 1 }
            return n.lowercased()
        }

        while i < s.count {
            guard s[i] == "<" else { pending.unicodeScalars.append(s[i]); i += 1; continue }
            try flush()
            if at("<!--") {
                while i < s.count, !at("-->") { i += 1 }
                guard i < s.count else { throw fail("comment not closed") }
                i += 3
            } else if at("<!") {
                while i < s.count, s[i] != ">" { i += 1 }
                i += 1
            } else if at("</") {
                i += 2
                let name = readName()
                skipSpace()
                guard i < s.count, s[i] == ">" else { throw fail("bad end tag </\(name)") }
                i += 1
                guard stack.count > 1, stack.last!.name == name else { throw fail("</\(name)> closes <\(stack.last!.name)>") }
                stack.removeLast()
            } else {
                i += 1
                let name = readName()
                guard !name.isEmpty else { throw fail("a bare '<' in text") }
                var attributes: [String: String] = [:]
                var selfClosing = false
                while true {
                    skipSpace()
                    guard i < s.count else { throw fail("tag <\(name) not closed") }
                    if s[i] == ">" { i += 1; break }
                    if s[i] == "/", i + 1 < s.count, s[i + 1] == ">" { i += 2; selfClosing = true; break }
                    let key = readName()
                    guard !key.isEmpty else { throw fail("bad attribute in <\(name)>") }
                    guard attributes[key] == nil else { throw fail("attribute \(key) twice in <\(name)>") }
                    skipSpace()
                    var value = ""
                    if i < s.count, s[i] == "=" {
                        i += 1
                        skipSpace()
                        guard i < s.count else { throw fail("attribute \(key) not closed") }
                        if s[i] == "\"" || s[i] == "'" {
                            let quote = s[i]
                            i += 1
                            var raw = ""
                            while i < s.count, s[i] != quote { raw.unicodeScalars.append(s[i]); i += 1 }
                            guard i < s.count else { throw fail("attribute \(key) not closed") }
                            i += 1
                            value = try decode(raw)
                        } else {
                            var raw = ""
                            while i < s.count, !CharacterSet.whitespacesAndNewlines.contains(s[i]), s[i] != ">" { raw.unicodeScalars.append(s[i]); i += 1 }
                            value = try decode(raw)
                        }
                    }
                    attributes[key] = value
                }
                let element = HTMLElement(name: name, attributes: attributes)
                stack.last!.children.append(.element(element))
                if rawTextElements.contains(name) {
                    var raw = ""
                    while i < s.count, !at("</\(name)") { raw.unicodeScalars.append(s[i]); i += 1 }
                    element.children.append(.text(raw))
                    i += name.unicodeScalars.count + 2
                    skipSpace()
                    guard i < s.count, s[i] == ">" else { throw fail("</\(name) not closed") }
                    i += 1
                } else if !voidElements.contains(name) && !selfClosing {
                    stack.append(element)
                }
            }
        }
        try flush()
        guard stack.count == 1 else { throw fail("not closed: \(stack.dropFirst().map(\.name))") }
        return root
    }

    /// Decodes `&amp; &lt; &gt; &quot; &#39; &#N; &#xN;`; any other `&` is an error.
    static func decode(_ raw: String) throws -> String {
        guard raw.contains("&") else { return raw }
        var out = ""
        var rest = Substring(raw)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else { throw ParseError(offset: 0, message: "unterminated reference in \(raw)") }
            let name = rest[rest.index(after: amp)..<semi]
            switch name {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            default:
                let code: UInt32?
                if name.hasPrefix("#x") { code = UInt32(name.dropFirst(2), radix: 16) }
                else if name.hasPrefix("#") { code = UInt32(name.dropFirst()) }
                else { code = nil }
                guard let c = code, let scalar = Unicode.Scalar(c) else { throw ParseError(offset: 0, message: "unknown reference &\(name); in \(raw)") }
                out.unicodeScalars.append(scalar)
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }
}
