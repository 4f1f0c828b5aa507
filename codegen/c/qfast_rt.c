/* qfast_rt.c: the text every fast kernel shares, written once per model.c into CGen.helpers:
 * the ISA choice (QCC_FAST_VNNI), the vpdpbusd wrapper, 16-lane requantization that matches
 * qcc_requant_q31 / qcc_requant_f bit for bit, and writers of the per-node packed arrays.
 * The ISA-specific text is confined to fastk_runtime and fastk_vnni_*; the portable epilogue
 * calls the same runtime helpers as the naive kernels, so both paths agree by construction. */
#include "qfast_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Emitted once. Why each piece:
 * - QCC_FAST_VNNI needs VL too (16-byte masked stores), DQ (vreduceps/vrangeps of the
 *   checked requant; every VNNI CPU has both) and is off under QCC_NO_SIMD.
 * - gcc 12 turns _mm512_dpbusd_epi32 in an unrolled tile into extra register moves that
 *   halve throughput (measured 102 vs 233 GMAC/s); an asm statement with the accumulator
 *   as a "+v" operand keeps it in place. clang compiles the intrinsic well.
 * - gcc also re-loads a weight vector from memory before every use (it rematerialises the
 *   load instead of keeping it in a register), which makes the tile load-port bound
 *   (75% of peak); QCC_PIN, an empty asm that "modifies" the register, forbids that.
 * - the Q31 requant: per 64-bit lane, p = x*m0 rounded half to even at bit s = 31 - shift as
 *   (p + 2^(s-1) - 1 + bit_s(p)) >> s with arithmetic shifts: with f = floor(p / 2^s) this
 *   is f below the half, f + 1 above it and f + (f & 1) at it, i.e. qcc_mul_q31's rule (ties
 *   to the even quotient, symmetric in sign), so no abs/negate is needed; the result is
 *   clamped to [lo-zp, hi-zp] in 64 bits before zp is added, which equals the runtime's
 *   saturate, add, clamp because the bounds are integers. Fewer ops matter: small-K 1x1
 *   convs are epilogue-bound. */
static const char fast_rt_text[] =
    "/* fast kernels (issue 4): AVX-512 VNNI when the compiler targets it, else portable C\n"
    " * shaped for auto-vectorisation (-DQCC_NO_SIMD forces it). Same integers either way. */\n"
    "/* tiles stay out of line: inlined into the row loop, gcc 12 spills accumulators */\n"
    "#if defined(__GNUC__)\n"
    "#define QCC_TILE static __attribute__((noinline))\n"
    "#else\n"
    "#define QCC_TILE static\n"
    "#endif\n"
    "#if !defined(QCC_NO_SIMD) && defined(__AVX512VNNI__) && defined(__AVX512BW__) && \\\n"
    "    defined(__AVX512VL__) && defined(__AVX512DQ__)\n"
    "#define QCC_FAST_VNNI 1\n"
    "#include <immintrin.h>\n"
    "#if defined(__GNUC__) && !defined(__clang__)\n"
    "#define QCC_DPBUSD(acc, u, s) __asm__(\"vpdpbusd %2, %1, %0\" : \"+v\"(acc) : \"v\"(u), \"v\"(s))\n"
    "#define QCC_PIN(v) __asm__(\"\" : \"+v\"(v))\n"
    "#define QCC_UNLIKELY(c) __builtin_expect(!!(c), 0)\n"
    "#else\n"
    "#define QCC_DPBUSD(acc, u, s) ((acc) = _mm512_dpbusd_epi32((acc), (u), (s)))\n"
    "#define QCC_PIN(v) ((void)0)\n"
    "#define QCC_UNLIKELY(c) (c)\n"
    "#endif\n"
    "/* four bytes at p (any alignment) in every 32-bit lane */\n"
    "QCC_RT_INLINE __m512i qcc_v16_bcast4(const uint8_t *p) {\n"
    "    return _mm512_set1_epi32(_mm_cvtsi128_si32(_mm_loadu_si32(p)));\n"
    "}\n"
    ;
