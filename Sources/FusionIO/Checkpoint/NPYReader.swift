import Foundation
import FusionCore

/// Reads NumPy `.npy` files (format 1.0-3.0, little-endian or byte-sized types, C or
/// Fortran order) as a one-tensor archive named after the file.
public enum NPYReader {
    /// Whether `file` starts with the `.npy` magic, `\x93NUMPY`.
    public static func hasMagic(_ file: MappedFile) -> Bool {
        guard let magic = file.slice(0, 6) else { return false }
        return Array(magic) == [0x93] + Array("NUMPY".utf8)
    }

    /// The file as a one-tensor archive (what `CheckpointReader` gives for `.npy`).
    public static func readArchive(file: MappedFile) throws -> TensorArchive {
        TensorArchive(path: file.path, format: .npy, tensors: [try read(file: file)], file: file)
    }

    public static func read(path: String) throws -> StoredTensor {
        try read(file: MappedFile(path: path))
    }

    public static func read(file: MappedFile) throws -> StoredTensor {
        func fail(_ message: String) -> FileFormatError { FileFormatError(path: file.path, format: "npy", message) }
        guard let magic = file.slice(0, 8), Array(magic.prefix(6)) == [0x93] + Array("NUMPY".utf8) else {
            throw fail("not a .npy file (bad magic)")
        }
        let major = magic[6]
        let headerLength: Int, headerStart: Int
        if major == 1 {
            guard let b = file.slice(8, 2) else { throw fail("truncated header") }
            headerLength = Int(b[0]) | Int(b[1]) << 8
            headerStart = 10
        } else if major == 2 || major == 3 {
            guard let b = file.slice(8, 4) else { throw fail("truncated header") }
            headerLength = Int(b.loadUnaligned(as: UInt32.self).littleEndian)
            headerStart = 12
        } else {
            throw fail("unsupported .npy version \(major)")
        }
        guard headerLength <= 1 << 20, let raw = file.slice(headerStart, headerLength),
              let header = String(validating: raw, as: UTF8.self) else {
            throw fail("header of \(headerLength) bytes is truncated or not text")
        }
        guard let descr = field(header, "descr").map({ $0.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) }) else {
            throw fail("header has no 'descr'")
        }
        guard let dtype = StorageDType(numpyDescr: descr) else {
            throw fail("element type '\(descr)' is not supported (little-endian numbers and bool only)")
        }
        let fortran = field(header, "fortran_order") == "True"
        guard let shapeText = field(header, "shape") else { throw fail("header has no 'shape'") }
        let dims = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "()")).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let shape = try dims.map { d -> Int in
            guard let v = Int(d), v >= 0, v <= Int(Int32.max) else { throw fail("bad dimension '\(d)' in shape \(shapeText)") }
            return v
        }
        let dataStart = headerStart + headerLength
        let storage = TensorStorage(bytes: file.slice(dataStart, file.count - dataStart) ?? UnsafeRawBufferPointer(start: nil, count: 0), owner: file)
        // Every product of declared sizes is checked: dimensions each under 2^31 can still
        // multiply past Int.max.
        guard let count = checkedElementCount(shape) else {
            throw fail("shape \(shapeText) has more elements than an Int can count")
        }
        // Fortran order is the transpose's C order: strides run the other way.
        var strides: [Int]? = nil
        if fortran {
            var s = [Int](repeating: 1, count: shape.count), step = 1
            for i in 0..<shape.count {
                s[i] = step
                let (next, overflow) = step.multipliedReportingOverflow(by: max(shape[i], 1))
                guard !overflow else {
                    // Only a shape with a zero dimension gets here (its count is 0): no
                    // element is addressed, so zero strides do.
                    guard count == 0 else { throw fail("the Fortran-order strides of shape \(shapeText) overflow") }
                    s = [Int](repeating: 0, count: shape.count)
                    break
                }
                step = next
            }
            strides = s
        }
        let name = URL(fileURLWithPath: file.path).deletingPathExtension().lastPathComponent
        do {
            return try StoredTensor(name: name, dtype: dtype, shape: shape, strides: strides, storage: storage)
        } catch let error as FileFormatError {
            throw error.located(path: file.path, format: "npy")
        }
    }

    /// The text of `'key': value` in the header dict (value up to the next top-level comma).
    private static func field(_ header: String, _ key: String) -> String? {
        guard let r = header.range(of: "'\(key)':") ?? header.range(of: "\"\(key)\":") else { return nil }
        var depth = 0
        var value = ""
        for ch in header[r.upperBound...] {
            if ch == "(" { depth += 1 }
            if ch == ")" { depth -= 1 }
            if depth == 0, ch == "," || ch == "}" { break }
            value.append(ch)
            if depth < 0 { break }
        }
        return value.trimmingCharacters(in: .whitespaces)
    }
}
