/// The `evaluator` profile: `utils/Evaluator.py` (CDDFuse, FILM, ...) on the grey planes of
/// `MetricImages.evaluatorGrey`. `A` is the infrared image, `B` the visible one, as the
/// repositories' test scripts call `Evaluator.MI(fused, ir, vi)`; every two-source metric
/// is symmetric in A and B anyway.
public enum EvaluatorProfile {
    public static let keys = ["EN", "SD", "SF", "AG", "MI", "MSE", "CC", "PSNR", "SCD", "VIF", "Qabf", "SSIM"]

    public static func evaluate(ir a: Plane, vis b: Plane, fused f: Plane, metrics: Set<String>) -> [String: Double] {
        var out: [String: Double] = [:]
        for key in keys where metrics.contains(key) {
            switch key {
            case "EN": out[key] = InformationMetrics.entropyBits(f)
            case "SD": out[key] = GradientMetrics.standardDeviation(f)
            case "SF": out[key] = GradientMetrics.evaluatorSpatialFrequency(f)
            case "AG": out[key] = GradientMetrics.evaluatorAverageGradient(f)
            case "MI": out[key] = InformationMetrics.sklearnMutualInformation(f, a) + InformationMetrics.sklearnMutualInformation(f, b)
            case "MSE": out[key] = ErrorMetrics.evaluatorMSE(f, a, b)
            case "CC": out[key] = ErrorMetrics.evaluatorCC(f, a, b)
            case "PSNR": out[key] = ErrorMetrics.evaluatorPSNR(f, a, b)
            case "SCD": out[key] = ErrorMetrics.evaluatorSCD(f, a, b)
            case "VIF":
                out[key] = VisualInformationFidelity.vifp(reference: a, distorted: f)
                    + VisualInformationFidelity.vifp(reference: b, distorted: f)
            case "Qabf": out[key] = EdgePreservation.qabf(f, a, b, scale: 1)
            case "SSIM": out[key] = StructuralSimilarity.skimage(f, a) + StructuralSimilarity.skimage(f, b)
            default: break
            }
        }
        return out
    }
}
