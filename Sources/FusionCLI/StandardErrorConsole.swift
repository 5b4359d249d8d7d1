import ConsoleKitTerminal
import Foundation

/// A ConsoleKit console on standard error, so progress drawn by ConsoleKit's activity
/// indicators never mixes with results printed on standard output (a JSON summary, a table
/// piped to a file). Lines are cleared with the terminal's ANSI codes.
final class StandardErrorConsole: Console, @unchecked Sendable {
    private let lock = NSLock()
    private var info: [AnySendableHashable: any Sendable] = [:]

    var userInfo: [AnySendableHashable: any Sendable] {
        get { lock.withLock { info } }
        set { lock.withLock { info = newValue } }
    }

    var size: (width: Int, height: Int) {
        var w = winsize()
        guard ioctl(2, UInt(TIOCGWINSZ), &w) == 0, w.ws_col > 0 else { return (80, 24) }
        return (Int(w.ws_col), Int(w.ws_row))
    }

    var supportsANSICommands: Bool { isatty(2) != 0 }

    func input(isSecure: Bool) -> String { "" }

    func output(_ text: ConsoleText, newLine: Bool) {
        write(text.description + (newLine ? "\n" : ""))
        if newLine { didOutputLines(count: 1) }
    }

    func clear(_ type: ConsoleClear) {
        switch type {
        case .line: write("\u{1B}[1A\u{1B}[2K")
        case .screen: write("\u{1B}[2J")
        }
    }

    func report(error: String, newLine: Bool) { write(error + (newLine ? "\n" : "")) }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}
