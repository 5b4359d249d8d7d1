import Foundation
import FusionCore

/// Text-IF on one backend, split where the text enters: the two encoders run once per
/// image pair, the decoder once per prompt, so re-prompting a pair skips the encoders.
///
/// With a `memoryBudget` (a memory-limited device), each graph is built with band tiling
/// (`TextIFGraph`'s `bandBytes`) when its unbanded plan would not fit the budget, and the
/// two executables stay prepared together only when their plans fit it together: else
/// the one not needed is released before the other is prepared (the features are host
/// tensors, so re-prompting still runs the encoders once). On a backend whose executables
/// share their intermediates (`Backend.sharesIntermediateMemory`: the CPU and Vulkan),
/// releasing one frees its weights, inputs and outputs; the intermediates stay in the
/// backend's arena, which holds the larger need of the two halves rather than their sum.
///
/// Batching (`fuse(pairs:texts:)`, `encode(pairs:)`, `decode(_:texts:)`): N pairs of one
/// size run as one batch-N encoder run and one batch-N decoder run with one prompt per
/// pair (`TextIFGraph`'s `batch`); each output equals the pair's batch-1 result. A batch-N
/// executable holds about N times the batch-1 intermediates and inputs (the weights
/// once); under a `memoryBudget` it is band-tiled like a batch-1 one (bands sized per
/// sample), and when even the smallest bands of the batch do not fit, the pairs run one
/// at a time. Executables are cached per (size, batch); as before, one encoder and one
/// decoder stay prepared.
public final class TextIFModel {
    public let weights: TextIFWeights
    public let backend: Backend
    /// Bytes one executable may hold (planned intermediates, inputs and constants; the
    /// backend's scratch comes on top, so leave room for it); nil: unlimited, both halves
    /// stay prepared.
    public var memoryBudget: Int?
    /// The band size of each prepared half (nil: unbanded), by size ([H, W] for batch 1,
    /// [H, W, N] for a batch of N); for reports and tests.
    public private(set) var encoderBandBytes: [[Int]: Int?] = [:], decoderBandBytes: [[Int]: Int?] = [:]
    private var encoders: [[Int]: Executable] = [:]
    private var decoders: [[Int]: Executable] = [:]
    /// Planned bytes of the prepared encoder / decoder executable (with a budget).
    private var encoderBytes = 0, decoderBytes = 0
    /// Executables prepared now (1 when a budget keeps only one alive).
    public var preparedExecutables: Int { encoders.count + decoders.count }
    /// Runs and seconds of each half since creation (re-prompting shows here).
    public private(set) var encoderRuns = 0, decoderRuns = 0
    public private(set) var encoderSeconds = 0.0, decoderSeconds = 0.0
    private var encoderFLOPs: [[Int]: Double] = [:], decoderFLOPs: [[Int]: Double] = [:]

    /// The encoder features of one pair (or of a batch of `batch` pairs) at one size.
    public struct Features {
        public let height: Int, width: Int
        /// Pairs encoded together (the leading dimension of every feature tensor).
        public let batch: Int
        let tensors: [String: Tensor]
    }

    /// The cache key of a size and batch.
    static func key(_ height: Int, _ width: Int, _ batch: Int) -> [Int] {
        batch == 1 ? [height, width] : [height, width, batch]
    }

    /// The budget for one executable on a device whose heap has `heapBytes`: the heap less
    /// an eighth of it (at least 256 MiB) for per-op scratch and everything else the process
    /// holds there.
    public static func memoryBudget(heapBytes: Int) -> Int {
        heapBytes - max(heapBytes / 8, 256 << 20)
    }

    public init(weights: TextIFWeights, backend: Backend, memoryBudget: Int? = nil) {
        self.weights = weights
        self.backend = backend
        self.memoryBudget = memoryBudget
    }

    /// The band sizes tried, in order, when a budget is set (nil: unbanded).
    public var bandCandidates: [Int?] = [nil, TextIFGraph.defaultBandBytes, 16 << 20, 8 << 20, 4 << 20]

