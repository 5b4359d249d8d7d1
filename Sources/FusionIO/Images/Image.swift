/// A decoded raster image: 8- or 16-bit samples, interleaved, row-major.
///
/// The channel layout follows PNG: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA. Samples are held
/// as `UInt16` whatever the bit depth, in `0...maxValue` (255 or 65535); pixel `(x, y)`
/// starts at sample `(y * width + x) * channels`.
///
/// Reading, writing and encoding live in `ImageFile.swift`; colour formulas that match the
/// published fusion scripts live in `ColorConversion`.
public struct Image: Equatable, Sendable, CustomStringConvertible {
    public let width: Int
    public let height: Int
    /// 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA.
    public let channels: Int
    /// 8 or 16.
    public let bitDepth: Int
    /// `width * height * channels` samples, each in `0...maxValue`.
    public private(set) var samples: [UInt16]

    /// An image from interleaved samples. The sizes must agree (`samples.count ==
    /// width * height * channels`); sample values above `maxValue` are only caught when the
    /// image is encoded. A zero width or height is allowed here but cannot be encoded.
    public init(width: Int, height: Int, channels: Int, bitDepth: Int = 8, samples: [UInt16]) {
        precondition(width >= 0 && height >= 0, "negative image size \(width)x\(height)")
        precondition((1...4).contains(channels), "an image has 1...4 channels, not \(channels)")
        precondition(bitDepth == 8 || bitDepth == 16, "an image has 8 or 16 bits per sample, not \(bitDepth)")
        precondition(samples.count == width * height * channels,
                     "\(samples.count) samples for a \(width)x\(height) image with \(channels) channels")
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
        self.samples = samples
    }

    /// A black (and, with alpha, transparent) image.
    public init(width: Int, height: Int, channels: Int, bitDepth: Int = 8) {
        self.init(width: width, height: height, channels: channels, bitDepth: bitDepth,
                  samples: [UInt16](repeating: 0, count: max(0, width) * max(0, height) * channels))
    }

    /// Size and layout, without the samples: "Image(640x480, 3 channels, 8-bit)".
    public var description: String { "Image(\(width)x\(height), \(channels) channel\(channels == 1 ? "" : "s"), \(bitDepth)-bit)" }

    /// The largest sample value: 255 for 8-bit images, 65535 for 16-bit ones.
    public var maxValue: UInt16 { bitDepth == 8 ? 255 : 65535 }

    public var pixelCount: Int { width * height }

    /// Whether the last channel is alpha (2 or 4 channels).
    public var hasAlpha: Bool { channels == 2 || channels == 4 }

    /// Whether the colour channels are one grey channel (1 or 2 channels).
    public var isGray: Bool { channels <= 2 }

    /// The number of channels that are not alpha: 1 or 3.
    public var colorChannels: Int { hasAlpha ? channels - 1 : channels }

    /// The sample of `channel` at pixel `(x, y)`. Setting checks the value against `maxValue`.
    public subscript(x x: Int, y y: Int, channel channel: Int) -> UInt16 {
        get { samples[index(x: x, y: y, channel: channel)] }
        set {
            precondition(newValue <= maxValue, "sample \(newValue) above \(maxValue) in a \(bitDepth)-bit image")
            samples[index(x: x, y: y, channel: channel)] = newValue
        }
    }

    private func index(x: Int, y: Int, channel: Int) -> Int {
        precondition(x >= 0 && x < width && y >= 0 && y < height && channel >= 0 && channel < channels,
                     "pixel (\(x), \(y)) channel \(channel) outside a \(width)x\(height)x\(channels) image")
        return (y * width + x) * channels + channel
    }

    /// The samples of one channel, row-major.
    public func plane(_ channel: Int) -> [UInt16] {
        precondition(channel >= 0 && channel < channels, "channel \(channel) of a \(channels)-channel image")
        if channels == 1 { return samples }
        var result = [UInt16](repeating: 0, count: pixelCount)
        for i in 0..<pixelCount { result[i] = samples[i * channels + channel] }
        return result
    }
}

// MARK: - Float planes

