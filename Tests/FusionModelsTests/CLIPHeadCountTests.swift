import Foundation
import FusionCore
import FusionCPU
import FusionEngine
import FusionIO
import FusionModels
import FusionTestSupport
import XCTest

/// A CLIP text tower whose head count is not width / 64 (width 96, 3 heads), stored under
/// `model_clip.` in a Text-IF-format checkpoint (`torch.save({"model": state_dict})`)
/// written here, against OpenAI's `encode_text` computed in float64 below.
final class CLIPHeadCountTests: XCTestCase {
    static let width = 96, heads = 3, layers = 2, embed = 64
    static let prompts = ["A pedestrian is walking on the sidewalk.", "the visible image is under-exposed"]

    /// The tower's tensors in OpenAI names (random values, released shapes otherwise).
    private func tensors() -> [(String, Tensor)] {
        let w = CLIPTextWeights(randomWidth: Self.width, layers: Self.layers, embedDimension: Self.embed, seed: 11)
        var out: [(String, Tensor)] = [("token_embedding.weight", w.tokenEmbedding), ("positional_embedding", w.positionalEmbedding)]
        for (i, l) in w.layers.enumerated() {
            let b = "transformer.resblocks.\(i)."
            out += [(b + "ln_1.weight", l.ln1Weight), (b + "ln_1.bias", l.ln1Bias),
                    (b + "attn.in_proj_weight", l.inProjWeight), (b + "attn.in_proj_bias", l.inProjBias),
                    (b + "attn.out_proj.weight", l.outProjWeight), (b + "attn.out_proj.bias", l.outProjBias),
                    (b + "ln_2.weight", l.ln2Weight), (b + "ln_2.bias", l.ln2Bias),
                    (b + "mlp.c_fc.weight", l.fcWeight), (b + "mlp.c_fc.bias", l.fcBias),
                    (b + "mlp.c_proj.weight", l.projWeight), (b + "mlp.c_proj.bias", l.projBias)]
        }
        out += [("ln_final.weight", w.finalLNWeight), ("ln_final.bias", w.finalLNBias), ("text_projection", w.projection)]
        return out
    }

