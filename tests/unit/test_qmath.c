/* test_qmath.c: passes/qmath.c, the compile-time side of requantization: the Q31 multiplier
 * decomposition (accuracy, ranges, carry, tiny and huge M), and that the runtime's
 * qcc_mul_q31 with the produced (m0, shift) lands within one of round(x * M). */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "passes/passes.h"
#include "qcc_rt.h"

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            print_error(__VA_ARGS__);                                                      \
            print_error("\n");                                                             \
            fail_msg("%s", #cond);                                                         \
        }                                                                                  \
    } while (0)

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint64_t rng_next(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static double rng_unit(void) { /* [0, 1) with 53 random bits */
    return (double)(rng_next() >> 11) * 0x1p-53;
}

/* The value (m0, shift) stands for. */
static double represented(int32_t m0, int32_t shift) {
    return ldexp((double)m0, shift - 31);
}

static void check_multiplier(double m) {
    int32_t m0 = -1, shift = -99;
    quantize_multiplier(m, &m0, &shift);
    CHECK(shift >= -31 && shift <= 30, "M=%a: shift %ld out of [-31, 30]", m, (long)shift);
    if (m0 == 0) {
        CHECK(shift == 0 && m < 0x1p-31, "M=%a: m0 = 0 (shift %ld) but M is not tiny", m,
              (long)shift);
        return;
    }
    CHECK(m0 >= (1 << 30), "M=%a: m0 %ld below 2^30", m, (long)m0);
    double err = fabs(represented(m0, shift) - m);
    CHECK(err <= m * 0x1p-30, "M=%a: m0=%ld shift=%ld represent %a (error %a)", m, (long)m0,
          (long)shift, represented(m0, shift), err);
}

static void test_random_multipliers(void **state) {
    (void)state;
    for (int i = 0; i < 1000000; i++) {
        /* log-uniform over [1e-9, 1e4]: every exponent gets its share */
        double m = exp(log(1e-9) + rng_unit() * (log(1e4) - log(1e-9)));
        check_multiplier(m);
        CHECK(quantize_multiplier_fits(m), "M=%a should fit", m);
    }
}

static void test_exact_values(void **state) {
    (void)state;
    int32_t m0, shift;
    quantize_multiplier(0.0, &m0, &shift);
    CHECK(m0 == 0 && shift == 0, "M=0 -> (%ld, %ld)", (long)m0, (long)shift);
    quantize_multiplier(1.0, &m0, &shift);
    CHECK(m0 == (1 << 30) && shift == 1, "M=1 -> (%ld, %ld)", (long)m0, (long)shift);
    quantize_multiplier(0.5, &m0, &shift);
    CHECK(m0 == (1 << 30) && shift == 0, "M=0.5 -> (%ld, %ld)", (long)m0, (long)shift);
    quantize_multiplier(0.75, &m0, &shift);
    CHECK(m0 == 3 << 29 && shift == 0, "M=0.75 -> (%ld, %ld)", (long)m0, (long)shift);
    /* every power of two in range is exact: m0 = 2^30, shift = k + 1 */
    for (int k = -32; k <= 29; k++) {
        quantize_multiplier(ldexp(1.0, k), &m0, &shift);
        CHECK(m0 == (1 << 30) && shift == k + 1, "M=2^%d -> (%ld, %ld)", k, (long)m0,
              (long)shift);
        check_multiplier(ldexp(1.0, k) * 1.2345);
    }
}

static void test_carry_and_extremes(void **state) {
    (void)state;
    int32_t m0, shift;
    /* f*2^31 rounds up to 2^31: must become 2^30 with shift + 1, never overflow */
    quantize_multiplier(1.0 - 0x1p-40, &m0, &shift);
    CHECK(m0 == (1 << 30) && shift == 1, "carry: (%ld, %ld)", (long)m0, (long)shift);
    quantize_multiplier(0.25 - 0x1p-45, &m0, &shift);
    CHECK(m0 == (1 << 30) && shift == -1, "carry: (%ld, %ld)", (long)m0, (long)shift);
    quantize_multiplier(1.0 - 0x1p-31, &m0, &shift); /* just below the carry: 2^31 - 1 */
    CHECK(m0 == INT32_MAX && shift == 0, "no carry: (%ld, %ld)", (long)m0, (long)shift);
    /* tiny: below 2^-32 every int32 x gives round(x*M) = 0, so (0, 0) is exact */
    const double tiny[] = {0x1p-33, 0x1.fffffp-33, 1e-12, 1e-300, 5e-324, DBL_MIN};
    for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
        quantize_multiplier(tiny[i], &m0, &shift);
        CHECK(m0 == 0 && shift == 0, "M=%a -> (%ld, %ld)", tiny[i], (long)m0, (long)shift);
    }
    /* 2^-32 <= M < 2^-31 is still representable with shift -31 */
    quantize_multiplier(0x1.8p-32, &m0, &shift);
    CHECK(m0 == 3 << 29 && shift == -31, "M=1.5*2^-32 -> (%ld, %ld)", (long)m0, (long)shift);
    /* the carry at the very bottom: just under 2^-32 rounds up into range */
    quantize_multiplier(0x1p-32 - 0x1p-90, &m0, &shift);
    CHECK(m0 == (1 << 30) && shift == -31, "bottom carry: (%ld, %ld)", (long)m0, (long)shift);
    /* huge: not representable, saturated, and the caller is told */
    const double huge[] = {0x1p30, 1e12, 1e300, INFINITY};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        CHECK(!quantize_multiplier_fits(huge[i]), "M=%a must not fit", huge[i]);
        quantize_multiplier(huge[i], &m0, &shift);
        CHECK(m0 == INT32_MAX && shift == 30, "M=%a -> (%ld, %ld)", huge[i], (long)m0,
              (long)shift);
    }
    /* largest that fits: carries out of the top, saturates within 2^-31 relative */
    double top = 0x1p30 - 0x1p-23; /* the double just below 2^30 */
    CHECK(quantize_multiplier_fits(top), "2^30 - 2^-23 fits");
    check_multiplier(top);
    check_multiplier(0x1p30 * (1.0 - 0x1p-20));
}

