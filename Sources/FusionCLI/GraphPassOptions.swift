import ArgumentParser
import FusionCore

/// `--passes`: the graph passes the backends apply (fuse, bench, profile, parity).
struct GraphPassOptions: ParsableArguments {
    @Option(name: .customLong("passes"), help: ArgumentHelp(
        "Graph passes: all, none, or a comma-separated list of \(GraphPass.allCases.map(\.rawValue).joined(separator: ", ")) (prefix each with - to drop it from all). Default: FUSIONKIT_PASSES, else all.",
        valueName: "passes"))
    var text: String?

    func validate() throws {
        if let text {
            do { _ = try GraphPasses(parsing: text) } catch { throw ValidationError("--passes \(text): \(error)") }
        }
    }

    /// The chosen passes (the environment's when --passes is not given).
    var passes: GraphPasses {
        text.flatMap { try? GraphPasses(parsing: $0) } ?? FusionOptions.current.passes
    }

    /// Sets the chosen passes on `backend`.
    func apply(to backend: Backend) {
        backend.passes = passes
    }
}
