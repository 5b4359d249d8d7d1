import Foundation
import FusionCore
@testable import FusionIO
import FusionTestSupport
import XCTest

final class SafetensorsTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = try SafetensorsFixture.temporaryDirectory()
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private typealias F = SafetensorsFixture

    // MARK: - Round trips

    func testRoundTripOfEveryDTypeIsBitExact() throws {
        let f64: [Double] = [0, -0.0, 1.5, .infinity, -.infinity, Double(bitPattern: 0x7FF8_0000_0000_0001),
                             .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        let f32: [Float] = [0, -0.0, 1 / 3, .infinity, Float(bitPattern: 0x7FC0_0001), .leastNonzeroMagnitude]
        // Zeros, one, infinities, NaN with payload, smallest subnormal, largest finite, all ones.
        let f16: [UInt16] = [0x0000, 0x8000, 0x3C00, 0x7C00, 0xFC00, 0x7E01, 0x0001, 0x7BFF, 0xFFFF]
        let bf16: [UInt16] = [0x0000, 0x8000, 0x3F80, 0x7F80, 0xFF80, 0x7FC1, 0x0001, 0x7F7F, 0xFFFF]
        let tensors = [
            try F.tensor("f64", .f64, [2, 4], bytes: F.bytes(f64)),
            try F.tensor("f32", .f32, [6], bytes: F.bytes(f32)),
            try F.tensor("f16", .f16, [3, 3], bytes: F.bytes(f16)),
            try F.tensor("bf16", .bf16, [9], bytes: F.bytes(bf16)),
            try F.tensor("i64", .i64, [4], bytes: F.bytes([Int64.min, -1, 0, Int64.max])),
            try F.tensor("i32", .i32, [2, 2], bytes: F.bytes([Int32.min, -1, 0, Int32.max])),
            try F.tensor("i16", .i16, [1, 3], bytes: F.bytes([Int16.min, 7, Int16.max])),
            try F.tensor("i8", .i8, [3], bytes: F.bytes([Int8.min, 0, Int8.max])),
            try F.tensor("u8", .u8, [5], bytes: [0, 1, 127, 128, 255]),
            try F.tensor("bool", .bool, [2, 2], bytes: [0, 1, 1, 0]),
        ]
        let metadata = ["format": "pt", "json": #"{"a": [1, 2]}"#,
                        "escapes": "café — \"quoted\" \\ back\nslash\t\u{01}\u{7F} 🚗"]
        let path = directory + "/every-dtype.safetensors"
        try SafetensorsWriter.write(tensors, metadata: metadata, to: path)
        let archive = try SafetensorsReader.read(path: path)

        XCTAssertEqual(archive.format, .safetensors)
        XCTAssertEqual(archive.metadata, metadata)
        // The official order: descending alignment, then name.
        XCTAssertEqual(archive.names, ["i64", "f64", "f32", "i32", "bf16", "f16", "i16", "i8", "u8", "bool"])
        for original in tensors {
            let read = try archive.require(original.name)
            XCTAssertEqual(read.dtype, original.dtype, original.name)
            XCTAssertEqual(read.shape, original.shape, original.name)
            XCTAssertEqual(try read.contiguousBytes(), try original.contiguousBytes(), "\(original.name) bits differ")
        }
        XCTAssertEqual(try archive.require("f16").floatValues()[2], 1)
        XCTAssertEqual(try archive.require("bf16").floatValues()[2], 1)
        XCTAssertEqual(try archive.require("i64").integerValues(), [Int64.min, -1, 0, Int64.max])
        XCTAssertEqual(try archive.require("bool").integerValues(), [0, 1, 1, 0])

        // encode() gives the bytes write() wrote.
        let encoded = try SafetensorsWriter.encode(tensors, metadata: metadata)
        XCTAssertEqual(encoded, try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func testScalarsAndEmptyTensorsRoundTrip() throws {
        let tensors = [
            try F.tensor("scalar", .f32, [], bytes: F.bytes([Float(3.25)])),
            try F.tensor("scalarI8", .i8, [], bytes: [0xFE]),
            try F.tensor("empty", .f32, [0, 3], bytes: []),
            try F.tensor("empty2", .i64, [3, 0], bytes: []),
            try F.tensor("emptyVec", .u8, [0], bytes: []),
        ]
        let data = try SafetensorsWriter.encode(tensors)
        let archive = try SafetensorsReader.read(file: MappedFile(data: data, path: "scalars.safetensors"))
        // File order; the empty tensors at offset 0 tie and go by name.
        XCTAssertEqual(archive.names, ["empty", "empty2", "scalar", "scalarI8", "emptyVec"])
        let scalar = try archive.require("scalar")
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(scalar.elementCount, 1)
        XCTAssertEqual(try scalar.floatValues(), [3.25])
        XCTAssertEqual(try archive.require("scalarI8").integerValues(), [-2])
        XCTAssertEqual(try archive.require("empty").shape, [0, 3])
        XCTAssertEqual(try archive.require("empty").floatValues(), [])
        XCTAssertEqual(try archive.require("empty2").shape, [3, 0])
        XCTAssertEqual(try archive.require("emptyVec").shape, [0])
        // No tensors at all.
        let none = try SafetensorsReader.read(file: MappedFile(data: SafetensorsWriter.encode([StoredTensor]()), path: "none.safetensors"))
        XCTAssertTrue(none.tensors.isEmpty)
    }

    func testEngineTensorsAndNarrowFloatEncodings() throws {
        let values: [Float] = [1 / 3, 65504, 1e-8, -2.5, 70000, .nan]
        let floats = Tensor(shape: [2, 3], floats: values)
        let ints = Tensor(shape: [3], ints: [-7, 0, 1 << 30])
        let bytes = Tensor(shape: [2, 2], dtype: .u8)
        bytes.bytes.copyBytes(from: [9, 8, 7, 6])
        let halves = Tensor(shape: [2], dtype: .f16)
        halves.bytes.copyBytes(from: F.bytes([UInt16(0x3C00), 0xC000]))
        let input: [(name: String, tensor: Tensor)] = [("floats", floats), ("ints", ints), ("bytes", bytes), ("halves", halves)]

        let plain = try SafetensorsReader.read(file: MappedFile(data: SafetensorsWriter.encode(input), path: "engine.safetensors"))
        XCTAssertEqual(try plain.require("floats").dtype, .f32)
        XCTAssertEqual(try plain.require("floats").contiguousBytes(), Data(F.bytes(values)))
        XCTAssertEqual(try plain.require("ints").dtype, .i32)
        XCTAssertEqual(try plain.require("ints").integerValues(), [-7, 0, 1 << 30])
        XCTAssertEqual(try plain.require("bytes").dtype, .u8)
        XCTAssertEqual(try plain.require("bytes").shape, [2, 2])
        XCTAssertEqual(try plain.require("bytes").integerValues(), [9, 8, 7, 6])
        XCTAssertEqual(try plain.require("halves").dtype, .f16)
        XCTAssertEqual(try plain.require("halves").floatValues(), [1, -2])

        for (encoding, dtype, convert) in [(SafetensorsWriter.Float32Encoding.f16, StorageDType.f16, floatToHalf),
                                           (.bf16, .bf16, floatToBFloat16)] {
            let path = directory + "/engine-\(dtype).safetensors"
            try SafetensorsWriter.write(input, float32As: encoding, to: path)
            let archive = try SafetensorsReader.read(path: path)
            let narrowed = try archive.require("floats")
            XCTAssertEqual(narrowed.dtype, dtype)
            XCTAssertEqual(narrowed.shape, [2, 3])
            XCTAssertEqual(try narrowed.contiguousBytes(), Data(F.bytes(values.map(convert))), "\(dtype) bits")
            // Only f32 data is narrowed.
            XCTAssertEqual(try archive.require("halves").dtype, .f16)
            XCTAssertEqual(try archive.require("ints").dtype, .i32)
        }
    }

    /// The byte-level examples of the official implementation's tests.
    func testEncodingMatchesTheOfficialImplementationByteForByte() throws {
        func expected(_ header: String, _ data: [UInt8] = []) -> Data {
            F.file(header: header, data: data)
        }
        let floats = F.bytes([Float](stride(from: 0, through: 5, by: 1)))
        XCTAssertEqual(try SafetensorsWriter.encode([F.tensor("attn.0", .f32, [1, 2, 3], bytes: floats)]),
                       expected(#"{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}"#, floats))
        XCTAssertEqual(try SafetensorsWriter.encode([F.tensor("attn0", .f32, [1, 1, 2, 3], bytes: floats)]),
                       expected(#"{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       "#, floats))
        XCTAssertEqual(try SafetensorsWriter.encode([StoredTensor]()), expected("{}      "))
        XCTAssertEqual(try SafetensorsWriter.encode([StoredTensor](), metadata: ["framework": "pt"]),
                       expected(#"{"__metadata__":{"framework":"pt"}}     "#))
    }

    func testHeaderIsPaddedAndDataIsAligned() throws {
        let tensors = [
            try F.tensor("a_byte", .u8, [3], bytes: [1, 2, 3]),
            try F.tensor("b_half", .f16, [3], bytes: F.bytes([UInt16](repeating: 0x3C00, count: 3))),
            try F.tensor("c_float", .f32, [1], bytes: F.bytes([Float(2)])),
            try F.tensor("d_long", .i64, [1], bytes: F.bytes([Int64(5)])),
        ]
        for name in ["x", "xy", "xyz", "xyzw", "xyzwv", "xyzwvu", "xyzwvut", "xyzwvuts"] {
            let data = try SafetensorsWriter.encode(tensors, metadata: ["k": name])
            let raw = try F.RawHeader.parse(data)
            XCTAssertEqual(raw.length % 8, 0)
            let headerText = String(decoding: data[8 ..< 8 + raw.length], as: UTF8.self)
            XCTAssertTrue(headerText.hasPrefix(#"{"__metadata__":{"k":"#), headerText)
            XCTAssertFalse(headerText.trimmingCharacters(in: .whitespaces).contains(" "), "only trailing spaces pad")
            for (key, entry) in raw.entries {
                let size = StorageDType(safetensorsName: entry.dtype)?.byteSize ?? 0
                XCTAssertEqual((8 + raw.length + entry.data_offsets[0]) % size, 0, "\(key) is not aligned in the file")
            }
        }
    }

    func testStridedViewIsWrittenInRowMajorOrder() throws {
        let storage = F.bytes([Float](stride(from: 0, through: 5, by: 1))).withUnsafeBytes { TensorStorage(copying: $0) }
        let transposed = try StoredTensor(name: "t", dtype: .f32, shape: [3, 2], strides: [1, 3], storage: storage)
        let offsetView = try StoredTensor(name: "row", dtype: .f32, shape: [2], offset: 3, storage: storage)
        let archive = try SafetensorsReader.read(file: MappedFile(data: SafetensorsWriter.encode([transposed, offsetView]), path: "strided.safetensors"))
        XCTAssertEqual(try archive.require("t").floatValues(), [0, 3, 1, 4, 2, 5])
        XCTAssertEqual(try archive.require("row").floatValues(), [3, 4])
    }

    func testWriterRejectsDuplicateAndReservedNamesWithoutTouchingTheFile() throws {
        let path = directory + "/existing.safetensors"
        try Data("previous contents".utf8).write(to: URL(fileURLWithPath: path))
        let a = try F.tensor("a", .u8, [1], bytes: [1])
        for (tensors, problem) in [([a, a], "duplicate tensor name 'a'"),
                                   ([try F.tensor("__metadata__", .u8, [1], bytes: [1])], "reserved")] {
            XCTAssertThrowsError(try SafetensorsWriter.write(tensors, to: path)) { error in
                let text = "\(error)"
                XCTAssertTrue(error is FileFormatError && text.contains(path) && text.contains(problem), text)
            }
            XCTAssertThrowsError(try SafetensorsWriter.encode(tensors))
        }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "previous contents")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["existing.safetensors"])

        let missingFolder = directory + "/no/such/folder/out.safetensors"
        XCTAssertThrowsError(try SafetensorsWriter.write([a], to: missingFolder)) { error in
            XCTAssertTrue("\(error)".contains(missingFolder), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: missingFolder))
    }

    // MARK: - Golden files

    private func goldenFiles() throws -> [String] {
        let folder = try TestData.path("golden")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".safetensors") }.sorted()
        XCTAssertFalse(names.isEmpty, "no .safetensors files in \(folder)")
        return names.map { folder + "/" + $0 }
    }

    func testGoldenFilesMatchAnIndependentParse() throws {
        for path in try goldenFiles() {
            let name = URL(fileURLWithPath: path).lastPathComponent
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            let raw = try F.RawHeader.parse(bytes)
            let archive = try SafetensorsReader.read(path: path)
            let file = try XCTUnwrap(archive.file)

            let expectedOrder = raw.entries.sorted { ($0.value.data_offsets[0], $0.key) < ($1.value.data_offsets[0], $1.key) }.map(\.key)
            XCTAssertEqual(archive.names, expectedOrder, name)
            XCTAssertEqual(archive.metadata, raw.metadata, name)
            let json = try XCTUnwrap(archive.metadata["json"], "\(name) has no metadata 'json'")
            XCTAssertTrue(try JSONSerialization.jsonObject(with: Data(json.utf8)) is [String: Any], "\(name): metadata json is not an object")

            for tensor in archive.tensors {
                let entry = try XCTUnwrap(raw.entries[tensor.name])
                XCTAssertEqual(tensor.dtype.safetensorsName, entry.dtype, "\(name) \(tensor.name)")
                XCTAssertEqual(tensor.shape, entry.shape, "\(name) \(tensor.name)")
                // Zero-copy: the values are the file's own mapped bytes at the declared offsets.
                let start = 8 + raw.length + entry.data_offsets[0]
                XCTAssertEqual(tensor.storage.bytes.baseAddress, file.base + start, "\(name) \(tensor.name) is not a view of the file")
                XCTAssertTrue(try tensor.contiguousBytes() == bytes.subdata(in: start ..< 8 + raw.length + entry.data_offsets[1]),
                              "\(name) \(tensor.name) bytes differ")
                XCTAssertEqual(try tensor.floatValues().count, tensor.elementCount)
            }
        }
    }

    func testGoldenFilesReencodeBitExactly() throws {
        for path in try goldenFiles() {
            let name = URL(fileURLWithPath: path).lastPathComponent
            let original = try Data(contentsOf: URL(fileURLWithPath: path))
            let archive = try SafetensorsReader.read(path: path)
            let encoded = try SafetensorsWriter.encode(archive.tensors, metadata: archive.metadata)
            // The golden files were written by the official implementation, and with a single
            // metadata key its output is fully determined: ours must be the same bytes.
            XCTAssertTrue(encoded == original, "\(name): re-encoded bytes differ from the file")

            let copy = directory + "/" + name
            try SafetensorsWriter.write(archive.tensors, metadata: archive.metadata, to: copy)
            let reread = try SafetensorsReader.read(path: copy)
            XCTAssertEqual(reread.names, archive.names, name)
            XCTAssertEqual(reread.metadata, archive.metadata, name)
            for (a, b) in zip(archive.tensors, reread.tensors) {
                XCTAssertEqual(a.dtype, b.dtype, "\(name) \(a.name)")
                XCTAssertEqual(a.shape, b.shape, "\(name) \(a.name)")
                XCTAssertTrue(try a.contiguousBytes() == b.contiguousBytes(), "\(name) \(a.name) values differ")
            }
            try FileManager.default.removeItem(atPath: copy)
        }
    }

    func testGoldenTokenizerFacts() throws {
        let archive = try SafetensorsReader.read(path: TestData.path("golden/tokenizer.safetensors"))
        let tokens = try archive.require("tokens")
        XCTAssertEqual(tokens.dtype, .i32)
        XCTAssertEqual(tokens.shape, [13, 77])
        let values = try tokens.integerValues()
        for row in 0 ..< 13 {
            let tokensOfRow = values[row * 77 ..< (row + 1) * 77]
            XCTAssertEqual(tokensOfRow.first, 49406, "row \(row) does not start with start-of-text")
            XCTAssertTrue(tokensOfRow.contains(49407), "row \(row) has no end-of-text")
        }
    }

    func testGoldenTextFusionFacts() throws {
        let archive = try SafetensorsReader.read(path: TestData.path("golden/textfusion_64x64.safetensors"))
        for name in ["ir", "vis", "output"] {
            let tensor = try archive.require(name)
            XCTAssertEqual(tensor.dtype, .f32, name)
            XCTAssertEqual(tensor.shape, [1, 1, 64, 64], name)
            let values = try tensor.floatValues()
            XCTAssertTrue(values.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(name) has values outside [0, 1]")
            XCTAssertGreaterThan(Set(values).count, 10, "\(name) looks constant")
        }
        let features = try archive.require("text_features")
        XCTAssertEqual(features.dtype, .f32)
        XCTAssertEqual(features.shape, [1, 512])
        XCTAssertTrue(try features.floatValues().allSatisfy(\.isFinite))
        let json = try XCTUnwrap(archive.metadata["json"])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual(object["kind"] as? String, "textfusion")
    }

    // MARK: - Errors

    private let twoFloats = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#

    private func rejects(_ data: Data, _ name: String, _ mentions: String..., line: UInt = #line) {
        assertSafetensorsRejects(data, named: name, in: directory, mentions: mentions, line: line)
    }

    private func entry(_ name: String, _ dtype: String = "F32", shape: String = "[2]", offsets: String) -> String {
        #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":\#(offsets)}"#
    }

    func testMissingAndTruncatedFiles() {
        let missing = directory + "/missing.safetensors"
        XCTAssertThrowsError(try SafetensorsReader.read(path: missing)) { error in
            let text = "\(error)"
            XCTAssertTrue(error is FileFormatError && text.contains("missing.safetensors") && text.contains("cannot open"), text)
        }
        rejects(Data(), "empty.safetensors", "0 bytes", "too short")
        rejects(Data([1, 2, 3]), "short.safetensors", "3 bytes", "too short")
        rejects(F.file(header: twoFloats, data: [UInt8](repeating: 0, count: 8)).prefix(20), "truncated-header.safetensors",
                "header length \(twoFloats.utf8.count)", "beyond the end of the file")
    }

    func testHeaderLengthOverTheLimit() {
        rejects(F.file(header: twoFloats, declaredLength: .max), "huge-length.safetensors", "18446744073709551615", "100 MB")
        rejects(F.file(header: twoFloats, declaredLength: 1 << 63), "sign-bit-length.safetensors", "100 MB")
        rejects(F.file(header: twoFloats, declaredLength: 100_000_001), "just-over.safetensors", "100 MB")
        rejects(F.file(header: twoFloats, declaredLength: 100_000_000), "at-limit.safetensors", "beyond the end of the file")
    }

    func testHeaderThatIsNotAJSONObject() {
        rejects(F.file(header: #"{"a":"#), "bad-json.safetensors", "not valid JSON")
        rejects(F.file(header: #"{"a":1 "b":2}"#), "missing-comma.safetensors", "not valid JSON")
        rejects(F.file(header: "[1, 2]"), "array.safetensors", "does not start with '{'")
        rejects(F.file(header: " {}"), "leading-space.safetensors", "does not start with '{'")
        rejects(F.file(header: ""), "empty-header.safetensors", "header is empty")
        rejects(F.file(header: #"{"a":1}"#), "entry-number.safetensors", "tensor 'a'", "expected an object")
        var invalidUTF8 = F.file(header: #"{"x":{}}"#)
        invalidUTF8[10] = 0xFF
        rejects(invalidUTF8, "utf8.safetensors", "not valid UTF-8")
        // JSONSerialization alone would decode this as UTF-16 and accept it.
        let utf16 = #"{"__metadata__":{}}"#.utf16.flatMap { F.bytes([$0.littleEndian]) }
        rejects(F.file(header: "", data: utf16, declaredLength: UInt64(utf16.count)), "utf16.safetensors", "control byte 0x0")
    }

    func testUnknownDType() {
        rejects(F.file(header: "{" + entry("w", "F8_E4M3", shape: "[8]", offsets: "[0,8]") + "}", data: .init(repeating: 0, count: 8)),
                "fp8.safetensors", "tensor 'w'", "unsupported dtype 'F8_E4M3'")
        rejects(F.file(header: "{" + entry("u", "U32", offsets: "[0,8]") + "}", data: .init(repeating: 0, count: 8)),
                "u32.safetensors", "tensor 'u'", "'U32'")
        rejects(F.file(header: "{" + entry("lower", "f32", offsets: "[0,8]") + "}", data: .init(repeating: 0, count: 8)),
                "lowercase.safetensors", "tensor 'lower'", "'f32'")
    }

    func testMissingAndMistypedFields() {
        let data = [UInt8](repeating: 0, count: 8)
        rejects(F.file(header: #"{"a":{"dtype":"F32","data_offsets":[0,8]}}"#, data: data), "no-shape.safetensors", "tensor 'a'", "missing 'shape'")
        rejects(F.file(header: #"{"a":{"shape":[2],"data_offsets":[0,8]}}"#, data: data), "no-dtype.safetensors", "tensor 'a'", "missing 'dtype'")
        rejects(F.file(header: #"{"a":{"dtype":"F32","shape":[2]}}"#, data: data), "no-offsets.safetensors", "tensor 'a'", "missing 'data_offsets'")
        rejects(F.file(header: #"{"a":{"dtype":5,"shape":[2],"data_offsets":[0,8]}}"#, data: data), "dtype-number.safetensors", "dtype is 5, not a string")
        rejects(F.file(header: #"{"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}"#, data: data), "shape-string.safetensors", "shape is the string \"2\"")
        rejects(F.file(header: "{" + entry("a", offsets: "[0]") + "}", data: data), "one-offset.safetensors", "data_offsets is an array of 1, not [begin, end]")
        rejects(F.file(header: "{" + entry("a", offsets: "{}") + "}", data: data), "offsets-object.safetensors", "data_offsets is an object")
        rejects(F.file(header: #"{"__metadata__":{"k":1}}"#), "metadata-number.safetensors", "__metadata__", "'k'", "is 1, not a string")
        rejects(F.file(header: #"{"__metadata__":["k"]}"#), "metadata-array.safetensors", "__metadata__ is an array")
    }

    func testDimensionsAndOffsetsThatAreNotNonNegativeIntegers() {
        let data = [UInt8](repeating: 0, count: 8)
        for (index, (dim, shown)) in [("-1", "-1"), ("1.5", "1.5"), ("2.0", "2.0"), ("true", "true"), ("1e30", "1e+30"),
                                      ("99999999999999999999", "99999999999999999999"), ("9223372036854775808", "9223372036854775808"),
                                      ("null", "null"), ("\"2\"", "the string")].enumerated() {
            rejects(F.file(header: "{" + entry("a", shape: "[\(dim)]", offsets: "[0,8]") + "}", data: data),
                    "bad-dim-\(index).safetensors", "tensor 'a'", "shape[0] is \(shown)", "not an integer from 0 to")
        }
        for (index, offsets) in ["[-1,8]", "[0,1e30]", "[0,18446744073709551615]", "[false,8]", "[0,8.0]"].enumerated() {
            rejects(F.file(header: "{" + entry("a", offsets: offsets) + "}", data: data),
                    "bad-offset-\(index).safetensors", "tensor 'a'", "are not integers from 0 to")
        }
    }

    func testShapeThatDoesNotMatchTheOffsets() {
        let data = [UInt8](repeating: 0, count: 16)
        rejects(F.file(header: "{" + entry("a", shape: "[3]", offsets: "[0,8]") + "}", data: .init(data[0 ..< 8])),
                "mismatch.safetensors", "tensor 'a'", "needs 12 bytes", "hold 8")
        rejects(F.file(header: "{" + entry("a", "F64", offsets: "[0,8]") + "}", data: .init(data[0 ..< 8])),
                "mismatch-dtype.safetensors", "tensor 'a'", "needs 16 bytes")
        rejects(F.file(header: "{" + entry("a", shape: "[4294967296,4294967296,4294967296]", offsets: "[0,8]") + "}", data: data),
                "overflow.safetensors", "tensor 'a'", "overflows")
        rejects(F.file(header: "{" + entry("a", shape: "[2305843009213693952]", offsets: "[0,8]") + "}", data: data),
                "byte-overflow.safetensors", "tensor 'a'", "overflows")
        rejects(F.file(header: "{" + entry("a", offsets: "[8,0]") + "}", data: data),
                "reversed.safetensors", "tensor 'a'", "[8, 0] end before they begin")
    }

    func testOverlappingOutOfRangeAndUncoveredOffsets() {
        let twelve = [UInt8](repeating: 0, count: 12)
        rejects(F.file(header: "{" + entry("a", offsets: "[0,8]") + "," + entry("b", offsets: "[4,12]") + "}", data: twelve),
                "overlap.safetensors", "tensor 'b'", "overlap tensor 'a'")
        rejects(F.file(header: "{" + entry("a", offsets: "[0,8]") + "," + entry("b", offsets: "[0,8]") + "}", data: twelve),
                "same-range.safetensors", "tensor 'b'", "overlap tensor 'a'")
        rejects(F.file(header: "{" + entry("a", offsets: "[0,8]") + "}", data: .init(twelve[0 ..< 4])),
                "out-of-range.safetensors", "tensor 'a'", "beyond the end of the data section (4 bytes)")
        rejects(F.file(header: "{" + entry("a", offsets: "[9223372036854775799,9223372036854775807]") + "}", data: twelve),
                "far-offsets.safetensors", "tensor 'a'", "beyond the end of the data section")
        rejects(F.file(header: "{" + entry("a", offsets: "[4,12]") + "}", data: twelve),
                "hole.safetensors", "tensor 'a'", "4 bytes", "no holes")
        rejects(F.file(header: "{" + entry("a", offsets: "[0,8]") + "}", data: twelve),
                "trailing.safetensors", "ends with 4 bytes after offset 8 that no tensor covers")
        rejects(F.file(header: "{}", data: [1]), "no-tensors-but-data.safetensors", "1 bytes after offset 0")
        // JSONSerialization keeps the last of duplicate keys; the lost tensor leaves a hole.
        rejects(F.file(header: "{" + entry("a", offsets: "[0,8]") + "," + entry("a", offsets: "[8,16]") + "}", data: .init(repeating: 0, count: 16)),
                "duplicate-key.safetensors", "tensor 'a'", "no holes")
    }

    func testLongNamesAreShortenedInMessages() {
        let name = String(repeating: "n", count: 10_000)
        let data = F.file(header: "{" + entry(name, "X", offsets: "[0,8]") + "}", data: .init(repeating: 0, count: 8))
        XCTAssertThrowsError(try SafetensorsReader.read(file: MappedFile(data: data, path: "long.safetensors"))) { error in
            XCTAssertLessThan("\(error)".count, 400, "\(error)")
        }
    }
}
