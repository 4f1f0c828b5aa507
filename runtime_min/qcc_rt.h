/* qcc_rt.h: the arithmetic helpers every qcc-generated model uses (rounding, saturation,
 * fixed-point multiply, float requant). Pasted verbatim into model.c so the output stays a
 * single dependency-free file; unit-tested in tests/unit/test_runtime.c.
 * C99, freestanding: <stdint.h> and <float.h> only, no libm, no division on the int path. */
#ifndef QCC_RT_H
#define QCC_RT_H

#include <float.h>
#include <stdint.h>

/* qcc_rint below relies on every float operation rounding to float (SSE, NEON, any FPU
 * with FLT_EVAL_METHOD 0) and on the compiler not reassociating (no -ffast-math). */
#if defined(__FAST_MATH__)
#error "qcc generated code must not be compiled with -ffast-math (rounding would change)"
#endif
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0 && FLT_EVAL_METHOD != -1
#error "qcc generated code needs FLT_EVAL_METHOD == 0 (use -mfpmath=sse on x86-32)"
#endif

#if defined(__GNUC__)
#define QCC_RT_INLINE static inline __attribute__((unused))
#else
#define QCC_RT_INLINE static inline
#endif

QCC_RT_INLINE int32_t qcc_clamp(int32_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* gemmlowp SaturatingRoundingDoublingHighMul: a*b / 2^31 rounded by adding a nudge of
 * +/-2^30 and truncating toward zero, i.e. floor(a*b/2^31 + 1/2): ties go toward +infinity
 * (-0.5 -> 0, -1.5 -> -1), exactly as gemmlowp, TFLite and CMSIS-NN compute it.
 * The one overflowing case, a == b == INT32_MIN (result 2^31), saturates to INT32_MAX.
 * Proof of range: |a*b| <= 2^62, so the int64 product and the nudge cannot overflow; the
 * quotient fits int32 except for the saturated case. */
QCC_RT_INLINE int32_t qcc_srdhm(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX;
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    int64_t q = (ab + nudge) / ((int64_t)1 << 31); /* C division truncates toward zero */
    return (int32_t)q;
}

/* gemmlowp RoundingDivideByPOT: round(x / 2^exponent), ties away from zero,
 * exponent in [0, 31]. Arithmetic shift of a negative value is implementation-defined in
 * C99, so the shift is done on the magnitude's two's complement bits explicitly. */
QCC_RT_INLINE int32_t qcc_rdivpot(int32_t x, int exponent) {
    int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    int32_t floor_div = (int32_t)((x - remainder) / ((int64_t)1 << exponent));
    return floor_div + (remainder > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier: x * m0 * 2^(shift-31) with m0 a Q31 mantissa in
 * [2^30, 2^31) and shift in [-31, 30]. Two roundings (the high multiply, then the shift),
 * exactly as TFLite Micro and CMSIS-NN do, so results are bit-identical with them; it can
 * differ by one from a single exact rounding of x*M when the first rounding lands on a tie
 * of the second (documented in the README, tested against a 64-bit reference). The left
 * shift saturates instead of wrapping. */
QCC_RT_INLINE int32_t qcc_mul_q31(int32_t x, int32_t m0, int32_t shift) {
    int32_t left = shift > 0 ? shift : 0;
    int32_t right = shift > 0 ? 0 : -shift;
    int64_t shifted = (int64_t)x * ((int64_t)1 << left);
    if (shifted > INT32_MAX)
        shifted = INT32_MAX;
    if (shifted < INT32_MIN)
        shifted = INT32_MIN;
    return qcc_rdivpot(qcc_srdhm((int32_t)shifted, m0), (int)right);
}

/* Round half to even for |v| < 2^23 without libm: adding 2^23 pushes the fraction out of
 * the mantissa, and IEEE round-to-nearest-even does the rounding. Callers clamp v first. */
QCC_RT_INLINE float qcc_rint(float v) {
    const float big = 8388608.0f; /* 2^23 */
    return v >= 0.0f ? (v + big) - big : (v - big) + big;
}

/* ONNX Runtime requantization: y = zp + round_half_even(acc * m), saturated to [lo, hi].
 * Clamping before rounding gives the same result (the bounds are integers) and keeps the
 * value inside qcc_rint's domain. */
QCC_RT_INLINE int32_t qcc_requant_f(int32_t acc, float m, int32_t zp, int32_t lo, int32_t hi) {
    float v = (float)acc * m;
    float flo = (float)(lo - zp), fhi = (float)(hi - zp);
    v = v < flo ? flo : v > fhi ? fhi : v;
    return (int32_t)qcc_rint(v) + zp;
}

/* Fixed-point requantization: y = zp + acc*M with M = m0 * 2^(shift-31), saturated.
 * The zero point is added in 64 bits: the product may be within |zp| of INT32_MAX. */
QCC_RT_INLINE int32_t qcc_requant_q31(int32_t acc, int32_t m0, int32_t shift, int32_t zp,
                                      int32_t lo, int32_t hi) {
    int64_t v = (int64_t)qcc_mul_q31(acc, m0, shift) + zp;
    return v < lo ? lo : v > hi ? hi : (int32_t)v;
}

/* QuantizeLinear as ONNX Runtime computes it: saturate(round_half_even(x / scale) + zp).
 * Division, not multiplication by 1/scale, to match it bit for bit. NaN maps to lo. */
QCC_RT_INLINE int32_t qcc_quantize(float x, float scale, int32_t zp, int32_t lo, int32_t hi) {
    float v = x / scale;
    float flo = (float)(lo - zp), fhi = (float)(hi - zp);
    v = v >= flo ? v : flo; /* also catches NaN */
    v = v <= fhi ? v : fhi;
    return (int32_t)qcc_rint(v) + zp;
}

/* DequantizeLinear: scale * (q - zp), exact in float for 8-bit q. */
QCC_RT_INLINE float qcc_dequantize(int32_t q, float scale, int32_t zp) {
    return (float)(q - zp) * scale;
}

#endif
