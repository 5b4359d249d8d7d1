import CImageCodecs
import Foundation

/// PNG through libpng (see `png_codec.c`).
enum PNGCodec {
    static let format = "PNG"

    /// The 8 bytes every PNG file starts with.
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Decodes PNG bytes: palette images become RGB(A), grey below 8 bits becomes 8-bit,
    /// tRNS becomes alpha, 16-bit stays 16-bit. No gamma correction. An eXIf chunk's
    /// Orientation is applied; sizes above `pixelLimit` or `byteLimit` are refused from IHDR.
    static func decode(_ bytes: UnsafeRawBufferPointer, name: String, byteLimit: Int, pixelLimit: Int) throws -> DecodedImage {
        try CodecBridge.decode(bytes, name: name, format: .png, byteLimit: byteLimit, pixelLimit: pixelLimit, with: fk_png_decode)
    }

    /// Encodes `image` with `bitDepth` bits per sample (8 or 16), converting when it differs.
    static func encode(_ image: Image, bitDepth: Int) throws -> Data {
        guard bitDepth == 8 || bitDepth == 16 else {
            throw FileFormatError(path: "", format: format, "cannot write \(bitDepth)-bit PNG (8 or 16)")
        }
        guard image.width > 0, image.height > 0 else {
            throw FileFormatError(path: "", format: format, "cannot write an empty \(image.width)x\(image.height) image")
        }
        let colorTypes: [RawOptions.ColorType] = [.gray, .grayAlpha, .rgb, .rgba]
        let options = RawOptions(width: image.width, height: image.height, colorType: colorTypes[image.channels - 1],
                                 bitDepth: bitDepth)
        if image.bitDepth == 8 {
            for (index, sample) in image.samples.enumerated() where sample > image.maxValue {
                throw FileFormatError(path: "", format: format, "sample \(index) is \(sample), above 255 in an 8-bit image")
            }
        }
        return try encode(samples: image.converted(toBitDepth: bitDepth).samples, options: options)
    }

    /// Every PNG layout libpng writes, including palettes, 1/2/4-bit grey and Adam7
    /// interlacing, which `Image` never produces itself; tests use it to make such files.
    struct RawOptions {
        /// The IHDR colour types.
        enum ColorType: Int32 {
            case gray = 0, rgb = 2, palette = 3, grayAlpha = 4, rgba = 6
        }
        var width: Int
        var height: Int
        var colorType: ColorType
        /// 1, 2, 4, 8 or 16, as PNG allows for the colour type.
        var bitDepth: Int
        var interlaced = false
        /// 0...9, or -1 for zlib's default (6). Images are written at 1, OpenCV's `imwrite`
        /// default: about 3x faster than 6 for files about 10% larger, which keeps the
        /// encoding of a dataset run from competing with the network for the cores.
        var compressionLevel = 1
        /// RGB triples (palette images).
        var palette: [UInt8] = []
        /// tRNS alpha for the first palette entries.
        var paletteAlpha: [UInt8] = []
        /// A tRNS colour key for grey (one value) or RGB (three) images.
        var transparentKey: [UInt16]? = nil
    }

    /// Encodes raw samples: one per channel per pixel, palette indices for palette images,
    /// values below `1 << bitDepth`.
    static func encode(samples: [UInt16], options: RawOptions) throws -> Data {
        let palette = options.palette, paletteAlpha = options.paletteAlpha
        let key = options.transparentKey ?? []
        var c = fk_png_encode_options()
        c.width = UInt32(clamping: options.width)
        c.height = UInt32(clamping: options.height)
        c.color_type = options.colorType.rawValue
        c.bit_depth = Int32(clamping: options.bitDepth)
        c.interlaced = options.interlaced ? 1 : 0
        c.compression_level = Int32(clamping: options.compressionLevel)
        c.palette_count = Int32(palette.count / 3)
        c.palette_alpha_count = Int32(paletteAlpha.count)
        c.has_transparent_key = key.isEmpty ? 0 : 1
        c.transparent_key = (key.count > 0 ? key[0] : 0, key.count > 1 ? key[1] : 0, key.count > 2 ? key[2] : 0)
        let expected = options.width * options.height * (options.colorType == .gray || options.colorType == .palette
            ? 1 : options.colorType == .grayAlpha ? 2 : options.colorType == .rgb ? 3 : 4)
        guard samples.count == expected else {
            throw FileFormatError(path: "", format: format, "\(samples.count) samples where \(expected) are needed")
        }
        return try palette.withUnsafeBufferPointer { paletteBuffer in
            try paletteAlpha.withUnsafeBufferPointer { alphaBuffer in
                c.palette = paletteBuffer.baseAddress
                c.palette_alpha = alphaBuffer.baseAddress
                if options.bitDepth == 16 {
                    return try samples.withUnsafeBytes { raw in
                        try CodecBridge.encode(format: format) { fk_png_encode(raw.baseAddress, &c, $0) }
                    }
                }
                let bytes = try CodecBridge.bytes(of: samples, format: format)
                return try bytes.withUnsafeBytes { raw in
                    try CodecBridge.encode(format: format) { fk_png_encode(raw.baseAddress, &c, $0) }
                }
            }
        }
    }
}
