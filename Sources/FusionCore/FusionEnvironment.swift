import Foundation

/// Every `FUSIONKIT_*` environment variable the engine reads: its name, meaning and check.
/// `FusionOptions` reads them once into typed values (nothing else reads the environment),
/// and the `fusion` command calls `validate()` first, so a misspelt name or value is an
/// error naming the variable instead of being silently ignored.
public enum FusionEnvironment {
    /// One knob: its name, what it holds, and a check of a given value.
    public struct Knob: Sendable {
        public let name: String
        public let meaning: String
        /// nil when `value` is acceptable, else why not.
        let check: @Sendable (String) -> String?
    }

    public static let knobs: [Knob] = [
        Knob(name: "FUSIONKIT_DEVICE", meaning: "default Vulkan device index") { Int($0.trimmingCharacters(in: .whitespaces)).map { $0 >= 0 ? nil : "a negative device index" } ?? "not a device index (0, 1, ...)" },
        Knob(name: "FUSIONKIT_VALIDATION", meaning: "enable VK_LAYER_KHRONOS_validation (1/0)", check: checkFlag),
        Knob(name: "FUSIONKIT_REQUIRE_VALIDATION", meaning: "tests: fail when the validation layer is missing (1/0)", check: checkFlag),
        Knob(name: "FUSIONKIT_REQUIRE_VULKAN", meaning: "tests: fail when no Vulkan device exists (1/0)", check: checkFlag),
        Knob(name: "FUSIONKIT_LARGE_TESTS", meaning: "tests: run the minutes-long cases (1/0)", check: checkFlag),
        Knob(name: "FUSIONKIT_CACHE", meaning: "cache folder", check: checkFolderPath),
        Knob(name: "FUSIONKIT_CLIP_VOCAB", meaning: "CLIP BPE vocabulary file") { _ in nil },
        Knob(name: "FUSIONKIT_WEIGHTS_URL", meaning: "mirror of the published weights") { URL(string: $0)?.scheme == nil ? "not a URL" : nil },
        Knob(name: "FUSIONKIT_SHADER_DIR", meaning: "shader source folder") { value in
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: value, isDirectory: &isFolder) && isFolder.boolValue ? nil : "no such folder"
        },
        Knob(name: "FUSIONKIT_TEST_DATA", meaning: "shared test data folder") { _ in nil },
        Knob(name: "FUSIONKIT_SUBMISSION_GFLOP", meaning: "GFLOP of one queue submission", check: checkPositiveNumber),
        Knob(name: "FUSIONKIT_GPU_TIMEOUT", meaning: "longest wait for one submission, seconds", check: checkPositiveNumber),
        Knob(name: "FUSIONKIT_PASSES", meaning: "graph passes: all, none, or a comma-separated list (" + GraphPass.allCases.map(\.rawValue).joined(separator: ", ") + ")") { value in
            do { _ = try GraphPasses(parsing: value); return nil } catch { return "\(error)" }
        },
        Knob(name: "FUSIONKIT_KERNELS", meaning: "conv/GEMM kernel set: direct or tiled") { ["direct", "tiled"].contains($0) ? nil : "expected direct or tiled" },
        Knob(name: "FUSIONKIT_GEMM_VARIANT", meaning: "force one tiled GEMM/conv variant by name (`fusion parity --ops` lists them)") { value in
            value.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" } ? nil : "not a variant name"
        },
        Knob(name: "FUSIONKIT_ATTENTION_VARIANT", meaning: "force one attention kernel variant by name (`fusion parity --ops` lists them)") { value in
            value.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" } ? nil : "not a variant name"
        },
        Knob(name: "FUSIONKIT_PRECISION", meaning: "Vulkan storage precision of activations and weights: fp32 or fp16") { StoragePrecision(rawValue: $0.lowercased()) == nil ? "expected fp32 or fp16" : nil },
        Knob(name: "FUSIONKIT_CPU_WINOGRAD", meaning: "CPU 3x3 convs: 0 = no Winograd, f2 / f4 = that variant wherever supported, auto") {
            ["0", "f2", "f4", "auto"].contains($0) ? nil : "expected 0, f2, f4 or auto"
        },
        Knob(name: "FUSIONKIT_WINOGRAD_BENCH", meaning: "tests: print the Winograd timing and accuracy tables (1/0)", check: checkFlag),
    ]

    /// Throws `FusionError.invalidArgument` naming the first variable whose value is not
    /// acceptable, or an unknown `FUSIONKIT_` variable (a misspelling would be ignored).
    public static func validate(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let known = Dictionary(uniqueKeysWithValues: knobs.map { ($0.name, $0) })
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("FUSIONKIT_") {
            guard let knob = known[name] else {
                throw FusionError.invalidArgument(op: "environment", detail: "\(name) is not a FusionKit variable; known: \(knobs.map(\.name).joined(separator: ", "))")
            }
            if value.isEmpty { continue }
            if let why = knob.check(value) {
                throw FusionError.invalidArgument(op: "environment", detail: "\(name)='\(value)': \(why) (\(knob.meaning))")
            }
        }
    }

    @Sendable private static func checkFlag(_ value: String) -> String? {
        ["1", "0", "true", "false", "yes", "no", "on", "off"].contains(value.lowercased()) ? nil : "expected 1 or 0"
    }

    @Sendable private static func checkPositiveNumber(_ value: String) -> String? {
        guard let v = Double(value), v.isFinite, v > 0 else { return "expected a positive number" }
        return nil
    }

    @Sendable private static func checkFolderPath(_ value: String) -> String? {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: value, isDirectory: &isFolder), !isFolder.boolValue { return "a file, not a folder" }
        return nil
    }
}
