import ArgumentParser
import Foundation
import FusionCore
import FusionEngine
import FusionIO
import FusionVulkan

/// `fusion check-golden CASE...`: reruns golden cases of the original PyTorch code.
struct CheckGoldenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-golden",
        abstract: "Run golden cases (safetensors with a JSON description) and compare with the original outputs.",
        discussion: "Supported kinds: \(GoldenRunner.supportedKinds.joined(separator: ", ")). Exits non-zero if any case fails or cannot run."
    )

    @Argument(help: "Golden case files (*.safetensors).")
    var cases: [String]

    @Option(help: "Backend: auto, cpu or vulkan.")
    var backend: BackendChoice = .auto

    @Option(parsing: .unconditional, help: "Vulkan device index (see `fusion devices`).")
    var device: Int?

    func validate() throws {
        if cases.isEmpty { throw ValidationError("give at least one golden case file") }
        if let device, device < 0 { throw ValidationError("--device must be a device index (0, 1, ...; see `fusion devices`), got \(device)") }
        if device != nil, backend == .cpu { throw ValidationError("--device selects a Vulkan device; it does not apply to --backend cpu") }
    }

    func run() throws {
        let selected = try openBackend(backend, device: device)
        print("backend: \(selected.name) — \(selected.device)")
        let runner = GoldenRunner(backend: selected)
        var rows: [[String]] = []
        var failures = 0
        for path in cases {
            do {
                let r = try runner.run(path)
                rows.append([URL(fileURLWithPath: path).lastPathComponent, r.kind, r.shape.map(String.init).joined(separator: "x"),
                             String(format: "%.3g", r.maxAbsError), String(format: "%.3g", r.relativeL2Error),
                             String(format: "%.2f", r.seconds), r.passed ? "PASS" : "FAIL", r.criterion + (r.detail.isEmpty ? "" : "; " + r.detail)])
                if !r.passed { failures += 1 }
            } catch {
                rows.append([URL(fileURLWithPath: path).lastPathComponent, "-", "-", "-", "-", "-", "ERROR", "\(error)"])
                failures += 1
            }
        }
        printTable(header: ["case", "kind", "shape", "max |err|", "rel L2", "s", "result", "criterion"], rows: rows)
        print("\(cases.count - failures) passed, \(failures) failed")
        if failures > 0 {
            printError("error: \(failures) of \(cases.count) golden case(s) failed or could not run (see the table)")
            throw ExitCode(1)
        }
    }
}

extension BackendChoice: ExpressibleByArgument {}

/// Opens a backend, turning errors into one clear CLI line.
func openBackend(_ choice: BackendChoice, device: Int?, options: FusionOptions = .current) throws -> SelectedBackend {
    do {
        let selected = try SelectedBackend.open(choice, deviceIndex: device, options: options)
        if let gpu = selected.backend as? VulkanBackend, let warning = gpu.context.gemmTuningWarning { printError("warning: \(warning)") }
        return selected
    } catch {
        throw CLIError("cannot open the \(choice.rawValue) backend: \(error)")
    }
}
