import Foundation
import FusionMetrics

/// One infrared / visible pair of a fused dataset, as the report shows it.
public struct FusionReportEntry: Sendable, Equatable {
    /// What became of the pair.
    public enum Status: Sendable, Equatable {
        /// The fused image was written to `fusedPath`.
        case fused
        /// The pair was not fused; `reason` is shown in the report.
        case failed(reason: String)
    }

    /// The pair's name (file name without extension); shown escaped.
    public var stem: String
    public var irPath: String
    public var visPath: String
    /// Where the fused image is (or, for a failed pair, would have been) written.
    public var fusedPath: String
    /// The text prompt the pair was fused with, if any; shown escaped.
    public var prompt: String?
    public var status: Status
    /// Seconds the fusion of this pair took, if measured.
    public var seconds: Double?

    public init(stem: String, irPath: String, visPath: String, fusedPath: String, prompt: String? = nil,
                status: Status = .fused, seconds: Double? = nil) {
        self.stem = stem
        self.irPath = irPath
        self.visPath = visPath
        self.fusedPath = fusedPath
        self.prompt = prompt
        self.status = status
        self.seconds = seconds
    }

    /// The triple `fusion eval` would evaluate for this pair.
    public var triple: ImageTriple { ImageTriple(name: stem, ir: irPath, vis: visPath, fused: fusedPath) }
}

/// What `FusionHTMLReport.write` wrote.
public struct FusionReportSummary: Sendable, Equatable {
    /// The report file.
    public let path: String
    /// All entries.
    public let pairs: Int
    /// Fused entries whose images were read and whose metrics were computed.
    public let evaluated: Int
    /// Entries listed as failed: those marked failed, and fused ones whose images could not
    /// be read or evaluated (the reason says which).
    public let failed: Int
    /// The metrics of the report, in the profile's order.
    public let metrics: [String]
    /// Per metric, the mean over the evaluated pairs whose value is not NaN (as
    /// `fusion eval`'s mean row; NaN when there is none).
    public let mean: [String: Double]
    /// Size of the HTML file.
    public let bytes: Int

    public static func == (a: FusionReportSummary, b: FusionReportSummary) -> Bool {
        a.path == b.path && a.pairs == b.pairs && a.evaluated == b.evaluated && a.failed == b.failed
            && a.metrics == b.metrics && a.bytes == b.bytes
            && a.mean.keys.sorted() == b.mean.keys.sorted()
            && a.mean.allSatisfy { k, v in b.mean[k].map { $0 == v || ($0.isNaN && v.isNaN) } ?? false }
    }
}

/// How thumbnails are embedded.
public enum FusionReportThumbnailFormat: Sendable, Equatable {
    /// `data:image/png;base64,...`: exact, about ten times the bytes of JPEG.
    case png
    /// `data:image/jpeg;base64,...` with `quality` 1...100.
    case jpeg(quality: Int)
}

/// An argument `FusionHTMLReport.write` refuses before any work.
public enum FusionReportError: Error, CustomStringConvertible, Equatable {
    case badThumbnailSide(Int)
    case badJPEGQuality(Int)

    public var description: String {
        switch self {
        case .badThumbnailSide(let n): return "the thumbnail side must be at least 16 pixels (got \(n))"
        case .badJPEGQuality(let q): return "the thumbnail JPEG quality must be 1...100 (got \(q))"
        }
    }
}
