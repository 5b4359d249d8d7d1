import CCPUKernels
import FusionCore

// A node's epilogue (`Epilogue`), applied in place to its result: rows of the innermost
// dimension in parallel chunks, every step on a row before the next row, so the row stays
// in L1 between steps. The arithmetic is the unfused ops' (same functions, same order), so
// a fused graph gives the unfused graph's bits.

private let rowChunkElements = 1 << 14

/// One step's operand: its memory and element strides broadcast to the result's shape.
private struct EpilogueOperand {
    let data: UnsafePointer<Float>
    let strides: [Int]
}

/// A node's epilogue prepared for a result of `shape`: `apply(row:)` runs every step on one
/// row of the innermost dimension, so a kernel can finish rows while they are in cache.
///
/// `channelBias` ([C] over dimension 1 of a rank >= 3 result) is added first: a pointwise
/// conv whose GEMM left its bias out has it added here, in the same pass.
struct EpilogueRows {
    let epilogue: Epilogue
    let out: UnsafeMutablePointer<Float>
    let channelBias: UnsafePointer<Float>?
    let rank: Int, rowLength: Int, rows: Int, channels: Int, plane: Int
    private let lead: [Int]
    private let prepared: [EpilogueOperand]

    init(_ epilogue: Epilogue, out: UnsafeMutablePointer<Float>, shape: [Int],
         operands: [(UnsafePointer<Float>, [Int])], channelBias: UnsafePointer<Float>? = nil) {
        precondition(channelBias == nil || shape.count >= 3, "a channel bias needs a result of rank >= 3")
        self.epilogue = epilogue
        self.out = out
        self.channelBias = channelBias
        rank = shape.count
        rowLength = rank == 0 ? 1 : shape[rank - 1]
        rows = rowLength == 0 ? 0 : shape.reduce(1, *) / rowLength
        lead = Array(shape.dropLast())
        channels = rank >= 2 ? shape[1] : 1
        plane = rank >= 2 ? shape.dropFirst(2).reduce(1, *) : 1
        prepared = operands.map { EpilogueOperand(data: $0.0, strides: broadcastStrides($0.1, to: shape)) }
    }

    var isEmpty: Bool { epilogue.isEmpty && channelBias == nil }

    /// Every step on row `row` (rows are numbered over the leading dimensions, row-major).
    func apply(row: Int) {
        let y = out + row * rowLength
        if let channelBias {
            var b = channelBias[(row * rowLength / plane) % channels]
            fk_row_binary(Int32(FK_OP_ADD), 0, y, rowLength, &b, 0)
        }
        guard !epilogue.isEmpty else { return }
        // Multi-index of the row over the leading dimensions (on the stack: one per row).
        withUnsafeTemporaryAllocation(of: Int.self, capacity: max(lead.count, 1)) { index in
            var r = row
            for d in stride(from: lead.count - 1, through: 0, by: -1) { index[d] = r % lead[d]; r /= lead[d] }
            applySteps(y, row: row, index: index)
        }
    }

    private func applySteps(_ y: UnsafeMutablePointer<Float>, row: Int, index: UnsafeMutableBufferPointer<Int>) {
        var k = 0
        for step in epilogue.steps {
            switch step {
            case let .unary(kind):
                applyUnary(kind, y, rowLength)
            case let .binary(kind, first):
                let t = prepared[k]
                var offset = 0
                for d in 0..<lead.count { offset += index[d] * t.strides[d] }
                let inner = rank == 0 ? 0 : t.strides[rank - 1]
                applyBinary(kind, operandFirst: first, y, rowLength, t.data + offset, inner)
            case .film:
                let p = index[0] * channels + index[1]
                let g = 1 + prepared[k].data[p], b = prepared[k + 1].data[p]
                for i in 0..<rowLength { y[i] = g * y[i] + b }
            case .prelu:
                let slope = prepared[k].data, shared = prepared[k].strides.allSatisfy { $0 == 0 }
                if rank >= 3 {
                    let s = shared ? slope[0] : slope[(row * rowLength / plane) % channels]
                    for i in 0..<rowLength where !(y[i] >= 0) { y[i] = s * y[i] }
                } else {
                    for i in 0..<rowLength {
                        let s = shared ? slope[0] : slope[(row * rowLength + i) % channels]
                        if !(y[i] >= 0) { y[i] = s * y[i] }
                    }
                }
            }
            k += step.operandCount
        }
    }
}

/// The epilogue over the whole result, rows in parallel chunks.
func applyEpilogue(_ epilogue: Epilogue, out: UnsafeMutablePointer<Float>, shape: [Int],
                   operands: [(UnsafePointer<Float>, [Int])], channelBias: UnsafePointer<Float>? = nil, ctx: KernelContext) {
    let rows = EpilogueRows(epilogue, out: out, shape: shape, operands: operands, channelBias: channelBias)
    guard !rows.isEmpty, rows.rows > 0 else { return }
    let rowsPerChunk = max(1, rowChunkElements / max(rows.rowLength, 1))
    parallelRanges(rows.rows, threads: ctx.threads, chunk: rowsPerChunk) { range in
        for row in range { rows.apply(row: row) }
    }
}

@inline(__always)
private func mapRow<F: UnaryFunction>(_ f: F, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { y[i] = f(y[i]) }
}

private func applyUnary(_ kind: UnaryKind, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    switch kind {
    case .relu: mapRow(ReLUFunction(), y, n)
    case let .leakyReLU(slope): mapRow(LeakyReLUFunction(slope: slope), y, n)
    case .gelu: mapRow(GELUFunction(), y, n)
    case .quickGELU: mapRow(QuickGELUFunction(), y, n)
    case .tanh: mapRow(TanhFunction(), y, n)
    case .sigmoid: mapRow(SigmoidFunction(), y, n)
    case let .affine(scale, shift): mapRow(AffineFunction(scale: scale, shift: shift), y, n)
    }
}

private func applyBinary(_ kind: BinaryKind, operandFirst first: Bool, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                         _ t: UnsafePointer<Float>, _ inner: Int) {
    // In C (`fk_row_binary`): the same single IEEE operations, on the CPU's widest vectors.
    let op: Int32
    switch kind {
    case .add: op = Int32(FK_OP_ADD)
    case .sub: op = Int32(FK_OP_SUB)
    case .mul: op = Int32(FK_OP_MUL)
    case .div: op = Int32(FK_OP_DIV)
    }
    fk_row_binary(op, first ? 1 : 0, y, n, t, inner)
}
