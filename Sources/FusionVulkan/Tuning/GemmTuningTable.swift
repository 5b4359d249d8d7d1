import Foundation
import FusionCore
import FusionIO

/// The winners of `fusion tune` for one device and driver: per GEMM-shaped problem
/// (`GemmShapeKey`), the variant and K splits measured fastest; per attention problem
/// (`AttentionShapeKey`), the attention variant. Stored as JSON at
/// `<cache>/vulkan/tuning/<vendor>-<device>-<driver>.json` (`fileURL(in:for:)`); the
/// Vulkan context reads it when it starts and the GEMM encoders consult it
/// (`EncodeContext.gemmChoice`). A file that does not parse, or that was written for
/// another device or driver, is ignored with a warning naming it.
public struct GemmTuningTable: Sendable, Equatable {
    /// One tuned problem.
    public struct Entry: Codable, Sendable, Equatable {
        public var key: GemmShapeKey
        public var variant: String
        public var splits: Int
        /// Measured GPU time of the winner, and of the default choice, in microseconds.
        public var microseconds: Double
        public var defaultMicroseconds: Double

        public init(key: GemmShapeKey, variant: String, splits: Int, microseconds: Double, defaultMicroseconds: Double) {
            self.key = key; self.variant = variant; self.splits = splits
            self.microseconds = microseconds; self.defaultMicroseconds = defaultMicroseconds
        }
    }

    /// One tuned attention problem.
    public struct AttentionEntry: Codable, Sendable, Equatable {
        public var key: AttentionShapeKey
        public var variant: String
        public var microseconds: Double
        public var defaultMicroseconds: Double

        public init(key: AttentionShapeKey, variant: String, microseconds: Double, defaultMicroseconds: Double) {
            self.key = key; self.variant = variant
            self.microseconds = microseconds; self.defaultMicroseconds = defaultMicroseconds
        }
    }

    /// Whom the table was measured on.
    public struct DeviceIdentity: Codable, Sendable, Equatable {
        public var vendorID: UInt32
        public var deviceID: UInt32
        public var driverVersion: UInt32
        public var name: String

        public init(_ info: VulkanDeviceInfo) {
            vendorID = info.vendorID; deviceID = info.deviceID; driverVersion = info.driverVersion; name = info.name
        }
    }

    static let format = "fusionkit-gemm-tuning-1"

    public var device: DeviceIdentity
    public var entries: [Entry]
    public var attention: [AttentionEntry]

    public init(device: DeviceIdentity, entries: [Entry], attention: [AttentionEntry] = []) {
        self.device = device
        self.entries = entries
        self.attention = attention
    }

    /// The tuned choice for `key`, if the table has it and names a known variant.
    public func choice(for key: GemmShapeKey) -> GemmChoice? {
        guard let e = entries.first(where: { $0.key == key }), let v = GemmVariant.named(e.variant) else { return nil }
        return GemmChoice(variant: v, splits: max(1, e.splits))
    }

    /// The tuned attention variant for `key`, if the table has it and names a known variant.
    public func attentionVariant(for key: AttentionShapeKey) -> AttentionVariant? {
        attention.first(where: { $0.key == key }).flatMap { AttentionVariant.named($0.variant) }
    }

    /// `<vulkanCache>/tuning/<vendor>-<device>-<driver>.json` (hex IDs).
    public static func fileURL(in vulkanCache: URL, for info: VulkanDeviceInfo) -> URL {
        vulkanCache.appendingPathComponent("tuning", isDirectory: true)
            .appendingPathComponent(String(format: "%04x-%04x-%08x.json", info.vendorID, info.deviceID, info.driverVersion))
    }

    private struct File: Codable {
        var format: String
        var device: DeviceIdentity
        var entries: [Entry]
        /// Absent in tables written before attention was tuned.
        var attention: [AttentionEntry]?
    }

    /// The table at `url` for `info`: nil without a warning when there is no file; nil with
    /// a warning naming the file when it is unreadable, not a tuning table, or foreign.
    public static func load(from url: URL, for info: VulkanDeviceInfo) -> (table: GemmTuningTable?, warning: String?) {
        guard FileManager.default.fileExists(atPath: url.path) else { return (nil, nil) }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            return (nil, "ignoring GEMM tuning table \(url.path): cannot read it (\(error.localizedDescription))")
        }
        guard let file = try? JSONDecoder().decode(File.self, from: data), file.format == format else {
            return (nil, "ignoring GEMM tuning table \(url.path): not a \(format) file (corrupt?); rerun `fusion tune` to rewrite it")
        }
        let mine = DeviceIdentity(info)
        guard file.device.vendorID == mine.vendorID, file.device.deviceID == mine.deviceID, file.device.driverVersion == mine.driverVersion else {
            return (nil, "ignoring GEMM tuning table \(url.path): written for '\(file.device.name)' (driver 0x\(String(file.device.driverVersion, radix: 16))), not this device '\(info.name)' (driver 0x\(String(info.driverVersion, radix: 16)))")
        }
        return (GemmTuningTable(device: file.device, entries: file.entries, attention: file.attention ?? []), nil)
    }

    /// Writes the table atomically to `url` (creating its folder).
    public func write(to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(File(format: Self.format, device: device, entries: entries, attention: attention))
        try AtomicFile.write(data, to: url.path, format: "GEMM tuning table")
    }
}
