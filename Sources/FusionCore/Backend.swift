/// A graph prepared for one backend: constants uploaded, memory planned, work recorded.
/// Run it as many times as needed with new inputs.
public protocol Executable: AnyObject {
    /// Runs the graph; returns every graph output by name.
    func run(_ inputs: [String: Tensor]) throws -> [String: Tensor]
    /// Bytes of intermediate memory the plan needs (peak).
    var peakIntermediateBytes: Int { get }
    /// Queues a run and returns what `wait` collects. A backend that runs asynchronously
    /// (Vulkan) returns at once, so the caller can prepare the next inputs, or collect an
    /// earlier run, while this one runs; the default runs synchronously. At most two runs
    /// of one executable may be in flight.
    func submit(_ inputs: [String: Tensor]) throws -> SubmittedRun
    /// Waits for a run `submit` queued; returns every graph output by name (what `run`
    /// returns). Each submitted run is collected once.
    func wait(_ run: SubmittedRun) throws -> [String: Tensor]
}

/// A run queued by `Executable.submit`, to collect with `Executable.wait`.
public protocol SubmittedRun: AnyObject {}

/// A run the default `Executable.submit` already ran.
public final class CompletedRun: SubmittedRun {
    let outputs: [String: Tensor]
    var collected = false
    init(outputs: [String: Tensor]) { self.outputs = outputs }
}

extension Executable {
    public func submit(_ inputs: [String: Tensor]) throws -> SubmittedRun {
        CompletedRun(outputs: try run(inputs))
    }

    public func wait(_ run: SubmittedRun) throws -> [String: Tensor] {
        guard let done = run as? CompletedRun, !done.collected else {
            throw FusionError.invalidArgument(op: "wait", detail: "the run was not submitted to this executable or was collected already")
        }
        done.collected = true
        return done.outputs
    }
}

/// Something that can run graphs: the CPU reference or a Vulkan device.
public protocol Backend: AnyObject {
    /// A short name for tables ("cpu", "vulkan").
    var name: String { get }
    /// A description of the device it runs on.
    var deviceDescription: String { get }
    func prepare(_ graph: Graph) throws -> Executable
    /// Whether the intermediates of the graphs it prepared share one memory (grown to the
    /// largest need): then keeping many graphs prepared costs little (default false).
    var sharesIntermediateMemory: Bool { get }
}

extension Backend {
    public var sharesIntermediateMemory: Bool { false }
}

extension Backend {
    /// Prepares and runs once.
    public func run(_ graph: Graph, inputs: [String: Tensor]) throws -> [String: Tensor] {
        try prepare(graph).run(inputs)
    }
}

/// Checks supplied inputs against the graph's declared inputs.
public func validateInputs(_ graph: Graph, _ inputs: [String: Tensor]) throws {
    for (name, v) in graph.inputs {
        guard let t = inputs[name] else { throw FusionError.missingInput(name: name) }
        guard t.shape == v.shape, t.dtype == v.dtype else {
            throw FusionError.inputShapeMismatch(name: name, expected: v.shape, got: t.shape)
        }
    }
}