/* the prepared epilogue (qcc_rq16 and friends, see fastk_vnni_prep) */
static const char fast_rt_prep_q31[] =
    "/* Requantization constants of 16 channels, prepared once per block of a tile and reused\n"
    " * for each of its pixels (gcc cannot keep them across the byte stores, which may alias).\n"
    " * Q31 form: per 64-bit lane, p = acc*m0 rounded half to even at bit s = 31 - shift as\n"
    " * (p + 2^(s-1) - 1 + bit_s(p)) >> s, clamped to [lo-zp, hi-zp] in 64 bits. */\n"
    "typedef struct qcc_rq16 { __m512i b, m, mo, se, so, he, ho, lo, hi; } qcc_rq16;\n"
    "QCC_RT_INLINE qcc_rq16 qcc_v16_rq_q31(const int32_t *bias, const int32_t *m0,\n"
    "                                      const int32_t *sh, int32_t zp, int32_t lo, int32_t hi) {\n"
    "    const __m512i one = _mm512_set1_epi64(1);\n"
    "    const __m512i s = _mm512_sub_epi32(_mm512_set1_epi32(31), _mm512_loadu_si512(sh));\n"
    "    qcc_rq16 r;\n"
    "    r.b = _mm512_loadu_si512(bias);\n"
    "    r.m = _mm512_loadu_si512(m0);\n"
    "    r.mo = _mm512_srli_epi64(r.m, 32);\n"
    "    r.se = _mm512_and_si512(s, _mm512_set1_epi64(0xffffffff));\n"
    "    r.so = _mm512_srli_epi64(s, 32);\n"
    "    r.he = _mm512_sub_epi64(_mm512_sllv_epi64(one, _mm512_sub_epi64(r.se, one)), one);\n"
    "    r.ho = _mm512_sub_epi64(_mm512_sllv_epi64(one, _mm512_sub_epi64(r.so, one)), one);\n"
    "    r.lo = _mm512_set1_epi64((int64_t)lo - zp);\n"
    "    r.hi = _mm512_set1_epi64((int64_t)hi - zp);\n"
    "    return r;\n"
    "}\n"
    "QCC_RT_INLINE __m512i qcc_v8_rq_half(__m512i p, __m512i s, __m512i half, __m512i lo,\n"
    "                                     __m512i hi) {\n"
    "    __m512i odd = _mm512_and_si512(_mm512_srav_epi64(p, s), _mm512_set1_epi64(1));\n"
    "    __m512i q = _mm512_srav_epi64(_mm512_add_epi64(_mm512_add_epi64(p, half), odd), s);\n"
    "    return _mm512_min_epi64(_mm512_max_epi64(q, lo), hi);\n"
    "}\n"
    "QCC_RT_INLINE __m512i qcc_v16_rq_apply(__m512i acc, const qcc_rq16 *r, int32_t zp) {\n"
    "    acc = _mm512_add_epi32(acc, r->b);\n"
    "    __m512i re = qcc_v8_rq_half(_mm512_mul_epi32(acc, r->m), r->se, r->he, r->lo, r->hi);\n"
    "    __m512i ro = qcc_v8_rq_half(_mm512_mul_epi32(_mm512_srli_epi64(acc, 32), r->mo), r->so,\n"
    "                                r->ho, r->lo, r->hi);\n"
    "    __m512i v = _mm512_mask_blend_epi32(0xAAAA, re, _mm512_slli_epi64(ro, 32));\n"
    "    return _mm512_add_epi32(v, _mm512_set1_epi32(zp));\n"
    "}\n"
    ;
