import FusionCore

// Embedding lookup (Shaders/embedding.comp): ids i32 [...], table [V, D] -> [..., D].
// Ids outside [0, V) read as zeros. Rows are split into ranges whose ids and outputs fit
// one binding; the table is bound whole.

extension EncodeContext {
    func encodeEmbedding(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        let ids = inputs[0], table = inputs[1]
        try lightCheck([ids, table, output])
        let vocab = table.shape[0], dim = table.shape[1]
        let rows = ids.count
        guard output.count > 0 else { return }
        if vocab == 0 {
            // Every id is out of range: zeros, through the lookup kernel on a dummy table.
            let dummy = try scratch(shape: [1], dtype: storageFloat)
            try lightEmbeddingDispatches(ids: ids, table: dummy, vocab: 0, dim: dim, rows: rows, output: output)
            return
        }
        try lightEmbeddingDispatches(ids: ids, table: table, vocab: vocab, dim: dim, rows: rows, output: output)
    }

    private func lightEmbeddingDispatches(ids: DeviceTensor, table: DeviceTensor, vocab: Int, dim: Int, rows: Int,
                                          output: DeviceTensor) throws {
        let (tb, tOff) = try lightBindWhole(table, .read)
        for r in try lightItemRanges(rows, itemElements: dim, tensorForError: output, access: .write) {
            let (ib, idOff) = try lightBind(ids, .read, elements: r)
            let (yb, yOff) = try lightBind(output, .write, elements: (r.lowerBound * dim)..<(r.upperBound * dim))
            var args = ShaderArguments()
            args.ints([r.count * dim, dim, vocab, idOff, tOff, yOff])
            try lightDispatch("embedding.comp", defines: [], bindings: [ib, tb, yb], arguments: args, items: r.count * dim)
        }
    }
}
