import ArgumentParser
import Foundation
import FusionCore
import FusionEngine
import FusionIO
import FusionModels
import FusionVulkan

/// `fusion fuse --model rfc`: one pair under one instruction (`--text`, split by the
/// template rule, or `--target` / `--process`), and more with `--also`, which share the
/// pair's CLIPSeg work (`RFCModel`).
extension FuseCommand {
    func validateRFC() throws {
        let missing = [("--weights", weights, "RFC's model.pth"), ("--clipseg", rfcOptions.clipseg, "CLIPSeg's rd64-uni-refined.pth"),
                       ("--clip", clip, "OpenAI's ViT-B-16.pt")].filter { $0.1 == nil }
        if !missing.isEmpty {
            throw ValidationError("--model rfc needs " + missing.map { "\($0.0) FILE (\($0.2))" }.joined(separator: ", "))
        }
        if textFeatures != nil || textFeaturesDir != nil {
            throw ValidationError("--model rfc takes instructions as text (--text, or --target and --process), not text features")
        }
        if rfcOptions.target != nil, rfcOptions.process == nil {
            throw ValidationError("--target needs --process (what to do, the target replaced by 'photo', e.g. --process \"enhance the light of the photo\")")
        }
        let explicit = rfcOptions.process != nil
        if explicit, text != nil { throw ValidationError("give either --text (split by the template rule) or --target / --process, not both") }
        if explicit, isDatasetRun { throw ValidationError("--target / --process apply to one pair; a dataset takes per-pair instructions (--text, --text-dir or a manifest's prompt column)") }
        if !rfcOptions.also.isEmpty, isDatasetRun { throw ValidationError("--also applies to one pair; a dataset takes one instruction per pair (a manifest may list a pair once per instruction)") }
        if !isDatasetRun, !explicit, text == nil { throw ValidationError("give the instruction with --text \"...\" (e.g. \"enhance the light of the car\"), or --target and --process") }
    }

    func fuseRFC() throws {
        let count = 1 + rfcOptions.also.count
        let outputs = (1...count).map { outputPath(String($0), count: count) }
        try checkOutputs(outputs)
        let (infrared, visible) = try readRegisteredPair(for: "RFC")
        let selected = try openBackend(backend, device: device, options: precisionOptions.options)
        passOptions.apply(to: selected.backend)
        let loadStart = Date()
        let loaded = try RFCEntry.load(modelSettings)
        let model = try loaded.model(on: selected, settings: modelSettings)
        let instructions: [RFCInstruction]
        do {
            let first = try RFCEntry.explicitInstruction(modelSettings) ?? InstructionSplitter.split(text!)
            instructions = try [first] + rfcOptions.also.map { try InstructionSplitter.split($0) }
        } catch let error as InstructionSplitError {
            throw CLIError(error.description)
        }
        let conditions = try instructions.map { try model.condition($0).condition }
        let loadSeconds = Date().timeIntervalSince(loadStart)
        let pair = RFCPairModel(model: model)
        let inputs = try pair.prepare(infrared: infrared, visible: visible)
        var times: [Double] = []
        var fused: [Tensor] = []
        for _ in 0..<repeatCount {
            let start = Date()
            fused = try model.fuse(ir: inputs.tensors["ir"]!, vis: inputs.tensors["vis"]!, conditions: conditions).map(\.output)
            times.append(Date().timeIntervalSince(start))
        }
        for (image, path) in zip(fused, outputs) { try pair.image(image, for: inputs).write(to: path) }
        let median = times.sorted()[times.count / 2]
        print("model: rfc (\(loaded.weightsLabel))")
        print("backend: \(selected.name) — \(selected.device)")
        for instruction in instructions {
            print("instruction: target \(instruction.target == .none ? "none" : "'\(instruction.target)'"), process '\(instruction.process)'")
        }
        print("size: \(visible.width)x\(visible.height) colour")
        print(String(format: "load: %.3f s (weights, instruction embeddings)", loadSeconds))
        print(String(format: "time: %.3f s%@, first run including preparation %.3f s", median,
                     times.count > 1 ? String(format: " (median of %d)", times.count) : "", times[0]))
        print("stages: vision tower \(model.visionRuns) run(s), CLIPSeg decoder \(model.decoderRuns), fusion network \(model.fusionRuns)")
        if let vulkan = selected.backend as? VulkanBackend {
            let stats = vulkan.context.stats
            print("device memory: peak \(stats.peakBytesAllocated >> 20) MiB in live buffers, \(stats.deviceMemoryBytes >> 20) MiB held by the pools")
        }
        for path in outputs { print("output: \(path)") }
    }
}
