import Foundation
import FusionCore
import FusionIO
import FusionModels

/// The RFC golden kinds (`rfc` itself in `RFCFusionGoldenCheck.swift`) (`../shared/golden/README.md`).
enum RFCGoldenChecks {
    /// A weights file named in the case's `"weights"` object (`clip`, `clipseg`, `rfc`).
    static func weightsPath(_ golden: GoldenCase, _ key: String) throws -> String {
        guard let files = golden.json["weights"] as? [String: Any], let relative = files[key] as? String else {
            throw golden.malformed("the JSON has no \"weights\".\"\(key)\" path")
        }
        return relative.hasPrefix("/") ? relative : try golden.resolvePath(relative)
    }

    /// `rfc_clip_vision`: CLIPSeg's `visual_forward` of the case's CLIP tower on its input.
    /// patch_embed, tokens_pre_ln, tokens_ln_pre and the activations within 5e-5,
    /// pos_embed_interp within 1e-6. The config's settings must equal what the weights give
    /// (its `vision_heads` is applied: the head count is not stored in the weights).
    static func clipVision(_ golden: GoldenCase, _ runner: GoldenRunner) throws -> GoldenResult {
        let start = Date()
        let path = try weightsPath(golden, "clip")
        let config = try golden.config()
        let stated = config["vision_heads"]
        guard stated == nil || (stated as? Int).map({ $0 > 0 }) == true else { throw golden.malformed("config \"vision_heads\" is \(stated!), not a positive integer") }
        let heads = stated as? Int
        let w = try runner.cached("clip-vision:\(heads ?? 0):" + path) { try CLIPVisionWeights(CheckpointReader.read(path: path).archive, heads: heads) }
        try golden.checkConfig(["vision_width": w.width, "vision_layers": w.layers.count, "vision_patch_size": w.patchSize,
                                "image_resolution": w.imageResolution, "embed_dim": w.embedDimension, "vision_heads": w.heads])
        guard let layers = (golden.json["extract_layers"] as? [Int]) ?? Optional([0, 3, 6, 9]), !layers.isEmpty,
              layers.allSatisfy({ (0..<w.layers.count).contains($0) }) else {
            throw golden.malformed("\"extract_layers\" must list block indices in 0..<\(w.layers.count)")
        }
        let input = try golden.archive.require("input")
        let s = input.shape
        guard s.count == 4, s[1] == 3, s[0] >= 1, s[2] % w.patchSize == 0, s[3] % w.patchSize == 0, s[2] > 0, s[3] > 0 else {
            throw golden.malformed("'input' has shape \(s); expected [N, 3, H, W] with H, W multiples of \(w.patchSize)")
        }
        let n = s[0], gh = s[2] / w.patchSize, gw = s[3] / w.patchSize, tokens = 1 + gh * gw, d = w.width
        let backend = runner.backend.backend
        let graph = try CLIPVisionGraph.build(w, batch: n, height: s[2], width: s[3], taps: layers, intermediates: true)
        let out = try backend.prepare(graph).run(["image": try input.toTensor()])

        var rows: [(name: String, maxAbs: Double, rel: Double, tolerance: Double)] = []
        func compare(_ name: String, _ got: [Float], _ expected: [Float], tolerance: Double) throws {
            guard got.count == expected.count else { throw golden.malformed("'\(name)' holds \(expected.count) values, the engine gave \(got.count)") }
            let (maxAbs, rel) = errorStatistics(got, expected)
            rows.append((name, maxAbs, rel, tolerance))
        }
        func output(_ name: String) throws -> [Float] {
            guard let t = out[name] else { throw FusionError.backend("CLIP vision: the graph produced no '\(name)'") }
            return t.toFloatArray()
        }
        try compare("patch_embed", output("patch_embed"), golden.floats("patch_embed"), tolerance: 5e-5)
        try compare("tokens_pre_ln", output("tokens_pre_ln"), golden.floats("tokens_pre_ln"), tolerance: 5e-5)
        try compare("tokens_ln_pre", output("tokens_ln_pre"), golden.floats("tokens_ln_pre"), tolerance: 5e-5)
        // activations [K, tokens, N, W] (CLIPSeg's sequence-first layout); the engine's taps are [N, tokens, W].
        let expected = try golden.expected("activations", shape: [layers.count, tokens, n, d])
        for (k, layer) in layers.enumerated() {
            let got = try output("tap_\(layer)")
            var reordered = [Float](repeating: 0, count: got.count)
            for t in 0..<tokens { for b in 0..<n { for c in 0..<d { reordered[(t * n + b) * d + c] = got[(b * tokens + t) * d + c] } } }
            try compare("activations[block \(layer)]", reordered, Array(expected[(k * tokens * n * d)..<((k + 1) * tokens * n * d)]), tolerance: 5e-5)
        }
        // The resized positional grid, from the same subgraph the tower folds, fed as inputs.
        let positions = Graph()
        let table = w.positionalEmbedding.toFloatArray()
        let first = positions.input("class", shape: [1, d]), grid = positions.input("grid", shape: [w.grid * w.grid, d])
        positions.output("positions", try CLIPVisionGraph.resizedPositions(positions, first: first, grid: grid, from: w.grid, height: gh, width: gw))
        let resized = try backend.prepare(positions).run(["class": Tensor(shape: [1, d], floats: Array(table[0..<d])),
                                                          "grid": Tensor(shape: [w.grid * w.grid, d], floats: Array(table[d...]))])
        try compare("pos_embed_interp", resized["positions"]!.toFloatArray(), golden.expected("pos_embed_interp", shape: [tokens, d]), tolerance: 1e-6)

        let passed = rows.allSatisfy { $0.maxAbs <= $0.tolerance }
        let detail = rows.map { "\($0.name) \(String(format: "%.2e", $0.maxAbs))" + ($0.maxAbs <= $0.tolerance ? "" : " (over \(String(format: "%.0e", $0.tolerance)))") }
            .joined(separator: ", ")
        return GoldenResult(file: golden.path, kind: golden.kind, backend: runner.backend.name, shape: [layers.count, tokens, n, d],
                            maxAbsError: rows.map(\.maxAbs).max() ?? 0, relativeL2Error: rows.map(\.rel).max() ?? 0,
                            criterion: "max |err| <= 5e-5 (pos_embed_interp 1e-6)", passed: passed, detail: detail,
                            seconds: Date().timeIntervalSince(start))
    }

