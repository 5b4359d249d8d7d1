/// How a spatial op fills samples outside the image.
public enum PaddingMode: String, Sendable, CaseIterable {
    case zero, reflect
}

/// Resampling filter of `resize`, with PyTorch `F.interpolate` semantics
/// (`align_corners=False`; bicubic uses a = -0.75 and clamps taps at the border).
public enum ResizeMode: String, Sendable, CaseIterable {
    case nearest, bilinear, bicubic
    /// `F.interpolate(mode='bilinear', antialias=True)` (torchvision `Resize` on tensors):
    /// separable, width then height; per axis `scale = in / out`, `support = max(scale, 1)`,
    /// taps `int(center - support + 0.5) ..< int(center + support + 0.5)` (clamped to the
    /// image) around `center = scale * (i + 0.5)` with triangle weights
    /// `max(0, 1 - |(j - center + 0.5) / max(scale, 1)|)` normalised to sum 1. Scale, centre
    /// and weights are computed in float32 exactly as PyTorch does for float32 images.
    /// Upsampling it is plain bilinear; downsampling a triangle filter of radius `scale`.
    case bilinearAntialias

    /// PyTorch's legacy `nearest` source index (`upsample_nearest2d`, `nearest_idx`):
    /// `min(floor(dst * scale), input - 1)` with `scale = Float(input) / Float(output)` and
    /// the product in float32, exactly as ATen computes it. It differs from the exact
    /// `floor(dst * input / output)` for some sizes (e.g. 84 -> 288, 288 -> 111).
    @inline(__always)
    public static func nearestIndex(_ dst: Int, input: Int, output: Int) -> Int {
        let scale = Float(input) / Float(output)
        return min(Int((Float(dst) * scale).rounded(.down)), input - 1)
    }
}

public enum UnaryKind: Equatable, Sendable {
    case relu
    case leakyReLU(slope: Float)
    /// Exact GELU, `x * 0.5 * (1 + erf(x / sqrt(2)))`.
    case gelu
    /// CLIP's `x * sigmoid(1.702 x)`.
    case quickGELU
    case tanh
    case sigmoid
    /// `x * scale + shift`.
    case affine(scale: Float, shift: Float)

    public var name: String {
        switch self {
        case .relu: return "relu"
        case .leakyReLU: return "leaky_relu"
        case .gelu: return "gelu"
        case .quickGELU: return "quick_gelu"
        case .tanh: return "tanh"
        case .sigmoid: return "sigmoid"
        case .affine: return "scale"
        }
    }
}

public enum BinaryKind: String, Sendable, CaseIterable {
    case add, sub, mul, div
}

public struct Conv2DAttributes: Equatable, Sendable {
    public var stride: (Int, Int)
    /// Padding (top, bottom, left, right).
    public var padding: (Int, Int, Int, Int)
    public var dilation: (Int, Int)
    public var groups: Int
    public var paddingMode: PaddingMode

    public init(stride: (Int, Int), padding: (Int, Int, Int, Int),
                dilation: (Int, Int) = (1, 1), groups: Int = 1, paddingMode: PaddingMode = .zero) {
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.paddingMode = paddingMode
    }

    /// Symmetric padding `p` on every side.
    public init(stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1, paddingMode: PaddingMode = .zero) {
        self.init(stride: (stride, stride), padding: (padding, padding, padding, padding),
                  dilation: (dilation, dilation), groups: groups, paddingMode: paddingMode)
    }

    public static func == (a: Conv2DAttributes, b: Conv2DAttributes) -> Bool {
        a.stride == b.stride && a.padding == b.padding && a.dilation == b.dilation
            && a.groups == b.groups && a.paddingMode == b.paddingMode
    }
}

/// `ConvTranspose2d` settings (PyTorch semantics): output size per axis is
/// `(in - 1) * stride - 2 * padding + kernel + outputPadding`.
public struct ConvTranspose2DAttributes: Equatable, Sendable {
    public var stride: (Int, Int)
    /// Padding (height, width) removed from each side of the full result.
    public var padding: (Int, Int)
    /// Extra rows / columns at the bottom / right (PyTorch `output_padding`, < stride).
    public var outputPadding: (Int, Int)
    public var groups: Int

    public init(stride: (Int, Int), padding: (Int, Int) = (0, 0), outputPadding: (Int, Int) = (0, 0), groups: Int = 1) {
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.groups = groups
    }

    public init(stride: Int = 1, padding: Int = 0, outputPadding: Int = 0, groups: Int = 1) {
        self.init(stride: (stride, stride), padding: (padding, padding), outputPadding: (outputPadding, outputPadding), groups: groups)
    }

    public static func == (a: ConvTranspose2DAttributes, b: ConvTranspose2DAttributes) -> Bool {
        a.stride == b.stride && a.padding == b.padding && a.outputPadding == b.outputPadding && a.groups == b.groups
    }
}

/// The reduction of `globalPool` and `channelReduce`.
public enum PoolKind: String, Sendable, CaseIterable {
    case max, mean
}

