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

///
/// `channelBias` ([C] over dimension 1 of a rank >= 3 result) is added first: a pointwise
/// conv whose GEMM left its bias out has it added here, in the same pass.
func applyEpilogue(_ epilogue: Epilogue, out: UnsafeMutablePointer<Float>, shape: [Int],
                   operands: [(UnsafePointer<Float>, [Int])], channelBias: UnsafePointer<Float>? = nil, ctx: KernelContext) {
    let count = shape.reduce(1, *)
    guard !epilogue.isEmpty || channelBias != nil, count > 0 else { return }
    precondition(channelBias == nil || shape.count >= 3, "a channel bias needs a result of rank >= 3")
    let rank = shape.count
    let rowLength = rank == 0 ? 1 : shape[rank - 1]
    let rows = count / rowLength
    let lead = Array(shape.dropLast())
    let channels = rank >= 2 ? shape[1] : 1
    let plane = rank >= 2 ? shape.dropFirst(2).reduce(1, *) : 1
    let prepared = operands.map { EpilogueOperand(data: $0.0, strides: broadcastStrides($0.1, to: shape)) }
    let rowsPerChunk = max(1, rowChunkElements / max(rowLength, 1))

    parallelRanges(rows, threads: ctx.threads, chunk: rowsPerChunk) { range in
        var index = Array(repeating: 0, count: lead.count)
        for row in range {
            // Multi-index of the row over the leading dimensions.
            var r = row
            for d in stride(from: lead.count - 1, through: 0, by: -1) { index[d] = r % lead[d]; r /= lead[d] }
            let y = out + row * rowLength
            if let channelBias {
                let b = channelBias[(row * rowLength / plane) % channels]
                for i in 0..<rowLength { y[i] += b }
            }
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

@inline(__always)
private func combineRow<F: BinaryFunction>(_: F.Type, first: Bool, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                                           _ t: UnsafePointer<Float>, _ inner: Int) {
    if inner == 0 {
        let v = t[0]
        if first { for i in 0..<n { y[i] = F.apply(v, y[i]) } } else { for i in 0..<n { y[i] = F.apply(y[i], v) } }
    } else {
        if first { for i in 0..<n { y[i] = F.apply(t[i], y[i]) } } else { for i in 0..<n { y[i] = F.apply(y[i], t[i]) } }
    }
}

private func applyBinary(_ kind: BinaryKind, operandFirst first: Bool, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                         _ t: UnsafePointer<Float>, _ inner: Int) {
    switch kind {
    case .add: combineRow(AddFunction.self, first: first, y, n, t, inner)
    case .sub: combineRow(SubFunction.self, first: first, y, n, t, inner)
    case .mul: combineRow(MulFunction.self, first: first, y, n, t, inner)
    case .div: combineRow(DivFunction.self, first: first, y, n, t, inner)
    }
}
