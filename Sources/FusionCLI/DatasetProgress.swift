import Foundation
import FusionEngine

/// Progress of a dataset run on stderr: a bar redrawn in place on a terminal (pairs
/// done/total, pairs/s, ETA, failures), else a plain line every 10 seconds and at each
/// tenth of the run, so logs of batch jobs stay short.
final class DatasetProgress: @unchecked Sendable {
    let total: Int
    let interactive: Bool
    private var lastLine = Date.distantPast
    private var lastTenth = 0
    private let start = Date()

    init(total: Int, interactive: Bool) {
        self.total = total
        self.interactive = interactive
    }

    func update(_ outcome: DatasetOutcome, _ summary: DatasetSummary) {
        let done = summary.fused + summary.skipped + summary.failed
        if outcome.status == .failed, !interactive { printError("failed: \(outcome.stem): \(outcome.reason ?? "")") }
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(summary.fused) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let text = String(format: "%d/%d pairs, %.2f pairs/s, ETA %@, %d failed", done, total, rate, Self.duration(eta), summary.failed)
        if interactive {
            let width = 24
            let filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            FileHandle.standardError.write(Data("\r[\(bar)] \(text)\u{1B}[K".utf8))
        } else {
            let tenth = total > 0 ? 10 * done / total : 10
            if tenth > lastTenth || Date().timeIntervalSince(lastLine) >= 10 {
                lastTenth = tenth
                lastLine = Date()
                printError("progress: \(text)")
            }
        }
    }

    func finish(_ summary: DatasetSummary) {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}