    /// The first graph of `make(bandBytes)` whose plan fits the budget (unbanded when there
    /// is no budget), its band size and planned bytes (0 without a budget).
    func fitting(_ what: String, height: Int, width: Int, _ make: (Int?) throws -> Graph) throws -> (Graph, Int?, Int) {
        guard let budget = memoryBudget else { return (try make(nil), nil, 0) }
        var smallest = Int.max
        for bandBytes in bandCandidates {
            let graph = try make(bandBytes)
            let bytes = try TextIFGraph.plannedBytes(graph).total
            if bytes <= budget { return (graph, bandBytes, bytes) }
            smallest = min(smallest, bytes)
        }
        throw FusionError.limitExceeded(op: "Text-IF", detail: "the \(what) at \(width)x\(height) need at least \(smallest >> 20) MiB (band-tiled), more than the memory budget of \(budget >> 20) MiB")
    }

    /// Runs both encoders on `visible` and `infrared` ([1,3,H,W], H and W multiples of 8).
    public func encode(visible: Tensor, infrared: Tensor) throws -> Features {
        try checkPair(visible: visible, infrared: infrared, "")
        return try encode(stackedVisible: visible, infrared: infrared)
    }

    /// Runs both encoders once on N pairs of one size (each [1,3,H,W]): features of batch N.
    public func encode(pairs: [(visible: Tensor, infrared: Tensor)]) throws -> Features {
        guard let first = pairs.first else {
            throw FusionError.invalidArgument(op: "Text-IF", detail: "a batch needs at least one pair")
        }
        for (i, p) in pairs.enumerated() {
            try checkPair(visible: p.visible, infrared: p.infrared, " \(i)")
            guard p.visible.shape == first.visible.shape else {
                throw FusionError.invalidArgument(op: "Text-IF", detail: "pair \(i) is \(p.visible.shape[3])x\(p.visible.shape[2]), pair 0 \(first.visible.shape[3])x\(first.visible.shape[2]): a batch holds pairs of one size")
            }
        }
        if pairs.count == 1 { return try encode(stackedVisible: first.visible, infrared: first.infrared) }
        return try encode(stackedVisible: Tensor.stacked(pairs.map { $0.visible }), infrared: Tensor.stacked(pairs.map { $0.infrared }))
    }

    private func checkPair(visible: Tensor, infrared: Tensor, _ what: String) throws {
        guard visible.shape.count == 4, visible.shape[0] == 1, visible.shape[1] == 3 else {
            throw FusionError.invalidArgument(op: "Text-IF", detail: "visible input\(what) has shape \(visible.shape), expected [1, 3, H, W]")
        }
        guard infrared.shape == visible.shape else {
            throw FusionError.invalidArgument(op: "Text-IF", detail: "infrared input\(what) has shape \(infrared.shape), visible \(visible.shape): they must match")
        }
    }

    /// The encoders on [N,3,H,W] inputs (checked by the caller).
    private func encode(stackedVisible visible: Tensor, infrared: Tensor) throws -> Features {
        let batch = visible.shape[0], height = visible.shape[2], width = visible.shape[3]
        let key = Self.key(height, width, batch)
        let e: Executable
        if let cached = encoders[key] { e = cached } else {
            encoders = [:]
            let (graph, bandBytes, bytes) = try fitting(batch == 1 ? "encoders" : "encoders of \(batch) pairs", height: height, width: width) {
                try TextIFGraph.buildEncoders(weights, height: height, width: width, bandBytes: $0, batch: batch)
            }
            if let budget = memoryBudget, !decoders.isEmpty, bytes + decoderBytes > budget { decoders = [:] }
            e = try backend.prepare(graph)
            encoders = [key: e]
            encoderBytes = bytes
            encoderBandBytes[key] = bandBytes
            encoderFLOPs = [key: GraphCost.flops(graph)]
        }
        let start = Date()
        let out = try e.run(["vis": visible, "ir": infrared])
        encoderSeconds += Date().timeIntervalSince(start)
        encoderRuns += 1
        return Features(height: height, width: width, batch: batch, tensors: out)
    }

