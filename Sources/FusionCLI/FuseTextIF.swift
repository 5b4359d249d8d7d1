import ArgumentParser
import Foundation
import FusionCore
import FusionEngine
import FusionIO
import FusionModels
import FusionVulkan

extension TextIFImages.Post: ExpressibleByArgument {}
extension TextIFImages.Fit: ExpressibleByArgument {}

/// `fusion fuse --model textif`: one pair, one or more prompts (the encoders run once).
extension FuseCommand {
    func validateTextIF() throws {
        if weights == nil, randomWeights == nil { throw ValidationError("--model textif needs --weights FILE (a released checkpoint) or --random-weights SEED") }
        if weights != nil, randomWeights != nil { throw ValidationError("give either --weights or --random-weights, not both") }
        if let repeated = Dictionary(grouping: task, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw ValidationError("--task \(repeated) is given more than once")
        }
        if textFeatures != nil, clip != nil { throw ValidationError("--clip applies to prompts (--text / --task); with --text-features the prompt is already encoded") }
        let known = Set(TextIFImages.taskPrompts.map(\.task))
        if let bad = task.first(where: { !known.contains($0) }) {
            throw ValidationError("--task \(bad): unknown task; known: \(TextIFImages.taskPrompts.map(\.task).joined(separator: ", "))")
        }
        if text == nil, textFeatures == nil, task.isEmpty, textDir == nil, pairs == nil { throw ValidationError("give a prompt: --task NAME, --text \"...\" or --text-features FILE") }
        if textFeatures != nil, text != nil || !task.isEmpty { throw ValidationError("give either --text-features or prompts (--text / --task), not both") }
        if randomWeights != nil, clip == nil, textFeatures == nil, !(task.isEmpty && text == nil) {
            throw ValidationError("with --random-weights, prompts need a CLIP tower: --clip FILE (or pass --text-features)")
        }
    }

    /// Output path of prompt `index` of `count`: `out.png`, or `out_<label>.png` when several.
    func outputPath(_ label: String, count: Int) -> String {
        guard count > 1 else { return output }
        let url = URL(fileURLWithPath: output)
        let ext = url.pathExtension
        return url.deletingPathExtension().path + "_" + label + "." + ext
    }

    func fuseTextIF() throws {
        let promptCount = textFeatures != nil ? 1 : task.count + (text == nil ? 0 : 1)
        let labels = textFeatures != nil ? ["features"] : task + (text == nil ? [] : ["text"])
        try checkOutputs(labels.map { outputPath($0, count: promptCount) })
        let (infrared, visible) = try readRegisteredPair(for: "Text-IF")
        let selected = try openBackend(backend, device: device, options: precisionOptions.options)
        passOptions.apply(to: selected.backend)
        let loadStart = Date()
        let loaded = try TextIFEntry.load(modelSettings)
        let textIF = loaded.weights, weightsLabel = loaded.weightsLabel
        // Prompts: published tasks, then --text; features from --clip or the checkpoint's own CLIP.
        var prompts: [(label: String, text: String)] = task.map { t in (t, TextIFImages.taskPrompts.first { $0.task == t }!.prompt) }
        if let text { prompts.append(("text", text)) }
        let features: [(label: String, values: [Float])]
        if let textFeatures {
            features = [("features", try TextFeatures.read(path: textFeatures))]
        } else {
            let encoder = try loaded.promptEncoder(modelSettings, on: selected)
            let values = try encoder.encode(prompts.map(\.text), truncate: truncate)
            features = zip(prompts, values).map { ($0.label, $1) }
        }
        let loadSeconds = Date().timeIntervalSince(loadStart)

        let (visTensor, irTensor, outWidth, outHeight) = try TextIFImages.inputs(infrared: infrared, visible: visible, fit: fit ?? .pad)
        let model = loaded.model(on: selected.backend)
        let h8 = visTensor.shape[2], w8 = visTensor.shape[3]
        var times: [Double] = []
        var outputs: [Tensor] = []
        for _ in 0..<repeatCount {
            let start = Date()
            outputs = try model.fuse(visible: visTensor, infrared: irTensor, texts: features.map(\.values))
            times.append(Date().timeIntervalSince(start))
        }
        for (k, out) in outputs.enumerated() {
            try TextIFImages.image(fused: out, width: outWidth, height: outHeight, post: post ?? .clamp)
                .write(to: outputPath(features[k].label, count: outputs.count))
        }
        let (encoderFLOP, decoderFLOP) = model.flops(height: h8, width: w8)
        let median = times.sorted()[times.count / 2]
        print("model: textif (\(weightsLabel); dim \(textIF.dim), blocks \(textIF.blocksPerLevel), heads \(textIF.headsPerLevel), \(textIF.parameterCount) parameters)")
        print("backend: \(selected.name) — \(selected.device)")
        print("size: \(visible.width)x\(visible.height) (network \(w8)x\(h8), --fit \((fit ?? .pad).rawValue), output \(outWidth)x\(outHeight)), prompts: \(features.count)")
        print(String(format: "load: %.3f s (weights and text features)", loadSeconds))
        print(String(format: "time: %.3f s%@ for the pair and %d prompt(s), first run including preparation %.3f s", median,
                     times.count > 1 ? String(format: " (median of %d)", times.count) : "", features.count, times[0]))
        print(String(format: "encoders: %d run(s), %.3f s in all; decoder: %d run(s), %.3f s in all", model.encoderRuns, model.encoderSeconds,
                     model.decoderRuns, model.decoderSeconds))
        let total = encoderFLOP + decoderFLOP * Double(features.count)
        print(String(format: "work: %.1f GFLOP per run (encoders %.1f, decoder %.1f per prompt), %.2f GFLOP/s", total / 1e9,
                     encoderFLOP / 1e9, decoderFLOP / 1e9, total / 1e9 / median))
        if let budget = model.memoryBudget {
            func bands(_ b: Int?) -> String { b.map { "banded (\($0 >> 20) MiB bands)" } ?? "unbanded" }
            print("memory: budget \(budget >> 20) MiB per executable; encoders \(bands(model.encoderBandBytes[[h8, w8]] ?? nil)), decoder \(bands(model.decoderBandBytes[[h8, w8]] ?? nil)); \(model.preparedExecutables == 1 ? "one executable alive at a time" : "both kept prepared")")
        }
        if let vulkan = selected.backend as? VulkanBackend {
            let stats = vulkan.context.stats
            let heap = vulkan.context.info.deviceLocalHeapBytes
            print("device memory: peak \(stats.peakBytesAllocated >> 20) MiB in live buffers, \(stats.deviceMemoryBytes >> 20) MiB held by the pools; device-local heap \(heap >> 20) MiB")
        }
        for k in outputs.indices { print("output: \(outputPath(features[k].label, count: outputs.count))") }
    }
}
