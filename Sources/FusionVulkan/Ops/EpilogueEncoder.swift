import FusionCore

// Node epilogues (FusionCore `Epilogue`) on Vulkan: Shaders/epilogue.glsl holds the steps;
// the heavy kernels (conv2d, conv2d_direct, conv2d_depthwise, matmul, matmul_direct) apply
// them at their store when the whole result is one dispatch over one binding of the output
// and every operand can be indexed from the output's flat index with a 3-group broadcast
// mask (`fusedEpilogue`); otherwise `encode` (NodeEncoder.swift) runs epilogue.comp over
// the output in place after the op (`encodeEpiloguePass`).

/// The epilogue of the node being encoded and whether a kernel applied it.
struct PendingEpilogue {
    let epilogue: Epilogue
    /// The epilogue's operands, in step order (the node's last inputs).
    let operands: [DeviceTensor]
    var applied = false
}

/// What a fused kernel adds to its dispatch: defines, specialization constants 16..35,
/// operand bindings after its own, and two push constants (the sizes C and B * C of
/// epilogue.glsl's [A, B, C] view of the output).
struct FusedEpilogue {
    let defines: [(String, String)]
    let constants: [UInt32]
    let bindings: [BufferBinding]
    let sizeC: Int
    let sizeBC: Int

    /// The kernel's specialization list padded to id 16, then the epilogue's.
    func specialization(_ kernel: [UInt32]) -> [UInt32] {
        precondition(kernel.count <= EpilogueCodes.firstConstant)
        return kernel + Array(repeating: 0, count: EpilogueCodes.firstConstant - kernel.count) + constants
    }

    func push(_ args: inout ShaderArguments) {
        args.int(sizeC)
        args.int(sizeBC)
    }
}

/// Step codes of epilogue.glsl.
enum EpilogueCodes {
    static let maxSteps = 4
    static let maxOperands = 4
    /// constant_id of step 0's kind.
    static let firstConstant = 16

    static func code(_ step: Epilogue.Step) -> (kind: UInt32, p0: Float, p1: Float) {
        switch step {
        case let .unary(k):
            switch k {
            case .relu: return (1, 0, 0)
            case let .leakyReLU(slope): return (2, slope, 0)
            case .gelu: return (3, 0, 0)
            case .quickGELU: return (4, 0, 0)
            case .tanh: return (5, 0, 0)
            case .sigmoid: return (6, 0, 0)
            case let .affine(scale, shift): return (7, scale, shift)
            }
        case let .binary(k, first):
            switch (k, first) {
            case (.add, _): return (8, 0, 0)
            case (.sub, false): return (9, 0, 0)
            case (.mul, _): return (10, 0, 0)
            case (.div, false): return (11, 0, 0)
            case (.sub, true): return (12, 0, 0)
            case (.div, true): return (13, 0, 0)
            }
        case .film: return (14, 0, 0)
        case .prelu: return (15, 0, 0)
        }
    }

    /// Specialization constants 16..31 for `steps` (at most 4), operand slots counted from 0.
    static func stepConstants(_ steps: ArraySlice<Epilogue.Step>) -> [UInt32] {
        precondition(steps.count <= maxSteps)
        var out: [UInt32] = []
        var slot = 0
        for step in steps {
            let c = code(step)
            out += [c.kind, UInt32(slot), c.p0.bitPattern, c.p1.bitPattern]
            slot += step.operandCount
        }
        while out.count < 4 * maxSteps { out += [0, 0, 0, 0] }
        return out
    }

    /// Each operand of `epilogue` as a shape of the output's rank that broadcasts to it
    /// dim by dim: binary operands padded with leading ones, FiLM's [N, C] and PReLU's slope
    /// over dim 1 padded with trailing ones.
    static func alignedOperandShapes(_ epilogue: Epilogue, operands: [[Int]], out: [Int]) -> [[Int]] {
        var shapes: [[Int]] = []
        var k = 0
        let r = out.count
        for step in epilogue.steps {
            switch step {
            case .unary: break
            case .binary:
                let s = operands[k]
                shapes.append(Array(repeating: 1, count: max(r - s.count, 0)) + s)
            case .film:
                for j in 0..<2 { shapes.append(operands[k + j] + Array(repeating: 1, count: max(r - 2, 0))) }
            case .prelu:
                let c = operands[k].reduce(1, *)
                shapes.append([1, c] + Array(repeating: 1, count: max(r - 2, 0)))
            }
            k += step.operandCount
        }
        return shapes
    }

