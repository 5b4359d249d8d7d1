import Foundation
import FusionCore
@testable import FusionIO
import XCTest

/// Builders and an independent header parser shared by the safetensors tests.
enum SafetensorsFixture {
    /// A file from header text and data bytes; the length field is the header's byte count
    /// unless `declaredLength` overrides it.
    static func file(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
        let json = Array(header.utf8)
        var out = Data()
        withUnsafeBytes(of: (declaredLength ?? UInt64(json.count)).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        out.append(contentsOf: data)
        return out
    }

    /// A tensor holding a copy of `bytes`.
    static func tensor(_ name: String, _ dtype: StorageDType, _ shape: [Int], bytes: [UInt8]) throws -> StoredTensor {
        let storage = bytes.withUnsafeBytes { TensorStorage(copying: $0) }
        return try StoredTensor(name: name, dtype: dtype, shape: shape, storage: storage)
    }

    /// The little-endian bytes of `values`.
    static func bytes<T>(_ values: [T]) -> [UInt8] {
        values.withUnsafeBytes { Array($0) }
    }

    /// A fresh folder under the system's temporary folder.
    static func temporaryDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    // MARK: - Independent parse

    /// A header read with `JSONDecoder` (a different parser from the reader's
    /// `JSONSerialization`) and plain byte arithmetic, to cross-check the reader.
    struct RawHeader: Decodable {
        struct Entry: Decodable {
            let dtype: String
            let shape: [Int]
            let data_offsets: [Int]
        }

        var length = 0
        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]

        private struct Key: CodingKey {
            var stringValue: String
            init(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            for key in container.allKeys {
                if key.stringValue == "__metadata__" {
                    metadata = try container.decode([String: String].self, forKey: key)
                } else {
                    entries[key.stringValue] = try container.decode(Entry.self, forKey: key)
                }
            }
        }

        /// Parses the header of `file`.
        static func parse(_ file: Data) throws -> RawHeader {
            let bytes = [UInt8](file.prefix(8))
            guard bytes.count == 8 else { throw CocoaError(.fileReadCorruptFile) }
            let length = bytes.enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            var header = try JSONDecoder().decode(RawHeader.self, from: file.subdata(in: 8 ..< 8 + length))
            header.length = length
            return header
        }
    }
}

/// Asserts that reading `data`, saved as `name` in `directory`, fails with a
/// `FileFormatError` whose description names the file and contains each of `mentions`.
func assertSafetensorsRejects(_ data: Data, named name: String, in directory: String, mentions: [String],
                              file: StaticString = #filePath, line: UInt = #line) {
    let path = directory + "/" + name
    XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: data), file: file, line: line)
    do {
        let archive = try SafetensorsReader.read(path: path)
        XCTFail("\(name): read \(archive.names) instead of failing", file: file, line: line)
    } catch let error as FileFormatError {
        let text = error.description
        XCTAssertTrue(text.contains(name), "\(text) does not name the file", file: file, line: line)
        for mention in mentions {
            XCTAssertTrue(text.contains(mention), "\(text) does not mention '\(mention)'", file: file, line: line)
        }
    } catch {
        XCTFail("\(name): unexpected error type \(type(of: error)): \(error)", file: file, line: line)
    }
}