extension Image {
    /// One channel as floats in `0...maximum`: `sample / maxValue * maximum`.
    ///
    /// With the default `maximum` of 1 this is `Float(sample) / Float(maxValue)`, one correctly
    /// rounded Float32 division, the same as `ToTensor()` or `x.float() / 255` in PyTorch and
    /// `(x / 255.0).astype(np.float32)` in numpy. With `maximum` equal to `maxValue` (e.g.
    /// 255 for an 8-bit image) the values are the samples themselves. Otherwise the scale is
    /// applied in Double and rounded to Float once.
    public func floatPlane(_ channel: Int, scaledTo maximum: Float = 1) -> [Float] {
        let source = plane(channel)
        let max = Float(maxValue)
        if maximum == 1 { return source.map { Float($0) / max } }
        if maximum == max { return source.map { Float($0) } }
        let factor = Double(maximum) / Double(maxValue)
        return source.map { Float(Double($0) * factor) }
    }

    /// The red, green and blue planes in `0...maximum` (see `floatPlane(_:scaledTo:)`); a grey
    /// image gives its one plane three times. Alpha is ignored.
    public func rgbPlanes(scaledTo maximum: Float = 1) -> (red: [Float], green: [Float], blue: [Float]) {
        if isGray {
            let grey = floatPlane(0, scaledTo: maximum)
            return (grey, grey, grey)
        }
        return (floatPlane(0, scaledTo: maximum), floatPlane(1, scaledTo: maximum), floatPlane(2, scaledTo: maximum))
    }

    /// An image from float planes in `0...maximum` (one plane per channel, 1...4 of them).
    ///
    /// Each value is mapped to `value / maximum * maxValue`, computed in Double, clamped to
    /// `0...maxValue` and rounded with `rounding` (default: to nearest, ties to even, like
    /// `np.round`; use `.towardZero` for numpy's `astype(np.uint8)` after a clip). NaN becomes 0.
    /// With `maximum` equal to `maxValue` (e.g. 255 for 8 bits) the values are not rescaled.
    public init(planes: [[Float]], width: Int, height: Int, bitDepth: Int = 8, scaledFrom maximum: Float = 1,
                rounding: FloatingPointRoundingRule = .toNearestOrEven) {
        precondition((1...4).contains(planes.count), "an image has 1...4 channels, not \(planes.count)")
        precondition(bitDepth == 8 || bitDepth == 16, "an image has 8 or 16 bits per sample, not \(bitDepth)")
        let count = width * height
        for plane in planes {
            precondition(plane.count == count, "a plane of \(plane.count) values for a \(width)x\(height) image")
        }
        let top = bitDepth == 8 ? 255.0 : 65535.0
        let factor = top / Double(maximum)
        let channels = planes.count
        var samples = [UInt16](repeating: 0, count: count * channels)
        for (c, plane) in planes.enumerated() {
            for i in 0..<count {
                let scaled = Double(plane[i]) * factor
                let clamped = scaled.isNaN ? 0 : Swift.min(Swift.max(scaled, 0), top)
                samples[i * channels + c] = UInt16(clamped.rounded(rounding))
            }
        }
        self.init(width: width, height: height, channels: channels, bitDepth: bitDepth, samples: samples)
    }
}

// MARK: - Conversions

extension Image {
    /// The same image with `bitDepth` bits per sample. 8 -> 16 multiplies by 257 (255 becomes
    /// 65535); 16 -> 8 rounds `v * 255 / 65535` to nearest.
    public func converted(toBitDepth bitDepth: Int) -> Image {
        precondition(bitDepth == 8 || bitDepth == 16, "an image has 8 or 16 bits per sample, not \(bitDepth)")
        if bitDepth == self.bitDepth { return self }
        let converted: [UInt16] = bitDepth == 16
            ? samples.map { $0 &* 257 }
            : samples.map { UInt16((UInt32($0) * 255 + 32767) / 65535) }
        return Image(width: width, height: height, channels: channels, bitDepth: bitDepth, samples: converted)
    }

    /// The image without its alpha channel (itself when it has none).
    public func removingAlpha() -> Image {
        guard hasAlpha else { return self }
        let kept = channels - 1
        var result = [UInt16](repeating: 0, count: pixelCount * kept)
        for i in 0..<pixelCount {
            for c in 0..<kept { result[i * kept + c] = samples[i * channels + c] }
        }
        return Image(width: width, height: height, channels: kept, bitDepth: bitDepth, samples: result)
    }
}
