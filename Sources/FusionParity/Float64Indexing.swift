/// Index arithmetic of the float64 references: row-major strides, multi-indices, NumPy
/// broadcasting and PyTorch's reflect padding. Written out here so that the references share
/// no code with either backend.
enum Float64Indexing {
    static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// Row-major strides of `shape`.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = Array(repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }

    /// The multi-index of flat position `flat` in `shape`.
    static func unravel(_ flat: Int, _ shape: [Int]) -> [Int] {
        var idx = Array(repeating: 0, count: shape.count)
        var rest = flat
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            idx[i] = rest % shape[i]
            rest /= shape[i]
        }
        return idx
    }

    /// The flat position of multi-index `idx` in `shape`.
    static func ravel(_ idx: [Int], _ shape: [Int]) -> Int {
        var flat = 0
        for i in 0..<shape.count { flat = flat * shape[i] + idx[i] }
        return flat
    }

    /// Steps the row-major multi-index `idx` of `shape` to the next element (an odometer),
    /// so that loops over millions of elements allocate nothing per element.
    static func increment(_ idx: inout [Int], _ shape: [Int]) {
        var d = shape.count - 1
        while d >= 0 {
            idx[d] += 1
            if idx[d] < shape[d] { return }
            idx[d] = 0
            d -= 1
        }
    }

    /// PyTorch "reflect" padding index (the edge sample is not repeated):
    /// -1 -> 1, -2 -> 2, n -> n - 2, n + 1 -> n - 3. Valid while the pad is < n.
    static func reflect(_ i: Int, _ n: Int) -> Int {
        var j = i
        if j < 0 { j = -j }
        if j >= n { j = 2 * (n - 1) - j }
        precondition(j >= 0 && j < n, "reflect index \(i) out of range for size \(n)")
        return j
    }

    /// NumPy broadcast of two shapes (assumed compatible).
    static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
        let r = max(a.count, b.count)
        let pa = Array(repeating: 1, count: r - a.count) + a
        let pb = Array(repeating: 1, count: r - b.count) + b
        return (0..<r).map { i in
            precondition(pa[i] == pb[i] || pa[i] == 1 || pb[i] == 1, "\(a) and \(b) do not broadcast")
            return pa[i] == 1 ? pb[i] : pa[i]
        }
    }

    /// Flat index into a tensor of shape `shape` (right-aligned to `outIdx`) for broadcasting.
    static func broadcastIndex(_ outIdx: [Int], _ shape: [Int]) -> Int {
        let offset = outIdx.count - shape.count
        var flat = 0
        for i in 0..<shape.count {
            let j = shape[i] == 1 ? 0 : outIdx[offset + i]
            flat = flat * shape[i] + j
        }
        return flat
    }
}
