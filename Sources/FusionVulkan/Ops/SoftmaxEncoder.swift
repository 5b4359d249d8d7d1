import FusionCore

// Softmax over the last dimension (Shaders/softmax.comp): max, then sum of exp(x - max),
// then the quotient. One workgroup per row with shared-memory tree reductions, or one
// thread per row for short rows; rows are split into ranges that fit one binding.

extension EncodeContext {
    func encodeSoftmax(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        let x = inputs[0]
        try lightCheck([x, output])
        let width = x.shape.last ?? 1
        guard output.count > 0, width > 0 else { return }
        let rows = x.count / width
        let perThread = width <= 32
        let wg = perThread ? 64 : lightRowWorkgroup(width)
        for r in try lightItemRanges(rows, itemElements: width, tensorForError: x, access: .read) {
            let elements = (r.lowerBound * width)..<(r.upperBound * width)
            let (xb, xOff) = try lightBind(x, .read, elements: elements)
            let (yb, yOff) = try lightBind(output, .write, elements: elements)
            var args = ShaderArguments()
            args.ints([r.count, width, xOff, yOff])
            try dispatch("softmax.comp", defines: perThread ? [("ROW_PER_THREAD", "1")] : [],
                         specialization: [UInt32(wg)], bindings: [xb, yb], arguments: args,
                         groups: (perThread ? groupCount(r.count, wg) : r.count, 1, 1))
        }
    }
}