    /// A split of the output's dims into three consecutive groups [A, B, C] over which
    /// every operand is either the output's extent or all ones; returns the sizes of B * C
    /// and C and each operand's mask (bit 2 A, bit 1 B, bit 0 C). Nil when none exists.
    static func grouping(out: [Int], operands: [[Int]]) -> (sizeBC: Int, sizeC: Int, masks: [UInt32])? {
        let r = out.count
        for i in 0...r {
            for j in i...r {
                let groups = [0..<i, i..<j, j..<r]
                var masks: [UInt32] = []
                for s in operands {
                    var mask: UInt32 = 0
                    var ok = true
                    for (gi, g) in groups.enumerated() {
                        let extent = g.reduce(1) { $0 * out[$1] }
                        if extent == 1 || g.allSatisfy({ s[$0] == 1 }) { continue }
                        if g.allSatisfy({ s[$0] == out[$0] }) {
                            mask |= UInt32(1 << (2 - gi))
                        } else {
                            ok = false
                            break
                        }
                    }
                    guard ok else { masks = []; break }
                    masks.append(mask)
                }
                if masks.count == operands.count {
                    let c = groups[2].reduce(1) { $0 * out[$1] }
                    let b = groups[1].reduce(1) { $0 * out[$1] }
                    return (b * c, c, masks)
                }
            }
        }
        return nil
    }
}

/// The iteration space of the epilogue pass as 4 dims (outermost first) with each operand's
/// element stride per dim (0 where it is broadcast); adjacent dims that every operand walks
/// contiguously are merged. Nil when more than 4 dims remain.
struct EpilogueLayout {
    var dims: [Int] = []
    var strides: [[Int]] = []   // [operand][dim]

    init?(out: [Int], operands: [[Int]]) {
        let full: [[Int]] = operands.map { s in
            let contiguous = contiguousStrides(s)
            return s.indices.map { s[$0] == 1 ? 0 : contiguous[$0] }
        }
        strides = Array(repeating: [], count: operands.count)
        for d in out.indices where out[d] != 1 {
            if let last = dims.indices.last,
               operands.indices.allSatisfy({ strides[$0][last] == full[$0][d] * out[d] }) {
                dims[last] *= out[d]
                for k in operands.indices { strides[k][last] = full[k][d] }
            } else {
                dims.append(out[d])
                for k in operands.indices { strides[k].append(full[k][d]) }
            }
        }
        guard dims.count <= 4 else { return nil }
        while dims.count < 4 {
            dims.insert(1, at: 0)
            for k in operands.indices { strides[k].insert(0, at: 0) }
        }
    }
}

extension EncodeContext {
    /// The node's epilogue for a kernel that stores the whole output through one binding at
    /// element 0 (its store index is the output's flat index) and declares `kernelBindings`
    /// bindings of its own; nil when there is none, it is applied already, or the kernel
    /// cannot apply it (over 4 steps or operands, an operand over one binding, operand shapes
    /// without a 3-group view, too many bindings for the device). Call `markEpilogueApplied`
    /// once the dispatch using it is recorded.
    func fusedEpilogue(output: DeviceTensor, kernelBindings: Int = 4) throws -> FusedEpilogue? {
        guard let pending = epilogue, !pending.applied else { return nil }
        let e = pending.epilogue
        let ops = pending.operands
        guard e.steps.count <= EpilogueCodes.maxSteps, ops.count <= EpilogueCodes.maxOperands,
              kernelBindings + ops.count <= Int(context.info.maxPerStageDescriptorStorageBuffers),
              ops.allSatisfy({ $0.dtype.byteSize == 4 && heavyFits(elements: $0.count) }),
              output.dtype.byteSize == 4, output.count < Int(Int32.max) else { return nil }
        let shapes = EpilogueCodes.alignedOperandShapes(e, operands: ops.map(\.shape), out: output.shape)
        guard let g = EpilogueCodes.grouping(out: output.shape, operands: shapes) else { return nil }
        var masks = g.masks
        while masks.count < EpilogueCodes.maxOperands { masks.append(7) }
        let bindings = try ops.map { try bind($0, .read) }
        return FusedEpilogue(defines: [("EPILOGUE", "1"), ("EPI_OPERANDS", "\(ops.count)")],
                             constants: EpilogueCodes.stepConstants(e.steps[...]) + masks,
                             bindings: bindings, sizeC: g.sizeC, sizeBC: g.sizeBC)
    }

