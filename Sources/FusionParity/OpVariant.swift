import FusionCore

/// Every variant of the op set that needs a catalogue case of its own: each case of `Op`,
/// each unary and binary kind, each padding mode of `conv2d` and `pad`, each resize filter.
///
/// The list is the enum's synthesised `allCases`, and `init(_:)` switches over `Op` and its
/// kinds and modes without a default: a new case of the op set does not compile until it
/// has a variant here, and then `OpCatalogueTests` fails until the catalogue has its cases.
public enum OpVariant: String, CaseIterable, Sendable {
    case conv2dZero = "conv2d zero", conv2dReflect = "conv2d reflect"
    case convTranspose2d = "conv_transpose2d"
    case pointwiseDepthwise = "pointwise_depthwise"
    case matmul, linear
    case layerNormChannels = "layer_norm_channels", layerNorm = "layer_norm", groupNorm = "group_norm"
    case globalNorm = "global_norm", globalStats = "global_stats", softmax
    case globalPoolMax = "global_pool max", globalPoolMean = "global_pool mean"
    case channelReduceMax = "channel_reduce max", channelReduceMean = "channel_reduce mean"
    case relu, leakyReLU = "leaky_relu", gelu, quickGELU = "quick_gelu", tanh, sigmoid, affine = "scale"
    case add, sub, mul, div
    case film, prelu
    case pixelShuffle = "pixel_shuffle", pixelUnshuffle = "pixel_unshuffle", concat, slice
    case padZero = "pad zero", padReflect = "pad reflect", crop, embedding
    case channelAttention = "channel_attention", attention, windowAttention = "window_attention"
    case resizeNearest = "resize nearest", resizeBilinear = "resize bilinear", resizeBicubic = "resize bicubic"
    case resizeBilinearAntialias = "resize bilinear antialias"
    case reshape, permute

    public init(_ op: Op) {
        switch op {
        case let .conv2d(attributes):
            switch attributes.paddingMode {
            case .zero: self = .conv2dZero
            case .reflect: self = .conv2dReflect
            }
        case .convTranspose2d: self = .convTranspose2d
        case .pointwiseDepthwise: self = .pointwiseDepthwise
        case .matmul: self = .matmul
        case .linear: self = .linear
        case .layerNormChannels: self = .layerNormChannels
        case .layerNorm: self = .layerNorm
        case .groupNorm: self = .groupNorm
        case .globalNorm: self = .globalNorm
        case .globalStats: self = .globalStats
        case let .globalPool(kind):
            switch kind {
            case .max: self = .globalPoolMax
            case .mean: self = .globalPoolMean
            }
        case let .channelReduce(kind):
            switch kind {
            case .max: self = .channelReduceMax
            case .mean: self = .channelReduceMean
            }
        case .softmax: self = .softmax
        case let .unary(kind):
            switch kind {
            case .relu: self = .relu
            case .leakyReLU: self = .leakyReLU
            case .gelu: self = .gelu
            case .quickGELU: self = .quickGELU
            case .tanh: self = .tanh
            case .sigmoid: self = .sigmoid
            case .affine: self = .affine
            }
        case let .binary(kind):
            switch kind {
            case .add: self = .add
            case .sub: self = .sub
            case .mul: self = .mul
            case .div: self = .div
            }
        case .film: self = .film
        case .prelu: self = .prelu
        case .pixelShuffle: self = .pixelShuffle
        case .pixelUnshuffle: self = .pixelUnshuffle
        case .concat: self = .concat
        case .slice: self = .slice
        case let .pad(_, _, _, _, mode):
            switch mode {
            case .zero: self = .padZero
            case .reflect: self = .padReflect
            }
        case .crop: self = .crop
        case .embedding: self = .embedding
        case .channelAttention: self = .channelAttention
        case .attention: self = .attention
        case .windowAttention: self = .windowAttention
        case let .resize(mode, _, _):
            switch mode {
            case .nearest: self = .resizeNearest
            case .bilinear: self = .resizeBilinear
            case .bicubic: self = .resizeBicubic
            case .bilinearAntialias: self = .resizeBilinearAntialias
            }
        case .reshape: self = .reshape
        case .permute: self = .permute
        }
    }

    /// The global pooling and channel reduction variants (their own XCTest methods).
    public static let pooling: Set<OpVariant> = [.globalPoolMax, .globalPoolMean, .channelReduceMax, .channelReduceMean]

    /// The op's name (`Op.name`): what `fusion parity --op` filters on.
    public var opName: String { String(rawValue.prefix { $0 != " " }) }

    /// The family the variant is tested, toleranced and benchmarked with.
    public var family: OpFamily {
        switch self {
        case .conv2dZero, .conv2dReflect, .convTranspose2d, .pointwiseDepthwise: return .convolution
        case .matmul, .linear: return .matrixProduct
        case .channelAttention, .attention, .windowAttention: return .attention
        case .layerNormChannels, .layerNorm, .groupNorm, .globalNorm, .globalStats, .softmax,
             .globalPoolMax, .globalPoolMean, .channelReduceMax, .channelReduceMean: return .reduction
        case .relu, .leakyReLU, .gelu, .quickGELU, .tanh, .sigmoid, .affine, .add, .sub, .mul, .div, .film, .prelu:
            return .pointwise
        case .pixelShuffle, .pixelUnshuffle, .concat, .slice, .padZero, .padReflect, .crop, .embedding, .reshape, .permute:
            return .layout
        case .resizeNearest, .resizeBilinear, .resizeBicubic, .resizeBilinearAntialias: return .resampling
        }
    }
}
