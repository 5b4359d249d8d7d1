/// The `vifb` profile: VIFB's `metrics/*.m`, called as its `compute_metrics.m` does,
/// `metricsX(imgVI, imgIR, fused)`.
///
/// Channels: every metric except `Spatial_frequency` runs once per channel of the fused
/// image and averages (`mean(g)`); with a grey infrared image (`b1 == 1`) that one plane
/// serves every channel. Beyond what VIFB handles: a grey visible image also serves every
/// channel, and a grey fused image is compared with sources converted by MATLAB's
/// `rgb2gray` (uint8, rounded).
public enum VIFBProfile {
    public static let keys = ["Avg_gradient", "Cross_entropy", "Edge_intensity", "Entropy", "Mutinf", "Psnr", "Qabf",
                              "Qcb", "Qcv", "Rmse", "Spatial_frequency", "Ssim", "Variance"]

    public static func evaluate(vis: [Plane], ir: [Plane], fused: [Plane], metrics: Set<String>) -> [String: Double] {
        let channels: [HumanPerception.Channel]
        if fused.count == 1 {
            channels = [.init(vis: MetricImages.matlabRGB2Gray(vis), ir: MetricImages.matlabRGB2Gray(ir), fused: fused[0])]
        } else {
            channels = fused.indices.map { k in
                .init(vis: vis[min(k, vis.count - 1)], ir: ir[min(k, ir.count - 1)], fused: fused[k])
            }
        }
        func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }
        func perChannel(_ f: (HumanPerception.Channel) -> Double) -> Double { mean(channels.map(f)) }

        var out: [String: Double] = [:]
        for key in keys where metrics.contains(key) {
            switch key {
            case "Avg_gradient": out[key] = perChannel { GradientMetrics.vifbAverageGradient($0.fused) }
            case "Cross_entropy":
                out[key] = perChannel {
                    (InformationMetrics.vifbCrossEntropy(source: $0.vis, fused: $0.fused)
                        + InformationMetrics.vifbCrossEntropy(source: $0.ir, fused: $0.fused)) / 2
                }
            case "Edge_intensity": out[key] = perChannel { GradientMetrics.vifbEdgeIntensity($0.fused) }
            case "Entropy": out[key] = perChannel { InformationMetrics.entropyBits($0.fused) }
            case "Mutinf":
                out[key] = perChannel {
                    InformationMetrics.vifbMutualInformation($0.vis, $0.fused) + InformationMetrics.vifbMutualInformation($0.ir, $0.fused)
                }
            case "Psnr": out[key] = perChannel { ErrorMetrics.vifbPSNR(vis: $0.vis, ir: $0.ir, fused: $0.fused) }
            case "Qabf": out[key] = perChannel { EdgePreservation.qabf($0.fused, $0.vis, $0.ir, scale: 255) }
            case "Qcb": out[key] = mean(HumanPerception.qcb(channels))
            case "Qcv": out[key] = mean(HumanPerception.qcv(channels))
            case "Rmse": out[key] = perChannel { ErrorMetrics.vifbRMSE(vis: $0.vis, ir: $0.ir, fused: $0.fused) }
            case "Spatial_frequency": out[key] = GradientMetrics.vifbSpatialFrequency(fused)
            case "Ssim":
                out[key] = perChannel { StructuralSimilarity.matlab($0.vis, $0.fused) + StructuralSimilarity.matlab($0.ir, $0.fused) }
            case "Variance": out[key] = perChannel { GradientMetrics.standardDeviation($0.fused) }
            default: break
            }
        }
        return out
    }
}
