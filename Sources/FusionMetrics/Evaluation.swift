import Foundation
import FusionIO

/// The metrics of one image triple.
public struct ImageMetrics: Sendable, Equatable {
    public let name: String
    public let values: [String: Double]
}

/// Everything `fusion eval` prints.
public struct EvaluationReport: Sendable {
    public let profile: MetricProfile
    /// The metrics computed, in the profile's order.
    public let metrics: [String]
    public let images: [ImageMetrics]
    /// Per metric, the mean over the images whose value is not NaN (MATLAB's `nanmean`, as
    /// VIFB averages; identical to the plain mean when no value is NaN).
    public let mean: [String: Double]
}

/// Runs a profile over many triples, several at a time.
public enum Evaluation {
    /// Decodes and evaluates one triple. Errors: an unreadable image (naming the file) and
    /// images of different sizes (naming all three).
    public static func evaluate(_ triple: ImageTriple, profile: MetricProfile, metrics: [String]) throws -> ImageMetrics {
        func read(_ path: String) throws -> Image {
            do { return try MetricImages.read(path) } catch {
                throw MetricsError.unreadable(path: path, reason: "\(error)")
            }
        }
        let ir = try read(triple.ir), vis = try read(triple.vis), fused = try read(triple.fused)
        let sizes = [(triple.ir, ir), (triple.vis, vis), (triple.fused, fused)]
        if Set(sizes.map { "\($0.1.width)x\($0.1.height)" }).count > 1 {
            throw MetricsError.sizeMismatch(name: triple.name, sizes: sizes.map { "\($0.0) is \($0.1.width)x\($0.1.height)" })
        }
        return ImageMetrics(name: triple.name, values: profile.evaluate(ir: ir, vis: vis, fused: fused, metrics: metrics))
    }

    /// Evaluates `triples` with `jobs` worker threads. `progress(done, total, name)` is called
    /// (serialised) after each triple. The first error (in triple order) is thrown after the
    /// workers stop; no further triples start once one has failed.
    public static func run(_ triples: [ImageTriple], profile: MetricProfile, metrics: [String], jobs: Int,
                           progress: (@Sendable (Int, Int, String) -> Void)? = nil) throws -> EvaluationReport {
        guard jobs >= 1 else { throw MetricsError.badJobs(jobs) }
        final class State: @unchecked Sendable {
            let lock = NSLock()
            var next = 0
            var done = 0
            var failed = false
            var results: [Int: Result<ImageMetrics, Error>] = [:]
        }
        let state = State()
        let total = triples.count
        DispatchQueue.concurrentPerform(iterations: min(jobs, max(total, 1))) { _ in
            while true {
                state.lock.lock()
                if state.failed || state.next >= total { state.lock.unlock(); return }
                let i = state.next
                state.next += 1
                state.lock.unlock()
                let r = Result { try evaluate(triples[i], profile: profile, metrics: metrics) }
                state.lock.lock()
                state.results[i] = r
                state.done += 1
                if case .failure = r { state.failed = true }
                let done = state.done
                progress?(done, total, triples[i].name)
                state.lock.unlock()
            }
        }
        var images: [ImageMetrics] = []
        for i in 0..<total {
            guard let r = state.results[i] else { continue }
            images.append(try r.get())
        }
        var mean: [String: Double] = [:]
        for key in metrics {
            let values = images.compactMap { $0.values[key] }.filter { !$0.isNaN }
            mean[key] = values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
        }
        return EvaluationReport(profile: profile, metrics: metrics, images: images, mean: mean)
    }
}