/// One operation of the graph. Inputs are listed per case; every op has one output.
public enum Op: Sendable {
    /// x [N,C,H,W], weight [O, C/groups, kh, kw], optional bias [O] -> [N,O,Ho,Wo].
    case conv2d(Conv2DAttributes)
    /// x [N,Cin,H,W], weight [Cin, Cout/groups, kh, kw], optional bias [Cout] -> [N,Cout,Ho,Wo]
    /// (PyTorch `ConvTranspose2d`).
    case convTranspose2d(ConvTranspose2DAttributes)
    /// `conv2d(conv2d(norm(x), pointwise), depthwise)` in one pass (made by the
    /// `fuse-pointwise-depthwise` pass, so Restormer blocks never store the LayerNorm output
    /// nor the 1x1 output): x [N,C,H,W], then, when `normEps` is set, the LayerNorm-over-
    /// channels weight [C] and bias [C], then the 1x1 weight [M,C,1,1] (one group, no bias)
    /// and the depthwise weight [M,1,kh,kw] (groups M, stride 1, dilation 1, zero padding,
    /// no bias) -> [N,M,Ho,Wo].
    case pointwiseDepthwise(normEps: Float?, depthwise: Conv2DAttributes)
    /// a [..., M, K] (or [..., K, M] transposed), b [..., K, N] (or [..., N, K]) -> [..., M, N];
    /// leading (batch) dimensions broadcast. Result times `alpha`.
    case matmul(transposeA: Bool, transposeB: Bool, alpha: Float)
    /// x [..., K], weight [N, K], optional bias [N] -> [..., N] (PyTorch `nn.Linear`).
    case linear
    /// x [N,C,H,W], weight [C], optional bias [C]: per pixel over channels, biased variance.
    case layerNormChannels(eps: Float)
    /// x [..., C], weight [C], optional bias [C]: over the last dimension.
    case layerNorm(eps: Float)
    /// x [N,C,...], weight [C], bias [C].
    case groupNorm(groups: Int, eps: Float)
    /// x [N,C,H,W], weight [C], bias [C]: mean and std over C x H x W per sample,
    /// `std = sqrt(mean((x - mean)^2) + eps)` (TextFusion's RLN).
    case globalNorm(eps: Float)
    /// x [N, ...] -> [N, 2] holding (mean, std) over everything but N, std as in `globalNorm`.
    case globalStats(eps: Float)
    /// x [N,C,H,W] -> [N,C,1,1]: max or mean of each channel's plane (global max / average pooling).
    case globalPool(PoolKind)
    /// x [N,C,H,W] -> [N,1,H,W]: max or mean over the channels of each pixel.
    case channelReduce(PoolKind)
    /// Over the last dimension.
    case softmax
    case unary(UnaryKind)
    /// Elementwise with NumPy broadcasting (rank <= 4).
    case binary(BinaryKind)
    /// x [N,C,H,W], gamma [N,C], beta [N,C]: `(1 + gamma) * x + beta`.
    case film
    /// x [N,C,...], slope [C].
    case prelu
    case pixelShuffle(factor: Int)
    case pixelUnshuffle(factor: Int)
    case concat(axis: Int)
    case slice(axis: Int, start: Int, length: Int)
    /// x [N,C,H,W] padded by (top, bottom, left, right).
    case pad(top: Int, bottom: Int, left: Int, right: Int, mode: PaddingMode)
    /// x [N,C,H,W] -> [N,C,height,width] starting at (y, x).
    case crop(y: Int, x: Int, height: Int, width: Int)
    /// ids i32 [...], table [V, D] -> [..., D]. Out-of-range ids are an error on the CPU and
    /// read as zeros on the GPU.
    case embedding
    /// Restormer transposed attention. q, k, v [N,C,H,W], temperature [heads]:
    /// q and k L2-normalised over H*W (eps 1e-12), per head `softmax(q k^T * t) v`.
    case channelAttention(heads: Int)
    /// q [B,H,Nq,d], k [B,H,Nk,d], v [B,H,Nk,dv], optional additive bias broadcastable to
    /// [B,H,Nq,Nk]. Never materialises Nq x Nk on either backend.
    case attention(scale: Float, causal: Bool)
    /// q, k [N,C,H,W], v [N,Cv,H,W], bias [heads, w*w, w*w]; H and W multiples of `window`.
    /// Heads own contiguous channel blocks; tokens are row-major inside a window.
    case windowAttention(heads: Int, window: Int, scale: Float)
    /// x [N,C,H,W] -> [N,C,height,width].
    case resize(mode: ResizeMode, height: Int, width: Int)
    /// Same elements, new shape; no data movement.
    case reshape(shape: [Int])
    case permute([Int])

    /// The op's name as printed in tables and errors (same on every backend).
    public var name: String {
        switch self {
        case .conv2d: return "conv2d"
        case .convTranspose2d: return "conv_transpose2d"
        case .pointwiseDepthwise: return "pointwise_depthwise"
        case .matmul: return "matmul"
        case .linear: return "linear"
        case .layerNormChannels: return "layer_norm_channels"
        case .layerNorm: return "layer_norm"
        case .groupNorm: return "group_norm"
        case .globalNorm: return "global_norm"
        case .globalStats: return "global_stats"
        case .globalPool: return "global_pool"
        case .channelReduce: return "channel_reduce"
        case .softmax: return "softmax"
        case let .unary(k): return k.name
        case let .binary(k): return k.rawValue
        case .film: return "film"
        case .prelu: return "prelu"
        case .pixelShuffle: return "pixel_shuffle"
        case .pixelUnshuffle: return "pixel_unshuffle"
        case .concat: return "concat"
        case .slice: return "slice"
        case .pad: return "pad"
        case .crop: return "crop"
        case .embedding: return "embedding"
        case .channelAttention: return "channel_attention"
        case .attention: return "attention"
        case .windowAttention: return "window_attention"
        case .resize: return "resize"
        case .reshape: return "reshape"
        case .permute: return "permute"
        }
    }
}
