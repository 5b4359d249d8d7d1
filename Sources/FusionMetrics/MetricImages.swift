import FusionIO

/// How the two profiles read an image file, as their reference code does.
///
/// Both start from the 8-bit samples that libjpeg-turbo (default ISLOW DCT, fancy
/// upsampling: what OpenCV's `imread` and MATLAB's `imread` decode) or libpng give.
/// 16-bit files are reduced to 8 bits as OpenCV's `IMREAD_COLOR` does (`v >> 8`); alpha is
/// dropped (OpenCV and MATLAB's `imread` both return the colour channels only).
public enum MetricImages {
    /// Reads a PNG or JPEG file; errors name the file.
    public static func read(_ path: String) throws -> Image {
        try eightBit(Image.read(path: path).removingAlpha())
    }

    /// The image with 8-bit samples (`v >> 8` for 16-bit ones, as OpenCV).
    static func eightBit(_ image: Image) -> Image {
        guard image.bitDepth == 16 else { return image }
        return Image(width: image.width, height: image.height, channels: image.channels, bitDepth: 8,
                     samples: image.samples.map { $0 >> 8 })
    }

    /// `np.round(cv2.cvtColor(cv2.imread(path).astype(np.float32), cv2.COLOR_BGR2GRAY))`:
    /// the grey plane of the Python evaluator's `image_read_cv2(path, 'GRAY')`.
    ///
    /// `imread` gives three channels even for a grey file, so a grey image goes through the
    /// same float32 `0.114 B + 0.587 G + 0.299 R` (which gives the grey value back after
    /// rounding). `np.round` rounds half to even.
    public static func evaluatorGrey(_ image: Image) -> Plane {
        let image = eightBit(image.removingAlpha())
        let p = image.rgbPlanes(scaledTo: 255)
        let grey = ColorConversion.openCVGrayFloat(red: p.red, green: p.green, blue: p.blue)
        return Plane(width: image.width, height: image.height,
                     values: grey.map { Double($0.rounded(.toNearestOrEven)) })
    }

    /// The channels MATLAB's `imread` returns, as doubles (`double(img(:,:,k))`): one plane
    /// for a grey file, red, green, blue for a colour one.
    public static func matlabChannels(_ image: Image) -> [Plane] {
        let image = eightBit(image.removingAlpha())
        return (0..<image.channels).map { c in
            Plane(width: image.width, height: image.height, values: image.plane(c).map { Double($0) })
        }
    }

    /// MATLAB's `rgb2gray` of a uint8 image: `0.298936021293775 R + 0.587043074451121 G +
    /// 0.114020904255103 B`, rounded half away from zero to uint8. Used by the `vifb` profile
    /// only when the fused image is grey and a source is not (see Docs/metrics.md).
    public static func matlabRGB2Gray(_ channels: [Plane]) -> Plane {
        guard channels.count == 3 else { return channels[0] }
        let (r, g, b) = (channels[0].values, channels[1].values, channels[2].values)
        var out = [Double](repeating: 0, count: r.count)
        for i in 0..<out.count {
            let v = 0.298936021293775 * r[i] + 0.587043074451121 * g[i] + 0.114020904255103 * b[i]
            out[i] = min(max(v, 0), 255).rounded(.toNearestOrAwayFromZero)
        }
        return Plane(width: channels[0].width, height: channels[0].height, values: out)
    }
}
