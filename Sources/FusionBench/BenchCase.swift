import FusionCore

/// One benchmark: a graph with the inputs to run it on. Ops are one-node graphs (plus the
/// weights as constants); models are the whole network.
public struct BenchCase {
    public enum Kind: String, Codable, Sendable { case op, model }

    public let name: String
    public let kind: Kind
    /// What the numbers are for, e.g. "1x48x512x640" or "512x640".
    public let size: String
    public let graph: Graph
    public let inputs: [String: Tensor]

    public init(name: String, kind: Kind, size: String, graph: Graph, inputs: [String: Tensor]? = nil) {
        self.name = name
        self.kind = kind
        self.size = size
        self.graph = graph
        self.inputs = inputs ?? BenchCase.randomInputs(for: graph)
    }

    /// FLOP of one run (`GraphCost`).
    public var flops: Double { GraphCost.flops(graph) }
    /// Bytes one run must move at least (`GraphTraffic`).
    public var bytes: Double { GraphTraffic.bytes(graph) }

    /// Random inputs of the graph's shapes: floats in [0, 1], integers (token ids) in
    /// [0, 1000).
    public static func randomInputs(for graph: Graph, seed: UInt64 = 1) -> [String: Tensor] {
        var inputs: [String: Tensor] = [:]
        for (i, (name, value)) in graph.inputs.enumerated() {
            if value.dtype == .i32 {
                inputs[name] = Tensor(shape: value.shape, ints: (0..<value.count).map { Int32($0 % 1000) })
            } else {
                inputs[name] = Tensor.random(shape: value.shape, seed: seed &+ UInt64(i), in: 0...1)
            }
        }
        return inputs
    }

    /// The largest benchmark size: 16384 pixels a side and 50 megapixels (the image reader's
    /// default limit), so an absurd `--size` is refused before anything is allocated.
    public static let maxSide = 16384
    public static let maxPixels = 50_000_000

    /// "512x640" -> (512, 640); nil when the text is not HxW with both sides positive and
    /// within `maxSide` and `maxPixels`.
    public static func parseSize(_ text: String) -> (height: Int, width: Int)? {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let h = Int(parts[0]), let w = Int(parts[1]), h > 0, w > 0,
              h <= maxSide, w <= maxSide, h * w <= maxPixels else { return nil }
        return (h, w)
    }

    /// The message for a `--size` that `parseSize` refuses.
    public static func sizeError(_ text: String) -> String {
        "--size \(text): expected HxW with 1 <= H, W <= \(maxSide) and H x W <= \(maxPixels) pixels, e.g. 512x640"
    }
}
