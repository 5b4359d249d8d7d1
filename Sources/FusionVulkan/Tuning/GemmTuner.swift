import Foundation
import FusionCore

/// `fusion tune`: times the register-tiled variants on the GEMM and conv problems of one
/// graph, and the attention variants on its attention problems (`tuneAttention`), on its
/// own device, and keeps the fastest per problem shape.
///
/// The graph runs whole, once per candidate round: a first round records which problem
/// (`GemmShapeKey`) each node dispatches and times the default choice; round r gives every
/// problem its r-th candidate (variants the device can run, each without and with K
/// splits, at most `maxCandidates`), so all shapes are measured at once from the per-node
/// GPU timestamps (the best of `repeats` runs). A node that dispatches several problems
/// cannot be attributed and keeps the default.
public struct GemmTuner {
    public let backend: VulkanBackend
    public var repeats = 3
    /// Candidates per problem, the default included: bounds a tuning run to that many
    /// rounds of `repeats` graph runs.
    public var maxCandidates = 12

    public init(backend: VulkanBackend) { self.backend = backend }

    /// One tuned problem: the default's and the winner's time.
    public typealias Outcome = Measured<GemmShapeKey, GemmChoice>

    /// The candidates of `key` on this device, the default first.
    func candidates(for key: GemmShapeKey) -> [GemmChoice] {
        let info = backend.context.info, precision = backend.precision
        let coopmatOn = backend.context.enabledFeatures.cooperativeMatrixNV
        let first = GemmVariant.defaultChoice(for: key, on: info, precision: precision, cooperativeMatrixEnabled: coopmatOn)
        var out = [first]
        let splitOptions = key.k >= 512 ? [1, max(2, min(16, key.k / 256)) / 2, max(2, min(16, key.k / 256))] : [1]
        for v in GemmVariant.supported(on: info, precision: precision) where !v.cooperativeMatrix || coopmatOn {
            for s in Set(splitOptions).sorted() {
                let c = GemmChoice(variant: v, splits: s)
                if !out.contains(c) { out.append(c) }
            }
        }
        return Array(out.prefix(maxCandidates))
    }

    /// Tunes every GEMM / conv problem of `graph` (already optimised as the backend runs it).
    public func tune(graph: Graph, inputs: [String: Tensor], log: (String) -> Void = { _ in }) throws -> [Outcome] {
        // (The default is given explicitly: a tuning table already loaded must not stand in for it.)
        try tuneRounds(graph: graph, inputs: inputs, candidates: candidates(for:),
                       order: { ($0.kind.rawValue, $0.m, $0.n, $0.k, $0.batch) < ($1.kind.rawValue, $1.m, $1.n, $1.k, $1.batch) },
                       override: { try GemmChoiceOverride.with($0, $1) }, what: "GEMM/conv problem shapes", log: log)
    }

    /// One problem's measurements in `tuneRounds`: the default's and the winner's time.
    public struct Measured<Key, Choice> {
        public let key: Key
        public let nodes: Int
        public let defaultChoice: Choice
        public let defaultMicroseconds: Double
        public let best: Choice
        public let bestMicroseconds: Double
        public let candidates: Int
    }