    /// `{"model": {"model_clip.<name>": tensor, ...}}` as a torch zip checkpoint.
    private func writeCheckpoint(_ tensors: [(String, Tensor)], in folder: URL) throws -> String {
        var p = PickleBuilder()
        p.emptyDict()
        p.mark()
        p.string("model")
        p.orderedDict()
        p.mark()
        var storages: [(String, [UInt8])] = []
        for (k, (name, t)) in tensors.enumerated() {
            p.string("model_clip." + name)
            var strides = [Int](repeating: 1, count: t.shape.count)
            for d in stride(from: t.shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * t.shape[d + 1] }
            p.tensor(storage: "\(k)", type: "FloatStorage", numel: t.count, offset: 0, shape: t.shape, strides: strides)
            storages.append(("\(k)", leBytes(t.toFloatArray())))
        }
        p.setItems()
        p.setItems()
        p.stop()
        let path = folder.appendingPathComponent("textif_clip96.pth").path
        try ZipBuilder.checkpoint(pickle: p.bytes, storages: storages).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// OpenAI CLIP `encode_text` in float64: embeddings, pre-LN residual blocks with causal
    /// multi-head attention (`heads` heads) and QuickGELU MLPs, `ln_final`, the end-of-text
    /// row (the largest token id) times `text_projection`.
    static func referenceFeatures(_ named: [String: Tensor], tokens: [Int32], heads: Int) -> [Double] {
        func v(_ n: String) -> [Double] { named[n]!.toFloatArray().map(Double.init) }
        let w = width, ctx = tokens.count, d = w / heads
        let emb = v("token_embedding.weight"), pos = v("positional_embedding")
        var x = (0..<ctx).map { t in (0..<w).map { emb[Int(tokens[t]) * w + $0] + pos[t * w + $0] } }
        func layerNorm(_ row: [Double], _ g: [Double], _ b: [Double]) -> [Double] {
            let n = Double(row.count)
            let mean: Double = row.reduce(0, +) / n
            var variance = 0.0
            for value in row { variance += (value - mean) * (value - mean) }
            let inverse: Double = 1 / (variance / n + 1e-5).squareRoot()
            var out = [Double](repeating: 0, count: row.count)
            for i in row.indices { out[i] = (row[i] - mean) * inverse * g[i] + b[i] }
            return out
        }
        func linear(_ row: [Double], _ weight: [Double], _ bias: [Double]) -> [Double] {
            var out = bias
            for o in 0..<bias.count {
                var sum = 0.0
                for i in 0..<row.count { sum += row[i] * weight[o * row.count + i] }
                out[o] += sum
            }
            return out
        }
        for i in 0..<layers {
            let b = "transformer.resblocks.\(i)."
            let ln1 = (v(b + "ln_1.weight"), v(b + "ln_1.bias")), inProj = (v(b + "attn.in_proj_weight"), v(b + "attn.in_proj_bias"))
            let h = x.map { layerNorm($0, ln1.0, ln1.1) }
            let qkv = h.map { linear($0, inProj.0, inProj.1) }
            var attended = [[Double]](repeating: [Double](repeating: 0, count: w), count: ctx)
            for head in 0..<heads {
                for t in 0..<ctx {
                    let q = Array(qkv[t][(head * d)..<((head + 1) * d)])
                    var scores: [Double] = []
                    for s in 0...t {
                        var dot = 0.0
                        for c in 0..<d { dot += q[c] * qkv[s][w + head * d + c] }
                        scores.append(dot / Double(d).squareRoot())
                    }
                    let top = scores.max()!
                    let e = scores.map { Foundation.exp($0 - top) }
                    let total = e.reduce(0, +)
                    for s in 0...t {
                        for c in 0..<d { attended[t][head * d + c] += e[s] / total * qkv[s][2 * w + head * d + c] }
                    }
                }
            }
            let outProj = (v(b + "attn.out_proj.weight"), v(b + "attn.out_proj.bias")), ln2 = (v(b + "ln_2.weight"), v(b + "ln_2.bias"))
            let fc = (v(b + "mlp.c_fc.weight"), v(b + "mlp.c_fc.bias")), proj = (v(b + "mlp.c_proj.weight"), v(b + "mlp.c_proj.bias"))
            for t in 0..<ctx {
                let o = linear(attended[t], outProj.0, outProj.1)
                for c in 0..<w { x[t][c] += o[c] }
                let h2 = layerNorm(x[t], ln2.0, ln2.1)
                let f = linear(h2, fc.0, fc.1).map { (z: Double) -> Double in z / (1 + Foundation.exp(-1.702 * z)) }
                let m = linear(f, proj.0, proj.1)
                for c in 0..<w { x[t][c] += m[c] }
            }
        }
        let eot = tokens.indices.max { tokens[$0] < tokens[$1] }!
        let last = layerNorm(x[eot], v("ln_final.weight"), v("ln_final.bias"))
        let projection = v("text_projection")
        return (0..<embed).map { e in (0..<w).reduce(0.0) { $0 + last[$1] * projection[$1 * embed + e] } }
    }

    private func relativeError(_ got: [Float], _ expected: [Double]) -> Double {
        let num = zip(got, expected).reduce(0.0) { $0 + (Double($1.0) - $1.1) * (Double($1.0) - $1.1) }
        return (num / max(expected.reduce(0.0) { $0 + $1 * $1 }, 1e-30)).squareRoot()
    }

    func testWidth96ThreeHeadsUnderModelClipPrefix() throws {
        let folder = try makeTemporaryDirectory("clip96")
        let named = tensors()
        let path = try writeCheckpoint(named, in: folder)
        let byName = Dictionary(uniqueKeysWithValues: named)
        let tokenizer = try CLIPTokenizer(mergesPath: TestData.path("vocab/\(CLIPTokenizer.vocabularyFileName)"))
        let rows = try Self.prompts.map { try tokenizer.tokenize($0) }
        let expected = rows.map { Self.referenceFeatures(byName, tokens: $0, heads: Self.heads) }

        // Without the head count the width cannot be split the OpenAI way: a clear error.
        let archive = try CheckpointReader.read(path: path).archive
        XCTAssertThrowsError(try CLIPTextWeights(archive)) { XCTAssertTrue("\($0)".contains("--clip-heads"), "\($0)") }

        // With it, both backends reproduce encode_text; the wrong count does not.
        let weights = try CLIPTextWeights(archive, heads: Self.heads)
        XCTAssertEqual(weights.prefix, "model.model_clip.")
        var backends: [(String, Backend)] = [("cpu", CPUBackend())]
        if let vulkan = try? VulkanTestBackend.open() { backends.append(("vulkan", vulkan.backend)) }
        for (name, backend) in backends {
            let got = try CLIPTextEncoder(weights: weights, backend: backend).encode(tokens: rows)
            for i in rows.indices {
                let rel = relativeError(got[i], expected[i])
                print("width 96, 3 heads, \(name), prompt \(i): rel L2 \(rel)")
                XCTAssertLessThanOrEqual(rel, 1e-5, "\(name) prompt \(i)")
            }
        }
        let wrong = try CLIPTextEncoder(weights: CLIPTextWeights(archive, heads: 1), backend: CPUBackend()).encode(tokens: rows)
        XCTAssertGreaterThan(relativeError(wrong[0], expected[0]), 1e-3, "one head must give other features than three")

        // The CLI: encode-text and fuse take --clip-heads.
        let out = folder.appendingPathComponent("features.safetensors").path
        let env = ["FUSIONKIT_CACHE": folder.appendingPathComponent("cache").path]
        let r = try FusionCLI.run(["encode-text", "--backend", "cpu", "--clip", path, "--clip-heads", "3", "-o", out] + Self.prompts, environment: env)
        XCTAssertEqual(r.status, 0, r.err)
        let features = try SafetensorsReader.read(path: out).require("text_features").floatValues()
        XCTAssertLessThanOrEqual(relativeError(Array(features[0..<Self.embed]), expected[0]), 1e-5)
        let refused = try FusionCLI.run(["encode-text", "--backend", "cpu", "--clip", path, "-o", out, Self.prompts[0]], environment: env)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.err.contains("--clip-heads"), refused.err)
    }

