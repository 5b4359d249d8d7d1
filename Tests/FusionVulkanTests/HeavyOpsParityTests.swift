import Foundation
import FusionCore
import FusionCPU
@testable import FusionVulkan
import XCTest

/// Vulkan vs CPU on one-op graphs for the compute-heavy kernels (conv2d, matmul, linear,
/// attention, window attention, channel attention): odd sizes, 1x1 spatial, large K, and the
/// split paths (forced with a small planned binding size).
/// Tolerance: max |gpu - cpu| <= 1e-5 * max(1, max |cpu|).
final class HeavyOpsParityTests: XCTestCase {
    private var seed: UInt64 = 1
    private static var reportedValidation = false

    override func tearDown() {
        HeavyOpsTuning.splitBytesOverride = nil
        super.tearDown()
    }

    /// The full-size cases take minutes on lavapipe (conv 96 -> 96 on 1024 x 1024: about
    /// 150 s on 2 cores); they run when FUSIONKIT_LARGE_TESTS=1.
    private static func requireLargeTests() throws {
        guard ProcessInfo.processInfo.environment["FUSIONKIT_LARGE_TESTS"] == "1" else {
            throw XCTSkip("full-size case; set FUSIONKIT_LARGE_TESTS=1 to run it")
        }
    }

    /// Builds a one-op graph over fresh random inputs and compares the backends.
    private func check(_ label: String, _ shapes: [[Int]], range: ClosedRange<Float> = -1...1,
                       custom: [Int: Tensor] = [:], splitBytes: Int? = nil, steady: Bool = false,
                       file: StaticString = #filePath, line: UInt = #line,
                       _ build: (Graph, [Value]) throws -> Value) throws {
        let gpu = try VulkanTestSupport.backend()
        let g = Graph()
        var feeds: [String: Tensor] = [:]
        var values: [Value] = []
        for (i, shape) in shapes.enumerated() {
            let name = "in\(i)"
            values.append(g.input(name, shape: shape))
            seed += 1
            feeds[name] = custom[i] ?? Tensor.random(shape: shape, seed: seed, in: range)
        }
        g.output("y", try build(g, values))
        if !Self.reportedValidation {
            Self.reportedValidation = true
            print("[heavy] device \(gpu.deviceDescription), validation \(gpu.context.validationEnabled)")
        }
        HeavyOpsTuning.splitBytesOverride = splitBytes
        defer { HeavyOpsTuning.splitBytesOverride = nil }
        let t0 = Date()
        let exe = try gpu.prepare(g)
        let t1 = Date()
        var out = try exe.run(feeds)["y"]!
        let t2 = Date()
        if steady { out = try exe.run(feeds)["y"]! }
        let t2b = Date()
        let ref = try CPUBackend().run(g, inputs: feeds)["y"]!
        let t3 = Date()
        XCTAssertEqual(out.shape, ref.shape, label, file: file, line: line)
        let err = VulkanTestSupport.maxAbsDifference(out, ref)
        let scale = max(1, VulkanTestSupport.maxAbs(ref))
        let dispatches = (exe as? VulkanExecutable)?.dispatchCount ?? -1
        func ms(_ a: Date, _ b: Date) -> String { String(format: "%.0f", b.timeIntervalSince(a) * 1000) }
        print("[heavy] \(label): \(ref.shape) max|err| \(err) scale \(scale) dispatches \(dispatches)"
              + " (prepare \(ms(t0, t1)) ms, first run \(ms(t1, t2)) ms"
              + (steady ? ", second run \(ms(t2, t2b)) ms" : "") + ", cpu \(ms(t2b, t3)) ms)")
        XCTAssertFalse(out.floats.contains { !$0.isFinite }, "\(label): non-finite output", file: file, line: line)
        XCTAssertLessThanOrEqual(err, 1e-5 * scale, label, file: file, line: line)
        VulkanTestSupport.assertNoValidationMessages(gpu, file: file, line: line)
    }