    func markEpilogueApplied() { epilogue?.applied = true }

    /// The epilogue as passes of epilogue.comp over `output`, in place: steps in groups of at
    /// most 4 steps and 4 operands whose broadcast layout merges into 4 dims (one pass for
    /// any epilogue a node of rank <= 4 normally carries), each split into flat ranges that
    /// fit one binding.
    func encodeEpiloguePass(_ pending: PendingEpilogue, _ output: DeviceTensor) throws {
        let e = pending.epilogue
        let total = output.count
        guard total > 0, !e.isEmpty else { return }
        try lightCheck([output] + pending.operands)
        let shapes = EpilogueCodes.alignedOperandShapes(e, operands: pending.operands.map(\.shape), out: output.shape)
        // Operand range of each step.
        var firstOperand: [Int] = []
        var k = 0
        for step in e.steps { firstOperand.append(k); k += step.operandCount }
        // Operand bindings per pass: 4, fewer on a device with fewer than 5 storage buffers
        // per stage (the output takes one).
        let maxOperands = min(EpilogueCodes.maxOperands, Int(context.info.maxPerStageDescriptorStorageBuffers) - 1)

        var s0 = 0
        while s0 < e.steps.count {
            // The longest run of steps from s0 that one pass can take.
            var s1 = s0 + 1
            var layout: EpilogueLayout?
            while s1 <= e.steps.count {
                let o0 = firstOperand[s0], o1 = s1 < e.steps.count ? firstOperand[s1] : pending.operands.count
                guard s1 - s0 <= EpilogueCodes.maxSteps, o1 - o0 <= maxOperands,
                      let l = EpilogueLayout(out: output.shape, operands: Array(shapes[o0..<o1])) else { break }
                layout = l
                s1 += 1
            }
            s1 -= 1
            guard let layout, s1 > s0 else {
                throw FusionError.unsupportedOp(op: "\(opName) epilogue step \(e.steps[s0].name) on a result \(output.shape) (broadcast over more than 4 dims)", backend: "vulkan")
            }
            let o0 = firstOperand[s0], o1 = s1 < e.steps.count ? firstOperand[s1] : pending.operands.count
            try encodeEpilogueGroup(e.steps[s0..<s1], operands: Array(pending.operands[o0..<o1]), layout: layout, output)
            s0 = s1
        }
    }

    private func encodeEpilogueGroup(_ steps: ArraySlice<Epilogue.Step>, operands: [DeviceTensor],
                                     layout: EpilogueLayout, _ output: DeviceTensor) throws {
        let total = output.count
        // An operand with as many elements as the output is the output's shape up to leading
        // ones: it is bound range by range like the output; the others are bound whole.
        let whole: [(BufferBinding, Int)?] = try operands.map { $0.count == total ? nil : try lightBindWhole($0, .read) }
        let spec = [UInt32(lightWorkgroupSize)] + Array(repeating: 0, count: EpilogueCodes.firstConstant - 1)
            + EpilogueCodes.stepConstants(steps) + Array(repeating: 7, count: EpilogueCodes.maxOperands)
        for r in lightRanges(total, maxItems: lightMaxElements) {
            let (yb, yOff) = try lightBind(output, .readWrite, elements: r)
            var bindings = [yb]
            var offsets = [0, 0, 0, 0]
            for (k, t) in operands.enumerated() {
                if let (b, off) = whole[k] {
                    bindings.append(b)
                    offsets[k] = off
                } else {
                    let (b, off) = try lightBind(t, .read, elements: r)
                    bindings.append(b)
                    offsets[k] = off - r.lowerBound
                }
            }
            var args = ShaderArguments()
            args.ints(offsets)
            for d in 0..<4 {
                args.ints((0..<4).map { k in k < operands.count ? layout.strides[k][d] : 0 })
            }
            args.ints([r.count, r.lowerBound, yOff])
            args.ints(Array(layout.dims[1...]))
            try dispatch("epilogue.comp", defines: [("EPILOGUE", "1"), ("EPI_OPERANDS", "\(operands.count)")],
                         specialization: spec, bindings: bindings, arguments: args,
                         groups: (groupCount(r.count, lightWorkgroupSize), 1, 1))
        }
    }
}
