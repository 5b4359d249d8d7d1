import Foundation
import FusionTestSupport
import FusionCore
@testable import FusionIO
import XCTest

/// Structure-aware fuzzing of the checkpoint readers: files that are well formed as
/// safetensors, .npy or PyTorch zip, with hostile values where the readers trust numbers
/// (shapes, strides, storage sizes and offsets, data_offsets, header lengths, dtypes,
/// pickle nesting). Each case must either fail with a `FileFormatError` naming the file,
/// or read into tensors that all materialise (within `StoredTensor.maxMaterializedBytes`,
/// lowered here) or fail cleanly the same way. Seeded, deterministic, 10,000+ cases per
/// format.
final class StructuredFuzzTests: XCTestCase {
    static let casesPerFormat = 25_000

    /// Sizes the readers must survive: small ones, 2^31 - 1, 2^32, 2^62, -1 and Int.max.
    static let hostileSizes: [Int] = [0, 1, 2, 7, Int(Int32.max), 1 << 32, 1 << 62, -1, Int.max]
    static let smallSizes: [Int] = [0, 1, 1, 2, 2, 3, 4, 7]

    /// Outcome counters and the per-case check shared by the three formats.
    struct Tally {
        var read = 0, rejected = 0, tensors = 0, materialised = 0, refused = 0
        var messages: [String: Int] = [:]

        mutating func run(_ name: String, _ read: () throws -> TensorArchive) {
            do {
                let archive = try read()
                self.read += 1
                for t in archive.tensors { materialise(t, file: name) }
            } catch let error as FileFormatError {
                rejected += 1
                if error.message.isEmpty || !error.description.contains(name) {
                    XCTFail("\(name): error without a message or the file name: \(error)")
                }
                // A rough histogram of reasons (first words), to see what the cases reach.
                let key = error.message.split(separator: " ").prefix(4).joined(separator: " ")
                messages[key, default: 0] += 1
            } catch {
                XCTFail("\(name): unexpected error type \(type(of: error)): \(error)")
            }
        }

        mutating func materialise(_ t: StoredTensor, file: String) {
            tensors += 1
            guard t.shape.allSatisfy({ $0 >= 0 }), t.elementCount >= 0, t.elementCount <= StoredTensor.maxElementCount else {
                return XCTFail("\(file): tensor '\(t.name)' was accepted with shape \(t.shape), \(t.elementCount) elements")
            }
            do {
                let f = try t.floatValues()
                let b = try t.contiguousBytes()
                let i = try t.integerValues()
                if f.count != t.elementCount || i.count != t.elementCount || b.count != t.elementCount * t.dtype.byteSize {
                    XCTFail("\(file): tensor '\(t.name)' materialised \(f.count)/\(i.count) values, \(b.count) bytes for \(t.elementCount) elements")
                }
                if t.elementCount > 0, t.isContiguous {
                    // The contiguous fast path must copy exactly the bytes the strides address.
                    let start = t.offset * t.dtype.byteSize
                    if b != Data(t.storage.bytes[start ..< start + b.count]) { XCTFail("\(file): tensor '\(t.name)' contiguous bytes differ") }
                }
                materialised += 1
            } catch let error as FileFormatError {
                refused += 1
                if !error.description.contains(file) || !error.message.contains("tensor '\(t.name)'") {
                    XCTFail("\(file): materialising '\(t.name)' failed without naming file and tensor: \(error)")
                }
            } catch {
                XCTFail("\(file): unexpected error type \(type(of: error)): \(error)")
            }
            do {
                let tensor = try t.toTensor()
                if tensor.count != t.elementCount { XCTFail("\(file): toTensor of '\(t.name)' has \(tensor.count) elements") }
            } catch let error as FileFormatError {
                if !error.description.contains("tensor '\(t.name)'") { XCTFail("\(file): toTensor error without the tensor: \(error)") }
            } catch {
                XCTFail("\(file): unexpected error type \(type(of: error)): \(error)")
            }
        }