static const char fast_rt_prep_other[] =
    "/* Checked float form of the Q31 requant: y = acc*k + zp in float, k = m0 * 2^(shift-31)\n"
    " * rounded to float. Three roundings of relative size 2^-24 each put y within\n"
    " * E = 2^-23 * (3*R + 2*|zp| + 4), R = max(|lo|, |hi|), of the exact value wherever the\n"
    " * clamp to [lo, hi] does not decide the result, so rounding y half to even gives\n"
    " * qcc_requant_q31's integer on every lane whose y is further than E from a tie (x.5).\n"
    " * `tie` keeps the largest |y - rint(y)| of a tile; if qcc_v16_tied says a lane came\n"
    " * that close, the caller writes the tile again with the exact 64-bit form. */\n"
    "typedef struct qcc_rqc16 { __m512i b; __m512 k, zp, lo, hi; } qcc_rqc16;\n"
    "QCC_RT_INLINE qcc_rqc16 qcc_v16_rq_c(const int32_t *bias, const float *k, int32_t zp,\n"
    "                                     int32_t lo, int32_t hi) {\n"
    "    qcc_rqc16 r;\n"
    "    r.b = _mm512_loadu_si512(bias);\n"
    "    r.k = _mm512_loadu_ps(k);\n"
    "    r.zp = _mm512_set1_ps((float)zp);\n"
    "    r.lo = _mm512_set1_ps((float)lo);\n"
    "    r.hi = _mm512_set1_ps((float)hi);\n"
    "    return r;\n"
    "}\n"
    "QCC_RT_INLINE __m512i qcc_v16_rqc_y(__m512i acc, __m512 k, __m512 zp, __m512 lo, __m512 hi,\n"
    "                                    __m512 *tie) {\n"
    "    __m512 y = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), k, zp);\n"
    "    y = _mm512_min_ps(_mm512_max_ps(y, lo), hi);\n"
    "    /* vreduceps: y - rint(y); vrangeps 0xb: the larger magnitude, sign cleared */\n"
    "    *tie = _mm512_range_ps(*tie, _mm512_reduce_ps(y, 0), 0xb);\n"
    "    return _mm512_cvtps_epi32(y);\n"
    "}\n"
    "QCC_RT_INLINE __m512i qcc_v16_rqc_apply(__m512i acc, const qcc_rqc16 *r, __m512 *tie) {\n"
    "    return qcc_v16_rqc_y(_mm512_add_epi32(acc, r->b), r->k, r->zp, r->lo, r->hi, tie);\n"
    "}\n"
    "QCC_RT_INLINE int qcc_v16_tied(__m512 tie, int32_t zp, int32_t lo, int32_t hi) {\n"
    "    const int32_t r = (lo < 0 ? -lo : lo) > (hi < 0 ? -hi : hi) ? (lo < 0 ? -lo : lo)\n"
    "                                                                : (hi < 0 ? -hi : hi);\n"
    "    const float e = (float)(3 * r + 2 * (zp < 0 ? -zp : zp) + 4) * 0x1p-23f;\n"
    "#if defined(QCC_TEST_EXACT_REDO) /* tests: every checked store is written again exactly */\n"
    "    return (void)tie, (void)e, 1;\n"
    "#endif\n"
    "    return _mm512_cmp_ps_mask(tie, _mm512_set1_ps(0.5f - e), _CMP_GE_OQ) != 0;\n"
    "}\n"
    "/* float form: qcc_requant_f */\n"
    "typedef struct qcc_rqf16 { __m512i b; __m512 f, lo, hi; } qcc_rqf16;\n"
    "QCC_RT_INLINE qcc_rqf16 qcc_v16_rq_f(const int32_t *bias, const float *f, int32_t zp,\n"
    "                                     int32_t lo, int32_t hi) {\n"
    "    qcc_rqf16 r;\n"
    "    r.b = _mm512_loadu_si512(bias);\n"
    "    r.f = _mm512_loadu_ps(f);\n"
    "    r.lo = _mm512_set1_ps((float)(lo - zp));\n"
    "    r.hi = _mm512_set1_ps((float)(hi - zp));\n"
    "    return r;\n"
    "}\n"
    "QCC_RT_INLINE __m512i qcc_v16_rqf_apply(__m512i acc, const qcc_rqf16 *r, int32_t zp) {\n"
    "    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(acc, r->b)), r->f);\n"
    "    v = _mm512_min_ps(_mm512_max_ps(v, r->lo), r->hi);\n"
    "    return _mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(zp));\n"
    "}\n"
    "#endif\n\n";

