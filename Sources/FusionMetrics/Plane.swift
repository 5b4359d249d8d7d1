/// One image channel as doubles, row-major: the working type of every metric.
///
/// Metrics compute in Double whatever the reference did: the Python evaluator works on
/// float32 arrays in places, and Double reproduces its values to about 1e-7 relative
/// (see Docs/metrics.md), well inside the 1e-4 the references are matched to.
public struct Plane: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var values: [Double]

    public init(width: Int, height: Int, values: [Double]) {
        precondition(width >= 0 && height >= 0 && values.count == width * height,
                     "\(values.count) values for a \(width)x\(height) plane")
        self.width = width
        self.height = height
        self.values = values
    }

    public init(width: Int, height: Int, repeating value: Double = 0) {
        self.init(width: width, height: height, values: [Double](repeating: value, count: width * height))
    }

    public var count: Int { values.count }

    @inline(__always) public subscript(x: Int, y: Int) -> Double {
        get { values[y * width + x] }
        set { values[y * width + x] = newValue }
    }

    /// The plane with `transform` applied to every value.
    public func map(_ transform: (Double) -> Double) -> Plane {
        Plane(width: width, height: height, values: values.map(transform))
    }

    /// The arithmetic mean of all values (summed in order, in Double).
    public var mean: Double {
        var s = 0.0
        for v in values { s += v }
        return s / Double(values.count)
    }

    public var minimum: Double { values.min() ?? 0 }
    public var maximum: Double { values.max() ?? 0 }
}

/// Element-wise combinations of planes of one size.
extension Plane {
    static func zip(_ a: Plane, _ b: Plane, _ combine: (Double, Double) -> Double) -> Plane {
        precondition(a.width == b.width && a.height == b.height, "planes of \(a.width)x\(a.height) and \(b.width)x\(b.height)")
        var out = [Double](repeating: 0, count: a.count)
        a.values.withUnsafeBufferPointer { pa in
            b.values.withUnsafeBufferPointer { pb in
                for i in 0..<out.count { out[i] = combine(pa[i], pb[i]) }
            }
        }
        return Plane(width: a.width, height: a.height, values: out)
    }
}
