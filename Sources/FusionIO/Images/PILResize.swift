import Foundation

/// Pillow's `Image.resize(size, Image.BICUBIC)` on 8-bit images, value for value.
///
/// Pillow resamples separably — horizontally first, into an 8-bit intermediate, then
/// vertically — with the bicubic kernel a = -0.5, widened by the scale when shrinking
/// (antialiasing), coefficients normalised in double and applied in 22-bit fixed point with
/// rounding (`libImaging/Resample.c`). This reproduces that, so scripts that resize with PIL
/// (Text-IF's test script) are matched exactly, which PyTorch-style bicubic would not do.
public enum PILResize {
    private static let precisionBits = 32 - 8 - 2

    private static func bicubic(_ x: Double) -> Double {
        let a = -0.5, x = abs(x)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    /// For each output index: the first input index and the fixed-point weights.
    private static func coefficients(inSize: Int, outSize: Int) -> [(start: Int, weights: [Int])] {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = 2.0 * filterScale
        return (0..<outSize).map { xx in
            let center = (Double(xx) + 0.5) * scale
            let ss = 1 / filterScale
            let xmin = max(Int(center - support + 0.5), 0)          // C cast: toward zero
            let xmax = min(Int(center + support + 0.5), inSize) - xmin
            var k = (0..<max(xmax, 0)).map { bicubic((Double($0 + xmin) - center + 0.5) * ss) }
            let total = k.reduce(0, +)
            if total != 0 { k = k.map { $0 / total } }
            let one = Double(1 << precisionBits)
            return (xmin, k.map { $0 < 0 ? Int(-0.5 + $0 * one) : Int(0.5 + $0 * one) })
        }
    }

    private static func clip8(_ v: Int) -> UInt16 {
        if v >= (1 << precisionBits) << 8 { return 255 }
        if v <= 0 { return 0 }
        return UInt16(v >> precisionBits)
    }

    /// `image` (8-bit; 16-bit input is first reduced to 8 bits) resized to `width` x `height`.
    public static func bicubic(_ image: Image, width: Int, height: Int) -> Image {
        let source = image.converted(toBitDepth: 8)
        if source.width == width && source.height == height { return source }
        let c = source.channels
        var current = source.samples, w = source.width, h = source.height
        if width != w {
            let coeffs = coefficients(inSize: w, outSize: width)
            var out = [UInt16](repeating: 0, count: width * h * c)
            for y in 0..<h {
                for (x, k) in coeffs.enumerated() {
                    for ch in 0..<c {
                        var ss = 1 << (precisionBits - 1)
                        for (i, weight) in k.weights.enumerated() { ss += Int(current[(y * w + k.start + i) * c + ch]) * weight }
                        out[(y * width + x) * c + ch] = clip8(ss)
                    }
                }
            }
            current = out
            w = width
        }
        if height != h {
            let coeffs = coefficients(inSize: h, outSize: height)
            var out = [UInt16](repeating: 0, count: w * height * c)
            for (y, k) in coeffs.enumerated() {
                for x in 0..<w {
                    for ch in 0..<c {
                        var ss = 1 << (precisionBits - 1)
                        for (i, weight) in k.weights.enumerated() { ss += Int(current[((k.start + i) * w + x) * c + ch]) * weight }
                        out[(y * w + x) * c + ch] = clip8(ss)
                    }
                }
            }
            current = out
            h = height
        }
        return Image(width: w, height: h, channels: c, bitDepth: 8, samples: current)
    }
}
