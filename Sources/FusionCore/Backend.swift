/// A graph prepared for one backend: constants uploaded, memory planned, work recorded.
/// Run it as many times as needed with new inputs.
public protocol Executable: AnyObject {
    /// Runs the graph; returns every graph output by name.
    func run(_ inputs: [String: Tensor]) throws -> [String: Tensor]
    /// Bytes of intermediate memory the plan needs (peak).
    var peakIntermediateBytes: Int { get }
    /// Runs the graph and hands every node's output, in graph order, to `observer` as soon
    /// as it is computed (a copy the observer owns), so a caller can compare or inspect
    /// every intermediate without the backend keeping them all alive. Slower than `run`.
    func run(_ inputs: [String: Tensor], observing observer: (Node, Tensor) throws -> Void) throws -> [String: Tensor]
    /// What the last `run` took, node by node (device timestamps where the backend has
    /// them, else wall time); nil before a run, or when the backend measured nothing.
    var lastProfile: RunProfile? { get }
    /// Memory this executable holds on its device (host memory for the CPU), in bytes.
    var heldBytes: Int { get }
    /// Queues a run and returns what `wait` collects. A backend that runs asynchronously
    /// (Vulkan) returns at once, so the caller can prepare the next inputs, or collect an
    /// earlier run, while this one runs; the default runs synchronously. At most two runs
    /// of one executable may be in flight.
    func submit(_ inputs: [String: Tensor]) throws -> SubmittedRun
    /// Waits for a run `submit` queued; returns every graph output by name (what `run`
    /// returns). Each submitted run is collected once.
    func wait(_ run: SubmittedRun) throws -> [String: Tensor]
}

/// The times of one run, as every backend reports them (`fusion profile`, `fusion bench`).
public struct RunProfile: Sendable {
    /// Per node that did work, in graph order.
    public var nodes: [NodeTiming]
    /// "gpu" for device timestamps, "wall" for host clocks.
    public var timer: String
    /// Device time from the first kernel's start to the last one's end, summed over
    /// submissions; nil where nothing runs asynchronously (the CPU).
    public var deviceSpanSeconds: Double?
    /// Queue submissions, kernel dispatches and barriers of the run (1, nodes, 0 on the CPU).
    public var submissions: Int, dispatches: Int, barriers: Int

    public init(nodes: [NodeTiming], timer: String, deviceSpanSeconds: Double?, submissions: Int, dispatches: Int, barriers: Int) {
        self.nodes = nodes
        self.timer = timer
        self.deviceSpanSeconds = deviceSpanSeconds
        self.submissions = submissions
        self.dispatches = dispatches
        self.barriers = barriers
    }

    /// Sum of the nodes' times.
    public var nodeSeconds: Double { nodes.reduce(0) { $0 + $1.seconds } }
}

/// The time one node took in a run.
public struct NodeTiming: Sendable, Equatable {
    /// `Node.index` in the graph.
    public let node: Int
    public let seconds: Double
    /// Dispatches (kernel launches) it took; 1 on the CPU.
    public let dispatches: Int

    public init(node: Int, seconds: Double, dispatches: Int = 1) {
        self.node = node
        self.seconds = seconds
        self.dispatches = dispatches
    }
}

extension Executable {
    public func run(_ inputs: [String: Tensor], observing observer: (Node, Tensor) throws -> Void) throws -> [String: Tensor] {
        throw FusionError.backend("\(type(of: self)) cannot hand out node outputs as it runs")
    }
    public var lastProfile: RunProfile? { nil }
    public var heldBytes: Int { peakIntermediateBytes }
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
    /// Prepares `graph` to run: applies `passes` (see `optimized`), then plans memory and
    /// uploads constants. The executable runs (and profiles, and observes) the optimised
    /// graph's nodes.
    func prepare(_ graph: Graph) throws -> Executable
    /// The graph passes `prepare` applies; `.none` runs graphs as built.
    var passes: GraphPasses { get set }
    /// Whether the intermediates of the graphs it prepared share one memory (grown to the
    /// largest need): then keeping many graphs prepared costs little (default false).
    var sharesIntermediateMemory: Bool { get }
}

extension Backend {
    public var sharesIntermediateMemory: Bool { false }
}

extension Backend {
    /// The graph this backend runs for `graph`: its `passes` applied, weight-only
    /// subgraphs evaluated on this backend. Optimising an optimised graph changes nothing,
    /// so a caller can look at the nodes first and prepare the result.
    public func optimized(_ graph: Graph) throws -> Graph {
        try GraphOptimizer.optimize(graph, passes: passes, evaluate: { try self.prepare($0).run([:]) })
    }

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
