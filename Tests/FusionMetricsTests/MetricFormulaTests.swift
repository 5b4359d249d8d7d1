import Foundation
@testable import FusionMetrics
import XCTest

/// Hand-computed values for the formulas and quirks, independent of the golden data (so
/// they run, and can fail, without it).
final class MetricFormulaTests: XCTestCase {
    func plane(_ w: Int, _ h: Int, _ f: (Int, Int) -> Double) -> Plane {
        var v: [Double] = []
        for y in 0..<h { for x in 0..<w { v.append(f(x, y)) } }
        return Plane(width: w, height: h, values: v)
    }

    func testEntropyAndMutualInformation() {
        let half = plane(8, 4) { x, _ in x < 4 ? 0 : 255 }
        XCTAssertEqual(InformationMetrics.entropyBits(half), 1, accuracy: 1e-15)
        let quarters = plane(8, 4) { x, _ in Double(x / 2 * 60) }
        XCTAssertEqual(InformationMetrics.entropyBits(quarters), 2, accuracy: 1e-15)
        XCTAssertEqual(InformationMetrics.entropyBits(plane(5, 5) { _, _ in 7 }), 0)
        // MI in nats: of a plane with itself it is its entropy (ln 2 for two equal halves)...
        XCTAssertEqual(InformationMetrics.sklearnMutualInformation(half, half), log(2), accuracy: 1e-15)
        // ...and 0 for independent planes.
        let rows = plane(8, 4) { _, y in Double(y % 2) }
        XCTAssertEqual(InformationMetrics.sklearnMutualInformation(half, rows), 0, accuracy: 1e-15)
        // VIFB's version normalises min-max first, so a rescaled copy carries the same information.
        XCTAssertEqual(InformationMetrics.vifbMutualInformation(half, half.map { $0 / 255 * 10 + 3 }), log(2), accuracy: 1e-15)
        // Cross-entropy skips bins empty in one histogram: {0,255} vs {0,...}.
        let mostlyZero = plane(8, 4) { x, y in x == 0 && y == 0 ? 255 : 0 }
        let expected = 0.5 * log2(0.5 / (31.0 / 32)) + 0.5 * log2(0.5 / (1.0 / 32))
        XCTAssertEqual(InformationMetrics.vifbCrossEntropy(source: half, fused: mostlyZero), expected, accuracy: 1e-14)
    }

    func testErrorMetricsAndTheirConventions() {
        let f = plane(4, 3) { x, y in Double(10 * x + y + 100) }
        let a = f.map { $0 - 2 }, b = f.map { $0 + 4 }
        XCTAssertEqual(ErrorMetrics.evaluatorMSE(f, a, b), (4 + 16) / 2)
        // PSNR peak is max(F) = 132, not 255.
        XCTAssertEqual(ErrorMetrics.evaluatorPSNR(f, a, b), 10 * log10(132.0 * 132 / 10), accuracy: 1e-12)
        XCTAssertEqual(ErrorMetrics.evaluatorCC(f, a, b), 1, accuracy: 1e-15)
        // VIFB's mse is sqrt(sum d^2) / N: 12 pixels off by 2 -> sqrt(48)/12.
        XCTAssertEqual(ErrorMetrics.vifbMSE(a, f), 48.0.squareRoot() / 12, accuracy: 1e-15)
        let rmse = (48.0.squareRoot() / 12 + 192.0.squareRoot() / 12) / 2
        XCTAssertEqual(ErrorMetrics.vifbRMSE(vis: a, ir: b, fused: f), rmse, accuracy: 1e-15)
        XCTAssertEqual(ErrorMetrics.vifbPSNR(vis: a, ir: b, fused: f), 20 * log10(255 / rmse.squareRoot()), accuracy: 1e-12)
        // SCD = r(A, F-B) + r(B, F-A): with F = A + B, F-B is A and F-A is B, so SCD = 2; with
        // F = A it is r(A, A-B) + r(B, 0 * ...) -> r(B, F-A) is 0/0 = NaN as in numpy.
        let s1 = plane(5, 4) { x, y in Double(x * x + 3 * y) }, s2 = plane(5, 4) { x, y in Double((x * 7 + y * 5) % 11) }
        XCTAssertEqual(ErrorMetrics.evaluatorSCD(Plane.zip(s1, s2, +), s1, s2), 2, accuracy: 1e-14)
        XCTAssertTrue(ErrorMetrics.evaluatorSCD(s1, s1, s2).isNaN)
        let f2 = Plane.zip(s1, s2) { 2 * $0 + $1 }   // F-B = 2A, F-A = A+B
        XCTAssertEqual(ErrorMetrics.evaluatorSCD(f2, s1, s2), 1 + ErrorMetrics.correlation(s2, Plane.zip(s1, s2, +)), accuracy: 1e-14)
    }

