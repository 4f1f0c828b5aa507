/* qeltwise_fast.c: vectorised quantized ADD / SUB / MUL of the C backend (issue 4): AVX-512,
 * AVX2 and a portable block loop shaped for auto-vectorisation, for operands of the output's
 * size or of one element (any layout: the loop is flat). qkernels_eltwise.c calls
 * cg_qeltwise_fast first; it returns false WITHOUT a diagnostic for other forms (numpy
 * broadcasts, per-axis parameters, tiny tensors), which keep the scalar loop.
 * It must not change a single output integer: the scalar helpers of qcc_rt.h are the contract.
 *
 * --requant=float is ONNX Runtime's formula itself (v = fma(a, rA, fma(b, rB, fixed)), clamp,
 * round half to even; Mul: (float)acc * f): the vector paths do the same float operations in
 * the same order, so they are exact by construction (rounding before the clamp is the same
 * as after it: the bounds are integers).
 *
 * --requant=fixed (TFLite arithmetic, 64-bit products): three 64-bit requantizations per
 * element would dominate. The vector paths ESTIMATE the contract's value in float instead and
 * prove each lane: with t the exact value the contract rounds and v the float estimate,
 * |v - t| <= W (below). A lane whose v is farther than W from every rounding tie rounds like
 * t; the others (about 0.5% of the lanes on our models, all exact ties included) are
 * recomputed by the scalar form n<i>_ew1, which calls the qcc_rt.h helpers. So the integers
 * never differ between paths; only the speed does.
 * Bound W for Add/Sub: the contract rounds xa = round(a'*alpha) and xb once each (together
 * <= 1 in the common scale, times M, the output multiplier, in output steps), and the float
 * estimate a*fa + (b*fb + fc) with fa = fl(alpha*M) etc. makes at most 3 coefficient and 4
 * operation roundings of relative size 2^-24 on terms bounded by A = max|a|*|fa|, B, |fc|:
 * W = M + 2^-21 * (A + B + |fc| + 1) covers 2^-24 * (3A + 4B + 3|fc|) with room. Mul: acc =
 * (a-za)(b-zb) is exact in float (|acc| <= 2^16), then one multiply by fl(M):
 * W = 2^-21 * (max|acc| * |fm| + 1). The estimate is used only when W <= 1/8. */
#include "cgen.h"
#include "runtime_min/qcc_rt.h"

#include <math.h>
#include <string.h>

bool cg_qeltwise_fast(CGen *cg, const Node *n); /* called by qkernels_eltwise.c */

/* Smallest output worth the vector form; below it the scalar loop is as fast. */
enum { EW_MIN_COUNT = 64 };

typedef struct EwPlan {
    int idx;                    /* node index: names n<idx>_ew, n<idx>_ew1, n<idx>_ta */
    bool mul;                   /* MUL (else ADD/SUB) */
    bool flt;                   /* --requant=float: exact float form, nothing to check */
    bool bscalar;               /* operand v1 is one element (read at [0]) */
    int in0, in1;               /* node input of operand v0 (always full size) and v1 */
    long long count;            /* output elements */
    float c0, c1, cz;           /* Add: v = v0*c0 + (v1*c1 + cz); Mul: v = (v0-z0)(v1-z1)*c0 */
    int32_t z0, z1;             /* Mul: zero points of v0, v1 */
    int32_t vlo, vhi;           /* clamp of v before rounding (portable path) */
    int32_t zoff;               /* added after rounding (Mul: zy; Add: 0, zy is in cz) */
    float thr;                  /* fixed, portable: a lane with |v - round(v)| >= thr is near
                                 * a tie */
    int kbits;                  /* fixed, SIMD: v rounded to kbits fraction bits (magic) */
    float magic;                /* 1.5 * 2^(23-kbits): v + magic holds round(v * 2^kbits) */
    int32_t kadd, tmask, radd;  /* qcc_ew*_fix's tie test and rounding constants */
} EwPlan;

/* Written once per model.c. The AVX-512 path needs F+BW; the AVX2 one also FMA (-mavx2 alone
 * does not imply it). Constants are passed by value, so each node's call sites fold them.
 * qcc_ew*_fix: the fixed mode's rounding and tie test in integers (ew_plan_magic proves it);
 * qcc_ew*_flt: the float mode's rounding (MXCSR default: half to even, as qcc_rint);
 * qcc_ew*_pack: four registers of int32 lanes to bytes with saturation, the clamp to the type
 * (vpmovdb to memory is slow on Zen 4, so never that). Split in pieces: ISO C caps a string
 * literal at 4095 characters. */
