import FusionCore

/// Data movement: pixel (un)shuffle, concat, slice, pad, crop, permute, reshape, embedding.
enum LayoutCases: OpFamilyCases {
    static func addParityCases(to b: inout OpCaseBuilder) throws {
        try pixelShuffle(&b, [1, 12, 5, 7], factor: 2)
        try pixelShuffle(&b, [2, 16, 5, 6], factor: 2)
        try pixelUnshuffle(&b, [2, 3, 10, 14], factor: 2)
        let p = b.input([3, 2, 13, 18])
        try b.add(.pixelUnshuffle, "x\(p.shape) r2 (after crop to 12x18)", inputs: [p]) { g, v in
            try g.pixelUnshuffle(g.crop(v[0], y: 0, x: 0, height: 12, width: 18), factor: 2)
        }
        try concat(&b, [[1, 3, 5, 7], [1, 5, 5, 7], [1, 1, 5, 7]], axis: 1)
        try concat(&b, [[2, 3, 5, 7], [2, 3, 5, 2]], axis: 3)
        try concat(&b, [[3, 4, 6, 5], [3, 2, 6, 5]], axis: 1)
        for (shape, axis, start, length) in [([2, 11, 6, 5], 1, 3, 7), ([2, 11, 6, 5], 2, 1, 3), ([3, 10, 4, 4], 1, 4, 5), ([3, 10, 4, 4], 0, 1, 2)] {
            try slice(&b, shape, axis: axis, start: start, length: length)
        }
        for mode in PaddingMode.allCases { try pad(&b, [1, 3, 9, 7], (1, 2, 3, 0), mode) }
        try pad(&b, [3, 2, 13, 18], (0, 3, 0, 2), .reflect)
        try crop(&b, [1, 3, 9, 7], y: 2, x: 1, height: 5, width: 4)
        try crop(&b, [3, 2, 13, 18], y: 0, x: 0, height: 10, width: 15)
        try embedding(&b, ids: Tensor(shape: [2, 7], ints: (0..<14).map { Int32(($0 * 7) % 50) }), table: [50, 13])
        try permute(&b, [2, 3, 4, 5], [0, 2, 3, 1])
        try permute(&b, [2, 3, 1, 4, 2, 3], [5, 3, 1, 0, 4, 2])
        try reshape(&b, [2, 3, 4, 5], [6, 20])
    }

    static func addTestCases(to b: inout OpCaseBuilder) throws {
        try pixelShuffle(&b, [1, 8, 3, 5], factor: 2)
        try pixelShuffle(&b, [2, 9, 2, 2], factor: 3)
        try pixelShuffle(&b, [1, 3, 2, 5], factor: 1)
        try pixelUnshuffle(&b, [1, 3, 4, 6], factor: 2)
        try pixelUnshuffle(&b, [2, 5, 9, 3], factor: 3)
        for axis in 0..<4 {
            var s1 = [2, 3, 4, 5], s2 = [2, 3, 4, 5], s3 = [2, 3, 4, 5]
            s1[axis] = 1; s2[axis] = 3; s3[axis] = 2
            try concat(&b, [s1, s2, s3], axis: axis)
            try slice(&b, [3, 4, 5, 6], axis: axis, start: 1, length: 2)
        }
        try concat(&b, [[3, 2], [3, 5]], axis: 1)
        try slice(&b, [10], axis: 0, start: 3, length: 6)
        try crop(&b, [2, 3, 9, 11], y: 2, x: 3, height: 5, width: 7)
        try crop(&b, [1, 2, 4, 4], y: 0, x: 0, height: 4, width: 4)
        try crop(&b, [1, 3, 4, 4], y: 3, x: 1, height: 1, width: 1)
        let pads: [([Int], (Int, Int, Int, Int), PaddingMode)] = [
            ([1, 2, 5, 7], (1, 2, 3, 0), .reflect), ([2, 3, 4, 4], (3, 3, 3, 3), .reflect),
            ([1, 1, 3, 3], (5, 5, 5, 5), .zero), ([2, 3, 6, 5], (0, 1, 2, 3), .zero), ([1, 2, 2, 2], (1, 1, 1, 1), .reflect),
        ]
        for (shape, p, mode) in pads { try pad(&b, shape, p, mode) }
        for (shape, perm) in [([3, 5], [1, 0]), ([2, 3, 4], [2, 0, 1]), ([2, 3, 4, 5], [0, 2, 3, 1]), ([2, 3, 1, 5, 2], [4, 3, 2, 1, 0]),
                              ([2, 1, 3, 2, 2, 3], [5, 1, 3, 0, 4, 2]), ([4, 5, 6], [0, 1, 2])] {
            try permute(&b, shape, perm)
        }
        let ints = Tensor(shape: [2, 3, 4], ints: (0..<24).map { Int32($0 * 7 - 50) })
        try b.add(.permute, "i32 x[2, 3, 4] [1, 2, 0]", inputs: [.fixed(ints)]) { g, v in try g.permute(v[0], [1, 2, 0]) }
        try reshape(&b, [2, 3, 4, 5], [6, 20])
        try reshape(&b, [3, 1, 7], [21])
        try embedding(&b, ids: Tensor(shape: [2, 3], ints: [0, 9, 4, 4, 1, 7]), table: [10, 7])
        try embedding(&b, ids: Tensor(shape: [5], ints: [2, 0, 1, 2, 2]), table: [3, 1])
        // Tensors over one binding (160 MiB, 136 MiB): the copies are split into pieces.
        try concat(&b, [[1, 20, 1024, 1024], [1, 20, 1024, 1024]], axis: 1, note: "over one binding")
        try slice(&b, [1, 40, 1024, 1024], axis: 1, start: 10, length: 25, note: "over one binding")
        try permute(&b, [1, 40, 1024, 1024], [0, 1, 3, 2], note: "over one binding")
        try crop(&b, [1, 40, 1024, 1024], y: 1, x: 2, height: 1000, width: 1020, note: "over one binding")
        try pad(&b, [1, 34, 1024, 1024], (1, 2, 3, 0), .reflect, note: "planes over one binding")
        try addReferenceSweep(to: &b)
    }

