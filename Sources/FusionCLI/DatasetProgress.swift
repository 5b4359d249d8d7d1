import ConsoleKitTerminal
import Foundation
import FusionEngine

/// Progress of a dataset run on stderr: on a terminal, ConsoleKit's activity indicator
/// redraws a bar in place (pairs done/total, pairs/s, ETA, failures); otherwise a plain line
/// every 10 seconds and at each tenth of the run, so logs of batch jobs stay short.
final class DatasetProgress: @unchecked Sendable {
    let total: Int
    let interactive: Bool
    private var lastLine = Date.distantPast
    private var lastTenth = 0
    private let start = Date()
    private let indicator: ActivityIndicator<ProgressBar>?

    init(total: Int, interactive: Bool) {
        self.total = total
        self.interactive = interactive
        if interactive {
            indicator = StandardErrorConsole().progressBar(title: Self.text(done: 0, total: total, rate: 0, eta: 0, failed: 0))
            indicator?.start(refreshRate: 100)
        } else {
            indicator = nil
        }
    }

    static func text(done: Int, total: Int, rate: Double, eta: Double, failed: Int) -> String {
        String(format: "%d/%d pairs, %.2f pairs/s, ETA %@, %d failed", done, total, rate, duration(eta), failed)
    }

    func update(_ outcome: DatasetOutcome, _ summary: DatasetSummary) {
        let done = summary.fused + summary.skipped + summary.failed
        if outcome.status == .failed, !interactive { printError("failed: \(outcome.stem): \(outcome.reason ?? "")") }
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(summary.fused) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let text = Self.text(done: done, total: total, rate: rate, eta: eta, failed: summary.failed)
        if let indicator {
            indicator.activity.title = text
            indicator.activity.currentProgress = total > 0 ? Double(done) / Double(total) : 1
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
        guard let indicator else { return }
        if summary.failed > 0 { indicator.fail() } else { indicator.succeed() }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}
