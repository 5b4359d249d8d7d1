import FusionCore

/// CLIP's text tower on one backend: token ids in, features out. Prepared graphs are cached
/// per batch size, and features per token sequence, so a repeated prompt costs nothing.
public final class CLIPTextEncoder {
    public let weights: CLIPTextWeights
    public let backend: Backend
    private var executables: [Int: Executable] = [:]
    private var cache: [[Int32]: [Float]] = [:]
    /// How many token sequences' features stay cached.
    public var cacheLimit = 1024
    public private(set) var cacheHits = 0

    public init(weights: CLIPTextWeights, backend: Backend) {
        self.weights = weights
        self.backend = backend
    }

    /// Features [embed] for each row of token ids (each `contextLength` long).
    public func encode(tokens rows: [[Int32]]) throws -> [[Float]] {
        let t = weights.contextLength
        for (i, row) in rows.enumerated() {
            guard row.count == t else {
                throw FusionError.invalidArgument(op: "CLIP text", detail: "prompt \(i) has \(row.count) token ids, the model's context is \(t)")
            }
            if let bad = row.first(where: { $0 < 0 || Int($0) >= weights.vocabularySize }) {
                throw FusionError.invalidArgument(op: "CLIP text", detail: "prompt \(i) holds token id \(bad), outside the vocabulary of \(weights.vocabularySize)")
            }
        }
        var results = [[Float]?](repeating: nil, count: rows.count)
        var missing: [Int] = []
        for (i, row) in rows.enumerated() {
            if let hit = cache[row] { results[i] = hit; cacheHits += 1 } else { missing.append(i) }
        }
        if !missing.isEmpty {
            let batch = missing.count
            let executable: Executable
            if let e = executables[batch] { executable = e } else {
                executable = try backend.prepare(CLIPTextGraph.build(weights, batch: batch))
                executables[batch] = executable
            }
            let tokens = Tensor(shape: [batch, t], ints: missing.flatMap { rows[$0] })
            let eot = Tensor(shape: [batch, 1, t])
            for (b, i) in missing.enumerated() {
                // The end-of-text token has the largest id (OpenAI: `text.argmax(dim=-1)`, first maximum).
                let row = rows[i]
                var best = 0
                for j in 1..<row.count where row[j] > row[best] { best = j }
                eot.floats[b * t + best] = 1
            }
            guard let out = try executable.run(["tokens": tokens, "eot": eot])["features"] else {
                throw FusionError.backend("CLIP text: the graph produced no output")
            }
            let e = weights.embedDimension, values = out.toFloatArray()
            for (b, i) in missing.enumerated() {
                let f = Array(values[(b * e)..<((b + 1) * e)])
                results[i] = f
                if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
                cache[rows[i]] = f
            }
        }
        return results.map { $0! }
    }
}
