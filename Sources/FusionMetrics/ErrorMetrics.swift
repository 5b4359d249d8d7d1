import Foundation

/// Metrics comparing the fused image with each source pixel by pixel: MSE, PSNR, RMSE, CC,
/// SCD.
enum ErrorMetrics {
    /// `mean((a - f)^2)`.
    static func meanSquaredError(_ a: Plane, _ f: Plane) -> Double {
        var s = 0.0
        for i in 0..<a.count { let d = a.values[i] - f.values[i]; s += d * d }
        return s / Double(a.count)
    }

    /// Evaluator `MSE`: the mean of the two sources' mean squared errors.
    static func evaluatorMSE(_ f: Plane, _ a: Plane, _ b: Plane) -> Double {
        (meanSquaredError(a, f) + meanSquaredError(b, f)) / 2
    }

    /// Evaluator `PSNR`: `10 log10(max(F)^2 / MSE)` - the peak is the fused image's own
    /// maximum, not 255.
    static func evaluatorPSNR(_ f: Plane, _ a: Plane, _ b: Plane) -> Double {
        let peak = f.maximum
        return 10 * log10(peak * peak / evaluatorMSE(f, a, b))
    }

    /// Pearson correlation `sum(dx dy) / sqrt(sum(dx^2) sum(dy^2))`.
    static func correlation(_ x: Plane, _ y: Plane) -> Double {
        let mx = x.mean, my = y.mean
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<x.count {
            let dx = x.values[i] - mx, dy = y.values[i] - my
            sxy += dx * dy; sxx += dx * dx; syy += dy * dy
        }
        return sxy / (sxx * syy).squareRoot()
    }

    /// Evaluator `CC`: `(r(A,F) + r(B,F)) / 2`.
    static func evaluatorCC(_ f: Plane, _ a: Plane, _ b: Plane) -> Double {
        (correlation(a, f) + correlation(b, f)) / 2
    }

    /// Evaluator `SCD`: `r(A, F - B) + r(B, F - A)`.
    static func evaluatorSCD(_ f: Plane, _ a: Plane, _ b: Plane) -> Double {
        let fb = Plane.zip(f, b, -), fa = Plane.zip(f, a, -)
        return correlation(a, fb) + correlation(b, fa)
    }

    /// VIFB's `mse(a, b)`, which is not a mean squared error: `sqrt(sum((a-b)^2)) / (m*n)`.
    static func vifbMSE(_ a: Plane, _ f: Plane) -> Double {
        var s = 0.0
        for i in 0..<a.count { let d = a.values[i] - f.values[i]; s += d * d }
        return s.squareRoot() / Double(a.count)
    }

    /// VIFB `Rmse` of one channel: `(mse(VI,F) + mse(IR,F)) / 2` with VIFB's `mse`.
    static func vifbRMSE(vis: Plane, ir: Plane, fused: Plane) -> Double {
        (vifbMSE(vis, fused) + vifbMSE(ir, fused)) / 2
    }

    /// VIFB `Psnr` of one channel: `20 log10(255 / sqrt(MES))`, `MES` the `Rmse` value.
    static func vifbPSNR(vis: Plane, ir: Plane, fused: Plane) -> Double {
        20 * log10(255 / vifbRMSE(vis: vis, ir: ir, fused: fused).squareRoot())
    }
}
