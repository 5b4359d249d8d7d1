import ArgumentParser
import Foundation
import FusionCore
import FusionCPU
import FusionEngine
import FusionIO
import FusionModels

/// `fusion fuse`: one infrared + visible pair in, one fused image out.
struct FuseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuse",
        abstract: "Fuse an infrared and a visible image under a text prompt, or a whole dataset.",
        discussion: """
        One pair: --ir FILE --vis FILE -o FILE. A dataset: --ir DIR --vis DIR -o DIR (images paired by file name without \
        extension) or --pairs MANIFEST -o DIR (CSV with a header, or JSON Lines: columns ir, vis and optional prompt, \
        text_file, features, output; relative paths from the manifest's folder). Prompts: --text / --task / --text-features \
        for every pair, --text-dir DIR (STEM.txt per pair) or the manifest's columns. A dataset run skips pairs whose output \
        exists (--overwrite redoes them), logs one line per pair to fusion-run.jsonl in the output folder, goes on past a \
        failing pair (--fail-fast stops) and exits 1 if any failed; --shard I/N takes every N-th pair from the I-th.
        """
    )

    @Option(help: "Model: \(ModelCatalogue.fusionNames.joined(separator: " or ")).")
    var model: String = TextFusionEntry.name

    /// The catalogue entry of `--model` (checked in `validate`).
    var entry: any CatalogueModel.Type { (try? ModelCatalogue.model(named: model)) ?? TextFusionEntry.self }

    @Option(help: "Checkpoint file. Default: the published weights (cache, FUSIONKIT_TEST_DATA, or downloaded and SHA-256 verified).")
    var weights: String?

    @Option(help: "Infrared image (PNG or JPEG; colour is converted to grey), or a folder of them.")
    var ir: String?

    @Option(help: "Visible image (PNG or JPEG), or a folder of them.")
    var vis: String?

    @Option(help: "Dataset manifest (CSV with a header or JSON Lines): columns ir, vis and optional prompt, text_file, features, output.")
    var pairs: String?

    @Option(name: .customLong("text-dir"), help: "Dataset: a folder with one STEM.txt prompt per pair.")
    var textDir: String?

    @Flag(help: "Dataset: fuse pairs whose output already exists again (default: skip them, so a rerun resumes).")
    var overwrite = false

    @Option(help: "Dataset: take shard I of N (I/N): every N-th pair in name order, starting at the I-th.")
    var shard: String?

    @Flag(name: .customLong("fail-fast"), help: "Dataset: stop at the first pair that fails.")
    var failFast = false

    @Flag(help: "Dataset: print a JSON summary (counts, pairs/s, time split) on stdout.")
    var json = false

    @Option(parsing: .unconditional, help: "Dataset: reader and writer threads each (decode and encode run beside the network).")
    var jobs: Int = 2

    @Option(parsing: .unconditional, help: "Dataset: run up to N pairs of one image size in one graph run (batch dimension N); outputs are those of batch 1.")
    var batch: Int = 1

    @Option(help: "Dataset: write a self-contained HTML page: per pair the infrared, visible and fused thumbnails, the prompt and the metrics of `fusion eval`, with the dataset's means.")
    var report: String?

    @Option(help: "With --report: comma-separated metrics of the evaluator profile (default: all of `fusion eval`'s).")
    var metrics: String?

    @Option(help: "Prompt text, encoded with the CLIP text tower given by --clip.")
    var text: String?

    @Option(help: "CLIP weights for --text (OpenAI .pt, a checkpoint with the tower under a prefix, or Hugging Face safetensors).")
    var clip: String?

    @Option(help: "The CLIP BPE vocabulary (bpe_simple_vocab_16e6.txt.gz). Default: searched in the standard places.")
    var vocab: String?

    @Option(name: .customLong("clip-heads"), parsing: .unconditional, help: "Attention heads of the CLIP text tower, for towers whose head count is not width / 64 (OpenAI's rule, the default).")
    var clipHeads: Int?

    @Option(name: .customLong("text-features"), help: "Pre-encoded text features: safetensors (tensor 'text_features' or the only one) or .npy; 512-d CLIP features, or for --model film BLIP-2 token features [1, L, 768] or [L, 768].")
    var textFeatures: String?

    @Option(name: .customLong("text-features-dir"), help: "Dataset: a folder with one STEM.npy of text features per pair (IF-FILM's per-image BLIP-2 features).")
    var textFeaturesDir: String?

    @Flag(help: "IF-FILM: colour output, the visible image's chroma (OpenCV YCrCb) around the fused luminance.")
    var color = false

    @Option(name: .shortAndLong, help: "Output image (.png or .jpg), written atomically; for a dataset, the output folder.")
    var output: String

    @Option(help: "Backend: auto (a Vulkan GPU if any, else the CPU), cpu or vulkan.")
    var backend: BackendChoice = .auto

    @Option(parsing: .unconditional, help: "Vulkan device index (see `fusion devices`).")
    var device: Int?

    @OptionGroup var passOptions: GraphPassOptions

    @OptionGroup var precisionOptions: PrecisionOptions

    @OptionGroup var rfcOptions: RFCFuseOptions

    @Flag(help: "Grey mode: visible read as grey, grey output.")
    var grey = false

    @Option(name: .customLong("repeat"), parsing: .unconditional, help: "Run the network this many times and report the median (benchmarking).")
    var repeatCount: Int = 1

    @Option(help: "Text-IF: a published prompt by task (repeatable): \(TextIFImages.taskPrompts.map(\.task).joined(separator: ", ")). Several prompts run the encoders once.")
    var task: [String] = []

    @Option(help: "Text-IF and IF-FILM output: clamp (to [0,1]; the default) or original (min-max stretch as the original script; IF-FILM truncates to uint8 as its test.py).")
    var post: TextIFImages.Post?

    @Option(help: "Text-IF sizing: pad (reflect-pad to a multiple of 8, crop back; same size out; the default) or original (the script's PIL bicubic resize to the visible size floored to a multiple of 16).")
    var fit: TextIFImages.Fit?

    @Option(name: .customLong("random-weights"), parsing: .unconditional, help: "Text-IF: the released configuration with random weights from this seed (benchmarking without a checkpoint).")
    var randomWeights: UInt64?

    @Flag(name: .customLong("resize-ir"), help: "Resize the infrared image to the visible image's size (bilinear) when they differ.")
    var resizeIR = false

    @Flag(help: "Cut a --text prompt longer than CLIP's 77-token context (the last kept token is end-of-text) instead of failing.")
    var truncate = false

    @Option(name: .customLong("max-pixels"), parsing: .unconditional, help: "Largest image accepted, in pixels (width x height; default \(Image.defaultPixelLimit)). Images are checked from their header before any pixel is decoded.")
    var maxPixels: Int?

    /// Checks shared by both models: options that do not apply, values out of range, and
    /// an output that would overwrite an input.
    func validateCommon() throws {
        if repeatCount < 1 { throw ValidationError("--repeat must be at least 1 (got \(repeatCount))") }
        if let device, device < 0 { throw ValidationError("--device must be a device index (0, 1, ...; see `fusion devices`), got \(device)") }
        if device != nil, backend == .cpu { throw ValidationError("--device selects a Vulkan device; it does not apply to --backend cpu") }
        try precisionOptions.validate(cpuOnly: backend == .cpu)
        if let clipHeads, clipHeads < 1 { throw ValidationError("--clip-heads must be positive (got \(clipHeads))") }
        if let maxPixels, maxPixels < 1 { throw ValidationError("--max-pixels must be positive (got \(maxPixels))") }
        if textFeatures != nil {
            if clip != nil, model == TextFusionEntry.name { throw ValidationError("--clip applies to --text; with --text-features the prompt is already encoded") }
            if vocab != nil { throw ValidationError("--vocab applies to --text; with --text-features the prompt is already encoded") }
            if truncate { throw ValidationError("--truncate applies to --text; with --text-features the prompt is already encoded") }
            if clipHeads != nil { throw ValidationError("--clip-heads applies to prompts given as text; with --text-features the prompt is already encoded") }
        }
        if text == nil, task.isEmpty, textDir == nil, pairs == nil, truncate { throw ValidationError("--truncate applies to --text") }
        if isDatasetRun {
            try validateDataset()
        } else {
            if ir == nil || vis == nil { throw ValidationError("give the pair with --ir and --vis (files, or folders for a dataset), or a manifest with --pairs") }
            if ImageFormat(pathExtension: output) == nil {
                // An output with no extension at all is a folder, meant for a dataset whose
                // input folder was mistyped: say that first.
                for (option, path) in [("--ir", ir!), ("--vis", vis!)]
                where URL(fileURLWithPath: output).pathExtension.isEmpty && !FileManager.default.fileExists(atPath: path) {
                    throw ValidationError("\(option) \(path): no such file or folder")
                }
                throw ValidationError("--output \(output): unknown image type; use .png or .jpg")
            }
            if textFeaturesDir != nil { throw ValidationError("--text-features-dir applies to a dataset (--ir and --vis folders)") }
            if textDir != nil || overwrite || shard != nil || failFast || json || report != nil || batch != 1 {
                throw ValidationError("--text-dir, --overwrite, --shard, --fail-fast, --json, --report and --batch apply to a dataset (--ir and --vis folders, or --pairs)")
            }
        }
    }

    /// The output path(s) may not be any input, and must be writable: checked before any work.
    func checkOutputs(_ outputs: [String]) throws {
        let inputs: [(String, String?)] = [("--ir", ir), ("--vis", vis), ("--weights", weights), ("--text-features", textFeatures),
                                           ("--clip", clip), ("--vocab", vocab), ("--clipseg", rfcOptions.clipseg)]
        for path in outputs { try OutputChecks.check(path, distinctFrom: inputs) }
    }

    /// The model-specific options given, by the name the catalogue knows them.
    var givenModelOptions: [FuseOption] {
        var given: [FuseOption] = []
        if grey { given.append(.grey) }
        if resizeIR { given.append(.resizeIR) }
        if fit != nil { given.append(.fit) }
        if post != nil { given.append(.post) }
        if !task.isEmpty { given.append(.task) }
        if randomWeights != nil { given.append(.randomWeights) }
        if color { given.append(.color) }
        if rfcOptions.clipseg != nil { given.append(.clipseg) }
        if rfcOptions.target != nil { given.append(.target) }
        if rfcOptions.process != nil { given.append(.process) }
        if !rfcOptions.also.isEmpty { given.append(.also) }
        return given
    }

    func validate() throws {
        let entry: any CatalogueModel.Type
        do { entry = try ModelCatalogue.model(named: model) } catch { throw ValidationError("\(error)") }
        guard entry.fusesImages else {
            throw ValidationError("--model \(model): \(entry.summary); it fuses no images. Models that fuse: \(ModelCatalogue.fusionNames.joined(separator: ", "))")
        }
        for option in givenModelOptions where !entry.fuseOptions.contains(option) {
            throw ValidationError("\(option.rawValue) applies to --model \(ModelCatalogue.models(taking: option).joined(separator: ", ")), not \(model)")
        }
        try validateCommon()
        if model == TextIFEntry.name {
            try validateTextIF()
            return
        }
        if model == RFCEntry.name {
            try validateRFC()
            return
        }
        if model == FILMEntry.name, text != nil || textDir != nil {
            throw ValidationError("--model film takes BLIP-2 text features, not prompt text: give --text-features FILE (.npy [1, L, 768] or [L, 768], or safetensors), or --text-features-dir DIR for a dataset")
        }
        if text == nil, textFeatures == nil, textDir == nil, textFeaturesDir == nil, pairs == nil { throw ValidationError("give the prompt with --text or its features with --text-features") }
        if text != nil, textFeatures != nil { throw ValidationError("give either --text or --text-features, not both") }
        if text != nil, clip == nil {
            throw ValidationError("--text needs a CLIP text encoder: give its weights with --clip FILE (e.g. OpenAI's ViT-B-32.pt), or pass --text-features FILE")
        }
    }

    func run() throws {
        do {
            if isDatasetRun { return try fuseDataset() }
            if model == TextIFEntry.name { return try fuseTextIF() }
            if model == RFCEntry.name { return try fuseRFC() }
            try fuse()
        } catch let error as FileFormatError {
            throw CLIError(error.description)
        } catch let error as FusionError {
            throw CLIError(error.description)
        } catch let error as CatalogueError {
            throw CLIError(error.description)
        } catch let error as InstructionSplitError {
            throw CLIError(error.description)
        }
    }

    /// The catalogue's settings from this command's options.
    var modelSettings: ModelSettings {
        var settings = ModelSettings(weights: weights, randomSeed: randomWeights)
        settings.grey = grey
        settings.resizeIR = resizeIR
        settings.fit = fit ?? .pad
        settings.post = post ?? .clamp
        settings.color = color
        settings.clip = clip
        settings.vocabulary = vocab
        settings.clipHeads = clipHeads
        settings.clipseg = rfcOptions.clipseg
        settings.target = rfcOptions.target
        settings.process = rfcOptions.process
        settings.log = { printError($0) }
        return settings
    }

    /// Reads an input image within the --max-pixels limit.
    /// `--ir` and `--vis` read for a model that needs a registered pair of one size.
    func readRegisteredPair(for model: String) throws -> (infrared: Image, visible: Image) {
        let ir = self.ir!, vis = self.vis!
        let infrared = try readImage(ir), visible = try readImage(vis)
        if infrared.width != visible.width || infrared.height != visible.height {
            throw CLIError("\(ir) is \(infrared.width)x\(infrared.height) but \(vis) is \(visible.width)x\(visible.height); \(model) needs a registered pair of one size")
        }
        return (infrared, visible)
    }

    func readImage(_ path: String) throws -> Image {
        try Image.read(path: path, pixelLimit: maxPixels ?? Image.defaultPixelLimit)
    }

    /// One pair through the catalogue's `PairFusionModel`, as a dataset run does it, so both
    /// write the same bytes; TextFusion also reports its preparation and memory.
    private func fuse() throws {
        try checkOutputs([output])
        let selected = try openBackend(backend, device: device, options: precisionOptions.options)
        passOptions.apply(to: selected.backend)
        let loaded = try entry.load(modelSettings)
        let features: [Float]
        if let text {
            features = try loaded.promptEncoder(modelSettings, on: selected).encode([text], truncate: truncate)[0]
        } else {
            features = try loaded.readTextFeatures(path: textFeatures!)
        }
        let ir = self.ir!, vis = self.vis!
        let infrared = try readImage(ir)
        let visible = try readImage(vis)
        if !resizeIR, infrared.width != visible.width || infrared.height != visible.height {
            let remedy = entry.fuseOptions.contains(.resizeIR) ? "pass --resize-ir to resize the infrared image" : "\(model) needs a registered pair of one size"
            throw CLIError("\(ir) is \(infrared.width)x\(infrared.height) but \(vis) is \(visible.width)x\(visible.height); \(remedy)")
        }
        guard let pairModel = try loaded.pairModel(on: selected, settings: modelSettings) else { throw CLIError("--model \(model) fuses no images") }
        let inputs = try pairModel.prepare(infrared: infrared, visible: visible)
        let textFusion = (pairModel as? TextFusionPairModel)?.model
        let prepareStart = Date()
        let executable = try textFusion?.executable(height: visible.height, width: visible.width)
        let prepareSeconds = Date().timeIntervalSince(prepareStart)
        var times: [Double] = []
        var fused: Tensor?
        for _ in 0..<repeatCount {
            let start = Date()
            fused = try pairModel.run(inputs, features: [features])[0]
            times.append(Date().timeIntervalSince(start))
        }
        let image = try pairModel.image(fused!, for: inputs)
        try image.write(to: output)
        let flops = try textFusion?.flops(height: visible.height, width: visible.width)
            ?? GraphCost.flops(loaded.workload(height: inputs.outputHeight, width: inputs.outputWidth, batch: 1).graph)
        let median = times.sorted()[times.count / 2]
        print("model: \(model) (\(loaded.weightsLabel))")
        print("backend: \(selected.name) — \(selected.device)")
        print("size: \(visible.width)x\(visible.height)\(image.isGray ? " grey" : " colour")")
        if executable != nil { print(String(format: "prepare: %.3f s", prepareSeconds)) }
        print(String(format: "time: %.3f s%@", median, times.count > 1 ? String(format: " (median of %d, min %.3f, max %.3f)", times.count, times.min()!, times.max()!) : ""))
        print(String(format: "work: %.2f GFLOP, %.2f GFLOP/s", flops / 1e9, flops / 1e9 / median)
              + (executable.map { String(format: "; intermediate memory %.1f MiB", Double($0.peakIntermediateBytes) / 1048576) } ?? ""))
        print("output: \(output)")
    }
}
