import Foundation

/// Histogram-based metrics: entropy, mutual information, cross-entropy.
///
/// All histograms have 256 bins indexed by the (integer) grey value; the planes these
/// functions receive hold integers in 0...255 (8-bit samples or rounded grey values).
enum InformationMetrics {
    /// Counts of each value 0...255 (values are truncated toward minus infinity and clamped).
    static func histogram(_ p: Plane) -> [Int] {
        var h = [Int](repeating: 0, count: 256)
        for v in p.values { h[bin(v)] += 1 }
        return h
    }

    @inline(__always) static func bin(_ v: Double) -> Int {
        v.isNaN ? 0 : Int(min(max(v.rounded(.down), 0), 255))
    }

    /// Shannon entropy in bits of the 256-bin histogram: `-sum p log2 p` over non-empty bins.
    /// Evaluator `EN` (`np.bincount` of `uint8(round(img))`) and VIFB `Entropy`
    /// (`floor(h1)+1` indexing), which agree on integer planes.
    static func entropyBits(_ p: Plane) -> Double {
        let n = Double(p.count)
        var s = 0.0
        for c in histogram(p) where c > 0 {
            let q = Double(c) / n
            s += q * log2(q)
        }
        return -s
    }

    /// scikit-learn's `mutual_info_score(a, b)` (nats) for integer-valued planes:
    /// `sum_ij (n_ij/N) (log n_ij - log N - log(n_i n_j) + 2 log N)` over non-empty cells,
    /// the terms written as sklearn writes them.
    static func sklearnMutualInformation(_ a: Plane, _ b: Plane) -> Double {
        var joint = [Int](repeating: 0, count: 256 * 256)
        var ha = [Int](repeating: 0, count: 256), hb = ha
        for i in 0..<a.count {
            let x = bin(a.values[i]), y = bin(b.values[i])
            joint[x * 256 + y] += 1
            ha[x] += 1
            hb[y] += 1
        }
        let n = Double(a.count)
        let logN = log(n)
        var mi = 0.0
        for x in 0..<256 where ha[x] > 0 {
            for y in 0..<256 {
                let c = joint[x * 256 + y]
                if c == 0 { continue }
                let pxy = Double(c) / n
                let outer = Double(ha[x] * hb[y])
                let term = pxy * (log(Double(c)) - logN) + pxy * (-log(outer) + logN + logN)
                // sklearn zeroes terms smaller than float64 eps in magnitude
                if abs(term) >= Double.ulpOfOne { mi += term }
            }
        }
        return max(mi, 0)
    }

    /// VIFB's `mutinf(a, b)` (nats): each plane min-max normalised to 0...1, then
    /// `double(int16(x*255))` (MATLAB's round, half away from zero) as the 256-bin index;
    /// `Ha + Hb - Hab` with natural logarithms. A constant plane becomes all zeros.
    static func vifbMutualInformation(_ a: Plane, _ b: Plane) -> Double {
        func levels(_ p: Plane) -> [Int] {
            let lo = p.minimum, hi = p.maximum
            if hi == lo { return [Int](repeating: 0, count: p.count) }
            return p.values.map { v in Int(((v - lo) / (hi - lo) * 255).rounded(.toNearestOrAwayFromZero)) }
        }
        let la = levels(a), lb = levels(b)
        var joint = [Int](repeating: 0, count: 256 * 256)
        var ha = [Int](repeating: 0, count: 256), hb = ha
        for i in 0..<la.count {
            joint[la[i] * 256 + lb[i]] += 1
            ha[la[i]] += 1
            hb[lb[i]] += 1
        }
        func entropy(_ h: [Int]) -> Double {
            let total = Double(h.reduce(0, +))
            var s = 0.0
            for c in h where c > 0 {
                let q = Double(c) / total
                s += -q * log(q)
            }
            return s
        }
        return entropy(ha) + entropy(hb) - entropy(joint)
    }

    /// VIFB's `cross_entropy(src, fused)`: `sum_k P_src(k) log2(P_src(k) / P_fused(k))` over
    /// the bins where both histograms are non-zero (bins empty in one are skipped, so this
    /// is not the textbook KL divergence, which would be infinite).
    static func vifbCrossEntropy(source: Plane, fused: Plane) -> Double {
        let h1 = histogram(source), h2 = histogram(fused)
        let n = Double(source.count)
        var s = 0.0
        for k in 0..<256 {
            let p1 = Double(h1[k]) / n, p2 = Double(h2[k]) / n
            if p1 != 0 && p2 != 0 { s += p1 * log2(p1 / p2) }
        }
        return s
    }
}
