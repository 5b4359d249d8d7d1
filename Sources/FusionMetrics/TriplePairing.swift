import Foundation

/// One infrared / visible / fused triple, paired by file name without extension (stem).
public struct ImageTriple: Sendable, Equatable {
    public let name: String
    public let ir: String
    public let vis: String
    public let fused: String

    public init(name: String, ir: String, vis: String, fused: String) {
        self.name = name
        self.ir = ir
        self.vis = vis
        self.fused = fused
    }
}

/// The triples of three folders, and the images that have no partner.
public struct TriplePairing: Sendable {
    /// Complete triples, sorted by name.
    public let triples: [ImageTriple]
    /// One line per incomplete name: which folders have it and which lack it.
    public let unmatched: [String]

    /// The image extensions considered (any case); other files are ignored.
    public static let extensions: Set<String> = ["png", "jpg", "jpeg"]

    /// Pairs the images of the three folders by stem (`carLight.jpg` with `carLight.png`).
    /// Errors: a folder that is missing, holds no image, or holds two images of one stem;
    /// no stem present in all three.
    public static func pair(ir: String, vis: String, fused: String) throws -> TriplePairing {
        let roles = [("--ir", ir), ("--vis", vis), ("--fused", fused)]
        let listed = try roles.map { try images(in: $0.1, role: $0.0) }
        let names = Set(listed.flatMap(\.keys)).sorted()
        var triples: [ImageTriple] = []
        var unmatched: [String] = []
        for name in names {
            let paths = listed.map { $0[name] }
            if let a = paths[0], let b = paths[1], let c = paths[2] {
                triples.append(ImageTriple(name: name, ir: a, vis: b, fused: c))
            } else {
                let have = roles.indices.filter { paths[$0] != nil }.map { roles[$0].0 }
                let lack = roles.indices.filter { paths[$0] == nil }.map { roles[$0].0 }
                unmatched.append("\(name): in \(have.joined(separator: ", ")) but not in \(lack.joined(separator: ", "))")
            }
        }
        if triples.isEmpty { throw MetricsError.noTriples(ir: ir, vis: vis, fused: fused) }
        return TriplePairing(triples: triples, unmatched: unmatched)
    }

    /// stem -> path of the images in `folder` (hidden files and other extensions skipped;
    /// symbolic links followed).
    public static func images(in folder: String, role: String) throws -> [String: String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue,
              let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw MetricsError.folderMissing(role: role, path: folder)
        }
        var byStem: [String: [String]] = [:]
        for entry in entries.sorted() where !entry.hasPrefix(".") {
            let url = URL(fileURLWithPath: folder).appendingPathComponent(entry)
            guard extensions.contains(url.pathExtension.lowercased()) else { continue }
            byStem[url.deletingPathExtension().lastPathComponent, default: []].append(url.path)
        }
        if byStem.isEmpty { throw MetricsError.folderEmpty(role: role, path: folder) }
        var out: [String: String] = [:]
        for (stem, paths) in byStem {
            if paths.count > 1 {
                throw MetricsError.ambiguousName(role: role, name: stem, files: paths.map { URL(fileURLWithPath: $0).lastPathComponent })
            }
            out[stem] = paths[0]
        }
        return out
    }
}
