import Crypto
import Foundation
import FusionIO
import FusionTestSupport
import XCTest

/// PyTorch zip and TorchScript checkpoints: the shared real files, checked against
/// fingerprints from an independent reader (`Tools/checkpoint_fingerprint.py`: Python's
/// pickle and numpy), and hand-built archives for every feature and failure.
final class TorchCheckpointTests: XCTestCase {
    /// SHA-256 over name|dtype|shape| and the row-major bytes of each tensor, in order.
    static func fingerprint(_ archive: TensorArchive) throws -> String {
        var hash = SHA256()
        for t in archive.tensors {
            hash.update(data: Data("\(t.name)|\(t.dtype)|\(t.shape.map(String.init).joined(separator: ","))|".utf8))
            hash.update(data: try t.contiguousBytes())
        }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Printed by `Tools/checkpoint_fingerprint.py` on the shared files.
    static let expected: [(file: String, format: CheckpointFormat, count: Int, sha256: String)] = [
        ("weights/textfusion_llvip.model", .torchZip, 55, "92e7c351a7d3d125c8a87434794a0c0788bfdef5e55969ee4902908e213b3c95"),
        ("golden/clip_text_tiny.pt", .torchZip, 30, "99ca0b481c3f355f2fe31db49917d3a34ed984133bdc50325b9accbc43adbf69"),
        ("golden/clip_tiny_jit.pt", .torchScript, 50, "0b00264f6daa5bc0578aaaab030fc72cadf657d8e917bba4b06b1309b5fb316a"),
        ("golden/textif_dim8.pth", .torchZip, 407, "1fbae8d8b34deb26be3f98749772fe4470c17dc108e6ad83fc8134f2cace65c5"),
    ]

    func testSharedCheckpointsMatchIndependentReader() throws {
        for e in Self.expected {
            let path = try TestData.path(e.file)
            let loaded = try CheckpointReader.read(path: path)
            XCTAssertEqual(loaded.archive.format, e.format, e.file)
            XCTAssertEqual(loaded.archive.tensors.count, e.count, e.file)
            XCTAssertEqual(try Self.fingerprint(loaded.archive), e.sha256, "\(e.file): tensor values differ from the independent reader")
        }
    }

    func testTextFusionWeights() throws {
        let archive = try CheckpointReader.read(path: TestData.path("weights/textfusion_llvip.model")).archive
        XCTAssertEqual(archive.parameterCount, 82_051)
        XCTAssertTrue(archive.tensors.allSatisfy { $0.dtype == .f32 })
        let head = try archive.require("patch_unembed1.proj.0.weight")
        XCTAssertEqual(head.shape, [1, 512, 3, 3])
        XCTAssertThrowsError(try archive.require("no.such.tensor")) { error in
            XCTAssertTrue("\(error)".contains("textfusion_llvip.model") && "\(error)".contains("no.such.tensor"), "\(error)")
        }
    }

    func testTextIFNestedCheckpointWithHalfCLIP() throws {
        let archive = try CheckpointReader.read(path: TestData.path("golden/textif_dim8.pth")).archive
        XCTAssertTrue(archive.names.allSatisfy { $0.hasPrefix("model.") })
        let clip = archive.withPrefix("model.model_clip.")
        XCTAssertEqual(try clip.require("text_projection").dtype, .f16)
        XCTAssertEqual(try clip.require("token_embedding.weight").shape, [49408, 128])
        XCTAssertEqual(archive.tensors.filter { $0.dtype == .f16 }.count, 27)
        // f16 widens to f32 on load.
        let t = try clip.require("text_projection").toTensor()
        XCTAssertEqual(t.dtype, .f32)
        XCTAssertEqual(t.shape, [128, 512])
    }

    /// The TorchScript archive holds the same text weights as the plain state dict (f32
    /// there, f16 here): every text tensor of one equals the other's, value for value.
    func testTorchScriptTextTowerEqualsStateDict() throws {
        let jit = try CheckpointReader.read(path: TestData.path("golden/clip_tiny_jit.pt")).archive
        let plain = try CheckpointReader.read(path: TestData.path("golden/clip_text_tiny.pt")).archive
        for name in ["token_embedding.weight", "positional_embedding", "ln_final.weight", "transformer.resblocks.1.mlp.c_proj.bias"] {
            XCTAssertNotNil(jit.tensor(named: name), name)
        }
        for t in plain.tensors {
            let other = try jit.require(t.name)
            XCTAssertEqual(other.shape, t.shape, t.name)
            XCTAssertEqual(try other.floatValues(), try t.floatValues(), t.name)
        }
    }

    // MARK: - Hand-built archives

    private func write(_ data: Data, _ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fk-torch-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// `{"model": {"module.w": param(shared storage, transposed view), "module.b": view at
    /// offset}, "optimizer": {...tensor...}, "args": argparse.Namespace(...), "epoch": 3}`.
    private func nestedCheckpoint() -> Data {
        var p = PickleBuilder()
        p.emptyDict()
        p.mark()
        p.string("model")
        p.orderedDict()
        p.mark()
        p.string("module.w")  // 2x3 view of storage "0" transposed: shape [3,2], strides [1,3]
        p.tensor(storage: "0", type: "FloatStorage", numel: 8, offset: 0, shape: [3, 2], strides: [1, 3], parameter: true)
        p.string("module.b")  // same storage, offset 6, 2 elements
        p.tensor(storage: "0", type: "FloatStorage", numel: 8, offset: 6, shape: [2], strides: [1])
        p.string("module.steps")
        p.tensor(storage: "1", type: "LongStorage", numel: 1, offset: 0, shape: [], strides: [])
        p.string("module.mask")
        p.tensor(storage: "2", type: "BoolStorage", numel: 3, offset: 0, shape: [3], strides: [1])
        p.string("module.h")
        p.tensor(storage: "3", type: "BFloat16Storage", numel: 2, offset: 0, shape: [2], strides: [1])
        p.setItems()
        p.string("optimizer")
        p.emptyDict()
        p.mark()
        p.string("exp_avg")
        p.tensor(storage: "4", type: "FloatStorage", numel: 1, offset: 0, shape: [1], strides: [1])
        p.setItems()
        p.string("args")
        p.global("argparse", "Namespace")
        p.op(0x29)
        p.op(0x81)  // NEWOBJ: never called, a placeholder
        p.emptyDict()
        p.mark(); p.string("lr"); p.int(3); p.setItems()
        p.op(0x62)  // BUILD
        p.string("epoch")
        p.int(3)
        p.setItems()
        p.stop()
        let storage0 = leBytes([Float](arrayLiteral: 0, 1, 2, 3, 4, 5, 6, 7))
        return ZipBuilder.checkpoint(pickle: p.bytes, storages: [
            ("0", storage0), ("1", leBytes([Int64(123_456_789_012)])), ("2", [1, 0, 1]),
            ("3", leBytes([UInt16(0x3F80), UInt16(0xC000)])), ("4", leBytes([Float(9)])),
        ])
    }

    func testNestedCheckpointFeatures() throws {
        let path = try write(nestedCheckpoint(), "nested.pth")
        let loaded = try CheckpointReader.read(path: path)
        let a = loaded.archive
        XCTAssertEqual(a.names, ["model.w", "model.b", "model.steps", "model.mask", "model.h"], "module. stripped, optimizer skipped")
        XCTAssertEqual(try a.require("model.w").floatValues(), [0, 3, 1, 4, 2, 5], "strided view of the shared storage")
        XCTAssertEqual(try a.require("model.b").floatValues(), [6, 7], "offset into the shared storage")
        XCTAssertEqual(try a.require("model.steps").integerValues(), [123_456_789_012])
        XCTAssertEqual(try a.require("model.steps").dtype, .i64)
        XCTAssertThrowsError(try a.require("model.steps").toTensor()) { XCTAssertTrue("\($0)".contains("int32"), "\($0)") }
        XCTAssertEqual(try a.require("model.mask").floatValues(), [1, 0, 1])
        XCTAssertEqual(try a.require("model.h").floatValues(), [1, -2], "bfloat16 widens exactly")
        XCTAssertEqual(try a.require("model.w").toTensor().toFloatArray(), [0, 3, 1, 4, 2, 5])
        XCTAssertTrue(loaded.skipped.contains { $0.hasPrefix("optimizer") }, "\(loaded.skipped)")
        XCTAssertTrue(loaded.skipped.contains { $0.contains("argparse.Namespace") }, "\(loaded.skipped)")
    }

    func testUnknownGlobalsAreNeverCalled() throws {
        // os.system("echo pwned") as a pickle: must become a placeholder, not run.
        var p = PickleBuilder()
        p.emptyDict()
        p.mark()
        p.string("payload")
        p.global("os", "system")
        p.tuple { $0.string("touch /tmp/fusionkit-pwned") }
        p.op(0x52)
        p.string("w")
        p.tensor(storage: "0", type: "FloatStorage", numel: 1, offset: 0, shape: [1], strides: [1])
        p.setItems()
        p.stop()
        try? FileManager.default.removeItem(atPath: "/tmp/fusionkit-pwned")
        let path = try write(ZipBuilder.checkpoint(pickle: p.bytes, storages: [("0", leBytes([Float(2)]))]), "hostile.pth")
        let loaded = try CheckpointReader.read(path: path)
        XCTAssertEqual(loaded.archive.names, ["w"])
        XCTAssertTrue(loaded.skipped.contains { $0.contains("os.system") }, "\(loaded.skipped)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/fusionkit-pwned"))
    }

    func testDamagedArchivesNameTheFileAndTheProblem() throws {
        func expectError(_ data: Data, _ name: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
            let path = try write(data, name)
            XCTAssertThrowsError(try CheckpointReader.read(path: path), file: file, line: line) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(name), "no file name in: \(text)", file: file, line: line)
                XCTAssertTrue(text.contains(fragment), "expected '\(fragment)' in: \(text)", file: file, line: line)
            }
        }
        let good = nestedCheckpoint()
        // Flip a byte inside a storage: the CRC catches it.
        var flipped = good
        let storageStart = good.range(of: Data(leBytes([Float(0), 1, 2])))!.lowerBound
        flipped[storageStart + 5] ^= 0x40
        try expectError(flipped, "crc.pth", "CRC-32")
        try expectError(good.prefix(good.count / 2), "half.pth", "end of central directory")
        try expectError(Data(), "empty.pth", "empty")
        try expectError(Data("hello world, not a checkpoint".utf8), "text.pth", "unrecognised format")
        try expectError(Data([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]), "legacy.pth", "pre-1.6")
        try expectError(ZipBuilder.archive([("x/readme.txt", [1, 2, 3])]), "nopickle.pth", "no data.pkl")
        // A storage declared larger than its entry.
        var p = PickleBuilder()
        p.emptyDict(); p.mark(); p.string("w")
        p.tensor(storage: "0", type: "FloatStorage", numel: 1_000_000_000, offset: 0, shape: [1_000_000_000], strides: [1])
        p.setItems(); p.stop()
        try expectError(ZipBuilder.checkpoint(pickle: p.bytes, storages: [("0", leBytes([Float(1)]))]), "huge.pth", "declares 1000000000")
        // A view that runs past its storage.
        p = PickleBuilder()
        p.emptyDict(); p.mark(); p.string("w")
        p.tensor(storage: "0", type: "FloatStorage", numel: 4, offset: 2, shape: [2, 2], strides: [2, 1])
        p.setItems(); p.stop()
        try expectError(ZipBuilder.checkpoint(pickle: p.bytes, storages: [("0", leBytes([Float](repeating: 1, count: 4)))]), "view.pth", "(reading 'w')")
        // Missing storage entry, compressed entry, unknown storage type.
        p = PickleBuilder()
        p.emptyDict(); p.mark(); p.string("w")
        p.tensor(storage: "7", type: "FloatStorage", numel: 1, offset: 0, shape: [1], strides: [1])
        p.setItems(); p.stop()
        try expectError(ZipBuilder.checkpoint(pickle: p.bytes, storages: []), "missing.pth", "entry 'archive/data/7' is missing")
        try expectError(ZipBuilder.archive([("archive/data.pkl", p.bytes)], compressedMethodFor: ["archive/data.pkl"]), "deflated.pth", "compressed")
        p = PickleBuilder()
        p.emptyDict(); p.mark(); p.string("w")
        p.tensor(storage: "0", type: "ComplexFloatStorage", numel: 1, offset: 0, shape: [1], strides: [1])
        p.setItems(); p.stop()
        try expectError(ZipBuilder.checkpoint(pickle: p.bytes, storages: [("0", [0, 0, 0, 0, 0, 0, 0, 0])]), "complex.pth", "ComplexFloatStorage")
        // A pickle that nests lists 200 deep, and one that doubles a shared list 60 times.
        p = PickleBuilder()
        for _ in 0..<200 { p.op(0x5D) }  // EMPTY_LIST
        for _ in 0..<199 { p.op(0x61) }  // APPEND
        p.stop()
        try expectError(ZipBuilder.checkpoint(pickle: p.bytes, storages: []), "deep.pth", "nesting deeper")
        p = PickleBuilder()
        p.op(0x5D)
        for _ in 0..<60 { p.op(0x32); p.op(0x86) }  // DUP, TUPLE2: each level holds the previous twice
        p.stop()
        try expectError(ZipBuilder.checkpoint(pickle: p.bytes, storages: []), "bomb.pth", "too many times")
    }
}
