import FusionCore
import FusionIO

/// The original script's conventions around the network: how images become its inputs and
/// how its output becomes an image.
public enum TextFusionImages {
    /// Network inputs from an infrared and a visible image of the same size.
    ///
    /// IR: grey (a colour-stored IR is converted as OpenCV's `IMREAD_GRAYSCALE` does) / 255.
    /// Visible: BT.601 Y (`0.299R + 0.587G + 0.114B`, clipped, not rounded) / 255, or, with
    /// `grey`, the visible image read as grey like the IR.
    public static func inputs(infrared: Image, visible: Image, grey: Bool) throws -> (visible: Tensor, infrared: Tensor) {
        guard infrared.width == visible.width, infrared.height == visible.height else {
            throw FusionError.invalidArgument(op: "TextFusion",
                detail: "infrared is \(infrared.width)x\(infrared.height) but visible is \(visible.width)x\(visible.height)")
        }
        let shape = [1, 1, visible.height, visible.width]
        let ir = Tensor(shape: shape, floats: infrared.greyPlane())
        let vis: Tensor
        if grey || visible.isGray {
            vis = Tensor(shape: shape, floats: visible.greyPlane())
        } else {
            let p = visible.rgbPlanes(scaledTo: 255)
            vis = Tensor(shape: shape, floats: ColorConversion.bt601Luma(red: p.red, green: p.green, blue: p.blue, scaledTo: 1))
        }
        return (vis, ir)
    }

    /// The fused image: `output * 255` as Y recombined with the visible image's chroma
    /// (TextFusion's Cb/Cr without offset, clipped and rounded), or a grey image with
    /// `grey` or when the visible image is grey.
    public static func image(fused: Tensor, visible: Image, grey: Bool) -> Image {
        let width = fused.shape[3], height = fused.shape[2]
        let luma = fused.toFloatArray().map { $0 * 255 }
        if grey || visible.isGray {
            return Image(planes: [luma], width: width, height: height, bitDepth: 8, scaledFrom: 255)
        }
        let p = visible.converted(toBitDepth: 8).rgbPlanes(scaledTo: 255)
        let rgb = ColorConversion.textFusionRecolor(luma: luma, red: p.red, green: p.green, blue: p.blue)
        return Image(planes: [rgb.red, rgb.green, rgb.blue], width: width, height: height, bitDepth: 8, scaledFrom: 255)
    }
}
