import FusionCore

/// Rows of `table` [V, D] gathered by i32 ids. An id outside 0..<V is an error.
func embedding(ids: UnsafePointer<Int32>, count: Int, table: UnsafePointer<Float>, tableShape: [Int],
               out: UnsafeMutablePointer<Float>, nodeName: String, ctx: KernelContext) throws {
    let v = tableShape[0], d = tableShape[1]
    for i in 0..<count where ids[i] < 0 || Int(ids[i]) >= v {
        throw FusionError.invalidArgument(op: "embedding",
            detail: "id \(ids[i]) at position \(i) is outside the table's \(v) rows 0..<\(v) (node '\(nodeName)')")
    }
    if d == 0 { return }
    parallelFor(count, threads: ctx.threads, grain: max(1, 8192 / d)) { i in
        (out + i * d).update(from: table + Int(ids[i]) * d, count: d)
    }
}
