import Foundation

/// The image file formats FusionIO reads and writes.
public enum ImageFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    case png = "PNG"
    case jpeg = "JPEG"

    public var description: String { rawValue }

    /// The format whose magic bytes start `bytes`, or nil.
    public init?(magic bytes: UnsafeRawBufferPointer) {
        if bytes.count >= PNGCodec.signature.count, bytes.prefix(PNGCodec.signature.count).elementsEqual(PNGCodec.signature) {
            self = .png
        } else if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF {
            self = .jpeg
        } else {
            return nil
        }
    }

    /// The format a file name's extension asks for (`.png`, `.jpg`, `.jpeg`, any case), or nil.
    public init?(pathExtension path: String) {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "png": self = .png
        case "jpg", "jpeg": self = .jpeg
        default: return nil
        }
    }
}

extension Image {
    /// The largest decoded image accepted by default, in bytes of 8- or 16-bit samples
    /// (2 GiB). Decoders check a file's declared size against it before allocating.
    public static let defaultByteLimit = 1 << 31

    /// The most pixels (width * height) an image may declare by default: 50 million, about
    /// 7071 x 7071 or 8660 x 5773. Decoders check the header against it before allocating
    /// anything for the pixels; the fusion engine allocates several float planes per image,
    /// so a small file that declares 20000 x 20000 pixels would otherwise cost many GB.
    /// `Image.read(path:byteLimit:pixelLimit:)` and `decode` take another limit (the CLI's
    /// `--max-pixels`).
    public static let defaultPixelLimit = 50_000_000

    /// The largest image file read into memory by default: 1 GiB
    /// (`fileByteLimit(forPixelLimit: defaultPixelLimit)`).
    public static let defaultFileByteLimit = fileByteLimit(forPixelLimit: defaultPixelLimit)

    /// The largest file `read(path:)` accepts with `pixelLimit`: 16 bytes per pixel (more
    /// than an uncompressed 16-bit RGBA PNG or a quality-100 JPEG needs) plus 64 MiB of
    /// metadata, and never less than 1 GiB. Saturates instead of overflowing.
    public static func fileByteLimit(forPixelLimit pixelLimit: Int) -> Int {
        let (perPixel, overflow) = max(0, pixelLimit).multipliedReportingOverflow(by: 16)
        let (total, overflow2) = perPixel.addingReportingOverflow(64 << 20)
        return overflow || overflow2 ? Int.max : max(1 << 30, total)
    }

    /// Reads a PNG or JPEG file, recognised by its first bytes (not by its extension), in
    /// its displayed orientation (the EXIF Orientation tag applied, as OpenCV's `imread` and
    /// PIL's `exif_transpose` do).
    ///
    /// Every error is a `FileFormatError` naming `path`: a missing or unreadable file, one
    /// that is not a regular file (folder, named pipe, device), one larger than
    /// `fileByteLimit(forPixelLimit: pixelLimit)`, one that changed while being read, an
    /// unknown format, a damaged or truncated file, or a declared size above `byteLimit`
    /// bytes of samples or `pixelLimit` pixels. The file is read with `read(2)`, not mapped.
    public static func read(path: String, byteLimit: Int = defaultByteLimit,
                            pixelLimit: Int = defaultPixelLimit) throws -> Image {
        try readWithInfo(path: path, byteLimit: byteLimit, pixelLimit: pixelLimit).image
    }

    /// `read(path:byteLimit:pixelLimit:)` with what the file said: format, EXIF orientation
    /// and stored size.
    public static func readWithInfo(path: String, byteLimit: Int = defaultByteLimit,
                                    pixelLimit: Int = defaultPixelLimit) throws -> DecodedImage {
        let bytes = try RegularFile.bytes(path: path, maxBytes: fileByteLimit(forPixelLimit: pixelLimit), format: "image")
        return try bytes.withUnsafeBytes { try decodeWithInfo($0, name: path, byteLimit: byteLimit, pixelLimit: pixelLimit) }
    }

