import FusionCore
import FusionIO

/// Images in and out of IF-FILM, as its `data_process.py` / `test.py` prepare and write them.
public enum FILMImages {
    /// How the grey network output becomes an image.
    public enum Post: String, CaseIterable, Sendable {
        /// Clamp to [0, 1] (the sigmoid output already is), no stretch.
        case clamp
        /// The original `test.py`: per-image `(y - min) / (max - min) * 255` in float32, cast
        /// to uint8 by truncation.
        case original
    }

    /// The network's grey input [1,1,H,W] of an image: OpenCV `BGR2GRAY` on float32, rounded,
    /// /255 (grey images as they are). With `luma`, OpenCV's 8-bit `RGB2YCrCb` Y instead
    /// (fixed point; it differs from the rounded float grey only by rounding): the Y that
    /// `--color` replaces, so the colour output's luminance is the fused grey.
    public static func grey(_ image: Image, luma: Bool = false) -> Tensor {
        let img = image.converted(toBitDepth: 8).removingAlpha()
        let plane: [Float]
        if img.colorChannels == 1 {
            plane = img.floatPlane(0, scaledTo: 255)
        } else {
            let rgb = img.rgbPlanes(scaledTo: 255)
            plane = luma ? ColorConversion.openCVGray8(red: rgb.red, green: rgb.green, blue: rgb.blue)
                : ColorConversion.openCVGrayFloat(red: rgb.red, green: rgb.green, blue: rgb.blue).map { $0.rounded(.toNearestOrEven) }
        }
        return Tensor(shape: [1, 1, img.height, img.width], floats: plane.map { $0 / 255 })
    }

    /// The test script's uint8 values of an output [1,1,H,W]: per-image min-max stretch,
    /// `* 255`, truncation (0 everywhere for a constant image, where the original divides by 0).
    public static func originalU8(_ output: [Float]) -> [UInt8] {
        guard let lo = output.min(), let hi = output.max(), hi > lo else { return [UInt8](repeating: 0, count: output.count) }
        let span = hi - lo
        return output.map { UInt8(max(0, min(255, (($0 - lo) / span) * 255)).rounded(.towardZero)) }
    }

    /// The grey values 0...255 (float, integral) of an output for `post`: clamp rounds to
    /// the nearest level, original truncates after the stretch.
    public static func greyLevels(_ output: [Float], post: Post) -> [Float] {
        switch post {
        case .original: return originalU8(output).map { Float($0) }
        case .clamp: return output.map { (min(max($0, 0), 1) * 255).rounded() }
        }
    }

    /// The image to write: grey, or with `color` the visible image's chroma (OpenCV YCrCb,
    /// delta 128) around the fused luminance, converted back with OpenCV's inverse.
    public static func image(fused: Tensor, visible: Image, post: Post, color: Bool) -> Image {
        let h = fused.shape[2], w = fused.shape[3]
        let y = greyLevels(fused.toFloatArray(), post: post)
        let vis = visible.converted(toBitDepth: 8).removingAlpha()
        guard color, vis.colorChannels == 3, vis.width == w, vis.height == h else {
            return Image(planes: [y], width: w, height: h, bitDepth: 8, scaledFrom: 255)
        }
        let rgb = recolor(luma: y, visible: vis)
        return Image(planes: [rgb.red, rgb.green, rgb.blue], width: w, height: h, bitDepth: 8, scaledFrom: 255)
    }

    /// OpenCV `RGB2YCrCb` (8-bit: Cr = (R - Y) * 0.713 + 128, Cb = (B - Y) * 0.564 + 128,
    /// each rounded and saturated) of the visible image, Y replaced by `luma` (0...255),
    /// then OpenCV's `YCrCb2RGB` (R = Y + 1.403 (Cr - 128), G = Y - 0.714 (Cr - 128) -
    /// 0.344 (Cb - 128), B = Y + 1.773 (Cb - 128), rounded and saturated).
    public static func recolor(luma: [Float], visible: Image) -> (red: [Float], green: [Float], blue: [Float]) {
        let rgb = visible.rgbPlanes(scaledTo: 255)
        let yv = ColorConversion.openCVGray8(red: rgb.red, green: rgb.green, blue: rgb.blue)
        func sat(_ v: Double) -> Float { Float(min(max(v.rounded(), 0), 255)) }
        var r = [Float](repeating: 0, count: luma.count), g = r, b = r
        for i in 0..<luma.count {
            let cr = Double(sat((Double(rgb.red[i]) - Double(yv[i])) * 0.713 + 128)) - 128
            let cb = Double(sat((Double(rgb.blue[i]) - Double(yv[i])) * 0.564 + 128)) - 128
            let y = Double(luma[i])
            r[i] = sat(y + 1.403 * cr)
            g[i] = sat(y - 0.714 * cr - 0.344 * cb)
            b[i] = sat(y + 1.773 * cb)
        }
        return (r, g, b)
    }
}
