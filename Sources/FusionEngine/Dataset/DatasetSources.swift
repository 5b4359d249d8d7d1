import Foundation
import FusionIO
import FusionMetrics

/// Builds a `DatasetPlan` from two folders or from a manifest.
public enum DatasetSources {
    /// Pairs the images of two folders by stem (`.png`, `.jpg`, `.jpeg`, any case), as
    /// `fusion eval` does; with `textFolder`, each pair's prompt is `STEM.txt` there (a
    /// missing file is that pair's failure, reported when it runs); with `featuresFolder`,
    /// its pre-encoded features are `STEM.npy` there (IF-FILM's per-image BLIP-2 features).
    public static func folders(ir: String, vis: String, textFolder: String? = nil, featuresFolder: String? = nil) throws -> DatasetPlan {
        let irImages: [String: String], visImages: [String: String]
        do {
            irImages = try TriplePairing.images(in: ir, role: "--ir")
            visImages = try TriplePairing.images(in: vis, role: "--vis")
        } catch {
            throw DatasetError("\(error)")
        }
        if let textFolder {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: textFolder, isDirectory: &isFolder), isFolder.boolValue else {
                throw DatasetError("--text-dir \(textFolder): no such folder")
            }
        }
        if let featuresFolder {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: featuresFolder, isDirectory: &isFolder), isFolder.boolValue else {
                throw DatasetError("--text-features-dir \(featuresFolder): no such folder")
            }
        }
        var pairs: [DatasetPair] = [], unmatched: [String] = []
        for stem in Set(irImages.keys).union(visImages.keys).sorted() {
            switch (irImages[stem], visImages[stem]) {
            case let (a?, b?):
                let prompt = textFolder.map { PromptSource.textFile(URL(fileURLWithPath: $0).appendingPathComponent(stem + ".txt").path) }
                    ?? featuresFolder.map { PromptSource.features(URL(fileURLWithPath: $0).appendingPathComponent(stem + ".npy").path) }
                pairs.append(DatasetPair(stem: stem, ir: a, vis: b, prompt: prompt))
            case (_?, nil): unmatched.append("\(stem): in --ir \(ir) but not in --vis \(vis)")
            case (nil, _?): unmatched.append("\(stem): in --vis \(vis) but not in --ir \(ir)")
            default: break
            }
        }
        if pairs.isEmpty { throw DatasetError("--ir \(ir) and --vis \(vis) have no image name in common") }
        return DatasetPlan(pairs: pairs, unmatched: unmatched)
    }

    /// Reads a manifest: CSV with a header row, or JSON Lines (one object per line), with
    /// columns `ir`, `vis` and optional `prompt`, `text_file`, `features`, `output`.
    /// Relative paths resolve against the manifest's folder. The stem is the output's, else
    /// the visible image's file name without extension; stems must be unique.
    public static func manifest(_ path: String) throws -> DatasetPlan {
        let data: Data
        do {
            data = try RegularFile.read(path: path, maxBytes: 256 << 20, format: "manifest")
        } catch {
            throw DatasetError("\(error)")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw DatasetError("\(path): manifest is not UTF-8 text") }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : folder.appendingPathComponent(p).standardizedFileURL.path }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let rows: [(line: Int, fields: [String: String])] = trimmed.hasPrefix("{") ? try jsonLines(text, path) : try csv(text, path)
        var pairs: [DatasetPair] = []
        var seen: [String: Int] = [:]
        for (line, fields) in rows {
            guard let ir = fields["ir"], !ir.isEmpty, let vis = fields["vis"], !vis.isEmpty else {
                throw DatasetError("\(path):\(line): a row needs both 'ir' and 'vis'")
            }
            let sources = [fields["prompt"].map { PromptSource.text($0) }, fields["text_file"].map { PromptSource.textFile(resolve($0)) },
                           fields["features"].map { PromptSource.features(resolve($0)) }].compactMap { $0 }.filter {
                if case let .text(t) = $0 { return !t.isEmpty }
                if case let .textFile(p) = $0 { return !p.hasSuffix("/") }
                return true
            }
            guard sources.count <= 1 else { throw DatasetError("\(path):\(line): give one of 'prompt', 'text_file' and 'features', not several") }
            let output = fields["output"].flatMap { $0.isEmpty ? nil : resolve($0) }
            let stem = URL(fileURLWithPath: output ?? vis).deletingPathExtension().lastPathComponent
            if let first = seen[stem] {
                throw DatasetError("\(path):\(line): the name '\(stem)' is already used on line \(first); give each row its own 'output'")
            }
            seen[stem] = line
            pairs.append(DatasetPair(stem: stem, ir: resolve(ir), vis: resolve(vis), prompt: sources.first, output: output))
        }
        if pairs.isEmpty { throw DatasetError("\(path): the manifest lists no pair") }
        return DatasetPlan(pairs: pairs, unmatched: [])
    }

    static let columns: Set<String> = ["ir", "vis", "prompt", "text_file", "features", "output"]

    private static func jsonLines(_ text: String, _ path: String) throws -> [(line: Int, fields: [String: String])] {
        var rows: [(Int, [String: String])] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw DatasetError("\(path):\(i + 1): not a JSON object")
            }
            var fields: [String: String] = [:]
            for (key, value) in object {
                guard columns.contains(key) else { throw DatasetError("\(path):\(i + 1): unknown column '\(key)' (known: \(columns.sorted().joined(separator: ", ")))") }
                guard let s = value as? String else { throw DatasetError("\(path):\(i + 1): '\(key)' must be a string") }
                fields[key] = s
            }
            rows.append((i + 1, fields))
        }
        return rows
    }

    private static func csv(_ text: String, _ path: String) throws -> [(line: Int, fields: [String: String])] {
        let records = try CSVParser.records(text, path: path)
        guard let header = records.first else { throw DatasetError("\(path): empty manifest") }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        for name in names where !columns.contains(name) {
            throw DatasetError("\(path):1: unknown column '\(name)' (known: \(columns.sorted().joined(separator: ", ")))")
        }
        guard names.contains("ir"), names.contains("vis") else { throw DatasetError("\(path):1: the header needs columns 'ir' and 'vis'") }
        return try records.dropFirst().compactMap { record in
            if record.fields.count == 1, record.fields[0].trimmingCharacters(in: .whitespaces).isEmpty { return nil }
            guard record.fields.count == names.count else {
                throw DatasetError("\(path):\(record.line): \(record.fields.count) fields, the header has \(names.count)")
            }
            return (record.line, Dictionary(uniqueKeysWithValues: zip(names, record.fields)))
        }
    }
}

/// RFC 4180 CSV: quoted fields may hold commas, quotes ("") and line breaks.
enum CSVParser {
    static func records(_ text: String, path: String) throws -> [(line: Int, fields: [String])] {
        var records: [(Int, [String])] = []
        var fields: [String] = [], field = "", quoted = false, line = 1, start = 1
        var chars = Array(text.replacingOccurrences(of: "\r\n", with: "\n"))[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { quoted = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.append(c)
                }
            } else if c == "\"" && field.isEmpty {
                quoted = true
            } else if c == "," {
                fields.append(field); field = ""
            } else if c == "\n" {
                fields.append(field); field = ""
                records.append((start, fields)); fields = []
                line += 1; start = line
            } else {
                field.append(c)
            }
        }
        if quoted { throw DatasetError("\(path):\(start): a quoted field is not closed") }
        if !field.isEmpty || !fields.isEmpty { fields.append(field); records.append((start, fields)) }
        return records
    }
}
