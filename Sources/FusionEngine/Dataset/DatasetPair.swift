import Foundation

/// Where one pair's prompt comes from.
public enum PromptSource: Equatable, Sendable, CustomStringConvertible {
    /// The text itself (encoded with CLIP's text tower).
    case text(String)
    /// A text file holding the prompt (`--text-dir DIR/STEM.txt`, a manifest's `text_file`).
    case textFile(String)
    /// Pre-encoded features (`.npy` or safetensors; a manifest's `features`).
    case features(String)

    public var description: String {
        switch self {
        case let .text(t): return t
        case let .textFile(p): return "text file \(p)"
        case let .features(p): return "features \(p)"
        }
    }
}

/// One infrared / visible pair of a dataset run.
public struct DatasetPair: Equatable, Sendable {
    /// The name shared by both images (the file name without extension), or a manifest row's.
    public let stem: String
    public let ir: String
    public let vis: String
    /// This pair's own prompt (a text file, a manifest column); nil: the run's prompt.
    public let prompt: PromptSource?
    /// The output path a manifest asks for; nil: `<output folder>/<stem>.png`.
    public let output: String?

    public init(stem: String, ir: String, vis: String, prompt: PromptSource? = nil, output: String? = nil) {
        self.stem = stem
        self.ir = ir
        self.vis = vis
        self.prompt = prompt
        self.output = output
    }
}

/// The pairs of a dataset run and what could not be paired.
public struct DatasetPlan: Sendable {
    /// Sorted by stem.
    public var pairs: [DatasetPair]
    /// One line per image without a partner (or a manifest row that was skipped).
    public var unmatched: [String]

    public init(pairs: [DatasetPair], unmatched: [String]) {
        self.pairs = pairs.sorted { $0.stem < $1.stem }
        self.unmatched = unmatched
    }

    /// The deterministic `index`-th of `count` shards (1-based): pairs whose position in
    /// stem order is `index - 1` modulo `count`. Every pair is in exactly one shard, so
    /// `--shard I/N` over N processes (a Slurm array, a Kubernetes Indexed Job) covers the
    /// dataset once with no coordinator.
    public func shard(_ index: Int, of count: Int) -> DatasetPlan {
        precondition(count >= 1 && (1...count).contains(index))
        var copy = self
        copy.pairs = pairs.enumerated().filter { $0.offset % count == index - 1 }.map(\.element)
        return copy
    }
}

/// A dataset's inputs that cannot be used, named.
public struct DatasetError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
