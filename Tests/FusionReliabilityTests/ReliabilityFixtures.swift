import Foundation
import FusionCore
import FusionIO
import FusionTestSupport
import XCTest

/// Inputs shared by the reliability tests: the LLVIP pair at a small size and TextFusion's
/// published weights and a prompt's features from the shared data.
enum Fixtures {
    static func weights() throws -> String { try TestData.path("weights/textfusion_llvip.model") }
    static func features() throws -> String { try TestData.path("golden/textfusion_1024x1280.safetensors") }
    static func clip() throws -> String { try TestData.path("golden/clip_text_tiny.pt") }

    /// A small registered pair (grey IR, RGB visible) written into `folder`.
    static func smallPair(in folder: URL, width: Int = 40, height: Int = 32) throws -> (ir: String, vis: String) {
        let ir = folder.appendingPathComponent("ir.png").path, vis = folder.appendingPathComponent("vis.png").path
        try Image(planes: [(0..<(width * height)).map { Float($0 % 97) / 96 }], width: width, height: height, bitDepth: 8, scaledFrom: 1)
            .writePNG(to: ir)
        try Image(planes: (0..<3).map { c in (0..<(width * height)).map { Float(($0 * (c + 3)) % 89) / 88 } }, width: width, height: height,
                  bitDepth: 8, scaledFrom: 1).writePNG(to: vis)
        return (ir, vis)
    }

    /// `fusion fuse` (TextFusion, CPU) arguments for a pair.
    static func fuseArguments(ir: String, vis: String, output: String) throws -> [String] {
        ["fuse", "--backend", "cpu", "--weights", try weights(), "--ir", ir, "--vis", vis, "--text-features", try features(), "-o", output]
    }

    /// SHA-256-free fingerprint of a file's bytes, for "unchanged" checks.
    static func contents(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// Names in `folder` that a write may have left behind.
    static func strayFiles(in folder: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter {
            $0.hasPrefix(AtomicFile.temporaryPrefix) || $0.contains("nosync") || $0.hasSuffix(".tmp")
        }
    }
}
