import Foundation
import FusionVulkan

/// One benchmark's numbers, as `fusion bench --json` writes them.
public struct BenchResult: Codable, Sendable {
    public var name: String
    public var kind: BenchCase.Kind
    public var backend: String
    public var size: String
    /// Time of one run over `repeats` runs after `warmup`: GPU time (timestamps) on Vulkan
    /// when the queue has timestamps, else host wall time of the run.
    public var medianMs: Double
    public var minMs: Double
    public var maxMs: Double
    /// "gpu" or "wall": what `medianMs` measures.
    public var timer: String
    /// Host wall time of the whole run (uploads, downloads and submission included).
    public var wallMedianMs: Double
    public var repeats: Int
    public var gflop: Double
    /// Bytes moved (`GraphTraffic`) by the graph as run, after the backend's passes.
    public var gbytes: Double
    /// Bytes moved by the graph as built (before the passes).
    public var gbytesBefore: Double
    /// Nodes (dispatched ops) of the graph as run, and as built.
    public var nodes: Int
    public var nodesBefore: Int
    /// The passes applied ("all", "none", or a list).
    public var passes: String
    public var gflops: Double
    public var gbps: Double
    /// Share of the roofline bound: max(FLOP / peak FLOP/s, bytes / peak bandwidth) over the
    /// measured time (1 = as fast as the device's measured peaks allow). nil without peaks.
    public var peakShare: Double?
    /// Which roof bounds this case: "compute" or "memory".
    public var bound: String?
    /// Storage precision of float activations and weights ("fp32" or "fp16"); `gbytes`
    /// counts float values at this element size.
    public var precision: String? = nil

    enum CodingKeys: String, CodingKey {
        case name, kind, backend, size, timer, repeats, gflop, gbytes, gflops, gbps, bound, nodes, passes, precision
        case gbytesBefore = "gbytes_before", nodesBefore = "nodes_before"
        case medianMs = "median_ms", minMs = "min_ms", maxMs = "max_ms", wallMedianMs = "wall_median_ms", peakShare = "peak_share"
    }
}

/// The device a set of results ran on.
public struct BenchDevice: Codable, Sendable {
    public var backend: String
    public var name: String
    public var peak: DevicePeak?

    public init(backend: String, name: String, peak: DevicePeak?) {
        self.backend = backend
        self.name = name
        self.peak = peak
    }
}

/// `{"device": {...}, "devices": [...], "results": [...]}`: `device` is the first (or only)
/// backend's; `devices` lists every backend of the run.
public struct BenchReport: Codable, Sendable {
    public var device: BenchDevice?
    public var devices: [BenchDevice]
    public var results: [BenchResult]

    public init(devices: [BenchDevice], results: [BenchResult]) {
        self.device = devices.first
        self.devices = devices
        self.results = results
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
