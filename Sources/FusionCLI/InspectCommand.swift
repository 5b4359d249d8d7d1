import ArgumentParser
import Foundation
import FusionIO

/// `fusion inspect FILE`: what a checkpoint holds, read the way the engine reads it.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List the tensors of a checkpoint (safetensors, PyTorch .pth/.pt, TorchScript)."
    )

    @Argument(help: "The checkpoint file.")
    var file: String

    @Flag(help: "Also print each tensor's storage offset and strides.")
    var verbose = false

    @Flag(help: "Check every tensor's values (reads all data; reports NaN and infinity).")
    var values = false

    func run() throws {
        let loaded: CheckpointReader.Loaded
        do {
            loaded = try CheckpointReader.read(path: file)
        } catch let error as FileFormatError {
            throw CLIError(error.description)
        }
        let archive = loaded.archive
        print("file: \(file)")
        print("format: \(archive.format)")
        var rows: [[String]] = []
        for tensor in archive.tensors {
            var row = [tensor.name, tensor.dtype.rawValue, "[" + tensor.shape.map(String.init).joined(separator: ", ") + "]", String(tensor.elementCount)]
            if verbose { row += [String(tensor.offset), "[" + tensor.strides.map(String.init).joined(separator: ", ") + "]"] }
            if values {
                let v: [Float]
                do { v = try tensor.floatValues() } catch let error as FileFormatError {
                    throw CLIError(error.located(path: archive.path, format: archive.format.rawValue).description)
                }
                let bad = v.filter { !$0.isFinite }.count
                let finite = v.filter(\.isFinite)
                row += [finite.min().map { String(format: "%.4g", $0) } ?? "-", finite.max().map { String(format: "%.4g", $0) } ?? "-", bad == 0 ? "" : "\(bad) non-finite"]
            }
            rows.append(row)
        }
        var header = ["name", "dtype", "shape", "elements"]
        if verbose { header += ["offset", "strides"] }
        if values { header += ["min", "max", ""] }
        printTable(header: header, rows: rows)
        for (key, value) in archive.metadata.sorted(by: { $0.key < $1.key }) {
            let shown = value.count > 200 ? String(value.prefix(200)) + "... (\(value.count) characters)" : value
            print("metadata \(key): \(shown)")
        }
        for entry in loaded.skipped { print("skipped \(entry)") }
        let dtypes = Dictionary(grouping: archive.tensors, by: \.dtype).map { "\($0.value.count) \($0.key)" }.sorted()
        print("tensors: \(archive.tensors.count) (\(dtypes.joined(separator: ", ")))")
        print("parameters: \(groupedThousands(archive.parameterCount))")
    }
}
