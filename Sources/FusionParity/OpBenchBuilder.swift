import FusionCore

/// A benchmark shape of the catalogue: a one-op graph (weights as constants) at the size a
/// fusion network runs the op at. `FusionBench` turns it into a `BenchCase`.
public struct OpBenchShape {
    /// The `fusion bench --op` name, e.g. "conv3x3".
    public let family: String
    public let name: String
    /// What the numbers are for, e.g. "1x48x512x640".
    public let size: String
    public let graph: Graph
}

/// Builds the bench shapes for one image size, skipping families not selected.
struct OpBenchBuilder {
    let height: Int
    let width: Int
    let selected: Set<String>?
    private(set) var shapes: [OpBenchShape] = []
    private var seed: UInt64 = 10

    init(height: Int, width: Int, selected: Set<String>?) {
        self.height = height
        self.width = width
        self.selected = selected
    }

    /// Small random weights, a new seed each.
    mutating func weight(_ shape: [Int]) -> Tensor {
        seed += 1
        return Tensor.random(shape: shape, seed: seed, in: -0.1...0.1)
    }

    /// Adds a case of bench family `family` (when selected) whose graph `build` returns.
    mutating func add(_ family: String, _ name: String, size: [Int], _ build: (inout OpBenchBuilder, Graph) throws -> Value) throws {
        try add(family, name, size: size.map(String.init).joined(separator: "x"), build)
    }

    mutating func add(_ family: String, _ name: String, size: String, _ build: (inout OpBenchBuilder, Graph) throws -> Value) throws {
        guard selected?.contains(family) ?? true else { return }
        let g = Graph()
        g.output("y", try build(&self, g))
        shapes.append(OpBenchShape(family: family, name: name, size: size, graph: g))
    }
}
