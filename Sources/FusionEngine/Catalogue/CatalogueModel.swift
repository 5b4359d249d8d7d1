import Foundation
import FusionCore
import FusionModels

/// Options of `fusion fuse` that only some models take. A model lists the ones it takes
/// (`CatalogueModel.fuseOptions`); the command refuses the others by these names.
public enum FuseOption: String, CaseIterable, Sendable {
    case grey = "--grey"
    case resizeIR = "--resize-ir"
    case fit = "--fit"
    case post = "--post"
    case task = "--task"
    case randomWeights = "--random-weights"
    case color = "--color"
    case clipseg = "--clipseg"
    case target = "--target"
    case process = "--process"
    case also = "--also"
}

/// What a command says about a model's weights and how its outputs are made.
public struct ModelSettings {
    /// A checkpoint file; nil takes the model's default (published weights, or random
    /// weights from `randomSeed` for a model that has them).
    public var weights: String?
    /// Random weights of the released configuration from this seed (benchmarking).
    public var randomSeed: UInt64?
    /// TextFusion: grey in and out; resize the infrared image to the visible one.
    public var grey = false, resizeIR = false
    /// Text-IF: how images are sized for the network, and how outputs become images.
    public var fit: TextIFImages.Fit = .pad, post: TextIFImages.Post = .clamp
    /// IF-FILM: colour output with the visible image's chroma (`--color`).
    public var color = false
    /// `post` as IF-FILM's output modes (the same names: clamp, original).
    public var filmPost: FILMImages.Post { FILMImages.Post(rawValue: post.rawValue) ?? .clamp }
    /// Prompts: a CLIP checkpoint (nil: the model's own tower, when it has one), the BPE
    /// vocabulary (nil: the standard places), and the tower's head count (nil: width / 64,
    /// as OpenAI's towers have it).
    public var clip: String?, vocabulary: String?, clipHeads: Int?
    /// RFC: CLIPSeg's decoder checkpoint (`rd64-uni-refined.pth`), and an explicit
    /// instruction split (`--target`, `--process`) instead of the splitter's.
    public var clipseg: String?, target: String?, process: String?
    /// Notes for the user (a download, a cache hit), e.g. to stderr.
    public var log: (String) -> Void = { _ in }

    public init(weights: String? = nil, randomSeed: UInt64? = nil) {
        self.weights = weights
        self.randomSeed = randomSeed
    }

    /// Where the weights of a model without published defaults come from.
    public enum WeightsSource: Equatable { case file(String), random(seed: UInt64) }

    /// `--weights` or `--random-weights`, exactly one; `checkpoint` says what file the error
    /// for neither asks for ("--model M needs --weights FILE (checkpoint) or --random-weights SEED").
    public func weightsSource(model: String, checkpoint: String) throws -> WeightsSource {
        switch (weights, randomSeed) {
        case let (path?, nil): return .file(path)
        case let (nil, seed?): return .random(seed: seed)
        case (_?, _?): throw CatalogueError("give either --weights or --random-weights, not both")
        case (nil, nil): throw CatalogueError("--model \(model) needs --weights FILE (\(checkpoint)) or --random-weights SEED")
        }
    }
}

/// A whole network ready to benchmark or profile: its graph at one size and batch, and the
/// inputs that must have particular values (the others are filled at random).
public struct ModelWorkload {
    /// e.g. "textfusion" or "textif (dim 48, banded)".
    public let name: String
    /// e.g. "512x640" or "1x77 tokens".
    public let size: String
    public let graph: Graph
    public let fixedInputs: [String: Tensor]

    public init(name: String, size: String, graph: Graph, fixedInputs: [String: Tensor] = [:]) {
        self.name = name
        self.size = size
        self.graph = graph
        self.fixedInputs = fixedInputs
    }
}

/// One model of the catalogue: everything `fuse`, `bench`, `profile` and `check-golden`
/// need of it, so adding a model is one folder and one line in `ModelCatalogue.models`.
/// A value holds loaded, checked weights.
public protocol CatalogueModel: AnyObject {
    /// The `--model` name.
    static var name: String { get }
    /// One line for help texts.
    static var summary: String { get }
    /// The `fuse` options this model takes beyond the common ones.
    static var fuseOptions: Set<FuseOption> { get }
    /// Whether `fuse` runs it (it turns image pairs into images; the CLIP text tower does not).
    static var fusesImages: Bool { get }
    /// The golden-case kinds (`kind` in a case's JSON) this model checks.
    static var goldenKinds: [String] { get }

    /// Reads and checks the weights `settings` name (or the model's default).
    static func load(_ settings: ModelSettings) throws -> Self
    /// Runs one golden case of a kind in `goldenKinds` (the case names its own weights).
    static func checkGolden(_ golden: GoldenCase, with runner: GoldenRunner) throws -> GoldenResult

    /// Where the weights came from: a path, or "random released configuration (seed 7)".
    var weightsLabel: String { get }
    /// The weights file (for the run log's SHA-256); nil for random weights.
    var weightsPath: String? { get }
    /// The graph for `batch` inputs of `height` x `width` (what `bench` and `profile` run).
    func workload(height: Int, width: Int, batch: Int) throws -> ModelWorkload
    /// Text -> the features this model's prompts take (`settings.clip`, else the model's
    /// own tower when it has one).
    func promptEncoder(_ settings: ModelSettings, on backend: SelectedBackend) throws -> PromptEncoder
    /// The model as `fuse` runs it on `backend`; nil for a model that fuses no images.
    func pairModel(on backend: SelectedBackend, settings: ModelSettings) throws -> PairFusionModel?
    /// A prompt's features from a file (`--text-features`, a manifest's `features`, a
    /// `--text-features-dir` file); by default one 512-d CLIP feature (`TextFeatures.read`).
    func readTextFeatures(path: String) throws -> [Float]
}

extension CatalogueModel {
    public func readTextFeatures(path: String) throws -> [Float] { try TextFeatures.read(path: path) }
}