/* End to end with the runtime: qcc_mul_q31(x, m0, shift) is within one of round(x*M) (the
 * multiplier's own error adds at most |x| * M * 2^-31 < 1/2 for the |x*M| < 2^30 tested). */
static void test_runtime_agreement(void **state) {
    (void)state;
    for (int i = 0; i < 300000; i++) {
        double m = exp(log(1e-9) + rng_unit() * (log(4.0) - log(1e-9)));
        int32_t m0, shift;
        quantize_multiplier(m, &m0, &shift);
        int32_t x = (int32_t)((int64_t)(rng_next() >> 33) - ((int64_t)1 << 30)); /* |x| < 2^30 */
        if (fabs((double)x * m) >= 0x1p29)
            continue;
        double want = round((double)x * m);
        int32_t got = qcc_mul_q31(x, m0, shift);
        CHECK(fabs((double)got - want) <= 1.0, "x=%ld M=%a: got %ld, round(x*M) = %.0f",
              (long)x, m, (long)got, want);
    }
}

static void test_round_half_even(void **state) {
    (void)state;
    CHECK(fesetround(FE_TONEAREST) == 0, "fesetround");
    const float v[] = {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 8388607.5f, 8388608.0f, 8388609.0f,
                       16777217.0f, 1e9f, -1e9f, 2147483520.0f, -2147483648.0f, 0.0f, -0.0f};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        CHECK(round_half_even_f(v[i]) == (int32_t)nearbyintf(v[i]), "rhe(%.9g) = %ld",
              (double)v[i], (long)round_half_even_f(v[i]));
    CHECK(round_half_even_f(3e9f) == INT32_MAX, "saturates high");
    CHECK(round_half_even_f(-3e9f) == INT32_MIN, "saturates low");
    CHECK(round_half_even_f(INFINITY) == INT32_MAX, "+inf");
    CHECK(round_half_even_f(-INFINITY) == INT32_MIN, "-inf");
    CHECK(round_half_even_f(NAN) == 0, "NaN");
    for (int i = 0; i < 1000000; i++) {
        float f = ldexpf(1.0f + (float)(rng_next() >> 41) * 0x1p-23f, (int)(rng_next() % 62) - 31);
        if (rng_next() & 1)
            f = -f;
        CHECK(round_half_even_f(f) == (int32_t)nearbyintf(f), "rhe(%a) = %ld, want %.0f",
              (double)f, (long)round_half_even_f(f), (double)nearbyintf(f));
    }
}

static void test_quantize_scalar(void **state) {
    (void)state;
    CHECK(quantize_scalar(6.0f, 6.0f / 255.0f, 0, 0, 255) == 255, "ReLU6 top, uint8");
    CHECK(quantize_scalar(0.0f, 0.1f, 128, 0, 255) == 128, "zero maps to zp");
    CHECK(quantize_scalar(0.25f, 0.5f, 0, -128, 127) == 0, "half to even");
    CHECK(quantize_scalar(-1e30f, 0.5f, 3, -128, 127) == -128, "saturate");
    CHECK(quantize_scalar(1.0f, 0.3f, -5, -128, 127) == qcc_quantize(1.0f, 0.3f, -5, -128, 127),
          "same as the runtime");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_multipliers),
        cmocka_unit_test(test_exact_values),
        cmocka_unit_test(test_carry_and_extremes),
        cmocka_unit_test(test_runtime_agreement),
        cmocka_unit_test(test_round_half_even),
        cmocka_unit_test(test_quantize_scalar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