static const char *const ew_rt_text[] = {
    "/* element-wise kernels (issue 4): AVX-512 / AVX2 when the compiler targets them, else\n"
    " * portable C; -DQCC_NO_SIMD forces the latter. Same integers on every path. */\n"
    "#if !defined(QCC_NO_SIMD) && ((defined(__AVX512F__) && defined(__AVX512BW__)) || \\\n"
    "                              (defined(__AVX2__) && defined(__FMA__)))\n"
    "#include <immintrin.h>\n"
    "#if defined(__GNUC__)\n"
    "#define QCC_CTZ(m) __builtin_ctz(m)\n"
    "#define QCC_EW_RARE(c) __builtin_expect(!!(c), 0)\n"
    "#else\n"
    "#define QCC_EW_RARE(c) (c)\n"
    "QCC_RT_INLINE int qcc_ctz(unsigned m) {\n"
    "    int l = 0;\n"
    "    for (; !(m & 1u); m >>= 1)\n"
    "        l++;\n"
    "    return l;\n"
    "}\n"
    "#define QCC_CTZ(m) qcc_ctz(m)\n"
    "#endif\n"
    "#endif\n",
    "#if !defined(QCC_NO_SIMD) && defined(__AVX512F__) && defined(__AVX512BW__)\n"
    "#define QCC_EW_AVX512 1\n"
    "QCC_RT_INLINE __m512i qcc_ew16i_u8(const uint8_t *p) {\n"
    "    return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));\n"
    "}\n"
    "QCC_RT_INLINE __m512i qcc_ew16i_s8(const int8_t *p) {\n"
    "    return _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));\n"
    "}\n"
    "QCC_RT_INLINE __m512i qcc_ew16_flt(__m512 v, int32_t zoff) {\n"
    "    return _mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(zoff));\n"
    "}\n"
    "QCC_RT_INLINE __m512i qcc_ew16_fix(__m512 v, __m512 magic, __m512i kadd, __m512i tmask,\n"
    "                                   __m512i radd, int kbits, unsigned *amb) {\n"
    "    const __m512i x = _mm512_castps_si512(_mm512_add_ps(v, magic));\n"
    "    *amb = _mm512_testn_epi32_mask(_mm512_add_epi32(x, kadd), tmask);\n"
    "    return _mm512_sra_epi32(_mm512_add_epi32(x, radd), _mm_cvtsi32_si128(kbits));\n"
    "}\n"
    "/* the packs work per 128-bit lane; the permute restores element order */\n"
    "QCC_RT_INLINE __m512i qcc_ew64_pack(__m512i r0, __m512i r1, __m512i r2, __m512i r3,\n"
    "                                    int sgn) {\n"
    "    const __m512i w01 = _mm512_packs_epi32(r0, r1), w23 = _mm512_packs_epi32(r2, r3);\n"
    "    const __m512i b = sgn ? _mm512_packs_epi16(w01, w23) : _mm512_packus_epi16(w01, w23);\n"
    "    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7,\n"
    "                                            11, 15);\n"
    "    return _mm512_permutexvar_epi32(order, b);\n"
    "}\n",
    "#elif !defined(QCC_NO_SIMD) && defined(__AVX2__) && defined(__FMA__)\n"
    "#define QCC_EW_AVX2 1\n"
    "QCC_RT_INLINE __m256i qcc_ew8i_u8(const uint8_t *p) {\n"
    "    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p));\n"
    "}\n"
    "QCC_RT_INLINE __m256i qcc_ew8i_s8(const int8_t *p) {\n"
    "    return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p));\n"
    "}\n"
    "QCC_RT_INLINE __m256i qcc_ew8_flt(__m256 v, int32_t zoff) {\n"
    "    return _mm256_add_epi32(_mm256_cvtps_epi32(v), _mm256_set1_epi32(zoff));\n"
    "}\n"
    "QCC_RT_INLINE __m256i qcc_ew8_fix(__m256 v, __m256 magic, __m256i kadd, __m256i tmask,\n"
    "                                  __m256i radd, int kbits, unsigned *amb) {\n"
    "    const __m256i x = _mm256_castps_si256(_mm256_add_ps(v, magic));\n"
    "    const __m256i t = _mm256_and_si256(_mm256_add_epi32(x, kadd), tmask);\n"
    "    *amb = (unsigned)_mm256_movemask_ps(\n"
    "        _mm256_castsi256_ps(_mm256_cmpeq_epi32(t, _mm256_setzero_si256())));\n"
    "    return _mm256_sra_epi32(_mm256_add_epi32(x, radd), _mm_cvtsi32_si128(kbits));\n"
    "}\n"
    "QCC_RT_INLINE __m256i qcc_ew32_pack(__m256i r0, __m256i r1, __m256i r2, __m256i r3,\n"
    "                                    int sgn) {\n"
    "    const __m256i w01 = _mm256_packs_epi32(r0, r1), w23 = _mm256_packs_epi32(r2, r3);\n"
    "    const __m256i b = sgn ? _mm256_packs_epi16(w01, w23) : _mm256_packus_epi16(w01, w23);\n"
    "    return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));\n"
    "}\n"
    "#endif\n\n",
};

#define EW_MARK "#define QCC_EW_AVX512 1"

static void ew_runtime(CGen *cg) {
    if (cg->helpers->data && strstr(cg->helpers->data, EW_MARK))
        return;
    for (size_t i = 0; i < sizeof ew_rt_text / sizeof ew_rt_text[0]; i++)
        sb_puts(cg->helpers, ew_rt_text[i]);
}

/* Largest |q| of an 8-bit type. */
static double ew_absmax(DType dt) {
    return dt == DT_INT8 ? 128.0 : 255.0;
}

/* Real value of a fixed multiplier: m0 * 2^(shift-31). */
static double ew_real(const Multiplier *m) {
    return ldexp((double)m->m0[0], m->shift[0] - 31);
}

