import Foundation

/// Every `FUSIONKIT_*` knob as a typed value, read from the environment once
/// (`FusionOptions.current`) and passed to what needs it: the caches, the weights store,
/// the tokenizer, and the Vulkan backend (`vulkan`). Nothing else reads the environment,
/// and a test sets options instead of the process environment, so one process can check
/// several settings (both kernel sets, say).
public struct FusionOptions: Sendable {
    /// Vulkan knobs, passed to `VulkanBackend`.
    public struct Vulkan: Sendable, Equatable {
        /// FUSIONKIT_DEVICE: the default device index.
        public var deviceIndex: Int?
        /// FUSIONKIT_VALIDATION: enable VK_LAYER_KHRONOS_validation.
        public var validation = false
        /// FUSIONKIT_KERNELS: "direct" or "tiled" conv/GEMM kernels; nil lets the device decide.
        public var kernels: String?
        /// FUSIONKIT_SUBMISSION_GFLOP: work of one queue submission.
        public var submissionGFLOP: Double?
        /// FUSIONKIT_GPU_TIMEOUT: the longest wait for one submission, in seconds.
        public var timeoutSeconds: Double?
        /// FUSIONKIT_SHADER_DIR: shader sources read at run time instead of the embedded ones.
        public var shaderFolder: String?
        /// FUSIONKIT_PRECISION ("fp32" or "fp16"): storage of float activations and weights
        /// on the device (`--precision` of the CLI sets it). fp16 needs shaderFloat16 and
        /// storageBuffer16BitAccess. Default fp32.
        public var precision: StoragePrecision = .fp32
        /// FUSIONKIT_GEMM_VARIANT: force one register-tiled GEMM / conv variant by name
        /// (tests, A/B runs); nil lets the tuning table or the device decide.
        public var gemmVariant: String?
        /// FUSIONKIT_ATTENTION_VARIANT: force one attention kernel variant by name (tests,
        /// A/B runs); nil lets the tuning table or the device decide.
        public var attentionVariant: String?

        public init() {}
    }

    /// FUSIONKIT_CACHE, else ~/.cache/fusionkit: weights, SPIR-V, pipelines, text features.
    public var cacheRoot: URL
    /// FUSIONKIT_TEST_DATA: the shared data folder; ../shared when unset, nil when set empty.
    public var sharedData: URL?
    /// Whether FUSIONKIT_TEST_DATA was set (the tests then look nowhere else).
    public var sharedDataGiven = false
    /// FUSIONKIT_CLIP_VOCAB: the CLIP BPE vocabulary, searched for when nil.
    public var clipVocabulary: String?
    /// FUSIONKIT_WEIGHTS_URL: a mirror of the published weights.
    public var weightsMirror: String?
    public var vulkan = Vulkan()
    /// FUSIONKIT_PASSES: the graph passes backends apply ("all", "none", or a list).
    public var passes = GraphPasses.all
    /// Test switches: FUSIONKIT_REQUIRE_VALIDATION, FUSIONKIT_REQUIRE_VULKAN, FUSIONKIT_LARGE_TESTS.
    public var requireValidation = false, requireVulkan = false, largeTests = false
    /// FUSIONKIT_CPU_WINOGRAD: "0" keeps the CPU's 3x3 convs off Winograd, "f2" / "f4" force
    /// that variant on every supported one; nil (or "auto") chooses by shape.
    public var cpuWinograd: String?
    /// FUSIONKIT_WINOGRAD_BENCH: tests also print the Winograd timing and accuracy tables.
    public var winogradBench = false

    /// The options an environment gives (unset or empty knobs take their defaults; values
    /// `FusionEnvironment.validate` refuses are ignored here).
    public init(environment: [String: String]) {
        func value(_ name: String) -> String? {
            precondition(FusionEnvironment.knobs.contains { $0.name == name }, "unknown knob \(name)")
            guard let v = environment[name], !v.isEmpty else { return nil }
            return v
        }
        func flag(_ name: String) -> Bool { value(name).map { ["1", "true", "yes", "on"].contains($0.lowercased()) } ?? false }
        func positive(_ name: String) -> Double? { value(name).flatMap(Double.init).flatMap { $0 > 0 && $0.isFinite ? $0 : nil } }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) } ?? FileManager.default.homeDirectoryForCurrentUser
        cacheRoot = value("FUSIONKIT_CACHE").map { URL(fileURLWithPath: $0) } ?? home.appendingPathComponent(".cache/fusionkit")
        switch environment["FUSIONKIT_TEST_DATA"] {
        case nil: sharedData = URL(fileURLWithPath: "../shared")
        case let v? where v.isEmpty: sharedData = nil
        case let v?: sharedData = URL(fileURLWithPath: v)
        }
        sharedDataGiven = environment["FUSIONKIT_TEST_DATA"].map { !$0.isEmpty } ?? false
        clipVocabulary = value("FUSIONKIT_CLIP_VOCAB")
        weightsMirror = value("FUSIONKIT_WEIGHTS_URL")
        vulkan.deviceIndex = value("FUSIONKIT_DEVICE").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.flatMap { $0 >= 0 ? $0 : nil }
        vulkan.validation = flag("FUSIONKIT_VALIDATION")
        vulkan.kernels = value("FUSIONKIT_KERNELS")
        vulkan.gemmVariant = value("FUSIONKIT_GEMM_VARIANT")
        vulkan.attentionVariant = value("FUSIONKIT_ATTENTION_VARIANT")
        vulkan.submissionGFLOP = positive("FUSIONKIT_SUBMISSION_GFLOP")
        vulkan.timeoutSeconds = positive("FUSIONKIT_GPU_TIMEOUT")
        vulkan.shaderFolder = value("FUSIONKIT_SHADER_DIR")
        passes = value("FUSIONKIT_PASSES").flatMap { try? GraphPasses(parsing: $0) } ?? .all
        vulkan.precision = value("FUSIONKIT_PRECISION").flatMap { StoragePrecision(rawValue: $0.lowercased()) } ?? .fp32
        requireValidation = flag("FUSIONKIT_REQUIRE_VALIDATION")
        requireVulkan = flag("FUSIONKIT_REQUIRE_VULKAN")
        largeTests = flag("FUSIONKIT_LARGE_TESTS")
        cpuWinograd = value("FUSIONKIT_CPU_WINOGRAD")
        winogradBench = flag("FUSIONKIT_WINOGRAD_BENCH")
    }

    /// The process's options, read once.
    public static let current = FusionOptions(environment: ProcessInfo.processInfo.environment)
}
