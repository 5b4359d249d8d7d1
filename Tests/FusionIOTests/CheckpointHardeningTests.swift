import Foundation
import FusionCore
@testable import FusionIO
import FusionTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif
import CProcessGuard

/// Hand-built .npy files: magic, version 1.0, a header dict padded with spaces to `total`
/// bytes of header (so the data starts where numpy would put it), then `data`.
enum NPYFixture {
    static func file(descr: String = "<f4", fortran: Bool = false, shape: String, data: [UInt8] = [], headerTotal: Int = 128) -> Data {
        var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }"
        let room = headerTotal - 10 - header.utf8.count - 1
        if room > 0 { header += String(repeating: " ", count: room) }
        header += "\n"
        var out = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        out.append(contentsOf: [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        out.append(contentsOf: Array(header.utf8))
        out.append(contentsOf: data)
        return out
    }
}

/// Pickles built byte by byte for the nesting tests.
enum DeepPickle {
    /// `depth` lists, each the only item of the one before: MARK x depth, then LIST x depth.
    static func markList(depth: Int) -> [UInt8] {
        [0x80, 0x02] + [UInt8](repeating: 0x28, count: depth) + [UInt8](repeating: 0x6C, count: depth) + [0x2E]
    }

    /// EMPTY_LIST x depth, then APPEND x (depth - 1): the same nesting, another opcode path.
    static func emptyListAppend(depth: Int) -> [UInt8] {
        [0x80, 0x02] + [UInt8](repeating: 0x5D, count: depth) + [UInt8](repeating: 0x61, count: depth - 1) + [0x2E]
    }

    /// Each list is appended to its parent *after* the parent was stored in its own parent,
    /// fetched back from the memo (LONG_BINGET), so no list is ever deep when it is stored.
    static func memoChain(depth: Int) -> [UInt8] {
        func le32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(v).littleEndian, Array.init) }
        var b: [UInt8] = [0x80, 0x02, 0x5D, 0x72] + le32(0)  // EMPTY_LIST, LONG_BINPUT 0
        for i in 1..<depth {
            b += [0x5D, 0x72] + le32(i)  // EMPTY_LIST, LONG_BINPUT i
            b += [0x61, 0x30]  // APPEND (into list i - 1), POP
            b += [0x6A] + le32(i)  // LONG_BINGET i
        }
        b += [0x30, 0x6A] + le32(0) + [0x2E]  // POP, LONG_BINGET 0, STOP
        return b
    }
}

/// Regression tests for hostile declared sizes, deep pickles, broadcast views, non-safetensors
/// input and mapped files changing underneath. Each failed (trap, crash, abort or a wrong
/// message) before the fix it guards.
final class CheckpointHardeningTests: XCTestCase {
    private func read(_ data: Data, _ name: String) throws -> TensorArchive {
        try CheckpointReader.read(file: MappedFile(data: data, path: name)).archive
    }

    private func assertRejects(_ data: Data, _ name: String, mentions: [String] = [], file: StaticString = #filePath, line: UInt = #line) {
        do {
            let archive = try read(data, name)
            XCTFail("\(name): read \(archive.names) instead of failing", file: file, line: line)
        } catch let error as FileFormatError {
            XCTAssertTrue(error.description.contains(name), "\(error) does not name the file", file: file, line: line)
            for m in mentions { XCTAssertTrue(error.description.contains(m), "\(error) does not mention '\(m)'", file: file, line: line) }
        } catch {
            XCTFail("\(name): unexpected error \(error)", file: file, line: line)
        }
    }

    // MARK: 1. Overflow from declared shapes

    func testCheckedStridesAndCounts() {
        XCTAssertEqual(checkedContiguousStrides([2, 3, 4]), [12, 4, 1])
        XCTAssertEqual(checkedContiguousStrides([]), [])
        XCTAssertNil(checkedContiguousStrides([0, 1 << 32, 1 << 32]))
        XCTAssertNil(checkedContiguousStrides([Int(Int32.max), Int(Int32.max), Int(Int32.max)]))
        XCTAssertNil(checkedContiguousStrides([-1, 2]))
        XCTAssertEqual(checkedElementCount([1 << 32, 1 << 32, 0]), 0)
        XCTAssertNil(checkedElementCount([1 << 32, 1 << 32, 1]))
        XCTAssertNil(checkedElementCount([Int.max, 2]))
        XCTAssertEqual(contiguousStrides([5, 1, 3]), [3, 3, 1])
    }

