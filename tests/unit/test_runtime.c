/* test_runtime.c: runtime_min/qcc_rt.h against independent references of its defined
 * semantics. Integer helpers are checked against exact long double arithmetic (64-bit
 * mantissa: every int32 x int32 product is exact); float helpers against libm's nearbyint in
 * round-to-nearest mode (the ONNX rule). Random cases come from a fixed-seed xorshift so
 * failures reproduce.
 * Fixed-point multiply: one rounding of the exact product x*m0*2^(shift-31), half to even
 * (ONNX Runtime's rule), saturated to int32. */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "qcc_rt.h"

_Static_assert(LDBL_MANT_DIG >= 64, "the reference needs exact 64-bit integer products");

enum { NRANDOM = 1000000 };

/* Report the failing inputs, then fail the test (cmocka's asserts would only show values). */
#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            print_error(__VA_ARGS__);                                                      \
            print_error("\n");                                                             \
            fail_msg("%s", #cond);                                                         \
        }                                                                                  \
    } while (0)

/* ---- xorshift64* PRNG (Vigna), fixed seed ---------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static void rng_seed(uint64_t s) {
    rng_state = s ? s : 1;
}

/* Uniform in [lo, hi] (hi - lo < 2^63). */
static int64_t rng_range(int64_t lo, int64_t hi) {
    return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

/* An int32 whose magnitude has a random bit width, so small, medium and huge values all
 * appear (uniform int32 would almost never test small accumulators). */
static int32_t rng_int32(void) {
    int bits = (int)rng_range(0, 32);
    uint32_t u = (uint32_t)rng_next();
    if (bits < 32)
        u &= (bits ? ((1u << bits) - 1u) : 0u);
    int32_t v = (int32_t)(u & 0x7FFFFFFFu);
    if (rng_next() & 1)
        v = -v - (int32_t)(bits == 32 && (rng_next() & 1)); /* reach INT32_MIN too */
    return v;
}

/* ---- references ------------------------------------------------------------------------ */

static int32_t ref_sat32(long double v) {
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

/* The exact product scaled by a power of two is exact in long double (64-bit mantissa);
 * nearbyintl in the default rounding mode rounds it half to even. */
static int32_t ref_mul_q31(int32_t x, int32_t m0, int32_t shift) {
    return ref_sat32(nearbyintl(ldexpl((long double)x * (long double)m0, shift - 31)));
}

/* ONNX QuantizeLinear: saturate(nearbyint(x / scale) + zp), the division in float. NaN maps
 * to lo (qcc's documented choice; ONNX leaves it undefined). */
static int32_t ref_quantize(float x, float scale, int32_t zp, int32_t lo, int32_t hi) {
    float v = x / scale;
    if (isnan(v))
        return lo;
    double r = nearbyint((double)v) + zp;
    return r < lo ? lo : r > hi ? hi : (int32_t)r;
}

/* ONNX Runtime requantization: saturate(nearbyint((float)acc * m) + zp). */
static int32_t ref_requant_f(int32_t acc, float m, int32_t zp, int32_t lo, int32_t hi) {
    float v = (float)acc * m;
    double r = nearbyint((double)v) + zp;
    return r < lo ? lo : r > hi ? hi : (int32_t)r;
}

/* ---- integer helpers ------------------------------------------------------------------- */

static int32_t rng_m0(void) {
    return (int32_t)rng_range((int64_t)1 << 30, ((int64_t)1 << 31) - 1);
}

static void test_mul_q31_random(void **state) {
    (void)state;
    rng_seed(5);
    for (int i = 0; i < NRANDOM; i++) {
        int32_t x = rng_int32(), m0 = rng_m0();
        int32_t shift = (int32_t)rng_range(-31, 30);
        int32_t got = qcc_mul_q31(x, m0, shift), want = ref_mul_q31(x, m0, shift);
        CHECK(got == want, "mul_q31(%ld, %ld, %ld) = %ld, want %ld", (long)x, (long)m0,
              (long)shift, (long)got, (long)want);
    }
}

static void test_mul_q31_edges(void **state) {
    (void)state;
    const int32_t xs[] = {INT32_MIN, INT32_MIN + 1, -65536, -255, -1, 0, 1, 127, 65535,
                          INT32_MAX - 1, INT32_MAX};
    const int32_t m0s[] = {1 << 30, (1 << 30) + 1, 1518500250 /* ~sqrt(2)/2 */, INT32_MAX - 1,
                           INT32_MAX};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++)
        for (size_t k = 0; k < sizeof m0s / sizeof m0s[0]; k++)
            for (int32_t s = -31; s <= 30; s++)
                CHECK(qcc_mul_q31(xs[i], m0s[k], s) == ref_mul_q31(xs[i], m0s[k], s),
                      "mul_q31(%ld, %ld, %ld) = %ld, want %ld", (long)xs[i], (long)m0s[k],
                      (long)s, (long)qcc_mul_q31(xs[i], m0s[k], s),
                      (long)ref_mul_q31(xs[i], m0s[k], s));
    /* m0 = 2^30 is exactly 1/2, so x * 2^(s-1) with one rounding, ties to even */
    CHECK(qcc_mul_q31(7, 1 << 30, 0) == 4, "7/2 = 3.5 -> 4");
    CHECK(qcc_mul_q31(5, 1 << 30, 0) == 2, "5/2 = 2.5 -> 2 (even)");
    CHECK(qcc_mul_q31(-7, 1 << 30, 0) == -4, "-3.5 -> -4");
    CHECK(qcc_mul_q31(-5, 1 << 30, 0) == -2, "-2.5 -> -2");
    CHECK(qcc_mul_q31(7, 1 << 30, 1) == 7, "7 * 1");
    CHECK(qcc_mul_q31(INT32_MAX, 1 << 30, 30) == INT32_MAX, "saturates high");
    CHECK(qcc_mul_q31(INT32_MIN, 1 << 30, 30) == INT32_MIN, "saturates low");
    CHECK(qcc_mul_q31(INT32_MIN, 1 << 30, 1) == INT32_MIN, "-2^31 * 1 is representable");
    CHECK(qcc_mul_q31(0, 0, 0) == 0, "zero multiplier");
}

/* The reason for one rounding: with M = 1/4 (m0 2^30, shift -1) TFLite's two-step form maps
 * 1 -> 0.5 -> 1 and -3 -> -1.5 -> -2; the exact products 0.25 and -0.75 round to 0 and -1. */
static void test_mul_q31_power_of_two_multiplier(void **state) {
    (void)state;
    for (int32_t acc = -1000; acc <= 1000; acc++) {
        long double exact = nearbyintl((long double)acc / 4.0L);
        CHECK(qcc_mul_q31(acc, 1 << 30, -1) == (int32_t)exact, "%ld / 4 = %ld, want %.0Lf",
              (long)acc, (long)qcc_mul_q31(acc, 1 << 30, -1), exact);
    }
    CHECK(qcc_mul_q31(1, 1 << 30, -1) == 0, "0.25 -> 0");
    CHECK(qcc_mul_q31(-3, 1 << 30, -1) == -1, "-0.75 -> -1");
    CHECK(qcc_mul_q31(2, 1 << 30, -1) == 0, "0.5 -> 0 (even)");
    CHECK(qcc_mul_q31(6, 1 << 30, -1) == 2, "1.5 -> 2 (even)");
}

/* ---- float helpers --------------------------------------------------------------------- */

/* A float in (-2^23, 2^23), qcc_rint's domain: random sign, exponent and full mantissa. */
static float rng_float_rint(void) {
    int e = (int)rng_range(-40, 22);
    float mant = 1.0f + (float)rng_range(0, (1 << 23) - 1) / 8388608.0f; /* exact */
    float v = ldexpf(mant, e);
    return rng_next() & 1 ? -v : v;
}

static void test_rint(void **state) {
    (void)state;
    CHECK(fesetround(FE_TONEAREST) == 0, "fesetround");
    const float ties[] = {0.5f, 1.5f, 2.5f, 3.5f, -0.5f, -1.5f, -2.5f, 126.5f, 127.5f, -128.5f,
                          255.5f, 4194303.5f, 4194304.5f, 8388607.5f, -8388607.5f, 0.49999997f,
                          -0.49999997f, 0.0f, -0.0f, 1.0f, 8388607.0f, 8388608.0f, -8388608.0f,
                          1e-30f, FLT_MIN, -FLT_MIN, FLT_TRUE_MIN};
    for (size_t i = 0; i < sizeof ties / sizeof ties[0]; i++)
        CHECK(qcc_rint(ties[i]) == nearbyintf(ties[i]), "rint(%.9g) = %.9g, want %.9g",
              (double)ties[i], (double)qcc_rint(ties[i]), (double)nearbyintf(ties[i]));
    CHECK(qcc_rint(2.5f) == 2.0f && qcc_rint(-2.5f) == -2.0f && qcc_rint(8388607.5f) == 8388608.0f,
          "half to even");
    rng_seed(7);
    for (int i = 0; i < NRANDOM; i++) {
        float v = rng_float_rint();
        CHECK(qcc_rint(v) == nearbyintf(v), "rint(%a) = %a, want %a", (double)v,
              (double)qcc_rint(v), (double)nearbyintf(v));
    }
    for (int i = 0; i < 200000; i++) { /* exact halves across the whole domain */
        float v = (float)rng_range(-8388608, 8388607) + 0.5f;
        CHECK(qcc_rint(v) == nearbyintf(v), "rint(%.1f)", (double)v);
    }
}

static void test_quantize(void **state) {
    (void)state;
    const struct { int32_t lo, hi; } ranges[] = {{0, 255}, {-128, 127}, {-32768, 32767}};
    const float special[] = {NAN, -NAN, INFINITY, -INFINITY, 1e30f, -1e30f, FLT_MAX, -FLT_MAX,
                             0.0f, -0.0f, FLT_TRUE_MIN};
    for (size_t r = 0; r < 3; r++) {
        int32_t lo = ranges[r].lo, hi = ranges[r].hi;
        int32_t zps[] = {lo, lo < 0 ? 0 : lo + 1, (lo + hi + 1) / 2, hi};
        for (size_t z = 0; z < 4; z++) {
            for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
                int32_t got = qcc_quantize(special[i], 0.05f, zps[z], lo, hi);
                CHECK(got == ref_quantize(special[i], 0.05f, zps[z], lo, hi),
                      "quantize(%g, zp %ld) = %ld", (double)special[i], (long)zps[z],
                      (long)got);
            }
        }
        CHECK(qcc_quantize(NAN, 0.1f, zps[2], lo, hi) == lo, "NaN maps to lo");
        CHECK(qcc_quantize(INFINITY, 0.1f, zps[2], lo, hi) == hi, "+inf maps to hi");
        CHECK(qcc_quantize(-INFINITY, 0.1f, zps[2], lo, hi) == lo, "-inf maps to lo");
    }
    rng_seed(8);
    for (int i = 0; i < NRANDOM; i++) {
        size_t r = (size_t)rng_range(0, 2);
        int32_t lo = ranges[r].lo, hi = ranges[r].hi, zp = (int32_t)rng_range(lo, hi);
        float scale = ldexpf(1.0f + (float)rng_range(0, 1 << 20) / (float)(1 << 20),
                             (int)rng_range(-20, 4));
        float x = (float)((double)rng_int32() * ldexp(1.0, (int)rng_range(-40, 0)));
        if (i % 4 == 0) { /* a tie: (k + 1/2) * scale with a power-of-two scale is exact */
            scale = ldexpf(1.0f, (int)rng_range(-12, 2));
            x = ((float)rng_range(-40000, 40000) + 0.5f) * scale;
        }
        int32_t got = qcc_quantize(x, scale, zp, lo, hi), want = ref_quantize(x, scale, zp, lo, hi);
        CHECK(got == want, "quantize(%a, %a, %ld, [%ld,%ld]) = %ld, want %ld", (double)x,
              (double)scale, (long)zp, (long)lo, (long)hi, (long)got, (long)want);
    }
    CHECK(qcc_quantize(0.25f, 0.5f, 0, -128, 127) == 0, "0.5 -> 0 (even)");
    CHECK(qcc_quantize(0.75f, 0.5f, 0, -128, 127) == 2, "1.5 -> 2");
    CHECK(qcc_quantize(-1.25f, 0.5f, 10, -128, 127) == 8, "-2.5 -> -2, +10");
    CHECK(qcc_dequantize(130, 0.5f, 128) == 1.0f, "dequantize");
}

