import Foundation
import FusionIO
import FusionMetrics

/// A self-contained HTML page of a fused dataset: per pair the infrared, visible and fused
/// thumbnails side by side, the stem, the prompt and the pair's metrics; the failed pairs
/// with their reasons; the dataset means. Images are embedded as `data:` URIs; the page
/// loads nothing and runs no script.
///
/// Metrics are those of `fusion eval`: each triple goes through `Evaluation.evaluate` (the
/// same decoding and profile conventions), means skip NaN as its mean row does, and values
/// are shown as its table shows them (4 decimals; `nan`, `inf`, `-inf`), with the full
/// precision of its CSV and JSON in each cell's `data-value`.
public enum FusionHTMLReport {
    /// The format name in errors about the report file.
    public static let fileFormat = "HTML report"

    /// Renders the report of `entries` and writes it atomically to `path`
    /// (`AtomicFile.write`: nothing is left at `path` or beside it on an error).
    ///
    /// - `metrics`: keys of `profile` (shown in the profile's order); empty for a report of
    ///   thumbnails only.
    /// - `thumbnailSide`: the longer side of a thumbnail at most (aspect kept; smaller images
    ///   are not enlarged).
    /// - `jobs`: pairs processed at once. Each worker holds one triple's full images at a
    ///   time; only thumbnails are kept until the page is written.
    /// - `progress(done, total, stem)`: called, serialised, after each pair.
    ///
    /// A fused entry whose images cannot be read or evaluated (a missing file, sizes that
    /// differ) does not stop the report: it is listed with the failed pairs with the error.
    /// Errors thrown: an unknown metric or bad argument (before any work), and a report
    /// file that cannot be written (a `FileFormatError` naming `path`; checked before any
    /// work as well).
    @discardableResult
    public static func write(entries: [FusionReportEntry], title: String, profile: MetricProfile, metrics: [String],
                             thumbnailSide: Int = 256, thumbnailFormat: FusionReportThumbnailFormat = .jpeg(quality: 85),
                             jobs: Int, date: Date = Date(),
                             progress: (@Sendable (Int, Int, String) -> Void)? = nil,
                             to path: String) throws -> FusionReportSummary {
        for name in metrics where !profile.keys.contains(name) {
            throw MetricsError.unknownMetric(name, profile: profile)
        }
        let keys = profile.keys.filter(Set(metrics).contains)
        guard jobs >= 1 else { throw MetricsError.badJobs(jobs) }
        guard thumbnailSide >= 16 else { throw FusionReportError.badThumbnailSide(thumbnailSide) }
        if case .jpeg(let quality) = thumbnailFormat, !(1...100).contains(quality) {
            throw FusionReportError.badJPEGQuality(quality)
        }
        try AtomicFile.checkWritable(path, format: fileFormat)

        let results = process(entries, profile: profile, metrics: keys, side: thumbnailSide, format: thumbnailFormat,
                              jobs: jobs, progress: progress)
        let page = Page(title: title, profile: profile, metrics: keys, entries: entries, results: results, date: date)
        let html = page.render()
        let data = Data(html.utf8)
        try AtomicFile.write(data, to: path, format: fileFormat)
        return FusionReportSummary(path: path, pairs: entries.count, evaluated: page.evaluated.count,
                                   failed: page.failed.count, metrics: keys, mean: page.mean, bytes: data.count)
    }

    // MARK: - Per pair

    /// A thumbnail, or why there is none.
    enum Thumbnail {
        case image(dataURI: String, width: Int, height: Int)
        case unavailable(String)
    }

    /// What one worker made of one entry: thumbnails and metrics; no full image.
    struct PairResult {
        var ir: Thumbnail
        var vis: Thumbnail
        var fused: Thumbnail?
        /// The metrics of a fused pair, or why they could not be computed.
        var metrics: Result<[String: Double], Error>?
    }

    static func process(_ entries: [FusionReportEntry], profile: MetricProfile, metrics: [String], side: Int,
                        format: FusionReportThumbnailFormat, jobs: Int,
                        progress: (@Sendable (Int, Int, String) -> Void)?) -> [PairResult] {
        final class State: @unchecked Sendable {
            let lock = NSLock()
            var next = 0
            var done = 0
            var results: [PairResult?]
            init(_ n: Int) { results = Array(repeating: nil, count: n) }
        }
        let state = State(entries.count)
        let total = entries.count
        DispatchQueue.concurrentPerform(iterations: min(jobs, max(total, 1))) { _ in
            while true {
                state.lock.lock()
                if state.next >= total { state.lock.unlock(); return }
                let i = state.next
                state.next += 1
                state.lock.unlock()
                let r = processOne(entries[i], profile: profile, metrics: metrics, side: side, format: format)
                state.lock.lock()
                state.results[i] = r
                state.done += 1
                progress?(state.done, total, entries[i].stem)
                state.lock.unlock()
            }
        }
        return state.results.map { $0! }
    }

    /// Thumbnails first (one full image at a time), then the metrics through
    /// `Evaluation.evaluate`, exactly as `fusion eval` computes them.
    static func processOne(_ entry: FusionReportEntry, profile: MetricProfile, metrics: [String], side: Int,
                           format: FusionReportThumbnailFormat) -> PairResult {
        let ir = thumbnail(entry.irPath, side: side, format: format)
        let vis = thumbnail(entry.visPath, side: side, format: format)
        guard entry.status == .fused else { return PairResult(ir: ir, vis: vis, fused: nil, metrics: nil) }
        let fused = thumbnail(entry.fusedPath, side: side, format: format)
        let values: Result<[String: Double], Error>
        if case .unavailable(let why) = fused, metrics.isEmpty {
            values = .failure(MetricsError.unreadable(path: entry.fusedPath, reason: why))
        } else if metrics.isEmpty {
            values = .success([:])
        } else {
            values = Result { try Evaluation.evaluate(entry.triple, profile: profile, metrics: metrics).values }
        }
        return PairResult(ir: ir, vis: vis, fused: fused, metrics: values)
    }

    /// The image at `path` (alpha dropped, 8-bit) shrunk so that its longer side is at most
    /// `side`, encoded as a `data:` URI.
    static func thumbnail(_ path: String, side: Int, format: FusionReportThumbnailFormat) -> Thumbnail {
        do {
            let image = try Image.read(path: path).removingAlpha()
            let (w, h) = thumbnailSize(width: image.width, height: image.height, side: side)
            let small = PILResize.bicubic(image, width: w, height: h)
            switch format {
            case .png:
                return .image(dataURI: "data:image/png;base64," + (try small.pngData()).base64EncodedString(), width: w, height: h)
            case .jpeg(let quality):
                return .image(dataURI: "data:image/jpeg;base64," + (try small.jpegData(quality: quality)).base64EncodedString(),
                              width: w, height: h)
            }
        } catch {
            return .unavailable("\(error)")
        }
    }

    /// `width` x `height` scaled so that the longer side is `side` (rounded, at least 1), or
    /// unchanged when it already fits.
    public static func thumbnailSize(width: Int, height: Int, side: Int) -> (width: Int, height: Int) {
        let longer = max(width, height)
        guard longer > side else { return (width, height) }
        let scale = Double(side) / Double(longer)
        func scaled(_ n: Int) -> Int { n == longer ? side : min(side, max(1, Int((Double(n) * scale).rounded()))) }
        return (scaled(width), scaled(height))
    }
}
