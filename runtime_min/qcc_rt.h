/* qcc_rt.h: the arithmetic helpers every qcc-generated model uses (rounding, saturation,
 * fixed-point multiply, float requant). Pasted verbatim into model.c so the output stays a
 * single dependency-free file; unit-tested in tests/unit/test_runtime.c.
 * C99, freestanding: <stdint.h> and <float.h> only, no libm, no division on the int path
 * (one 32x32->64-bit multiply and shifts per requantized value). */
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

#if defined(__CUDACC__) /* the CUDA backend calls these from device code too */
#define QCC_RT_INLINE static inline __host__ __device__ __attribute__((unused))
#elif defined(__GNUC__)
#define QCC_RT_INLINE static inline __attribute__((unused))
#else
#define QCC_RT_INLINE static inline
#endif

QCC_RT_INLINE int32_t qcc_clamp(int32_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* x * m0 * 2^(shift-31), rounded ONCE, half to even, saturated to int32; m0 is a Q31
 * mantissa in [2^30, 2^31) (or 0) and shift in [-31, 30].
 * Why one rounding: TFLite's two-step form (a rounding high multiply, then a rounding shift)
 * rounds twice, and with power-of-two multipliers (M = 1/4: 1*M = 0.25 becomes 0.5 after the
 * first step and 1 after the second) that error is systematic, not a rare tie: on a model
 * quantized with power-of-two scales it drifted 21 output steps from ONNX Runtime. Half to
 * even is ONNX Runtime's rule, so where its float multiplier is exact (powers of two) the
 * two agree bit for bit.
 * Range: |x * m0| < 2^62 fits int64; the shift count s = 31 - shift is in [1, 62]. The
 * magnitude is rounded (half-even is symmetric), so no negative value is ever shifted. */
QCC_RT_INLINE int32_t qcc_mul_q31(int32_t x, int32_t m0, int32_t shift) {
    int64_t prod = (int64_t)x * (int64_t)m0;
    int s = 31 - (int)shift;
    uint64_t mag = prod < 0 ? (uint64_t)0 - (uint64_t)prod : (uint64_t)prod;
    uint64_t q = mag >> s;
    uint64_t rem = mag & ((((uint64_t)1) << s) - 1u);
    uint64_t half = ((uint64_t)1) << (s - 1);
    q += (rem > half || (rem == half && (q & 1u))) ? 1u : 0u;
    if (q > (uint64_t)INT32_MAX)
        return prod < 0 ? INT32_MIN : INT32_MAX; /* saturate (|INT32_MIN| also lands here) */
    return prod < 0 ? -(int32_t)q : (int32_t)q;
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