    /// check-golden takes the head count from the case's config and checks every other
    /// setting it states against the weights.
    func testCheckGoldenReadsTheHeadCountFromTheCase() throws {
        let folder = try makeTemporaryDirectory("clip96-golden")
        let named = tensors()
        _ = try writeCheckpoint(named, in: folder)
        let byName = Dictionary(uniqueKeysWithValues: named)
        let tokenizer = try CLIPTokenizer(mergesPath: TestData.path("vocab/\(CLIPTokenizer.vocabularyFileName)"))
        let rows = try Self.prompts.map { try tokenizer.tokenize($0) }
        let expected = rows.flatMap { Self.referenceFeatures(byName, tokens: $0, heads: Self.heads).map(Float.init) }
        func writeCase(_ name: String, config: [String: Any]) throws -> String {
            let json: [String: Any] = ["kind": "clip_text", "weights": "textif_clip96.pth", "prompts": Self.prompts, "config": config]
            let path = folder.appendingPathComponent(name).path
            try SafetensorsWriter.write([(name: "tokens", tensor: Tensor(shape: [rows.count, 77], ints: rows.flatMap { $0 })),
                                         (name: "features", tensor: Tensor(shape: [rows.count, Self.embed], floats: expected))],
                                        metadata: ["json": String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)], to: path)
            return path
        }
        let config: [String: Any] = ["width": 96, "layers": 2, "heads": 3, "embed_dim": 64, "context_length": 77, "vocab_size": 49408]
        let good = try writeCase("good.safetensors", config: config)
        let oneHead = try writeCase("one_head.safetensors", config: config.merging(["heads": 1]) { $1 })
        let threeLayers = try writeCase("three_layers.safetensors", config: config.merging(["layers": 3]) { $1 })
        let unknown = try writeCase("unknown.safetensors", config: config.merging(["attn_mask": "none"]) { $1 })
        let vocab = try TestData.path("vocab/\(CLIPTokenizer.vocabularyFileName)")
        func check(_ path: String) throws -> (status: Int32, out: String, err: String) {
            try FusionCLI.run(["check-golden", "--backend", "cpu", path], environment: ["FUSIONKIT_CLIP_VOCAB": vocab])
        }
        let pass = try check(good)
        XCTAssertEqual(pass.status, 0, pass.out + pass.err)
        XCTAssertTrue(pass.out.contains("PASS"), pass.out)
        let fail = try check(oneHead)
        XCTAssertNotEqual(fail.status, 0, "a case stating 1 head runs with 1 head and differs: \(fail.out)")
        let layers = try check(threeLayers)
        XCTAssertNotEqual(layers.status, 0)
        XCTAssertTrue((layers.out + layers.err).contains("config \"layers\" is 3, but the weights give 2"), layers.out + layers.err)
        let extra = try check(unknown)
        XCTAssertNotEqual(extra.status, 0)
        XCTAssertTrue((extra.out + extra.err).contains("\"attn_mask\""), extra.out + extra.err)
    }
}