    /// Was: a trap in `contiguousStrides` (2^32 * 2^32) while reading a valid file.
    func testSafetensorsEmptyTensorWithHugeDimensionsReads() throws {
        let header = #"{"x":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]},"y":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let archive = try read(SafetensorsFixture.file(header: header, data: [0, 0, 0x80, 0x3F]), "empty-huge.safetensors")
        let x = try archive.require("x")
        XCTAssertEqual(x.elementCount, 0)
        XCTAssertEqual(x.shape, [0, 1 << 32, 1 << 32])
        XCTAssertEqual(try x.floatValues(), [])
        XCTAssertEqual(try x.contiguousBytes(), Data())
        XCTAssertTrue(x.isContiguous)
        XCTAssertEqual(try x.toTensor().count, 0)
        XCTAssertEqual(try archive.require("y").floatValues(), [1])
        XCTAssertEqual(archive.parameterCount, 1)
        // Non-empty: the count overflows, a clean error naming file and tensor.
        let big = #"{"x":{"dtype":"F32","shape":[4294967296,4294967296,2],"data_offsets":[0,0]}}"#
        assertRejects(SafetensorsFixture.file(header: big), "big.safetensors", mentions: ["'x'", "overflows"])
    }

    /// An empty view whose sizes overflow left to right ([2^32, 2^32, 0]) must not trap when
    /// it becomes an engine tensor (whose initialiser multiplies left to right).
    func testEmptyViewWithOverflowingPrefixToTensor() throws {
        let t = try SafetensorsFixture.tensor("z", .f32, [1 << 32, 1 << 32, 0], bytes: [])
        XCTAssertEqual(t.elementCount, 0)
        XCTAssertEqual(try t.floatValues(), [])
        XCTAssertThrowsError(try t.toTensor()) { XCTAssertTrue("\($0)".contains("'z'"), "\($0)") }
    }

    /// Was: a trap in the stride computation (C order) or the Fortran strides of NPYReader.
    func testNPYShapeProductOverflowIsAnError() throws {
        let dims = "(2147483647, 2147483647, 2147483647)"
        for fortran in [false, true] {
            let data = NPYFixture.file(fortran: fortran, shape: dims)
            XCTAssertEqual(data.count, 128)
            let name = "overflow-\(fortran ? "F" : "C").npy"
            XCTAssertThrowsError(try NPYReader.read(file: MappedFile(data: data, path: name))) {
                XCTAssertTrue("\($0)".contains(name), "\($0)")
            }
            assertRejects(data, name, mentions: ["shape"])
        }
        // Empty arrays with huge other dimensions are valid (zero elements), in both orders.
        for fortran in [false, true] {
            let t = try NPYReader.read(file: MappedFile(data: NPYFixture.file(fortran: fortran, shape: "(0, 2147483647, 2147483647, 2147483647)"), path: "e.npy"))
            XCTAssertEqual(t.elementCount, 0)
            XCTAssertEqual(try t.floatValues(), [])
            XCTAssertEqual(try t.contiguousBytes(), Data())
        }
        // A Fortran-order array still reads in row-major order.
        let values: [Float] = [1, 4, 2, 5, 3, 6]  // column-major [[1, 2, 3], [4, 5, 6]]
        let f = try NPYReader.read(file: MappedFile(data: NPYFixture.file(fortran: true, shape: "(2, 3)", data: leBytes(values)), path: "f.npy"))
        XCTAssertEqual(try f.floatValues(), [1, 2, 3, 4, 5, 6])
    }

    /// Was: a trap in `isContiguous` (contiguousStrides of the declared shape) when copying
    /// an empty torch view of huge sizes.
    func testTorchEmptyViewWithHugeSizes() throws {
        var p = PickleBuilder()
        p.emptyDict(); p.mark()
        p.string("e")
        p.tensor(storage: "0", type: "FloatStorage", numel: 1, offset: 0,
                 shape: [0, Int(Int32.max), Int(Int32.max), Int(Int32.max)], strides: [1, 1, 1, 1])
        p.string("big")
        p.tensor(storage: "0", type: "FloatStorage", numel: 1, offset: 0,
                 shape: [Int(Int32.max), Int(Int32.max), Int(Int32.max)], strides: [0, 0, 0])
        p.setItems(); p.stop()
        let data = ZipBuilder.checkpoint(pickle: p.bytes, storages: [("0", leBytes([Float(7)]))])
        // The second view's element count overflows: the file is rejected, naming it.
        assertRejects(data, "huge-view.pth", mentions: ["too large"])

        var q = PickleBuilder()
        q.emptyDict(); q.mark()
        q.string("e")
        q.tensor(storage: "0", type: "FloatStorage", numel: 1, offset: 0,
                 shape: [0, Int(Int32.max), Int(Int32.max), Int(Int32.max)], strides: [1, 1, 1, 1])
        q.setItems(); q.stop()
        let archive = try read(ZipBuilder.checkpoint(pickle: q.bytes, storages: [("0", leBytes([Float(7)]))]), "empty-view.pth")
        let e = try archive.require("e")
        XCTAssertEqual(e.elementCount, 0)
        XCTAssertEqual(try e.contiguousBytes(), Data())
        XCTAssertEqual(try e.floatValues(), [])
    }

