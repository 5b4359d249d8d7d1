import CImageCodecs
import Foundation

/// Moving results of the C shim (`image_codecs.h`) into Swift values.
enum CodecBridge {
    /// The NUL-terminated text in one of the shim's fixed-size message buffers.
    static func text<T>(_ buffer: T) -> String {
        withUnsafeBytes(of: buffer) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Calls a shim decoder on `bytes` and turns its result into an `Image`, or into an error
    /// that names `name` and `format`. The shim's pixel buffer is always released.
    static func decode(
        _ bytes: UnsafeRawBufferPointer, name: String, format: String, byteLimit: Int,
        with decoder: (UnsafeRawPointer?, Int, UInt64, UnsafeMutablePointer<fk_decoded_image>) -> fk_status
    ) throws -> Image {
        var result = fk_decoded_image()
        let status = decoder(bytes.baseAddress, bytes.count, UInt64(max(0, byteLimit)), &result)
        defer { fk_free(result.pixels) }
        guard status == FK_OK, let pixels = result.pixels else {
            throw FileFormatError(path: name, format: format, text(result.message))
        }
        let count = Int(result.width) * Int(result.height) * Int(result.channels)
        let samples: [UInt16]
        if result.bit_depth == 16 {
            // The shim gives 16-bit samples in host byte order.
            samples = [UInt16](UnsafeBufferPointer(start: pixels.assumingMemoryBound(to: UInt16.self), count: count))
        } else {
            let source = pixels.assumingMemoryBound(to: UInt8.self)
            samples = [UInt16](unsafeUninitializedCapacity: count) { buffer, initialized in
                for i in 0..<count { buffer[i] = UInt16(source[i]) }
                initialized = count
            }
        }
        return Image(width: Int(result.width), height: Int(result.height), channels: Int(result.channels),
                     bitDepth: Int(result.bit_depth), samples: samples)
    }

    /// Calls a shim encoder and returns its bytes, or throws its message (with an empty path,
    /// for the caller to fill in with `FileFormatError.located`).
    static func encode(format: String, with encoder: (UnsafeMutablePointer<fk_encoded_file>) -> fk_status) throws -> Data {
        var result = fk_encoded_file()
        let status = encoder(&result)
        defer { fk_free(result.data) }
        guard status == FK_OK, let data = result.data else {
            throw FileFormatError(path: "", format: format, text(result.message))
        }
        return Data(bytes: data, count: result.size)
    }

    /// 8-bit samples as bytes; throws when one does not fit in 8 bits.
    static func bytes(of samples: [UInt16], format: String) throws -> [UInt8] {
        if let index = samples.firstIndex(where: { $0 > 255 }) {
            throw FileFormatError(path: "", format: format, "sample \(index) is \(samples[index]), above 255 in an 8-bit image")
        }
        return samples.map { UInt8(truncatingIfNeeded: $0) }
    }
}
