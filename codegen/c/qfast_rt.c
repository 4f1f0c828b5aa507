/* qfast_rt.c: the text every fast kernel shares, written once per model.c into CGen.helpers:
 * the ISA choice (QCC_FAST_VNNI), the vpdpbusd wrapper, 16-lane requantization that matches
 * qcc_requant_q31 / qcc_requant_f bit for bit, and writers of the per-node packed arrays.
 * The ISA-specific text is confined to fastk_runtime and fastk_vnni_*; the portable epilogue
 * calls the same runtime helpers as the naive kernels, so both paths agree by construction. */
#include "qfast_int.h"

#include <math.h>
#include <string.h>

/* Emitted once. Why each piece:
 * - QCC_FAST_VNNI needs VL too (16-byte masked stores) and is off under QCC_NO_SIMD.
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
    "    defined(__AVX512VL__)\n"
    "#define QCC_FAST_VNNI 1\n"
    "#include <immintrin.h>\n"
    "#if defined(__GNUC__) && !defined(__clang__)\n"
    "#define QCC_DPBUSD(acc, u, s) __asm__(\"vpdpbusd %2, %1, %0\" : \"+v\"(acc) : \"v\"(u), \"v\"(s))\n"
    "#define QCC_PIN(v) __asm__(\"\" : \"+v\"(v))\n"
    "#else\n"
    "#define QCC_DPBUSD(acc, u, s) ((acc) = _mm512_dpbusd_epi32((acc), (u), (s)))\n"
    "#define QCC_PIN(v) ((void)0)\n"
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
    "/* Double form of the Q31 requant, for nodes whose |acc * m0| < 2^53 is proven at compile\n"
    " * time: k = m0 * 2^(shift-31) and acc * k are exact doubles, and the conversion rounds half\n"
    " * to even (MXCSR default), qcc_mul_q31's one rounding. Fewer instructions than 64-bit. */\n"
    "typedef struct qcc_rqd16 { __m512i b; __m512d k0, k1, lo, hi; } qcc_rqd16;\n"
    "QCC_RT_INLINE qcc_rqd16 qcc_v16_rq_d(const int32_t *bias, const double *k, int32_t zp,\n"
    "                                     int32_t lo, int32_t hi) {\n"
    "    qcc_rqd16 r;\n"
    "    r.b = _mm512_loadu_si512(bias);\n"
    "    r.k0 = _mm512_loadu_pd(k);\n"
    "    r.k1 = _mm512_loadu_pd(k + 8);\n"
    "    r.lo = _mm512_set1_pd((double)lo - zp);\n"
    "    r.hi = _mm512_set1_pd((double)hi - zp);\n"
    "    return r;\n"
    "}\n"
    "QCC_RT_INLINE __m512i qcc_v16_rqd_apply(__m512i acc, const qcc_rqd16 *r, int32_t zp) {\n"
    "    acc = _mm512_add_epi32(acc, r->b);\n"
    "    __m512d a = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(acc)), r->k0);\n"
    "    __m512d b = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(acc, 1)), r->k1);\n"
    "    a = _mm512_min_pd(_mm512_max_pd(a, r->lo), r->hi);\n"
    "    b = _mm512_min_pd(_mm512_max_pd(b, r->lo), r->hi);\n"
    "    __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtpd_epi32(a)),\n"
    "                                   _mm512_cvtpd_epi32(b), 1);\n"
    "    return _mm512_add_epi32(q, _mm512_set1_epi32(zp));\n"
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

