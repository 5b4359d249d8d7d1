#!/usr/bin/env python3
"""Reference fusion-quality metrics, for cross-checking and timing `fusion eval`.

Two profiles, as in Docs/metrics.md:

* ``evaluator``: the formulas of ``utils/Evaluator.py`` (CDDFuse, FILM and later
  repositories), computed with the same libraries that file uses (numpy, OpenCV,
  scipy.signal.convolve2d, sklearn.metrics.mutual_info_score,
  skimage.metrics.structural_similarity with ``data_range=255``) and the same dtypes
  (grey images are float32, as ``image_read_cv2(path, 'GRAY')`` returns them). This is
  the Python evaluator whose speed ``fusion eval --profile evaluator`` is compared with.
* ``vifb``: a numpy transcription of VIFB's MATLAB ``metrics/*.m`` (MATLAB itself is not
  available here). It exists to cross-check the Swift implementation; its speed says
  nothing about MATLAB's.

Usage:
  Tools/reference_evaluator.py [--data DIR] [--profile evaluator|vifb|both] [--check] [--limit N]

``--data`` is the shared data folder (default ``$FUSIONKIT_TEST_DATA`` or ``../shared``);
the triples are the rows of ``golden/metrics.json``. ``--check`` compares every value with
the golden file and prints the worst relative error per metric. The run time of the
metric computation (reading the images included, Python start-up excluded) is printed.

Needs numpy, scipy, scikit-image, scikit-learn, opencv-python-headless (pip install ...).
"""

import argparse
import json
import math
import os
import sys
import time

import cv2
import numpy as np
import sklearn.metrics as skm
from scipy.signal import convolve2d
from skimage.metrics import structural_similarity

EVALUATOR_KEYS = ["EN", "SD", "SF", "AG", "MI", "MSE", "CC", "PSNR", "SCD", "VIF", "Qabf", "SSIM"]
VIFB_KEYS = ["Avg_gradient", "Cross_entropy", "Edge_intensity", "Entropy", "Mutinf", "Psnr", "Qabf",
             "Qcb", "Qcv", "Rmse", "Spatial_frequency", "Ssim", "Variance"]


# ---------------------------------------------------------------------------------------
# evaluator profile (utils/Evaluator.py semantics, float32 grey images)
# ---------------------------------------------------------------------------------------

def read_grey_evaluator(path):
    """cv2.imread (BGR uint8) -> float32 -> BGR2GRAY -> np.round (stays float32)."""
    bgr = cv2.imread(path)
    if bgr is None:
        raise ValueError(f"cannot read {path}")
    return np.round(cv2.cvtColor(bgr.astype(np.float32), cv2.COLOR_BGR2GRAY))


def ev_en(f):
    counts = np.bincount(np.uint8(np.round(f)).ravel())
    p = counts / f.size
    return float(-np.sum(p * np.log2(p + (p == 0))))


def ev_sd(f):
    return float(np.std(f))


def ev_sf(f):
    rows = np.mean((f[:, 1:] - f[:, :-1]) ** 2)
    cols = np.mean((f[1:, :] - f[:-1, :]) ** 2)
    return float(np.sqrt(rows + cols))


def ev_ag(f):
    gx = np.empty_like(f)
    gy = np.empty_like(f)
    gx[:, 0] = f[:, 1] - f[:, 0]
    gx[:, -1] = f[:, -1] - f[:, -2]
    gx[:, 1:-1] = (f[:, 2:] - f[:, :-2]) / 2
    gy[0, :] = f[1, :] - f[0, :]
    gy[-1, :] = f[-1, :] - f[-2, :]
    gy[1:-1, :] = (f[2:, :] - f[:-2, :]) / 2
    return float(np.mean(np.sqrt((gx ** 2 + gy ** 2) / 2)))


def ev_mi(f, a, b):
    return float(skm.mutual_info_score(f.ravel(), a.ravel()) + skm.mutual_info_score(f.ravel(), b.ravel()))


def ev_mse(f, a, b):
    return float((np.mean((a - f) ** 2) + np.mean((b - f) ** 2)) / 2)


def _corr(x, y):
    dx = x - np.mean(x)
    dy = y - np.mean(y)
    return np.sum(dx * dy) / np.sqrt(np.sum(dx ** 2) * np.sum(dy ** 2))


def ev_cc(f, a, b):
    return float((_corr(a, f) + _corr(b, f)) / 2)