static void test_requant_f(void **state) {
    (void)state;
    rng_seed(9);
    for (int i = 0; i < NRANDOM; i++) {
        int32_t acc = rng_int32(), zp = (int32_t)rng_range(-128, 127);
        int32_t lo = i & 1 ? -128 : 0, hi = i & 1 ? 127 : 255;
        if (!(i & 1))
            zp += 128;
        float m = ldexpf(1.0f + (float)rng_range(0, 1 << 23) / (float)(1 << 23),
                         (int)rng_range(-30, 2));
        if (i % 5 == 0) { /* ties: m a power of two, acc odd */
            m = ldexpf(1.0f, -(int)rng_range(1, 8));
            acc |= 1;
        }
        int32_t got = qcc_requant_f(acc, m, zp, lo, hi), want = ref_requant_f(acc, m, zp, lo, hi);
        CHECK(got == want, "requant_f(%ld, %a, %ld) = %ld, want %ld", (long)acc, (double)m,
              (long)zp, (long)got, (long)want);
    }
    CHECK(qcc_requant_f(5, 0.5f, 0, -128, 127) == 2, "2.5 -> 2");
    CHECK(qcc_requant_f(7, 0.5f, 0, -128, 127) == 4, "3.5 -> 4");
    CHECK(qcc_requant_f(INT32_MAX, 1.0f, 0, -128, 127) == 127, "saturate high");
    CHECK(qcc_requant_f(INT32_MIN, 1.0f, 100, 0, 255) == 0, "saturate low");
}

