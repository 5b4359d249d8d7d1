import CProcessGuard
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import FusionCore
import FusionIO

/// One pair to fuse, with its prompts resolved to features and its output paths chosen.
public struct DatasetJob: Sendable {
    public let pair: DatasetPair
    /// One output path per prompt.
    public let outputs: [String]
    /// One feature vector per prompt; nil when the prompt could not be had (`failure`).
    public let features: [[Float]]
    /// The prompts' texts (for the run log).
    public let prompts: [String]
    /// Set when the job is known to fail before it runs (a missing prompt file).
    public let failure: String?

    public init(pair: DatasetPair, outputs: [String], features: [[Float]], prompts: [String], failure: String? = nil) {
        self.pair = pair
        self.outputs = outputs
        self.features = features
        self.prompts = prompts
        self.failure = failure
    }
}

/// How one pair ended.
public struct DatasetOutcome: Sendable {
    public enum Status: String, Sendable { case fused, skipped, failed }
    public let stem: String
    public let status: Status
    /// Why it failed (file names and reason).
    public let reason: String?
    public let outputs: [String]
    public let width: Int, height: Int
    public let decodeSeconds: Double, networkSeconds: Double, encodeSeconds: Double
}

/// Totals of a run.
public struct DatasetSummary: Sendable {
    public var fused = 0, skipped = 0, failed = 0
    public var failures: [(stem: String, reason: String)] = []
    public var wallSeconds = 0.0
    /// Summed over pairs (decode and encode run on several threads at once).
    public var decodeSeconds = 0.0, encodeSeconds = 0.0
    /// Time on the backend thread running networks, and waiting for decoded input.
    public var networkSeconds = 0.0, networkIdleSeconds = 0.0
    public var pairsPerSecond: Double { wallSeconds > 0 ? Double(fused) / wallSeconds : 0 }
}

/// Fuses a dataset as a pipeline: reader threads decode and prepare pairs, the calling
/// thread runs the network on the backend, writer threads turn outputs into images and
/// write them atomically. The stages are joined by bounded queues, so memory stays bounded
/// whatever the dataset's size, and the network never waits for a decode or an encode that
/// another thread can do.
public final class DatasetRunner {
    public struct Options: Sendable {
        public var readers = 2
        public var writers = 2
        /// Pairs waiting between stages.
        public var queueDepth = 4
        public var failFast = false
        public var pixelLimit = Image.defaultPixelLimit
        public var overwrite = false
        /// Pairs of one size (and one prompt each) run together in one graph run.
        public var batch = 1
        public init() {}
    }

    public let model: PairFusionModel
    public let options: Options
    public let log: RunLog
    /// Fields every run-log line carries (model, weights SHA-256, backend).
    public let logFields: [String: String]

    public init(model: PairFusionModel, options: Options, log: RunLog, logFields: [String: String]) {
        self.model = model
        self.options = options
        self.log = log
        self.logFields = logFields
    }

    private struct Decoded {
        let index: Int
        let inputs: PairInputs?
        let failure: String?
        let decodeSeconds: Double
    }

    private struct Fused {
        let index: Int
        let inputs: PairInputs?
        let outputs: [Tensor]
        let failure: String?
        let decodeSeconds: Double, networkSeconds: Double
    }

    /// Whether a job's outputs all exist (a rerun skips it).
    public static func isDone(_ job: DatasetJob) -> Bool {
        job.outputs.allSatisfy { FileManager.default.fileExists(atPath: $0) }
    }

