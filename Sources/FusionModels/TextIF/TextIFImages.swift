import FusionCore
import FusionIO

/// Images in and out of Text-IF, as its test script prepares and writes them.
public enum TextIFImages {
    /// How the output is turned into an image.
    public enum Post: String, CaseIterable, Sendable {
        /// Clamp to [0, 1].
        case clamp
        /// The original script: clamp to [0, 1], then stretch min..max over the whole image to [0, 1].
        case original
    }

    /// How images are sized for the network.
    public enum Fit: String, CaseIterable, Sendable {
        /// Reflect-pad right and bottom to a multiple of 8, crop the output back: same size out.
        case pad
        /// The original script: both images resized with PIL bicubic to the visible size
        /// floored to a multiple of 16; the output keeps that size.
        case original
    }

    /// Inputs for `fit`, and the size of the image to write.
    public static func inputs(infrared: Image, visible: Image, fit: Fit) throws -> (visible: Tensor, infrared: Tensor, width: Int, height: Int) {
        switch fit {
        case .pad:
            let (v, i) = try inputs(infrared: infrared, visible: visible)
            return (v, i, visible.width, visible.height)
        case .original:
            guard infrared.width == visible.width, infrared.height == visible.height else {
                throw FusionError.invalidArgument(op: "Text-IF",
                    detail: "infrared is \(infrared.width)x\(infrared.height) but visible is \(visible.width)x\(visible.height)")
            }
            let w = visible.width / 16 * 16, h = visible.height / 16 * 16
            guard w >= 16, h >= 16 else {
                throw FusionError.invalidArgument(op: "Text-IF", detail: "image is \(visible.width)x\(visible.height); --fit original needs at least 16x16")
            }
            let greyIR = Image(planes: [infrared.converted(toBitDepth: 8).greyPlane()], width: infrared.width, height: infrared.height, bitDepth: 8, scaledFrom: 1)
            let v = PILResize.bicubic(visible.converted(toBitDepth: 8).removingAlpha(), width: w, height: h)
            let i = PILResize.bicubic(greyIR, width: w, height: h)
            let rgb = v.rgbPlanes(scaledTo: 1), grey = i.floatPlane(0, scaledTo: 1)
            return (padded([rgb.red, rgb.green, rgb.blue], height: h, width: w), padded([grey, grey, grey], height: h, width: w), w, h)
        }
    }

    /// The published prompts, by task.
    public static let taskPrompts: [(task: String, prompt: String)] = [
        ("general", "This is the infrared and visible light image fusion task."),
        ("low-light", "In the context of infrared-visible image fusion, visible images are susceptible to extremely low light degradation."),
        ("overexposure", "We're tackling the infrared-visible image fusion challenge, dealing with visible images suffering from overexposure degradation."),
        ("ir-low-contrast", "In this challenge, we're addressing the fusion of infrared and visible images, with a specific focus on the low contrast degradation in the infrared images."),
        ("ir-noise", "We're working on the fusion of infrared and visible images, with special consideration for the noise degradation affecting the infrared captures."),
        ("vis-noise", "The goal is to effectively fuse infrared and visible light images, mitigating the random noise present in visible images."),
        ("haze", "We're tackling the fusion of infrared and visible light images, specifically focusing on haze issues in the visible images."),
        ("rain", "This is the infrared-visible light fusion task, where visible images are affected by rain degradation."),
        ("blur", "This task involves integrating infrared and visible light images, focusing on the degradation caused by blur in visible images."),
        ("ir-stripe-noise", "This pertains to the fusion of infrared and visible light images, with an emphasis on addressing stripe noise degradation in the infrared images."),
    ]

    /// Network inputs [1,3,H8,W8] in [0,1], reflect-padded right and bottom to a multiple
    /// of 8 (`--fit pad`): visible RGB (grey replicated), infrared grey replicated to 3
    /// channels (a colour IR is converted like OpenCV's `BGR2GRAY`).
    public static func inputs(infrared: Image, visible: Image) throws -> (visible: Tensor, infrared: Tensor) {
        guard infrared.width == visible.width, infrared.height == visible.height else {
            throw FusionError.invalidArgument(op: "Text-IF",
                detail: "infrared is \(infrared.width)x\(infrared.height) but visible is \(visible.width)x\(visible.height)")
        }
        let h = visible.height, w = visible.width
        guard h >= 5, w >= 5 else {
            throw FusionError.invalidArgument(op: "Text-IF", detail: "image is \(w)x\(h); at least 5x5 is needed to reflect-pad to a multiple of 8")
        }
        let rgb = visible.converted(toBitDepth: 8).rgbPlanes(scaledTo: 1)
        let grey = infrared.converted(toBitDepth: 8).greyPlane()
        return (padded([rgb.red, rgb.green, rgb.blue], height: h, width: w), padded([grey, grey, grey], height: h, width: w))
    }

    static func padded(_ planes: [[Float]], height h: Int, width w: Int) -> Tensor {
        let h8 = (h + 7) / 8 * 8, w8 = (w + 7) / 8 * 8
        func reflect(_ i: Int, _ n: Int) -> Int { i < n ? i : 2 * (n - 1) - i }
        let t = Tensor(shape: [1, planes.count, h8, w8])
        let o = t.floats
        for (c, plane) in planes.enumerated() {
            for y in 0..<h8 {
                let sy = reflect(y, h)
                for x in 0..<w8 { o[(c * h8 + y) * w8 + x] = plane[sy * w + reflect(x, w)] }
            }
        }
        return t
    }

    /// The fused RGB image, cropped back to `width` x `height`.
    public static func image(fused: Tensor, width: Int, height: Int, post: Post) -> Image {
        let h8 = fused.shape[2], w8 = fused.shape[3]
        var planes = (0..<3).map { c in
            (0..<height).flatMap { y in (0..<width).map { x in min(max(fused.floats[(c * h8 + y) * w8 + x], 0), 1) } }
        }
        if post == .original {
            let all = planes.joined()
            let lo = all.min() ?? 0, hi = all.max() ?? 1
            let span = hi - lo
            planes = planes.map { $0.map { span > 0 ? ($0 - lo) / span : 0 } }
        }
        return Image(planes: planes, width: width, height: height, bitDepth: 8, scaledFrom: 1)
    }
}