void fastk_runtime(CGen *cg) {
    if (cg->fast_rt)
        return;
    cg->fast_rt = true;
    sb_puts(cg->helpers, fast_rt_text);
    sb_puts(cg->helpers, fast_rt_prep_q31);
    sb_puts(cg->helpers, fast_rt_prep_other);
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

void fastk_quant(CGen *cg, const Node *n, int lanes, int channels, FastQuant *fq) {
    fastk_quant_acc(cg, n, lanes, channels, NULL, fq);
}

/* True when every channel's |acc| <= accmax[c] keeps |acc * m0| below 2^53. */
static bool double_exact(const Multiplier *m, int channels, const int64_t *accmax) {
    for (int c = 0; c < channels; c++) {
        int32_t m0 = m->m0[m->n == 1 ? 0 : c];
        if ((double)accmax[c] * (double)(m0 < 0 ? -(int64_t)m0 : m0) >= 9007199254740992.0)
            return false; /* 2^53: the double form would round */
    }
    return true;
}

static void emit_double_k(CGen *cg, const Node *n, FastQuant *fq) {
    const Multiplier *m = &n->q.mul[0];
    int idx = (int)(n - cg->g->nodes);
    fq->k = cg_fmt(cg, "n%d_fk", idx);
    sb_printf(cg->helpers, "/* node %d: m0 * 2^(shift-31) per channel, exact doubles (|acc| <= "
              "bound, |acc * m0| < 2^53) */\n", idx);
    sb_printf(cg->helpers, "static const double %s[%d] QCC_ALIGN = {", fq->k, fq->lanes);
    for (int c = 0; c < fq->lanes; c++) {
        double k = 0.0;
        if (c < fq->channels) {
            int mi = m->n == 1 ? 0 : c;
            k = ldexp((double)m->m0[mi], m->shift[mi] - 31);
        }
        sb_printf(cg->helpers, "%s%a%s", c % 4 == 0 ? "\n    " : " ", k,
                  c + 1 < fq->lanes ? "," : "");
    }
    sb_puts(cg->helpers, "\n};\n");
}

void fastk_quant_acc(CGen *cg, const Node *n, int lanes, int channels, const int64_t *accmax,
                     FastQuant *fq) {
    const Multiplier *m = &n->q.mul[0];
    int idx = (int)(n - cg->g->nodes);
    QCC_ASSERT(m->n == 1 || m->n == channels);
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
            sb_float(cg->helpers, c < channels ? m->f[m->n == 1 ? 0 : c] : 0.0f);
            sb_puts(cg->helpers, c + 1 < lanes ? "," : "");
        }
        sb_puts(cg->helpers, "\n};\n");
        return;
    }
    /* x86: VNNI builds requantize through exact doubles when the bound allows; the Q31
     * arrays then serve only the portable path */
    bool dbl = accmax && cg->o->simd != CG_SIMD_NEON && double_exact(m, channels, accmax);
    if (dbl) {
        sb_puts(cg->helpers, "#if defined(QCC_FAST_VNNI)\n");
        emit_double_k(cg, n, fq);
        sb_puts(cg->helpers, "#else\n");
    }
    int32_t *m0 = arena_calloc(cg->g->arena, (size_t)lanes, sizeof(int32_t));
    int32_t *sh = arena_calloc(cg->g->arena, (size_t)lanes, sizeof(int32_t));
    for (int c = 0; c < channels; c++) {
        m0[c] = m->m0[m->n == 1 ? 0 : c];
        sh[c] = m->shift[m->n == 1 ? 0 : c];
    }
    fq->m0 = cg_fmt(cg, "n%d_fm0", idx);
    fq->sh = cg_fmt(cg, "n%d_fsh", idx);
    cg_i32_array(cg, cg->helpers, fq->m0, m0, lanes);
    cg_i32_array(cg, cg->helpers, fq->sh, sh, lanes);
    if (dbl)
        sb_puts(cg->helpers, "#endif\n");
}

void fastk_vnni_prep(CGen *cg, int ind, const FastQuant *fq, const char *name,
                     const char *bias, const char *oc) {
    if (fq->f)
        cg_line(cg, ind, "const qcc_rqf16 %s = qcc_v16_rq_f(%s + %s, %s + %s, %s, %s, %s);", name,
                bias, oc, fq->f, oc, fq->zy, fq->lo, fq->hi);
    else if (fq->k)
        cg_line(cg, ind, "const qcc_rqd16 %s = qcc_v16_rq_d(%s + %s, %s + %s, %s, %s, %s);", name,
                bias, oc, fq->k, oc, fq->zy, fq->lo, fq->hi);
    else
        cg_line(cg, ind, "const qcc_rq16 %s = qcc_v16_rq_q31(%s + %s, %s + %s, %s + %s, %s, %s, "
                "%s);", name, bias, oc, fq->m0, oc, fq->sh, oc, fq->zy, fq->lo, fq->hi);
}

void fastk_vnni_put(CGen *cg, int ind, const FastQuant *fq, const char *name, const char *acc,
                    const char *dst, int valid) {
    const char *fn = fq->f ? "qcc_v16_rqf_apply" : fq->k ? "qcc_v16_rqd_apply" : "qcc_v16_rq_apply";
    const char *r = cg_fmt(cg, "_mm512_cvtepi32_epi8(%s(%s, &%s, %s))", fn, acc, name, fq->zy);
    if (valid >= 16)
        cg_line(cg, ind, "_mm_storeu_si128((__m128i *)(void *)(%s), %s);", dst, r);
    else
        cg_line(cg, ind, "_mm_mask_storeu_epi8(%s, (__mmask16)0x%x, %s);", dst,
                (1u << valid) - 1u, r);
}

void fastk_vnni_store16(CGen *cg, int ind, const FastQuant *fq, const char *acc,
                        const char *bias, const char *oc, const char *dst, int valid) {
    cg_line(cg, ind, "{");
    fastk_vnni_prep(cg, ind + 1, fq, "rq", bias, oc);
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
