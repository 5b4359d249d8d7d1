import FusionCore

/// The comparison of one op case.
public struct ParityResult {
    public let op: String
    public let shapes: String
    /// Largest absolute difference over all outputs.
    public let maxAbsError: Float
    /// ||candidate - reference||_2 / ||reference||_2.
    public let relativeError: Float
    /// The reference output's largest magnitude (at least 1): the tolerance is relative to it.
    public let scale: Float
    /// The tolerance the case was compared under (the case's, or the runner's override).
    public let tolerance: Float
    /// Worst scaled error of each backend against the case's float64 reference, if it has one.
    public let reference64Errors: (reference: Double, candidate: Double)?
    public let passed: Bool
    /// Why the case could not run or failed its float64 reference, if it did.
    public let failure: String?
}

/// Runs op cases on a reference and a candidate backend and compares them with each other
/// and, where the case has one, with its float64 reference.
public struct ParityRunner {
    public let reference: Backend
    public let candidate: Backend
    /// Replaces every case's own tolerance when set (`fusion parity --tolerance`).
    public let toleranceOverride: Float?
    /// How the candidate stores floats. fp16: the reference reads the fp16-rounded inputs
    /// and weights (`HalfRounding`), the family's fp16 tolerance applies, and the float64
    /// reference is not consulted (the fp32 run checks both backends against it; here the
    /// fp32 reference on the same rounded values bounds the fp16 kernel's own error).
    public let candidatePrecision: StoragePrecision

    public init(reference: Backend, candidate: Backend, tolerance: Float? = nil, candidatePrecision: StoragePrecision = .fp32) {
        self.reference = reference
        self.candidate = candidate
        self.toleranceOverride = tolerance
        self.candidatePrecision = candidatePrecision
    }

    /// The tolerance `c` is compared under.
    public func tolerance(of c: OpCase) -> Float {
        toleranceOverride ?? (candidatePrecision == .fp16 ? max(c.tolerance, c.family.fp16Tolerance) : c.tolerance)
    }

    public func run(_ c: OpCase) -> ParityResult {
        let tolerance = tolerance(of: c)
        let fp16 = candidatePrecision == .fp16
        func failed(_ why: String) -> ParityResult {
            ParityResult(op: c.op, shapes: c.shapes, maxAbsError: .infinity, relativeError: .infinity, scale: 1,
                         tolerance: tolerance, reference64Errors: nil, passed: false, failure: why)
        }
        var inputs = c.makeInputs()
        if fp16 {
            inputs = inputs.mapValues(HalfRounding.rounded)
            HalfRounding.roundConstants(of: c.graph)
        }
        do {
            let expected = try reference.run(c.graph, inputs: inputs)
            let actual = try c.outputs(on: candidate, inputs: inputs)
            var maxErr: Float = 0, scale: Float = 1
            var diff2 = 0.0, ref2 = 0.0
            for (name, e) in expected {
                guard let a = actual[name], a.shape == e.shape, a.dtype == e.dtype else {
                    return failed("output '\(name)' missing or mis-shaped")
                }
                let et = Self.asFloats(e), at = Self.asFloats(a)
                let ef = et.floats, af = at.floats
                for i in 0..<ef.count {
                    let d = abs(af[i] - ef[i])
                    if !(d <= maxErr) { maxErr = d.isNaN ? .infinity : d }
                    scale = max(scale, abs(ef[i]))
                    diff2 += Double(d) * Double(d)
                    ref2 += Double(ef[i]) * Double(ef[i])
                }
                withExtendedLifetime((et, at)) {}
            }
            let rel = ref2 > 0 ? Float((diff2 / ref2).squareRoot()) : Float(diff2.squareRoot())
            var passed = maxErr <= tolerance * scale
            var failure: String?
            var errors64: (reference: Double, candidate: Double)?
            if !fp16, let r64 = c.reference64, let e = expected["y"], let a = actual["y"] {
                let want = r64.expected(inputs)
                let onReference = r64.compare(e, with: want, inputs: inputs), onCandidate = r64.compare(a, with: want, inputs: inputs)
                errors64 = (onReference.scaled, onCandidate.scaled)
                if !(onReference.scaled <= r64.tolerance && onCandidate.scaled <= r64.tolerance) {
                    passed = false
                    failure = "float64 reference (allowed \(r64.tolerance)): \(reference.name) error \(onReference), \(candidate.name) error \(onCandidate)"
                }
            }
            return ParityResult(op: c.op, shapes: c.shapes, maxAbsError: maxErr, relativeError: rel, scale: scale,
                                tolerance: tolerance, reference64Errors: errors64, passed: passed, failure: failure)
        } catch {
            return failed("\(error)")
        }
    }

    /// The tensor itself, or an f32 copy of an integer one (ids convert exactly up to 2^24).
    private static func asFloats(_ t: Tensor) -> Tensor {
        t.dtype == .f32 ? t : Tensor(shape: t.shape, floats: t.int32s.map { Float($0) })
    }
}
