import FusionCore

/// Per-node time of one run of a prepared graph, from the executable's own `RunProfile`
/// (GPU timestamps on a device, wall time on the CPU): what `fusion profile` prints, the
/// same way for every backend.
public struct RunProfileTable {
    public struct Row {
        public let node: String
        public let op: String
        public let shape: [Int]
        public let dispatches: Int
        public let milliseconds: Double
        public let share: Double
        public let gflops: Double
    }

    /// Nodes by time, largest first.
    public let rows: [Row]
    /// Sum of the nodes' times.
    public let nodeMilliseconds: Double
    /// From the first kernel's start to the last one's end, summed over submissions (the
    /// node time where the backend runs nothing asynchronously).
    public let spanMilliseconds: Double
    /// Host wall time of the whole `run` call (input upload and output download included).
    public let wallMilliseconds: Double
    public let profile: RunProfile

    /// Host time not covered by device work: submission, waiting, uploads and downloads.
    public var hostOverheadMilliseconds: Double { max(0, wallMilliseconds - spanMilliseconds) }
    /// Device time inside the span with no kernel running (barriers, copies, gaps).
    public var idleMilliseconds: Double { max(0, spanMilliseconds - nodeMilliseconds) }

    public init(executable: Executable, graph: Graph, wallMilliseconds: Double) throws {
        guard let profile = executable.lastProfile else {
            throw FusionError.invalidArgument(op: "profile", detail: "the run measured no per-node times (a device without timestamps, or no run yet)")
        }
        self.profile = profile
        let total = profile.nodeSeconds * 1e3
        rows = profile.nodes.map { timing in
            let node = graph.nodes[timing.node]
            let ms = timing.seconds * 1e3
            let flop = GraphCost.flops(of: node)
            return Row(node: node.name, op: node.opDescription, shape: node.output.shape, dispatches: timing.dispatches, milliseconds: ms,
                       share: total > 0 ? ms / total : 0, gflops: ms > 0 ? flop / 1e9 / (ms / 1e3) : 0)
        }.sorted { $0.milliseconds > $1.milliseconds }
        nodeMilliseconds = total
        spanMilliseconds = profile.deviceSpanSeconds.map { $0 * 1e3 } ?? total
        self.wallMilliseconds = wallMilliseconds
    }
}