    func testGradientMetrics() {
        let ramp = plane(5, 4) { x, _ in Double(3 * x) }
        // SD of 0,3,6,9,12: sqrt(18)
        XCTAssertEqual(GradientMetrics.standardDeviation(ramp), 18.0.squareRoot(), accuracy: 1e-14)
        // Evaluator SF: row differences all 3, no column differences.
        XCTAssertEqual(GradientMetrics.evaluatorSpatialFrequency(ramp), 3, accuracy: 1e-15)
        // AG: gx = 3 everywhere, gy = 0 -> sqrt(9/2); the two conventions divide by HW and (H-1)(W-1).
        XCTAssertEqual(GradientMetrics.evaluatorAverageGradient(ramp), (4.5).squareRoot(), accuracy: 1e-15)
        XCTAssertEqual(GradientMetrics.vifbAverageGradient(ramp), (4.5).squareRoot() * 20 / 12, accuracy: 1e-14)
        // VIFB SF runs over the channels side by side: constant channels 0, 10, 20 in a 2x2
        // image differ only at the two seams of each row.
        let channels = [0.0, 10, 20].map { c in plane(2, 2) { _, _ in c } }
        XCTAssertEqual(GradientMetrics.vifbSpatialFrequency(channels), (2 * (100.0 + 100) / 12).squareRoot(), accuracy: 1e-14)
        // Edge intensity with replicated borders: a constant image has none (zero padding would).
        XCTAssertEqual(GradientMetrics.vifbEdgeIntensity(plane(6, 5) { _, _ in 50 }), 0)
        // A horizontal ramp: gy (transposed Sobel) = 4 * slope inside, half at the replicated ends.
        let edge = GradientMetrics.vifbEdgeIntensity(ramp)
        XCTAssertEqual(edge, (3 * 24.0 + 2 * 12) / 5, accuracy: 1e-12)
    }

    func testStructuralSimilarityConventions() {
        let a = plane(20, 16) { x, y in Double((x * 13 + y * 29) % 256) }
        XCTAssertEqual(StructuralSimilarity.skimage(a, a), 1, accuracy: 1e-15)
        XCTAssertEqual(StructuralSimilarity.matlab(a, a), 1, accuracy: 1e-15)
        // Constant images c1, c2: the luminance term only, (2 c1 c2 + C1) / (c1^2 + c2^2 + C1).
        let c1 = plane(12, 12) { _, _ in 100 }, c2 = plane(12, 12) { _, _ in 50 }
        let k1 = (0.01 * 255.0) * (0.01 * 255.0)
        let lum = (2 * 100.0 * 50 + k1) / (100 * 100 + 50 * 50 + k1)
        XCTAssertEqual(StructuralSimilarity.skimage(c1, c2), lum, accuracy: 1e-14)
        XCTAssertEqual(StructuralSimilarity.matlab(c1, c2), lum, accuracy: 1e-14)
        // The sample covariance (49/48) of skimage vs MATLAB's weighted population one makes
        // the two differ on textured images.
        let b = plane(20, 16) { x, y in Double((x * 7 + y * 3) % 200) }
        XCTAssertGreaterThan(abs(StructuralSimilarity.skimage(a, b) - StructuralSimilarity.matlab(a, b)), 1e-3)
    }

    func testVIFOfAnImageWithItselfIsOne() {
        let a = plane(64, 64) { x, y in Double((x * x + 3 * y * x + 17 * y) % 256) }
        XCTAssertEqual(VisualInformationFidelity.vifp(reference: a, distorted: a), 1, accuracy: 1e-9)
        XCTAssertLessThan(VisualInformationFidelity.vifp(reference: a, distorted: a.map { $0 / 2 + 64 }), 0.9)
        // A constant reference: 0/0 is NaN, which the reference turns into 1.
        XCTAssertEqual(VisualInformationFidelity.vifp(reference: plane(64, 64) { _, _ in 5 }, distorted: a), 1)
    }

    func testQabfConstantsAndEqualStrengthQuirk() {
        let a = plane(16, 12) { x, y in Double((x * 11 + y * y * 5) % 256) }
        // F = A = B: every strength ratio takes the "equal" branch, G = gF itself. Scaled by
        // 255 (VIFB) gF >= 255 wherever it is non-zero, so Qg = Tg; orientation agrees, Qa =
        // Ta / (1 + e^(-22 * 0.2)).
        let qa = 0.9879 / (1 + exp(-22 * (1 - 0.8)))
        XCTAssertEqual(EdgePreservation.qabf(a, a, a, scale: 255), 0.9994 * qa, accuracy: 1e-12)
        // Unscaled (evaluator) a strength of 1 gives Tg / (1 + e^(-7.5)) instead.
        let unit = plane(3, 1) { x, _ in x == 0 ? 1 : 0 }   // Sobel strengths 0 and non-zero
        let value = EdgePreservation.qabf(unit, unit, unit, scale: 1)
        XCTAssertNotEqual(value, EdgePreservation.qabf(unit, unit, unit, scale: 255))
        // Orientation: pi/2 where the x response is 0.
        let (_, angle) = EdgePreservation.edges(plane(3, 3) { _, y in Double(y) })
        XCTAssertEqual(angle[4], Double.pi / 2)
    }

