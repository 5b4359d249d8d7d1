/// A checkpoint published with a model, which the engine can fetch and verify by itself.
public struct PublishedWeights: Sendable {
    /// Short name used on the command line and as the cache file name.
    public let name: String
    /// Where the authors publish the file.
    public let url: String
    /// SHA-256 of the published file (lower-case hex).
    public let sha256: String
    public let byteCount: Int
    /// Where a copy sits under `FUSIONKIT_TEST_DATA` (offline use and tests).
    public let testDataPath: String

    /// TextFusion trained on LLVIP: `models/LLVIP_pretrained.model` in AWCXV/TextFusion.
    public static let textFusionLLVIP = PublishedWeights(
        name: "textfusion_llvip.model",
        url: "https://raw.githubusercontent.com/AWCXV/TextFusion/HEAD/models/LLVIP_pretrained.model",
        sha256: "4471c6c376b8f7c5d63b2766d0dd9f5c361c740e1dc937658ed418febcd7d657",
        byteCount: 347_072,
        testDataPath: "weights/textfusion_llvip.model")

    public static let all: [PublishedWeights] = [textFusionLLVIP]
}
