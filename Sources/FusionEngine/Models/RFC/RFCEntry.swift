import Foundation
import FusionCore
import FusionIO
import FusionModels

/// RFC (Robust Fusion Controller, issue 19) in the catalogue: `fuse --model rfc` from the
/// three released checkpoints (`--weights model.pth`, `--clipseg rd64-uni-refined.pth`,
/// `--clip ViT-B-16.pt`), the golden kinds `rfc`, `rfc_clip_vision` and `rfc_text_split`,
/// and the whole network (CLIPSeg + fusion) as the `bench` / `profile` / `parity` workload.
public final class RFCEntry: CatalogueModel {
    public static let name = "rfc"
    public static let summary = "RFC: instruction-controlled fusion (CLIP ViT-B/16 + CLIPSeg rd64-uni-refined + the RFC network), RGB out"
    public static let fuseOptions: Set<FuseOption> = [.clipseg, .target, .process, .also]
    public static let fusesImages = true
    public static let goldenKinds = ["rfc", "rfc_clip_vision", "rfc_text_split"]

    public let vision: CLIPVisionWeights
    /// nil without a CLIP checkpoint (random weights for `bench`: no prompts to encode).
    public let text: CLIPTextWeights?
    public let decoder: CLIPSegDecoderWeights
    public let fusion: RFCFusionWeights
    public let processModule: RFCProcessModule
    public let weightsPath: String?
    public let weightsLabel: String
    private var models: [ObjectIdentifier: RFCModel] = [:]

    init(vision: CLIPVisionWeights, text: CLIPTextWeights?, decoder: CLIPSegDecoderWeights, fusion: RFCFusionWeights,
         processModule: RFCProcessModule, path: String?, label: String) {
        self.vision = vision
        self.text = text
        self.decoder = decoder
        self.fusion = fusion
        self.processModule = processModule
        weightsPath = path
        weightsLabel = label
    }

    /// `settings.weights` (RFC's `model.pth`), `settings.clipseg` and `settings.clip`; each
    /// one not given is random in the released shapes (ViT-B/16 vision tower, rd64-uni-refined,
    /// model.pth), which only `bench` / `profile` / `parity` use (`fuse` requires all three).
    public static func load(_ settings: ModelSettings) throws -> RFCEntry {
        let seed = settings.randomSeed ?? 7
        var parts: [String] = []
        let clip = try settings.clip.map { try CheckpointReader.read(path: $0).archive }
        let vision = try clip.map { try CLIPVisionWeights($0) } ?? CLIPVisionWeights(randomWidth: 768, layers: 12, seed: seed)
        let text = try clip.map { try CLIPTextWeights($0, heads: settings.clipHeads) }
        parts.append(settings.clip.map { "CLIP \($0)" } ?? "random ViT-B/16 vision tower")
        let clipseg = try settings.clipseg.map { try CheckpointReader.read(path: $0).archive } ?? RFCRandomWeights.clipseg(visionWidth: vision.width, seed: seed)
        let decoder = try CLIPSegDecoderWeights(clipseg)
        parts.append(settings.clipseg.map { "CLIPSeg \($0)" } ?? "random rd64-uni-refined")
        let rfc = try settings.weights.map { try CheckpointReader.read(path: $0).archive } ?? RFCRandomWeights.rfc(seed: seed)
        let fusion = try RFCFusionWeights(rfc), processModule = try RFCProcessModule(rfc)
        parts.append(settings.weights.map { "RFC \($0)" } ?? "random model.pth")
        guard decoder.visionWidth == vision.width else {
            throw CatalogueError("\(clipseg.path): the CLIPSeg decoder reads a vision tower of width \(decoder.visionWidth), but \(settings.clip ?? "the vision tower") has width \(vision.width) (RFC uses CLIP ViT-B/16 with rd64-uni-refined)")
        }
        guard decoder.reduceDimension == RFCFusionWeights.featureChannels else {
            throw CatalogueError("\(clipseg.path): CLIPSeg reduce_dim \(decoder.reduceDimension); RFC's network reads \(RFCFusionWeights.featureChannels)-channel features (rd64)")
        }
        if let text {
            guard text.embedDimension == processModule.embedDimension, text.embedDimension == decoder.conditionDimension else {
                throw CatalogueError("\(settings.clip!): CLIP embeds to \(text.embedDimension), but RFC's PModule reads \(processModule.embedDimension) (\(rfc.path)) and CLIPSeg's FiLM \(decoder.conditionDimension) (\(clipseg.path))")
            }
        }
        let random = settings.clip == nil || settings.clipseg == nil || settings.weights == nil
        return RFCEntry(vision: vision, text: text, decoder: decoder, fusion: fusion, processModule: processModule, path: settings.weights,
                        label: parts.joined(separator: ", ") + (random ? " (seed \(seed))" : ""))
    }