/* The float mode of Add/Sub: ONNX Runtime's QLinearAdd, v = fma(a, ra, fma(b, rb, fixed)),
 * fixed = zy - (ra*za + rb*zb), Sub as rb negated. With `swap` (a one-element A, which ONNX
 * Runtime passes as its scalar B) the two operands trade places. Shared by the scalar loop
 * (qkernels_eltwise.c) and the vector forms, so both compute the same floats. */
void cg_add_float_consts(const Node *n, int32_t za, int32_t zb, int32_t zy, bool swap,
                         float *ra, float *rb, float *fixed) {
    float a = n->q.mul[0].f[0], b = n->q.mul[1].f[0];
    if (n->op == OP_SUB)
        b = -b;
    if (swap) {
        float tr = a;
        a = b;
        b = tr;
        int32_t tz = za;
        za = zb;
        zb = tz;
    }
    float part_a = a * (float)za;
    float part_b = b * (float)zb;
    float zero_part = part_a + part_b;
    *ra = a;
    *rb = b;
    *fixed = (float)zy - zero_part;
}

static void ew_plan_add_float(const Node *n, const Tensor *ta, const Tensor *tb, int32_t zy,
                              EwPlan *p) {
    cg_add_float_consts(n, cg_zp(ta), cg_zp(tb), zy, p->in0 == 1, &p->c0, &p->c1, &p->cz);
}

/* The SIMD tie test in integers (qcc_ew*_fix): X = bits(v + magic) - bits(magic) is
 * round(v * 2^kbits) while |v| < 2^(22-kbits) (the float spacing there is 2^-kbits), so
 * |X / 2^kbits - exact| <= w + 2^-(kbits+1) =: w2. F = (X + 2^(kbits-1)) mod 2^kbits is the
 * position of X past the last half-integer; the result floor((X + 2^(kbits-1)) / 2^kbits) is
 * proven when wk <= F <= 2^kbits - wk for a power of two wk > w2 * 2^kbits, i.e. unless
 * (F + wk) mod 2^kbits < 2 wk: one add and one test. vmax bounds |v| at compile time; the
 * lanes' values beyond the type's range saturate in the pack, as the contract's clamp. */
static bool ew_plan_magic(EwPlan *p, double vmax, double w) {
    int kb = 20;
    while (kb > 4 && ldexp(1.0, 22 - kb) <= vmax * 1.001 + 2.0)
        kb--;
    double w2 = w + ldexp(1.0, -(kb + 1));
    int32_t wk = 1;
    while ((double)wk <= w2 * ldexp(1.0, kb))
        wk *= 2;
    if (kb <= 4 || 2 * wk > (1 << (kb - 4))) /* would flag more than 1/16 of the lanes */
        return false;
    float magic = (float)ldexp(1.5, 23 - kb);
    uint32_t mb;
    memcpy(&mb, &magic, sizeof mb);
    p->kbits = kb;
    p->magic = magic;
    p->kadd = (int32_t)((uint32_t)(1 << (kb - 1)) + (uint32_t)wk - mb);
    p->tmask = (1 << kb) - 2 * wk;
    p->radd = (int32_t)((uint32_t)(1 << (kb - 1)) + (uint32_t)p->zoff * (1u << kb) - mb);
    return true;
}

/* The portable path's margin: a lane with |v - round(v)| >= 0.5 - w is near a tie. */
static void ew_plan_thr(EwPlan *p, double w) {
    p->thr = (float)(0.5 - w);
    if ((double)p->thr > 0.5 - w) /* round the margin toward safety */
        p->thr = nextafterf(p->thr, 0.0f);
}

/* Fixed Add/Sub: coefficients of the float estimate and its margins; false if the bound is
 * too loose (or the contract would saturate an intermediate) for the estimate to pay. */
static bool ew_plan_add_fixed(const Node *n, const Tensor *ta, const Tensor *tb, int32_t zy,
                              EwPlan *p) {
    double ls = ldexp(1.0, n->q.left_shift);
    double alpha = ew_real(&n->q.mul[0]) * ls, beta = ew_real(&n->q.mul[1]) * ls;
    double m = ew_real(&n->q.mul[2]);
    if (n->op == OP_SUB)
        beta = -beta;
    /* xa = round(a' * alpha) must not saturate, nor xa + xb overflow int32 */
    if (255.0 * (fabs(alpha) + fabs(beta)) >= ldexp(1.0, 30))
        return false;
    double ca = alpha * m, cb = beta * m;
    double cz = (double)zy - cg_zp(ta) * ca - cg_zp(tb) * cb;
    const Tensor *t0 = p->in0 == 0 ? ta : tb, *t1 = p->in0 == 0 ? tb : ta;
    p->c0 = (float)(p->in0 == 0 ? ca : cb);
    p->c1 = (float)(p->in0 == 0 ? cb : ca);
    p->cz = (float)cz;
    double vmax = ew_absmax(t0->dtype) * fabs(p->c0) + ew_absmax(t1->dtype) * fabs(p->c1) +
                  fabs(p->cz);
    double w = m + ldexp(vmax + 1.0, -21);
    if (!(w <= 0.125))
        return false;
    ew_plan_thr(p, w);
    return ew_plan_magic(p, vmax, w);
}

