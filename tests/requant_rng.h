/* requant_rng.h: what the lane-for-lane requant tests (tests/neon/requant_neon.c,
 * tests/simd/requant_x86.c) draw from: a 64-bit xorshift generator (fixed seed, no libc
 * rand()) and an output zero point with its clamp range. */
#ifndef QCC_TESTS_REQUANT_RNG_H
#define QCC_TESTS_REQUANT_RNG_H

#include <stdint.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* An int8 or uint8 output: zp inside [lo, hi], sometimes a fused ReLU (lo = zp). */
static void rng_out_range(int32_t *zp, int32_t *lo, int32_t *hi) {
    *zp = (int32_t)(rng() % 384) - 128;
    *lo = rng() % 2 ? -128 : 0;
    *hi = *lo + 255;
    if (*zp < *lo || *zp > *hi)
        *zp = *lo + (int32_t)(rng() % 256);
    if (rng() % 4 == 0)
        *lo = *zp;
}

#endif
