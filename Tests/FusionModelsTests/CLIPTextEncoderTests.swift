import FusionCore
import FusionCPU
import FusionEngine
import FusionIO
import FusionModels
import FusionTestSupport
import XCTest

/// CLIP's text tower against `encode_text` of OpenAI `clip` (golden `clip_text` case), from
/// every weight layout users have, on both backends.
final class CLIPTextEncoderTests: XCTestCase {
    private func golden() throws -> (tokens: [[Int32]], features: [[Float]]) {
        let archive = try SafetensorsReader.read(path: TestData.path("golden/clip_text.safetensors"))
        let tokens = try archive.require("tokens"), features = try archive.require("features")
        let ids = try tokens.integerValues().map(Int32.init), values = try features.floatValues()
        let n = tokens.shape[0], t = tokens.shape[1], e = features.shape[1]
        return ((0..<n).map { Array(ids[($0 * t)..<(($0 + 1) * t)]) }, (0..<n).map { Array(values[($0 * e)..<(($0 + 1) * e)]) })
    }

    private func check(_ weights: CLIPTextWeights, _ backend: Backend, _ label: String) throws {
        let (tokens, expected) = try golden()
        let encoder = CLIPTextEncoder(weights: weights, backend: backend)
        let got = try encoder.encode(tokens: tokens)
        let (maxAbs, rel) = errorStatistics(got.flatMap { $0 }, expected.flatMap { $0 })
        print("clip_text from \(label): max |err| \(maxAbs), rel L2 \(rel)")
        XCTAssertLessThanOrEqual(rel, 1e-5, label)
        // A repeated prompt comes from the cache.
        _ = try encoder.encode(tokens: [tokens[0]])
        XCTAssertEqual(encoder.cacheHits, 1)
    }

    private func load(_ relative: String, prefix: String = "") throws -> CLIPTextWeights {
        let archive = try CheckpointReader.read(path: TestData.path(relative)).archive
        return try CLIPTextWeights(prefix.isEmpty ? archive : archive.withPrefix(prefix))
    }

    func testStateDictOnCPUAndVulkan() throws {
        let w = try load("golden/clip_text_tiny.pt")
        XCTAssertEqual([w.width, w.heads, w.layers.count, w.contextLength, w.embedDimension], [128, 2, 2, 77, 512])
        try check(w, CPUBackend(), "clip_text_tiny.pt on cpu")
        try check(w, try VulkanTestBackend.open().backend, "clip_text_tiny.pt on vulkan")
    }

    func testTorchScriptArchive() throws {
        try check(try load("golden/clip_tiny_jit.pt"), CPUBackend(), "clip_tiny_jit.pt")
    }

    func testTextIFCheckpointPrefix() throws {
        let w = try load("golden/textif_dim8.pth")
        XCTAssertEqual(w.prefix, "model.model_clip.")
        try check(w, CPUBackend(), "textif_dim8.pth model_clip.*")
    }

    /// Hugging Face names: the tiny weights renamed as `CLIPTextModelWithProjection` keys.
    func testHuggingFaceNames() throws {
        let archive = try CheckpointReader.read(path: TestData.path("golden/clip_text_tiny.pt")).archive
        var renamed: [(name: String, tensor: Tensor)] = []
        func put(_ name: String, _ t: Tensor) { renamed.append((name, t)) }
        func get(_ name: String) throws -> Tensor { try archive.require(name).toTensor() }
        put("text_model.embeddings.token_embedding.weight", try get("token_embedding.weight"))
        put("text_model.embeddings.position_embedding.weight", try get("positional_embedding"))
        for i in 0..<2 {
            let o = "transformer.resblocks.\(i).", h = "text_model.encoder.layers.\(i)."
            let inW = try get(o + "attn.in_proj_weight").toFloatArray(), inB = try get(o + "attn.in_proj_bias").toFloatArray()
            let w = 128
            for (k, name) in ["q_proj", "k_proj", "v_proj"].enumerated() {
                put(h + "self_attn.\(name).weight", Tensor(shape: [w, w], floats: Array(inW[(k * w * w)..<((k + 1) * w * w)])))
                put(h + "self_attn.\(name).bias", Tensor(shape: [w], floats: Array(inB[(k * w)..<((k + 1) * w)])))
            }
            put(h + "self_attn.out_proj.weight", try get(o + "attn.out_proj.weight"))
            put(h + "self_attn.out_proj.bias", try get(o + "attn.out_proj.bias"))
            for (a, b) in [("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"), ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")] {
                put(h + b + ".weight", try get(o + a + ".weight"))
                put(h + b + ".bias", try get(o + a + ".bias"))
            }
        }
        put("text_model.final_layer_norm.weight", try get("ln_final.weight"))
        put("text_model.final_layer_norm.bias", try get("ln_final.bias"))
        let p = try get("text_projection"), pv = p.toFloatArray()  // [128, 512] -> Linear weight [512, 128]
        var t = [Float](repeating: 0, count: pv.count)
        for i in 0..<128 { for j in 0..<512 { t[j * 128 + i] = pv[i * 512 + j] } }
        put("text_projection.weight", Tensor(shape: [512, 128], floats: t))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fk-hf-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("model.safetensors").path
        try SafetensorsWriter.write(renamed, to: path)
        let w = try CLIPTextWeights(SafetensorsReader.read(path: path))
        XCTAssertEqual(w.layout, .huggingFace)
        try check(w, CPUBackend(), "Hugging Face names")
    }

    func testNotACLIPCheckpointNamesTheFile() throws {
        let archive = try CheckpointReader.read(path: TestData.path("weights/textfusion_llvip.model")).archive
        XCTAssertThrowsError(try CLIPTextWeights(archive)) { XCTAssertTrue("\($0)".contains("textfusion_llvip.model") && "\($0)".contains("token_embedding"), "\($0)") }
    }

    func testBadTokenIdsAreErrors() throws {
        let encoder = CLIPTextEncoder(weights: CLIPTextWeights(randomWidth: 64, layers: 1, vocabularySize: 100), backend: CPUBackend())
        XCTAssertThrowsError(try encoder.encode(tokens: [[Int32](repeating: 0, count: 10)])) { XCTAssertTrue("\($0)".contains("context"), "\($0)") }
        var row = [Int32](repeating: 0, count: 77); row[3] = 500
        XCTAssertThrowsError(try encoder.encode(tokens: [row])) { XCTAssertTrue("\($0)".contains("500"), "\($0)") }
    }
}