/* The packed stores (fastk_vnni_put4) and the saturating checked form they allow. */
static const char fast_rt_pack[] =
    "#if defined(QCC_FAST_VNNI)\n"
    "/* The saturating form, for stores that narrow with saturation and clamp the bytes\n"
    " * (qcc_v64_u8/_s8): no float clamp. The caller knows |y| < 2^30 (cvtps2dq cannot overflow);\n"
    " * a lane beyond the output range may look tied and send its tile to the exact redo. */\n"
    "QCC_RT_INLINE __m512i qcc_v16_rqs_y(__m512i acc, __m512 k, __m512 zp, __m512 *tie) {\n"
    "    const __m512 y = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), k, zp);\n"
    "    *tie = _mm512_range_ps(*tie, _mm512_reduce_ps(y, 0), 0xb);\n"
    "    return _mm512_cvtps_epi32(y);\n"
    "}\n"
    "QCC_RT_INLINE __m512i qcc_v16_rqs_apply(__m512i acc, const qcc_rqc16 *r, __m512 *tie) {\n"
    "    return qcc_v16_rqs_y(_mm512_add_epi32(acc, r->b), r->k, r->zp, tie);\n"
    "}\n"
    "/* true if a lane of tie reached `near` = 0.5 - E (E from fastk_bound) */\n"
    "QCC_RT_INLINE int qcc_v16_near(__m512 tie, float near) {\n"
    "#if defined(QCC_TEST_EXACT_REDO) /* tests: every checked store is written again exactly */\n"
    "    return (void)tie, (void)near, 1;\n"
    "#endif\n"
    "    return _mm512_cmp_ps_mask(tie, _mm512_set1_ps(near), _CMP_GE_OQ) != 0;\n"
    "}\n"
    "/* Four requantized vectors (channels 0-15, 16-31, 32-47, 48-63; each lane already within\n"
    " * the output type) as the 64 output bytes in order: the saturating packs interleave them\n"
    " * per 128-bit lane, vpermd puts the dwords back. Four ops where four vpmovdb are eight. */\n"
    "QCC_RT_INLINE __m512i qcc_v64_order(__m512i v) {\n"
    "    return _mm512_permutexvar_epi32(\n"
    "        _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), v);\n"
    "}\n"
    "/* the packs alone: byte 16L + 4q + j comes from lane 4L + j of the q-th vector */\n"
    "QCC_RT_INLINE __m512i qcc_v64_pk_u8(__m512i a, __m512i b, __m512i c, __m512i d) {\n"
    "    return _mm512_packus_epi16(_mm512_packs_epi32(a, b), _mm512_packs_epi32(c, d));\n"
    "}\n"
    "QCC_RT_INLINE __m512i qcc_v64_pk_s8(__m512i a, __m512i b, __m512i c, __m512i d) {\n"
    "    return _mm512_packs_epi16(_mm512_packs_epi32(a, b), _mm512_packs_epi32(c, d));\n"
    "}\n"
    "QCC_RT_INLINE __m512i qcc_v64_u8(__m512i a, __m512i b, __m512i c, __m512i d) {\n"
    "    return qcc_v64_order(qcc_v64_pk_u8(a, b, c, d));\n"
    "}\n"
    "QCC_RT_INLINE __m512i qcc_v64_s8(__m512i a, __m512i b, __m512i c, __m512i d) {\n"
    "    return qcc_v64_order(qcc_v64_pk_s8(a, b, c, d));\n"
    "}\n"
    "/* the four 16-byte lanes of v to four places (pixels apart in a channels-last row) */\n"
    "QCC_RT_INLINE void qcc_v64_put4(void *p0, void *p1, void *p2, void *p3, __m512i v) {\n"
    "    _mm_storeu_si128((__m128i *)p0, _mm512_castsi512_si128(v));\n"
    "    _mm_storeu_si128((__m128i *)p1, _mm512_extracti32x4_epi32(v, 1));\n"
    "    _mm_storeu_si128((__m128i *)p2, _mm512_extracti32x4_epi32(v, 2));\n"
    "    _mm_storeu_si128((__m128i *)p3, _mm512_extracti32x4_epi32(v, 3));\n"
    "}\n"
    "/* qcc_v16_rq_q31 with one channel's multiplier in every lane and no bias */\n"
    "QCC_RT_INLINE qcc_rq16 qcc_v16_rq_q31_1(int32_t m0, int32_t sh, int32_t zp, int32_t lo,\n"
    "                                        int32_t hi) {\n"
    "    int32_t b[16], m[16], s[16];\n"
    "    for (int l = 0; l < 16; l++) {\n"
    "        b[l] = 0;\n"
    "        m[l] = m0;\n"
    "        s[l] = sh;\n"
    "    }\n"
    "    return qcc_v16_rq_q31(b, m, s, zp, lo, hi);\n"
    "}\n"
    "#endif\n\n";

