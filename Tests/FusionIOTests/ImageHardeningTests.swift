import CZlib
import Foundation
import FusionCore
@testable import FusionIO
import XCTest

/// Regression tests for the image readers' limits: the pixel limit, reading with read(2)
/// (files truncated mid-read, named pipes, devices) and EXIF orientation.
final class ImageHardeningTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = try ImageTestSupport.makeTemporaryFolder()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Asserts that `body` throws a `FileFormatError` naming `path` whose description
    /// contains `text`; returns the description.
    @discardableResult
    private func assertFileError(naming path: String, contains text: String = "", file: StaticString = #filePath,
                                 line: UInt = #line, _ body: () throws -> Void) -> String {
        do {
            try body()
            XCTFail("no error (expected one naming \(path) with '\(text)')", file: file, line: line)
        } catch let error as FileFormatError {
            let description = error.description
            XCTAssertTrue(description.contains(path), "\(description) does not name \(path)", file: file, line: line)
            XCTAssertTrue(text.isEmpty || description.contains(text), "\(description) does not contain '\(text)'",
                          file: file, line: line)
            return description
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        return ""
    }

    private func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = folder + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    // MARK: - Pixel limit

    /// A valid 1-bit grey PNG of `width` x `height` zero pixels, small however large it is.
    static func bilevelPNG(width: Int, height: Int) -> [UInt8] {
        let rowBytes = 1 + (width + 7) / 8
        let raw = [UInt8](repeating: 0, count: rowBytes * height)
        var compressedSize = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedSize))
        let status = compress2(&compressed, &compressedSize, raw, uLong(raw.count), 9)
        precondition(status == Z_OK)
        compressed.removeLast(compressed.count - Int(compressedSize))
        var png = PNGCodec.signature
        func chunk(_ type: String, _ data: [UInt8]) {
            var length = [UInt8](repeating: 0, count: 4)
            ImageTestSupport.writeBE32(UInt32(data.count), into: &length, at: 0)
            let body = Array(type.utf8) + data
            var crc = [UInt8](repeating: 0, count: 4)
            ImageTestSupport.writeBE32(ImageTestSupport.crc32(body), into: &crc, at: 0)
            png += length + body + crc
        }
        var ihdr = [UInt8](repeating: 0, count: 13)
        ImageTestSupport.writeBE32(UInt32(width), into: &ihdr, at: 0)
        ImageTestSupport.writeBE32(UInt32(height), into: &ihdr, at: 4)
        ihdr[8] = 1 // bit depth 1, colour type 0 (grey), deflate, no filter, no interlace
        chunk("IHDR", ihdr)
        chunk("IDAT", compressed)
        chunk("IEND", [])
        return png
    }

    /// The reported case: a small valid PNG declaring 20000 x 20000 pixels. Without a pixel
    /// limit it decodes (400 MB of samples, within the 2 GiB byte limit), and the engine
    /// then allocates several float planes of it.
    func testTwentyThousandSquarePNGIsRefusedByThePixelLimit() throws {
        let start = Date()
        let png = Self.bilevelPNG(width: 20000, height: 20000)
        XCTAssertLessThan(png.count, 1 << 20)
        let path = try write(png, "huge-ir.png")
        assertFileError(naming: path,
                        contains: "20000x20000 pixels (400.0 MP) exceeds the limit of 50.0 MP (raise it with --max-pixels)") {
            _ = try Image.read(path: path)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 10, "refused from the header, before decoding")
    }

    func testPixelLimitIsExactAndCheckedForPNGAndJPEG() throws {
        XCTAssertEqual(Image.defaultPixelLimit, 50_000_000)
        let image = ImageTestSupport.smoothImage(width: 30, height: 20, channels: 3)
        for (format, data) in [("png", try image.pngData()), ("jpg", try image.jpegData())] {
            let path = try write([UInt8](data), "limit.\(format)")
            XCTAssertEqual(try Image.read(path: path, pixelLimit: 600).width, 30, format)
            assertFileError(naming: path, contains: "30x20 pixels (0.0 MP) exceeds the limit of 0.0 MP") {
                _ = try Image.read(path: path, pixelLimit: 599)
            }
            assertFileError(naming: "mem.\(format)", contains: "exceeds the limit") {
                _ = try Image.decode(data, name: "mem.\(format)", pixelLimit: 0)
            }
            assertFileError(naming: "neg.\(format)", contains: "exceeds the limit") {
                _ = try Image.decode(data, name: "neg.\(format)", pixelLimit: -1)
            }
        }
        // Headers declaring more than the default limit, for both formats.
        let png = [UInt8](try image.pngData())
        for (width, height, text) in [(UInt32(7072), UInt32(7071), "7072x7071 pixels (50.0 MP) exceeds the limit of 50.0 MP"),
                                      (20000, 20000, "20000x20000 pixels (400.0 MP)"),
                                      (65535, 65535, "65535x65535 pixels (4294.8 MP)")] {
            let patched = ImageTestSupport.patchingPNGSize(png, width: width, height: height)
            assertFileError(naming: "big.png", contains: text) { _ = try Image.decode(Data(patched), name: "big.png") }
        }
        let jpeg = [UInt8](try image.jpegData())
        let hugeJPEG = ImageTestSupport.patchingJPEGSize(jpeg, width: 20000, height: 20000)
        assertFileError(naming: "big.jpg", contains: "20000x20000 pixels (400.0 MP) exceeds the limit of 50.0 MP (raise it with --max-pixels)") {
            _ = try Image.decode(Data(hugeJPEG), name: "big.jpg")
        }
        // 7071 x 7071 is within the default limit: it gets past the pixel check (and fails
        // later, for want of image data).
        let within = ImageTestSupport.patchingJPEGSize(jpeg, width: 7071, height: 7071)
        let message = assertFileError(naming: "within.jpg") { _ = try Image.decode(Data(within), name: "within.jpg") }
        XCTAssertFalse(message.contains("exceeds the limit"), message)
    }

    func testFileByteLimitFollowsThePixelLimitWithoutOverflow() throws {
        XCTAssertEqual(Image.defaultFileByteLimit, 1 << 30)
        XCTAssertEqual(Image.fileByteLimit(forPixelLimit: 0), 1 << 30)
        XCTAssertEqual(Image.fileByteLimit(forPixelLimit: -7), 1 << 30)
        XCTAssertEqual(Image.fileByteLimit(forPixelLimit: 100_000_000), 1_600_000_000 + (64 << 20))
        XCTAssertEqual(Image.fileByteLimit(forPixelLimit: Int.max), Int.max)
        XCTAssertEqual(Image.fileByteLimit(forPixelLimit: Int.max / 16), Int.max)
        XCTAssertNil(Image.sampleCount(width: Int.max, height: 2, channels: 1))
        XCTAssertNil(Image.sampleCount(width: 1 << 32, height: 1 << 31, channels: 4))
        XCTAssertEqual(Image.sampleCount(width: 65535, height: 65535, channels: 4), 65535 * 65535 * 4)
        let path = try write([UInt8](repeating: 7, count: 200), "big.bin")
        assertFileError(naming: path, contains: "200 bytes, more than the 100 bytes allowed") {
            _ = try RegularFile.bytes(path: path, maxBytes: 100, format: "image")
        }
        XCTAssertEqual(try RegularFile.bytes(path: path, maxBytes: 200, format: "image").count, 200)
    }

    // MARK: - Reading with read(2)

    func testANamedPipeIsRefusedWithoutHanging() throws {
        let path = folder + "/pipe.png"
        XCTAssertEqual(mkfifo(path, 0o600), 0, String(cString: strerror(errno)))
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        Thread.detachNewThread {
            do { _ = try Image.read(path: path); box.set("decoded") } catch { box.set("\(error)") }
            done.signal()
        }
        if done.wait(timeout: .now() + 5) == .timedOut {
            XCTFail("reading a named pipe with no writer hangs")
            // Unblock the reader: open the write end and close it (EOF).
            let fd = open(path, O_WRONLY)
            if fd >= 0 { close(fd) }
            _ = done.wait(timeout: .now() + 5)
        }
        let outcome = box.get() ?? "nothing"
        XCTAssertTrue(outcome.contains(path) && outcome.contains("not a regular file"), outcome)
    }

    func testFoldersAndDevicesAreNotRegularFiles() throws {
        assertFileError(naming: folder, contains: "not a regular file (it is a folder)") { _ = try Image.read(path: folder) }
        assertFileError(naming: "/dev/null", contains: "not a regular file (it is a character device)") {
            _ = try Image.read(path: "/dev/null")
        }
        assertFileError(naming: "/dev/zero", contains: "not a regular file") { _ = try Image.read(path: "/dev/zero") }
        let missing = folder + "/missing.png"
        assertFileError(naming: missing, contains: "cannot open: No such file or directory") { _ = try Image.read(path: missing) }
    }

    func testAFileThatShrinksOrGrowsWhileBeingReadIsAnError() throws {
        let image = ImageTestSupport.randomImage(width: 64, height: 64, channels: 3, bitDepth: 8, seed: 3)
        let png = [UInt8](try image.pngData())
        XCTAssertGreaterThan(png.count, 8192)
        let path = try write(png, "moving.png")
        // Untouched, the small chunks change nothing.
        let whole = try RegularFile.bytes(path: path, maxBytes: 1 << 20, format: "image", chunkSize: 1000)
        XCTAssertEqual(whole, png)

        func readChanging(_ change: @escaping (Int32) -> Void) throws {
            var changed = false
            _ = try RegularFile.bytes(path: path, maxBytes: 1 << 20, format: "image", chunkSize: 4096) { _ in
                guard !changed else { return }
                changed = true
                let fd = open(path, O_WRONLY)
                precondition(fd >= 0)
                change(fd)
                close(fd)
            }
        }
        assertFileError(naming: path, contains: "changed while being read") { try readChanging { ftruncate($0, 1000) } }
        _ = try write(png, "moving.png")
        assertFileError(naming: path, contains: "changed while being read") {
            try readChanging { fd in
                lseek(fd, 0, SEEK_END)
                _ = [UInt8](repeating: 1, count: 10).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, 10) }
            }
        }
        // Same size, rewritten in place (the modification time moves).
        _ = try write(png, "moving.png")
        assertFileError(naming: path, contains: "changed while being read") {
            try readChanging { fd in
                _ = [UInt8](repeating: 1, count: 10).withUnsafeBytes { pwrite(fd, $0.baseAddress, 10, 100) }
                var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
                futimens(fd, &times)
            }
        }
    }

    /// With a memory-mapped file, a truncation by another process during the decode raised
    /// SIGBUS and killed the process. Every outcome must now be the image or an error.
    func testReadingWhileAnotherThreadTruncatesTheFile() throws {
        let image = ImageTestSupport.randomImage(width: 256, height: 256, channels: 3, bitDepth: 8, seed: 4)
        let png = [UInt8](try image.pngData())
        let path = try write(png, "racing.png")
        let stop = ResultBox()
        let writerDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var round = 0
            while stop.get() == nil {
                let fd = open(path, O_WRONLY)
                if fd >= 0 {
                    ftruncate(fd, off_t(round % 3 == 0 ? 0 : png.count / (1 + round % 5)))
                    usleep(200)
                    _ = png.withUnsafeBytes { pwrite(fd, $0.baseAddress, png.count, 0) }
                    close(fd)
                }
                round += 1
                usleep(300)
            }
            writerDone.signal()
        }
        var decoded = 0, errors = 0
        let start = Date()
        while Date().timeIntervalSince(start) < 1.5 {
            do {
                let read = try Image.read(path: path)
                XCTAssertEqual(read, image)
                decoded += 1
            } catch let error as FileFormatError {
                XCTAssertTrue(error.description.contains(path), error.description)
                errors += 1
            }
        }
        stop.set("stop")
        writerDone.wait()
        print("reads during truncation: \(decoded) decoded, \(errors) errors")
        XCTAssertGreaterThan(errors, 0, "the file never changed during a read")
    }

    // MARK: - EXIF orientation

    /// An EXIF block ("Exif\0\0" + TIFF) whose IFD0 holds an ImageWidth entry and then
    /// Orientation `orientation`.
    static func exifBlock(orientation: UInt16, bigEndian: Bool, type: UInt16 = 3) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) -> [UInt8] { bigEndian ? u16(UInt16(v >> 16)) + u16(UInt16(v & 0xFFFF)) : u16(UInt16(v & 0xFFFF)) + u16(UInt16(v >> 16)) }
        var tiff: [UInt8] = bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]
        tiff += u16(42) + u32(8)
        tiff += u16(2)
        tiff += u16(0x0100) + u16(4) + u32(1) + u32(640) // ImageWidth, LONG
        let value = type == 4 ? u32(UInt32(orientation)) : u16(orientation) + [0, 0]
        tiff += u16(0x0112) + u16(type) + u32(1) + value // Orientation
        tiff += u32(0) // no next IFD
        return Array("Exif".utf8) + [0, 0] + tiff
    }

    /// JPEG bytes with an APP1 segment holding `payload` after the APP0 (JFIF) segment.
    static func splicingAPP1(_ jpeg: [UInt8], _ payload: [UInt8]) -> [UInt8] {
        precondition(jpeg[2] == 0xFF && jpeg[3] == 0xE0)
        let app0End = 4 + (Int(jpeg[4]) << 8 | Int(jpeg[5]))
        let length = payload.count + 2
        return Array(jpeg[..<app0End]) + [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload + Array(jpeg[app0End...])
    }

    /// PIL's transpositions, built from its primitives as PIL documents them.
    private static func flipLeftRight(_ i: Image) -> Image { remap(i, i.width, i.height) { x, y in (i.width - 1 - x, y) } }
    private static func flipTopBottom(_ i: Image) -> Image { remap(i, i.width, i.height) { x, y in (x, i.height - 1 - y) } }
    /// ROTATE_90: anticlockwise; the stored top-right corner becomes the top-left one.
    private static func rotate90(_ i: Image) -> Image { remap(i, i.height, i.width) { x, y in (i.width - 1 - y, x) } }
    private static func remap(_ i: Image, _ w: Int, _ h: Int, _ source: (Int, Int) -> (Int, Int)) -> Image {
        var out = Image(width: w, height: h, channels: i.channels, bitDepth: i.bitDepth)
        for y in 0..<h {
            for x in 0..<w {
                let (sx, sy) = source(x, y)
                for c in 0..<i.channels { out[x: x, y: y, channel: c] = i[x: sx, y: sy, channel: c] }
            }
        }
        return out
    }

    /// What PIL's `ImageOps.exif_transpose` shows for `orientation`.
    static func pilTranspose(_ image: Image, _ orientation: Int) -> Image {
        switch orientation {
        case 2: return flipLeftRight(image)
        case 3: return rotate90(rotate90(image))
        case 4: return flipTopBottom(image)
        case 5: return rotate90(flipLeftRight(image)) // TRANSPOSE
        case 6: return rotate90(rotate90(rotate90(image))) // ROTATE_270
        case 7: return rotate90(flipTopBottom(image)) // TRANSVERSE
        case 8: return rotate90(image)
        default: return image
        }
    }

    /// An asymmetric 8-bit RGB image with 8x8 blocks of distinct flat colours.
    private static func blockImage(blocksWide: Int, blocksHigh: Int) -> Image {
        var image = Image(width: blocksWide * 8, height: blocksHigh * 8, channels: 3)
        for y in 0..<image.height {
            for x in 0..<image.width {
                let block = (y / 8) * blocksWide + x / 8
                image[x: x, y: y, channel: 0] = UInt16(20 + block * 37 % 220)
                image[x: x, y: y, channel: 1] = UInt16(230 - block * 53 % 200)
                image[x: x, y: y, channel: 2] = UInt16(x / 8 * 60)
            }
        }
        return image
    }

    func testJPEGEXIFOrientationIsAppliedLikePIL() throws {
        let jpeg = [UInt8](try Self.blockImage(blocksWide: 4, blocksHigh: 2).jpegData(quality: 100))
        let stored = try Image.decode(Data(jpeg), name: "plain.jpg")
        XCTAssertEqual(stored.width, 32)
        XCTAssertNil(try jpeg.withUnsafeBytes { try Image.decodeWithInfo($0, name: "plain.jpg") }.exifOrientation)
        // Where the stored top-left and top-right corners are displayed (TL, TR, BL, BR).
        let corners: [Int: (String, String)] = [1: ("TL", "TR"), 2: ("TR", "TL"), 3: ("BR", "BL"), 4: ("BL", "BR"),
                                                5: ("TL", "BL"), 6: ("TR", "BR"), 7: ("BR", "TR"), 8: ("BL", "TL")]
        func pixel(_ image: Image, _ corner: String) -> [UInt16] {
            let x = corner.hasSuffix("L") ? 0 : image.width - 1, y = corner.hasPrefix("T") ? 0 : image.height - 1
            return (0..<3).map { image[x: x, y: y, channel: $0] }
        }
        for bigEndian in [false, true] {
            for type in [UInt16(3), 4] {
                for orientation in 1...8 {
                    let name = "o\(orientation)-\(bigEndian ? "MM" : "II")-\(type).jpg"
                    let file = Self.splicingAPP1(jpeg, Self.exifBlock(orientation: UInt16(orientation), bigEndian: bigEndian, type: type))
                    let path = try write(file, name)
                    let result = try Image.readWithInfo(path: path)
                    XCTAssertEqual(result.exifOrientation, orientation, name)
                    XCTAssertEqual(result.storedWidth, 32, name)
                    XCTAssertEqual(result.storedHeight, 16, name)
                    XCTAssertEqual(result.image.width, orientation >= 5 ? 16 : 32, name)
                    XCTAssertEqual(result.image.height, orientation >= 5 ? 32 : 16, name)
                    XCTAssertEqual(result.image, Self.pilTranspose(stored, orientation), name)
                    XCTAssertEqual(result.image, stored.applyingEXIFOrientation(orientation), name)
                    XCTAssertEqual(try Image.read(path: path), result.image, name)
                    let (topLeft, topRight) = try XCTUnwrap(corners[orientation])
                    XCTAssertEqual(pixel(result.image, topLeft), pixel(stored, "TL"), name)
                    XCTAssertEqual(pixel(result.image, topRight), pixel(stored, "TR"), name)
                }
            }
        }
        // A second EXIF segment is ignored (the first one counts, as in PIL).
        let twice = Self.splicingAPP1(Self.splicingAPP1(jpeg, Self.exifBlock(orientation: 3, bigEndian: false)),
                                      Self.exifBlock(orientation: 6, bigEndian: true))
        XCTAssertEqual(try twice.withUnsafeBytes { try Image.decodeWithInfo($0, name: "twice.jpg") }.exifOrientation, 6)
    }

    func testDamagedEXIFIsIgnored() throws {
        let jpeg = [UInt8](try Self.blockImage(blocksWide: 3, blocksHigh: 2).jpegData(quality: 95))
        let stored = try Image.decode(Data(jpeg), name: "plain.jpg")
        let good = Self.exifBlock(orientation: 6, bigEndian: false)
        XCTAssertEqual(try Image.decode(Data(Self.splicingAPP1(jpeg, good)), name: "good.jpg").width, stored.height)
        var damaged: [(String, [UInt8])] = []
        func patched(_ offset: Int, _ bytes: [UInt8]) -> [UInt8] {
            var block = good
            block.replaceSubrange((6 + offset)..<(6 + offset + bytes.count), with: bytes)
            return block
        }
        damaged.append(("byte order", patched(0, [0x49, 0x4D])))
        damaged.append(("magic", patched(2, [43, 0])))
        damaged.append(("IFD past the end", patched(4, [0xF0, 0, 0, 0])))
        damaged.append(("IFD at 2^32-1", patched(4, [0xFF, 0xFF, 0xFF, 0xFF])))
        damaged.append(("IFD at the last byte", patched(4, [UInt8(good.count - 6 - 1), 0, 0, 0])))
        damaged.append(("IFD ends before Orientation", patched(8, [1, 0])))
        damaged.append(("orientation 0", patched(10 + 12 + 8, [0, 0])))
        damaged.append(("orientation 9", patched(10 + 12 + 8, [9, 0])))
        damaged.append(("orientation 65535", patched(10 + 12 + 8, [0xFF, 0xFF])))
        damaged.append(("orientation type ASCII", patched(10 + 12 + 2, [2, 0])))
        damaged.append(("orientation count 0", patched(10 + 12 + 4, [0, 0, 0, 0])))
        damaged.append(("cut inside the entries", Array(good.prefix(6 + 10 + 12 + 6))))
        damaged.append(("only the header", Array(good.prefix(6 + 7))))
        damaged.append(("just Exif", Array(good.prefix(6))))
        damaged.append(("not Exif", Array("http://ns.adobe.com/xap/1.0/\u{0}<x:xmpmeta/>".utf8)))
        damaged.append(("empty", []))
        // Entries up to the end of the block are read, as PIL reads them, even if the IFD
        // claims more than fit: Orientation comes before the end here.
        let overlong = Self.splicingAPP1(jpeg, patched(8, [0xFF, 0xFF]))
        XCTAssertEqual(try overlong.withUnsafeBytes { try Image.decodeWithInfo($0, name: "overlong.jpg") }.exifOrientation, 6)
        for (what, block) in damaged {
            let file = Self.splicingAPP1(jpeg, block)
            let result = try file.withUnsafeBytes { try Image.decodeWithInfo($0, name: what) }
            XCTAssertNil(result.exifOrientation, what)
            XCTAssertEqual(result.image, stored, what)
        }
    }

    func testPNGEXIfChunkOrientationIsApplied() throws {
        // Each sample is its own stored position, so the mapping is checked exactly.
        let w = 5, h = 3
        let stored = Image(width: w, height: h, channels: 1, bitDepth: 16, samples: (0..<w * h).map { UInt16($0) })
        let png = [UInt8](try stored.pngData())
        for bigEndian in [false, true] {
            for orientation in 1...8 {
                let tiff = Array(Self.exifBlock(orientation: UInt16(orientation), bigEndian: bigEndian).dropFirst(6))
                var length = [UInt8](repeating: 0, count: 4)
                ImageTestSupport.writeBE32(UInt32(tiff.count), into: &length, at: 0)
                let body = Array("eXIf".utf8) + tiff
                var crc = [UInt8](repeating: 0, count: 4)
                ImageTestSupport.writeBE32(ImageTestSupport.crc32(body), into: &crc, at: 0)
                let file = Array(png[..<33]) + length + body + crc + Array(png[33...]) // after IHDR
                let result = try file.withUnsafeBytes { try Image.decodeWithInfo($0, name: "exif.png") }
                XCTAssertEqual(result.exifOrientation, orientation)
                XCTAssertEqual(result.image, Self.pilTranspose(stored, orientation), "orientation \(orientation)")
            }
        }
        // Spot checks, written out: orientation 6 (90° clockwise) shows the stored bottom-left
        // pixel (index 10) at the top left; orientation 8 shows the stored top-right (4) there.
        XCTAssertEqual(stored.applyingEXIFOrientation(6).samples, [10, 5, 0, 11, 6, 1, 12, 7, 2, 13, 8, 3, 14, 9, 4])
        XCTAssertEqual(stored.applyingEXIFOrientation(8).samples, [4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11, 0, 5, 10])
        XCTAssertEqual(stored.applyingEXIFOrientation(5).samples, [0, 5, 10, 1, 6, 11, 2, 7, 12, 3, 8, 13, 4, 9, 14])
        XCTAssertEqual(stored.applyingEXIFOrientation(7).samples, [14, 9, 4, 13, 8, 3, 12, 7, 2, 11, 6, 1, 10, 5, 0])
        XCTAssertEqual(stored.applyingEXIFOrientation(2).samples, [4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 14, 13, 12, 11, 10])
        XCTAssertEqual(stored.applyingEXIFOrientation(0), stored)
        XCTAssertEqual(stored.applyingEXIFOrientation(9), stored)
    }
}

/// A value shared between threads.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: String?
    func set(_ text: String) { lock.lock(); value = text; lock.unlock() }
    func get() -> String? { lock.lock(); defer { lock.unlock() }; return value }
}