    /// More factors, axes, pads (the largest legal reflect pad, none at all), crops, ids,
    /// reshapes between ops and permutations of rank 2 to 6, against float64.
    private static func addReferenceSweep(to b: inout OpCaseBuilder) throws {
        for (shape, factor) in [([2, 12, 3, 5], 2), ([1, 18, 2, 3], 3), ([1, 5, 1, 1], 1), ([1, 4, 1, 1], 2)] {
            try pixelShuffle(&b, shape, factor: factor)
        }
        for (shape, factor) in [([2, 3, 6, 10], 2), ([1, 5, 9, 3], 3), ([1, 1, 2, 2], 2)] { try pixelUnshuffle(&b, shape, factor: factor) }
        let x = b.input([2, 3, 6, 4])
        try b.add(.pixelUnshuffle, "pixel_shuffle(pixel_unshuffle(x[2, 3, 6, 4])) is x", inputs: [x]) { g, v in
            try g.pixelShuffle(g.pixelUnshuffle(v[0], factor: 2), factor: 2)
        }
        for (shapes, axis) in [([[2, 3, 4, 5], [2, 5, 4, 5], [2, 1, 4, 5]], 1), ([[2, 3, 4, 5], [2, 3, 4, 1], [2, 3, 4, 7]], 3),
                               ([[1, 3, 4, 5], [2, 3, 4, 5]], 0), ([[2, 3, 1, 5], [2, 3, 6, 5]], 2), ([[3, 7], [3, 2]], 1), ([[2, 5, 3]], 1)] {
            try concat(&b, shapes, axis: axis)
        }
        for (shape, axis, start, length) in [([2, 7, 5, 9], 1, 2, 3), ([2, 7, 5, 9], 3, 4, 5), ([2, 7, 5, 9], 0, 1, 1), ([2, 7, 5, 9], 2, 0, 5),
                                             ([3, 11, 6], 2, 5, 1), ([13], 0, 3, 7)] {
            try slice(&b, shape, axis: axis, start: start, length: length)
        }
        let pads: [([Int], (Int, Int, Int, Int), PaddingMode)] = [
            ([2, 3, 5, 7], (1, 2, 3, 0), .reflect), ([2, 3, 5, 7], (2, 0, 1, 3), .zero), ([1, 2, 5, 7], (4, 4, 6, 6), .reflect),
            ([1, 3, 1, 1], (2, 1, 0, 3), .zero), ([1, 5, 2, 2], (1, 1, 1, 1), .reflect), ([1, 1, 4, 3], (0, 0, 0, 0), .reflect),
            ([1, 2, 200, 170], (3, 1, 0, 5), .reflect),
        ]
        for (shape, p, mode) in pads { try pad(&b, shape, p, mode) }
        for (shape, y, x0, h, w) in [([2, 3, 9, 11], 2, 3, 4, 5), ([1, 5, 6, 7], 0, 0, 6, 7), ([1, 3, 6, 7], 5, 6, 1, 1), ([2, 7, 4, 9], 1, 0, 3, 9)] {
            try crop(&b, shape, y: y, x: x0, height: h, width: w)
        }
        var rng = SplitMix64(seed: 2000)
        for (idsShape, v, d) in [([2, 5], 11, 7), ([9], 3, 130), ([1, 1, 3], 5, 1), ([4, 3], 1000, 13)] {
            let n = idsShape.reduce(1, *)
            var ids = (0..<n).map { _ in Int32(Int.random(in: 0..<v, using: &rng)) }
            ids[0] = Int32(v - 1)   // the last row
            if n > 1 { ids[n - 1] = 0 }
            try embedding(&b, ids: Tensor(shape: idsShape, ints: ids), table: [v, d])
        }
        for (shape, newShape) in [([2, 3, 4, 5], [120]), ([7, 1, 3], [1, 21, 1]), ([5, 6], [5, 6])] { try reshape(&b, shape, newShape) }
        let r = b.input([2, 3, 4, 5])
        // A reshape view between two ops (both exact, so the case stays bit-exact).
        try b.add(.reshape, "relu -> reshape [6, 20] -> permute [1, 0]", inputs: [r]) { g, v in
            try g.permute(g.reshape(g.relu(v[0]), [6, 20]), [1, 0])
        }
        for (shape, perm) in [([2, 3, 4, 5], [3, 1, 0, 2]), ([2, 1, 3, 1, 2, 3], [5, 3, 1, 0, 4, 2]), ([4, 3, 2], [0, 1, 2]),
                              ([3, 7, 5, 2, 3], [4, 0, 3, 2, 1]), ([1, 2, 200, 170], [0, 2, 3, 1])] {
            try permute(&b, shape, perm)
        }
    }

