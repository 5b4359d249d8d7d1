import FusionCore

/// matmul and linear: transposes, broadcast batches, large K, vectors, split paths.
enum MatrixProductCases: OpFamilyCases {
    static func addParityCases(to b: inout OpCaseBuilder) throws {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let m = b.dim(1...37), k = b.dim(1...45), n = b.dim(1...29), batch = b.dim(1...3)
            let x = b.input(ta ? [batch, k, m] : [batch, m, k]), y = b.input(tb ? [1, n, k] : [1, k, n])
            try b.add(.matmul, "a\(x.shape)\(ta ? "^T" : "") b\(y.shape)\(tb ? "^T" : "")", inputs: [x, y]) { g, v in
                try g.matmul(v[0], v[1], transposeA: ta, transposeB: tb, alpha: 0.5)
            }
        }
        try matmul(&b, "(large K)", [[3, 2049], [2049, 5]])
        try matmul(&b, "", [[130, 67], [67, 129]])
        // Batched operands on both sides (Text-IF's banded Gram matrices).
        try matmul(&b, "(both batched)", [[2, 3, 5, 37], [2, 3, 5, 37]], transposeB: true)

        let x = b.input([3, 17, 33]), w = b.tensor([19, 33]), bias = b.tensor([19])
        try b.add(.linear, "x\(x.shape) w\(w.shape) +bias", inputs: [x]) { g, v in
            try g.linear(v[0], weight: g.constant(w), bias: g.constant(bias))
        }
        let x2 = b.input([1, 512]), w2 = b.tensor([1023, 512])
        try b.add(.linear, "x\(x2.shape) w\(w2.shape)", inputs: [x2]) { g, v in try g.linear(v[0], weight: g.constant(w2)) }
        // Per-sample vectors: the RLN meta linears and Text-IF's prompt MLP.
        for (x, w) in [(b.input([4, 1]), b.tensor([24, 1])), (b.input([3, 512], range: -0.1...0.1), b.tensor([64, 512]))] {
            let bias = b.tensor([w.shape[0]])
            try b.add(.linear, "batch x\(x.shape) w\(w.shape) +bias", inputs: [x]) { g, v in
                try g.linear(v[0], weight: g.constant(w), bias: g.constant(bias))
            }
        }
        try EpilogueCases.addMatrixCases(to: &b, large: false)
    }

    static func addTestCases(to b: inout OpCaseBuilder) throws {
        try EpilogueCases.addMatrixCases(to: &b, large: true)
        try matmul(&b, "37x19 @ 19x23", [[37, 19], [19, 23]])
        try matmul(&b, "transA transB alpha", [[2, 19, 37], [23, 19]], transposeA: true, transposeB: true, alpha: 0.5)
        try matmul(&b, "rank5 broadcast", [[2, 1, 5, 7, 9], [3, 1, 9, 4]])
        try matmul(&b, "batch over b only", [[7, 9], [4, 9, 13]])
        try matmul(&b, "batch folds into M", [[3, 5, 11, 6], [6, 10]])
        try matmul(&b, "large K", [[8, 2000], [2000, 16]])
        try matmul(&b, "vector times matrix", [[1, 300], [300, 129]])
        try matmul(&b, "matrix times vector transB", [[130, 64], [1, 64]], transposeB: true)
        try matmul(&b, "1x1", [[1, 1], [1, 1]])
        try matmul(&b, "square 128", [[128, 128], [128, 128]])
        try matmul(&b, "steady 512^3", [[512, 512], [512, 512]], runsTwice: true)
        try matmul(&b, "split batched", [[4, 64, 48], [4, 48, 40]], splitBytes: 4096)
        try matmul(&b, "split transposed A (K halves accumulate)", [[96, 70], [96, 33]], transposeA: true, alpha: 2, splitBytes: 4096)
        try matmul(&b, "split wide B", [[5, 40], [40, 300]], splitBytes: 8192)

        try linear(&b, "rank3 bias", [[2, 5, 37], [23, 37], [23]])
        try linear(&b, "rank1", [[300], [7, 300]])
        try linear(&b, "large K", [[3, 4096], [65, 4096], [65]])
        try linear(&b, "many rows", [[1000, 24], [96, 24], [96]])
        try linear(&b, "split rows", [[300, 24], [40, 24], [40]], splitBytes: 4096)
        try linear(&b, "split K and N", [[6, 700], [50, 700], [50]], splitBytes: 8192)
        try addReferenceSweep(to: &b)
    }

    /// Transposes, alpha, broadcast batches of every rank pairing, vectors and long K against
    /// float64, and linear at ranks 1 to 4 with input or constant weights.
    private static func addReferenceSweep(to b: inout OpCaseBuilder) throws {
        let products: [([Int], [Int], Bool, Bool, Float)] = [
            ([5, 7], [7, 9], false, false, 1), ([7, 5], [7, 9], true, false, 1), ([5, 7], [9, 7], false, true, 1),
            ([7, 5], [9, 7], true, true, 0.75),
            ([2, 1, 5, 7], [3, 7, 9], false, false, 0.5),      // broadcast batch -> [2, 3, 5, 9]
            ([3, 7, 5], [3, 9, 7], true, true, 1.25),
            ([5, 7], [2, 3, 7, 9], false, false, 1),           // rank 2 x rank 4
            ([2, 3, 7, 5], [9, 7], true, true, 1),             // rank 4 x rank 2
            ([4, 1, 6, 33], [1, 3, 33, 1], false, false, 1),   // N = 1, broadcast both ways
            ([1, 130], [67, 130], false, true, 1),             // M = 1
            ([17, 1000], [1000, 19], false, false, 1),         // long K
            ([2, 33, 65], [2, 33, 31], true, false, 2),
            ([4, 65, 129], [129, 97], false, false, 1),        // several CPU GEMM tasks
        ]
        for (a, bShape, ta, tb, alpha) in products {
            try matmul(&b, "float64 sweep", [a, bShape], transposeA: ta, transposeB: tb, alpha: alpha)
        }
        let linears: [([Int], Int, Bool)] = [([7, 13], 5, true), ([2, 7, 13], 11, false), ([2, 3, 4, 13], 5, true), ([13], 5, true),
                                             ([3, 515], 33, true), ([1, 1, 3], 1, false)]
        for (i, (x, n, bias)) in linears.enumerated() {
            let k = x.last!
            if i % 2 == 0 {
                let input = b.input(x), w = b.tensor([n, k], range: -0.5...0.5), bt = b.tensor([n])
                try b.add(.linear, "float64 sweep: x\(x) w[\(n), \(k)]\(bias ? " +bias" : "") (constants)", inputs: [input]) { g, v in
                    try g.linear(v[0], weight: g.constant(w), bias: bias ? g.constant(bt) : nil)
                }
            } else {
                try linear(&b, "float64 sweep", [x, [n, k]] + (bias ? [[n]] : []))
            }
        }
    }

    /// A matmul case over two graph inputs.
    private static func matmul(_ b: inout OpCaseBuilder, _ label: String, _ shapes: [[Int]], transposeA: Bool = false,
                               transposeB: Bool = false, alpha: Float = 1, splitBytes: Int? = nil, runsTwice: Bool = false) throws {
        let inputs = shapes.map { b.input($0) }
        let desc = "a\(shapes[0])\(transposeA ? "^T" : "") b\(shapes[1])\(transposeB ? "^T" : "")\(alpha != 1 ? " alpha \(alpha)" : "")"
        try b.add(.matmul, label.isEmpty ? desc : "\(label): \(desc)", inputs: inputs, splitBytes: splitBytes, runsTwice: runsTwice) { g, v in
            try g.matmul(v[0], v[1], transposeA: transposeA, transposeB: transposeB, alpha: alpha)
        }
    }

    /// A linear case whose operands (x, weight, optional bias) are all graph inputs.
    private static func linear(_ b: inout OpCaseBuilder, _ label: String, _ shapes: [[Int]], splitBytes: Int? = nil) throws {
        let inputs = shapes.map { b.input($0) }
        try b.add(.linear, "\(label): x\(shapes[0]) w\(shapes[1])\(shapes.count > 2 ? " +bias" : "")", inputs: inputs,
                  splitBytes: splitBytes) { g, v in
            try g.linear(v[0], weight: v[1], bias: v.count > 2 ? v[2] : nil)
        }
    }

    static let benchFamilies = ["gemm"]

    static func addBenchCases(to b: inout OpBenchBuilder) throws {
        try b.add("gemm", "GEMM 1024x1024x1024", size: "1024x1024x1024") { _, g in
            try g.matmul(g.input("a", shape: [1024, 1024]), g.input("b", shape: [1024, 1024]))
        }
    }
}