    /// The rounds of a tuning run, for any kind of problem whose encoders consult an
    /// override (`override(resolver, body)` runs body with the resolver installed): round 0
    /// records which node dispatches which problems and times each problem's first
    /// candidate; round r gives every problem its r-th candidate. A node that dispatches
    /// several problems cannot be attributed and keeps the default.
    func tuneRounds<Key: Hashable, Choice>(graph: Graph, inputs: [String: Tensor], candidates: @escaping (Key) -> [Choice],
                                           order: (Key, Key) -> Bool,
                                           override: (@escaping (Key, Int?) -> Choice?, () throws -> [Int: Double]) throws -> [Int: Double],
                                           what: String, log: (String) -> Void) throws -> [Measured<Key, Choice>] {
        var keysOfNode: [Int: Set<Key>] = [:]
        var firstOf: [Key: Choice] = [:]
        let defaultTimes = try override({ key, node in
            if let node { keysOfNode[node, default: []].insert(key) }
            if firstOf[key] == nil { firstOf[key] = candidates(key)[0] }
            return firstOf[key]
        }) { try timeNodes(graph: graph, inputs: inputs) }
        var nodesOfKey: [Key: [Int]] = [:]
        for (node, keys) in keysOfNode where keys.count == 1 { nodesOfKey[keys.first!, default: []].append(node) }
        let keys = nodesOfKey.keys.sorted(by: order)
        let lists = Dictionary(uniqueKeysWithValues: keys.map { ($0, candidates($0)) })
        func time(_ key: Key, _ perNode: [Int: Double]) -> Double {
            nodesOfKey[key]!.reduce(0) { $0 + (perNode[$1] ?? .infinity) }
        }
        var best = Dictionary(uniqueKeysWithValues: keys.map { ($0, (index: 0, seconds: time($0, defaultTimes))) })
        let rounds = lists.values.map(\.count).max() ?? 0
        log("tuning \(keys.count) \(what) over \(rounds) candidate rounds x \(repeats) runs")
        if rounds > 1 {
            for r in 1..<rounds {
                let perNode = try override({ key, _ in
                    guard let list = lists[key] else { return nil }
                    return r < list.count ? list[r] : list[0]
                }) { try timeNodes(graph: graph, inputs: inputs) }
                for key in keys where r < lists[key]!.count {
                    let t = time(key, perNode)
                    if t < best[key]!.seconds { best[key] = (r, t) }
                }
                log("round \(r + 1)/\(rounds) done")
            }
        }
        return keys.map { key in
            Measured(key: key, nodes: nodesOfKey[key]!.count, defaultChoice: lists[key]![0], defaultMicroseconds: time(key, defaultTimes) * 1e6,
                     best: lists[key]![best[key]!.index], bestMicroseconds: best[key]!.seconds * 1e6, candidates: lists[key]!.count)
        }
    }

    /// GPU seconds per node index, the best of `repeats` runs of a freshly prepared
    /// executable (so the current choices are recorded).
    func timeNodes(graph: Graph, inputs: [String: Tensor]) throws -> [Int: Double] {
        guard let e = try backend.prepare(graph) as? VulkanExecutable else { return [:] }
        _ = try e.run(inputs)   // records and warms up
        var best: [Int: Double] = [:]
        for _ in 0..<max(1, repeats) {
            _ = try e.run(inputs)
            guard let profile = e.lastProfile else {
                throw VulkanError.unsupportedFeature("fusion tune needs GPU timestamps, which device [\(backend.context.info.index)] '\(backend.context.info.name)' does not provide")
            }
            for n in profile.nodes { best[n.node] = min(best[n.node] ?? .infinity, n.seconds) }
        }
        return best
    }

    /// The table `outcomes` give, merged over `existing` (entries of other shapes stay).
    public func table(_ outcomes: [Outcome], attention: [AttentionOutcome] = [], merging existing: GemmTuningTable?) -> GemmTuningTable {
        var entries = (existing?.entries ?? []).filter { e in !outcomes.contains { $0.key == e.key } }
        for o in outcomes {
            entries.append(.init(key: o.key, variant: o.best.variant.name, splits: o.best.splits,
                                 microseconds: o.bestMicroseconds, defaultMicroseconds: o.defaultMicroseconds))
        }
        var attentionEntries = (existing?.attention ?? []).filter { e in !attention.contains { $0.key == e.key } }
        for o in attention {
            attentionEntries.append(.init(key: o.key, variant: o.best.name, microseconds: o.bestMicroseconds, defaultMicroseconds: o.defaultMicroseconds))
        }
        return GemmTuningTable(device: .init(backend.context.info), entries: entries, attention: attentionEntries)
    }
}