    /// The whole network at H x W on the text path (CLIPSeg's vision tower, decoder and
    /// trans_conv head on the pair at 352x352, the mask branch and the fusion network); one
    /// pair per graph.
    public func workload(height: Int, width: Int, batch: Int) throws -> ModelWorkload {
        guard batch == 1 else { throw CatalogueError("--model rfc runs one pair per graph (got --batch \(batch))") }
        let graph = try RFCStageGraphs.whole(vision, decoder, fusion, height: height, width: width)
        return ModelWorkload(name: "rfc (CLIPSeg width \(vision.width) + fusion)", size: "\(height)x\(width)", graph: graph)
    }

    /// The model on `backend` (one per backend; it keeps its prepared graphs).
    public func model(on backend: SelectedBackend, settings: ModelSettings) throws -> RFCModel {
        let key = ObjectIdentifier(backend.backend)
        if let m = models[key] { return m }
        guard let text else {
            throw CatalogueError("--model rfc needs --clip FILE: OpenAI's ViT-B-16.pt (both towers: the text tower encodes the instruction, the vision tower runs in CLIPSeg)")
        }
        let tokenizer = try CLIPTokenizer(searching: settings.vocabulary, options: .current)
        let m = RFCModel(front: RFCFront(text: text, vision: vision, decoder: decoder, processModule: processModule, tokenizer: tokenizer,
                                         backend: backend.backend), fusion: fusion)
        models[key] = m
        return m
    }

    /// The instruction split `settings` gives explicitly (`--target`, `--process`), if any.
    public static func explicitInstruction(_ settings: ModelSettings) -> RFCInstruction? {
        guard let process = settings.process else { return nil }
        let target = settings.target ?? "none"
        return RFCInstruction(target: target.lowercased() == "none" || target == "0" ? .none : RFCTarget(target), process: process)
    }

    public func promptEncoder(_ settings: ModelSettings, on backend: SelectedBackend) throws -> PromptEncoder {
        guard let clip = settings.clip else { throw CatalogueError("--model rfc needs --clip FILE (OpenAI's ViT-B-16.pt) to encode its instructions") }
        return try RFCPromptEncoder(model: model(on: backend, settings: settings), explicit: Self.explicitInstruction(settings),
                                    clipPath: clip, vocabularyPath: settings.vocabulary, backend: backend)
    }

    public func pairModel(on backend: SelectedBackend, settings: ModelSettings) throws -> PairFusionModel? {
        RFCPairModel(model: try model(on: backend, settings: settings))
    }

    public static func checkGolden(_ golden: GoldenCase, with runner: GoldenRunner) throws -> GoldenResult {
        switch golden.kind {
        case "rfc_text_split": return try RFCGoldenChecks.textSplit(golden, runner)
        case "rfc_clip_vision": return try RFCGoldenChecks.clipVision(golden, runner)
        default: return try RFCGoldenChecks.fusion(golden, runner)
        }
    }
}
