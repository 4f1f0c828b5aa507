/* qmath.c: the scalar arithmetic the quantization passes share (multiplier decomposition,
 * rounding, quantizing one value), evaluated at compile time exactly as the generated code's
 * runtime (runtime_min/qcc_rt.h) would. Unit-tested in tests/unit/test_qmath.c.
 * No graph access here: plain numbers in, plain numbers out. */
#include "passes.h"

#include <math.h>

#include "../runtime_min/qcc_rt.h"

/* Decompose M = f * 2^e with f in [0.5, 1) (frexp), then m0 = round(f * 2^31), shift = e, so
 * M ~= m0 * 2^(shift - 31).
 *
 * Accuracy: f * 2^31 is exact in double (scaling by a power of two), so the only error is the
 * rounding to an integer: |m0 - f*2^31| <= 1/2, and since m0 >= 2^30 the relative error of the
 * represented multiplier is <= 2^-31 (the unit tests check <= 2^-30 with margin).
 *
 * Carry: f < 1 but f*2^31 can round up to exactly 2^31, which does not fit int32; then
 * m0 = 2^30 and shift + 1 represent the same value exactly.
 *
 * Range of shift, [-31, 30] (what qcc_mul_q31 accepts):
 *  - shift < -31 means M < 2^-32. For any int32 x, |x * M| < 2^31 * 2^-32 = 1/2, so the
 *    exact product always rounds to 0: m0 = 0, shift = 0 gives that same 0 (no information
 *    is lost). M == 0 (and subnormal M) take this path too.
 *  - shift > 30 means M >= 2^30: no int8 requantization is meaningful there, and the
 *    value is not representable. We saturate to (INT32_MAX, 30), the largest representable
 *    multiplier, and the caller must reject it: check quantize_multiplier_fits(M) first.
 *    +inf (an overflowing scale ratio) takes this path as well.
 * Rounding is half away from zero (llround), as TFLite's QuantizeMultiplier does, so
 * multipliers are bit-identical with TFLite Micro / CMSIS-NN for the same M. */
void quantize_multiplier(double m, int32_t *m0, int32_t *shift) {
    QCC_ASSERT(!isnan(m) && m >= 0.0); /* scales are positive and finite (graph_verify) */
    if (!quantize_multiplier_fits(m)) {
        *m0 = INT32_MAX;
        *shift = 30;
        return;
    }
    int e = 0;
    double f = frexp(m, &e); /* m == 0 gives f == 0, e == 0 */
    long long q = llround(f * 2147483648.0);
    if (q == 2147483648LL) {
        q /= 2;
        e++;
    }
    if (q == 0 || e < -31) {
        *m0 = 0;
        *shift = 0;
        return;
    }
    if (e > 30) {
        /* carry out of the top: M in [(1 - 2^-32) * 2^30, 2^30); the largest representable
         * multiplier, 2^30 - 1/2, is within 2^-31 relative of it */
        *m0 = INT32_MAX;
        *shift = 30;
        return;
    }
    QCC_ASSERT(q >= (1LL << 30) && q < (1LL << 31));
    *m0 = (int32_t)q;
    *shift = e;
}

/* m0 < 2^31 with shift <= 30 caps the representable multiplier at (2^31 - 1) * 2^-1, just
 * under 2^30: any M below 2^30 is represented within 2^-31 relative error, anything at or
 * above it (and +inf) is not representable and must be rejected by the caller. */
bool quantize_multiplier_fits(double m) {
    return m < 1073741824.0; /* 2^30; false for +inf */
}

/* qcc_rint is exact only for |v| < 2^23 (it pushes the fraction out of the mantissa); every
 * float at or beyond 2^23 in magnitude is already an integer, so it is returned unchanged.
 * The result saturates to int32 (NaN gives 0: callers never pass one, but a defined answer
 * beats undefined behaviour in a float-to-int conversion). */
int32_t round_half_even_f(float v) {
    if (isnan(v))
        return 0;
    if (v >= 2147483520.0f) /* largest float below 2^31 is 2^31 - 128 */
        return v >= 2147483648.0f ? INT32_MAX : (int32_t)v;
    if (v <= -2147483648.0f)
        return INT32_MIN;
    if (fabsf(v) >= 8388608.0f) /* 2^23: already integral */
        return (int32_t)v;
    return (int32_t)qcc_rint(v);
}

/* The runtime's own QuantizeLinear (qcc_quantize: division, round half to even, saturate;
 * valid for ranges narrower than 2^23, i.e. 8- and 16-bit types),
 * so a bound computed here (fused Clip/ReLU6 limits, a constant's quantized value) is the very
 * integer the generated code would produce for that float. */
int32_t quantize_scalar(float x, float scale, int32_t zp, int32_t lo, int32_t hi) {
    QCC_ASSERT(scale > 0.0f && lo <= zp && zp <= hi);
    return qcc_quantize(x, scale, zp, lo, hi);
}
