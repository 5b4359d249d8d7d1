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

    /// Calls a shim decoder on `bytes` and turns its result into an `Image` in the displayed
    /// orientation (the file's EXIF Orientation applied), or into an error that names `name`
    /// and `format`. The shim's pixel buffer is always released.
    static func decode(
        _ bytes: UnsafeRawBufferPointer, name: String, format: ImageFormat, byteLimit: Int, pixelLimit: Int,
        with decoder: (UnsafeRawPointer?, Int, UInt64, UInt64, UnsafeMutablePointer<fk_decoded_image>) -> fk_status
    ) throws -> DecodedImage {
        var result = fk_decoded_image()
        let status = decoder(bytes.baseAddress, bytes.count, UInt64(max(0, byteLimit)), UInt64(max(0, pixelLimit)), &result)
        defer { fk_free(result.pixels) }
        guard status == FK_OK, let pixels = result.pixels else {
            throw FileFormatError(path: name, format: format.description, text(result.message))
        }
        let width = Int(result.width), height = Int(result.height), channels = Int(result.channels)
        guard let count = Image.sampleCount(width: width, height: height, channels: channels),
              count * (result.bit_depth == 16 ? 2 : 1) <= result.byte_count else {
            throw FileFormatError(path: name, format: format.description,
                                  "decoder returned \(width)x\(height)x\(channels) samples in \(result.byte_count) bytes")
        }
        let orientation = (1...8).contains(Int(result.exif_orientation)) ? Int(result.exif_orientation) : nil
        let stored: [UInt16]
        if result.bit_depth == 16 {
            // The shim gives 16-bit samples in host byte order.
            stored = [UInt16](UnsafeBufferPointer(start: pixels.assumingMemoryBound(to: UInt16.self), count: count))
        } else {
            let source = pixels.assumingMemoryBound(to: UInt8.self)
            stored = [UInt16](unsafeUninitializedCapacity: count) { buffer, initialized in
                for i in 0..<count { buffer[i] = UInt16(source[i]) }
                initialized = count
            }
        }
        let oriented = ImageOrientation.apply(orientation ?? 1, to: stored, width: width, height: height, channels: channels)
        let image = Image(width: oriented.width, height: oriented.height, channels: channels,
                          bitDepth: Int(result.bit_depth), samples: oriented.samples)
        return DecodedImage(image: image, format: format, exifOrientation: orientation, storedWidth: width, storedHeight: height)
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
