import CShaderc
import Foundation
import FusionIO

/// A SPIR-V module produced by `ShaderCompiler`.
public struct CompiledShader {
    /// Shader file name (or the name given to `compile(source:name:)`).
    public let name: String
    /// SPIR-V words.
    public let spirv: [UInt32]
    /// True when the words came from the on-disk cache instead of shaderc.
    public let fromCache: Bool
    /// The cache key (32 hex digits).
    public let cacheKey: String
}

/// GLSL -> SPIR-V compilation with shaderc, backed by an on-disk SPIR-V cache at
/// `<cacheDirectory>/spirv/<hash>.spv`.
///
/// The cache key covers the include-expanded source, the defines, the target environment
/// and the shaderc library identity, so a stale entry can never be picked up after any of
/// them changes. Entries are written atomically (temp file + rename), so concurrent
/// processes sharing the directory see either nothing or a complete file.
public final class ShaderCompiler {
    /// SPIR-V target environment.
    public enum TargetEnvironment: String {
        /// Vulkan 1.0 / SPIR-V 1.0.
        case vulkan1_0 = "vulkan1.0-spv1.0"
        /// Vulkan 1.1 / SPIR-V 1.3 (needed for subgroup operations).
        case vulkan1_1 = "vulkan1.1-spv1.3"
        /// Vulkan 1.2 / SPIR-V 1.5.
        case vulkan1_2 = "vulkan1.2-spv1.5"

        /// The best target for a device whose usable API version is `apiVersion`.
        public init(apiVersion: UInt32) {
            if apiVersion >= vulkanMakeVersion(1, 2) {
                self = .vulkan1_2
            } else if apiVersion >= vulkanMakeVersion(1, 1) {
                self = .vulkan1_1
            } else {
                self = .vulkan1_0
            }
        }
    }

    public let library: ShaderLibrary
    public let target: TargetEnvironment
    /// Root cache directory (SPIR-V lives in its `spirv/` subdirectory); nil disables caching.
    public let cacheDirectory: URL?

    private let compiler: OpaquePointer
    private let lock = NSLock()
    private var compiledCount = 0
    private var cacheHitCount = 0

    /// Number of shaderc invocations that produced SPIR-V.
    public var shadersCompiled: Int { lock.locked { compiledCount } }
    /// Number of compilations satisfied from the on-disk cache.
    public var cacheHits: Int { lock.locked { cacheHitCount } }

    public init(library: ShaderLibrary = ShaderLibrary(), target: TargetEnvironment, cacheDirectory: URL?) throws {
        guard let compiler = shaderc_compiler_initialize() else {
            throw VulkanError.unsupportedFeature("shaderc_compiler_initialize failed")
        }
        self.compiler = compiler
        self.library = library
        self.target = target
        self.cacheDirectory = cacheDirectory
    }

    deinit {
        shaderc_compiler_release(compiler)
    }

    /// Compiles the named shader from the library (includes expanded).
    public func compile(shader name: String, defines: [(String, String)] = []) throws -> CompiledShader {
        try compile(source: try library.source(named: name), name: name, defines: defines)
    }

    /// Compiles a GLSL compute shader given as text; `#include`s resolve against the library.
    public func compile(source: String, name: String, defines: [(String, String)] = []) throws -> CompiledShader {
        let expanded = try library.expandIncludes(in: source, name: name)
        let key = cacheKey(expandedSource: expanded, defines: defines)
        let cacheFile = cacheDirectory?.appendingPathComponent("spirv", isDirectory: true)
            .appendingPathComponent("\(key).spv")

        // The entry's header names the shader and key it holds and carries a SHA-256 of the
        // words: a damaged entry, or a valid module stored under another name, is discarded.
        let entryKey = "spirv \(name) \(key)"
        if let cacheFile = cacheFile, let words = Self.loadSPIRV(cacheFile, key: entryKey) {
            lock.locked { cacheHitCount += 1 }
            return CompiledShader(name: name, spirv: words, fromCache: true, cacheKey: key)
        }

        let words = try compileWithShaderc(expanded, name: name, defines: defines)
        lock.locked { compiledCount += 1 }
        if let cacheFile = cacheFile {
            // A failing cache write only costs a recompile next time.
            CacheEntry.write(words.withUnsafeBytes { Data($0) }, key: entryKey, to: cacheFile.path)
        }
        return CompiledShader(name: name, spirv: words, fromCache: false, cacheKey: key)
    }

    func cacheKey(expandedSource: String, defines: [(String, String)]) -> String {
        var hash = StableHash128()
        hash.combine("fusionkit-spirv-cache-v2")
        hash.combine(Self.shadercIdentity)
        hash.combine(target.rawValue)
        hash.combine("optimization=performance")
        hash.combine(UInt64(defines.count))
        for (name, value) in defines {
            hash.combine(name)
            hash.combine(value)
        }
        hash.combine(expandedSource)
        return hash.hexDigest
    }