void fastk_runtime(CGen *cg) {
    if (cg->fast_rt)
        return;
    cg->fast_rt = true;
    sb_puts(cg->helpers, fast_rt_text);
    sb_puts(cg->helpers, fast_rt_prep_q31);
    sb_puts(cg->helpers, fast_rt_prep_other);
    sb_puts(cg->helpers, fast_rt_pack);
}

void fastk_packed(CGen *cg, int idx, const char *what, const int8_t *simd, int64_t nsimd,
                  const int8_t *port, int64_t nport) {
    bool neon = cg->o->simd == CG_SIMD_NEON;
    sb_puts(cg->helpers, neon ? "#if defined(QCC_NEON)\n" : "#if defined(QCC_FAST_VNNI)\n");
    cg_byte_array(cg->helpers, cg_fmt(cg, "n%d_%sv", idx, what), simd, nsimd, true);
    sb_puts(cg->helpers, "#else\n");
    cg_byte_array(cg->helpers, cg_fmt(cg, "n%d_%sp", idx, what), port, nport, true);
    sb_puts(cg->helpers, "#endif\n");
}

bool fastk_checked_k(double k) {
    float f = (float)k;
    return f == 0.0f || (fabsf(f) >= 0x1p-100f && fabsf(f) <= 0x1p60f);
}

/* The multiplier of lane c: channel c's, and for the lanes past the channels that
 * fastk_quant's mirror fills, the channel 8 lanes before. */
static int lane_mult(const Multiplier *m, int c, int channels) {
    return m->n == 1 ? 0 : c < channels ? c : c - 8;
}

/* n<idx>_fk, the checked float form's k = m0 * 2^(shift-31) per lane as floats (0 in the
 * padding lanes, whose y is then zp, unless mirrored). False, and nothing written, if some k
 * fails fastk_checked_k. */
static bool emit_float_k(CGen *cg, const Node *n, FastQuant *fq, bool mirror) {
    const Multiplier *m = &n->q.mul[0];
    float *k = arena_calloc(cg->g->arena, (size_t)fq->lanes, sizeof(float));
    for (int c = 0; c < fq->channels + (mirror ? 8 : 0); c++) {
        int mi = lane_mult(m, c, fq->channels);
        double kd = ldexp((double)m->m0[mi], m->shift[mi] - 31);
        if (!fastk_checked_k(kd))
            return false;
        k[c] = (float)kd;
    }
    int idx = (int)(n - cg->g->nodes);
    fq->kf = cg_fmt(cg, "n%d_fk", idx);
    sb_printf(cg->helpers, "#if defined(QCC_FAST_VNNI)\n/* node %d: m0 * 2^(shift-31) per "
              "channel as floats, for the checked float requant */\n", idx);
    sb_printf(cg->helpers, "static const float %s[%d] QCC_ALIGN = {", fq->kf, fq->lanes);
    for (int c = 0; c < fq->lanes; c++)
        sb_printf(cg->helpers, "%s%a%s", c % 4 == 0 ? "\n    " : " ", (double)k[c],
                  c + 1 < fq->lanes ? "," : "");
    sb_puts(cg->helpers, "\n};\n#endif\n");
    return true;
}

