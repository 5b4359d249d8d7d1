/// EXIF Orientation (tag 0x0112), applied as OpenCV's `imread` and PIL's
/// `ImageOps.exif_transpose` apply it, so that the image is the one a viewer displays:
///
/// | value | stored image is shown after | PIL `Transpose`  |
/// |-------|-----------------------------|------------------|
/// | 1     | nothing                     | (none)           |
/// | 2     | mirroring left-right        | FLIP_LEFT_RIGHT  |
/// | 3     | rotating 180°               | ROTATE_180       |
/// | 4     | mirroring top-bottom        | FLIP_TOP_BOTTOM  |
/// | 5     | transposing (x <-> y)       | TRANSPOSE        |
/// | 6     | rotating 90° clockwise      | ROTATE_270       |
/// | 7     | transversing (anti-diagonal)| TRANSVERSE       |
/// | 8     | rotating 90° anticlockwise  | ROTATE_90        |
///
/// Values 5...8 swap width and height. Any other value is treated as 1.
enum ImageOrientation {
    /// The stored samples of a `width` x `height` image with `channels` interleaved channels,
    /// in the displayed orientation: the new size and the samples.
    ///
    /// Output pixel `(x, y)` is stored pixel `origin + x * dx + y * dy` (linear pixel
    /// indices into the stored image), with, for a stored `w` x `h` image:
    /// 2: `(w-1-x, y)`, 3: `(w-1-x, h-1-y)`, 4: `(x, h-1-y)`, 5: `(y, x)`, 6: `(y, h-1-x)`,
    /// 7: `(w-1-y, h-1-x)`, 8: `(w-1-y, x)`.
    static func apply(_ orientation: Int, to source: [UInt16], width w: Int, height h: Int,
                      channels: Int) -> (width: Int, height: Int, samples: [UInt16]) {
        let count = source.count
        precondition(count == w * h * channels, "\(count) samples for a \(w)x\(h)x\(channels) image")
        guard count > 0, (2...8).contains(orientation) else { return (w, h, source) }
        let last = (h - 1) * w
        let (origin, dx, dy): (Int, Int, Int)
        switch orientation {
        case 2: (origin, dx, dy) = (w - 1, -1, w)
        case 3: (origin, dx, dy) = (last + w - 1, -1, -w)
        case 4: (origin, dx, dy) = (last, 1, -w)
        case 5: (origin, dx, dy) = (0, w, 1)
        case 6: (origin, dx, dy) = (last, -w, 1)
        case 7: (origin, dx, dy) = (last + w - 1, -w, -1)
        default: (origin, dx, dy) = (w - 1, w, -1) // 8
        }
        let (outWidth, outHeight) = orientation >= 5 ? (h, w) : (w, h)
        let samples = [UInt16](unsafeUninitializedCapacity: count) { buffer, initialized in
            var out = 0
            for y in 0..<outHeight {
                var pixel = origin + y * dy
                for _ in 0..<outWidth {
                    let base = pixel * channels
                    for c in 0..<channels { buffer[out + c] = source[base + c] }
                    out += channels
                    pixel += dx
                }
            }
            initialized = count
        }
        return (outWidth, outHeight, samples)
    }
}

extension Image {
    /// The image as displayed with EXIF Orientation `orientation` (1...8; see
    /// `ImageOrientation`): what `Image.read` does to a file carrying that tag. Other values
    /// give the image itself.
    public func applyingEXIFOrientation(_ orientation: Int) -> Image {
        guard (2...8).contains(orientation) else { return self }
        let result = ImageOrientation.apply(orientation, to: samples, width: width, height: height, channels: channels)
        return Image(width: result.width, height: result.height, channels: channels, bitDepth: bitDepth,
                     samples: result.samples)
    }

    /// `width * height * channels`, or nil when a size is negative or the product overflows.
    static func sampleCount(width: Int, height: Int, channels: Int) -> Int? {
        guard width >= 0, height >= 0, channels >= 0 else { return nil }
        let (pixels, o1) = width.multipliedReportingOverflow(by: height)
        let (samples, o2) = pixels.multipliedReportingOverflow(by: channels)
        return o1 || o2 ? nil : samples
    }
}

/// A decoded file: the image in its displayed orientation, and what the file said about it.
public struct DecodedImage: Equatable, Sendable {
    /// The pixels, with the EXIF orientation already applied.
    public let image: Image
    public let format: ImageFormat
    /// The file's EXIF Orientation tag (1...8), or nil when it has none or it could not be
    /// read (a damaged EXIF block is ignored, as PIL and OpenCV do). JPEG APP1 "Exif" and
    /// PNG eXIf (before the image data) are read.
    public let exifOrientation: Int?
    /// The size as stored in the file, before the orientation was applied (width and height
    /// are swapped for orientations 5...8).
    public let storedWidth: Int
    public let storedHeight: Int
}
