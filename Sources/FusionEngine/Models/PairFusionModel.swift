import Foundation
import FusionCore
import FusionCPU
import FusionIO

/// A pair's network inputs and what turning the outputs back into images needs.
public struct PairInputs: @unchecked Sendable {
    /// The network's input tensors, by the model's own names.
    public let tensors: [String: Tensor]
    /// The visible image as read (its chroma colours the output of colour models).
    public let visible: Image
    /// Size the output images have.
    public let outputWidth: Int, outputHeight: Int

    public init(tensors: [String: Tensor], visible: Image, outputWidth: Int, outputHeight: Int) {
        self.tensors = tensors
        self.visible = visible
        self.outputWidth = outputWidth
        self.outputHeight = outputHeight
    }
}

/// What `fusion fuse` (one pair or a dataset) needs of a model, in the order a pipeline
/// calls it: images -> inputs on reader threads, the network on the backend's thread,
/// outputs -> images on writer threads. `prepare` and `image` must be thread-safe;
/// `run` is called from one thread at a time.
public protocol PairFusionModel: AnyObject {
    /// The catalogue name (`--model`).
    var name: String { get }
    /// Width of the text features a prompt must have (512 for CLIP ViT-B/32).
    var textFeatureWidth: Int { get }
    /// Decoded images -> network inputs (size checks, colour conversion, resizing).
    func prepare(infrared: Image, visible: Image) throws -> PairInputs
    /// The network for one pair under one or more prompts: one output per prompt.
    func run(_ inputs: PairInputs, features: [[Float]]) throws -> [Tensor]
    /// One output -> the image written to disk.
    func image(_ output: Tensor, for inputs: PairInputs) throws -> Image
    /// Several pairs of one size, one prompt each, in one graph run (batch dimension N);
    /// outputs equal `run` pair by pair.
    func runBatch(_ inputs: [PairInputs], features: [[Float]]) throws -> [Tensor]
    /// `run` (one pair; `features[0]` are its prompts) or `runBatch` (several pairs of one
    /// size; `features[i]` is pair i's one prompt) in two phases: queue the work, then
    /// collect it with `PendingPairRun.finish()`, which returns what those return, per
    /// pair. A model on an asynchronous backend returns before the work ran, so the caller
    /// can queue the next group before collecting this one; the default runs synchronously.
    /// At most two groups may be pending.
    func submit(_ inputs: [PairInputs], features: [[[Float]]]) throws -> PendingPairRun
}

/// Network work queued by `PairFusionModel.submit`.
public final class PendingPairRun {
    private let collect: () throws -> [[Tensor]]

    /// `collect` waits for the work and returns its outputs per pair.
    public init(_ collect: @escaping () throws -> [[Tensor]]) {
        self.collect = collect
    }

    /// Waits for the work: per pair (in the order submitted), one output per prompt.
    public func finish() throws -> [[Tensor]] { try collect() }
}

extension PairFusionModel {
    /// Pair by pair, for models without a batched graph.
    public func runBatch(_ inputs: [PairInputs], features: [[Float]]) throws -> [Tensor] {
        try zip(inputs, features).map { try run($0, features: [$1])[0] }
    }

    /// Runs the work now (`run` or `runBatch`); `finish()` returns its outputs.
    public func submit(_ inputs: [PairInputs], features: [[[Float]]]) throws -> PendingPairRun {
        let outputs = try runSynchronously(inputs, features: features)
        return PendingPairRun { outputs }
    }

    /// Throws unless the two images have one size: models that fuse pixel by pixel and
    /// resize neither image need a registered pair. `title` is the model's published name.
    public func requireRegisteredPair(infrared: Image, visible: Image, title: String) throws {
        guard infrared.width == visible.width, infrared.height == visible.height else {
            throw FusionError.invalidArgument(op: name, detail: "the infrared image is \(infrared.width)x\(infrared.height) but the visible image is \(visible.width)x\(visible.height); \(title) needs a registered pair of one size")
        }
    }

    /// What `submit` queues, run now: `run` for one pair, `runBatch` for several.
    public func runSynchronously(_ inputs: [PairInputs], features: [[[Float]]]) throws -> [[Tensor]] {
        guard inputs.count == features.count else {
            throw FusionError.invalidArgument(op: name, detail: "\(inputs.count) pairs and \(features.count) prompt lists: give one list per pair")
        }
        if inputs.count == 1 { return [try run(inputs[0], features: features[0])] }
        guard features.allSatisfy({ $0.count == 1 }) else {
            throw FusionError.invalidArgument(op: name, detail: "pairs run together take one prompt each")
        }
        return try runBatch(inputs, features: features.map { $0[0] }).map { [$0] }
    }
}

/// Bilinear resize of every channel (PyTorch `interpolate`, align_corners=False) on the CPU:
/// `--resize-ir` for pairs whose infrared image has another size.
public func resizedImage(_ image: Image, width: Int, height: Int) throws -> Image {
    let planes = (0..<image.channels).map { image.floatPlane($0, scaledTo: 1) }
    let g = Graph()
    let x = g.input("x", shape: [1, image.channels, image.height, image.width])
    g.output("y", try g.resize(x, mode: .bilinear, height: height, width: width))
    let out = try CPUBackend().run(g, inputs: ["x": Tensor(shape: [1, image.channels, image.height, image.width], floats: planes.flatMap { $0 })])["y"]!
    let values = out.toFloatArray()
    let n = width * height
    return Image(planes: (0..<image.channels).map { Array(values[($0 * n)..<(($0 + 1) * n)]) }, width: width, height: height,
                 bitDepth: image.bitDepth, scaledFrom: 1)
}
