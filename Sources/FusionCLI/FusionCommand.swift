import ArgumentParser
import CProcessGuard
import FusionCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

@main
struct FusionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fusion",
        abstract: "Text-guided infrared-visible image fusion on Vulkan GPUs and the CPU.",
        subcommands: [FuseCommand.self, EncodeTextCommand.self, CheckGoldenCommand.self, InspectCommand.self, DevicesCommand.self, ParityCommand.self, BenchCommand.self, ProfileCommand.self, TuneCommand.self, EvalCommand.self]
    )

    /// Parses and runs a subcommand, then ends the process on its own terms: every error is
    /// one message and a status in 1...125, a failed write to standard output (a full disk
    /// under `> file`) is an error, and the process leaves with `_exit`, so no library's
    /// exit-time handler (OpenBLAS's thread pool after a failed allocation, a driver) can
    /// keep it alive after its work is done.
    static func main() {
        fk_guard_install()
        sweepStaleTemporaries()
        var status: Int32 = 0
        do {
            try FusionEnvironment.validate()
            var command = try parseAsRoot()
            try command.run()
        } catch {
            status = exitCode(for: error).rawValue
            let message = fullMessage(for: error)
            if status == 0 {
                if !message.isEmpty { print(message) }
            } else if !message.isEmpty {
                printError(message)
            }
        }
        if fflush(stdout) != 0 || ferror(stdout) != 0 {
            printError("error: cannot write to standard output: \(String(cString: strerror(errno)))")
            if status == 0 { status = 1 }
        }
        if status < 0 || status > 125 { status = 1 }
        _exit(status)
    }
}