static void test_requant_q31(void **state) {
    (void)state;
    rng_seed(10);
    for (int i = 0; i < NRANDOM; i++) {
        int32_t acc = rng_int32(), m0 = rng_m0(), shift = (int32_t)rng_range(-31, 0);
        int32_t lo = (int32_t)rng_range(-128, 0), hi = (int32_t)rng_range(lo, 255);
        int32_t zp = (int32_t)rng_range(-128, 255);
        int64_t v = (int64_t)ref_mul_q31(acc, m0, shift) + zp;
        int32_t want = (int32_t)(v < lo ? lo : v > hi ? hi : v);
        int32_t got = qcc_requant_q31(acc, m0, shift, zp, lo, hi);
        CHECK(got == want, "requant_q31(%ld, %ld, %ld, zp %ld, [%ld,%ld]) = %ld, want %ld",
              (long)acc, (long)m0, (long)shift, (long)zp, (long)lo, (long)hi, (long)got,
              (long)want);
    }
    CHECK(qcc_requant_q31(1000000, 1 << 30, 0, 0, -128, 127) == 127, "clamp high");
    CHECK(qcc_requant_q31(-1000000, 1 << 30, 0, 0, -128, 127) == -128, "clamp low");
    CHECK(qcc_requant_q31(300, 1 << 30, 0, -10, 0, 255) == 140, "150 - 10");
    CHECK(qcc_requant_q31(0, 1 << 30, 0, 5, 6, 100) == 6, "fused ReLU-style low bound");
}

/* acc * M near INT32_MAX plus a positive zero point must still clamp to hi: the sum has to
 * be formed without int32 overflow. */
static void test_requant_q31_no_overflow(void **state) {
    (void)state;
    CHECK(qcc_requant_q31(INT32_MAX, INT32_MAX, 0, 127, -128, 127) == 127,
          "INT32_MAX * ~1 + 127 overflowed");
    CHECK(qcc_requant_q31(INT32_MIN, INT32_MAX, 0, -128, -128, 127) == -128,
          "INT32_MIN * ~1 - 128 overflowed");
    CHECK(qcc_requant_q31(1 << 20, INT32_MAX, 30, 200, 0, 255) == 255,
          "saturated left shift + zp overflowed");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mul_q31_random),
        cmocka_unit_test(test_mul_q31_edges),
        cmocka_unit_test(test_mul_q31_power_of_two_multiplier),
        cmocka_unit_test(test_rint),
        cmocka_unit_test(test_quantize),
        cmocka_unit_test(test_requant_f),
        cmocka_unit_test(test_requant_q31),
        cmocka_unit_test(test_requant_q31_no_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
