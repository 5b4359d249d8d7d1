import FusionCore

/// One case of the op catalogue: a graph (one op, plus the constants it reads) with its
/// inputs, the tolerance it is compared under and, where one exists, its float64 reference.
public struct OpCase {
    /// The op variant under test; the graph holds a node of it (`OpCatalogueTests` checks).
    public let variant: OpVariant
    /// A readable description of the operand shapes and attributes.
    public let shapes: String
    public let graph: Graph
    /// The graph's inputs by name, made by `makeInputs()`.
    public let feeds: [String: CaseInput]
    /// Allowed max |candidate - reference| as a fraction of the output's scale.
    public let tolerance: Float
    /// The expected output computed in Double, for checking each backend on its own.
    public let reference64: OpReference64?
    /// A small planned binding size (bytes) that forces the GPU's split paths; the tests
    /// set it through `HeavyOpsTuning.splitBytesOverride`.
    public let splitBytes: Int?
    /// Compare the second run of the prepared executable (steady state, caches warm).
    public let runsTwice: Bool
    /// Takes minutes on lavapipe: run only when `FUSIONKIT_LARGE_TESTS=1`.
    public let isLarge: Bool

    /// The op's name (`Op.name`).
    public var op: String { variant.opName }
    public var family: OpFamily { variant.family }

    /// The input tensors (the same values on every call: they come from seeds).
    public func makeInputs() -> [String: Tensor] { feeds.mapValues { $0.make() } }
}

extension OpCase {
    /// The case's outputs on `backend`: from the second run of one executable when
    /// `runsTwice` (the case checks that a reused executable gives the same), else from one.
    func outputs(on backend: Backend, inputs: [String: Tensor]) throws -> [String: Tensor] {
        guard runsTwice else { return try backend.run(graph, inputs: inputs) }
        let executable = try backend.prepare(graph)
        _ = try executable.run(inputs)
        return try executable.run(inputs)
    }
}