    /// Runs every job; `progress` is called (from any thread, serialised) after each one.
    public func run(_ jobs: [DatasetJob], progress: @escaping (DatasetOutcome, DatasetSummary) -> Void) -> DatasetSummary {
        let start = Date()
        let summaryLock = NSLock()
        var summary = DatasetSummary()
        let stop = StopFlag()

        func finish(_ outcome: DatasetOutcome, job: DatasetJob) {
            var fields: [String: Any] = logFields.mapValues { $0 as Any }
            fields["stem"] = outcome.stem
            fields["ir"] = job.pair.ir
            fields["vis"] = job.pair.vis
            fields["prompts"] = job.prompts
            fields["outputs"] = outcome.outputs
            fields["status"] = outcome.status == .skipped ? "existing" : outcome.status.rawValue
            if let reason = outcome.reason { fields["reason"] = reason }
            if outcome.width > 0 { fields["size"] = [outcome.width, outcome.height] }
            fields["seconds"] = ["decode": outcome.decodeSeconds, "network": outcome.networkSeconds, "encode": outcome.encodeSeconds]
            var logFailure: String?
            // Skipped pairs already have a line unless a kill came between write and log.
            if outcome.status != .skipped || !log.loggedStems.contains(outcome.stem) {
                do { try log.append(fields) } catch { logFailure = "\(error)" }
            }
            summaryLock.lock()
            switch outcome.status {
            case .fused: summary.fused += 1
            case .skipped: summary.skipped += 1
            case .failed:
                summary.failed += 1
                summary.failures.append((outcome.stem, outcome.reason ?? "failed"))
                if options.failFast { stop.set() }
            }
            if let logFailure { summary.failures.append((outcome.stem, logFailure)) }
            summary.decodeSeconds += outcome.decodeSeconds
            summary.encodeSeconds += outcome.encodeSeconds
            summary.wallSeconds = Date().timeIntervalSince(start)
            let snapshot = summary
            progress(outcome, snapshot)
            summaryLock.unlock()
        }

        // Jobs already done are skipped up front (resume); the rest go through the pipeline.
        var pending: [Int] = []
        for (i, job) in jobs.enumerated() {
            if !options.overwrite, Self.isDone(job) {
                finish(DatasetOutcome(stem: job.pair.stem, status: .skipped, reason: nil, outputs: job.outputs, width: 0, height: 0,
                                      decodeSeconds: 0, networkSeconds: 0, encodeSeconds: 0), job: job)
            } else {
                pending.append(i)
            }
        }

        let queued = pending
        let decoded = BoundedQueue<Decoded>(capacity: options.queueDepth)
        let fused = BoundedQueue<Fused>(capacity: options.queueDepth)
        let next = Counter()
        let readersDone = DispatchGroup(), writersDone = DispatchGroup()
        let model = self.model, pixelLimit = options.pixelLimit

        for _ in 0..<max(1, options.readers) {
            readersDone.enter()
            Thread.detachNewThread {
                defer { readersDone.leave() }
                yieldToTheNetwork()
                while !stop.value, let k = next.take(below: queued.count) {
                    let i = queued[k], job = jobs[i]
                    let t0 = Date()
                    if let failure = job.failure {
                        decoded.push(Decoded(index: i, inputs: nil, failure: failure, decodeSeconds: 0))
                        continue
                    }
                    do {
                        let ir = try Image.read(path: job.pair.ir, pixelLimit: pixelLimit)
                        let vis = try Image.read(path: job.pair.vis, pixelLimit: pixelLimit)
                        let inputs = try model.prepare(infrared: ir, visible: vis)
                        decoded.push(Decoded(index: i, inputs: inputs, failure: nil, decodeSeconds: Date().timeIntervalSince(t0)))
                    } catch let error as FileFormatError {
                        decoded.push(Decoded(index: i, inputs: nil, failure: "\(error)", decodeSeconds: Date().timeIntervalSince(t0)))
                    } catch {
                        // Errors of the pair itself (sizes): name both files.
                        decoded.push(Decoded(index: i, inputs: nil, failure: "\(job.pair.ir), \(job.pair.vis): \(error)",
                                             decodeSeconds: Date().timeIntervalSince(t0)))
                    }
                }
            }
        }
        DispatchQueue.global().async {
            readersDone.wait()
            decoded.close()
        }

        for _ in 0..<max(1, options.writers) {
            writersDone.enter()
            Thread.detachNewThread {
                defer { writersDone.leave() }
                yieldToTheNetwork()
                while let item = fused.pop() {
                    let job = jobs[item.index]
                    let t0 = Date()
                    var failure = item.failure
                    if failure == nil, let inputs = item.inputs {
                        do {
                            for (output, path) in zip(item.outputs, job.outputs) {
                                try model.image(output, for: inputs).write(to: path)
                            }
                        } catch {
                            failure = "\(error)"
                        }
                    }
                    finish(DatasetOutcome(stem: job.pair.stem, status: failure == nil ? .fused : .failed, reason: failure,
                                          outputs: failure == nil ? job.outputs : [], width: item.inputs?.visible.width ?? 0,
                                          height: item.inputs?.visible.height ?? 0, decodeSeconds: item.decodeSeconds,
                                          networkSeconds: item.networkSeconds, encodeSeconds: Date().timeIntervalSince(t0)), job: job)
                }
            }
        }

        // The network, on this thread. With `batch` > 1, decoded pairs wait in a group per
        // input size until the group is full (or the input ends), then run as one batch.
        // One group stays in flight: group k+1 is queued (`PairFusionModel.submit`) before
        // group k is collected, so on an asynchronous backend (Vulkan) the upload of the
        // next inputs and the hand-over of the previous outputs overlap the current run.
        // The group in flight is collected before this thread waits for input, so writers
        // never wait for a run that has finished. A group's failure is its own pairs' only.
        var networkSeconds = 0.0, idleSeconds = 0.0
        var groups: [[Int]: [Decoded]] = [:]
        var inFlight: (items: [Decoded], pending: PendingPairRun, submitSeconds: Double)?
        func deliver(_ items: [Decoded], _ result: Result<[[Tensor]], Error>, seconds: Double) {
            var result = result
            if case let .success(outputs) = result, outputs.count != items.count {
                result = .failure(FusionError.backend("the network returned outputs for \(outputs.count) of \(items.count) pairs"))
            }
            switch result {
            case let .success(outputs):
                for (item, out) in zip(items, outputs) {
                    fused.push(Fused(index: item.index, inputs: item.inputs, outputs: out, failure: nil, decodeSeconds: item.decodeSeconds,
                                     networkSeconds: seconds / Double(items.count)))
                }
            case let .failure(error):
                for item in items {
                    fused.push(Fused(index: item.index, inputs: item.inputs, outputs: [], failure: "\(error)", decodeSeconds: item.decodeSeconds, networkSeconds: 0))
                }
            }
        }
        func collect() {
            guard let group = inFlight else { return }
            inFlight = nil
            let t0 = Date()
            let result = Result { try group.pending.finish() }
            let seconds = Date().timeIntervalSince(t0)
            networkSeconds += seconds
            deliver(group.items, result, seconds: group.submitSeconds + seconds)
        }
        func runGroup(_ items: [Decoded]) {
            guard !items.isEmpty else { return }
            let t0 = Date()
            let submitted = Result { try model.submit(items.map { $0.inputs! }, features: items.map { jobs[$0.index].features }) }
            let seconds = Date().timeIntervalSince(t0)
            networkSeconds += seconds
            collect() // the group before, while this one runs
            switch submitted {
            case let .success(pending): inFlight = (items, pending, seconds)
            case let .failure(error): deliver(items, .failure(error), seconds: seconds)
            }
        }
        var waitStart = Date()
        while true {
            var next = decoded.popIfReady()
            if next == nil, inFlight != nil {
                collect() // nothing to queue behind it: its outputs go to the writers now
                waitStart = Date()
            }
            if next == nil { next = decoded.pop() }
            guard let item = next else { break }
            idleSeconds += Date().timeIntervalSince(waitStart)
            defer { waitStart = Date() }
            if stop.value { continue }
            guard item.failure == nil, let inputs = item.inputs else {
                fused.push(Fused(index: item.index, inputs: nil, outputs: [], failure: item.failure ?? "not decoded", decodeSeconds: item.decodeSeconds, networkSeconds: 0))
                continue
            }
            // Pairs with several prompts run alone (their prompts share the encoders).
            if options.batch <= 1 || jobs[item.index].features.count != 1 {
                runGroup([item])
                continue
            }
            let key = inputs.tensors.keys.sorted().flatMap { inputs.tensors[$0]!.shape }
            groups[key, default: []].append(item)
            if groups[key]!.count >= options.batch {
                runGroup(groups.removeValue(forKey: key)!)
            }
        }
        for key in groups.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) where !stop.value { runGroup(groups[key]!) }
        collect()
        fused.close()
        writersDone.wait()
        summaryLock.lock()
        summary.networkSeconds = networkSeconds
        summary.networkIdleSeconds = idleSeconds
        summary.wallSeconds = Date().timeIntervalSince(start)
        let result = summary
        summaryLock.unlock()
        return result
    }
}

/// Lowers the calling thread's scheduling priority (nice 10): decoding and encoding then
/// take the cores the network leaves idle instead of slowing it down.
private func yieldToTheNetwork() {
    _ = fk_thread_set_nice(10)
}

private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    func set() { lock.lock(); flag = true; lock.unlock() }
    var value: Bool { lock.lock(); defer { lock.unlock() }; return flag }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    func take(below limit: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard next < limit else { return nil }
        next += 1
        return next - 1
    }
}