    /// The fused image [1,3,H,W] (raw network output) for one text feature (features of
    /// one pair; a batch takes `decode(_:texts:)`).
    public func decode(_ features: Features, text: [Float]) throws -> Tensor {
        guard features.batch == 1 else {
            throw FusionError.invalidArgument(op: "Text-IF", detail: "features of \(features.batch) pairs take one text per pair: use decode(_:texts:)")
        }
        return try decodeBatch(features, texts: [text])
    }

    /// The fused images [1,3,H,W] of a batch of `features.batch` pairs, pair i under
    /// `texts[i]`, in one decoder run.
    public func decode(_ features: Features, texts: [[Float]]) throws -> [Tensor] {
        guard texts.count == features.batch else {
            throw FusionError.invalidArgument(op: "Text-IF", detail: "\(texts.count) text features for a batch of \(features.batch) pairs: give one per pair")
        }
        let out = try decodeBatch(features, texts: texts)
        return features.batch == 1 ? [out] : out.samples()
    }

    /// One decoder run: [N,3,H,W].
    private func decodeBatch(_ features: Features, texts: [[Float]]) throws -> Tensor {
        let dimension = weights.guidance[0].w1.shape[1]
        for text in texts {
            guard text.count == dimension, text.allSatisfy({ $0.isFinite }) else {
                throw FusionError.invalidArgument(op: "Text-IF", detail: "text features have \(text.count) values (finite: \(text.allSatisfy { $0.isFinite })), expected \(dimension) finite values")
            }
        }
        let batch = features.batch
        let key = Self.key(features.height, features.width, batch)
        let d: Executable
        if let cached = decoders[key] { d = cached } else {
            decoders = [:]
            let (graph, bandBytes, bytes) = try fitting(batch == 1 ? "decoder" : "decoder of \(batch) pairs", height: features.height, width: features.width) {
                try TextIFGraph.buildDecoder(weights, height: features.height, width: features.width, bandBytes: $0, batch: batch)
            }
            if let budget = memoryBudget, !encoders.isEmpty, bytes + encoderBytes > budget { encoders = [:] }
            d = try backend.prepare(graph)
            decoders = [key: d]
            decoderBytes = bytes
            decoderBandBytes[key] = bandBytes
            decoderFLOPs = [key: GraphCost.flops(graph)]
        }
        var inputs = features.tensors
        inputs["text"] = Tensor(shape: [batch, dimension], floats: texts.flatMap { $0 })
        let start = Date()
        guard let out = try d.run(inputs)["fused"] else { throw FusionError.backend("Text-IF: the decoder produced no output") }
        decoderSeconds += Date().timeIntervalSince(start)
        decoderRuns += 1
        return out
    }

    /// Operations of the encoders and of one decoder pass at a size that has run (`GraphCost`).
    public func flops(height: Int, width: Int) -> (encoders: Double, decoder: Double) {
        (encoderFLOPs[[height, width]] ?? 0, decoderFLOPs[[height, width]] ?? 0)
    }

    /// One pair under several prompts: the encoders run once.
    public func fuse(visible: Tensor, infrared: Tensor, texts: [[Float]]) throws -> [Tensor] {
        let features = try encode(visible: visible, infrared: infrared)
        return try texts.map { try decode(features, text: $0) }
    }

    /// N pairs of one size (each [1,3,H,W]), pair i under its own prompt `texts[i]`: one
    /// batch-N encoder run and one batch-N decoder run; returns the N fused images
    /// [1,3,H,W] in order, each equal to fusing that pair alone. When a memory budget
    /// leaves no room for the batch even band-tiled, the pairs run one at a time.
    public func fuse(pairs: [(visible: Tensor, infrared: Tensor)], texts: [[Float]]) throws -> [Tensor] {
        guard pairs.count == texts.count else {
            throw FusionError.invalidArgument(op: "Text-IF", detail: "\(pairs.count) pairs and \(texts.count) text features: give one prompt per pair")
        }
        if pairs.isEmpty { return [] }
        do {
            return try decode(encode(pairs: pairs), texts: texts)
        } catch FusionError.limitExceeded where pairs.count > 1 {
            return try zip(pairs, texts).map { p, text in
                try decode(encode(visible: p.visible, infrared: p.infrared), text: text)
            }
        }
    }
}
