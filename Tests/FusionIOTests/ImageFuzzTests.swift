import Foundation
import FusionCore
@testable import FusionIO
import XCTest

/// Damaged PNG and JPEG inputs: every decode must either succeed or throw a
/// `FileFormatError` naming the file; never crash, hang or allocate without bound.
final class ImageFuzzTests: XCTestCase {
    private static let casesPerFormat = 25_000
    private static let timeLimit: TimeInterval = 15

    /// Ways to damage a file. PNG chunks carry CRCs, so for PNG half of the cases recompute
    /// them afterwards: otherwise nearly every mutation would stop at the CRC check.
    private enum Mutation: CaseIterable {
        case truncate, flipBits, overwriteBytes, wrongMagic, hugeSize, insertBytes, deleteBytes, duplicateRange
    }

    private struct Outcome {
        var decoded = 0
        var errors = 0
        var messages: [String: Int] = [:]
    }

    private func mutate(_ seed: [UInt8], _ mutation: Mutation, format: ImageFormat, rng: inout SplitMix64) -> [UInt8] {
        var bytes = seed
        func offset(_ limit: Int) -> Int { Int(rng.next() % UInt64(max(1, limit))) }
        switch mutation {
        case .truncate:
            bytes = Array(bytes.prefix(offset(bytes.count)))
        case .flipBits:
            for _ in 0...offset(4) { bytes[offset(bytes.count)] ^= UInt8(1) << UInt8(offset(8)) }
        case .overwriteBytes:
            let start = offset(bytes.count)
            for i in start..<min(bytes.count, start + 1 + offset(8)) { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
        case .wrongMagic:
            bytes[offset(format == .png ? 8 : 3)] ^= UInt8(1 + offset(255))
        case .hugeSize:
            let sizes: [(UInt32, UInt32)] = [(65535, 65535), (65536, 1), (1, 0x7FFF_FFFF), (0xFFFF_FFFF, 12), (0, 12),
                                              (16, 0), (40000, 40000), (30000, 20000), (16, 60000), (60000, 12)]
            let (width, height) = sizes[offset(sizes.count)]
            if format == .png {
                bytes = ImageTestSupport.patchingPNGSize(bytes, width: width, height: height)
            } else {
                bytes = ImageTestSupport.patchingJPEGSize(bytes, width: UInt16(truncatingIfNeeded: min(width, 65535)),
                                                          height: UInt16(truncatingIfNeeded: min(height, 65535)))
            }
        case .insertBytes:
            let at = offset(bytes.count + 1)
            bytes.insert(contentsOf: (0...offset(16)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
        case .deleteBytes:
            let at = offset(bytes.count)
            bytes.removeSubrange(at..<min(bytes.count, at + 1 + offset(32)))
        case .duplicateRange:
            let at = offset(bytes.count)
            let range = at..<min(bytes.count, at + 1 + offset(64))
            bytes.insert(contentsOf: bytes[range], at: offset(bytes.count))
        }
        return bytes
    }

    private func fuzz(format: ImageFormat, seeds: [[UInt8]], seed: UInt64) throws {
        // Every seed decodes as it is.
        for (index, bytes) in seeds.enumerated() {
            XCTAssertNoThrow(try Image.decode(Data(bytes), name: "seed-\(index)"), "seed \(index)")
        }
        var rng = SplitMix64(seed: seed)
        var outcome = Outcome()
        var perMutation: [String: (decoded: Int, errors: Int)] = [:]
        let start = Date()
        for n in 0..<Self.casesPerFormat {
            let mutation = Mutation.allCases[n % Mutation.allCases.count]
            let source = seeds[Int(rng.next() % UInt64(seeds.count))]
            var bytes = mutate(source, mutation, format: format, rng: &rng)
            if format == .png, mutation != .hugeSize, rng.next() & 1 == 0 { ImageTestSupport.fixPNGChecksums(&bytes) }
            let name = "fuzz-\(n).\(format == .png ? "png" : "jpg")"
            let key = "\(mutation)"
            do {
                let image = try bytes.withUnsafeBytes { try Image.decode($0, name: name) }
                XCTAssertEqual(image.samples.count, image.width * image.height * image.channels)
                outcome.decoded += 1
                perMutation[key, default: (0, 0)].decoded += 1
            } catch let error as FileFormatError {
                XCTAssertTrue(error.description.contains(name), "\(error) does not name \(name)")
                outcome.errors += 1
                perMutation[key, default: (0, 0)].errors += 1
                // Group messages by their text without numbers, to show what was exercised.
                let shape = error.message.replacingOccurrences(of: "[0-9]+", with: "#", options: .regularExpression)
                outcome.messages[shape, default: 0] += 1
            } catch {
                XCTFail("\(name): unexpected error type \(type(of: error)): \(error)")
            }
        }
        let seconds = Date().timeIntervalSince(start)
        print("\(format) fuzz: \(Self.casesPerFormat) damaged inputs in \(String(format: "%.2f", seconds)) s: "
              + "\(outcome.decoded) decoded, \(outcome.errors) errors")
        for (mutation, counts) in perMutation.sorted(by: { $0.key < $1.key }) {
            print("  \(mutation): \(counts.decoded) decoded, \(counts.errors) errors")
        }
        for (message, count) in outcome.messages.sorted(by: { $0.value > $1.value }).prefix(15) {
            print("  \(count) x \(message)")
        }
        XCTAssertEqual(outcome.decoded + outcome.errors, Self.casesPerFormat)
        XCTAssertGreaterThan(outcome.errors, Self.casesPerFormat / 4)
        XCTAssertLessThan(seconds, Self.timeLimit, "\(format) fuzz is too slow")
    }

    func testDamagedPNGNeverCrashes() throws {
        var seeds: [[UInt8]] = []
        seeds.append([UInt8](try ImageTestSupport.randomImage(width: 16, height: 12, channels: 3, bitDepth: 8, seed: 1).pngData()))
        seeds.append([UInt8](try ImageTestSupport.smoothImage(width: 16, height: 12, channels: 4).pngData(bitDepth: 16)))
        var palette = PNGCodec.RawOptions(width: 16, height: 12, colorType: .palette, bitDepth: 4)
        palette.interlaced = true
        palette.palette = (0..<48).map { UInt8($0 * 5) }
        palette.paletteAlpha = [0, 128]
        seeds.append([UInt8](try PNGCodec.encode(samples: (0..<192).map { UInt16($0 % 16) }, options: palette)))
        var grey = PNGCodec.RawOptions(width: 16, height: 12, colorType: .gray, bitDepth: 2)
        grey.interlaced = true
        grey.transparentKey = [3]
        seeds.append([UInt8](try PNGCodec.encode(samples: (0..<192).map { UInt16($0 % 4) }, options: grey)))
        try fuzz(format: .png, seeds: seeds, seed: 0x5EED_0001)
    }

    func testDamagedJPEGNeverCrashes() throws {
        var seeds: [[UInt8]] = []
        seeds.append([UInt8](try ImageTestSupport.randomImage(width: 16, height: 12, channels: 3, bitDepth: 8, seed: 2).jpegData(quality: 90)))
        seeds.append([UInt8](try ImageTestSupport.smoothImage(width: 16, height: 12, channels: 1).jpegData(quality: 75)))
        seeds.append([UInt8](try ImageTestSupport.smoothImage(width: 23, height: 9, channels: 3).jpegData(quality: 50)))
        try fuzz(format: .jpeg, seeds: seeds, seed: 0x5EED_0002)
    }
}