void fastk_quant(CGen *cg, const Node *n, int lanes, int channels, bool mirror,
                 FastQuant *fq) {
    const Multiplier *m = &n->q.mul[0];
    int idx = (int)(n - cg->g->nodes);
    QCC_ASSERT(m->n == 1 || m->n == channels);
    QCC_ASSERT(!mirror || (channels % 16 == 8 && channels + 8 == lanes));
    /* lane c holds channel c; with mirror, lanes past the channels repeat the 8 before */
    int used = channels + (mirror ? 8 : 0);
    memset(fq, 0, sizeof *fq);
    fq->lanes = lanes;
    fq->channels = channels;
    const Tensor *y = cg_tout(cg, n, 0);
    fq->zy = cg_i32(cg, cg_zp(y));
    fq->lo = cg_i32(cg, n->q.act_min);
    fq->hi = cg_i32(cg, n->q.act_max);
    fq->yt = dtype_ctype(y->dtype);
    if (cg->o->requant == REQUANT_FLOAT) {
        fq->f = cg_fmt(cg, "n%d_ff", idx);
        sb_printf(cg->helpers, "static const float %s[%d] QCC_ALIGN = {", fq->f, lanes);
        for (int c = 0; c < lanes; c++) {
            sb_puts(cg->helpers, c % 8 == 0 ? "\n    " : " ");
            sb_float(cg->helpers, c < used ? m->f[lane_mult(m, c, channels)] : 0.0f);
            sb_puts(cg->helpers, c + 1 < lanes ? "," : "");
        }
        sb_puts(cg->helpers, "\n};\n");
        return;
    }
    /* the Q31 arrays serve the portable path, NEON, and the exact redo of the VNNI tiles */
    int32_t *m0 = arena_calloc(cg->g->arena, (size_t)lanes, sizeof(int32_t));
    int32_t *sh = arena_calloc(cg->g->arena, (size_t)lanes, sizeof(int32_t));
    for (int c = 0; c < used; c++) {
        int mi = lane_mult(m, c, channels);
        m0[c] = m->m0[mi];
        sh[c] = m->shift[mi];
    }
    fq->m0 = cg_fmt(cg, "n%d_fm0", idx);
    fq->sh = cg_fmt(cg, "n%d_fsh", idx);
    cg_i32_array(cg, cg->helpers, fq->m0, m0, lanes);
    cg_i32_array(cg, cg->helpers, fq->sh, sh, lanes);
    if (cg->o->simd != CG_SIMD_NEON && emit_float_k(cg, n, fq, mirror)) {
        fq->near = fastk_near_general(n->q.act_min, n->q.act_max, cg_zp(y));
    }
}

/* When every sum acc + c3 is below 2^24 in magnitude, cvtepi32_ps is exact and y = acc*k + zp
 * has two roundings: k to float (relative 2^-24, i.e. at most (|y| + |zp|) * 2^-24 on y) and
 * the fma's (|y| * 2^-24), so E = (2R + |zp| + 4) * 2^-24 with R = max(|lo|, |hi|) + 1: about
 * a third of the general bound, and as many fewer tiles redone exactly (8 of 121 us in a
 * K = 24 pointwise conv). R + 1 covers the saturating form, whose lanes within half a step
 * of [lo, hi] meet the bound and whose lanes beyond saturate whichever way they round. */
void fastk_bound(CGen *cg, const Node *n, int64_t k, FastQuant *fq) {
    if (!fq->kf)
        return;
    int64_t c3max = 0;
    for (int i = 0; i < n->q.nbias; i++)
        c3max = llabs((int64_t)n->q.c3[i]) > c3max ? llabs((int64_t)n->q.c3[i]) : c3max;
    /* per product: |u8 x s8| <= 2^15, the weight zero point's zw * u < 2^16 and the int8
     * input's 128 * w in c3p <= 2^14, so 2^17 bounds every term */
    double acc = (double)k * 131072.0 + (double)c3max;
    if (acc >= 0x1p24)
        return;
    const Multiplier *m = &n->q.mul[0];
    double kmax = 0.0;
    for (int c = 0; c < m->n; c++) {
        double kd = fabs(ldexp((double)m->m0[c], m->shift[c] - 31));
        kmax = kd > kmax ? kd : kmax;
    }
    int32_t zp = cg_zp(cg_tout(cg, n, 0));
    fq->near = fastk_near_exact(n->q.act_min, n->q.act_max, zp);
    fq->sat = acc * kmax * 1.001 + abs(zp) < 0x1p30; /* 1.001: k rounded to float */
}

float fastk_near_general(int32_t lo, int32_t hi, int32_t zp) {
    int32_t r = abs(lo) > abs(hi) ? abs(lo) : abs(hi);
    return 0.5f - (float)(3 * r + 2 * abs(zp) + 4) * 0x1p-23f;
}

float fastk_near_exact(int32_t lo, int32_t hi, int32_t zp) {
    int32_t r = (abs(lo) > abs(hi) ? abs(lo) : abs(hi)) + 1;
    return 0.5f - (float)(2 * r + abs(zp) + 4) * 0x1p-24f;
}

