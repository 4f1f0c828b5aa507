/* xorshift.h: the 64-bit xorshift generator of the lane-for-lane requant tests
 * (tests/neon/requant_neon.c, tests/simd/requant_x86.c): fixed seed, same sequence
 * everywhere, no libc rand(). */
#ifndef QCC_TESTS_XORSHIFT_H
#define QCC_TESTS_XORSHIFT_H

#include <stdint.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

#endif
