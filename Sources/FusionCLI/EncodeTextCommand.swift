import ArgumentParser
import Foundation
import FusionCore
import FusionEngine
import FusionIO

/// `fusion encode-text`: prompts to CLIP text features (safetensors).
struct EncodeTextCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode-text",
        abstract: "Encode prompts with a CLIP text tower into text features (safetensors).",
        discussion: "The output holds `text_features` [N, embed] and `tokens` [N, 77], with the prompts in the metadata. Features are cached per weights and prompt under $FUSIONKIT_CACHE/text-features."
    )

    @Option(help: "CLIP weights: OpenAI .pt (TorchScript or state dict), a checkpoint holding the tower under a prefix, or Hugging Face safetensors.")
    var clip: String

    @Option(help: "The BPE vocabulary (bpe_simple_vocab_16e6.txt.gz). Default: searched in the standard places.")
    var vocab: String?

    @Option(name: .customLong("clip-heads"), parsing: .unconditional, help: "Attention heads of the tower, for towers whose head count is not width / 64 (OpenAI's rule, the default).")
    var clipHeads: Int?

    @Option(name: .shortAndLong, help: "Output file (.safetensors), written atomically.")
    var output: String

    @Option(help: "Backend: auto, cpu or vulkan.")
    var backend: BackendChoice = .auto

    @Option(parsing: .unconditional, help: "Vulkan device index (see `fusion devices`).")
    var device: Int?

    @Flag(help: "Cut prompts longer than the 77-token context (the last kept token is end-of-text) instead of failing.")
    var truncate = false

    @Flag(name: .customLong("no-cache"), help: "Neither read nor write the feature cache.")
    var noCache = false

    @Argument(help: "Prompts.")
    var prompts: [String]

    func validate() throws {
        if prompts.isEmpty { throw ValidationError("give at least one prompt") }
        if let clipHeads, clipHeads < 1 { throw ValidationError("--clip-heads must be positive (got \(clipHeads))") }
        if let device, device < 0 { throw ValidationError("--device must be a device index (0, 1, ...; see `fusion devices`), got \(device)") }
        if device != nil, backend == .cpu { throw ValidationError("--device selects a Vulkan device; it does not apply to --backend cpu") }
        if URL(fileURLWithPath: output).pathExtension.lowercased() != "safetensors" {
            throw ValidationError("--output \(output): encode-text writes safetensors; name the file *.safetensors")
        }
    }

    func run() throws {
        do {
            try OutputChecks.check(output, distinctFrom: [("--clip", clip), ("--vocab", vocab)])
            let selected = try openBackend(backend, device: device)
            let encoder = try PromptEncoder(clipPath: clip, vocabularyPath: vocab, heads: clipHeads, backend: selected, useCache: !noCache)
            let start = Date()
            let rows = try prompts.map { try encoder.tokens($0, truncate: truncate) }
            let features = try encoder.encode(prompts, truncate: truncate)
            let seconds = Date().timeIntervalSince(start)
            let e = features[0].count
            let metadata = ["prompts": String(decoding: try JSONSerialization.data(withJSONObject: prompts), as: UTF8.self), "clip": clip]
            try SafetensorsWriter.write([(name: "text_features", tensor: Tensor(shape: [prompts.count, e], floats: features.flatMap { $0 })),
                                         (name: "tokens", tensor: Tensor(shape: [rows.count, rows[0].count], ints: rows.flatMap { $0 }))],
                                        metadata: metadata, to: output)
            print("backend: \(selected.name) — \(selected.device)")
            print("prompts: \(prompts.count), features: [\(prompts.count), \(e)], \(encoder.diskHits) from the cache")
            print(String(format: "time: %.3f s", seconds))
            print("output: \(output)")
        } catch let error as FileFormatError {
            throw CLIError(error.description)
        } catch let error as FusionError {
            throw CLIError(error.description)
        }
    }
}
