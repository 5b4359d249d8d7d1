import Foundation

/// Looks up GLSL sources by file name ("conv2d.comp", "common.glsl") and expands
/// `#include "name"` directives textually.
///
/// Sources come from `EmbeddedShaders.sources` (generated at build time from `Shaders/`),
/// or from a directory on disk (`FUSIONKIT_SHADER_DIR`, passed in by the context from
/// `FusionOptions`), so shaders can be edited without rebuilding. Files missing from that
/// directory fall back to the embedded copy.
public struct ShaderLibrary {
    /// Directory searched before the embedded sources, if any.
    public let directory: URL?
    /// In-memory sources that take precedence over everything else (tests, generated code).
    public var overrides: [String: String]

    public init(directory: URL? = nil, overrides: [String: String] = [:]) {
        self.directory = directory
        self.overrides = overrides
    }

    /// Names of all embedded shaders (not including the development directory).
    public static var embeddedNames: [String] { EmbeddedShaders.sources.keys.sorted() }

    /// The file's text exactly as stored, without include expansion.
    public func rawSource(named name: String) throws -> String {
        if let text = overrides[name] { return text }
        if let directory = directory {
            let url = directory.appendingPathComponent(name)
            if let data = FileManager.default.contents(atPath: url.path) {
                return String(decoding: data, as: UTF8.self)
            }
        }
        if let text = EmbeddedShaders.sources[name] { return text }
        throw VulkanError.shaderNotFound(name)
    }

    /// The source with every `#include "name"` expanded (recursively; each name at most once).
    public func source(named name: String) throws -> String {
        var included: Set<String> = [name]
        return try expand(try rawSource(named: name), included: &included)
    }

    /// Expands includes in an arbitrary source string using this library's store.
    public func expandIncludes(in text: String, name: String = "<source>") throws -> String {
        var included: Set<String> = [name]
        return try expand(text, included: &included)
    }

    private func expand(_ text: String, included: inout Set<String>) throws -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        var first = true
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if !first { output += "\n" }
            first = false
            guard let target = Self.includeTarget(of: line) else {
                output += line
                continue
            }
            // Include guard by name: a file is pasted at most once per expanded shader.
            guard included.insert(target).inserted else {
                output += "// #include \"\(target)\" (already included)"
                continue
            }
            output += "// begin #include \"\(target)\"\n"
            output += try expand(try rawSource(named: target), included: &included)
            output += "\n// end #include \"\(target)\""
        }
        return output
    }

    /// The quoted file name if `line` is `#include "name"` (whitespace allowed around tokens).
    static func includeTarget<S: StringProtocol>(of line: S) -> String? {
        var rest = line.drop(while: { $0 == " " || $0 == "\t" })
        guard rest.first == "#" else { return nil }
        rest = rest.dropFirst().drop(while: { $0 == " " || $0 == "\t" })
        guard rest.hasPrefix("include") else { return nil }
        rest = rest.dropFirst("include".count).drop(while: { $0 == " " || $0 == "\t" })
        guard rest.first == "\"" else { return nil }
        rest = rest.dropFirst()
        guard let close = rest.firstIndex(of: "\"") else { return nil }
        let name = String(rest[rest.startIndex..<close])
        return name.isEmpty ? nil : name
    }
}
