import Foundation
import FusionCore
import FusionIO
import FusionModels

/// RFC (Robust Fusion Controller, issue 19) in the catalogue, so far its front half: the
/// CLIP ViT-B/16 vision tower CLIPSeg runs (`bench` / `profile` workload) and the golden
/// kinds `rfc_clip_vision` and `rfc_text_split`. It fuses no images yet; the `rfc` kind
/// (the whole network) comes with the fusion network.
public final class RFCEntry: CatalogueModel {
    public static let name = "rfc"
    public static let summary = "RFC (in progress): CLIPSeg's CLIP ViT-B/16 vision tower; instruction splitting"
    public static let fuseOptions: Set<FuseOption> = []
    public static let fusesImages = false
    public static let goldenKinds = ["rfc_clip_vision", "rfc_text_split"]

    public let vision: CLIPVisionWeights
    public let weightsPath: String?
    public let weightsLabel: String

    init(vision: CLIPVisionWeights, path: String?, label: String) {
        self.vision = vision
        weightsPath = path
        weightsLabel = label
    }

    /// `--weights` is an OpenAI CLIP state dict with a vision tower (ViT-B-16.pt's layout);
    /// without it, ViT-B/16's shape with random weights.
    public static func load(_ settings: ModelSettings) throws -> RFCEntry {
        if let path = settings.weights {
            return RFCEntry(vision: try CLIPVisionWeights(CheckpointReader.read(path: path).archive), path: path, label: path)
        }
        let seed = settings.randomSeed ?? 1
        return RFCEntry(vision: CLIPVisionWeights(randomWidth: 768, layers: 12, seed: seed), path: nil,
                        label: "random ViT-B/16 vision tower (seed \(seed))")
    }

    /// The vision tower on `batch` (IR, visible) pairs at CLIPSeg's 352x352, up to block 9
    /// (what RFC uses); `height` and `width` do not apply (CLIPSeg resizes every pair).
    public func workload(height: Int, width: Int, batch: Int) throws -> ModelWorkload {
        let side = CLIPSegGraph.inputSize
        let graph = try CLIPVisionGraph.build(vision, batch: 2 * batch, height: side, width: side, taps: [3, 6, 9])
        return ModelWorkload(name: "rfc clip-vision (width \(vision.width), blocks 0-9)", size: "\(2 * batch)x3x\(side)x\(side)", graph: graph)
    }

    public func promptEncoder(_ settings: ModelSettings, on backend: SelectedBackend) throws -> PromptEncoder {
        throw CatalogueError("--model rfc does not run yet: only its golden cases rfc_clip_vision and rfc_text_split are checked")
    }

    public func pairModel(on backend: SelectedBackend, settings: ModelSettings) throws -> PairFusionModel? { nil }

    public static func checkGolden(_ golden: GoldenCase, with runner: GoldenRunner) throws -> GoldenResult {
        golden.kind == "rfc_text_split" ? try RFCGoldenChecks.textSplit(golden, runner) : try RFCGoldenChecks.clipVision(golden, runner)
    }
}
