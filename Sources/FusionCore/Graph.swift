/// A handle to a value (tensor) of a graph, returned by the builder methods.
public struct Value: Hashable, Sendable, CustomStringConvertible {
    public let id: Int
    public let shape: [Int]
    public let dtype: DType

    public var rank: Int { shape.count }
    public var count: Int { shape.reduce(1, *) }
    public var byteCount: Int { count * dtype.byteSize }
    public var description: String { "%\(id)\(shape)" }
}

public enum ValueKind {
    /// Supplied at run time under a name.
    case input(String)
    /// Fixed data (weights), uploaded once per executable.
    case constant(Tensor)
    /// Produced by a node.
    case intermediate
}

public struct ValueInfo {
    public let value: Value
    public let kind: ValueKind
    /// A readable name for errors and profiles.
    public let name: String
}

public struct Node: Sendable {
    public let index: Int
    public let op: Op
    /// The op's own inputs, then the epilogue's operands.
    public let inputs: [Value]
    public let output: Value
    /// A readable name (layer path) for profiles and errors.
    public let name: String
    /// Elementwise steps applied to the op's result before it is stored (empty for most).
    public let epilogue: Epilogue

    public init(index: Int, op: Op, inputs: [Value], output: Value, name: String, epilogue: Epilogue = .none) {
        self.index = index
        self.op = op
        self.inputs = inputs
        self.output = output
        self.name = name
        self.epilogue = epilogue
    }

    /// How many of `inputs` are the op's own (the rest are epilogue operands).
    public var baseInputCount: Int { inputs.count - epilogue.operandCount }
    /// The op's own inputs.
    public var baseInputs: ArraySlice<Value> { inputs.prefix(baseInputCount) }
    /// The epilogue's operands, in step order.
    public var epilogueOperands: ArraySlice<Value> { inputs.suffix(epilogue.operandCount) }
    /// The op's name, with its epilogue (e.g. "conv2d+gelu").
    public var opDescription: String { epilogue.isEmpty ? op.name : "\(op.name)+\(epilogue)" }
}

/// A backend-neutral graph of ops. A model builds it once; any backend runs it.
///
/// Builder methods infer and check shapes immediately, so a bad graph fails where it is
/// built, with the op and shapes in the message.
public final class Graph {
    public private(set) var values: [ValueInfo] = []
    public private(set) var nodes: [Node] = []
    public private(set) var outputs: [(name: String, value: Value)] = []
    /// Prefix applied to node names (see `scope`).
    private var namePrefix: [String] = []
    /// The passes this graph went through (`GraphOptimizer` skips them). A rewrite that must
    /// run as built (a test hook's graph) sets every pass.
    public var appliedPasses: Set<GraphPass> = []

    public init() {}

    /// A copy sharing nothing mutable with this graph (arrays are values), so a pass that
    /// changes nothing can record itself without touching the caller's graph.
    func copy() -> Graph {
        let g = Graph()
        g.values = values
        g.nodes = nodes
        g.outputs = outputs
        g.appliedPasses = appliedPasses
        return g
    }

    public var inputs: [(name: String, value: Value)] {
        values.compactMap { info in
            if case let .input(name) = info.kind { return (name, info.value) }
            return nil
        }
    }

    public func input(_ name: String, shape: [Int], dtype: DType = .f32) -> Value {
        addValue(shape: shape, dtype: dtype, kind: .input(name), name: name)
    }

    /// A copy of another graph's input (same name, shape and type).
    func copyInput(_ info: ValueInfo) -> Value {
        addValue(shape: info.value.shape, dtype: info.value.dtype, kind: info.kind, name: info.name)
    }

    public func constant(_ tensor: Tensor, name: String = "const") -> Value {
        addValue(shape: tensor.shape, dtype: tensor.dtype, kind: .constant(tensor), name: qualified(name))
    }

    public func output(_ name: String, _ value: Value) {
        outputs.append((name, value))
    }

    /// Runs `body` with `name` appended to the names of the nodes it adds.
    public func scope<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        namePrefix.append(name)
        defer { namePrefix.removeLast() }
        return try body()
    }

    /// Adds a node after checking its operands; returns its output.
    /// A node with an `epilogue` runs it on its result before storing it (its operands
    /// follow the op's own inputs in `inputs`). `exactName` skips the scope prefix (passes
    /// copying named nodes).
    @discardableResult
    public func add(_ op: Op, _ inputs: [Value], epilogue: Epilogue = .none, name: String? = nil, exactName: Bool = false) throws -> Value {
        for v in inputs where v.id < 0 || v.id >= values.count || values[v.id].value != v {
            throw FusionError.unknownValue(v.id)
        }
        let baseCount = inputs.count - epilogue.operandCount
        guard baseCount >= 0 else {
            throw FusionError.invalidArgument(op: op.name, detail: "epilogue \(epilogue) takes \(epilogue.operandCount) operands, the node has \(inputs.count) inputs")
        }
        if !epilogue.isEmpty, !Epilogue.accepts(op) {
            throw FusionError.invalidArgument(op: op.name, detail: "\(op.name) cannot carry an epilogue (\(epilogue))")
        }
        let base = inputs.prefix(baseCount)
        let (shape, dtype) = try ShapeInference.infer(op, base.map { ($0.shape, $0.dtype) })
        let nodeName = exactName ? (name ?? op.name) : qualified(name ?? op.name)
        if !epilogue.isEmpty {
            guard dtype == .f32, inputs.suffix(epilogue.operandCount).allSatisfy({ $0.dtype == .f32 }) else {
                throw FusionError.invalidArgument(op: nodeName, detail: "an epilogue works on float32 values")
            }
            try epilogue.validate(out: shape, operands: inputs.suffix(epilogue.operandCount).map(\.shape), op: nodeName)
        }
        let out = addValue(shape: shape, dtype: dtype, kind: .intermediate, name: nodeName)
        nodes.append(Node(index: nodes.count, op: op, inputs: inputs, output: out, name: nodeName, epilogue: epilogue))
        return out
    }

    public func info(_ v: Value) -> ValueInfo { values[v.id] }

    /// The node that produces each intermediate value, by value id.
    public func producers() -> [Int: Node] {
        var map: [Int: Node] = [:]
        for n in nodes { map[n.output.id] = n }
        return map
    }

    /// The nodes that read each value, by value id, in graph order (a node reading a value
    /// twice is listed once).
    public func consumers() -> [Int: [Node]] {
        var map: [Int: [Node]] = [:]
        for n in nodes { for v in Set(n.inputs) { map[v.id, default: []].append(n) } }
        return map
    }

    private func qualified(_ name: String) -> String {
        namePrefix.isEmpty ? name : (namePrefix + [name]).joined(separator: ".")
    }

    private func addValue(shape: [Int], dtype: DType, kind: ValueKind, name: String) -> Value {
        let v = Value(id: values.count, shape: shape, dtype: dtype)
        values.append(ValueInfo(value: v, kind: kind, name: name))
        return v
    }
}
