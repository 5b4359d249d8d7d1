import Foundation
import FusionCore
@testable import FusionIO

/// Helpers shared by the image tests.
enum ImageTestSupport {
    /// A fresh empty folder under the system temporary folder.
    static func makeTemporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "fusionkit-image-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// An image with seeded random samples over the whole range of its bit depth.
    static func randomImage(width: Int, height: Int, channels: Int, bitDepth: Int, seed: UInt64) -> Image {
        var rng = SplitMix64(seed: seed)
        let top = UInt64(bitDepth == 8 ? 255 : 65535)
        let samples = (0..<width * height * channels).map { _ in UInt16(rng.next() % (top + 1)) }
        return Image(width: width, height: height, channels: channels, bitDepth: bitDepth, samples: samples)
    }

    /// A smooth 8-bit image (gradients), which JPEG reproduces closely.
    static func smoothImage(width: Int, height: Int, channels: Int) -> Image {
        var samples: [UInt16] = []
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels {
                    let value = x * 150 / max(1, width - 1) + y * 60 / max(1, height - 1) + c * 15
                    samples.append(UInt16(value))
                }
            }
        }
        return Image(width: width, height: height, channels: channels, bitDepth: 8, samples: samples)
    }

    // MARK: PNG structure

    private static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// CRC-32 as PNG uses it (over a chunk's type and data).
    static func crc32<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in bytes { c = crcTable[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func readBE32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func writeBE32(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (24 - 8 * i)) }
    }

    /// The IHDR width and height of PNG bytes, or nil.
    static func pngHeaderSize(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
        guard bytes.count >= 24, Array(bytes[12..<16]) == Array("IHDR".utf8) else { return nil }
        return (Int(readBE32(bytes, 16)), Int(readBE32(bytes, 20)))
    }

    /// Recomputes the CRC of every chunk that lies wholly inside `bytes`, so that damage to
    /// chunk contents reaches libpng's parsers instead of stopping at the CRC check.
    static func fixPNGChecksums(_ bytes: inout [UInt8]) {
        var offset = 8
        while offset + 12 <= bytes.count {
            let length = Int(readBE32(bytes, offset))
            guard length <= bytes.count - offset - 12 else { return }
            let crc = crc32(bytes[(offset + 4)..<(offset + 8 + length)])
            writeBE32(crc, into: &bytes, at: offset + 8 + length)
            offset += 12 + length
        }
    }

    /// PNG bytes with the IHDR size replaced (and its CRC recomputed).
    static func patchingPNGSize(_ bytes: [UInt8], width: UInt32, height: UInt32) -> [UInt8] {
        var patched = bytes
        writeBE32(width, into: &patched, at: 16)
        writeBE32(height, into: &patched, at: 20)
        writeBE32(crc32(patched[12..<29]), into: &patched, at: 29)
        return patched
    }

    // MARK: JPEG structure

    /// The offset of the first SOFn marker's segment (the 0xFF byte), or nil.
    static func jpegFrameOffset(_ bytes: [UInt8]) -> Int? {
        var offset = 2
        while offset + 4 <= bytes.count {
            guard bytes[offset] == 0xFF else { return nil }
            let marker = bytes[offset + 1]
            if marker == 0xFF { offset += 1; continue }
            if (0xC0...0xCF).contains(marker), marker != 0xC4, marker != 0xC8, marker != 0xCC { return offset }
            if marker == 0xD9 || marker == 0xDA { return nil }
            offset += 2 + (Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3]))
        }
        return nil
    }

    /// The frame size declared by a JPEG's SOF segment, or nil.
    static func jpegHeaderSize(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
        guard let sof = jpegFrameOffset(bytes), sof + 9 <= bytes.count else { return nil }
        let height = Int(bytes[sof + 5]) << 8 | Int(bytes[sof + 6])
        let width = Int(bytes[sof + 7]) << 8 | Int(bytes[sof + 8])
        return (width, height)
    }

    /// JPEG bytes with the SOF frame size replaced.
    static func patchingJPEGSize(_ bytes: [UInt8], width: UInt16, height: UInt16) -> [UInt8] {
        guard let sof = jpegFrameOffset(bytes) else { return bytes }
        var patched = bytes
        patched[sof + 5] = UInt8(height >> 8)
        patched[sof + 6] = UInt8(height & 0xFF)
        patched[sof + 7] = UInt8(width >> 8)
        patched[sof + 8] = UInt8(width & 0xFF)
        return patched
    }
}