/* Fixed or float Mul: v = (v0 - z0) * (v1 - z1) * c0 in the zero-point-free domain. */
static bool ew_plan_mul(CGen *cg, const Node *n, const Tensor *ta, const Tensor *tb, int32_t zy,
                        EwPlan *p) {
    const Tensor *t0 = p->in0 == 0 ? ta : tb, *t1 = p->in0 == 0 ? tb : ta;
    p->z0 = cg_zp(t0);
    p->z1 = cg_zp(t1);
    p->vlo = n->q.act_min - zy;
    p->vhi = n->q.act_max - zy;
    p->zoff = zy;
    double amax = (fabs((double)p->z0) + ew_absmax(t0->dtype)) *
                  (fabs((double)p->z1) + ew_absmax(t1->dtype));
    if (p->flt) {
        p->c0 = n->q.mul[0].f[0];
        return amax * fabs(p->c0) < ldexp(1.0, 30); /* cvtps_epi32 stays in range */
    }
    (void)cg;
    double m = ew_real(&n->q.mul[0]);
    p->c0 = (float)m;
    double w = ldexp(amax * fabs(p->c0) + 1.0, -21);
    if (!(w <= 0.125))
        return false;
    ew_plan_thr(p, w);
    return ew_plan_magic(p, amax * fabs(p->c0), w);
}

static bool ew_plan(CGen *cg, const Node *n, EwPlan *p) {
    memset(p, 0, sizeof *p);
    if ((n->op != OP_ADD && n->op != OP_SUB && n->op != OP_MUL) || n->nin != 2 ||
        n->nout != 1 || !cg->helpers)
        return false;
    const Tensor *ta = cg_tin(cg, n, 0), *tb = cg_tin(cg, n, 1), *ty = cg_tout(cg, n, 0);
    if (!dtype_is_int8ish(ta->dtype) || !dtype_is_int8ish(tb->dtype) ||
        !dtype_is_int8ish(ty->dtype))
        return false;
    for (int k = 0; k < n->q.nmul; k++)
        if (n->q.mul[k].n != 1)
            return false;
    p->count = (long long)tensor_numel(ty);
    long long na = (long long)tensor_numel(ta), nb = (long long)tensor_numel(tb);
    if (p->count < EW_MIN_COUNT || p->count > INT32_MAX / 2 || (na != p->count && na != 1) ||
        (nb != p->count && nb != 1) || (na == 1 && nb == 1))
        return false;
    p->idx = (int)(n - cg->g->nodes);
    p->mul = n->op == OP_MUL;
    p->flt = cg->o->requant == REQUANT_FLOAT;
    p->in0 = na == p->count ? 0 : 1;
    p->in1 = 1 - p->in0;
    p->bscalar = (p->in1 == 0 ? na : nb) == 1;
    int32_t zy = cg_zp(ty);
    if (p->mul)
        return ew_plan_mul(cg, n, ta, tb, zy, p);
    p->vlo = n->q.act_min;
    p->vhi = n->q.act_max;
    if (p->flt) {
        ew_plan_add_float(n, ta, tb, zy, p);
        double vmax = ew_absmax(ta->dtype) * fabs(p->c0) + ew_absmax(tb->dtype) * fabs(p->c1) +
                      fabs(p->cz);
        return vmax < ldexp(1.0, 30);
    }
    return ew_plan_add_fixed(n, ta, tb, zy, p);
}

/* Fixed Add/Sub: the int32 tables xa = qcc_mul_q31((a - za) << left_shift, m0, shift) of
 * every byte value, computed here with the runtime's own helper (so n<idx>_ew1 is the
 * contract, two loads instead of two 64-bit multiplies). */
static void ew_emit_table(CGen *cg, const Node *n, int k, const char *name) {
    const Tensor *t = cg_tin(cg, n, k);
    const Multiplier *m = &n->q.mul[k];
    int32_t v[256];
    for (int idx = 0; idx < 256; idx++) {
        int32_t q = t->dtype == DT_INT8 ? (int32_t)(int8_t)(uint8_t)idx : idx;
        v[idx] = qcc_mul_q31((q - cg_zp(t)) * ((int32_t)1 << n->q.left_shift), m->m0[0],
                             m->shift[0]);
    }
    sb_printf(cg->helpers, "/* input %d: qcc_mul_q31((q - %ld) << %d, %ld, %ld), indexed by "
                           "(uint8_t)q */\n", k, (long)cg_zp(t), n->q.left_shift,
              (long)m->m0[0], (long)m->shift[0]);
    cg_i32_array(cg, cg->helpers, name, v, 256);
}

/* The scalar form, in qkernels_eltwise.c's arithmetic (the contract): fixed mode
 * n<idx>_ew1(a, b) for one element (inputs in node order) and the loop n<idx>_ew(a, b, y,
 * from, to) over it; float mode only the loop. The tail and the lanes near a tie. */
