import FusionCore

/// The check of one backend against a case's float64 reference.
public struct Reference64Result {
    public let op: String
    public let shapes: String
    /// The worst element, scaled as the case's reference says.
    public let error: Reference64Error?
    public let tolerance: Double
    public let passed: Bool
    /// Why the case could not run or failed, if it did.
    public let failure: String?
}

/// Runs op cases on one backend and compares each with its float64 reference: the catalogue's
/// "backend vs float64" mode (the CPU backend's XCTests), where `ParityRunner` compares two
/// backends.
public struct Reference64Runner {
    public let backend: Backend

    public init(backend: Backend) { self.backend = backend }

    /// Checks `c` (which must carry a float64 reference); a case that `runsTwice` is compared
    /// on the second run of its prepared executable.
    public func run(_ c: OpCase) -> Reference64Result {
        guard let r64 = c.reference64 else {
            return Reference64Result(op: c.op, shapes: c.shapes, error: nil, tolerance: 0, passed: false, failure: "the case has no float64 reference")
        }
        let inputs = c.makeInputs()
        do {
            let outputs = try c.outputs(on: backend, inputs: inputs)
            guard let y = outputs["y"] else {
                return Reference64Result(op: c.op, shapes: c.shapes, error: nil, tolerance: r64.tolerance, passed: false, failure: "no output 'y'")
            }
            let error = r64.compare(y, with: r64.expected(inputs), inputs: inputs)
            let passed = error.scaled <= r64.tolerance
            return Reference64Result(op: c.op, shapes: c.shapes, error: error, tolerance: r64.tolerance, passed: passed,
                                     failure: passed ? nil : "\(backend.name) error \(error) > \(r64.tolerance)")
        } catch {
            return Reference64Result(op: c.op, shapes: c.shapes, error: nil, tolerance: r64.tolerance, passed: false, failure: "\(error)")
        }
    }
}
