import FusionCore

// Resize (Shaders/resize.comp), F.interpolate(align_corners=False): nearest (PyTorch's
// float32 floor(dst * (in / out)), the scales divided here), bilinear, bicubic (a = -0.75,
// clamped taps), with source coordinates computed exactly in integers.
// Antialiased bilinear: PyTorch's float32 scale, centre and weights (scales and inverse
// scales divided here).
// One thread per output element; (n, c) planes are split into ranges that fit a binding.

extension EncodeContext {
    func encodeResize(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .resize(mode, _, _) = node.op else { return }
        let x = inputs[0]
        try lightCheck([x, output])
        let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
        let ho = output.shape[2], wo = output.shape[3]
        guard output.count > 0 else { return }
        let modeIndex: Int
        switch mode {
        case .nearest: modeIndex = 0
        case .bilinear: modeIndex = 1
        case .bicubic: modeIndex = 2
        case .bilinearAntialias: modeIndex = 3
        }
        // Source coordinates of the linear modes are computed exactly in 32-bit integers:
        // (2 dst + 1) * in over 2 out; nearest takes float32 scales divided on the host.
        let fits = mode == .nearest ? ho <= 1 << 24 && wo <= 1 << 24
                                    : 2 * ho * h <= Int(Int32.max) && 2 * wo * w <= Int(Int32.max)
        guard fits else {
            throw FusionError.limitExceeded(op: opName, detail: "resize \(h)x\(w) -> \(ho)x\(wo) overflows 32-bit coordinate math")
        }
        let big = h * w >= ho * wo ? x : output
        for r in try lightItemRanges(planes, itemElements: max(h * w, ho * wo), tensorForError: big, access: .read) {
            let (xb, xOff) = try lightBind(x, .read, elements: (r.lowerBound * h * w)..<(r.upperBound * h * w))
            let (yb, yOff) = try lightBind(output, .write, elements: (r.lowerBound * ho * wo)..<(r.upperBound * ho * wo))
            var args = ShaderArguments()
            args.ints([r.count * ho * wo, h, w, ho, wo, xOff, yOff])
            args.float(Float(h) / Float(ho))
            args.float(Float(w) / Float(wo))
            // Antialiased bilinear: PyTorch's float32 1 / scale for downsampled axes.
            args.float(Self.antialiasInverseScale(h, ho))
            args.float(Self.antialiasInverseScale(w, wo))
            try lightDispatch("resize.comp", defines: [("RESIZE_MODE", "\(modeIndex)")], bindings: [xb, yb],
                              arguments: args, items: r.count * ho * wo)
        }
    }

    /// `float(1.0 / scale)` when the axis shrinks (scale = float32 in / out >= 1), else 1,
    /// as ATen's `_compute_weights_aa` computes `invscale`.
    static func antialiasInverseScale(_ input: Int, _ output: Int) -> Float {
        let scale = Float(input) / Float(output)
        return scale >= 1 ? Float(1.0 / Double(scale)) : 1
    }
}