    /// " (note)" after a case's shapes, or nothing.
    private static func suffix(_ note: String) -> String { note.isEmpty ? "" : " (\(note))" }

    private static func pixelShuffle(_ b: inout OpCaseBuilder, _ shape: [Int], factor: Int) throws {
        let x = b.input(shape)
        try b.add(.pixelShuffle, "x\(shape) r\(factor)", inputs: [x]) { g, v in try g.pixelShuffle(v[0], factor: factor) }
    }

    private static func pixelUnshuffle(_ b: inout OpCaseBuilder, _ shape: [Int], factor: Int) throws {
        let x = b.input(shape)
        try b.add(.pixelUnshuffle, "x\(shape) r\(factor)", inputs: [x]) { g, v in try g.pixelUnshuffle(v[0], factor: factor) }
    }

    private static func concat(_ b: inout OpCaseBuilder, _ shapes: [[Int]], axis: Int, note: String = "") throws {
        let parts = shapes.map { b.input($0) }
        try b.add(.concat, "\(shapes.map { "\($0)" }.joined(separator: " ")) axis \(axis)\(suffix(note))", inputs: parts) { g, v in
            try g.concat(v, axis: axis)
        }
    }

    private static func slice(_ b: inout OpCaseBuilder, _ shape: [Int], axis: Int, start: Int, length: Int, note: String = "") throws {
        let x = b.input(shape)
        try b.add(.slice, "x\(shape) axis \(axis) [\(start), \(start + length))\(suffix(note))", inputs: [x]) { g, v in
            try g.slice(v[0], axis: axis, start: start, length: length)
        }
    }

    private static func pad(_ b: inout OpCaseBuilder, _ shape: [Int], _ p: (Int, Int, Int, Int), _ mode: PaddingMode, note: String = "") throws {
        let x = b.input(shape)
        try b.add(OpVariant(.pad(top: p.0, bottom: p.1, left: p.2, right: p.3, mode: mode)), "x\(shape) \(p) \(mode)\(suffix(note))",
                  inputs: [x]) { g, v in
            try g.pad(v[0], top: p.0, bottom: p.1, left: p.2, right: p.3, mode: mode)
        }
    }

    private static func crop(_ b: inout OpCaseBuilder, _ shape: [Int], y: Int, x x0: Int, height: Int, width: Int, note: String = "") throws {
        let x = b.input(shape)
        try b.add(.crop, "x\(shape) y\(y) x\(x0) \(height)x\(width)\(suffix(note))", inputs: [x]) { g, v in
            try g.crop(v[0], y: y, x: x0, height: height, width: width)
        }
    }

    private static func permute(_ b: inout OpCaseBuilder, _ shape: [Int], _ perm: [Int], note: String = "") throws {
        let x = b.input(shape)
        try b.add(.permute, "x\(shape) \(perm)\(suffix(note))", inputs: [x]) { g, v in try g.permute(v[0], perm) }
    }

    /// A reshape feeding a relu: a reshape alone is a view of the graph input.
    private static func reshape(_ b: inout OpCaseBuilder, _ shape: [Int], _ newShape: [Int]) throws {
        let x = b.input(shape)
        try b.add(.reshape, "x\(shape) -> \(newShape) then relu", inputs: [x]) { g, v in try g.relu(g.reshape(v[0], newShape)) }
    }

    private static func embedding(_ b: inout OpCaseBuilder, ids: Tensor, table: [Int]) throws {
        let t = b.tensor(table)
        try b.add(.embedding, "ids\(ids.shape) table\(table)", inputs: [.fixed(ids)]) { g, v in try g.embedding(v[0], table: g.constant(t)) }
    }

    static let benchFamilies: [String] = []

    static func addBenchCases(to b: inout OpBenchBuilder) throws {}
}
