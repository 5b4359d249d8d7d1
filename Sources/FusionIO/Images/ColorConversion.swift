/// Colour formulas of the scripts and libraries the fusion papers used, each named for
/// what it reproduces, so results can be compared with published outputs value for value.
///
/// All work on float planes (one value per pixel, row-major) in the 0...255 scale, as
/// `Image.rgbPlanes(scaledTo: 255)` gives them. The planes of one call must have equal counts.
public enum ColorConversion {
    // MARK: TextFusion

    /// BT.601 luma as TextFusion's script computes it: `0.299R + 0.587G + 0.114B`, clipped to
    /// 0...255, not rounded, then scaled to `0...maximum` (TextFusion feeds the network Y/255:
    /// pass `scaledTo: 1`).
    ///
    /// The script does this in numpy on uint8 arrays, where a Python float times a uint8 array
    /// is float64; so this sums in Double, left to right, divides by 255 in Double too, and
    /// rounds to Float once at the end. That reproduces the network inputs of the TextFusion
    /// golden cases bit for bit; rounding Y to Float before dividing does not (1 ulp off on
    /// about a fifth of the pixels).
    public static func bt601Luma(red: [Float], green: [Float], blue: [Float], scaledTo maximum: Float = 255) -> [Float] {
        checkCounts(red, green, blue)
        let scale = Double(maximum)
        return (0..<red.count).map { i in
            let y = clip255(0.299 * Double(red[i]) + 0.587 * Double(green[i]) + 0.114 * Double(blue[i]))
            return Float(maximum == 255 ? y : y * scale / 255)
        }
    }

    /// TextFusion's chroma pair, without the usual +128 offset (so both are centred on 0):
    /// `Cb = -0.169R - 0.331G + 0.5B`, `Cr = 0.5R - 0.419G - 0.081B`, in Double (see
    /// `bt601Luma`), not clipped, rounded to Float. For the script's colour path use
    /// `textFusionRecolor(luma:red:green:blue:)`, which keeps the chroma in Double: going
    /// through these Float values changes 2 of the 1.3 million pixels of the golden case.
    public static func textFusionChroma(red: [Float], green: [Float], blue: [Float]) -> (cb: [Float], cr: [Float]) {
        checkCounts(red, green, blue)
        var cb = [Float](repeating: 0, count: red.count), cr = cb
        for i in 0..<red.count {
            let (b, r) = chroma(Double(red[i]), Double(green[i]), Double(blue[i]))
            cb[i] = Float(b)
            cr[i] = Float(r)
        }
        return (cb, cr)
    }

    /// TextFusion's inverse: `R = Y + 1.402Cr`, `G = Y - 0.344136Cb - 0.714136Cr`,
    /// `B = Y + 1.772Cb` (all 0...255 scale, chroma without offset), each clipped to 0...255
    /// and rounded to nearest, ties to even (`np.clip` then `np.round`), in Double.
    public static func textFusionRGB(y: [Float], cb: [Float], cr: [Float]) -> (red: [Float], green: [Float], blue: [Float]) {
        checkCounts(y, cb, cr)
        var red = [Float](repeating: 0, count: y.count), green = red, blue = red
        for i in 0..<y.count {
            (red[i], green[i], blue[i]) = rgb(Double(y[i]), Double(cb[i]), Double(cr[i]))
        }
        return (red, green, blue)
    }

    /// The whole colour path of TextFusion's script: the fused luma (0...255, e.g. the network
    /// output times 255 in Float) recombined with the chroma of the visible image's RGB planes
    /// (0...255), then clipped and rounded half to even as `textFusionRGB(y:cb:cr:)` does. The
    /// chroma stays in Double throughout, as in the numpy original; this reproduces the
    /// `textfusion_rgb` golden case exactly.
    public static func textFusionRecolor(luma: [Float], red: [Float], green: [Float], blue: [Float])
        -> (red: [Float], green: [Float], blue: [Float]) {
        checkCounts(luma, red, green, blue)
        var r = [Float](repeating: 0, count: luma.count), g = r, b = r
        for i in 0..<luma.count {
            let (cb, cr) = chroma(Double(red[i]), Double(green[i]), Double(blue[i]))
            (r[i], g[i], b[i]) = rgb(Double(luma[i]), cb, cr)
        }
        return (r, g, b)
    }

    private static func chroma(_ r: Double, _ g: Double, _ b: Double) -> (cb: Double, cr: Double) {
        (-0.169 * r - 0.331 * g + 0.5 * b, 0.5 * r - 0.419 * g - 0.081 * b)
    }

    private static func rgb(_ y: Double, _ cb: Double, _ cr: Double) -> (Float, Float, Float) {
        let r = y + 1.402 * cr
        let g = y - 0.344136 * cb - 0.714136 * cr
        let b = y + 1.772 * cb
        return (Float(clip255(r).rounded(.toNearestOrEven)), Float(clip255(g).rounded(.toNearestOrEven)),
                Float(clip255(b).rounded(.toNearestOrEven)))
    }

    // MARK: OpenCV

    /// `cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)` on a uint8 image: OpenCV's fixed-point
    /// `(R*4899 + G*9617 + B*1868 + 8192) >> 14` (0.299, 0.587, 0.114 in Q14).
    /// Inputs are taken as uint8: rounded to nearest and clamped to 0...255 first.
    public static func openCVGray8(red: [Float], green: [Float], blue: [Float]) -> [Float] {
        checkCounts(red, green, blue)
        return (0..<red.count).map { i in
            let sum = uint8(red[i]) * 4899 + uint8(green[i]) * 9617 + uint8(blue[i]) * 1868 + 8192
            return Float(sum >> 14)
        }
    }

    /// `cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)` on a float32 image: OpenCV's scalar loop
    /// `b*0.114f + g*0.587f + r*0.299f`, in Float, in that order, without clipping or
    /// rounding (the fusion evaluators round afterwards).
    public static func openCVGrayFloat(red: [Float], green: [Float], blue: [Float]) -> [Float] {
        checkCounts(red, green, blue)
        let cb: Float = 0.114, cg: Float = 0.587, cr: Float = 0.299
        return (0..<red.count).map { i in
            // Separate statements so the compiler cannot contract them into fused multiply-adds.
            let b = blue[i] * cb
            let g = green[i] * cg
            let r = red[i] * cr
            return (b + g) + r
        }
    }

    // MARK: PIL

    /// Pillow's `Image.convert("L")` from RGB: `(R*19595 + G*38470 + B*7471 + 0x8000) >> 16`.
    /// Inputs are taken as uint8: rounded to nearest and clamped to 0...255 first.
    public static func pilGray(red: [Float], green: [Float], blue: [Float]) -> [Float] {
        checkCounts(red, green, blue)
        return (0..<red.count).map { i in
            let sum = uint8(red[i]) * 19595 + uint8(green[i]) * 38470 + uint8(blue[i]) * 7471 + 0x8000
            return Float(sum >> 16)
        }
    }

    // MARK: helpers

    private static func clip255(_ value: Double) -> Double { min(max(value, 0), 255) }

    private static func uint8(_ value: Float) -> Int {
        value.isNaN ? 0 : Int(min(max(value, 0), 255).rounded(.toNearestOrEven))
    }

    private static func checkCounts(_ planes: [Float]...) {
        precondition(planes.allSatisfy { $0.count == planes[0].count }, "planes of \(planes.map(\.count)) values")
    }
}
