import CImageCodecs
import Foundation

/// JPEG through libjpeg-turbo (see `jpeg_codec.c`).
enum JPEGCodec {
    static let format = "JPEG"

    /// Decodes baseline or progressive 8-bit JPEG to grey or RGB. CMYK is an error, and so
    /// is a file that ends before its image data does. The EXIF Orientation of the first
    /// APP1 "Exif" segment is applied; sizes above `pixelLimit` or `byteLimit` are refused
    /// from the frame header.
    static func decode(_ bytes: UnsafeRawBufferPointer, name: String, byteLimit: Int, pixelLimit: Int) throws -> DecodedImage {
        try CodecBridge.decode(bytes, name: name, format: .jpeg, byteLimit: byteLimit, pixelLimit: pixelLimit, with: fk_jpeg_decode)
    }

    /// Encodes a grey or RGB image (16-bit samples are rounded to 8 bits first) as baseline
    /// JFIF with 4:2:0 chroma subsampling.
    static func encode(_ image: Image, quality: Int) throws -> Data {
        guard !image.hasAlpha else {
            throw FileFormatError(path: "", format: format, "JPEG has no alpha channel; remove it first (Image.removingAlpha())")
        }
        guard (1...100).contains(quality) else {
            throw FileFormatError(path: "", format: format, "quality \(quality) is outside 1...100")
        }
        guard image.width > 0, image.height > 0 else {
            throw FileFormatError(path: "", format: format, "cannot write an empty \(image.width)x\(image.height) image")
        }
        let bytes = try CodecBridge.bytes(of: image.converted(toBitDepth: 8).samples, format: format)
        return try bytes.withUnsafeBufferPointer { samples in
            try CodecBridge.encode(format: format) {
                fk_jpeg_encode(samples.baseAddress, UInt32(clamping: image.width), UInt32(clamping: image.height),
                               UInt32(image.channels), Int32(quality), $0)
            }
        }
    }
}