def ev_psnr(f, a, b):
    return float(10 * np.log10(np.max(f) ** 2 / ev_mse(f, a, b)))


def ev_scd(f, a, b):
    return float(_corr(a, f - b) + _corr(b, f - a))


def _matlab_gaussian(n, sd):
    m = (n - 1) / 2
    y, x = np.ogrid[-m:m + 1, -m:m + 1]
    h = np.exp(-(x * x + y * y) / (2 * sd * sd))
    h[h < np.finfo(h.dtype).eps * h.max()] = 0
    return h / h.sum()


def _vifp(ref, dist):
    sigma_nsq = 2.0
    eps = 1e-10
    num = 0.0
    den = 0.0
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        win = np.rot90(_matlab_gaussian(n, n / 5.0), 2)
        if scale > 1:
            ref = convolve2d(ref, win, mode="valid")[::2, ::2]
            dist = convolve2d(dist, win, mode="valid")[::2, ::2]
        mu1 = convolve2d(ref, win, mode="valid")
        mu2 = convolve2d(dist, win, mode="valid")
        s1 = convolve2d(ref * ref, win, mode="valid") - mu1 * mu1
        s2 = convolve2d(dist * dist, win, mode="valid") - mu2 * mu2
        s12 = convolve2d(ref * dist, win, mode="valid") - mu1 * mu2
        s1[s1 < 0] = 0
        s2[s2 < 0] = 0
        g = s12 / (s1 + eps)
        sv = s2 - g * s12
        low1 = s1 < eps
        g[low1] = 0
        sv[low1] = s2[low1]
        s1[low1] = 0
        low2 = s2 < eps
        g[low2] = 0
        sv[low2] = 0
        neg = g < 0
        sv[neg] = s2[neg]
        g[neg] = 0
        sv[sv <= eps] = eps
        num += np.sum(np.log10(1 + g * g * s1 / (sv + sigma_nsq)))
        den += np.sum(np.log10(1 + s1 / sigma_nsq))
    v = num / den
    return 1.0 if np.isnan(v) else v


def ev_vif(f, a, b):
    return float(_vifp(a, f) + _vifp(b, f))


def _qabf_edges(img):
    h1 = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float32)
    h3 = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
    sx = convolve2d(img, h3, mode="same")
    sy = convolve2d(img, h1, mode="same")
    g = np.sqrt(sx * sx + sy * sy)
    a = np.zeros_like(img)
    zero = sx == 0
    a[zero] = math.pi / 2
    a[~zero] = np.arctan(sy[~zero] / sx[~zero])
    return g, a


def _qabf_pair(a_a, g_a, a_f, g_f):
    tg, kg, dg, ta, ka, da = 0.9994, -15, 0.5, 0.9879, -22, 0.8
    gaf = np.zeros_like(a_a)
    gt = g_a > g_f
    eq = g_a == g_f
    lt = g_a < g_f
    gaf[gt] = g_f[gt] / g_a[gt]
    gaf[eq] = g_f[eq]
    gaf[lt] = g_a[lt] / g_f[lt]
    aaf = 1 - np.abs(a_a - a_f) / (math.pi / 2)
    return (tg / (1 + np.exp(kg * (gaf - dg)))) * (ta / (1 + np.exp(ka * (aaf - da))))


def ev_qabf(f, a, b):
    g_a, a_a = _qabf_edges(a)
    g_b, a_b = _qabf_edges(b)
    g_f, a_f = _qabf_edges(f)
    q_af = _qabf_pair(a_a, g_a, a_f, g_f)
    q_bf = _qabf_pair(a_b, g_b, a_f, g_f)
    return float(np.sum(q_af * g_a + q_bf * g_b) / np.sum(g_a + g_b))


def ev_ssim(f, a, b):
    return float(structural_similarity(f, a, data_range=255) + structural_similarity(f, b, data_range=255))


def evaluator_metrics(ir_path, vis_path, fused_path):
    a = read_grey_evaluator(ir_path)
    b = read_grey_evaluator(vis_path)
    f = read_grey_evaluator(fused_path)
    return {
        "EN": ev_en(f), "SD": ev_sd(f), "SF": ev_sf(f), "AG": ev_ag(f),
        "MI": ev_mi(f, a, b), "MSE": ev_mse(f, a, b), "CC": ev_cc(f, a, b), "PSNR": ev_psnr(f, a, b),
        "SCD": ev_scd(f, a, b), "VIF": ev_vif(f, a, b), "Qabf": ev_qabf(f, a, b), "SSIM": ev_ssim(f, a, b),
    }