        func report(_ label: String, cases: Int, seconds: Double) {
            print("\(label): \(cases) cases in \(String(format: "%.2f", seconds)) s: \(read) read (\(tensors) tensors, \(materialised) materialised, \(refused) over the limit or unrepresentable), \(rejected) rejected")
            for (k, v) in messages.sorted(by: { $0.value > $1.value }).prefix(8) { print("  \(v) x \(k)...") }
        }
    }

    private var savedLimit = 0

    override func setUp() {
        savedLimit = StoredTensor.maxMaterializedBytes
        // Small, so that hostile-but-valid views (zero strides) are refused quickly.
        StoredTensor.maxMaterializedBytes = 1 << 20
    }

    override func tearDown() {
        StoredTensor.maxMaterializedBytes = savedLimit
    }

    // MARK: - safetensors

    static let safetensorsDTypes = ["F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL",
                                    "F8_E4M3", "f32", "", "C64", "U64", "\"F32\"x"]

    static func safetensorsCase(_ rng: inout SplitMix64) -> Data {
        func pick<T>(_ a: [T]) -> T { a[Int(rng.next() % UInt64(a.count))] }
        func chance(_ percent: UInt64) -> Bool { rng.next() % 100 < percent }
        var entries: [String] = []
        var position = 0
        var data: [UInt8] = []
        let count = Int(rng.next() % 4)
        for k in 0..<count {
            let dtype = chance(90) ? pick(Array(safetensorsDTypes.prefix(10))) : pick(safetensorsDTypes)
            let size = StorageDType(safetensorsName: dtype)?.byteSize ?? 4
            let rank = Int(rng.next() % 5)
            let dims = (0..<rank).map { _ in chance(75) ? pick(smallSizes) : pick(hostileSizes) }
            var dimTexts = dims.map(String.init)
            if chance(5), rank > 0 {
                dimTexts[Int(rng.next() % UInt64(rank))] = pick(["1.5", "\"3\"", "1e30", "18446744073709551616", "-0", "null", "9223372036854775808", "2.0"])
            }
            // The byte count the shape needs, when it can be computed and is small.
            var needed: Int? = size
            for d in dims {
                guard let n = needed, d >= 0 else { needed = nil; break }
                let (p, o) = n.multipliedReportingOverflow(by: d)
                needed = o ? nil : p
            }
            if dims.contains(0) { needed = 0 }
            let length = needed.map { $0 <= 4096 ? $0 : Int(rng.next() % 64) } ?? Int(rng.next() % 64)
            var begin = position, end = position + length
            switch rng.next() % 12 {
            case 0: swap(&begin, &end)  // reversed
            case 1: begin = max(0, begin - 1 - Int(rng.next() % 8))  // overlapping
            case 2: end += 1 + Int(rng.next() % 8)  // past the end
            case 3: end = pick([Int.max, 1 << 62, Int(Int32.max)])
            case 4: begin = pick([Int.max, -1, 1 << 40])
            default: break
            }
            var offsetsText = "[\(begin),\(end)]"
            if chance(2) { offsetsText = pick(["[0]", "[0,1,2]", "\"0-4\"", "[18446744073709551616,0]", "[-1,3]"]) }
            position += length
            data += (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let name = chance(3) ? pick(["", "__metadata__", "a.b", "é", "t\(k)"]) : "t\(k)"
            var fields = ["\"dtype\":\"\(dtype)\"", "\"shape\":[\(dimTexts.joined(separator: ","))]", "\"data_offsets\":\(offsetsText)"]
            if chance(3) { fields.remove(at: Int(rng.next() % 3)) }
            entries.append("\"\(name)\":{\(fields.joined(separator: ","))}")
        }
        if chance(10) { entries.append(pick(["\"__metadata__\":{\"k\":\"v\"}", "\"__metadata__\":{\"k\":1}", "\"__metadata__\":null"])) }
        if chance(5), !data.isEmpty { data.removeLast(Int(rng.next() % UInt64(data.count)) + 1) }
        if chance(5) { data += [0, 0, 0, 0] }
        let header = "{" + entries.joined(separator: ",") + "}"
        var declared = UInt64(header.utf8.count)
        if chance(10) {
            declared = pick([0, 1, declared &- 1, declared + 1, UInt64(header.utf8.count + data.count + 8), 100_000_001, .max, 1 << 63, 0x0403_4B50])
        }
        return SafetensorsFixture.file(header: header, data: data, declaredLength: declared)
    }

    func testSafetensorsStructuredFuzz() throws {
        var rng = SplitMix64(seed: 0x5AFE_7E25)
        var tally = Tally()
        let start = Date()
        for i in 0..<Self.casesPerFormat {
            let data = Self.safetensorsCase(&rng)
            let name = "st-\(i).safetensors"
            // Both entry points: the safetensors reader and format detection.
            tally.run(name) {
                i % 2 == 0 ? try SafetensorsReader.read(file: MappedFile(data: data, path: name))
                           : try CheckpointReader.read(file: MappedFile(data: data, path: name)).archive
            }
        }
        tally.report("safetensors structured fuzz", cases: Self.casesPerFormat, seconds: Date().timeIntervalSince(start))
        XCTAssertEqual(tally.read + tally.rejected, Self.casesPerFormat)
        XCTAssertGreaterThan(tally.read, Self.casesPerFormat / 10, "the generator should make many valid files")
        XCTAssertGreaterThan(tally.rejected, Self.casesPerFormat / 10, "the generator should make many hostile files")
        XCTAssertGreaterThan(tally.materialised, 1000)
    }

    // MARK: - .npy

    static let npyDescrs = ["<f4", "<f2", "<f8", "<i8", "<i4", "<i2", "|i1", "|u1", "|b1", "<u2", ">f4", "<c8", "<U4", "O", "", "'<f4", "<f4'"]

    static func npyCase(_ rng: inout SplitMix64) -> Data {
        func pick<T>(_ a: [T]) -> T { a[Int(rng.next() % UInt64(a.count))] }
        func chance(_ percent: UInt64) -> Bool { rng.next() % 100 < percent }
        let descr = chance(85) ? pick(Array(npyDescrs.prefix(9))) : pick(npyDescrs)
        let size = StorageDType(numpyDescr: descr)?.byteSize ?? 4
        let rank = Int(rng.next() % 5)
        let dims = (0..<rank).map { _ in chance(70) ? pick(smallSizes) : pick(hostileSizes + [Int(Int32.max) - 1, 65_536]) }
        var shapeText = "(" + dims.map(String.init).joined(separator: ", ") + (rank == 1 ? ",)" : ")")
        if chance(4) { shapeText = pick(["(2L, 3L)", "(3,", "((2, 3)", "(1.5,)", "[2, 3]", "(,)", "(99999999999999999999,)", "()", "(0x10,)"]) }
        let fortran = chance(40) ? "True" : (chance(95) ? "False" : pick(["1", "'True'", "Tru"]))
        var header = "{'descr': '\(descr)', 'fortran_order': \(fortran), 'shape': \(shapeText), }"
        if chance(3) { header = pick(["{}", "{'descr': '<f4'}", "{'shape': (1,)}", "not a dict", ""]) }
        let version: UInt8 = chance(80) ? 1 : pick([2, 3, 0, 4, 255])
        let prefix = 6 + 2 + (version == 1 ? 2 : 4)
        let pad = (64 - (prefix + header.utf8.count + 1) % 64) % 64
        header += String(repeating: " ", count: pad) + "\n"
        var length = header.utf8.count
        if chance(8) { length = pick([0, length - 1, length + 1, 0xFFFF, 1 << 20, (1 << 20) + 1, Int(UInt32.max)]) }
        var out = [0x93] + Array("NUMPY".utf8) + [version, 0]
        if version == 1 {
            out += [UInt8(truncatingIfNeeded: length), UInt8(truncatingIfNeeded: length >> 8)]
        } else {
            out += withUnsafeBytes(of: UInt32(truncatingIfNeeded: length).littleEndian, Array.init)
        }
        out += Array(header.utf8)
        var needed: Int? = size
        for d in dims {
            guard let n = needed, d >= 0 else { needed = nil; break }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            needed = o ? nil : p
        }
        if dims.contains(0) { needed = 0 }
        var dataLength = needed.map { $0 <= 8192 ? $0 : Int(rng.next() % 64) } ?? Int(rng.next() % 64)
        if chance(10) { dataLength = max(0, dataLength + Int(rng.next() % 9) - 4) }
        out += (0..<dataLength).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        if chance(3) { out = Array(out.prefix(Int(rng.next() % UInt64(out.count + 1)))) }
        return Data(out)
    }

    func testNPYStructuredFuzz() throws {
        var rng = SplitMix64(seed: 0x0093_4E55_4D50_59)
        var tally = Tally()
        let start = Date()
        for i in 0..<Self.casesPerFormat {
            let data = Self.npyCase(&rng)
            let name = "npy-\(i).npy"
            tally.run(name) {
                if i % 2 == 0 {
                    let file = MappedFile(data: data, path: name)
                    return TensorArchive(path: name, format: .npy, tensors: [try NPYReader.read(file: file)], file: file)
                }
                return try CheckpointReader.read(file: MappedFile(data: data, path: name)).archive
            }
        }
        tally.report(".npy structured fuzz", cases: Self.casesPerFormat, seconds: Date().timeIntervalSince(start))
        XCTAssertEqual(tally.read + tally.rejected, Self.casesPerFormat)
        XCTAssertGreaterThan(tally.read, Self.casesPerFormat / 10)
        XCTAssertGreaterThan(tally.rejected, Self.casesPerFormat / 10)
        XCTAssertGreaterThan(tally.materialised, 1000)
    }

    // MARK: - PyTorch zip (pickle)

    static let storageTypes: [(String, Int)] = [
        ("FloatStorage", 4), ("HalfStorage", 2), ("BFloat16Storage", 2), ("LongStorage", 8), ("IntStorage", 4),
        ("ByteStorage", 1), ("BoolStorage", 1), ("DoubleStorage", 8), ("UntypedStorage", 1), ("EvilStorage", 4), ("FloatTensor", 4),
    ]

    /// Any Int as a pickle integer (LONG1, 8 bytes), so huge and negative values pass.
    static func long(_ p: inout PickleBuilder, _ v: Int) {
        if v >= 0, v < 256 { p.int(v); return }
        p.op(0x8A); p.bytes.append(8)
        p.bytes += withUnsafeBytes(of: Int64(v).littleEndian, Array.init)
    }

    static func torchCase(_ rng: inout SplitMix64) -> Data {
        func pick<T>(_ a: [T]) -> T { a[Int(rng.next() % UInt64(a.count))] }
        func chance(_ percent: UInt64) -> Bool { rng.next() % 100 < percent }
        var p = PickleBuilder()
        // Nesting: the state dict inside `depth` lists (the walk stops at 64 levels, the
        // unpickler at Unpickler.maxNestingDepth).
        let depth = chance(85) ? 0 : pick([1, 2, 10, 63, 64, 65, 999, 1000, 1001, 3000])
        for _ in 0..<depth { p.mark() }
        p.emptyDict(); p.mark()
        var storages: [(String, [UInt8])] = []
        let storageCount = 1 + Int(rng.next() % 3)
        var storageInfo: [(key: String, type: String, numel: Int)] = []
        for s in 0..<storageCount {
            let (type, size) = chance(90) ? pick(Array(storageTypes.prefix(9))) : pick(storageTypes)
            let numel = chance(80) ? Int(rng.next() % 24) : pick([0, 1, Int(Int32.max), 1 << 40, -1, Int.max, 1 << 61])
            let bytes = numel >= 0 && numel <= 24 ? numel * size : Int(rng.next() % 64)
            let shrink = chance(10) ? Int(rng.next() % 4) + 1 : 0
            storages.append(("\(s)", (0..<max(0, bytes - shrink)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
            storageInfo.append(("\(s)", type, numel))
        }
        let tensorCount = 1 + Int(rng.next() % 3)
        for k in 0..<tensorCount {
            let storage = pick(storageInfo)
            p.string(chance(5) ? "module.t\(k)" : "t\(k)")
            let rank = Int(rng.next() % 4)
            var shape = (0..<rank).map { _ in chance(60) ? pick(smallSizes) : chance(50) ? pick(hostileSizes) : pick([100, 1000, 100_000]) }
            var strides = checkedContiguousStrides(shape.map { max($0, 0) }) ?? shape.map { _ in 1 }
            if chance(35) {
                strides = (0..<rank).map { _ in pick([0, 0, 0, 0, 1, 2, 3, 1 << 31, 1 << 40, Int.max, -1]) }
            }
            var offset = chance(80) ? Int(rng.next() % 8) : pick([Int(Int32.max), Int.max - 1, Int.max, -1, 1 << 40])
            if chance(8) {
                // A broadcast view: huge sizes, zero strides, one stored element.
                shape = pick([[100_000, 100_000], [Int(Int32.max)], [1 << 20, 1 << 16], [300, 300, 300]])
                strides = shape.map { _ in 0 }
                offset = 0
            }
            let parameter = chance(10)
            if parameter { p.global("torch._utils", "_rebuild_parameter") }
            p.global("torch._utils", chance(95) ? "_rebuild_tensor_v2" : pick(["_rebuild_tensor", "_rebuild_evil"]))
            p.mark()
            p.mark()
            p.string("storage"); p.global("torch", storage.type); p.string(storage.key); p.string("cpu"); long(&p, storage.numel)
            p.op(0x74)
            p.op(0x51)  // BINPERSID
            long(&p, offset)
            p.mark(); shape.forEach { long(&p, $0) }; p.op(0x74)
            if chance(3) { p.string("not a tuple") } else { p.mark(); strides.forEach { long(&p, $0) }; p.op(0x74) }
            p.op(0x89)
            p.orderedDict()
            p.op(0x74)
            p.op(0x52)
            if parameter {
                p.op(0x88); p.orderedDict(); p.op(0x87); p.op(0x52)
            }
        }
        p.setItems()
        for _ in 0..<depth { p.op(0x6C) }
        p.stop()
        var pickle = p.bytes
        if chance(3), !pickle.isEmpty {  // a little byte damage on top
            pickle[Int(rng.next() % UInt64(pickle.count))] = UInt8(truncatingIfNeeded: rng.next())
        }
        let folder = chance(90) ? "archive" : pick(["", "a/b", "weird name"])
        var entries: [(String, [UInt8])] = [("\(folder)/data.pkl", pickle)]
        entries += storages.map { ("\(folder)/data/\($0.0)", $0.1) }
        if chance(10) { entries.append(("\(folder)/constants.pkl", [0x80, 0x02, 0x29, 0x2E])) }  // TorchScript layout
        if chance(5) { entries.append(("\(folder)/byteorder", Array(pick(["little", "big"]).utf8))) }
        entries.append(("\(folder)/version", Array("3\n".utf8)))
        return ZipBuilder.archive(entries)
    }

    func testTorchZipStructuredFuzz() throws {
        var rng = SplitMix64(seed: 0x7043_4B50)
        var tally = Tally()
        let start = Date()
        for i in 0..<Self.casesPerFormat {
            let data = Self.torchCase(&rng)
            let name = "torch-\(i).pth"
            tally.run(name) { try CheckpointReader.read(file: MappedFile(data: data, path: name)).archive }
        }
        tally.report("torch zip structured fuzz", cases: Self.casesPerFormat, seconds: Date().timeIntervalSince(start))
        XCTAssertEqual(tally.read + tally.rejected, Self.casesPerFormat)
        XCTAssertGreaterThan(tally.read, Self.casesPerFormat / 10)
        XCTAssertGreaterThan(tally.rejected, Self.casesPerFormat / 10)
        XCTAssertGreaterThan(tally.materialised, 1000)
        XCTAssertGreaterThan(tally.refused, 100, "zero-stride views over the limit should occur")
    }
}