    /// `rfc_text_split`: every listed prompt through `InstructionSplitter`. It must give the
    /// case's `rule_split` (null: reject the prompt), and the original's spaCy split where
    /// `rule_split_agrees` (null target: the original raises, so reject); `process_tokens`
    /// must equal the engine's tokenizer on each spaCy process phrase ('' where it raised).
    /// The "error" is the number of disagreements.
    static func textSplit(_ golden: GoldenCase, _ runner: GoldenRunner) throws -> GoldenResult {
        let start = Date()
        guard let splits = golden.json["splits"] as? [[String: Any]], !splits.isEmpty else { throw golden.malformed("the JSON has no \"splits\" list") }
        let tokens = try golden.archive.require("process_tokens")
        guard tokens.shape.count == 2, tokens.shape[0] == splits.count, (2...4096).contains(tokens.shape[1]) else {
            throw golden.malformed("'process_tokens' has shape \(tokens.shape); expected [\(splits.count), context]")
        }
        let context = tokens.shape[1]
        let ids = try tokens.integerValues().map { Int32(truncatingIfNeeded: $0) }
        let tokenizer = try runner.tokenizer(for: golden)
        /// A (target, process) pair of the JSON: target 0 = none, null = the original raised.
        func instruction(_ target: Any?, _ process: Any?) throws -> RFCInstruction? {
            if target == nil || target is NSNull { return nil }
            guard let process = process as? String else { throw golden.malformed("a split has a target but no process string") }
            if let zero = target as? Int, zero == 0, !(target is String) { return RFCInstruction(target: .none, process: process) }
            guard let text = target as? String else { throw golden.malformed("target \(target!) is neither 0, null nor a string") }
            return RFCInstruction(target: RFCTarget(text), process: process)
        }
        func describe(_ i: RFCInstruction?) -> String { i.map { "(\($0.target), '\($0.process)')" } ?? "rejected" }
        var failures: [String] = []
        var agreeing = 0
        for (i, split) in splits.enumerated() {
            guard let prompt = split["prompt"] as? String else { throw golden.malformed("split \(i) has no prompt") }
            let ours: RFCInstruction?
            do { ours = try InstructionSplitter.split(prompt) } catch is InstructionSplitError { ours = nil }
            let rule: RFCInstruction?
            if let pair = split["rule_split"] as? [Any] {
                guard pair.count == 2 else { throw golden.malformed("split \(i): rule_split is not a (target, process) pair") }
                rule = try instruction(pair[0], pair[1])
            } else { rule = nil }
            if ours != rule { failures.append("'\(prompt)': \(describe(ours)), the rule gives \(describe(rule))") }
            if (split["rule_split_agrees"] as? Bool) == true {
                agreeing += 1
                let spacy = try instruction(split["target"], split["process"])
                if ours != spacy { failures.append("'\(prompt)': \(describe(ours)), the original gives \(describe(spacy))") }
            }
            let process = (split["process"] as? String) ?? ""
            let row = Array(ids[(i * context)..<((i + 1) * context)])
            if try tokenizer.tokenize(process, contextLength: context, truncate: false) != row {
                failures.append("'\(process)': token ids differ from process_tokens row \(i)")
            }
        }
        return GoldenResult(file: golden.path, kind: golden.kind, backend: "-", shape: [splits.count],
                            maxAbsError: Double(failures.count), relativeL2Error: 0,
                            criterion: "every split equal (\(agreeing) of \(splits.count) checked against the original too), tokens equal",
                            passed: failures.isEmpty, detail: failures.joined(separator: "; "), seconds: Date().timeIntervalSince(start))
    }
}