    /// A size-1 dimension with a huge stride never moves to a second element; walking the
    /// view must not overflow (it did, in the position bookkeeping, with an offset).
    func testHugeStrideOnSizeOneDimension() throws {
        let storage = leBytes([Float](arrayLiteral: 0, 1, 2, 3)).withUnsafeBytes { TensorStorage(copying: $0) }
        let t = try StoredTensor(name: "s", dtype: .f32, shape: [2, 1], strides: [1, Int.max], offset: 2, storage: storage)
        XCTAssertEqual(try t.floatValues(), [2, 3])
    }

    // MARK: 2. Deep pickles

    private func unpickle(_ bytes: [UInt8]) throws -> PickleValue {
        let u = Unpickler(name: "data.pkl", persistentLoad: { _ in .none }, call: { _, _, _ in nil })
        return try bytes.withUnsafeBytes { try u.load($0) }
    }

    private func assertTooDeep(_ bytes: [UInt8], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try unpickle(bytes), label, file: file, line: line) {
            XCTAssertTrue("\($0)".contains("pickle nesting deeper than \(Unpickler.maxNestingDepth) levels"), "\(label): \($0)", file: file, line: line)
        }
    }

    /// Was: SIGSEGV (stack overflow in the recursive deinit of the parsed structure) at
    /// 60,000 levels.
    func testDeepPicklesFailCleanly() throws {
        XCTAssertEqual(Unpickler.maxNestingDepth, 1_000)
        for depth in [60_000, 1_000_000] {
            assertTooDeep(DeepPickle.markList(depth: depth), "MARK/LIST \(depth)")
            assertTooDeep(DeepPickle.emptyListAppend(depth: depth), "EMPTY_LIST/APPEND \(depth)")
        }
        // Lists deepened through the memo after being stored (no list is deep when stored).
        assertTooDeep(DeepPickle.memoChain(depth: 60_000), "memo chain")
        // Through the checkpoint reader: the error names the file.
        let data = ZipBuilder.checkpoint(pickle: DeepPickle.markList(depth: 60_000), storages: [])
        assertRejects(data, "deep.pth", mentions: ["pickle nesting deeper than 1000 levels"])
    }

    func testNestingLimitBoundary() throws {
        _ = try unpickle(DeepPickle.markList(depth: Unpickler.maxNestingDepth))
        _ = try unpickle(DeepPickle.emptyListAppend(depth: Unpickler.maxNestingDepth))
        _ = try unpickle(DeepPickle.memoChain(depth: Unpickler.maxNestingDepth))
        assertTooDeep(DeepPickle.markList(depth: Unpickler.maxNestingDepth + 1), "limit + 1")
        assertTooDeep(DeepPickle.emptyListAppend(depth: Unpickler.maxNestingDepth + 1), "limit + 1")
        assertTooDeep(DeepPickle.memoChain(depth: Unpickler.maxNestingDepth + 1), "limit + 1")
        // A list holding itself (Python pickles cycles like this) still loads.
        let cycle: [UInt8] = [0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E]
        guard case let .list(l) = try unpickle(cycle) else { return XCTFail("not a list") }
        XCTAssertEqual(l.items.count, 1)
        l.items.removeAll()  // break the cycle
    }

    /// Was: quadratic time (the whole set copied on every ADDITEMS): 300,000 one-item
    /// ADDITEMS, a 900 KB pickle, ran for hours. Now linear; a set the memo also holds (so
    /// each ADDITEMS must copy it) fails once the copying exceeds a budget from the size.
    func testManyAddItemsFinishQuickly() throws {
        let n = 300_000
        var plain: [UInt8] = [0x80, 0x02, 0x8F]
        for _ in 0..<n { plain += [0x28, 0x4E, 0x90] }
        plain.append(0x2E)
        let start = Date()
        guard case let .set(items) = try unpickle(plain) else { return XCTFail("not a set") }
        XCTAssertEqual(items.count, n)
        var memoized: [UInt8] = [0x80, 0x02, 0x8F]
        for _ in 0..<n { memoized += [0x71, 0x00, 0x28, 0x4E, 0x90] }
        memoized.append(0x2E)
        XCTAssertThrowsError(try unpickle(memoized)) { XCTAssertTrue("\($0)".contains("ADDITEMS copies sets too many times"), "\($0)") }
        XCTAssertLessThan(Date().timeIntervalSince(start), 20, "ADDITEMS work must stay linear in the pickle size")
    }

    /// Found by libFuzzer (LeakSanitizer): a dict that holds itself through the memo
    /// (`{"m": <the dict>}`) was never freed. `load(_:use:)`, which the checkpoint reader
    /// uses, empties every container afterwards, breaking such cycles.
    func testCyclicPicklesAreFreed() throws {
        // EMPTY_DICT MEMOIZE MARK 'm' BINGET 0 'l' EMPTY_LIST MEMOIZE BINGET 1 APPEND SETITEMS STOP
        var bytes: [UInt8] = [0x80, 0x04, 0x7D, 0x94, 0x28]
        bytes += [0x8C, 1, UInt8(ascii: "m"), 0x68, 0]
        bytes += [0x8C, 1, UInt8(ascii: "l"), 0x5D, 0x94, 0x68, 1, 0x61]
        bytes += [0x75, 0x2E]
        weak var dict: PickleDict?
        weak var list: PickleList?
        let u = Unpickler(name: "data.pkl", persistentLoad: { _ in .none }, call: { _, _, _ in nil })
        let keys = try bytes.withUnsafeBytes { raw in
            try u.load(raw) { root -> [String] in
                guard case let .dict(d) = root, case let .list(l)? = d["l"] else { return [] }
                dict = d
                list = l
                XCTAssertTrue(l.items.count == 1)
                return d.keys.compactMap(\.stringValue)
            }
        }
        XCTAssertEqual(keys, ["m", "l"])
        XCTAssertNil(dict, "the self-referencing dict leaked")
        XCTAssertNil(list, "the self-referencing list leaked")
        // Through the checkpoint reader (which uses load(_:use:)): its walk stops the cycle.
        assertRejects(ZipBuilder.checkpoint(pickle: bytes, storages: []), "cycle.pth", mentions: ["nesting deeper than 64 levels"])
    }

    /// A normal nested checkpoint (dict of OrderedDict of tensors, shared storage) loads.
    func testNormalCheckpointStillLoads() throws {
        var p = PickleBuilder()
        p.emptyDict(); p.mark()
        p.string("model"); p.orderedDict(); p.mark()
        p.string("a"); p.tensor(storage: "0", type: "FloatStorage", numel: 6, offset: 0, shape: [2, 3], strides: [3, 1], parameter: true)
        p.string("b"); p.tensor(storage: "0", type: "FloatStorage", numel: 6, offset: 1, shape: [2, 2], strides: [1, 3])
        p.setItems(); p.setItems(); p.stop()
        let archive = try read(ZipBuilder.checkpoint(pickle: p.bytes, storages: [("0", leBytes([Float](arrayLiteral: 1, 2, 3, 4, 5, 6)))]), "ok.pth")
        XCTAssertEqual(archive.names, ["model.a", "model.b"])
        XCTAssertEqual(try archive.require("model.a").floatValues(), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try archive.require("model.b").floatValues(), [2, 5, 3, 6])
    }

    // MARK: 3. Zero strides and the materialisation limit

    /// One stored f32 viewed as [100000, 100000] with strides (0, 0): a tiny checkpoint.
    static func broadcastCheckpoint() -> Data {
        var p = PickleBuilder()
        p.emptyDict(); p.mark()
        p.string("x"); p.tensor(storage: "0", type: "FloatStorage", numel: 1, offset: 0, shape: [100_000, 100_000], strides: [0, 0])
        p.setItems(); p.stop()
        return ZipBuilder.checkpoint(pickle: p.bytes, storages: [("0", leBytes([Float(1.5)]))])
    }

    /// Was: floatValues tried to allocate 40 GB (abort, or minutes of page faults).
    func testBroadcastViewIsRefusedByTheLimit() throws {
        XCTAssertEqual(StoredTensor.maxMaterializedBytes, 4 << 30)
        let archive = try read(Self.broadcastCheckpoint(), "broadcast.pth")
        let x = try archive.require("x")
        XCTAssertEqual(x.strides, [0, 0])
        XCTAssertEqual(x.elementCount, 10_000_000_000)
        for (label, body) in [("floatValues", { _ = try x.floatValues() }), ("integerValues", { _ = try x.integerValues() }),
                              ("contiguousBytes", { _ = try x.contiguousBytes() }), ("toTensor", { _ = try x.toTensor() })] as [(String, () throws -> Void)] {
            XCTAssertThrowsError(try body(), label) {
                let text = "\($0)"
                XCTAssertTrue(text.contains("broadcast.pth") && text.contains("tensor 'x'") && text.contains("[100000, 100000]")
                              && text.contains("GiB") && text.contains("the limit is 4.0 GiB"), "\(label): \(text)")
            }
        }
        // A small broadcast is fine, and the limit is settable.
        var p = PickleBuilder()
        p.emptyDict(); p.mark()
        p.string("y"); p.tensor(storage: "0", type: "FloatStorage", numel: 1, offset: 0, shape: [3, 4], strides: [0, 0])
        p.setItems(); p.stop()
        let small = try read(ZipBuilder.checkpoint(pickle: p.bytes, storages: [("0", leBytes([Float(2)]))]), "small.pth").require("y")
        XCTAssertEqual(try small.floatValues(), [Float](repeating: 2, count: 12))
        let saved = StoredTensor.maxMaterializedBytes
        defer { StoredTensor.maxMaterializedBytes = saved }
        StoredTensor.maxMaterializedBytes = 40
        XCTAssertThrowsError(try small.floatValues()) { XCTAssertTrue("\($0)".contains("48 bytes as f32; the limit is 40 bytes"), "\($0)") }
        XCTAssertThrowsError(try small.integerValues()) { XCTAssertTrue("\($0)".contains("96 bytes as int64"), "\($0)") }
        StoredTensor.maxMaterializedBytes = 48
        XCTAssertEqual(try small.contiguousBytes().count, 48)
        XCTAssertEqual(try small.toTensor().count, 12)
    }

    /// `fusion inspect --values` on the broadcast checkpoint: exit 1 naming file and tensor.
    func testInspectValuesOnBroadcastCheckpoint() throws {
        let dir = try makeTemporaryDirectory("broadcast")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("broadcast.pth").path
        try Self.broadcastCheckpoint().write(to: URL(fileURLWithPath: path))
        let r = try FusionCLI.run(["inspect", "--values", path])
        XCTAssertEqual(r.status, 1, r.out + r.err)
        XCTAssertTrue(r.err.contains("broadcast.pth") && r.err.contains("tensor 'x'") && r.err.contains("limit"), r.err)
        let plain = try FusionCLI.run(["inspect", path])
        XCTAssertEqual(plain.status, 0, plain.err)
    }

    // MARK: 5, 6. Format detection and messages

    func testCheckpointReaderOpensNPY() throws {
        let data = NPYFixture.file(descr: "<i4", shape: "(3,)", data: leBytes([Int32](arrayLiteral: 5, -6, 7)))
        let archive = try read(data, "ids.npy")
        XCTAssertEqual(archive.format, .npy)
        XCTAssertEqual(archive.names, ["ids"])
        XCTAssertEqual(try archive.require("ids").integerValues(), [5, -6, 7])
        // Malformed: too few bytes for the shape; an unknown dtype; a bad dimension.
        assertRejects(NPYFixture.file(shape: "(4,)", data: leBytes([Float(1)])), "short.npy", mentions: ["storage holds"])
        assertRejects(NPYFixture.file(descr: ">c16", shape: "(1,)"), "dtype.npy", mentions: [">c16"])
        assertRejects(NPYFixture.file(shape: "(-1,)"), "negative.npy", mentions: ["-1"])
        // The CLI agrees.
        let dir = try makeTemporaryDirectory("npy")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("ids.npy").path
        try data.write(to: URL(fileURLWithPath: path))
        let r = try FusionCLI.run(["inspect", "--values", path])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("format: npy"), r.out)
    }

    func testSafetensorsReaderSaysWhenAFileIsNotSafetensors() throws {
        let zip = ZipBuilder.checkpoint(pickle: [0x80, 0x02, 0x7D, 0x2E], storages: [])
        let npy = NPYFixture.file(shape: "(1,)", data: [0, 0, 0, 0])
        let text = Data("Hello, this is a text file and not a checkpoint at all.\n".utf8)
        let cases: [(String, Data, [String])] = [
            ("model.pth", zip, ["not a safetensors file", "PK, a zip archive"]),
            ("array.npy", npy, ["not a safetensors file", ".npy"]),
            ("notes.txt", text, ["not a safetensors file", "exceeds the file size \(text.count) bytes"]),
        ]
        for (name, data, mentions) in cases {
            XCTAssertThrowsError(try SafetensorsReader.read(file: MappedFile(data: data, path: name)), name) {
                let message = "\($0)"
                XCTAssertTrue(message.contains(name), message)
                for m in mentions { XCTAssertTrue(message.contains(m), "\(name): \(message) lacks '\(m)'") }
            }
        }
    }

    // MARK: 4. Files truncated while mapped

    func testMappedGuardRegistry() throws {
        let region = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { region.deallocate() }
        let slot = fk_mapped_guard_register(region, 4096, "/tmp/some file.pth")
        XCTAssertGreaterThanOrEqual(slot, 0)
        XCTAssertEqual(fk_mapped_guard_lookup(region), slot)
        XCTAssertEqual(fk_mapped_guard_lookup(region + 4095), slot)
        XCTAssertEqual(fk_mapped_guard_lookup(region + 4096), -1)
        XCTAssertEqual(fk_mapped_guard_lookup(region - 1), -1)
        XCTAssertEqual(fk_mapped_guard_path(slot).map { String(cString: $0) }, "/tmp/some file.pth")
        // The message the handler writes, through a pipe.
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let written = fk_mapped_guard_write_message(slot, fds[1])
        close(fds[1])
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = Glibc.read(fds[0], &buffer, 256)
        close(fds[0])
        XCTAssertEqual(n, written)
        XCTAssertEqual(String(decoding: buffer.prefix(max(n, 0)), as: UTF8.self),
                       "error: /tmp/some file.pth was truncated or changed while being read\n")
        fk_mapped_guard_unregister(slot)
        XCTAssertEqual(fk_mapped_guard_lookup(region), -1)
        XCTAssertNil(fk_mapped_guard_path(slot))
        // A mapped file registers itself, and unregisters when released.
        let dir = try makeTemporaryDirectory("guard")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("mapped.bin").path
        try Data(repeating: 7, count: 10_000).write(to: URL(fileURLWithPath: path))
        var base: UnsafeRawPointer?
        do {
            let file = try MappedFile(path: path)
            base = file.base
            let s = fk_mapped_guard_lookup(file.base + 9_999)
            XCTAssertGreaterThanOrEqual(s, 0)
            XCTAssertEqual(fk_mapped_guard_path(s).map { String(cString: $0) }, path)
        }
        XCTAssertEqual(fk_mapped_guard_lookup(base!), -1, "still registered after release")
    }

    /// Runs this test bundle again as a child process, on `testChildTruncatesAMappedFile`:
    /// that child maps a file, truncates it and reads the mapping (SIGBUS), and must exit 74
    /// with the message instead of crashing.
    func testTruncatedWhileMappedExitsCleanly() throws {
        let dir = try makeTemporaryDirectory("truncate")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("victim.safetensors").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["FusionIOTests.CheckpointHardeningTests/testChildTruncatesAMappedFile"]
        var environment = ProcessInfo.processInfo.environment
        environment["FK_TRUNCATE_CHILD"] = path
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        let err = Pipe(), out = Pipe()
        process.standardError = err
        process.standardOutput = out
        try process.run()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        _ = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let stderr = String(decoding: errData, as: UTF8.self)
        XCTAssertEqual(process.terminationReason, .exit, stderr)
        XCTAssertEqual(process.terminationStatus, MappedFile.truncatedExitStatus, stderr)
        XCTAssertTrue(stderr.contains("error: \(path) was truncated or changed while being read\n"), stderr)
    }

    /// The child half of `testTruncatedWhileMappedExitsCleanly` (does nothing on its own).
    func testChildTruncatesAMappedFile() throws {
        guard let path = ProcessInfo.processInfo.environment["FK_TRUNCATE_CHILD"] else { return }
        let size = 1 << 20
        try Data(repeating: 1, count: size).write(to: URL(fileURLWithPath: path))
        let file = try MappedFile(path: path)
        XCTAssertEqual(truncate(path, 0), 0)
        var sum = 0
        for i in stride(from: 0, to: size, by: 4096) { sum += Int(file.bytes[i]) }  // SIGBUS here
        print("read \(sum) without a fault")  // not reached
    }
}
