import Foundation
import FusionCore

/// Text-IF on one backend, split where the text enters: the two encoders run once per
/// image pair, the decoder once per prompt, so re-prompting a pair skips the encoders.
///
/// With a `memoryBudget` (a memory-limited device), each graph is built with band tiling
/// (`TextIFGraph`'s `bandBytes`) when its unbanded plan would not fit the budget, and the
/// two executables stay prepared together only when their plans fit it together: else
/// the one not needed is released before the other is prepared (the features are host
/// tensors, so re-prompting still runs the encoders once).
public final class TextIFModel {
    public let weights: TextIFWeights
    public let backend: Backend
    /// Bytes one executable may hold (planned intermediates, inputs and constants; the
    /// backend's scratch comes on top, so leave room for it); nil: unlimited, both halves
    /// stay prepared.
    public var memoryBudget: Int?
    /// The band size of each prepared half (nil: unbanded), by size; for reports and tests.
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

    /// The encoder features of one pair at one size.
    public struct Features {
        public let height: Int, width: Int
        let tensors: [String: Tensor]
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
        guard visible.shape.count == 4, visible.shape[0] == 1, visible.shape[1] == 3 else {
            throw FusionError.invalidArgument(op: "Text-IF", detail: "visible input has shape \(visible.shape), expected [1, 3, H, W]")
        }
        guard infrared.shape == visible.shape else {
            throw FusionError.invalidArgument(op: "Text-IF", detail: "infrared input has shape \(infrared.shape), visible \(visible.shape): they must match")
        }
        let key = [visible.shape[2], visible.shape[3]]
        let e: Executable
        if let cached = encoders[key] { e = cached } else {
            encoders = [:]
            let (graph, bandBytes, bytes) = try fitting("encoders", height: key[0], width: key[1]) {
                try TextIFGraph.buildEncoders(weights, height: key[0], width: key[1], bandBytes: $0)
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
        return Features(height: key[0], width: key[1], tensors: out)
    }

    /// The fused image [1,3,H,W] (raw network output) for one text feature.
    public func decode(_ features: Features, text: [Float]) throws -> Tensor {
        let dimension = weights.guidance[0].w1.shape[1]
        guard text.count == dimension, text.allSatisfy({ $0.isFinite }) else {
            throw FusionError.invalidArgument(op: "Text-IF", detail: "text features have \(text.count) values (finite: \(text.allSatisfy { $0.isFinite })), expected \(dimension) finite values")
        }
        let key = [features.height, features.width]
        let d: Executable
        if let cached = decoders[key] { d = cached } else {
            decoders = [:]
            let (graph, bandBytes, bytes) = try fitting("decoder", height: key[0], width: key[1]) {
                try TextIFGraph.buildDecoder(weights, height: key[0], width: key[1], bandBytes: $0)
            }
            if let budget = memoryBudget, !encoders.isEmpty, bytes + encoderBytes > budget { encoders = [:] }
            d = try backend.prepare(graph)
            decoders = [key: d]
            decoderBytes = bytes
            decoderBandBytes[key] = bandBytes
            decoderFLOPs = [key: GraphCost.flops(graph)]
        }
        var inputs = features.tensors
        inputs["text"] = Tensor(shape: [1, dimension], floats: text)
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
}
