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
    public let inputs: [Value]
    public let output: Value
    /// A readable name (layer path) for profiles and errors.
    public let name: String
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

    public init() {}

    public var inputs: [(name: String, value: Value)] {
        values.compactMap { info in
            if case let .input(name) = info.kind { return (name, info.value) }
            return nil
        }
    }

    public func input(_ name: String, shape: [Int], dtype: DType = .f32) -> Value {
        addValue(shape: shape, dtype: dtype, kind: .input(name), name: name)
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
    @discardableResult
    public func add(_ op: Op, _ inputs: [Value], name: String? = nil) throws -> Value {
        for v in inputs where v.id < 0 || v.id >= values.count || values[v.id].value != v {
            throw FusionError.unknownValue(v.id)
        }
        let (shape, dtype) = try ShapeInference.infer(op, inputs.map { ($0.shape, $0.dtype) })
        let nodeName = qualified(name ?? op.name)
        let out = addValue(shape: shape, dtype: dtype, kind: .intermediate, name: nodeName)
        nodes.append(Node(index: nodes.count, op: op, inputs: inputs, output: out, name: nodeName))
        return out
    }

    public func info(_ v: Value) -> ValueInfo { values[v.id] }

    /// The node that produces each intermediate value, by value id.
    public func producers() -> [Int: Node] {
        var map: [Int: Node] = [:]
        for n in nodes { map[n.output.id] = n }
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
