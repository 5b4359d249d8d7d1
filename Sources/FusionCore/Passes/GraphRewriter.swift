/// Builds a new graph from an old one node by node: a pass copies the nodes it keeps,
/// adds the ones it makes, and maps old values to new ones. Inputs keep their names and
/// order; constants are copied when first used, so unused ones drop out.
public final class GraphRewriter {
    public let source: Graph
    public let target = Graph()
    private var mapped: [Int: Value] = [:]

    public init(_ source: Graph) {
        self.source = source
        for (_, v) in source.inputs { mapped[v.id] = target.copyInput(source.info(v)) }
    }

    /// The new value for an old one (a constant is copied at its first use).
    public func value(_ old: Value) -> Value {
        if let v = mapped[old.id] { return v }
        let info = source.info(old)
        guard case let .constant(t) = info.kind else {
            preconditionFailure("\(info.name) (\(old)) is used before the node that makes it was copied")
        }
        let v = target.constant(t, name: info.name)
        mapped[old.id] = v
        return v
    }

    /// Whether an old value already has a new one.
    public func has(_ old: Value) -> Bool { mapped[old.id] != nil }

    /// Copies `node` unchanged (inputs mapped).
    @discardableResult
    public func copy(_ node: Node) throws -> Value {
        let v = try target.add(node.op, node.inputs.map(value), epilogue: node.epilogue, name: node.name, exactName: true)
        mapped[node.output.id] = v
        return v
    }

    /// Adds a node standing for the old value `replacing` (inputs are new values).
    @discardableResult
    public func add(_ op: Op, _ inputs: [Value], epilogue: Epilogue = .none, name: String, replacing old: Value) throws -> Value {
        let v = try target.add(op, inputs, epilogue: epilogue, name: name, exactName: true)
        precondition(v.shape == old.shape && v.dtype == old.dtype, "a rewrite changed \(name) from \(old.shape) to \(v.shape)")
        mapped[old.id] = v
        return v
    }

    /// Makes `old` stand for an existing new value (same shape and type).
    public func alias(_ old: Value, to new: Value) {
        precondition(old.shape == new.shape && old.dtype == new.dtype)
        mapped[old.id] = new
    }

    /// A new constant (a folded weight).
    public func constant(_ tensor: Tensor, name: String) -> Value { target.constant(tensor, name: name) }

    /// The new graph, with the old one's outputs (mapped) and passes.
    public func finish(applied: [GraphPass]) -> Graph {
        for (name, v) in source.outputs { target.output(name, value(v)) }
        target.appliedPasses = source.appliedPasses.union(applied)
        return target
    }
}
