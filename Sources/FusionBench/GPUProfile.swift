import FusionCore
import FusionVulkan

/// Per-node GPU time of one run of a prepared graph, from the dispatch timestamps: what
/// `fusion profile` prints.
public struct GPUProfile {
    public struct Row {
        public let node: String
        public let op: String
        public let shape: [Int]
        public let dispatches: Int
        public let milliseconds: Double
        public let share: Double
        public let gflops: Double
    }

    /// Nodes by GPU time, largest first.
    public let rows: [Row]
    /// Sum of the dispatches' GPU times.
    public let dispatchMilliseconds: Double
    /// From the first dispatch's start to the last one's end, summed over submissions.
    public let spanMilliseconds: Double
    /// Host wall time of the whole `run` call (input upload and output download included).
    public let wallMilliseconds: Double
    public let submissions: Int

    /// Host time not covered by GPU work: submission, waiting, uploads and downloads.
    public var hostOverheadMilliseconds: Double { max(0, wallMilliseconds - spanMilliseconds) }
    /// GPU time inside the span with no dispatch running (barriers, copies, gaps).
    public var idleMilliseconds: Double { max(0, spanMilliseconds - dispatchMilliseconds) }

    public init(executable: VulkanExecutable, graph: Graph, wallMilliseconds: Double) throws {
        guard let report = executable.lastReport else {
            throw FusionError.invalidArgument(op: "profile", detail: "the executable has not run yet")
        }
        guard report.timestampsAvailable, report.timings.count == executable.dispatchNodes.count else {
            throw FusionError.invalidArgument(op: "profile", detail: "this device's compute queue has no timestamps, so there are no per-dispatch GPU times")
        }
        var perNode: [Int: (ms: Double, dispatches: Int)] = [:]
        for (timing, node) in zip(report.timings, executable.dispatchNodes) {
            perNode[node, default: (0, 0)].ms += timing.gpuNanoseconds / 1e6
            perNode[node, default: (0, 0)].dispatches += 1
        }
        let total = perNode.values.reduce(0) { $0 + $1.ms }
        rows = perNode.map { index, entry in
            let node = graph.nodes[index]
            let flop = GraphCost.flops(of: node)
            return Row(node: node.name, op: node.op.name, shape: node.output.shape, dispatches: entry.dispatches, milliseconds: entry.ms,
                       share: total > 0 ? entry.ms / total : 0, gflops: entry.ms > 0 ? flop / 1e9 / (entry.ms / 1e3) : 0)
        }.sorted { $0.milliseconds > $1.milliseconds }
        dispatchMilliseconds = total
        spanMilliseconds = report.totalGPUNanoseconds / 1e6
        self.wallMilliseconds = wallMilliseconds
        submissions = executable.submissionCount
    }
}