const char *fastk_byte_clamp(CGen *cg, const char *v, bool u8, int lo, int hi, bool named) {
    const char *t = u8 ? "u" : "i";
    if (lo > (u8 ? 0 : -128))
        v = named ? cg_fmt(cg, "_mm512_max_ep%s8(%s, lo8)", t, v)
                  : cg_fmt(cg, "_mm512_max_ep%s8(%s, _mm512_set1_epi8(%d))", t, v,
                           u8 ? (int)(int8_t)(uint8_t)lo : lo);
    if (hi < (u8 ? 255 : 127))
        v = named ? cg_fmt(cg, "_mm512_min_ep%s8(%s, hi8)", t, v)
                  : cg_fmt(cg, "_mm512_min_ep%s8(%s, _mm512_set1_epi8(%d))", t, v,
                           u8 ? (int)(int8_t)(uint8_t)hi : hi);
    return v;
}

void fastk_byte_consts(CGen *cg, int ind, bool u8, int lo, int hi) {
    if (lo > (u8 ? 0 : -128))
        cg_line(cg, ind, "const __m512i lo8 = _mm512_set1_epi8(%d); /* %d */",
                u8 ? (int)(int8_t)(uint8_t)lo : lo, lo);
    if (hi < (u8 ? 255 : 127))
        cg_line(cg, ind, "const __m512i hi8 = _mm512_set1_epi8(%d); /* %d */",
                u8 ? (int)(int8_t)(uint8_t)hi : hi, hi);
}

void fastk_vnni_prep(CGen *cg, int ind, const FastQuant *fq, const char *name,
                     const char *bias, const char *oc, bool in_acc) {
    const char *c = in_acc ? "" : "const ";
    if (fq->f)
        cg_line(cg, ind, "%sqcc_rqf16 %s = qcc_v16_rq_f(%s + %s, %s + %s, %s, %s, %s);", c, name,
                bias, oc, fq->f, oc, fq->zy, fq->lo, fq->hi);
    else if (fq->kf)
        cg_line(cg, ind, "%sqcc_rqc16 %s = qcc_v16_rq_c(%s + %s, %s + %s, %s, %s, %s);", c, name,
                bias, oc, fq->kf, oc, fq->zy, fq->lo, fq->hi);
    else
        cg_line(cg, ind, "%sqcc_rq16 %s = qcc_v16_rq_q31(%s + %s, %s + %s, %s + %s, %s, %s, "
                "%s);", c, name, bias, oc, fq->m0, oc, fq->sh, oc, fq->zy, fq->lo, fq->hi);
    if (in_acc)
        cg_line(cg, ind, "%s.b = _mm512_setzero_si512(); /* the sums started at the bias */",
                name);
}

void fastk_vnni_put(CGen *cg, int ind, const FastQuant *fq, const char *name, const char *acc,
                    const char *dst, int valid) {
    const char *r;
    if (fq->kf)
        r = cg_fmt(cg, "_mm512_cvtepi32_epi8(qcc_v16_rqc_apply(%s, &%s, &tie))", acc, name);
    else
        r = cg_fmt(cg, "_mm512_cvtepi32_epi8(%s(%s, &%s, %s))",
                   fq->f ? "qcc_v16_rqf_apply" : "qcc_v16_rq_apply", acc, name, fq->zy);
    if (valid >= 16)
        cg_line(cg, ind, "_mm_storeu_si128((__m128i *)(void *)(%s), %s);", dst, r);
    else
        cg_line(cg, ind, "_mm_mask_storeu_epi8(%s, (__mmask16)0x%x, %s);", dst,
                (1u << valid) - 1u, r);
}

const char *fastk_vnni_requant(CGen *cg, const FastQuant *fq, const char *name, const char *acc) {
    if (fq->kf)
        return cg_fmt(cg, "qcc_v16_%s_apply(%s, &%s, &tie)", fq->sat ? "rqs" : "rqc", acc, name);
    return cg_fmt(cg, "%s(%s, &%s, %s)", fq->f ? "qcc_v16_rqf_apply" : "qcc_v16_rq_apply", acc,
                  name, fq->zy);
}