    /// Decodes PNG or JPEG bytes held in memory; `name` stands for the file in errors.
    public static func decode(_ data: Data, name: String, byteLimit: Int = defaultByteLimit,
                              pixelLimit: Int = defaultPixelLimit) throws -> Image {
        try data.withUnsafeBytes { try decodeWithInfo($0, name: name, byteLimit: byteLimit, pixelLimit: pixelLimit).image }
    }

    /// Decodes PNG or JPEG bytes; `name` stands for the file in errors.
    public static func decode(_ bytes: UnsafeRawBufferPointer, name: String, byteLimit: Int = defaultByteLimit,
                              pixelLimit: Int = defaultPixelLimit) throws -> Image {
        try decodeWithInfo(bytes, name: name, byteLimit: byteLimit, pixelLimit: pixelLimit).image
    }

    /// `decode(_:name:byteLimit:pixelLimit:)` with what the file said.
    public static func decodeWithInfo(_ bytes: UnsafeRawBufferPointer, name: String, byteLimit: Int = defaultByteLimit,
                                      pixelLimit: Int = defaultPixelLimit) throws -> DecodedImage {
        switch ImageFormat(magic: bytes) {
        case .png: return try PNGCodec.decode(bytes, name: name, byteLimit: byteLimit, pixelLimit: pixelLimit)
        case .jpeg: return try JPEGCodec.decode(bytes, name: name, byteLimit: byteLimit, pixelLimit: pixelLimit)
        case nil:
            let start = bytes.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")
            let what = bytes.isEmpty ? "the file is empty" : "it starts with \(start)"
            throw FileFormatError(path: name, format: "image", "not a PNG or JPEG file (\(what))")
        }
    }

    /// The image as a PNG file with `bitDepth` bits per sample (8 or 16; default: the
    /// image's own). Converting 8 -> 16 bits multiplies by 257; 16 -> 8 rounds.
    public func pngData(bitDepth: Int? = nil) throws -> Data {
        try PNGCodec.encode(self, bitDepth: bitDepth ?? self.bitDepth)
    }

    /// The image as a baseline JPEG file with `quality` 1...100 (default 95, OpenCV's
    /// `imwrite` default). Grey and RGB only: an image with alpha is an error. 16-bit samples
    /// are rounded to 8 bits.
    public func jpegData(quality: Int = 95) throws -> Data {
        try JPEGCodec.encode(self, quality: quality)
    }

    /// Writes a PNG file atomically (see `pngData(bitDepth:)`): on any error, nothing is left
    /// at `path` or beside it. Errors name `path`.
    public func writePNG(to path: String, bitDepth: Int? = nil) throws {
        try Image.writeAtomically(to: path, format: .png) { try pngData(bitDepth: bitDepth) }
    }

    /// Writes a JPEG file atomically (see `jpegData(quality:)`). Errors name `path`.
    public func writeJPEG(to path: String, quality: Int = 95) throws {
        try Image.writeAtomically(to: path, format: .jpeg) { try jpegData(quality: quality) }
    }

    /// Writes PNG or JPEG as `path`'s extension says (`.png`, `.jpg`, `.jpeg`), with the
    /// defaults of `writePNG(to:bitDepth:)` and `writeJPEG(to:quality:)`.
    public func write(to path: String) throws {
        switch ImageFormat(pathExtension: path) {
        case .png: try writePNG(to: path)
        case .jpeg: try writeJPEG(to: path)
        case nil:
            let ext = URL(fileURLWithPath: path).pathExtension
            throw FileFormatError(path: path, format: "image",
                                  "unknown image file extension \(ext.isEmpty ? "(none)" : "'.\(ext)'"); use .png, .jpg or .jpeg")
        }
    }

    private static func writeAtomically(to path: String, format: ImageFormat, _ encode: () throws -> Data) throws {
        let data: Data
        do {
            data = try encode()
        } catch let error as FileFormatError {
            throw error.located(path: path, format: format.description)
        }
        try AtomicFile.write(data, to: path, format: format.description)
    }
}
