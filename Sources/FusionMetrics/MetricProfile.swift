import Foundation
import FusionIO

/// The two conventions `fusion eval` reproduces (see Docs/metrics.md).
public enum MetricProfile: String, CaseIterable, Sendable, CustomStringConvertible {
    /// `utils/Evaluator.py` of CDDFuse, FILM and later repositories, on OpenCV grey images.
    case evaluator
    /// The MATLAB metrics of the VIFB benchmark, per RGB channel and averaged.
    case vifb

    public var description: String { rawValue }

    /// Every metric of the profile, in report order.
    public var keys: [String] {
        switch self {
        case .evaluator: return EvaluatorProfile.keys
        case .vifb: return VIFBProfile.keys
        }
    }

    /// The profile's metric names for a comma-separated list (names match case-insensitively;
    /// the result keeps the profile's order). An unknown name is an error listing the valid
    /// ones.
    public func metrics(from list: String) throws -> [String] {
        let asked = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if asked.isEmpty { throw MetricsError.noMetrics(list) }
        var chosen = Set<String>()
        for name in asked {
            guard let key = keys.first(where: { $0.lowercased() == name.lowercased() }) else {
                throw MetricsError.unknownMetric(name, profile: self)
            }
            chosen.insert(key)
        }
        return keys.filter { chosen.contains($0) }
    }

    /// The chosen metrics of one triple of decoded images (all of one size; `metrics` from
    /// `keys`).
    public func evaluate(ir: Image, vis: Image, fused: Image, metrics: [String]) -> [String: Double] {
        switch self {
        case .evaluator:
            return EvaluatorProfile.evaluate(ir: MetricImages.evaluatorGrey(ir), vis: MetricImages.evaluatorGrey(vis),
                                             fused: MetricImages.evaluatorGrey(fused), metrics: Set(metrics))
        case .vifb:
            return VIFBProfile.evaluate(vis: MetricImages.matlabChannels(vis), ir: MetricImages.matlabChannels(ir),
                                        fused: MetricImages.matlabChannels(fused), metrics: Set(metrics))
        }
    }
}
