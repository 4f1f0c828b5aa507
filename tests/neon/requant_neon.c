/* requant_neon.c: the NEON requantization helpers of --target=neon (qcc_n_requant_q31,
 * qcc_n_requant_f in target_neon.c's prelude) against the runtime's scalar qcc_requant_q31 /
 * qcc_requant_f (unit-tested against a 64-bit reference in tests/unit/test_runtime.c), lane
 * for lane, on random and edge values: exact ties at every shift, saturating products, the
 * extremes of int32, per-lane multipliers. Built by requant_check.sh with the aarch64 cross
 * compiler around a generated model.c (MODEL_C) and run under qemu. Exit 0 if all agree. */
#include <stdio.h>
#include MODEL_C

#if !defined(QCC_NEON)
#error "build for aarch64 with the NEON target's model.c"
#endif

#include "../requant_rng.h"

/* An accumulator: mostly typical conv sums, sometimes the int32 extremes or a value that
 * lands exactly on a rounding tie for shift count s. */
static int32_t pick_acc(int s, int32_t m0) {
    switch (rng() % 8) {
    case 0: return INT32_MAX - (int32_t)(rng() % 4);
    case 1: return INT32_MIN + (int32_t)(rng() % 4);
    case 2: /* a tie: with m0 = 2^30 the product is acc * 2^30, half of 2^s when ... */
        if (m0 == (1 << 30) && s >= 31)
            return (int32_t)((2 * (int64_t)(rng() % 1000) + 1) << (s - 31)) * (rng() % 2 ? 1 : -1);
        return (int32_t)(rng() % 2001) - 1000;
    case 3: return (int32_t)rng();
    default: return (int32_t)(rng() % 200001) - 100000;
    }
}

int main(void) {
    long bad = 0, checked = 0;
    for (int iter = 0; iter < 200000; iter++) {
        int32_t acc[4], m0[4], sh[4], got[4];
        float f[4];
        for (int l = 0; l < 4; l++) {
            int kind = (int)(rng() % 4);
            m0[l] = kind == 0 ? (1 << 30) : kind == 1 ? 0 : (int32_t)((1u << 30) | (rng() >> 2));
            sh[l] = (int32_t)(rng() % 62) - 31;
            acc[l] = pick_acc(31 - sh[l], m0[l]);
            f[l] = (float)((double)rng() / 4294967296.0 * (rng() % 2 ? 1e-2 : 4.0));
        }
        int32_t zp, lo, hi;
        rng_out_range(&zp, &lo, &hi);
        vst1q_s32(got, qcc_n_requant_q31(vld1q_s32(acc), m0, sh, zp, lo, hi));
        for (int l = 0; l < 4; l++, checked++) {
            int32_t want = qcc_requant_q31(acc[l], m0[l], sh[l], zp, lo, hi);
            if (got[l] != want && bad++ < 10)
                printf("q31: acc %ld m0 %ld shift %ld zp %ld [%ld,%ld]: neon %ld, scalar %ld\n",
                       (long)acc[l], (long)m0[l], (long)sh[l], (long)zp, (long)lo, (long)hi,
                       (long)got[l], (long)want);
        }
        vst1q_s32(got, qcc_n_requant_f(vld1q_s32(acc), f, zp, lo, hi));
        for (int l = 0; l < 4; l++, checked++) {
            int32_t want = qcc_requant_f(acc[l], f[l], zp, lo, hi);
            if (got[l] != want && bad++ < 10)
                printf("float: acc %ld m %.9g zp %ld [%ld,%ld]: neon %ld, scalar %ld\n",
                       (long)acc[l], (double)f[l], (long)zp, (long)lo, (long)hi, (long)got[l],
                       (long)want);
        }
    }
    printf("%ld of %ld NEON requantizations differ from the scalar runtime\n", bad, checked);
    return bad != 0;
}