static void ew_emit_scalar(CGen *cg, const Node *n, const EwPlan *p) {
    const Tensor *ta = cg_tin(cg, n, 0), *tb = cg_tin(cg, n, 1), *ty = cg_tout(cg, n, 0);
    const char *T = dtype_ctype(ty->dtype);
    const char *ia = tensor_numel(ta) == 1 ? "0" : "i", *ib = tensor_numel(tb) == 1 ? "0" : "i";
    StrBuf *save = cg->sb;
    cg->sb = cg->helpers;
    cg_line(cg, 0, "/* node %d (%s '%s'): the scalar form, for the tail and the lanes near a "
                   "tie */", p->idx, op_name(n->op), n->name);
    if (!p->flt && !p->mul) {
        const char *tan = cg_fmt(cg, "n%d_ta", p->idx), *tbn = cg_fmt(cg, "n%d_tb", p->idx);
        ew_emit_table(cg, n, 0, tan);
        ew_emit_table(cg, n, 1, tbn);
        const Multiplier *mo = &n->q.mul[2];
        cg_line(cg, 0, "QCC_RT_INLINE %s n%d_ew1(int32_t a, int32_t b) {", T, p->idx);
        cg_line(cg, 1, "return (%s)qcc_requant_q31(%s[(uint8_t)a] %c %s[(uint8_t)b], %s, %s, %ld, "
                       "%ld, %ld);", T, tan, n->op == OP_SUB ? '-' : '+', tbn,
                cg_i32(cg, mo->m0[0]), cg_i32(cg, mo->shift[0]), (long)cg_zp(ty),
                (long)n->q.act_min, (long)n->q.act_max);
        cg_line(cg, 0, "}");
    } else if (!p->flt) {
        cg_line(cg, 0, "QCC_RT_INLINE %s n%d_ew1(int32_t a, int32_t b) {", T, p->idx);
        cg_line(cg, 1, "const int32_t acc = (a - %ld) * (b - %ld);", (long)cg_zp(ta),
                (long)cg_zp(tb));
        cg_line(cg, 1, "return (%s)%s;", T, cg_requant(cg, n, 0, "acc", "0"));
        cg_line(cg, 0, "}");
    }
    cg_line(cg, 0, "static void n%d_ew(const %s *a, const %s *b, %s *y, int from, int to) {",
            p->idx, dtype_ctype(ta->dtype), dtype_ctype(tb->dtype), T);
    if (!p->flt) {
        cg_line(cg, 1, "for (int i = from; i < to; i++)");
        cg_line(cg, 2, "y[i] = n%d_ew1(a[%s], b[%s]);", p->idx, ia, ib);
    } else if (p->mul) {
        cg_line(cg, 1, "for (int i = from; i < to; i++) {");
        cg_line(cg, 2, "const int32_t acc = ((int32_t)a[%s] - %ld) * ((int32_t)b[%s] - %ld);",
                ia, (long)cg_zp(ta), ib, (long)cg_zp(tb));
        cg_line(cg, 2, "y[i] = (%s)%s;", T, cg_requant(cg, n, 0, "acc", "0"));
        cg_line(cg, 1, "}");
    } else {
        /* operand order as ONNX Runtime's: v0 (full size) first */
        const char *i0 = p->in0 == 0 ? "a[i]" : "b[i]";
        const char *i1 = p->in0 == 0 ? (p->bscalar ? "b[0]" : "b[i]") : "a[0]";
        if (p->bscalar) {
            cg_line(cg, 1, "const float scaled_b = (float)%s * %s;", i1, cg_float_lit(cg, p->c1));
            cg_line(cg, 1, "const float fixed = %s + scaled_b;", cg_float_lit(cg, p->cz));
        }
        cg_line(cg, 1, "for (int i = from; i < to; i++) {");
        if (p->bscalar)
            cg_line(cg, 2, "float v = fmaf((float)%s, %s, fixed);", i0, cg_float_lit(cg, p->c0));
        else
            cg_line(cg, 2, "float v = fmaf((float)%s, %s, fmaf((float)%s, %s, %s));", i0,
                    cg_float_lit(cg, p->c0), i1, cg_float_lit(cg, p->c1),
                    cg_float_lit(cg, p->cz));
        cg_line(cg, 2, "v = v < %ld.0f ? %ld.0f : v > %ld.0f ? %ld.0f : v;", (long)p->vlo,
                (long)p->vlo, (long)p->vhi, (long)p->vhi);
        cg_line(cg, 2, "y[i] = (%s)qcc_rint(v);", T);
        cg_line(cg, 1, "}");
        cg->need_math = true; /* fmaf */
    }
    cg_line(cg, 0, "}");
    sb_puts(cg->helpers, "\n");
    cg->sb = save;
}

/* Operand k (0: v0, 1: v1) as int32 lanes at element ix: a load, or a broadcast. */
static const char *ew_vint(CGen *cg, const Node *n, const EwPlan *p, int k, int lanes,
                           const char *ix) {
    int in = k == 0 ? p->in0 : p->in1;
    const Tensor *t = cg_tin(cg, n, in);
    if (k == 1 && p->bscalar)
        return cg_fmt(cg, "_mm%d_set1_epi32(%s[0])", lanes * 32, cg_in(cg, n, in));
    return cg_fmt(cg, "qcc_ew%di_%s(%s + %s)", lanes, t->dtype == DT_INT8 ? "s8" : "u8",
                  cg_in(cg, n, in), ix);
}

/* The exact scalar form n<idx>_ew1 of element `idx` (a C expression), for a lane near a tie;
 * a one-element input is read at 0. */