    // MARK: - conv2d

    func testConv2dGemm() throws {
        try check("3x3 pad1 bias", [[1, 3, 17, 19], [8, 3, 3, 3], [8]]) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v[2], .init(padding: 1))
        }
        try check("stride2 dil2 reflect asym", [[2, 5, 13, 11], [7, 5, 3, 3]]) { g, v in
            try g.conv2d(v[0], weight: v[1], .init(stride: (2, 2), padding: (2, 1, 1, 2), dilation: (2, 2), paddingMode: .reflect))
        }
        try check("groups2 3x2 stride(2,1)", [[1, 6, 9, 10], [4, 3, 3, 2], [4]]) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v[2], .init(stride: (2, 1), padding: (1, 0, 0, 1), groups: 2))
        }
        try check("groups3 reflect", [[2, 9, 7, 8], [6, 3, 3, 3], [6]]) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v[2], .init(padding: 1, groups: 3, paddingMode: .reflect))
        }
        try check("1x1 pointwise", [[2, 33, 7, 5], [17, 33, 1, 1], [17]]) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v[2])
        }
        try check("1x1 spatial 1x1 kernel", [[1, 16, 1, 1], [20, 16, 1, 1], [20]]) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v[2])
        }
        try check("1x1 spatial 3x3 pad1", [[3, 5, 1, 1], [3, 5, 3, 3], [3]]) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v[2], .init(padding: 1))
        }
        try check("single output channel 5x5", [[1, 7, 23, 9], [1, 7, 5, 5], [1]]) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v[2], .init(padding: 2))
        }
        try check("large K 96x9", [[1, 96, 20, 21], [64, 96, 3, 3], [64]]) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v[2], .init(padding: 1))
        }
        try check("large K 256x9 stride2", [[1, 256, 9, 8], [70, 256, 3, 3]]) { g, v in
            try g.conv2d(v[0], weight: v[1], .init(stride: 2, padding: 1))
        }
        try check("1x1 stride2 (not pointwise)", [[1, 12, 9, 9], [10, 12, 1, 1]]) { g, v in
            try g.conv2d(v[0], weight: v[1], .init(stride: 2))
        }
        try check("wide image few channels", [[1, 3, 40, 150], [5, 3, 3, 3], [5]]) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v[2], .init(padding: 1))
        }
    }

    func testConv2dDepthwise() throws {
        try check("dw 3x3 reflect bias", [[1, 12, 15, 14], [12, 1, 3, 3], [12]]) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v[2], .init(padding: 1, groups: 12, paddingMode: .reflect))
        }
        try check("dw 5x5 stride2 dil2", [[2, 7, 19, 17], [7, 1, 5, 5]]) { g, v in
            try g.conv2d(v[0], weight: v[1], .init(stride: 2, padding: 4, dilation: 2, groups: 7))
        }
        try check("dw 1x1 spatial", [[1, 5, 1, 1], [5, 1, 3, 3], [5]]) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v[2], .init(padding: 1, groups: 5))
        }
        try check("dw 17x17 taps > staged?", [[1, 3, 20, 20], [3, 1, 17, 17]]) { g, v in
            try g.conv2d(v[0], weight: v[1], .init(padding: 8, groups: 3))
        }
    }

    func testConv2dSplitPaths() throws {
        // 12x12 planes are 576 bytes: a 2 KiB planned binding holds 3 planes.
        try check("split gemm conv", [[2, 10, 12, 12], [7, 10, 3, 3], [7]], splitBytes: 2048) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v[2], .init(padding: 1))
        }
        try check("split grouped reflect", [[1, 8, 12, 12], [6, 4, 3, 3], [6]], splitBytes: 2048) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v[2], .init(stride: 2, padding: 1, groups: 2, paddingMode: .reflect))
        }
        try check("split depthwise", [[2, 9, 12, 12], [9, 1, 3, 3], [9]], splitBytes: 2048) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v[2], .init(padding: 1, groups: 9))
        }
    }

    /// The brief's large case: x = 1x96x1024x1024 f32 (384 MiB, over lavapipe's 128 MiB
    /// binding limit), conv 3x3 96 -> 96 with bias: channel chunks accumulate into the output.
    func testConv96To96On384MiBInput() throws {
        try Self.requireLargeTests()
        let gpu = try VulkanTestSupport.backend()
        let limit = Int(gpu.context.info.maxStorageBufferRange)
        if 384 << 20 <= limit { print("note: device binds \(limit) bytes; the split path is not exercised") }
        try check("conv 3x3 96->96 on 1x96x1024x1024", [[1, 96, 1024, 1024], [96, 96, 3, 3], [96]]) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v[2], .init(padding: 1))
        }
    }

    /// Typical model-sized cases, run twice: the second run shows the steady-state time
    /// (the first includes lavapipe's shader JIT).
    func testTypicalSizesSteadyState() throws {
        try check("steady conv 3x3 64->64 128x128", [[1, 64, 128, 128], [64, 64, 3, 3], [64]], steady: true) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v[2], .init(padding: 1))
        }
        try check("steady dw 3x3 128ch 128x128", [[1, 128, 128, 128], [128, 1, 3, 3], [128]], steady: true) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v[2], .init(padding: 1, groups: 128))
        }
        try check("steady matmul 512^3", [[512, 512], [512, 512]], steady: true) { g, v in try g.matmul(v[0], v[1]) }
        try check("steady attention 1x8x1024x64", [[1, 8, 1024, 64], [1, 8, 1024, 64], [1, 8, 1024, 64]], steady: true) { g, v in
            try g.attention(q: v[0], k: v[1], v: v[2], scale: 0.125)
        }
        try check("steady window attention 1x64x128x128 w8", [[1, 64, 128, 128], [1, 64, 128, 128], [1, 64, 128, 128], [2, 64, 64]],
                  steady: true) { g, v in
            try g.windowAttention(q: v[0], k: v[1], v: v[2], bias: v[3], heads: 2, window: 8, scale: 0.18)
        }
        try check("steady channel attention 1x48x256x256", [[1, 48, 256, 256], [1, 48, 256, 256], [1, 48, 256, 256], [1]],
                  steady: true) { g, v in
            try g.channelAttention(q: v[0], k: v[1], v: v[2], temperature: v[3], heads: 1)
        }
    }

    // MARK: - matmul / linear

    func testMatmul() throws {
        try check("37x19 @ 19x23", [[37, 19], [19, 23]]) { g, v in try g.matmul(v[0], v[1]) }
        try check("transA transB alpha", [[2, 19, 37], [23, 19]]) { g, v in
            try g.matmul(v[0], v[1], transposeA: true, transposeB: true, alpha: 0.5)
        }
        try check("rank5 broadcast", [[2, 1, 5, 7, 9], [3, 1, 9, 4]]) { g, v in try g.matmul(v[0], v[1]) }
        try check("batch over b only", [[7, 9], [4, 9, 13]]) { g, v in try g.matmul(v[0], v[1]) }
        try check("batch folds into M", [[3, 5, 11, 6], [6, 10]]) { g, v in try g.matmul(v[0], v[1]) }
        try check("large K", [[8, 2000], [2000, 16]]) { g, v in try g.matmul(v[0], v[1]) }
        try check("vector times matrix", [[1, 300], [300, 129]]) { g, v in try g.matmul(v[0], v[1]) }
        try check("matrix times vector transB", [[130, 64], [1, 64]]) { g, v in try g.matmul(v[0], v[1], transposeB: true) }
        try check("1x1", [[1, 1], [1, 1]]) { g, v in try g.matmul(v[0], v[1]) }
        try check("square 128", [[128, 128], [128, 128]]) { g, v in try g.matmul(v[0], v[1]) }
    }

    func testMatmulSplitPaths() throws {
        try check("split batched", [[4, 64, 48], [4, 48, 40]], splitBytes: 4096) { g, v in try g.matmul(v[0], v[1]) }
        try check("split transposed A (K halves accumulate)", [[96, 70], [96, 33]], splitBytes: 4096) { g, v in
            try g.matmul(v[0], v[1], transposeA: true, alpha: 2)
        }
        try check("split wide B", [[5, 40], [40, 300]], splitBytes: 8192) { g, v in try g.matmul(v[0], v[1]) }
    }

    func testLinear() throws {
        try check("linear rank3 bias", [[2, 5, 37], [23, 37], [23]]) { g, v in try g.linear(v[0], weight: v[1], bias: v[2]) }
        try check("linear rank1", [[300], [7, 300]]) { g, v in try g.linear(v[0], weight: v[1]) }
        try check("linear large K", [[3, 4096], [65, 4096], [65]]) { g, v in try g.linear(v[0], weight: v[1], bias: v[2]) }
        try check("linear many rows", [[1000, 24], [96, 24], [96]]) { g, v in try g.linear(v[0], weight: v[1], bias: v[2]) }
        try check("linear split rows", [[300, 24], [40, 24], [40]], splitBytes: 4096) { g, v in
            try g.linear(v[0], weight: v[1], bias: v[2])
        }
        try check("linear split K and N", [[6, 700], [50, 700], [50]], splitBytes: 8192) { g, v in
            try g.linear(v[0], weight: v[1], bias: v[2])
        }
    }

    // MARK: - attention

    func testAttention() throws {
        try check("attn plain", [[1, 2, 37, 16], [1, 2, 53, 16], [1, 2, 53, 24]]) { g, v in
            try g.attention(q: v[0], k: v[1], v: v[2], scale: 0.25)
        }
        try check("attn causal bias [H,1,Nk]", [[1, 2, 45, 64], [1, 2, 45, 64], [1, 2, 45, 64], [2, 1, 45]]) { g, v in
            try g.attention(q: v[0], k: v[1], v: v[2], bias: v[3], scale: 0.125, causal: true)
        }
        try check("attn causal Nq<Nk full bias", [[2, 2, 5, 8], [2, 2, 40, 8], [2, 2, 40, 5], [2, 2, 5, 40]]) { g, v in
            try g.attention(q: v[0], k: v[1], v: v[2], bias: v[3], scale: 0.3, causal: true)
        }
        try check("attn causal Nq>Nk (rows without keys)", [[1, 1, 40, 8], [1, 1, 5, 8], [1, 1, 5, 8]]) { g, v in
            try g.attention(q: v[0], k: v[1], v: v[2], scale: 0.3, causal: true)
        }
        try check("attn d128", [[1, 1, 33, 128], [1, 1, 70, 128], [1, 1, 70, 128]]) { g, v in
            try g.attention(q: v[0], k: v[1], v: v[2], scale: 1 / 128.0.squareRoot().float)
        }
        try check("attn d200 dv300", [[1, 2, 9, 200], [1, 2, 20, 200], [1, 2, 20, 300], [9, 1]]) { g, v in
            try g.attention(q: v[0], k: v[1], v: v[2], bias: v[3], scale: 0.07)
        }
        try check("attn d512", [[1, 1, 4, 512], [1, 1, 33, 512], [1, 1, 33, 512]]) { g, v in
            try g.attention(q: v[0], k: v[1], v: v[2], scale: 1 / 512.0.squareRoot().float)
        }
        try check("attn single token", [[3, 1, 1, 3], [3, 1, 1, 3], [3, 1, 1, 2]]) { g, v in
            try g.attention(q: v[0], k: v[1], v: v[2], scale: 1)
        }
        try check("attn Nk 20480", [[1, 1, 4, 64], [1, 1, 20480, 64], [1, 1, 20480, 64]]) { g, v in
            try g.attention(q: v[0], k: v[1], v: v[2], scale: 0.125)
        }
        // Few query blocks over many keys: the keys are split over workgroups and merged by
        // attention_combine.comp (flash-decoding), with causal masks crossing split borders.
        try check("attn key splits causal bias", [[1, 2, 40, 32], [1, 2, 5000, 32], [1, 2, 5000, 48], [1, 1, 40, 5000]]) { g, v in
            try g.attention(q: v[0], k: v[1], v: v[2], bias: v[3], scale: 0.2, causal: true)
        }
        try check("attn key splits, rows without keys", [[1, 1, 2100, 8], [1, 1, 2048, 8], [1, 1, 2048, 8]]) { g, v in
            try g.attention(q: v[0], k: v[1], v: v[2], scale: 0.3, causal: true)
        }
        // A bias that masks everything for some rows (-inf) must give zeros, not NaN.
        let mask = Tensor(shape: [1, 1, 3, 6], floats: [
            0, 0, 0, 0, 0, 0,
            -.infinity, -.infinity, -.infinity, -.infinity, -.infinity, -.infinity,
            -.infinity, 0, -.infinity, 0, -.infinity, 0,
        ])
        try check("attn -inf bias rows", [[1, 1, 3, 4], [1, 1, 6, 4], [1, 1, 6, 4], [1, 1, 3, 6]], custom: [3: mask]) { g, v in
            try g.attention(q: v[0], k: v[1], v: v[2], bias: v[3], scale: 1)
        }
    }

    func testAttentionSplitPath() throws {
        try check("attn split over bh", [[2, 3, 20, 16], [2, 3, 30, 16], [2, 3, 30, 8], [3, 20, 30]], splitBytes: 4096) { g, v in
            try g.attention(q: v[0], k: v[1], v: v[2], bias: v[3], scale: 0.25, causal: true)
        }
    }

    // MARK: - window attention

    func testWindowAttention() throws {
        try check("win4 heads2 dv3", [[1, 8, 8, 8], [1, 8, 8, 8], [1, 6, 8, 8], [2, 16, 16]]) { g, v in
            try g.windowAttention(q: v[0], k: v[1], v: v[2], bias: v[3], heads: 2, window: 4, scale: 0.5)
        }
        try check("win8 dq32 batch2", [[2, 64, 16, 24], [2, 64, 16, 24], [2, 64, 16, 24], [2, 64, 64]]) { g, v in
            try g.windowAttention(q: v[0], k: v[1], v: v[2], bias: v[3], heads: 2, window: 8, scale: 1 / 32.0.squareRoot().float)
        }
        try check("win16 T256", [[1, 16, 16, 32], [1, 16, 16, 32], [1, 16, 16, 32], [1, 256, 256]]) { g, v in
            try g.windowAttention(q: v[0], k: v[1], v: v[2], bias: v[3], heads: 1, window: 16, scale: 0.25)
        }
        try check("win7 swin heads3", [[1, 12, 14, 14], [1, 12, 14, 14], [1, 9, 14, 14], [3, 49, 49]]) { g, v in
            try g.windowAttention(q: v[0], k: v[1], v: v[2], bias: v[3], heads: 3, window: 7, scale: 0.5)
        }
        try check("win1", [[1, 4, 3, 5], [1, 4, 3, 5], [1, 2, 3, 5], [2, 1, 1]]) { g, v in
            try g.windowAttention(q: v[0], k: v[1], v: v[2], bias: v[3], heads: 2, window: 1, scale: 1)
        }
        try check("win20 T400 (multi-pass)", [[1, 4, 20, 20], [1, 4, 20, 20], [1, 4, 20, 20], [1, 400, 400]]) { g, v in
            try g.windowAttention(q: v[0], k: v[1], v: v[2], bias: v[3], heads: 1, window: 20, scale: 0.5)
        }
        try check("win4 dq130", [[1, 130, 4, 4], [1, 130, 4, 4], [1, 70, 4, 4], [1, 16, 16]]) { g, v in
            try g.windowAttention(q: v[0], k: v[1], v: v[2], bias: v[3], heads: 1, window: 4, scale: 0.1)
        }
    }

    func testWindowAttentionSplitPath() throws {
        try check("win split per (n, head)", [[2, 8, 8, 8], [2, 8, 8, 8], [2, 4, 8, 8], [2, 16, 16]], splitBytes: 2048) { g, v in
            try g.windowAttention(q: v[0], k: v[1], v: v[2], bias: v[3], heads: 2, window: 4, scale: 0.5)
        }
    }

    // MARK: - channel attention

    func testChannelAttention() throws {
        let t2 = Tensor(shape: [2], floats: [0.7, 1.9])
        try check("ca heads2 5x5", [[1, 8, 5, 5], [1, 8, 5, 5], [1, 8, 5, 5], [2]], custom: [3: t2]) { g, v in
            try g.channelAttention(q: v[0], k: v[1], v: v[2], temperature: v[3], heads: 2)
        }
        try check("ca C48 64x64 batch2", [[2, 48, 64, 64], [2, 48, 64, 64], [2, 48, 64, 64], [1]], range: -1...1) { g, v in
            try g.channelAttention(q: v[0], k: v[1], v: v[2], temperature: v[3], heads: 1)
        }
        try check("ca 300x300 heads3 (split-K)", [[1, 6, 300, 301], [1, 6, 300, 301], [1, 6, 300, 301], [3]], range: -2...2) { g, v in
            try g.channelAttention(q: v[0], k: v[1], v: v[2], temperature: v[3], heads: 3)
        }
        try check("ca 1x1 spatial", [[1, 4, 1, 1], [1, 4, 1, 1], [1, 4, 1, 1], [2]]) { g, v in
            try g.channelAttention(q: v[0], k: v[1], v: v[2], temperature: v[3], heads: 2)
        }
        try check("ca Ch2 3x7", [[1, 10, 3, 7], [1, 10, 3, 7], [1, 10, 3, 7], [5]]) { g, v in
            try g.channelAttention(q: v[0], k: v[1], v: v[2], temperature: v[3], heads: 5)
        }
        try check("ca Ch70", [[1, 70, 9, 9], [1, 70, 9, 9], [1, 70, 9, 9], [1]]) { g, v in
            try g.channelAttention(q: v[0], k: v[1], v: v[2], temperature: v[3], heads: 1)
        }
        let zeros = Tensor(shape: [1, 4, 3, 3])
        try check("ca zero q rows (eps clamp)", [[1, 4, 3, 3], [1, 4, 3, 3], [1, 4, 3, 3], [1]], custom: [0: zeros]) { g, v in
            try g.channelAttention(q: v[0], k: v[1], v: v[2], temperature: v[3], heads: 1)
        }
    }

    /// Restormer at full resolution: 1x48x1024x1280 (240 MiB per tensor, over the binding
    /// limit; H*W = 1.3M reduced in parallel chunks).
    func testChannelAttentionFullResolution() throws {
        try Self.requireLargeTests()
        try check("ca 1x48x1024x1280", [[1, 48, 1024, 1280], [1, 48, 1024, 1280], [1, 48, 1024, 1280], [1]]) { g, v in
            try g.channelAttention(q: v[0], k: v[1], v: v[2], temperature: v[3], heads: 1)
        }
    }

    func testChannelAttentionSplitPath() throws {
        // 9000-element rows (36 KB): a 64 KiB planned binding holds one row of a 4-row head.
        try check("ca split rows / K", [[1, 8, 90, 100], [1, 8, 90, 100], [1, 8, 90, 100], [2]], splitBytes: 65536) { g, v in
            try g.channelAttention(q: v[0], k: v[1], v: v[2], temperature: v[3], heads: 2)
        }
    }
}

private extension Double {
    var float: Float { Float(self) }
}
