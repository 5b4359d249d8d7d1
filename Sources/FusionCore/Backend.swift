/// A graph prepared for one backend: constants uploaded, memory planned, work recorded.
/// Run it as many times as needed with new inputs.
public protocol Executable: AnyObject {
    /// Runs the graph; returns every graph output by name.
    func run(_ inputs: [String: Tensor]) throws -> [String: Tensor]
    /// Bytes of intermediate memory the plan needs (peak).
    var peakIntermediateBytes: Int { get }
}

/// Something that can run graphs: the CPU reference or a Vulkan device.
public protocol Backend: AnyObject {
    /// A short name for tables ("cpu", "vulkan").
    var name: String { get }
    /// A description of the device it runs on.
    var deviceDescription: String { get }
    func prepare(_ graph: Graph) throws -> Executable
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
