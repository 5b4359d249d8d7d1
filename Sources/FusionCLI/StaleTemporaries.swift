import Foundation
import FusionCore
import FusionIO

/// Removes temporary files that a killed `fusion` process left in the cache folders (a
/// SIGKILL cannot be caught). Output folders are swept by their first write
/// (`AtomicFile`).
func sweepStaleTemporaries() {
    let root = FusionOptions.current.cacheRoot
    var folders = [root, root.appendingPathComponent("vulkan/spirv"), root.appendingPathComponent("vulkan/pipelines"),
                   root.appendingPathComponent("weights")]
    let features = root.appendingPathComponent("text-features")
    if let names = try? FileManager.default.contentsOfDirectory(atPath: features.path) {
        folders += names.map { features.appendingPathComponent($0) }
    }
    for folder in folders { AtomicFile.sweepStaleTemporaries(in: folder.path) }
}