    func testFFTMatchesTheDefinition() {
        for n in [1, 2, 3, 4, 5, 6, 8, 12, 23, 46, 60, 97, 127, 254, 460] {
            let re = (0..<n).map { sin(Double($0) * 0.7) + Double($0 % 3) }
            let im = (0..<n).map { cos(Double($0) * 1.3) - 0.5 }
            var fr = re, fi = im
            FFTPlan.plan(n).forward(&fr, &fi)
            var worst = 0.0
            for k in 0..<n {
                var sr = 0.0, si = 0.0
                for j in 0..<n {
                    let angle = -2 * Double.pi * Double((j * k) % n) / Double(n)
                    sr += re[j] * cos(angle) - im[j] * sin(angle)
                    si += re[j] * sin(angle) + im[j] * cos(angle)
                }
                worst = max(worst, abs(sr - fr[k]), abs(si - fi[k]))
            }
            XCTAssertLessThan(worst, 1e-11 * Double(n), "FFT of length \(n)")
            FFTPlan.plan(n).inverse(&fr, &fi)
            for k in 0..<n {
                XCTAssertEqual(fr[k], re[k], accuracy: 1e-12)
                XCTAssertEqual(fi[k], im[k], accuracy: 1e-12)
            }
        }
    }

    func testFrequencyFilterLayoutAndPairing() {
        let a = plane(10, 6) { x, y in Double(x * y % 7) }, b = plane(10, 6) { x, y in Double(x + 2 * y) }
        // An all-pass response returns both planes.
        let (fa, fb) = FrequencyFilter.apply(a, b, response: [Double](repeating: 1, count: 60))
        for i in 0..<60 {
            XCTAssertEqual(fa.values[i], a.values[i], accuracy: 1e-12)
            XCTAssertEqual(fb!.values[i], b.values[i], accuracy: 1e-12)
        }
        // A response that keeps only the zero frequency (centre of the freqspace grid) gives the mean.
        let dc = FrequencyFilter.response(width: 10, height: 6) { u, v in u == 0 && v == 0 ? 1 : 0 }
        XCTAssertEqual(dc[0], 1)
        let (ma, mb) = FrequencyFilter.apply(a, b, response: dc)
        XCTAssertEqual(ma.values[17], a.mean, accuracy: 1e-12)
        XCTAssertEqual(mb!.values[33], b.mean, accuracy: 1e-12)
        // freqspace of an even length runs from -1 to 1 - 2/n; the Nyquist -1 sits at index n/2.
        let u = FrequencyFilter.response(width: 4, height: 1) { u, _ in u }
        XCTAssertEqual(u, [0, 0.5, -1, -0.5])
    }

    func testNormalize1AndBlocks() {
        let p = plane(3, 1) { x, _ in [10, 11, 12][x] }
        XCTAssertEqual(HumanPerception.normalize1(p).values, [0, 128, 255], "127.5 rounds away from zero")
        XCTAssertEqual(HumanPerception.normalize1(plane(2, 1) { _, _ in 0 }).values, [0, 0])
        // 17x17 -> 2x2 blocks, the partial ones holding 16, 16 and 1 pixels.
        let ones = HumanPerception.blocks(plane(17, 17) { _, _ in 1 }, { $0 })
        XCTAssertEqual(ones, [256, 16, 16, 1])
    }

    func testMetricNamesAndImages() throws {
        XCTAssertEqual(try MetricProfile.vifb.metrics(from: "ssim, QABF,Avg_gradient"), ["Avg_gradient", "Qabf", "Ssim"])
        XCTAssertThrowsError(try MetricProfile.evaluator.metrics(from: "EN,Entropy")) { error in
            XCTAssertEqual(error as? MetricsError, .unknownMetric("Entropy", profile: .evaluator))
        }
        // OpenCV's float BGR2GRAY then np.round (half to even).
        let rgb = FusionIO.Image(width: 2, height: 1, channels: 3, samples: [255, 0, 0, 10, 20, 30])
        XCTAssertEqual(MetricImages.evaluatorGrey(rgb).values, [76, 18])   // 76.245; 2.99+11.74+3.42=18.15
        let grey = FusionIO.Image(width: 2, height: 1, channels: 1, samples: [7, 200])
        XCTAssertEqual(MetricImages.evaluatorGrey(grey).values, [7, 200])
        XCTAssertEqual(MetricImages.matlabChannels(rgb).map(\.values), [[255, 10], [0, 20], [0, 30]])
    }
}

import FusionIO
