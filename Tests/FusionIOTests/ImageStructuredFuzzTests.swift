import CZlib
import Foundation
import FusionCore
@testable import FusionIO
import XCTest

/// Structure-aware fuzzing of the PNG and JPEG readers: instead of flipping random bytes
/// (ImageFuzzTests), each case parses a valid seed into chunks or segments, replaces header
/// fields with hostile values (0, 1, limits, 2^31-1, 2^32-1...), lengths, tables and EXIF
/// blocks, and writes the file back with correct CRCs (mostly), so the damage reaches the
/// decoder's parsers. Every case must throw a `FileFormatError` naming the file, or decode
/// to an image whose size agrees with its header, its EXIF orientation and the pixel limit.
final class ImageStructuredFuzzTests: XCTestCase {
    private static let casesPerFormat = 40_000
    private static let timeLimit: TimeInterval = 20

    private struct Tally {
        var decoded = 0
        var errors = 0
        var messages: [String: Int] = [:]
        var mutations: [String: (decoded: Int, errors: Int)] = [:]
    }

    // MARK: - Shared

    private static let hostile32: [UInt32] = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 255, 256, 4096, 7071, 7072, 20000,
                                              65535, 65536, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF]
    private static let hostile16: [UInt16] = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 255, 256, 7071, 7072, 20000,
                                              65500, 65501, 65535]

    private static func pick<T>(_ values: [T], _ rng: inout SplitMix64) -> T { values[Int(rng.next() % UInt64(values.count))] }
    private static func below(_ n: Int, _ rng: inout SplitMix64) -> Int { n <= 0 ? 0 : Int(rng.next() % UInt64(n)) }
    private static func randomBytes(_ count: Int, _ rng: inout SplitMix64) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }
    private static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    private static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }

    /// A TIFF block meant to trip an EXIF parser: hostile IFD offsets, entry counts, types,
    /// value counts and offsets, either byte order, sometimes cut short.
    static func hostileTIFF(_ rng: inout SplitMix64) -> [UInt8] {
        let bigEndian = rng.next() & 1 == 0
        func u16(_ v: UInt16) -> [UInt8] { bigEndian ? be16(v) : [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) -> [UInt8] { bigEndian ? be32(v) : Array(be32(v).reversed()) }
        var tiff: [UInt8]
        switch below(8, &rng) {
        case 0: tiff = [0x49, 0x4D] // mixed byte order
        case 1: tiff = bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]; tiff += u16(43)
        default: tiff = (bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]) + u16(42)
        }
        let entryCount = pick([0, 1, 2, 3, 5, 0xFFFF, UInt16(below(20, &rng))], &rng)
        let realEntries = min(Int(entryCount), below(6, &rng))
        let sizeGuess = 8 + 2 + 12 * realEntries + 4
        let ifdOffsets: [UInt32] = [8, 8, 8, 0, 1, 6, 7, UInt32(sizeGuess - 2), UInt32(sizeGuess - 1), UInt32(sizeGuess),
                                    0x7FFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFF8, UInt32(below(64, &rng))]
        tiff += u32(pick(ifdOffsets, &rng))
        tiff += u16(entryCount)
        for _ in 0..<realEntries {
            let tag: UInt16 = rng.next() % 3 == 0 ? UInt16(truncatingIfNeeded: rng.next()) : 0x0112
            let type = pick([3, 3, 3, 4, 0, 1, 2, 5, 7, 9, 12, 13, 0xFFFF], &rng) as UInt16
            let count = pick([1, 1, 1, 0, 2, 0x7FFF_FFFF, 0xFFFF_FFFF], &rng) as UInt32
            let value = pick([1, 2, 3, 4, 5, 6, 7, 8, 0, 9, 0xFFFF], &rng) as UInt16
            tiff += u16(tag) + u16(type) + u32(count)
            tiff += rng.next() & 3 == 0 ? u32(pick(hostile32, &rng)) : u16(value) + [0, 0]
        }
        tiff += u32(pick([0, 8, 0xFFFF_FFFF], &rng))
        if rng.next() % 4 == 0 { tiff = Array(tiff.prefix(below(tiff.count + 1, &rng))) }
        return tiff
    }

    /// Decodes one case and checks the outcome.
    private func check(_ bytes: [UInt8], name: String, mutation: String, pixelLimit: Int,
                       expect: (DecodedImage) -> String?, tally: inout Tally) {
        do {
            let result = try bytes.withUnsafeBytes { try Image.decodeWithInfo($0, name: name, pixelLimit: pixelLimit) }
            let image = result.image
            var problems: [String] = []
            if image.samples.count != image.width * image.height * image.channels { problems.append("sample count") }
            if image.width * image.height > pixelLimit { problems.append("above the pixel limit") }
            if image.width < 1 || image.height < 1 { problems.append("empty") }
            if let o = result.exifOrientation, !(1...8).contains(o) { problems.append("orientation \(o)") }
            let swapped = (result.exifOrientation ?? 1) >= 5
            if (swapped ? (image.height, image.width) : (image.width, image.height)) != (result.storedWidth, result.storedHeight) {
                problems.append("oriented size \(image.width)x\(image.height) vs stored \(result.storedWidth)x\(result.storedHeight)")
            }
            if let problem = expect(result) { problems.append(problem) }
            if !problems.isEmpty { XCTFail("\(name) (\(mutation)) decoded inconsistently: \(problems)") }
            tally.decoded += 1
            tally.mutations[mutation, default: (0, 0)].decoded += 1
        } catch let error as FileFormatError {
            if !error.description.contains(name) { XCTFail("\(error) does not name \(name)") }
            tally.errors += 1
            tally.mutations[mutation, default: (0, 0)].errors += 1
            let shape = error.message.replacingOccurrences(of: "[0-9]+", with: "#", options: .regularExpression)
            tally.messages[shape, default: 0] += 1
        } catch {
            XCTFail("\(name): unexpected error type \(type(of: error)): \(error)")
        }
    }

    private func report(_ format: String, _ tally: Tally, seconds: Double) {
        print("\(format) structured fuzz: \(Self.casesPerFormat) cases in \(String(format: "%.2f", seconds)) s: "
              + "\(tally.decoded) decoded, \(tally.errors) errors")
        for (mutation, counts) in tally.mutations.sorted(by: { $0.key < $1.key }) {
            print("  \(mutation): \(counts.decoded) decoded, \(counts.errors) errors")
        }
        for (message, count) in tally.messages.sorted(by: { $0.value > $1.value }).prefix(12) { print("  \(count) x \(message)") }
        XCTAssertEqual(tally.decoded + tally.errors, Self.casesPerFormat)
        XCTAssertGreaterThan(tally.errors, Self.casesPerFormat / 4, "too few cases were rejected")
        XCTAssertGreaterThan(tally.decoded, Self.casesPerFormat / 50, "too few cases got through to the image data")
        XCTAssertLessThan(seconds, Self.timeLimit, "\(format) structured fuzz is too slow")
    }

    // MARK: - PNG

    private struct Chunk {
        var type: [UInt8]
        var data: [UInt8]
        var length: UInt32? = nil // a length field that lies
        var badCRC = false
    }

    private static func parsePNG(_ bytes: [UInt8]) -> [Chunk] {
        var chunks: [Chunk] = [], offset = 8
        while offset + 12 <= bytes.count {
            let length = Int(ImageTestSupport.readBE32(bytes, offset))
            chunks.append(Chunk(type: Array(bytes[(offset + 4)..<(offset + 8)]),
                                data: Array(bytes[(offset + 8)..<(offset + 8 + length)])))
            offset += 12 + length
        }
        return chunks
    }

    private static func serializePNG(_ chunks: [Chunk]) -> [UInt8] {
        var out = PNGCodec.signature
        for chunk in chunks {
            out += be32(chunk.length ?? UInt32(chunk.data.count)) + chunk.type + chunk.data
            let crc = ImageTestSupport.crc32(chunk.type + chunk.data)
            out += be32(chunk.badCRC ? crc ^ 0x0100_0000 : crc)
        }
        return out
    }

    private static func deflate(_ raw: [UInt8]) -> [UInt8] {
        var size = compressBound(uLong(raw.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        precondition(compress2(&out, &size, raw, uLong(raw.count), 6) == Z_OK)
        return Array(out.prefix(Int(size)))
    }

    /// The filtered image data size PNG expects for an IHDR, or nil when it is not valid.
    private static func pngRawSize(width: Int, height: Int, depth: Int, colorType: Int, interlaced: Bool) -> Int? {
        let channels: Int
        switch colorType {
        case 0, 3: channels = 1
        case 2: channels = 3
        case 4: channels = 2
        case 6: channels = 4
        default: return nil
        }
        guard [1, 2, 4, 8, 16].contains(depth), width > 0, height > 0 else { return nil }
        func rows(_ w: Int, _ h: Int) -> Int { w > 0 && h > 0 ? h * (1 + (w * channels * depth + 7) / 8) : 0 }
        guard interlaced else { return rows(width, height) }
        let passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        return passes.reduce(0) { sum, p in
            sum + rows((width - p.0 + p.2 - 1) / p.2, (height - p.1 + p.3 - 1) / p.3)
        }
    }

    private enum PNGMutation: String, CaseIterable {
        case width, height, bitDepth, colorType, interlace, methods, newImageData, chunkLength, dropChunk,
             duplicateChunk, swapChunks, ancillary, splitIDAT, exif, truncate
    }

    private func mutatePNG(_ seed: [Chunk], _ mutation: PNGMutation, rng: inout SplitMix64) -> [Chunk] {
        var chunks = seed
        let ihdr = chunks.firstIndex { $0.type == Array("IHDR".utf8) && $0.data.count == 13 } ?? -1
        let headerMutations: [PNGMutation] = [.width, .height, .bitDepth, .colorType, .interlace, .methods, .newImageData]
        if ihdr < 0, headerMutations.contains(mutation) { return chunks }
        if chunks.isEmpty, mutation != .ancillary, mutation != .exif { return chunks }
        func setIHDR32(_ at: Int, _ value: UInt32) { chunks[ihdr].data.replaceSubrange(at..<(at + 4), with: Self.be32(value)) }
        func regenerateImageData() {
            guard let h = chunks.firstIndex(where: { $0.type == Array("IHDR".utf8) && $0.data.count == 13 }) else { return }
            let d = chunks[h].data
            let width = Int(ImageTestSupport.readBE32(d, 0)), height = Int(ImageTestSupport.readBE32(d, 4))
            guard width <= 4096, height <= 4096, width * height <= 4096,
                  var size = Self.pngRawSize(width: width, height: height, depth: Int(d[8]), colorType: Int(d[9]), interlaced: d[12] == 1)
            else {
                chunks.removeAll { $0.type == Array("IDAT".utf8) }
                let at = chunks.firstIndex { $0.type == Array("IHDR".utf8) } ?? 0
                chunks.insert(Chunk(type: Array("IDAT".utf8), data: Self.deflate(Self.randomBytes(Self.below(300, &rng), &rng))),
                              at: min(chunks.count, at + 1))
                return
            }
            if rng.next() % 4 == 0 { size = max(0, size + Self.below(9, &rng) - 4) }
            var raw = Self.randomBytes(size, &rng)
            // Filter bytes: mostly valid (0...4), sometimes not.
            let rowBytes = max(1, size / max(1, height))
            for i in stride(from: 0, to: raw.count, by: rowBytes) { raw[i] = rng.next() % 8 == 0 ? raw[i] : raw[i] % 5 }
            chunks.removeAll { $0.type == Array("IDAT".utf8) }
            let idat = Chunk(type: Array("IDAT".utf8), data: Self.deflate(raw))
            let iend = chunks.firstIndex { $0.type == Array("IEND".utf8) } ?? chunks.count
            chunks.insert(idat, at: iend)
            if d[9] == 3, !chunks.contains(where: { $0.type == Array("PLTE".utf8) }) || rng.next() & 1 == 0 {
                chunks.removeAll { $0.type == Array("PLTE".utf8) }
                let entries = Self.pick([1, 2, 16, 255, 256], &rng)
                let at = chunks.firstIndex { $0.type == Array("IHDR".utf8) } ?? 0
                chunks.insert(Chunk(type: Array("PLTE".utf8), data: Self.randomBytes(entries * 3, &rng)), at: min(chunks.count, at + 1))
            }
        }
        switch mutation {
        case .width:
            setIHDR32(0, Self.pick(Self.hostile32, &rng))
            if rng.next() & 1 == 0 { regenerateImageData() }
        case .height:
            setIHDR32(4, Self.pick(Self.hostile32, &rng))
            if rng.next() & 1 == 0 { regenerateImageData() }
        case .bitDepth:
            chunks[ihdr].data[8] = Self.pick([0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 32, 255], &rng)
            if rng.next() & 1 == 0 { regenerateImageData() }
        case .colorType:
            chunks[ihdr].data[9] = Self.pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 255], &rng)
            if rng.next() & 1 == 0 { regenerateImageData() }
        case .interlace:
            chunks[ihdr].data[12] = Self.pick([0, 1, 2, 255], &rng)
            if rng.next() & 1 == 0 { regenerateImageData() }
        case .methods:
            chunks[ihdr].data[10 + Self.below(2, &rng)] = Self.pick([1, 2, 255], &rng)
        case .newImageData:
            // A small image of a random layout, with image data of the right size.
            setIHDR32(0, UInt32(1 + Self.below(40, &rng)))
            setIHDR32(4, UInt32(1 + Self.below(40, &rng)))
            let layouts: [(UInt8, UInt8)] = [(0, 1), (0, 2), (0, 4), (0, 8), (0, 16), (2, 8), (2, 16), (3, 1), (3, 2),
                                             (3, 4), (3, 8), (4, 8), (4, 16), (6, 8), (6, 16), (3, 16), (2, 4)]
            let (colorType, depth) = Self.pick(layouts, &rng)
            chunks[ihdr].data[8] = depth
            chunks[ihdr].data[9] = colorType
            chunks[ihdr].data[12] = UInt8(Self.below(2, &rng))
            chunks.removeAll { $0.type == Array("tRNS".utf8) }
            regenerateImageData()
            if rng.next() % 3 == 0 {
                let iend = chunks.firstIndex { $0.type == Array("IDAT".utf8) } ?? chunks.count
                chunks.insert(Chunk(type: Array("tRNS".utf8), data: Self.randomBytes(Self.pick([0, 1, 2, 6, 7, 255, 256, 300], &rng), &rng)), at: iend)
            }
        case .chunkLength:
            let i = Self.below(chunks.count, &rng)
            let n = UInt32(chunks[i].data.count)
            chunks[i].length = Self.pick([0, 1, n &- 1, n &+ 1, n &+ 13, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF], &rng)
        case .dropChunk:
            chunks.remove(at: Self.below(chunks.count, &rng))
        case .duplicateChunk:
            let i = Self.below(chunks.count, &rng)
            chunks.insert(chunks[i], at: Self.below(chunks.count + 1, &rng))
        case .swapChunks:
            chunks.swapAt(Self.below(chunks.count, &rng), Self.below(chunks.count, &rng))
        case .ancillary:
            let kinds: [(String, [Int])] = [("PLTE", [0, 3, 6, 765, 768, 769, 771]), ("tRNS", [0, 1, 2, 6, 256, 257]),
                                            ("gAMA", [0, 4, 5]), ("sRGB", [0, 1, 2]), ("cHRM", [0, 32]), ("bKGD", [0, 1, 2, 6]),
                                            ("iCCP", [0, 5, 40]), ("zTXt", [0, 3, 30]), ("iTXt", [0, 10]), ("sBIT", [0, 1, 4, 5]),
                                            ("pHYs", [9, 8]), ("hIST", [0, 2, 512]), ("sPLT", [0, 12]), ("aBcD", [0, 100])]
            let (type, sizes) = Self.pick(kinds, &rng)
            var data = Self.randomBytes(Self.pick(sizes, &rng), &rng)
            if (type == "zTXt" || type == "iCCP"), data.count > 3 { data[1] = 0; data[2] = 0 } // keyword, method 0
            chunks.insert(Chunk(type: Array(type.utf8), data: data), at: min(chunks.count, 1 + Self.below(chunks.count, &rng)))
        case .splitIDAT:
            if let i = chunks.firstIndex(where: { $0.type == Array("IDAT".utf8) }) {
                let data = chunks[i].data
                let cut = Self.below(data.count + 1, &rng)
                chunks[i].data = Array(data[..<cut])
                chunks.insert(Chunk(type: Array("IDAT".utf8), data: []), at: i + 1)
                chunks.insert(Chunk(type: Array("IDAT".utf8), data: Array(data[cut...])), at: i + 2)
            }
        case .exif:
            let block = rng.next() % 4 == 0 ? Array("Exif".utf8) + [0, 0] + Self.hostileTIFF(&rng) : Self.hostileTIFF(&rng)
            chunks.insert(Chunk(type: Array("eXIf".utf8), data: block), at: min(chunks.count, max(0, ihdr) + 1 + Self.below(2, &rng)))
        case .truncate:
            chunks = Array(chunks.prefix(Self.below(chunks.count + 1, &rng)))
        }
        if rng.next() % 16 == 0, !chunks.isEmpty { chunks[Self.below(chunks.count, &rng)].badCRC = true }
        return chunks
    }

    func testStructuredPNGMutations() throws {
        var seeds: [[UInt8]] = []
        seeds.append([UInt8](try ImageTestSupport.randomImage(width: 9, height: 7, channels: 3, bitDepth: 8, seed: 21).pngData()))
        seeds.append([UInt8](try ImageTestSupport.randomImage(width: 5, height: 11, channels: 4, bitDepth: 16, seed: 22).pngData()))
        seeds.append([UInt8](try ImageTestSupport.randomImage(width: 12, height: 6, channels: 1, bitDepth: 8, seed: 23).pngData()))
        var palette = PNGCodec.RawOptions(width: 10, height: 8, colorType: .palette, bitDepth: 4)
        palette.interlaced = true
        palette.palette = (0..<48).map { UInt8($0 * 5) }
        palette.paletteAlpha = [0, 128]
        seeds.append([UInt8](try PNGCodec.encode(samples: (0..<80).map { UInt16($0 % 16) }, options: palette)))
        let parsed = seeds.map(Self.parsePNG)
        for (i, chunks) in parsed.enumerated() {
            XCTAssertEqual(Self.serializePNG(chunks), seeds[i], "seed \(i) round trip")
        }
        var rng = SplitMix64(seed: 0x5EED_0101)
        var tally = Tally()
        let start = Date()
        for n in 0..<Self.casesPerFormat {
            var chunks = Self.pick(parsed, &rng)
            var applied: [String] = []
            for _ in 0..<(1 + Self.below(3, &rng)) {
                let mutation = PNGMutation.allCases[Self.below(PNGMutation.allCases.count, &rng)]
                chunks = mutatePNG(chunks, mutation, rng: &rng)
                applied.append(mutation.rawValue)
            }
            let bytes = Self.serializePNG(chunks)
            let pixelLimit = Self.pick([Image.defaultPixelLimit, Image.defaultPixelLimit, 1000, 64], &rng)
            // The IHDR libpng will see: the first one, when it is well-formed and no chunk before
            // it lies about its length. (libpng skips chunks it ignores, such as text, even
            // before IHDR; every chunk it uses checks that IHDR came first.)
            var header: (Int, Int, UInt8, UInt8)? = nil
            for c in chunks {
                if c.length != nil { break }
                guard c.type == Array("IHDR".utf8) else { continue }
                if c.data.count == 13, !c.badCRC {
                    header = (Int(ImageTestSupport.readBE32(c.data, 0)), Int(ImageTestSupport.readBE32(c.data, 4)), c.data[8], c.data[9])
                }
                break
            }
            let name = "sfuzz-\(n).png"
            check(bytes, name: name, mutation: applied.first!, pixelLimit: pixelLimit, expect: { result in
                guard let (width, height, depth, colorType) = header else { return "decoded without a valid IHDR first" }
                if (result.storedWidth, result.storedHeight) != (width, height) {
                    return "stored \(result.storedWidth)x\(result.storedHeight), IHDR \(width)x\(height)"
                }
                let allowed: [Int: [Int]] = [0: [1, 2], 2: [3, 4], 3: [3, 4], 4: [2], 6: [4]]
                if !(allowed[Int(colorType)] ?? []).contains(result.image.channels) {
                    return "\(result.image.channels) channels for colour type \(colorType)"
                }
                if result.image.bitDepth != (depth == 16 ? 16 : 8) { return "\(result.image.bitDepth) bits for IHDR depth \(depth)" }
                return nil
            }, tally: &tally)
        }
        report("PNG", tally, seconds: Date().timeIntervalSince(start))
    }

    // MARK: - JPEG

    private struct Segment {
        var marker: UInt8
        var payload: [UInt8]
        var length: Int? = nil // a length field that lies
    }

    /// The segments up to and including SOS, and what follows (entropy-coded data, EOI).
    private static func parseJPEG(_ bytes: [UInt8]) -> (segments: [Segment], tail: [UInt8]) {
        var segments: [Segment] = [], offset = 2
        while offset + 4 <= bytes.count, bytes[offset] == 0xFF {
            let marker = bytes[offset + 1]
            let length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            segments.append(Segment(marker: marker, payload: Array(bytes[(offset + 4)..<(offset + 2 + length)])))
            offset += 2 + length
            if marker == 0xDA { break }
        }
        return (segments, Array(bytes[offset...]))
    }

    private static func serializeJPEG(_ segments: [Segment], _ tail: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0xFF, 0xD8]
        for s in segments {
            let length = s.length ?? (s.payload.count + 2)
            out += [0xFF, s.marker, UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)] + s.payload
        }
        return out + tail
    }

    private enum JPEGMutation: String, CaseIterable {
        case frameSize, precision, components, sampling, quantSelector, frameType, quantTable, huffmanTable,
             scanHeader, restartInterval, exif, segmentLength, dropSegment, duplicateSegment, swapSegments, entropyData
    }

    private func mutateJPEG(_ seed: (segments: [Segment], tail: [UInt8]), _ mutation: JPEGMutation,
                            rng: inout SplitMix64) -> (segments: [Segment], tail: [UInt8]) {
        var (segments, tail) = seed
        if segments.isEmpty, ![.restartInterval, .exif, .entropyData].contains(mutation) { return seed }
        let sof = segments.firstIndex { (0xC0...0xCF).contains($0.marker) && ![0xC4, 0xC8, 0xCC].contains($0.marker) }
        func indices(_ marker: UInt8) -> [Int] { segments.indices.filter { segments[$0].marker == marker } }
        switch mutation {
        case .frameSize:
            guard let f = sof, segments[f].payload.count >= 5 else { break }
            let at = rng.next() & 1 == 0 ? 1 : 3
            segments[f].payload.replaceSubrange(at..<(at + 2), with: Self.be16(Self.pick(Self.hostile16, &rng)))
            if rng.next() & 1 == 0 {
                let other = at == 1 ? 3 : 1
                segments[f].payload.replaceSubrange(other..<(other + 2), with: Self.be16(Self.pick(Self.hostile16, &rng)))
            }
        case .precision:
            guard let f = sof, !segments[f].payload.isEmpty else { break }
            segments[f].payload[0] = Self.pick([0, 1, 7, 9, 12, 16, 255], &rng)
        case .components:
            guard let f = sof, segments[f].payload.count >= 6 else { break }
            let count = Self.pick([0, 1, 2, 3, 4, 5, 255], &rng) as UInt8
            segments[f].payload[5] = count
            if rng.next() % 3 != 0 { // resize the component list to match (or not)
                var list = Array(segments[f].payload[6...])
                while list.count < Int(count) * 3 { list += [UInt8(1 + list.count / 3), 0x11, 0] }
                list = Array(list.prefix(Int(count) * 3))
                segments[f].payload = Array(segments[f].payload[..<6]) + list
            }
            if rng.next() % 4 == 0, segments[f].payload.count >= 9 { segments[f].payload[6] = segments[f].payload.last! } // duplicate ids
        case .sampling:
            guard let f = sof, segments[f].payload.count >= 9 else { break }
            let c = Self.below((segments[f].payload.count - 6) / 3, &rng)
            segments[f].payload[6 + 3 * c + 1] = Self.pick([0x00, 0x01, 0x10, 0x11, 0x12, 0x21, 0x22, 0x44, 0x41, 0x14, 0x55, 0xFF, 0x33], &rng)
        case .quantSelector:
            guard let f = sof, segments[f].payload.count >= 9 else { break }
            let c = Self.below((segments[f].payload.count - 6) / 3, &rng)
            segments[f].payload[6 + 3 * c + 2] = Self.pick([0, 1, 2, 3, 4, 15, 255], &rng)
        case .frameType:
            guard let f = sof else { break }
            segments[f].marker = Self.pick([0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF], &rng)
        case .quantTable:
            guard let q = indices(0xDB).randomElement(using: &rng), segments[q].payload.count >= 2 else { break }
            switch Self.below(4, &rng) {
            case 0: segments[q].payload[0] = Self.pick([0x00, 0x01, 0x03, 0x04, 0x10, 0x13, 0x20, 0xFF], &rng)
            case 1: segments[q].payload = Array(segments[q].payload.prefix(Self.pick([0, 1, 2, 64, 65, 66, 129], &rng)))
            case 2: for i in 1..<segments[q].payload.count where rng.next() % 8 == 0 { segments[q].payload[i] = Self.pick([0, 1, 255], &rng) }
            default: segments[q].payload += segments[q].payload // two tables, maybe the same id
            }
        case .huffmanTable:
            guard let h = indices(0xC4).randomElement(using: &rng), segments[h].payload.count >= 17 else { break }
            switch Self.below(5, &rng) {
            case 0: segments[h].payload[0] = Self.pick([0x00, 0x01, 0x02, 0x04, 0x10, 0x11, 0x14, 0x20, 0xFF], &rng)
            case 1: for i in 1...16 { segments[h].payload[i] = Self.pick([0, 0, 1, 2, 16, 255], &rng) } // counts sum > 256, or all 0
            case 2: segments[h].payload[1 + Self.below(16, &rng)] = Self.pick([0, 1, 17, 128, 255], &rng)
            case 3: segments[h].payload = Array(segments[h].payload.prefix(Self.below(segments[h].payload.count + 1, &rng)))
            default:
                for i in 17..<segments[h].payload.count where rng.next() % 4 == 0 { segments[h].payload[i] = UInt8(truncatingIfNeeded: rng.next()) }
            }
        case .scanHeader:
            guard let s = indices(0xDA).last, !segments[s].payload.isEmpty else { break }
            let n = segments[s].payload.count
            switch Self.below(4, &rng) {
            case 0:
                segments[s].payload[0] = Self.pick([0, 1, 2, 3, 4, 5, 255], &rng)
            case 1 where n >= 3:
                let c = Self.below(max(1, (n - 4) / 2), &rng)
                segments[s].payload[1 + 2 * c + Self.below(2, &rng)] = Self.pick([0, 1, 2, 3, 4, 0x11, 0x44, 0xFF], &rng)
            case 2 where n >= 3:
                segments[s].payload[n - 3 + Self.below(3, &rng)] = Self.pick([0, 1, 13, 63, 64, 0x0F, 0xF0, 0xFF], &rng)
            default:
                segments[s].payload = Array(segments[s].payload.prefix(Self.below(n + 1, &rng)))
            }
        case .restartInterval:
            let interval = Self.pick([0, 1, 2, 65535], &rng) as UInt16
            var dri = Segment(marker: 0xDD, payload: Self.be16(interval))
            if rng.next() % 4 == 0 { dri.payload = Self.randomBytes(Self.pick([0, 1, 3], &rng), &rng) }
            segments.insert(dri, at: Self.below(segments.count, &rng))
        case .exif:
            var payload = Array("Exif".utf8) + [0, 0] + Self.hostileTIFF(&rng)
            if rng.next() % 8 == 0 { payload = Array(payload.prefix(Self.below(7, &rng))) }
            var app1 = Segment(marker: 0xE1, payload: payload)
            if rng.next() % 8 == 0 { app1.length = Self.pick([0, 1, 2, 3, 8, 65535], &rng) }
            segments.insert(app1, at: Self.below(segments.count, &rng))
        case .segmentLength:
            let i = Self.below(segments.count, &rng)
            let n = segments[i].payload.count + 2
            segments[i].length = Self.pick([0, 1, 2, 3, n - 1, n + 1, n + 64, 65535], &rng)
        case .dropSegment:
            segments.remove(at: Self.below(segments.count, &rng))
        case .duplicateSegment:
            let i = Self.below(segments.count, &rng)
            segments.insert(segments[i], at: Self.below(segments.count, &rng))
        case .swapSegments:
            segments.swapAt(Self.below(segments.count, &rng), Self.below(segments.count, &rng))
        case .entropyData:
            guard tail.count > 4 else { break }
            switch Self.below(4, &rng) {
            case 0: for _ in 0..<(1 + Self.below(4, &rng)) { tail[Self.below(tail.count - 2, &rng)] = UInt8(truncatingIfNeeded: rng.next()) }
            case 1: tail = Array(tail.prefix(Self.below(tail.count, &rng)))
            case 2: tail.insert(contentsOf: [0xFF, Self.pick([0xD0, 0xD3, 0xD7, 0xD9, 0xDA, 0xC4, 0x00, 0xFF], &rng)], at: Self.below(tail.count, &rng))
            default: tail = Array(tail.dropLast(2)) // no EOI
            }
        }
        return (segments, tail)
    }

    func testStructuredJPEGMutations() throws {
        var seeds: [[UInt8]] = []
        seeds.append([UInt8](try ImageTestSupport.randomImage(width: 16, height: 8, channels: 3, bitDepth: 8, seed: 31).jpegData(quality: 90)))
        seeds.append([UInt8](try ImageTestSupport.smoothImage(width: 13, height: 9, channels: 1).jpegData(quality: 60)))
        seeds.append([UInt8](try ImageTestSupport.smoothImage(width: 24, height: 17, channels: 3).jpegData(quality: 40)))
        seeds.append(ImageHardeningTests.splicingAPP1(seeds[0], ImageHardeningTests.exifBlock(orientation: 6, bigEndian: true)))
        let parsed = seeds.map(Self.parseJPEG)
        for (i, seed) in parsed.enumerated() {
            XCTAssertEqual(Self.serializeJPEG(seed.segments, seed.tail), seeds[i], "seed \(i) round trip")
        }
        var rng = SplitMix64(seed: 0x5EED_0102)
        var tally = Tally()
        let start = Date()
        for n in 0..<Self.casesPerFormat {
            var file = Self.pick(parsed, &rng)
            var applied: [String] = []
            for _ in 0..<(1 + Self.below(3, &rng)) {
                let mutation = JPEGMutation.allCases[Self.below(JPEGMutation.allCases.count, &rng)]
                file = mutateJPEG(file, mutation, rng: &rng)
                applied.append(mutation.rawValue)
            }
            let bytes = Self.serializeJPEG(file.segments, file.tail)
            let pixelLimit = Self.pick([Image.defaultPixelLimit, Image.defaultPixelLimit, 300, 64], &rng)
            // The frame size libjpeg will see: that of the first SOF, when no segment before it lies
            // about its length.
            var frame: (Int, Int)? = nil
            for s in file.segments {
                if s.length != nil { break }
                if (0xC0...0xCF).contains(s.marker) && ![0xC4, 0xC8, 0xCC].contains(s.marker) {
                    if s.payload.count >= 5 {
                        frame = (Int(s.payload[3]) << 8 | Int(s.payload[4]), Int(s.payload[1]) << 8 | Int(s.payload[2]))
                    }
                    break
                }
            }
            let name = "sfuzz-\(n).jpg"
            check(bytes, name: name, mutation: applied.first!, pixelLimit: pixelLimit, expect: { result in
                if let (width, height) = frame, (result.storedWidth, result.storedHeight) != (width, height) {
                    return "stored \(result.storedWidth)x\(result.storedHeight), SOF \(width)x\(height)"
                }
                if result.image.channels != 1 && result.image.channels != 3 { return "\(result.image.channels) channels" }
                if result.image.bitDepth != 8 { return "\(result.image.bitDepth) bits" }
                return nil
            }, tally: &tally)
        }
        report("JPEG", tally, seconds: Date().timeIntervalSince(start))
    }
}