static const char *ew_scalar_call(CGen *cg, const Node *n, const EwPlan *p, const char *idx) {
    return cg_fmt(cg, "n%d_ew1(%s[%s], %s[%s])", p->idx, cg_in(cg, n, 0),
                  tensor_numel(cg_tin(cg, n, 0)) == 1 ? "0" : idx, cg_in(cg, n, 1),
                  tensor_numel(cg_tin(cg, n, 1)) == 1 ? "0" : idx);
}

/* The float estimate (fixed) or value (float mode) v of `lanes` lanes at element ix. */
static const char *ew_vexpr(CGen *cg, const Node *n, const EwPlan *p, int lanes,
                            const char *ix) {
    const char *pre = lanes == 16 ? "_mm512" : "_mm256";
    const char *v0 = cg_fmt(cg, "%s_cvtepi32_ps(%s)", pre, ew_vint(cg, n, p, 0, lanes, ix));
    const char *v1 = p->bscalar ? "vb"
                                : cg_fmt(cg, "%s_cvtepi32_ps(%s)", pre,
                                         ew_vint(cg, n, p, 1, lanes, ix));
    if (p->mul)
        return cg_fmt(cg, "%s_mul_ps(%s_mul_ps(%s_sub_ps(%s, z0), %s_sub_ps(%s, z1)), c0)", pre,
                      pre, pre, v0, pre, v1);
    if (p->bscalar)
        return cg_fmt(cg, "%s_fmadd_ps(%s, c0, vb)", pre, v0);
    return cg_fmt(cg, "%s_fmadd_ps(%s, c0, %s_fmadd_ps(%s, c1, cz))", pre, v0, pre, v1);
}

/* Add with a one-element operand: its term, in the scalar form's two statements (the same
 * roundings as ONNX Runtime's scalar-B loop in float mode). */
static void ew_emit_fixed_term(CGen *cg, const Node *n, const EwPlan *p, int ind) {
    cg_line(cg, ind, "const float scaled_b = (float)%s[0] * %s;", cg_in(cg, n, p->in1),
            cg_float_lit(cg, p->c1));
    cg_line(cg, ind, "const float fixed = %s + scaled_b;", cg_float_lit(cg, p->cz));
}

/* The per-node constants of a SIMD path as `lanes`-wide registers. */
static void ew_emit_consts(CGen *cg, const Node *n, const EwPlan *p, int lanes, bool narrow) {
    const char *pre = lanes == 16 ? "_mm512" : "_mm256";
    const char *V = lanes == 16 ? "__m512" : "__m256", *VI = lanes == 16 ? "__m512i" : "__m256i";
    cg_line(cg, 2, "const %s c0 = %s_set1_ps(%s);", V, pre, cg_float_lit(cg, p->c0));
    if (p->mul) {
        cg_line(cg, 2, "const %s z0 = %s_set1_ps(%ld.0f), z1 = %s_set1_ps(%ld.0f);", V, pre,
                (long)p->z0, pre, (long)p->z1);
        if (p->bscalar)
            cg_line(cg, 2, "const %s vb = %s_set1_ps((float)%s[0]);", V, pre,
                    cg_in(cg, n, p->in1));
    } else if (p->bscalar) {
        ew_emit_fixed_term(cg, n, p, 2);
        cg_line(cg, 2, "const %s vb = %s_set1_ps(fixed);", V, pre);
    } else {
        cg_line(cg, 2, "const %s c1 = %s_set1_ps(%s), cz = %s_set1_ps(%s);", V, pre,
                cg_float_lit(cg, p->c1), pre, cg_float_lit(cg, p->cz));
    }
    if (!p->flt) {
        cg_line(cg, 2, "const %s magic = %s_set1_ps(%s);", V, pre, cg_float_lit(cg, p->magic));
        cg_line(cg, 2, "const %s kadd = %s_set1_epi32(%s), tmask = %s_set1_epi32(%s);", VI, pre,
                cg_i32(cg, p->kadd), pre, cg_i32(cg, p->tmask));
        cg_line(cg, 2, "const %s radd = %s_set1_epi32(%s);", VI, pre, cg_i32(cg, p->radd));
    }
    if (narrow)
        cg_line(cg, 2, "const %s blo = %s_set1_epi8(%ld), bhi = %s_set1_epi8(%ld);", VI, pre,
                (long)(int8_t)(uint8_t)n->q.act_min, pre, (long)(int8_t)(uint8_t)n->q.act_max);
}

/* One SIMD path (lanes 16: AVX-512, 8: AVX2), four registers (a step) at a time, packed to
 * bytes with saturation (the clamp to the type; a fused activation's narrower clamp follows
 * on bytes). Float mode stores directly. Fixed mode works in chunks of up to 1024 elements:
 * pass 1 writes every lane's estimate into buf and lists the steps with lanes near a tie,
 * pass 2 recomputes those lanes with n<idx>_ew1, then buf goes to y. Why two passes: a branch
 * per register on the test mispredicted on ~7% of the registers of a real model, each time
 * after the estimate's whole latency; buf keeps the inputs intact until pass 2 when the
 * output is in place (y == x0). The list takes a step only when one of its four masks is
 * set (4.8% of the steps of mobilenet_tiny's Adds on its test digits): appending every
 * register's mask made a serial chain through the list's length (mask to integer, compare,
 * next index), 2.53 -> 2.31 us for a 16384-element Add. */