# ---------------------------------------------------------------------------------------
# vifb profile: numpy transcription of VIFB's MATLAB metrics (per RGB channel, averaged)
# ---------------------------------------------------------------------------------------

def read_matlab(path):
    """imread: H x W x C uint8 in RGB order (C = 1 for a grey JPEG)."""
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"cannot read {path}")
    if img.ndim == 2:
        return img[:, :, None]
    return img[:, :, ::-1][:, :, :3]


def mround(x):
    """MATLAB round: half away from zero."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def corr2_same(img, k):
    """filter2(k, img, 'same') / imfilter(img, k) with zero padding: correlation."""
    kh, kw = k.shape
    ph, pw = kh // 2, kw // 2
    # 'same' of an odd kernel centred: pad with zeros and correlate.
    p = np.pad(img, ((ph, kh - 1 - ph), (pw, kw - 1 - pw)))
    out = np.zeros(img.shape, dtype=np.result_type(img, k))
    h, w = img.shape
    for i in range(kh):
        for j in range(kw):
            if k[i, j] != 0:
                out += k[i, j] * p[i:i + h, j:j + w]
    return out


def corr2_valid(img, k):
    kh, kw = k.shape
    h, w = img.shape[0] - kh + 1, img.shape[1] - kw + 1
    out = np.zeros((h, w))
    for i in range(kh):
        for j in range(kw):
            out += k[i, j] * img[i:i + h, j:j + w]
    return out


def fspecial_gaussian(n, sigma):
    m = (n - 1) / 2
    y, x = np.meshgrid(np.arange(-m, m + 1), np.arange(-m, m + 1), indexing="ij")
    h = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    h[h < np.finfo(float).eps * h.max()] = 0
    return h / h.sum()


def freqspace(h, w):
    fx = (np.arange(w) - math.floor(w / 2)) * (2.0 / w)
    fy = (np.arange(h) - math.floor(h / 2)) * (2.0 / h)
    return np.meshgrid(fx, fy)


def csf_filter(img, filt):
    spec = np.fft.fftshift(np.fft.fft2(img)) * filt
    return np.real(np.fft.ifft2(np.fft.ifftshift(spec)))


def normalize1(d):
    hi, lo = d.max(), d.min()
    if hi == 0 and lo == 0:
        return d
    return mround((d - lo) / (hi - lo) * 255)


def vf_avg_gradient(f):
    h, w = f.shape
    gy, gx = np.gradient(f)
    return np.sum(np.sqrt((gx ** 2 + gy ** 2) / 2)) / ((h - 1) * (w - 1))


def _hist(x):
    return np.bincount(x.astype(np.int64).ravel(), minlength=256)[:256] / x.size


def vf_cross_entropy(v, i, f):
    def ce(src):
        p1, p2 = _hist(src), _hist(f)
        nz = (p1 != 0) & (p2 != 0)
        return np.sum(p1[nz] * np.log2(p1[nz] / p2[nz]))
    return (ce(v) + ce(i)) / 2.0


def vf_edge_intensity(f):
    sob = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=float)
    p = np.pad(f, 1, mode="edge")
    h, w = f.shape
    gx = np.zeros_like(f)
    gy = np.zeros_like(f)
    for r in range(3):
        for c in range(3):
            gx += sob[r, c] * p[r:r + h, c:c + w]
            gy += sob[c, r] * p[r:r + h, c:c + w]
    return np.mean(np.sqrt(gx * gx + gy * gy))


def vf_entropy(f):
    p = _hist(np.floor(f))
    p = p[p != 0]
    return -np.sum(p * np.log2(p))


def _mutinf(a, b):
    def norm(x):
        lo, hi = x.min(), x.max()
        if hi == lo:
            return np.zeros_like(x, dtype=np.int64)
        return mround((x - lo) / (hi - lo) * 255).astype(np.int64)
    ia, ib = norm(a), norm(b)
    hab = np.bincount((ia * 256 + ib).ravel(), minlength=65536).astype(float)
    ha = np.bincount(ia.ravel(), minlength=256).astype(float)
    hb = np.bincount(ib.ravel(), minlength=256).astype(float)

    def ent(h):
        p = h[h != 0] / h.sum()
        return np.sum(-p * np.log(p))
    return ent(ha) + ent(hb) - ent(hab)


def _vifb_mse(a, f):
    return np.sqrt(np.sum((a - f) ** 2)) / a.size


def vf_psnr(v, i, f):
    mes = (_vifb_mse(v, f) + _vifb_mse(i, f)) / 2.0
    return 20 * np.log10(255 / np.sqrt(mes))


def vf_rmse(v, i, f):
    return (_vifb_mse(v, f) + _vifb_mse(i, f)) / 2.0


def _qabf_matlab(a, b, f):
    h1 = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=float)
    h3 = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)

    def edges(x):
        x = 255 * x  # 255*im2double(double) keeps the scale of the doubles
        sx = convolve2d(x, h3, mode="same")
        sy = convolve2d(x, h1, mode="same")
        g = np.sqrt(sx ** 2 + sy ** 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            ang = np.where(sx == 0, math.pi / 2, np.arctan(sy / np.where(sx == 0, 1, sx)))
        return g, ang
    ga, aa = edges(a)
    gb, ab = edges(b)
    gf, af = edges(f)
    q_af = _qabf_pair(aa, ga, af, gf)
    q_bf = _qabf_pair(ab, gb, af, gf)
    return np.sum(q_af * ga + q_bf * gb) / np.sum(ga + gb)


def _qcb(im1, im2, fused):
    im1, im2, fused = normalize1(im1), normalize1(im2), normalize1(fused)
    f0, f1, a = 15.3870, 1.3456, 0.7622
    p, q, z = 3, 2, 0.0001
    hang, lie = im1.shape
    u, v = freqspace(hang, lie)
    u = (lie / 30) * u
    v = (hang / 30) * v
    r = np.sqrt(u ** 2 + v ** 2)
    sd = np.exp(-(r / f0) ** 2) - a * np.exp(-(r / f1) ** 2)
    x, y = np.meshgrid(np.arange(-15, 16), np.arange(-15, 16))

    def gauss(s):
        return np.exp(-(x * x + y * y) / (2 * s * s)) / (2 * math.pi * s * s)
    g1, g2 = gauss(2), gauss(4)

    def cp(img):
        filtered = csf_filter(img, sd)
        c = np.abs(corr2_same(filtered, g1) / corr2_same(filtered, g2) - 1)
        return c ** p / (c ** q + z)
    c1, c2, cf = cp(im1), cp(im2), cp(fused)
    q1 = np.where(c1 < cf, c1 / cf, cf / c1)
    q2 = np.where(c2 < cf, c2 / cf, cf / c2)
    l1 = c1 * c1 / (c1 * c1 + c2 * c2)
    l2 = c2 * c2 / (c1 * c1 + c2 * c2)
    return np.mean(l1 * q1 + l2 * q2)


def _blocks(x, n, fn):
    h, w = x.shape
    hb, wb = -(-h // n), -(-w // n)
    padded = np.zeros((hb * n, wb * n))
    padded[:h, :w] = x
    return np.array([[fn(padded[i * n:(i + 1) * n, j * n:(j + 1) * n]) for j in range(wb)] for i in range(hb)])


def _qcv(im1, im2, fused):
    im1, im2, fused = normalize1(im1), normalize1(im2), normalize1(fused)
    flt1 = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)
    flt2 = flt1.T.copy()

    def grad(x):
        gx = corr2_same(x, flt1)
        gy = corr2_same(x, flt2)
        return np.sqrt(gx * gx + gy * gy)
    r1 = _blocks(grad(im1), 16, lambda b: np.sum(b ** 5))
    r2 = _blocks(grad(im2), 16, lambda b: np.sum(b ** 5))
    hang, lie = im1.shape
    u, v = freqspace(hang, lie)
    u = lie / 8 * u
    v = hang / 8 * v
    r = np.sqrt(u ** 2 + v ** 2)
    theta = 2.6 * (0.0192 + 0.144 * r) * np.exp(-(0.144 * r) ** 1.1)
    d1 = _blocks(csf_filter(im1 - fused, theta), 16, lambda b: np.mean(b ** 2))
    d2 = _blocks(csf_filter(im2 - fused, theta), 16, lambda b: np.mean(b ** 2))
    return np.sum(r1 * d1 + r2 * d2) / np.sum(r1 + r2)


def _ssim_matlab(a, f):
    w = fspecial_gaussian(11, 1.5)
    w = w / w.sum()
    c1 = (0.01 * 255) ** 2
    c2 = (0.03 * 255) ** 2
    ua = corr2_valid(a, w)
    ub = corr2_valid(f, w)
    saa = corr2_valid(a * a, w) - ua * ua
    sbb = corr2_valid(f * f, w) - ub * ub
    sab = corr2_valid(a * f, w) - ua * ub
    m = ((2 * ua * ub + c1) * (2 * sab + c2)) / ((ua * ua + ub * ub + c1) * (saa + sbb + c2))
    return np.mean(m)


def vifb_metrics(ir_path, vis_path, fused_path):
    vis = read_matlab(vis_path).astype(float)
    ir = read_matlab(ir_path).astype(float)
    fused = read_matlab(fused_path).astype(float)
    channels = fused.shape[2]

    def per_channel(fn):
        vals = []
        for k in range(channels):
            v = vis[:, :, min(k, vis.shape[2] - 1)]
            i = ir[:, :, min(k, ir.shape[2] - 1)]
            vals.append(fn(v, i, fused[:, :, k]))
        return float(np.mean(vals))

    h, w, c = fused.shape
    wide = fused.transpose(0, 2, 1).reshape(h, w * c)  # fused(:, :) of an H x W x C array
    rf = np.sum((wide[:, 1:] - wide[:, :-1]) ** 2) / wide.size
    cf = np.sum((wide[1:, :] - wide[:-1, :]) ** 2) / wide.size
    return {
        "Avg_gradient": per_channel(lambda v, i, f: vf_avg_gradient(f)),
        "Cross_entropy": per_channel(vf_cross_entropy),
        "Edge_intensity": float(np.mean([vf_edge_intensity(fused[:, :, k]) for k in range(channels)])),
        "Entropy": per_channel(lambda v, i, f: vf_entropy(f)),
        "Mutinf": per_channel(lambda v, i, f: _mutinf(v, f) + _mutinf(i, f)),
        "Psnr": per_channel(vf_psnr),
        "Qabf": per_channel(_qabf_matlab),
        "Qcb": per_channel(_qcb),
        "Qcv": per_channel(_qcv),
        "Rmse": per_channel(vf_rmse),
        "Spatial_frequency": float(np.sqrt(rf + cf)),
        "Ssim": per_channel(lambda v, i, f: _ssim_matlab(v, f) + _ssim_matlab(i, f)),
        "Variance": per_channel(lambda v, i, f: np.std(f)),
    }


# ---------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_data = os.environ.get("FUSIONKIT_TEST_DATA") or os.path.join(os.path.dirname(__file__), "..", "..", "shared")
    ap.add_argument("--data", default=default_data)
    ap.add_argument("--profile", choices=["evaluator", "vifb", "both"], default="evaluator")
    ap.add_argument("--check", action="store_true", help="compare with golden/metrics.json")
    ap.add_argument("--limit", type=int, default=0, help="only the first N triples")
    ap.add_argument("--json", help="write the computed values here")
    args = ap.parse_args()

    golden = json.load(open(os.path.join(args.data, "golden", "metrics.json")))
    profiles = ["evaluator", "vifb"] if args.profile == "both" else [args.profile]
    base = os.path.join(args.data, "data", "vifb")
    out = {}
    for profile in profiles:
        rows = golden[profile][: args.limit or None]
        fn = evaluator_metrics if profile == "evaluator" else vifb_metrics
        keys = EVALUATOR_KEYS if profile == "evaluator" else VIFB_KEYS
        start = time.perf_counter()
        values = [fn(*(os.path.join(base, r[k]) for k in ("ir", "vis", "fused"))) for r in rows]
        seconds = time.perf_counter() - start
        print(f"{profile}: {len(rows)} triples in {seconds:.2f} s ({seconds / len(rows) * 1000:.0f} ms per triple)")
        out[profile] = values
        if args.check:
            for key in keys:
                errs = [abs(v[key] - r[key]) / max(abs(r[key]), 1e-300) for v, r in zip(values, rows)]
                worst = int(np.argmax(errs))
                print(f"  {key:18s} worst rel err {errs[worst]:.3e} ({rows[worst]['fused']}: "
                      f"{values[worst][key]!r} vs {rows[worst][key]!r})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    sys.exit(main())
