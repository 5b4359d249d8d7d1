// Float approximations of the activations (fp32), shared by elementwise.comp and the
// epilogues of the heavy kernels (epilogue.glsl) so that a fused activation gives the same
// bits as the unfused elementwise node. Include after `common.glsl`.
#ifndef FUSIONKIT_ACTIVATIONS_GLSL
#define FUSIONKIT_ACTIVATIONS_GLSL 1


// erf(x) with max |error| ~7e-8 absolute (~1.2 ulp) over all floats, fitted (Lawson
// minimax) for this file:
//   |x| < 1:      erf(x) = x + x * P(x^2)        (P ~ erf(x)/x - 1, degree 6)
//   1 <= |x| < 3.925: erf(x) = 1 - exp(-x^2) * Q(|x| - 2.4625)  (Q ~ erfc(x) e^{x^2}, degree 10)
//   |x| >= 3.925: erf(x) = +-1 (erfc < half an ulp of 1)
float erf_approx(float x) {
    float a = abs(x);
    float r;
    if (a < 1.0) {
        float s = a * a;
        float p = 7.647118263e-05;
        p = p * s - 7.942356489e-04;
        p = p * s + 5.179749572e-03;
        p = p * s - 2.684859133e-02;
        p = p * s + 1.128343012e-01;
        p = p * s - 3.761260599e-01;
        p = p * s + 1.283791584e-01;
        r = a + a * p;
    } else if (a < 3.925) {
        float u = a - 2.4625;
        float q = 7.031626782e-06;
        q = q * u + 1.099472590e-05;
        q = q * u + 2.684318210e-05;
        q = q * u - 8.171032509e-05;
        q = q * u + 1.985761318e-04;
        q = q * u - 7.911826750e-04;
        q = q * u + 2.617241525e-03;
        q = q * u - 8.376485577e-03;
        q = q * u + 2.585996459e-02;
        q = q * u - 7.625223524e-02;
        q = q * u + 2.136298501e-01;
        r = 1.0 - exp(-(a * a)) * q;
    } else {
        r = 1.0;
    }
    return x < 0.0 ? -r : r;
}

// tanh without overflow: |x| < 0.7 uses x + x * s * P(s) (max error ~4e-8 relative),
// larger |x| uses 1 - 2 / (exp(2|x|) + 1) with |x| clamped to 9 (tanh(9) rounds to 1).
// Max |error| ~8e-8 absolute. Drivers may implement tanh() as a quotient of exps that
// overflows to NaN for large |x|; this never produces inf or NaN for finite input.
float tanh_approx(float x) {
    float a = abs(x);
    float r;
    if (a < 0.7) {
        float s = a * a;
        float p = -6.783438414e-04;
        p = p * s + 3.044679590e-03;
        p = p * s - 8.644192626e-03;
        p = p * s + 2.181884179e-02;
        p = p * s - 5.396172223e-02;
        p = p * s + 1.333329134e-01;
        p = p * s - 3.333333234e-01;
        r = a + a * (p * s);
    } else {
        float e = exp(2.0 * min(a, 9.0));
        r = 1.0 - 2.0 / (e + 1.0);
    }
    return x < 0.0 ? -r : r;
}

// Logistic sigmoid, accurate for large negative x (no 1 - tiny cancellation, no overflow).
float sigmoid_approx(float x) {
    float e = exp(-abs(x));            // in (0, 1]
    float r = 1.0 / (1.0 + e);         // sigmoid(|x|)
    return x >= 0.0 ? r : e * r;       // sigmoid(-|x|) = e / (1 + e)
}

#endif // FUSIONKIT_ACTIVATIONS_GLSL
