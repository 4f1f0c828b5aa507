/* requant_x86.c: the checked float requantization of the AVX-512 VNNI kernels
 * (qcc_v16_rq_c / qcc_v16_rqc_apply / qcc_v16_tied in qfast_rt.c's prelude, and the
 * saturating form qcc_v16_rqs_apply of the packed stores with its tighter bound) against the
 * runtime's scalar qcc_requant_q31 (unit-tested against a 64-bit reference in
 * tests/unit/test_runtime.c). The claim under test: on every vector that qcc_v16_tied does
 * not flag, all 16 lanes equal qcc_requant_q31's. Inputs are built to stress it: exact ties,
 * accumulators whose product lands within a few float ulps of a tie (where the float's
 * rounding decides), the int32 extremes, values just outside the clamp, multipliers over
 * the whole range the generator accepts. Flagged vectors are counted (the kernels redo
 * those with the exact form; the count shows the redo is rare on ordinary values).
 * Built by requant_check_x86.sh with -march=native around a generated model.c (MODEL_C);
 * exit 77 where the compiler does not target AVX-512 VNNI. */
#include <math.h>
#include <stdio.h>
#include MODEL_C

#if !defined(QCC_FAST_VNNI)
int main(void) {
    puts("SKIP: this build does not target AVX-512 VNNI (QCC_FAST_VNNI unset)");
    return 77;
}
#else
#include "../requant_rng.h"

/* A uniform double in [0, 1). */
static double unit(void) {
    return (double)rng() / 4294967296.0;
}

/* An accumulator for multiplier k = m0 * 2^(shift-31) and output zero point zp. */
static int32_t pick_acc(double k, int32_t zp, int32_t lo, int32_t hi) {
    double t;
    switch (rng() % 8) {
    case 0: return (int32_t)(rng() % 2 ? INT32_MAX - (int32_t)(rng() % 4)
                                       : INT32_MIN + (int32_t)(rng() % 4));
    case 1: return (int32_t)rng();
    case 2: return (int32_t)(rng() % 200001) - 100000;
    case 3: /* just beyond the clamp, either side */
        t = (rng() % 2 ? hi + 0.5 + unit() : lo - 0.5 - unit()) - zp;
        break;
    default: /* within a hair of a tie t + 0.5 inside [lo, hi] */
        t = (double)(lo - zp + (int32_t)(rng() % (uint32_t)(hi - lo + 1))) + 0.5;
        t += (unit() - 0.5) * ldexp(1.0, -(int)(rng() % 24));
        break;
    }
    double a = nearbyint(t / k);
    if (a > 2147483647.0 || a < -2147483648.0)
        return (int32_t)rng();
    return (int32_t)a;
}

/* The saturating form of the packed stores (qcc_v16_rqs_apply, qcc_v64_u8/_s8, the byte
 * clamp of fastk_vnni_put4) with the tighter threshold fastk_bound gives it: codegen uses it
 * only where |acc + bias| < 2^24 and |y| < 2^30, so the inputs keep to that. Four vectors
 * per check, as a pixel's 64 channels; returns the lanes that differ, unflagged. */
