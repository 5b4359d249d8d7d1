import Foundation
import FusionCore
@testable import FusionIO
import FusionTestSupport
import XCTest

/// PNG/JPEG reading and writing (`Image`, `ImageFile.swift`, the C shim).
final class ImageTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = try ImageTestSupport.makeTemporaryFolder()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    private func contentsOfFolder() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
    }

    /// Asserts that `body` throws a `FileFormatError` whose description names `path` and
    /// contains `text`; returns the description.
    @discardableResult
    private func assertFileError(naming path: String, contains text: String = "", file: StaticString = #filePath,
                                 line: UInt = #line, _ body: () throws -> Void) -> String {
        do {
            try body()
            XCTFail("no error (expected one naming \(path))", file: file, line: line)
        } catch let error as FileFormatError {
            let description = error.description
            XCTAssertTrue(description.contains(path), "\(description) does not name \(path)", file: file, line: line)
            XCTAssertTrue(text.isEmpty || description.contains(text), "\(description) does not contain '\(text)'", file: file, line: line)
            return description
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        return ""
    }

    // MARK: - The shared test data

    func testEveryImageInTestDataDecodesWithItsHeaderSize() throws {
        let root = try TestData.path("data")
        let files = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).sorted()
        var pngCount = 0, jpegCount = 0
        let start = Date()
        for relative in files {
            let ext = (relative as NSString).pathExtension.lowercased()
            guard ext == "png" || ext == "jpg" || ext == "jpeg" else { continue }
            let path = root + "/" + relative
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let image = try Image.read(path: path)
            XCTAssertEqual(image.samples.count, image.width * image.height * image.channels)
            if ext == "png" {
                pngCount += 1
                let header = try XCTUnwrap(ImageTestSupport.pngHeaderSize(bytes), path)
                XCTAssertEqual(image.width, header.width, path)
                XCTAssertEqual(image.height, header.height, path)
                XCTAssertEqual(image.bitDepth, bytes[24] == 16 ? 16 : 8, path)
                XCTAssertEqual(image.colorChannels, bytes[25] & 2 != 0 ? 3 : 1, path)
            } else {
                jpegCount += 1
                let header = try XCTUnwrap(ImageTestSupport.jpegHeaderSize(bytes), path)
                let sof = try XCTUnwrap(ImageTestSupport.jpegFrameOffset(bytes))
                XCTAssertEqual(image.width, header.width, path)
                XCTAssertEqual(image.height, header.height, path)
                XCTAssertEqual(image.bitDepth, 8, path)
                XCTAssertEqual(image.channels, Int(bytes[sof + 9]) == 1 ? 1 : 3, path)
            }
        }
        print("decoded \(pngCount) PNG and \(jpegCount) JPEG files in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        XCTAssertEqual(pngCount, 58)
        XCTAssertEqual(jpegCount, 149)
    }

    // MARK: - Round trips

    func testPNGRoundTripsEveryLayoutExactly() throws {
        for bitDepth in [8, 16] {
            for channels in 1...4 {
                let image = ImageTestSupport.randomImage(width: 17, height: 5, channels: channels, bitDepth: bitDepth,
                                                         seed: UInt64(bitDepth * 10 + channels))
                let path = folder + "/layout-\(bitDepth)-\(channels).png"
                try image.writePNG(to: path)
                let back = try Image.read(path: path)
                XCTAssertEqual(back, image, "\(bitDepth)-bit, \(channels) channels")
            }
        }
        XCTAssertEqual(try contentsOfFolder().count, 8, "no temporary files left behind")
    }

    func testHighlyCompressedPNGPassesTheDeflateRatioCheck() throws {
        // All zeros at zlib's best compression: close to deflate's 1032:1 limit, still valid.
        let image = Image(width: 2048, height: 2048, channels: 1)
        var options = PNGCodec.RawOptions(width: 2048, height: 2048, colorType: .gray, bitDepth: 8)
        options.compressionLevel = 9
        let data = try PNGCodec.encode(samples: image.samples, options: options)
        print("2048x2048 zero PNG: \(data.count) bytes, ratio \(2048 * 2049 / data.count):1")
        XCTAssertEqual(try Image.decode(data, name: "zeros.png"), image)
    }

    func testSixteenBitPNGKeepsValuesAboveEightBits() throws {
        let samples: [UInt16] = [0x1234, 0xFFFF, 0x0100, 0x00FF, 0xABCD, 0x0001]
        let image = Image(width: 3, height: 2, channels: 1, bitDepth: 16, samples: samples)
        let path = folder + "/sixteen.png"
        try image.writePNG(to: path)
        let back = try Image.read(path: path)
        XCTAssertEqual(back.bitDepth, 16)
        XCTAssertEqual(back.samples, samples)
        XCTAssertEqual(back[x: 0, y: 0, channel: 0] & 0xFF, 0x34, "low byte survives")
        XCTAssertEqual(back.maxValue, 65535)
        // The file itself is big-endian, as PNG requires.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(bytes[24], 16)
    }

    func testPNGBitDepthConversionOnWrite() throws {
        let eight = Image(width: 4, height: 1, channels: 1, bitDepth: 8, samples: [0, 1, 128, 255])
        let wide = try Image.decode(try eight.pngData(bitDepth: 16), name: "wide.png")
        XCTAssertEqual(wide.bitDepth, 16)
        XCTAssertEqual(wide.samples, [0, 257, 128 * 257, 65535])
        let sixteen = Image(width: 5, height: 1, channels: 1, bitDepth: 16, samples: [0, 128, 129, 32896, 65535])
        let narrow = try Image.decode(try sixteen.pngData(bitDepth: 8), name: "narrow.png")
        XCTAssertEqual(narrow.bitDepth, 8)
        XCTAssertEqual(narrow.samples, [0, 0, 1, 128, 255])
    }

    func testJPEGRoundTripIsClose() throws {
        for channels in [1, 3] {
            let image = ImageTestSupport.smoothImage(width: 40, height: 24, channels: channels)
            let path = folder + "/smooth-\(channels).jpg"
            try image.writeJPEG(to: path, quality: 95)
            let back = try Image.read(path: path)
            XCTAssertEqual(back.width, 40)
            XCTAssertEqual(back.height, 24)
            XCTAssertEqual(back.channels, channels)
            XCTAssertEqual(back.bitDepth, 8)
            let differences = zip(back.samples, image.samples).map { abs(Int($0) - Int($1)) }
            let mean = Double(differences.reduce(0, +)) / Double(differences.count)
            print("JPEG q95 \(channels) channels: mean |error| \(String(format: "%.2f", mean)), max \(differences.max()!)")
            XCTAssertLessThan(mean, 2.0)
            XCTAssertLessThanOrEqual(differences.max()!, 24)
        }
        // A flat colour comes back as itself (channel order, colour conversion).
        let flat = Image(width: 16, height: 16, channels: 3, bitDepth: 8,
                         samples: (0..<256).flatMap { _ in [UInt16(200), 30, 90] })
        let flatBack = try Image.decode(try flat.jpegData(quality: 90), name: "flat.jpg")
        for (value, wanted) in zip(flatBack.samples, flat.samples) { XCTAssertLessThanOrEqual(abs(Int(value) - Int(wanted)), 3) }
        // 16-bit images are rounded to 8 bits first.
        let wide = ImageTestSupport.smoothImage(width: 16, height: 16, channels: 3).converted(toBitDepth: 16)
        let back = try Image.decode(try wide.jpegData(quality: 100), name: "wide.jpg")
        XCTAssertEqual(back.bitDepth, 8)
        XCTAssertEqual(back.channels, 3)
    }

    // MARK: - PNG layouts Image never writes (palette, low bit depths, tRNS, interlacing)

    private func decodeRaw(_ samples: [UInt16], _ options: PNGCodec.RawOptions) throws -> Image {
        let data = try PNGCodec.encode(samples: samples, options: options)
        let bytes = [UInt8](data)
        XCTAssertEqual(bytes[24], UInt8(options.bitDepth), "bit depth in IHDR")
        XCTAssertEqual(bytes[25], UInt8(options.colorType.rawValue), "colour type in IHDR")
        XCTAssertEqual(bytes[28], options.interlaced ? 1 : 0, "interlace method in IHDR")
        return try Image.decode(data, name: "raw.png")
    }

    func testPalettePNGBecomesRGBOrRGBA() throws {
        let palette: [UInt8] = [0, 0, 0, 255, 0, 0, 0, 255, 0, 10, 20, 30, 200, 100, 50]
        let indices: [UInt16] = [0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 2, 2]
        for bitDepth in [4, 8] {
            var options = PNGCodec.RawOptions(width: 4, height: 3, colorType: .palette, bitDepth: bitDepth)
            options.palette = palette
            let rgb = try decodeRaw(indices, options)
            XCTAssertEqual(rgb.channels, 3)
            XCTAssertEqual(rgb.bitDepth, 8)
            XCTAssertEqual(rgb.samples, indices.flatMap { i in (0..<3).map { UInt16(palette[Int(i) * 3 + $0]) } })

            options.paletteAlpha = [0, 128] // entries past the tRNS list are opaque
            let rgba = try decodeRaw(indices, options)
            XCTAssertEqual(rgba.channels, 4)
            let alpha: [UInt16] = [0, 128, 255, 255, 255]
            XCTAssertEqual(rgba.samples, indices.flatMap { i in (0..<3).map { UInt16(palette[Int(i) * 3 + $0]) } + [alpha[Int(i)]] })
        }
        // 1- and 2-bit palettes.
        var two = PNGCodec.RawOptions(width: 5, height: 1, colorType: .palette, bitDepth: 2)
        two.palette = Array(palette[0..<12])
        XCTAssertEqual(try decodeRaw([3, 2, 1, 0, 3], two).samples, [10, 20, 30, 0, 255, 0, 255, 0, 0, 0, 0, 0, 10, 20, 30])
        var one = PNGCodec.RawOptions(width: 9, height: 1, colorType: .palette, bitDepth: 1)
        one.palette = [1, 2, 3, 4, 5, 6]
        XCTAssertEqual(try decodeRaw([1, 0, 0, 0, 0, 0, 0, 0, 1], one).plane(0), [4, 1, 1, 1, 1, 1, 1, 1, 4])
    }

    func testLowBitDepthGreyIsScaledToEightBits() throws {
        for (bitDepth, scale) in [(1, 255), (2, 85), (4, 17)] {
            let top = (1 << bitDepth) - 1
            // 11 pixels a row, so rows end mid-byte.
            let samples = (0..<33).map { UInt16($0 * 7 % (top + 1)) }
            let image = try decodeRaw(samples, PNGCodec.RawOptions(width: 11, height: 3, colorType: .gray, bitDepth: bitDepth))
            XCTAssertEqual(image.channels, 1)
            XCTAssertEqual(image.bitDepth, 8)
            XCTAssertEqual(image.samples, samples.map { $0 * UInt16(scale) }, "\(bitDepth)-bit grey")
        }
    }

    func testTransparentKeyBecomesAlpha() throws {
        var grey = PNGCodec.RawOptions(width: 4, height: 1, colorType: .gray, bitDepth: 8)
        grey.transparentKey = [7]
        XCTAssertEqual(try decodeRaw([7, 8, 0, 7], grey).samples, [7, 0, 8, 255, 0, 255, 7, 0])

        var grey16 = PNGCodec.RawOptions(width: 3, height: 1, colorType: .gray, bitDepth: 16)
        grey16.transparentKey = [1000]
        let wide = try decodeRaw([1000, 1001, 65535], grey16)
        XCTAssertEqual(wide.bitDepth, 16)
        XCTAssertEqual(wide.samples, [1000, 0, 1001, 65535, 65535, 65535])

        var grey2 = PNGCodec.RawOptions(width: 4, height: 1, colorType: .gray, bitDepth: 2)
        grey2.transparentKey = [1]
        XCTAssertEqual(try decodeRaw([0, 1, 2, 3], grey2).samples, [0, 255, 85, 0, 170, 255, 255, 255])

        var rgb = PNGCodec.RawOptions(width: 2, height: 1, colorType: .rgb, bitDepth: 8)
        rgb.transparentKey = [10, 20, 30]
        XCTAssertEqual(try decodeRaw([10, 20, 30, 10, 20, 31], rgb).samples, [10, 20, 30, 0, 10, 20, 31, 255])
    }

    func testInterlacedPNGDecodesLikeNonInterlaced() throws {
        var palette = PNGCodec.RawOptions(width: 10, height: 10, colorType: .palette, bitDepth: 4)
        palette.palette = (0..<48).map { UInt8($0 * 5) }
        palette.paletteAlpha = [0, 50, 100]
        let cases: [(PNGCodec.RawOptions, UInt64)] = [
            (PNGCodec.RawOptions(width: 13, height: 7, colorType: .rgb, bitDepth: 8), 256),
            (PNGCodec.RawOptions(width: 9, height: 5, colorType: .gray, bitDepth: 16), 65536),
            (PNGCodec.RawOptions(width: 11, height: 3, colorType: .gray, bitDepth: 1), 2),
            (PNGCodec.RawOptions(width: 6, height: 9, colorType: .grayAlpha, bitDepth: 8), 256),
            (PNGCodec.RawOptions(width: 5, height: 4, colorType: .rgba, bitDepth: 16), 65536),
            (PNGCodec.RawOptions(width: 1, height: 1, colorType: .rgba, bitDepth: 8), 256),
            (PNGCodec.RawOptions(width: 3, height: 1, colorType: .gray, bitDepth: 8), 256),
            (palette, 16),
        ]
        var rng = SplitMix64(seed: 7)
        for (options, limit) in cases {
            let channels = [PNGCodec.RawOptions.ColorType.gray: 1, .palette: 1, .grayAlpha: 2, .rgb: 3, .rgba: 4][options.colorType]!
            let samples = (0..<options.width * options.height * channels).map { _ in UInt16(rng.next() % limit) }
            var interlaced = options
            interlaced.interlaced = true
            let plain = try decodeRaw(samples, options)
            let adam7 = try decodeRaw(samples, interlaced)
            XCTAssertEqual(adam7, plain, "\(options)")
            if options.colorType != .palette, options.bitDepth >= 8 {
                XCTAssertEqual(adam7.samples, samples, "\(options)")
            }
        }
    }

    func testRawEncoderRejectsInvalidLayouts() throws {
        XCTAssertThrowsError(try PNGCodec.encode(samples: [0], options: .init(width: 1, height: 1, colorType: .gray, bitDepth: 3))) {
            XCTAssertTrue("\($0)".contains("bit depth 3"), "\($0)")
        }
        XCTAssertThrowsError(try PNGCodec.encode(samples: [0], options: .init(width: 1, height: 1, colorType: .rgb, bitDepth: 4)))
        XCTAssertThrowsError(try PNGCodec.encode(samples: [4], options: .init(width: 1, height: 1, colorType: .gray, bitDepth: 2))) {
            XCTAssertTrue("\($0)".contains("above"), "\($0)")
        }
        var palette = PNGCodec.RawOptions(width: 2, height: 1, colorType: .palette, bitDepth: 8)
        palette.palette = [1, 2, 3]
        XCTAssertThrowsError(try PNGCodec.encode(samples: [0, 1], options: palette)) {
            XCTAssertTrue("\($0)".contains("palette index"), "\($0)")
        }
        palette.palette = []
        XCTAssertThrowsError(try PNGCodec.encode(samples: [0, 0], options: palette))
    }

    // MARK: - Formats, extensions, errors

    func testFormatIsDetectedByContentNotExtension() throws {
        let image = ImageTestSupport.randomImage(width: 6, height: 4, channels: 3, bitDepth: 8, seed: 3)
        let misnamed = folder + "/actually-a-png.jpg"
        try image.pngData().write(to: URL(fileURLWithPath: misnamed))
        XCTAssertEqual(try Image.read(path: misnamed), image)
        let jpegAsPNG = folder + "/actually-a-jpeg.png"
        try image.jpegData().write(to: URL(fileURLWithPath: jpegAsPNG))
        XCTAssertEqual(try Image.read(path: jpegAsPNG).channels, 3)
    }

    func testWriteChoosesTheFormatByExtension() throws {
        let image = ImageTestSupport.smoothImage(width: 8, height: 8, channels: 3)
        for name in ["a.png", "b.PNG", "c.jpg", "d.jpeg", "e.JPG"] {
            let path = folder + "/" + name
            try image.write(to: path)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            let format = bytes.withUnsafeBytes { ImageFormat(magic: $0) }
            XCTAssertEqual(format, name.lowercased().hasSuffix(".png") ? .png : .jpeg, name)
        }
        for name in ["f.bmp", "noextension"] {
            let path = folder + "/" + name
            assertFileError(naming: path, contains: "extension") { try image.write(to: path) }
        }
        XCTAssertEqual(try contentsOfFolder(), ["a.png", "b.PNG", "c.jpg", "d.jpeg", "e.JPG"])
    }

    func testWritingIntoAMissingFolderNamesIt() throws {
        let image = ImageTestSupport.smoothImage(width: 4, height: 4, channels: 1)
        let path = folder + "/missing/out.png"
        assertFileError(naming: path, contains: "does not exist") { try image.writePNG(to: path) }
        assertFileError(naming: folder + "/missing/out.jpg") { try image.writeJPEG(to: folder + "/missing/out.jpg") }
    }

    func testFailedEncodesLeaveNoFiles() throws {
        let image = ImageTestSupport.smoothImage(width: 4, height: 4, channels: 3)
        let path = folder + "/out.png"
        assertFileError(naming: path, contains: "12-bit") { try image.writePNG(to: path, bitDepth: 12) }
        let empty = Image(width: 0, height: 3, channels: 1)
        assertFileError(naming: path, contains: "0x3") { try empty.writePNG(to: path) }
        assertFileError(naming: folder + "/out.jpg", contains: "0x3") { try empty.writeJPEG(to: folder + "/out.jpg") }
        let alpha = Image(width: 2, height: 2, channels: 4)
        assertFileError(naming: folder + "/out.jpg", contains: "alpha") { try alpha.writeJPEG(to: folder + "/out.jpg") }
        assertFileError(naming: folder + "/out.jpg", contains: "quality") { try image.writeJPEG(to: folder + "/out.jpg", quality: 0) }
        let overflowing = Image(width: 2, height: 1, channels: 1, bitDepth: 8, samples: [3, 300])
        assertFileError(naming: path, contains: "300") { try overflowing.writePNG(to: path) }
        assertFileError(naming: folder + "/out.jpg", contains: "300") { try overflowing.writeJPEG(to: folder + "/out.jpg") }
        XCTAssertEqual(try contentsOfFolder(), [], "no output and no temporary file")

        // A failure never replaces an existing file either.
        try image.writePNG(to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try image.writePNG(to: path, bitDepth: 4))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try contentsOfFolder(), ["out.png"])
    }

    func testReadErrorsNameTheFile() throws {
        let missing = folder + "/no-such-image.png"
        assertFileError(naming: missing) { _ = try Image.read(path: missing) }
        let text = folder + "/notes.png"
        try Data("just some text\n".utf8).write(to: URL(fileURLWithPath: text))
        assertFileError(naming: text, contains: "not a PNG or JPEG") { _ = try Image.read(path: text) }
        let empty = folder + "/empty.jpg"
        try Data().write(to: URL(fileURLWithPath: empty))
        assertFileError(naming: empty, contains: "empty") { _ = try Image.read(path: empty) }
        assertFileError(naming: folder) { _ = try Image.read(path: folder) }
    }

    func testDamagedFilesReportTheLibraryMessage() throws {
        let image = ImageTestSupport.randomImage(width: 16, height: 12, channels: 3, bitDepth: 8, seed: 11)
        let png = [UInt8](try image.pngData())
        // A changed IHDR byte (height 12 -> 13): libpng's CRC check catches it.
        var damaged = png
        damaged[23] ^= 0x01
        let path = folder + "/ir.png"
        try Data(damaged).write(to: URL(fileURLWithPath: path))
        let message = assertFileError(naming: path, contains: "PNG: IHDR: CRC error") { _ = try Image.read(path: path) }
        print("damaged PNG: \(message)")
        assertFileError(naming: "cut.png", contains: "truncated") { _ = try Image.decode(Data(png.prefix(60)), name: "cut.png") }

        let jpeg = [UInt8](try image.jpegData())
        assertFileError(naming: "cut.jpg", contains: "JPEG: Premature end of JPEG file") {
            _ = try Image.decode(Data(jpeg.prefix(jpeg.count / 2)), name: "cut.jpg")
        }
        // Image data cut short but still followed by EOI: libjpeg alone would fill with grey.
        let scan = try XCTUnwrap((2..<jpeg.count - 1).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xDA })
        let shortened = Array(jpeg.prefix(scan + (jpeg.count - scan) / 2)) + [0xFF, 0xD9]
        assertFileError(naming: "short.jpg", contains: "premature end of data segment") {
            _ = try Image.decode(Data(shortened), name: "short.jpg")
        }
        // Only the trailing EOI missing: every row is there, so it decodes.
        XCTAssertEqual(try Image.decode(Data(jpeg.dropLast(2)), name: "no-eoi.jpg").width, 16)
        XCTAssertEqual(try Image.decode(Data(png.dropLast(12)), name: "no-iend.png"), image)
    }

    func testOversizedHeadersAreRejectedBeforeAllocating() throws {
        let image = ImageTestSupport.randomImage(width: 16, height: 12, channels: 3, bitDepth: 8, seed: 5)
        let png = [UInt8](try image.pngData())
        for (width, height) in [(UInt32(100_000), UInt32(10)), (10, 0x7FFF_FFFF), (0xFFFF_FFFF, 0xFFFF_FFFF)] {
            let patched = ImageTestSupport.patchingPNGSize(png, width: width, height: height)
            assertFileError(naming: "huge.png", contains: "larger than the supported 65535x65535") {
                _ = try Image.decode(Data(patched), name: "huge.png")
            }
        }
        // Within the dimension limit (and, here, a raised pixel limit), but far more image data
        // than the file could hold.
        let big = ImageTestSupport.patchingPNGSize(png, width: 60000, height: 60000)
        assertFileError(naming: "big.png", contains: "cannot fit") {
            _ = try Image.decode(Data(big), name: "big.png", pixelLimit: .max)
        }
        // The caller's byte limit.
        assertFileError(naming: "small.png", contains: "larger than the supported 100 bytes") {
            _ = try Image.decode(Data(png), name: "small.png", byteLimit: 100)
        }

        let jpeg = [UInt8](try image.jpegData())
        XCTAssertEqual(ImageTestSupport.jpegHeaderSize(jpeg)?.width, 16)
        let hugeJPEG = ImageTestSupport.patchingJPEGSize(jpeg, width: 65000, height: 65000)
        assertFileError(naming: "huge.jpg", contains: "image is 65000x65000 with 3 channels (12675000000 bytes), larger than the supported") {
            _ = try Image.decode(Data(hugeJPEG), name: "huge.jpg", pixelLimit: .max)
        }
        // libjpeg's own limit comes first above 65500.
        assertFileError(naming: "huger.jpg", contains: "Maximum supported image dimension is 65500 pixels") {
            _ = try Image.decode(Data(ImageTestSupport.patchingJPEGSize(jpeg, width: 65535, height: 8)), name: "huger.jpg")
        }
        assertFileError(naming: "small.jpg", contains: "larger than the supported 100 bytes") {
            _ = try Image.decode(Data(jpeg), name: "small.jpg", byteLimit: 100)
        }
        // Large but allowed (with a raised pixel limit): the missing image data stops the
        // decoder at once.
        let start = Date()
        let wide = ImageTestSupport.patchingJPEGSize(jpeg, width: 30000, height: 20000)
        assertFileError(naming: "wide.jpg", contains: "premature end of data segment") {
            _ = try Image.decode(Data(wide), name: "wide.jpg", pixelLimit: .max)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.0)
    }

    // MARK: - Float planes

    func testFloatPlanes() throws {
        let image = Image(width: 2, height: 1, channels: 3, bitDepth: 8, samples: [0, 51, 255, 128, 1, 2])
        XCTAssertEqual(image.floatPlane(0), [0, Float(128) / 255])
        XCTAssertEqual(image.floatPlane(1, scaledTo: 255), [51, 1])
        XCTAssertEqual(image.plane(2), [255, 2])
        let (r, g, b) = image.rgbPlanes(scaledTo: 255)
        XCTAssertEqual([r, g, b], [[0, 128], [51, 1], [255, 2]])
        let grey = Image(width: 1, height: 1, channels: 2, bitDepth: 16, samples: [65535, 7])
        XCTAssertEqual(grey.rgbPlanes().red, [1])
        XCTAssertEqual(grey.rgbPlanes().blue, [1])
        XCTAssertEqual(grey.floatPlane(0, scaledTo: 255), [255])
        XCTAssertEqual(grey.removingAlpha().samples, [65535])

        // Back from floats: scale, clamp, round half to even; NaN -> 0.
        let built = Image(planes: [[0, 0.5, 1.5, 2.5, 254.5, 300, -1, .nan]], width: 4, height: 2, scaledFrom: 255)
        XCTAssertEqual(built.samples, [0, 0, 2, 2, 254, 255, 0, 0])
        XCTAssertEqual(Image(planes: [[0.5, 2]], width: 2, height: 1).samples, [128, 255])
        let truncated = Image(planes: [[100.9, 3.5]], width: 2, height: 1, scaledFrom: 255, rounding: .towardZero)
        XCTAssertEqual(truncated.samples, [100, 3])
        let wide = Image(planes: [[1, 0.5]], width: 2, height: 1, bitDepth: 16)
        XCTAssertEqual(wide.samples, [65535, 32768])
        XCTAssertEqual(Image(planes: image.floatPlanes(), width: 2, height: 1), image)
    }
}

private extension Image {
    func floatPlanes() -> [[Float]] { (0..<channels).map { floatPlane($0) } }
}
