import FusionCore
import FusionIO

/// RFC's images in and out, as its `test.py` reads and writes them: `ir` =
/// `ToTensor(PIL convert('L'))`, `vis` = `ToTensor(convert('RGB'))`, and the RGB output as
/// `np.clip(out * 255, 0, 255).astype(np.uint8)` (truncation; the network's output is not
/// clamped and can exceed 1).
public enum RFCImages {
    /// [1, 1, H, W]: a grey file's own samples, a colour one through PIL's `L`
    /// (`(19595 R + 38470 G + 7471 B + 32768) >> 16` on 8 bits), / 255.
    public static func infrared(_ image: Image) -> Tensor {
        let img = image.converted(toBitDepth: 8).removingAlpha()
        let plane: [Float]
        if img.colorChannels == 1 {
            plane = img.floatPlane(0, scaledTo: 1)
        } else {
            let (r, g, b) = (img.plane(0), img.plane(1), img.plane(2))
            plane = (0..<img.pixelCount).map { i in
                Float((19595 * UInt32(r[i]) + 38470 * UInt32(g[i]) + 7471 * UInt32(b[i]) + 32768) >> 16) / 255
            }
        }
        return Tensor(shape: [1, 1, img.height, img.width], floats: plane)
    }

    /// [1, 3, H, W]: red, green, blue / 255 (a grey file gives its plane three times).
    public static func visible(_ image: Image) -> Tensor {
        let img = image.converted(toBitDepth: 8).removingAlpha()
        let p = img.rgbPlanes(scaledTo: 1)
        return Tensor(shape: [1, 3, img.height, img.width], floats: p.red + p.green + p.blue)
    }

    /// `output_u8` [H, W, 3] of an output [1, 3, H, W]: `clip(out * 255, 0, 255)` in float32,
    /// truncated.
    public static func outputU8(_ output: Tensor) -> [UInt8] {
        let s = output.shape, n = s[2] * s[3]
        let values = output.toFloatArray()
        var u8 = [UInt8](repeating: 0, count: 3 * n)
        for c in 0..<3 {
            for i in 0..<n {
                let v = values[c * n + i] * 255
                u8[i * 3 + c] = v.isNaN ? 0 : UInt8(min(max(v, 0), 255).rounded(.towardZero))
            }
        }
        return u8
    }

    /// The 8-bit RGB image `test.py` writes.
    public static func image(_ output: Tensor) -> Image {
        let s = output.shape, n = s[2] * s[3]
        let u8 = outputU8(output)
        let planes = (0..<3).map { c in (0..<n).map { Float(u8[$0 * 3 + c]) } }
        return Image(planes: planes, width: s[3], height: s[2], bitDepth: 8, scaledFrom: 255, rounding: .towardZero)
    }
}