static long check_saturating(long *vectors, long *flagged) {
    long bad = 0;
    for (int iter = 0; iter < 200000; iter++) {
        int32_t acc[64], bias[64], m0[64], sh[64];
        float kf[64];
        uint8_t got[64];
        int32_t zp, lo, hi;
        rng_out_range(&zp, &lo, &hi);
        if (rng() % 8 == 0)
            hi = lo + (int32_t)(rng() % (uint32_t)(hi - lo + 1));
        int u8 = lo >= 0 && hi <= 255 && (lo > 0 || rng() % 2); /* [0, 127] fits either */
        if (!u8 && hi > 127)
            continue;
        for (int l = 0; l < 64; l++) {
            m0[l] = (int32_t)((1u << 30) | (rng() >> 2));
            if (rng() % 8 == 0)
                m0[l] = 1 << 30;
            sh[l] = (int32_t)(rng() % 32) - 31 + 6; /* k < 2^6: |y| < 2^30 */
            if (sh[l] > 6)
                sh[l] = 6;
            kf[l] = (float)ldexp((double)m0[l], sh[l] - 31);
            bias[l] = rng() % 4 ? 0 : (int32_t)(rng() % 2001) - 1000;
            int32_t a = pick_acc(ldexp((double)m0[l], sh[l] - 31), zp, lo, hi);
            if (a >= (1 << 24) - 1000 || a <= -(1 << 24) + 1000)
                a = (int32_t)(rng() % (1u << 24)) - (1 << 23);
            acc[l] = a - bias[l];
        }
        int32_t r = (lo < 0 ? -lo : lo) > (hi < 0 ? -hi : hi) ? (lo < 0 ? -lo : lo)
                                                             : (hi < 0 ? -hi : hi);
        const float near = 0.5f - (float)(2 * (r + 1) + (zp < 0 ? -zp : zp) + 4) * 0x1p-24f;
        __m512 tie = _mm512_setzero_ps();
        __m512i q[4];
        for (int v = 0; v < 4; v++) {
            const qcc_rqc16 rq = qcc_v16_rq_c(bias + 16 * v, kf + 16 * v, zp, lo, hi);
            q[v] = qcc_v16_rqs_apply(_mm512_loadu_si512(acc + 16 * v), &rq, &tie);
        }
        __m512i b = u8 ? qcc_v64_u8(q[0], q[1], q[2], q[3]) : qcc_v64_s8(q[0], q[1], q[2], q[3]);
        b = u8 ? _mm512_min_epu8(_mm512_max_epu8(b, _mm512_set1_epi8((char)lo)),
                                 _mm512_set1_epi8((char)hi))
               : _mm512_min_epi8(_mm512_max_epi8(b, _mm512_set1_epi8((char)lo)),
                                 _mm512_set1_epi8((char)hi));
        _mm512_storeu_si512(got, b);
        (*vectors)++;
        if (qcc_v16_near(tie, near)) {
            (*flagged)++;
            continue;
        }
        for (int l = 0; l < 64; l++) {
            int32_t want = qcc_requant_q31(acc[l] + bias[l], m0[l], sh[l], zp, lo, hi);
            int32_t have = u8 ? got[l] : (int8_t)got[l];
            if (have != want && bad++ < 10)
                printf("saturating form: acc %ld m0 %ld shift %ld zp %ld [%ld,%ld]: %ld, scalar "
                       "%ld, not flagged\n", (long)(acc[l] + bias[l]), (long)m0[l], (long)sh[l],
                       (long)zp, (long)lo, (long)hi, (long)have, (long)want);
        }
    }
    return bad;
}

int main(void) {
    long bad = 0, vectors = 0, flagged = 0;
    for (int iter = 0; iter < 400000; iter++) {
        int32_t acc[16], bias[16], m0[16], sh[16], got[16];
        float kf[16];
        int32_t zp, lo, hi;
        rng_out_range(&zp, &lo, &hi);
        if (rng() % 8 == 0)
            hi = lo + (int32_t)(rng() % (uint32_t)(hi - lo + 1)); /* ReLU6-like */
        int common = rng() % 2; /* one multiplier for all lanes, as a per-tensor scale */
        for (int l = 0; l < 16; l++) {
            if (!common || l == 0) {
                m0[l] = (int32_t)((1u << 30) | (rng() >> 2));
                if (rng() % 8 == 0)
                    m0[l] = 1 << 30; /* powers of two: exact ties */
                sh[l] = (int32_t)(rng() % 40) - 31; /* the runtime's range is [-31, 30] */
            } else {
                m0[l] = m0[0];
                sh[l] = sh[0];
            }
            kf[l] = (float)ldexp((double)m0[l], sh[l] - 31);
            bias[l] = rng() % 4 ? 0 : (int32_t)(rng() % 2001) - 1000;
            acc[l] = pick_acc(ldexp((double)m0[l], sh[l] - 31), zp, lo, hi);
            acc[l] = (int32_t)((uint32_t)acc[l] - (uint32_t)bias[l]);
        }
        const qcc_rqc16 r = qcc_v16_rq_c(bias, kf, zp, lo, hi);
        __m512 tie = _mm512_setzero_ps();
        _mm512_storeu_si512(got, qcc_v16_rqc_apply(_mm512_loadu_si512(acc), &r, &tie));
        vectors++;
        if (qcc_v16_tied(tie, zp, lo, hi)) {
            flagged++;
            continue;
        }
        for (int l = 0; l < 16; l++) {
            int32_t a = (int32_t)((uint32_t)acc[l] + (uint32_t)bias[l]);
            int32_t want = qcc_requant_q31(a, m0[l], sh[l], zp, lo, hi);
            if (got[l] != want && bad++ < 10)
                printf("acc %ld m0 %ld shift %ld zp %ld [%ld,%ld]: checked float %ld, scalar "
                       "%ld, not flagged\n", (long)a, (long)m0[l], (long)sh[l], (long)zp,
                       (long)lo, (long)hi, (long)got[l], (long)want);
        }
    }
    printf("%ld of %ld vectors flagged near a tie (redone exactly by the kernels); %ld "
           "unflagged lanes differ from qcc_requant_q31\n", flagged, vectors, bad);
    long sv = 0, sf = 0, sbad = check_saturating(&sv, &sf);
    printf("saturating form: %ld of %ld 64-lane groups flagged; %ld unflagged lanes differ\n",
           sf, sv, sbad);
    bad += sbad;
    /* ordinary values must rarely need the redo: 6 of 8 lane kinds above aim at ties */
    return bad != 0;
}
#endif