void fastk_vnni_put4(CGen *cg, int ind, const FastQuant *fq, const char *const names[4],
                     const char *const accs[4], const char *const *dst, int runs, int valid) {
    const char *pack = strcmp(fq->yt, "uint8_t") == 0 ? "qcc_v64_u8" : "qcc_v64_s8";
    int col = ind * 4 + (int)strlen("v = ") + (int)strlen(pack) + 1;
    cg_line(cg, ind, "v = %s(%s, %s,", pack, fastk_vnni_requant(cg, fq, names[0], accs[0]),
            fastk_vnni_requant(cg, fq, names[1], accs[1]));
    cg_line(cg, 0, "%*s%s, %s);", col, "", fastk_vnni_requant(cg, fq, names[2], accs[2]),
            fastk_vnni_requant(cg, fq, names[3], accs[3]));
    const char *v = "v";
    if (fq->sat && fq->kf) /* the packs saturate to the type; lo and hi on the bytes */
        v = fastk_byte_clamp(cg, v, strcmp(fq->yt, "uint8_t") == 0, atoi(fq->lo), atoi(fq->hi),
                             true);
    if (runs == 4 && valid >= 16) {
        cg_line(cg, ind, "qcc_v64_put4(%s, %s, %s, %s, %s);", dst[0], dst[1], dst[2], dst[3], v);
        return;
    }
    if (runs > 1 && strcmp(v, "v") != 0) {
        cg_line(cg, ind, "v = %s;", v);
        v = "v";
    }
    int len = 64 / runs, bits = 8 * len; /* bytes and bits of a piece */
    const char *pfx = bits == 128 ? "_mm" : cg_fmt(cg, "_mm%d", bits);
    for (int r = 0; r < runs; r++) {
        const char *part = runs == 1 ? v
                           : runs == 2 ? (r ? "_mm512_extracti64x4_epi64(v, 1)"
                                            : "_mm512_castsi512_si256(v)")
                           : r ? cg_fmt(cg, "_mm512_extracti32x4_epi32(v, %d)", r)
                               : "_mm512_castsi512_si128(v)";
        if (valid >= len)
            cg_line(cg, ind, "%s_storeu_si%d((__m%di *)(void *)(%s), %s);", pfx, bits, bits,
                    dst[r], part);
        else
            cg_line(cg, ind, "%s_mask_storeu_epi8(%s, (__mmask%d)0x%llxULL, %s);", pfx, dst[r],
                    len, (unsigned long long)((1ULL << valid) - 1ULL), part);
    }
}

void fastk_vnni_put4_begin(CGen *cg, int ind, const FastQuant *fq) {
    cg_line(cg, ind, "__m512i v;");
    if (fq->sat && fq->kf)
        fastk_byte_consts(cg, ind, strcmp(fq->yt, "uint8_t") == 0, atoi(fq->lo), atoi(fq->hi));
}

bool fastk_vnni_checked_begin(CGen *cg, int ind, const FastQuant *fq) {
    if (!fq->kf)
        return false;
    cg_line(cg, ind, "__m512 tie = _mm512_setzero_ps(); /* max |y - rint(y)| (qcc_v16_rq_c) */");
    return true;
}

void fastk_vnni_checked_redo(CGen *cg, int ind, const FastQuant *fq, FastQuant *exact) {
    QCC_ASSERT(fq->kf);
    cg_line(cg, ind, "if (QCC_UNLIKELY(qcc_v16_near(tie, %af))) { /* near a tie: all again, "
            "exactly */", (double)fq->near);
    *exact = *fq;
    exact->kf = NULL;
}

void fastk_vnni_store16(CGen *cg, int ind, const FastQuant *fq, const char *acc,
                        const char *bias, const char *oc, const char *dst, int valid) {
    cg_line(cg, ind, "{");
    fastk_vnni_prep(cg, ind + 1, fq, "rq", bias, oc, false);
    fastk_vnni_put(cg, ind + 1, fq, "rq", acc, dst, valid);
    cg_line(cg, ind, "}");
}

void fastk_scalar_store(CGen *cg, int ind, const FastQuant *fq, const char *acc,
                        const char *bias, const char *oc, const char *dst) {
    const char *v = cg_fmt(cg, "%s + %s[%s]", acc, bias, oc);
    if (fq->f)
        cg_line(cg, ind, "%s = (%s)qcc_requant_f(%s, %s[%s], %s, %s, %s);", dst, fq->yt, v, fq->f,
                oc, fq->zy, fq->lo, fq->hi);
    else
        cg_line(cg, ind, "%s = (%s)qcc_requant_q31(%s, %s[%s], %s[%s], %s, %s, %s);", dst, fq->yt,
                v, fq->m0, oc, fq->sh, oc, fq->zy, fq->lo, fq->hi);
}