    private func compileWithShaderc(_ source: String, name: String, defines: [(String, String)]) throws -> [UInt32] {
        guard let options = shaderc_compile_options_initialize() else {
            throw VulkanError.shaderCompilation(shader: name, log: "shaderc_compile_options_initialize failed")
        }
        defer { shaderc_compile_options_release(options) }

        shaderc_compile_options_set_optimization_level(options, shaderc_optimization_level_performance)
        switch target {
        case .vulkan1_0:
            shaderc_compile_options_set_target_env(options, shaderc_target_env_vulkan, UInt32(shaderc_env_version_vulkan_1_0.rawValue))
            shaderc_compile_options_set_target_spirv(options, shaderc_spirv_version_1_0)
        case .vulkan1_1:
            shaderc_compile_options_set_target_env(options, shaderc_target_env_vulkan, UInt32(shaderc_env_version_vulkan_1_1.rawValue))
            shaderc_compile_options_set_target_spirv(options, shaderc_spirv_version_1_3)
        case .vulkan1_2:
            shaderc_compile_options_set_target_env(options, shaderc_target_env_vulkan, UInt32(shaderc_env_version_vulkan_1_2.rawValue))
            shaderc_compile_options_set_target_spirv(options, shaderc_spirv_version_1_5)
        }
        for (macro, value) in defines {
            let m = Array(macro.utf8CString), v = Array(value.utf8CString)
            m.withUnsafeBufferPointer { mp in
                v.withUnsafeBufferPointer { vp in
                    shaderc_compile_options_add_macro_definition(
                        options, mp.baseAddress, mp.count - 1, vp.baseAddress, vp.count - 1)
                }
            }
        }

        let utf8 = Array(source.utf8)
        let result: OpaquePointer? = utf8.withUnsafeBufferPointer { src in
            src.withMemoryRebound(to: CChar.self) { chars in
                shaderc_compile_into_spv(compiler, chars.baseAddress, chars.count,
                                         shaderc_glsl_compute_shader, name, "main", options)
            }
        }
        guard let result = result else {
            throw VulkanError.shaderCompilation(shader: name, log: "shaderc returned no result")
        }
        defer { shaderc_result_release(result) }

        let status = shaderc_result_get_compilation_status(result)
        guard status == shaderc_compilation_status_success else {
            var log = shaderc_result_get_error_message(result).map { String(cString: $0) } ?? ""
            if log.isEmpty { log = "shaderc status \(status.rawValue)" }
            throw VulkanError.shaderCompilation(shader: name, log: log)
        }
        let length = shaderc_result_get_length(result)
        guard length > 0, length % 4 == 0, let bytes = shaderc_result_get_bytes(result) else {
            throw VulkanError.shaderCompilation(shader: name, log: "shaderc produced \(length) bytes of SPIR-V")
        }
        var words = [UInt32](repeating: 0, count: length / 4)
        words.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: bytes, count: length)) }
        return words
    }

    /// Reads a cached module; nil when missing or not plausibly SPIR-V.
    private static func loadSPIRV(_ url: URL, key: String) -> [UInt32]? {
        guard let data = CacheEntry.read(url.path, key: key), data.count >= 20, data.count % 4 == 0 else { return nil }
        var words = [UInt32](repeating: 0, count: data.count / 4)
        words.withUnsafeMutableBytes { _ = data.copyBytes(to: $0) }
        guard words[0] == 0x0723_0203 else { return nil }
        return words
    }

    /// Identifies the shaderc build: its SPIR-V version/revision plus the path, size and mtime
    /// of the loaded shaderc shared library (the C API has no library version call).
    static let shadercIdentity: String = {
        var version: UInt32 = 0, revision: UInt32 = 0
        shaderc_get_spv_version(&version, &revision)
        var identity = "spv=\(version).\(revision)"
        for path in loadedLibraries(matching: "shaderc") {
            identity += " lib=\(path)"
            if let attributes = try? FileManager.default.attributesOfItem(atPath: path) {
                let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
                let mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
                identity += " size=\(size) mtime=\(mtime)"
            }
        }
        return identity
    }()

    /// Paths of mapped shared objects whose file name contains `fragment` (Linux
    /// `/proc/self/maps`; empty elsewhere, where the SPIR-V version alone keys the cache).
    static func loadedLibraries(matching fragment: String) -> [String] {
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return [] }
        var paths = Set<String>()
        for line in maps.split(separator: "\n") {
            guard let slash = line.firstIndex(of: "/") else { continue }
            let path = String(line[slash...])
            if (path as NSString).lastPathComponent.contains(fragment) { paths.insert(path) }
        }
        return paths.sorted()
    }
}
