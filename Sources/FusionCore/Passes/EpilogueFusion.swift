/// Moves elementwise nodes into the conv2d / linear / matmul producing their input, as
/// epilogue steps, when that input has no other use: a chain producer -> f -> g -> ...
/// becomes one node (at the chain's last position, where every operand exists) that reads
/// its inputs and the steps' operands once and writes one result.
enum EpilogueFusion {
    static func run(_ graph: Graph) throws -> Graph {
        let uses = graph.consumers()
        let outputs = Set(graph.outputs.map(\.value.id))

        // chains[last node index] = (producer, steps and operands); absorbed = the other members.
        var chains: [Int: (producer: Node, steps: [Epilogue.Step], operands: [Value])] = [:]
        var absorbed = Set<Int>()
        var claimed = Set<Int>()   // consumers a chain took (add(convA, convB) joins one chain)
        for producer in graph.nodes where Epilogue.accepts(producer.op) && producer.output.dtype == .f32 {
            var current = producer.output
            var steps: [Epilogue.Step] = [], operands: [Value] = []
            var last = producer
            while !outputs.contains(current.id), let consumers = uses[current.id], consumers.count == 1,
                  !claimed.contains(consumers[0].index),
                  let (step, stepOperands) = fusibleStep(consumers[0], on: current) {
                claimed.insert(consumers[0].index)
                steps.append(step)
                operands += stepOperands
                last = consumers[0]
                current = last.output
            }
            guard !steps.isEmpty else { continue }
            absorbed.insert(producer.index)
            var node = producer
            while node.index != last.index {
                node = uses[node.output.id]![0]
                if node.index != last.index { absorbed.insert(node.index) }
            }
            chains[last.index] = (producer, steps, operands)
        }
        guard !chains.isEmpty else { return graph.marking(.epilogueFusion) }

        let rewriter = GraphRewriter(graph)
        for node in graph.nodes {
            if let chain = chains[node.index] {
                let p = chain.producer
                try rewriter.add(p.op, (p.inputs + chain.operands).map(rewriter.value),
                                 epilogue: Epilogue(p.epilogue.steps + chain.steps), name: p.name, replacing: node.output)
            } else if !absorbed.contains(node.index) {
                try rewriter.copy(node)
            }
        }
        return rewriter.finish(applied: [.epilogueFusion])
    }

    /// The step `node` applies to `x` (one of its inputs), and its operands; nil when it
    /// cannot be an epilogue (another op, a broadcast that grows the result, x used twice).
    private static func fusibleStep(_ node: Node, on x: Value) -> (Epilogue.Step, [Value])? {
        guard node.output.shape == x.shape, node.output.dtype == .f32,
              node.inputs.filter({ $0 == x }).count == 1, node.inputs.allSatisfy({ $0.dtype == .f32 }) else { return nil }
        switch node.op {
        case let .unary(kind):
            return (.unary(kind), [])
        case let .binary(kind):
            let first = node.inputs[1] == x
            let t = first ? node.inputs[0] : node.inputs[1]
            guard Epilogue.broadcasts(t.shape, to: x.shape) else { return nil }
            let commutes = kind == .add || kind == .mul
            return (.binary(kind, operandFirst: first && !commutes), [t])
        case .film:
            guard node.inputs[0] == x, x.rank == 4 else { return nil }
            return (.film, [node.inputs[1], node.inputs[2]])
        case .prelu:
            guard node.inputs[0] == x, x.rank >= 2, node.inputs[1].rank == 1,
                  node.inputs[1].count == 1 || node.inputs[1].count == x.shape[1] else { return nil }
            return (.prelu, [node.inputs[1]])
        default:
            return nil
        }
    }
}
