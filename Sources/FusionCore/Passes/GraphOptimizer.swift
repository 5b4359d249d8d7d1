/// Applies the enabled passes, in their fixed order, to a graph a backend prepares.
/// A pass a graph already went through is skipped, so optimising twice changes nothing and
/// a caller can optimise first (to see the nodes a backend will run) and prepare after.
public enum GraphOptimizer {
    /// - Parameter evaluate: runs a graph without inputs (constant folding); the backend
    ///   that prepares the graph, so folded values are what it would have computed.
    public static func optimize(_ graph: Graph, passes: GraphPasses,
                                evaluate: ((Graph) throws -> [String: Tensor])?) throws -> Graph {
        var g = graph
        for pass in passes.ordered where !g.appliedPasses.contains(pass) {
            switch pass {
            case .convComposition:
                g = try ConvComposition.run(g)
            case .constantFolding:
                guard let evaluate else { continue }
                g = try ConstantFolding.run(g, evaluate: evaluate)
            case .normFolding:
                g = try NormFolding.run(g)
            case .pointwiseDepthwiseFusion:
                g = try PointwiseDepthwiseFusion.run(g)
            case .epilogueFusion:
                g = try EpilogueFusion.run(g)
            case .deadNodes:
                g = try DeadNodeElimination.run(g)
            case .layoutViews:
                // Nothing is rewritten: the mark tells `LayoutViews` (memory planner,
                // executors, traffic) to place slices and concats as views.
                g = g.copy()
                g.appliedPasses.insert(.layoutViews)
            }
        }
        return g
    }
}
