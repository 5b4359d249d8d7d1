import FusionCore

/// One graph with its inputs, run on two backends and compared.
public struct ParityCase {
    /// The op under test (a name from `Op.name`).
    public let op: String
    /// A readable description of the operand shapes and attributes.
    public let shapes: String
    public let graph: Graph
    public let inputs: [String: Tensor]
}

/// The comparison of one case.
public struct ParityResult {
    public let op: String
    public let shapes: String
    /// Largest absolute difference over all outputs.
    public let maxAbsError: Float
    /// ||candidate - reference||_2 / ||reference||_2.
    public let relativeError: Float
    /// The reference output's largest magnitude (at least 1): the tolerance is relative to it.
    public let scale: Float
    public let passed: Bool
    /// Why the case could not run, if it did not.
    public let failure: String?
}

/// Runs cases on a reference and a candidate backend.
public struct ParityRunner {
    public let reference: Backend
    public let candidate: Backend
    /// Allowed max |err| as a fraction of the output's scale.
    public let tolerance: Float

    public init(reference: Backend, candidate: Backend, tolerance: Float = 1e-5) {
        self.reference = reference
        self.candidate = candidate
        self.tolerance = tolerance
    }

    public func run(_ c: ParityCase) -> ParityResult {
        do {
            let expected = try reference.run(c.graph, inputs: c.inputs)
            let actual = try candidate.run(c.graph, inputs: c.inputs)
            var maxErr: Float = 0, scale: Float = 1
            var diff2 = 0.0, ref2 = 0.0
            for (name, e) in expected {
                guard let a = actual[name], a.shape == e.shape else {
                    return ParityResult(op: c.op, shapes: c.shapes, maxAbsError: .infinity, relativeError: .infinity,
                                        scale: 1, passed: false, failure: "output '\(name)' missing or mis-shaped")
                }
                let ef = e.floats, af = a.floats
                for i in 0..<e.count {
                    let d = abs(af[i] - ef[i])
                    if !(d <= maxErr) { maxErr = d.isNaN ? .infinity : d }
                    scale = max(scale, abs(ef[i]))
                    diff2 += Double(d) * Double(d)
                    ref2 += Double(ef[i]) * Double(ef[i])
                }
            }
            let rel = ref2 > 0 ? Float((diff2 / ref2).squareRoot()) : Float(diff2.squareRoot())
            return ParityResult(op: c.op, shapes: c.shapes, maxAbsError: maxErr, relativeError: rel, scale: scale,
                                passed: maxErr <= tolerance * scale, failure: nil)
        } catch {
            return ParityResult(op: c.op, shapes: c.shapes, maxAbsError: .infinity, relativeError: .infinity,
                                scale: 1, passed: false, failure: "\(error)")
        }
    }
}
