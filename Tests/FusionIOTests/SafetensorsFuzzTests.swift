import Foundation
import FusionCore
@testable import FusionIO
import XCTest

/// Damaged safetensors files must either read (and then every value can be touched) or
/// fail with a `FileFormatError` naming the file; never crash, hang or throw anything else.
final class SafetensorsFuzzTests: XCTestCase {
    private typealias F = SafetensorsFixture

    /// A small valid file: every dtype, a 0-d scalar, an empty tensor and metadata.
    static func seedFile() throws -> Data {
        var rng = SplitMix64(seed: 1)
        func random(_ n: Int) -> [UInt8] { (0 ..< n).map { _ in UInt8.random(in: 0 ... 255, using: &rng) } }
        let tensors = [
            try F.tensor("w.weight", .f32, [3, 4], bytes: F.bytes((0 ..< 12).map { Float($0) / 7 })),
            try F.tensor("w.bias", .f32, [4], bytes: F.bytes([Float](repeating: -0.5, count: 4))),
            try F.tensor("half", .f16, [5], bytes: F.bytes([UInt16(0x3C00), 0x7C00, 0x7E01, 0x0001, 0xC000])),
            try F.tensor("brain", .bf16, [2, 2], bytes: random(8)),
            try F.tensor("ids", .i64, [3], bytes: F.bytes([Int64.min, 0, Int64.max])),
            try F.tensor("pos", .i32, [2, 3], bytes: random(24)),
            try F.tensor("short", .i16, [3], bytes: random(6)),
            try F.tensor("q", .i8, [4], bytes: random(4)),
            try F.tensor("img", .u8, [2, 3], bytes: random(6)),
            try F.tensor("mask", .bool, [4], bytes: [0, 1, 1, 0]),
            try F.tensor("scalar", .f64, [], bytes: F.bytes([Double.pi])),
            try F.tensor("empty", .f32, [0, 3], bytes: []),
        ]
        return try SafetensorsWriter.encode(tensors, metadata: ["json": #"{"kind": "fuzz", "n": 12}"#, "format": "pt"])
    }

    /// Counts outcomes per family, checks each one, and tallies the reasons given.
    private struct Campaign {
        var total = 0
        var accepted: [String: Int] = [:]
        var rejected: [String: Int] = [:]
        var reasons: [String: Int] = [:]
        var families: [String] = []

        mutating func check(_ data: Data, _ family: String) {
            total += 1
            if accepted[family] == nil && rejected[family] == nil { families.append(family) }
            let name = "fuzz-\(family)-\(total).safetensors"
            let file = MappedFile(data: data, path: name)
            do {
                let archive = try SafetensorsReader.read(file: file)
                var covered = 0
                for tensor in archive.tensors {
                    XCTAssertEqual(try tensor.floatValues().count, tensor.elementCount, name)
                    let bytes = tensor.storage.bytes
                    if let start = bytes.baseAddress, bytes.count > 0 {
                        XCTAssertTrue(start >= file.base && start + bytes.count <= file.base + file.count, "\(name): \(tensor.name) outside the file")
                    }
                    covered += bytes.count
                }
                let headerLength = Int(UInt64(littleEndian: file.bytes.loadUnaligned(as: UInt64.self)))
                XCTAssertEqual(covered, file.count - 8 - headerLength, "\(name): tensors do not cover the data section")
                accepted[family, default: 0] += 1
            } catch let error as FileFormatError {
                XCTAssertTrue(error.description.contains(name), "error does not name the file: \(error)")
                rejected[family, default: 0] += 1
                reasons[Self.reason(error.message), default: 0] += 1
            } catch {
                XCTFail("\(name): unexpected error \(type(of: error)): \(error)")
            }
        }

        /// The message with tensor names, quoted values and numbers blanked, to group failures.
        static func reason(_ message: String) -> String {
            var text = Substring(message)
            if text.hasPrefix("tensor '"), let end = text.range(of: "': ") { text = text[end.upperBound...] }
            var out = ""
            var quote: Character?
            for c in text {
                if let q = quote {
                    if c == q { quote = nil; out.append(c) }
                } else if c == "'" || c == "\"" {
                    quote = c
                    out += "\(c)…"
                } else if c.isNumber {
                    if out.last != "#" { out.append("#") }
                } else {
                    out.append(c)
                }
            }
            return String(out.prefix(90))
        }
    }

    private static let interestingBytes: [UInt8] = Array("{}[]\":,-.0123456789eE ntf\\".utf8) + [0x00, 0x01, 0x7F, 0x80, 0xBF, 0xC0, 0xFF]
    private static let interestingNumbers = ["99999999999999999999", "-1", "1e30", "4294967296", "18446744073709551615",
                                             "18446744073709551616", "9223372036854775807", "9223372036854775808",
                                             "-9223372036854775808", "0", "1", "1.0", "1.5", "-0", "1e2", "2147483648",
                                             "true", "null", "\"3\"", "[]", "{}", "", "00", "1e400",
                                             String(repeating: "9", count: 400)]

    func testDamagedFilesReadOrFailNamingTheFile() throws {
        let seed = try Self.seedFile()
        let headerLength = Int(UInt64(littleEndian: seed.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
        let headerEnd = 8 + headerLength
        XCTAssertNoThrow(try SafetensorsReader.read(file: MappedFile(data: seed, path: "seed.safetensors")))
        var rng = SplitMix64(seed: 0x5AFE_7E45)
        var campaign = Campaign()
        let started = Date()

        /// `data` with its length field set to what now lies between it and the data section,
        /// `delta` bytes more or less than the seed's header.
        func withLength(_ data: Data, headerDelta delta: Int) -> Data {
            var copy = data
            copy.replaceSubrange(0 ..< 8, with: F.bytes([UInt64(max(0, headerLength + delta)).littleEndian]))
            return copy
        }

        // Truncation at every offset, and extra bytes at the end.
        for length in 0 ..< seed.count { campaign.check(seed.prefix(length), "truncate") }
        for _ in 0 ..< 200 {
            var copy = seed
            copy.append(contentsOf: (0 ..< Int.random(in: 1 ... 9, using: &rng)).map { _ in UInt8.random(in: 0 ... 255, using: &rng) })
            campaign.check(copy, "extend")
        }

        // Every single bit of the length and the header flipped; random flips in the data.
        for bit in 0 ..< headerEnd * 8 {
            var copy = seed
            copy[bit / 8] ^= 1 << UInt8(bit % 8)
            campaign.check(copy, "bitflip-header")
        }
        for _ in 0 ..< 300 {
            var copy = seed
            for _ in 0 ..< Int.random(in: 1 ... 8, using: &rng) {
                copy[Int.random(in: headerEnd ..< seed.count, using: &rng)] ^= 1 << UInt8.random(in: 0 ... 7, using: &rng)
            }
            campaign.check(copy, "bitflip-data")
        }

        // Random byte overwrites, mostly in the length and header, often with JSON syntax.
        for _ in 0 ..< 3000 {
            var copy = seed
            for _ in 0 ..< Int.random(in: 1 ... 4, using: &rng) {
                let position = Int.random(in: 0 ..< 10, using: &rng) < 8 ? Int.random(in: 0 ..< headerEnd, using: &rng)
                                                                          : Int.random(in: 0 ..< seed.count, using: &rng)
                copy[position] = Bool.random(using: &rng) ? UInt8.random(in: 0 ... 255, using: &rng)
                                                          : Self.interestingBytes.randomElement(using: &rng) ?? 0
            }
            campaign.check(copy, "overwrite")
        }

        // The length field: edge values, other formats' magic, random bytes.
        let lengths: [UInt64] = [0, 1, 2, 7, 8, UInt64(headerLength - 1), UInt64(headerLength + 1), UInt64(seed.count - 8),
                                 UInt64(seed.count - 7), UInt64(seed.count), 100_000_000, 100_000_001, 1 << 32, 1 << 63,
                                 UInt64(Int.max), .max, .max - 7]
        for length in lengths {
            var copy = seed
            copy.replaceSubrange(0 ..< 8, with: F.bytes([length.littleEndian]))
            campaign.check(copy, "length")
        }
        for magic in ["PK\u{03}\u{04}\u{14}\u{00}\u{00}\u{00}", "\u{89}PNG\r\n\u{1A}\n", "{\"a\":1}", "        ", "\u{80}\u{02}cfoo\n"] {
            var copy = seed
            copy.replaceSubrange(0 ..< 8, with: Array(magic.utf8).prefix(8))
            campaign.check(copy, "length")
        }
        for _ in 0 ..< 500 {
            var copy = seed
            for _ in 0 ..< Int.random(in: 1 ... 8, using: &rng) { copy[Int.random(in: 0 ..< 8, using: &rng)] = UInt8.random(in: 0 ... 255, using: &rng) }
            campaign.check(copy, "length")
        }

        // Every number in the header replaced by huge, negative, fractional or mistyped values,
        // with the length fixed up (so the JSON is read) and left as it was.
        let header = Array(seed[8 ..< headerEnd])
        var numberRuns: [Range<Int>] = []
        var i = 0
        while i < header.count {
            guard header[i] >= UInt8(ascii: "0"), header[i] <= UInt8(ascii: "9") else { i += 1; continue }
            let start = i
            while i < header.count, header[i] >= UInt8(ascii: "0"), header[i] <= UInt8(ascii: "9") { i += 1 }
            numberRuns.append(start ..< i)
        }
        XCTAssertGreaterThan(numberRuns.count, 30)
        for run in numberRuns {
            for replacement in Self.interestingNumbers {
                var copy = seed
                copy.replaceSubrange(8 + run.lowerBound ..< 8 + run.upperBound, with: Array(replacement.utf8))
                let delta = replacement.utf8.count - run.count
                campaign.check(withLength(copy, headerDelta: delta), "number")
                if delta != 0 { campaign.check(copy, "number-unfixed") }
            }
        }

        // Keys, dtype names and JSON punctuation replaced one occurrence at a time.
        let tokens: [(String, [String])] = [
            ("\"F32\"", ["\"F8_E4M3\"", "\"f32\"", "\"U32\"", "\"\"", "\"F64\"", "\"BOOL\"", "32", "null"]),
            ("\"I64\"", ["\"U64\"", "\"I32\"", "\"F64\""]),
            ("\"shape\"", ["\"shapes\"", "\"dtype\"", "\"data_offsets\""]),
            ("\"data_offsets\"", ["\"offsets\"", "\"shape\"", "\"data_offsets\":0,\"x\""]),
            ("\"dtype\"", ["\"type\"", "\"shape\""]),
            ("\"__metadata__\"", ["\"__metadatum__\"", "\"x\""]),
            ("[", ["{", "[[", "[-1,", "["]), ("]", ["}", ",0]", "]]"]), ("{", ["[", "{{", "{\"a\":1,"]), ("}", ["]", "},", "}}"]),
            (":", [",", "::", ":["]), (",", [":", ",,", ", ", ",\"z\":{},"]),
        ]
        for (token, replacements) in tokens {
            let needle = Array(token.utf8)
            var occurrences: [Int] = []
            var j = 0
            while j + needle.count <= header.count {
                if Array(header[j ..< j + needle.count]) == needle { occurrences.append(j) }
                j += 1
            }
            for position in occurrences.prefix(25) {
                for replacement in replacements {
                    var copy = seed
                    copy.replaceSubrange(8 + position ..< 8 + position + needle.count, with: Array(replacement.utf8))
                    campaign.check(withLength(copy, headerDelta: replacement.utf8.count - needle.count), "token")
                }
            }
        }

        // Inserted and deleted bytes: half anywhere as they fall, half inside the header with
        // the length fixed up.
        for _ in 0 ..< 1500 {
            var copy = seed
            let count = Int.random(in: 1 ... 4, using: &rng)
            let inHeader = Bool.random(using: &rng)
            let position = inHeader ? Int.random(in: 8 ... headerEnd, using: &rng) : Int.random(in: 0 ... seed.count, using: &rng)
            copy.insert(contentsOf: (0 ..< count).map { _ in Self.interestingBytes.randomElement(using: &rng) ?? 0 }, at: position)
            campaign.check(inHeader ? withLength(copy, headerDelta: count) : copy, "insert")
        }
        for _ in 0 ..< 1500 {
            var copy = seed
            let inHeader = Bool.random(using: &rng)
            let start = inHeader ? Int.random(in: 8 ..< headerEnd, using: &rng) : Int.random(in: 0 ..< seed.count, using: &rng)
            let end = min(start + Int.random(in: 1 ... 16, using: &rng), inHeader ? headerEnd : seed.count)
            copy.removeSubrange(start ..< end)
            campaign.check(inHeader ? withLength(copy, headerDelta: start - end) : copy, "delete")
        }

        // Well-formed JSON with wrong content: fields removed, retyped or swapped.
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(header)) as? [String: Any])
        let names = object.keys.filter { $0 != "__metadata__" }.sorted()
        let values: [Any] = [NSNumber(value: -1), NSNumber(value: 0), NSNumber(value: 7), NSNumber(value: 1.5), NSNumber(value: true),
                             NSNumber(value: UInt64.max), NSNumber(value: Int.max), "F32", "x", NSNull(), [Any](), [String: Any](),
                             [0], [0, 0, 0], [NSNumber(value: Int.max), NSNumber(value: Int.max)], [4, 0], ["a": "b"], ["a": 1]]
        for _ in 0 ..< 2000 {
            var mutated = object
            for _ in 0 ..< Int.random(in: 1 ... 3, using: &rng) {
                let name = names.randomElement(using: &rng) ?? ""
                var entry = mutated[name] as? [String: Any] ?? [:]
                switch Int.random(in: 0 ..< 7, using: &rng) {
                case 0: entry.removeValue(forKey: ["dtype", "shape", "data_offsets"].randomElement(using: &rng) ?? "")
                case 1: entry[["dtype", "shape", "data_offsets"].randomElement(using: &rng) ?? ""] = values.randomElement(using: &rng)
                case 2:
                    let other = names.randomElement(using: &rng) ?? ""
                    let key = ["dtype", "shape", "data_offsets"].randomElement(using: &rng) ?? ""
                    if var otherEntry = mutated[other] as? [String: Any] {
                        (entry[key], otherEntry[key]) = (otherEntry[key], entry[key])
                        mutated[other] = otherEntry
                    }
                case 3: mutated.removeValue(forKey: name)
                case 4: mutated[name + "2"] = entry
                case 5: mutated["__metadata__"] = values.randomElement(using: &rng)
                default:
                    if var shape = entry["shape"] as? [Any] {
                        shape.append(Int.random(in: 0 ... 3, using: &rng))
                        entry["shape"] = shape.shuffled(using: &rng)
                    }
                }
                if mutated[name] != nil { mutated[name] = entry }
            }
            let json = try JSONSerialization.data(withJSONObject: mutated, options: [.sortedKeys])
            var copy = Data()
            copy.append(contentsOf: F.bytes([UInt64(json.count).littleEndian]))
            copy.append(json)
            copy.append(seed[headerEnd...])
            campaign.check(copy, "structure")
        }

        let elapsed = Date().timeIntervalSince(started)
        let accepted = campaign.accepted.values.reduce(0, +)
        print("safetensors fuzz: \(campaign.total) inputs from a \(seed.count)-byte seed in \(String(format: "%.2f", elapsed)) s: \(accepted) read, \(campaign.total - accepted) rejected")
        for family in campaign.families {
            print("  \(family): \(campaign.accepted[family] ?? 0) read, \(campaign.rejected[family] ?? 0) rejected")
        }
        print("  most frequent reasons:")
        for (reason, count) in campaign.reasons.sorted(by: { ($1.value, $0.key) < ($0.value, $1.key) }).prefix(15) {
            print("    \(count) × \(reason)")
        }
        XCTAssertGreaterThanOrEqual(campaign.total, 10_000)
        XCTAssertGreaterThan(accepted, 0, "no damaged input was readable: the mutations are too coarse to test the values path")
        #if !DEBUG
        XCTAssertLessThan(elapsed, 10, "the fuzz campaign is too slow")
        #endif
    }
}
