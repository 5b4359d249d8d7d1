import FusionCore

/// global_pool and channel_reduce (max and mean): CBAM's channel and spatial attention
/// inputs. Part of the reduction family (its tolerances and XCTest methods).
enum PoolingCases {
    static func addParityCases(to b: inout OpCaseBuilder) throws {
        for shape in [[2, 5, 7, 9], [1, 3, 1, 1], [1, 16, 37, 29], [1, 4, b.dim(1...40), b.dim(1...40)]] {
            try both(&b, shape, range: -3...5)
        }
    }

    static func addTestCases(to b: inout OpCaseBuilder) throws {
        // Odd sizes, 1x1 maps, C = 1, planes shorter and longer than a workgroup, RFC's CBAM
        // (128 channels), all-negative values (max must not start from 0).
        for shape in [[2, 5, 7, 9], [1, 3, 1, 1], [1, 1, 4, 4], [3, 7, 1, 1], [1, 128, 33, 41], [2, 3, 300, 301], [1, 2, 1024, 1100]] {
            try both(&b, shape, range: -3...5)
        }
        try both(&b, [2, 6, 13, 11], range: -5...(-1), note: "negative")
        try both(&b, [1, 4, 64, 64], range: 99...101, note: "offset")
        // Over one binding (137 MiB): global pool in ranges of planes; channel reduce per
        // sample, and for one sample over a binding in chunks of channels combined in the output.
        try both(&b, [2, 24, 1024, 700], range: -1...3, note: "over one binding")
        try both(&b, [1, 48, 1024, 700], range: -1...3, note: "one sample over one binding")
    }

    private static func both(_ b: inout OpCaseBuilder, _ shape: [Int], range: ClosedRange<Float>, note: String = "") throws {
        let x = b.input(shape, range: range)
        let desc = "x\(shape)" + (note.isEmpty ? "" : " (\(note))")
        for kind in PoolKind.allCases {
            try b.add(OpVariant(.globalPool(kind)), "\(kind.rawValue) \(desc)", inputs: [x]) { g, v in try g.globalPool(kind, v[0]) }
            try b.add(OpVariant(.channelReduce(kind)), "\(kind.rawValue) \(desc)", inputs: [x]) { g, v in try g.channelReduce(kind, v[0]) }
        }
    }

    static let benchFamilies = ["pooling"]

    /// RFC's CBAM at the image size: 128 channels, global max / mean and channel max / mean.
    static func addBenchCases(to b: inout OpBenchBuilder) throws {
        let x = [1, 128, b.height, b.width]
        for kind in PoolKind.allCases {
            try b.add("pooling", "global_pool \(kind.rawValue) 128 ch (RFC CBAM)", size: x) { _, g in
                try g.globalPool(kind, g.input("x", shape: x))
            }
            try b.add("pooling", "channel_reduce \(kind.rawValue) 128 ch (RFC CBAM)", size: x) { _, g in
                try g.channelReduce(kind, g.input("x", shape: x))
            }
        }
    }
}