static void ew_emit_simd(CGen *cg, const Node *n, const EwPlan *p, int lanes) {
    const Tensor *ty = cg_tout(cg, n, 0);
    const char *yn = cg_out(cg, n, 0), *T = dtype_ctype(ty->dtype);
    int sgn = ty->dtype == DT_INT8, step = 4 * lanes, bits = lanes * 32;
    const char *VI = lanes == 16 ? "__m512i" : "__m256i";
    const char *ld = cg_fmt(cg, "_mm%d_loadu_si%d", bits, bits);
    const char *st = cg_fmt(cg, "_mm%d_storeu_si%d", bits, bits);
    const char *cast = lanes == 16 ? "" : "(__m256i *)(void *)";
    const char *ccast = lanes == 16 ? "" : "(const __m256i *)(const void *)";
    bool narrow = n->q.act_min > dtype_qmin(ty->dtype) || n->q.act_max < dtype_qmax(ty->dtype);
    const char *clamp = cg_fmt(cg, "yb = _mm%d_min_ep%s8(_mm%d_max_ep%s8(yb, blo), bhi);", bits,
                               sgn ? "i" : "u", bits, sgn ? "i" : "u");
    cg_line(cg, 1, "{");
    ew_emit_consts(cg, n, p, lanes, narrow);
    if (p->flt) {
        cg_line(cg, 2, "for (; i + %d <= %lld; i += %d) {", step, p->count, step);
        cg_line(cg, 3, "%s r[4];", VI);
        cg_line(cg, 3, "for (int q = 0; q < 4; q++) {");
        cg_line(cg, 4, "const int j = i + %d * q;", lanes);
        cg_line(cg, 4, "r[q] = qcc_ew%d_flt(%s, %ld);", lanes, ew_vexpr(cg, n, p, lanes, "j"),
                (long)p->zoff);
        cg_line(cg, 3, "}");
        cg_line(cg, 3, "%s yb = qcc_ew%d_pack(r[0], r[1], r[2], r[3], %d);", VI, step, sgn);
        if (narrow)
            cg_line(cg, 3, "%s", clamp);
        cg_line(cg, 3, "%s(%s(%s + i), yb);", st, cast, yn);
        cg_line(cg, 2, "}");
        cg_line(cg, 1, "}");
        return;
    }
    int groups = 1024 / step;
    cg_line(cg, 2, "while (i + %d <= %lld) {", step, p->count);
    cg_line(cg, 3, "const int len = %lld - i >= 1024 ? 1024 : (%lld - i) / %d * %d;", p->count,
            p->count, step, step);
    cg_line(cg, 3, "%s buf[1024];", T);
    cg_line(cg, 3, "int nf = 0, fl[%d];", groups);
    cg_line(cg, 3, "unsigned fm[%d][4];", groups);
    cg_line(cg, 3, "for (int g = 0; g < len; g += %d) {", step);
    cg_line(cg, 4, "%s r[4];", VI);
    cg_line(cg, 4, "unsigned amb[4];");
    cg_line(cg, 4, "for (int q = 0; q < 4; q++) {");
    cg_line(cg, 5, "const int j = i + g + %d * q;", lanes);
    cg_line(cg, 5, "r[q] = qcc_ew%d_fix(%s, magic, kadd, tmask, radd, %d, &amb[q]);", lanes,
            ew_vexpr(cg, n, p, lanes, "j"), p->kbits);
    cg_line(cg, 4, "}");
    cg_line(cg, 4, "%s yb = qcc_ew%d_pack(r[0], r[1], r[2], r[3], %d);", VI, step, sgn);
    if (narrow)
        cg_line(cg, 4, "%s", clamp);
    cg_line(cg, 4, "%s(%s(buf + g), yb);", st, cast);
    cg_line(cg, 4, "if (QCC_EW_RARE((amb[0] | amb[1] | amb[2] | amb[3]) != 0)) {");
    cg_line(cg, 5, "fl[nf] = g;");
    cg_line(cg, 5, "for (int q = 0; q < 4; q++)");
    cg_line(cg, 6, "fm[nf][q] = amb[q];");
    cg_line(cg, 5, "nf++;");
    cg_line(cg, 4, "}");
    cg_line(cg, 3, "}");
    cg_line(cg, 3, "for (int f = 0; f < nf; f++) /* lanes near a tie: the scalar form */");
    cg_line(cg, 4, "for (int q = 0; q < 4; q++)");
    cg_line(cg, 5, "for (unsigned m = fm[f][q]; m; m &= m - 1) {");
    cg_line(cg, 6, "const int l = fl[f] + %d * q + QCC_CTZ(m);", lanes);
    cg_line(cg, 6, "buf[l] = %s;", ew_scalar_call(cg, n, p, "i + l"));
    cg_line(cg, 5, "}");
    cg_line(cg, 3, "for (int g = 0; g < len; g += %d)", step);
    cg_line(cg, 4, "%s(%s(%s + i + g), %s(%s(buf + g)));", st, cast, yn, ld, ccast);
    cg_line(cg, 3, "i += len;");
    cg_line(cg, 2, "}");
    cg_line(cg, 1, "}");
}

