/// What `fusion eval` and the metrics library report; each message names the file, folder
/// or argument at fault.
public enum MetricsError: Error, CustomStringConvertible, Equatable {
    case unknownProfile(String)
    case unknownMetric(String, profile: MetricProfile)
    case noMetrics(String)
    case folderMissing(role: String, path: String)
    case folderEmpty(role: String, path: String)
    case ambiguousName(role: String, name: String, files: [String])
    case noTriples(ir: String, vis: String, fused: String)
    case unreadable(path: String, reason: String)
    case sizeMismatch(name: String, sizes: [String])
    case badJobs(Int)

    public var description: String {
        switch self {
        case .unknownProfile(let p):
            return "unknown profile '\(p)'; choose one of: \(MetricProfile.allCases.map(\.rawValue).joined(separator: ", "))"
        case .unknownMetric(let m, let profile):
            return "unknown metric '\(m)' for profile \(profile); its metrics are: \(profile.keys.joined(separator: " "))"
        case .noMetrics(let list):
            return "--metrics '\(list)' names no metric"
        case .folderMissing(let role, let path):
            return "\(role) folder '\(path)' does not exist or is not a folder"
        case .folderEmpty(let role, let path):
            return "\(role) folder '\(path)' holds no .png or .jpg image"
        case .ambiguousName(let role, let name, let files):
            return "\(role) folder has several images named '\(name)': \(files.joined(separator: ", "))"
        case .noTriples(let ir, let vis, let fused):
            return "no image name is present in all three folders (--ir '\(ir)', --vis '\(vis)', --fused '\(fused)')"
        case .unreadable(let path, let reason):
            return "cannot read image '\(path)': \(reason)"
        case .sizeMismatch(let name, let sizes):
            return "images of '\(name)' differ in size: \(sizes.joined(separator: ", "))"
        case .badJobs(let n):
            return "--jobs must be at least 1 (got \(n))"
        }
    }
}
