/// The outcome of one golden case on one backend.
public struct GoldenResult {
    public let file: String
    public let kind: String
    public let backend: String
    public let shape: [Int]
    /// Largest absolute difference to the expected output.
    public let maxAbsError: Double
    /// ||got - expected|| / ||expected||.
    public let relativeL2Error: Double
    /// What the case must stay within, in words ("max |err| <= 1e-4").
    public let criterion: String
    public let passed: Bool
    /// Extra facts (pixel counts off by one...).
    public let detail: String
    public let seconds: Double
}

/// Error statistics of two equally long arrays, accumulated in Double.
public func errorStatistics(_ got: [Float], _ expected: [Float]) -> (maxAbs: Double, relativeL2: Double) {
    // Callers check the counts first (`GoldenCase.compare`); a mismatch is an infinite error.
    guard got.count == expected.count else { return (.infinity, .infinity) }
    var maxAbs = 0.0, diff2 = 0.0, ref2 = 0.0
    for i in 0..<got.count {
        let d = Double(got[i]) - Double(expected[i])
        if !d.isFinite { return (.infinity, .infinity) }
        maxAbs = max(maxAbs, abs(d))
        diff2 += d * d
        ref2 += Double(expected[i]) * Double(expected[i])
    }
    return (maxAbs, ref2 > 0 ? (diff2 / ref2).squareRoot() : diff2.squareRoot())
}