/* Portable fixed-mode blocks in plain C that gcc/clang -O3 vectorise: the SIMD paths'
 * arithmetic (ew_plan_magic), with the float bits read through a union and an unsigned shift
 * (offset by 2^30 so the value is positive). No float comparison: gcc does not if-convert
 * those (they may trap), which kept an earlier form scalar. A flag per lane near a tie, then
 * n<idx>_ew1 for the flagged lanes. */
static void ew_emit_portable(CGen *cg, const Node *n, const EwPlan *p) {
    const Tensor *ty = cg_tout(cg, n, 0);
    const char *T = dtype_ctype(ty->dtype);
    const char *a0 = cg_fmt(cg, "%s[i + k]", cg_in(cg, n, p->in0));
    const char *a1 = cg_fmt(cg, p->bscalar ? "%s[0]" : "%s[i + k]", cg_in(cg, n, p->in1));
    uint32_t radd2 = (uint32_t)p->radd + (1u << 30);
    if (!p->mul && p->bscalar)
        ew_emit_fixed_term(cg, n, p, 1);
    cg_line(cg, 1, "for (; i + 64 <= %lld; i += 64) {", p->count);
    cg_line(cg, 2, "%s blk[64];", T);
    cg_line(cg, 2, "unsigned char flag[64];");
    cg_line(cg, 2, "int amb = 0;");
    cg_line(cg, 2, "for (int k = 0; k < 64; k++) {");
    if (p->mul)
        cg_line(cg, 3, "const float v = ((float)%s - %ld.0f) * ((float)%s - %ld.0f) * %s;", a0,
                (long)p->z0, a1, (long)p->z1, cg_float_lit(cg, p->c0));
    else if (p->bscalar)
        cg_line(cg, 3, "const float v = (float)%s * %s + fixed;", a0, cg_float_lit(cg, p->c0));
    else
        cg_line(cg, 3, "const float v = (float)%s * %s + ((float)%s * %s + %s);", a0,
                cg_float_lit(cg, p->c0), a1, cg_float_lit(cg, p->c1), cg_float_lit(cg, p->cz));
    cg_line(cg, 3, "union { float f; uint32_t u; } m; /* C99: reads the float's bits */");
    cg_line(cg, 3, "m.f = v + %s;", cg_float_lit(cg, p->magic));
    cg_line(cg, 3, "const uint32_t x = m.u;");
    cg_line(cg, 3, "flag[k] = (unsigned char)(((x + %luu) & %luu) == 0);",
            (unsigned long)(uint32_t)p->kadd, (unsigned long)(uint32_t)p->tmask);
    cg_line(cg, 3, "amb |= flag[k];");
    cg_line(cg, 3, "int32_t r = (int32_t)((x + %luu) >> %d) - %ld;", (unsigned long)radd2,
            p->kbits, 1L << (30 - p->kbits));
    cg_line(cg, 3, "r = r < %ld ? %ld : r > %ld ? %ld : r;", (long)n->q.act_min,
            (long)n->q.act_min, (long)n->q.act_max, (long)n->q.act_max);
    cg_line(cg, 3, "blk[k] = (%s)r;", T);
    cg_line(cg, 2, "}");
    cg_line(cg, 2, "if (amb) /* lanes near a tie: the scalar form */");
    cg_line(cg, 3, "for (int k = 0; k < 64; k++)");
    cg_line(cg, 4, "if (flag[k])");
    cg_line(cg, 5, "blk[k] = %s;", ew_scalar_call(cg, n, p, "i + k"));
    cg_line(cg, 2, "for (int k = 0; k < 64; k++)");
    cg_line(cg, 3, "%s[i + k] = blk[k];", cg_out(cg, n, 0));
    cg_line(cg, 1, "}");
}

bool cg_qeltwise_fast(CGen *cg, const Node *n) {
    EwPlan p;
    if (!ew_plan(cg, n, &p))
        return false;
    ew_runtime(cg);
    ew_emit_scalar(cg, n, &p);
    bool x86 = cg->o->simd == CG_SIMD_X86;
    if (p.flt)
        cg_line(cg, 1, "/* vectorised (qeltwise_fast.c): the scalar form's float operations in "
                       "the same order */");
    else
        cg_line(cg, 1, "/* vectorised (qeltwise_fast.c): a float estimate of the exact value, "
                       "proven per lane;\n     * the lanes near a rounding tie are recomputed "
                       "by n%d_ew1 */", p.idx);
    cg_line(cg, 1, "int i = 0;");
    if (x86) {
        cg_line(cg, 0, "#if defined(QCC_EW_AVX512)");
        ew_emit_simd(cg, n, &p, 16);
        cg_line(cg, 0, "#elif defined(QCC_EW_AVX2)");
        ew_emit_simd(cg, n, &p, 8);
        if (!p.flt)
            cg_line(cg, 0, "#else");
    }
    if (!p.flt)
        ew_emit_portable(cg, n, &p);
    if (x86)
        cg_line(cg, 0, "#endif");
    cg_line(cg, 1, "n%d_ew(%s, %s, %s, i, %lld);", p.idx, cg_in(cg, n, 0), cg_in(cg, n, 1),
            cg_out(cg, n, 0), p.count);
    return true;
}
