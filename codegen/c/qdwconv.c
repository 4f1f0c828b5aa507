/* qdwconv.c: the channels-last depthwise convolution of the C backend (group == Cin == Cout,
 * n->nhwc from passes/layout.c), and what it shares with the planar (NCHW) one of
 * qdwplanar.c (qdw_int.h). Channels are the SIMD lanes: per output pixel, each tap adds
 * x[tap][c] * (w[c][tap] - zw[c]) to a vector of 16 (AVX-512) or 8 (AVX2) channels, then the
 * vector is requantized and stored; leftover channels and -DQCC_NO_SIMD builds run the same
 * sum in plain C with the runtime's qcc_requant_*. Interior pixels address their taps with
 * constant offsets; border pixels point taps outside the input at a row of zx (the real
 * zero), so no tap is ever tested inside the channel loop. Weights are packed at compile time
 * tap-major with the weight zero point subtracted, so no zw*sum(x) term remains:
 *   acc[c] = c3[c] + sum_t x[t][c] * (w[c][t] - zw[c])       (design sec. 3, exactly).
 * Bound: |x| <= 255 and |w - zw| <= 255, so |acc| <= |c3[c]| + taps * 65025 (checked below
 * against the double requantization's 2^53 limit; int32 safe for taps <= 2^15).
 * Where the compiler has AVX-512 VNNI + VBMI (QCC_DW_VNNI), nodes with KH <= 4 and int8-sized
 * w - zw run the register-blocked row kernel n<idx>_dwrow instead (see "the AVX-512 VNNI row
 * kernel" below); the per-pixel loop stays as the AVX2, NEON and portable path. */
#include "qdw_int.h"
#include "qneon.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool cg_qconv_depthwise_nhwc(CGen *cg, const Node *n);

/* Written once per model.c into cg->helpers. Why each piece:
 * - x bytes widen to 32-bit lanes and multiply with vpmaddwd against weights stored as
 *   (w - zw) & 0xffff in 32-bit lanes: the high 16-bit halves of the weights are zero, so the
 *   pair sum is exactly x * (w - zw) for uint8 and int8 x (cheaper than vpmulld).
 * - fixed requant through double: k = m0 * 2^(shift-31) is exact in a double, and so is
 *   acc * k while |acc * m0| < 2^53 (checked per node at compile time); cvtpd rounds half to
 *   even (the default MXCSR mode), which is qcc_mul_q31's single rounding. Clamping to
 *   [lo-zp, hi-zp] before the conversion equals saturate-add-clamp because the bounds are
 *   integers. float requant: qcc_requant_f's float multiply, clamp, round half to even. */
static const char dw_rt_avx512[] =
    "/* depthwise kernels (issue 4): channels as SIMD lanes; AVX-512 or AVX2 when the compiler\n"
    " * targets it, plain C otherwise (-DQCC_NO_SIMD forces it). Same integers either way. */\n"
    "#if !defined(QCC_NO_SIMD) && defined(__AVX512F__) && defined(__AVX512BW__)\n"
    "#define QCC_DW_AVX512 1\n"
    "#include <immintrin.h>\n"
    "QCC_RT_INLINE __m512i qcc_dw_x16u(const uint8_t *p) {\n"
    "    return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));\n"
    "}\n"
    "QCC_RT_INLINE __m512i qcc_dw_x16s(const int8_t *p) {\n"
    "    return _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));\n"
    "}\n"
    "QCC_RT_INLINE __m512i qcc_dw_mac16(__m512i acc, __m512i x, const int32_t *w) {\n"
    "    return _mm512_add_epi32(acc, _mm512_madd_epi16(x, _mm512_loadu_si512((const void *)w)));\n"
    "}\n"
    "/* qcc_requant_q31 of 16 lanes (k[c] = m0[c] * 2^(shift[c]-31)), as bytes */\n"
    "QCC_RT_INLINE __m128i qcc_dw_rq16(__m512i acc, const double *k, int32_t zp, int32_t lo,\n"
    "                                  int32_t hi) {\n"
    "    const __m512d vlo = _mm512_set1_pd((double)(lo - zp)), vhi = _mm512_set1_pd((double)(hi - zp));\n"
    "    __m512d a = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(acc)), _mm512_loadu_pd(k));\n"
    "    __m512d b = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(acc, 1)),\n"
    "                              _mm512_loadu_pd(k + 8));\n"
    "    a = _mm512_min_pd(_mm512_max_pd(a, vlo), vhi);\n"
    "    b = _mm512_min_pd(_mm512_max_pd(b, vlo), vhi);\n"
    "    __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtpd_epi32(a)),\n"
    "                                   _mm512_cvtpd_epi32(b), 1);\n"
    "    return _mm512_cvtepi32_epi8(_mm512_add_epi32(q, _mm512_set1_epi32(zp)));\n"
    "}\n"
    "/* qcc_requant_f of 16 lanes, as bytes */\n"
    "QCC_RT_INLINE __m128i qcc_dw_rqf16(__m512i acc, const float *f, int32_t zp, int32_t lo,\n"
    "                                   int32_t hi) {\n"
    "    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_loadu_ps(f));\n"
    "    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps((float)(lo - zp))),\n"
    "                      _mm512_set1_ps((float)(hi - zp)));\n"
    "    return _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(zp)));\n"
    "}\n"
    "/* the row kernels (n*_dwrow): vpdpbusd (QCC_DPBUSD) and vpermb */\n"
    "#if defined(QCC_FAST_VNNI) && defined(__AVX512VBMI__)\n"
    "#define QCC_DW_VNNI 1\n"
    "/* qcc_requant_q31 of 16 lanes as int32: exact product, zero point fused (exact, checked\n"
    " * per node), one rounding half to even; clamped after the conversion (|acc*M| < 2^30);\n"
    " * sat: the clamp is the byte type's range, left to the saturating store */\n"
    "QCC_RT_INLINE __m512i qcc_dw_rqv_fma(__m512i a, __m512d kl, __m512d kh, __m512d zp,\n"
    "                                     __m512i lo, __m512i hi, int sat) {\n"
    "    __m512d l = _mm512_fmadd_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(a)), kl, zp);\n"
    "    __m512d h = _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(a, 1));\n"
    "    h = _mm512_fmadd_pd(h, kh, zp);\n"
    "    __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtpd_epi32(l)),\n"
    "                                   _mm512_cvtpd_epi32(h), 1);\n"
    "    return sat ? v : _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);\n"
    "}\n"
    "/* the same with the zero point added after the conversion (fma not exact) */\n"
    "QCC_RT_INLINE __m512i qcc_dw_rqv_mul(__m512i a, __m512d kl, __m512d kh, __m512i zp,\n"
    "                                     __m512i lo, __m512i hi, int sat) {\n"
    "    __m512d l = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(a)), kl);\n"
    "    __m512d h = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(a, 1)), kh);\n"
    "    __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtpd_epi32(l)),\n"
    "                                   _mm512_cvtpd_epi32(h), 1);\n"
    "    v = _mm512_add_epi32(v, zp);\n"
    "    return sat ? v : _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);\n"
    "}\n"
    "/* qcc_requant_f of 16 lanes as int32 */\n"
    "QCC_RT_INLINE __m512i qcc_dw_rqv_f(__m512i a, __m512 f, __m512i zp, __m512 lo, __m512 hi) {\n"
    "    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(a), f);\n"
    "    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);\n"
    "    return _mm512_add_epi32(_mm512_cvtps_epi32(v), zp);\n"
    "}\n"
    "#endif\n";

static const char dw_rt_avx2[] =
    "#elif !defined(QCC_NO_SIMD) && defined(__AVX2__)\n"
    "#define QCC_DW_AVX2 1\n"
    "#include <immintrin.h>\n"
    "QCC_RT_INLINE __m256i qcc_dw_x8u(const uint8_t *p) {\n"
    "    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p));\n"
    "}\n"
    "QCC_RT_INLINE __m256i qcc_dw_x8s(const int8_t *p) {\n"
    "    return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p));\n"
    "}\n"
    "QCC_RT_INLINE __m256i qcc_dw_mac8(__m256i acc, __m256i x, const int32_t *w) {\n"
    "    return _mm256_add_epi32(acc, _mm256_madd_epi16(x, _mm256_loadu_si256((const __m256i *)(const void *)w)));\n"
    "}\n"
    "/* qcc_requant_q31 of 8 lanes (k[c] = m0[c] * 2^(shift[c]-31)), as int32 */\n"
    "QCC_RT_INLINE __m256i qcc_dw_rq8(__m256i acc, const double *k, int32_t zp, int32_t lo,\n"
    "                                 int32_t hi) {\n"
    "    const __m256d vlo = _mm256_set1_pd((double)(lo - zp)), vhi = _mm256_set1_pd((double)(hi - zp));\n"
    "    __m256d a = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(acc)), _mm256_loadu_pd(k));\n"
    "    __m256d b = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(acc, 1)),\n"
    "                              _mm256_loadu_pd(k + 4));\n"
    "    a = _mm256_min_pd(_mm256_max_pd(a, vlo), vhi);\n"
    "    b = _mm256_min_pd(_mm256_max_pd(b, vlo), vhi);\n"
    "    return _mm256_add_epi32(_mm256_set_m128i(_mm256_cvtpd_epi32(b), _mm256_cvtpd_epi32(a)),\n"
    "                            _mm256_set1_epi32(zp));\n"
    "}\n"
    "/* qcc_requant_f of 8 lanes, as int32 */\n"
    "QCC_RT_INLINE __m256i qcc_dw_rqf8(__m256i acc, const float *f, int32_t zp, int32_t lo,\n"
    "                                  int32_t hi) {\n"
    "    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(f));\n"
    "    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps((float)(lo - zp))),\n"
    "                      _mm256_set1_ps((float)(hi - zp)));\n"
    "    return _mm256_add_epi32(_mm256_cvtps_epi32(v), _mm256_set1_epi32(zp));\n"
    "}\n"
    "/* 8 int32 lanes already within the byte type's range -> 8 bytes */\n"
    "QCC_RT_INLINE void qcc_dw_st8u(uint8_t *d, __m256i q) {\n"
    "    __m128i h = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));\n"
    "    _mm_storel_epi64((__m128i *)(void *)d, _mm_packus_epi16(h, h));\n"
    "}\n"
    "QCC_RT_INLINE void qcc_dw_st8s(int8_t *d, __m256i q) {\n"
    "    __m128i h = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));\n"
    "    _mm_storel_epi64((__m128i *)(void *)d, _mm_packs_epi16(h, h));\n"
    "}\n"
    "#endif\n\n";

#define DW_MARK "#define QCC_DW_AVX512 1" /* present in helpers once dw_rt_* are */


/* Shapes, attributes and types of depthwise CONV n, channels-last or NCHW (nchw). */
DwConv dw_geometry(CGen *cg, const Node *n, bool nchw) {
    const Tensor *x = cg_tin(cg, n, 0), *w = cg_tin(cg, n, 1), *y = cg_tout(cg, n, 0);
    const ConvAttr *a = &n->a.conv;
    int ch = nchw ? 1 : 3, sp = nchw ? 2 : 1; /* channel axis, first spatial axis */
    DwConv k = {.N = x->shape[0], .C = x->shape[ch], .H = x->shape[sp], .W = x->shape[sp + 1],
                .OH = y->shape[sp], .OW = y->shape[sp + 1], .KH = w->shape[2],
                .KW = w->shape[3], .SH = a->stride[0], .SW = a->stride[1], .PT = a->pad[0],
                .PL = a->pad[1], .DH = a->dilation[0], .DW = a->dilation[1]};
    k.taps = (int)(k.KH * k.KW);
    k.idx = (int)(n - cg->g->nodes);
    k.xt = dtype_ctype(x->dtype);
    k.yt = dtype_ctype(y->dtype);
    k.xs = x->dtype == DT_INT8;
    k.yu = y->dtype == DT_UINT8;
    k.zy = cg_i32(cg, cg_zp(y));
    k.lo = cg_i32(cg, n->q.act_min);
    k.hi = cg_i32(cg, n->q.act_max);
    k.fixed = cg->o->requant != REQUANT_FLOAT;
    return k;
}

/* dw_rt_* into cg->helpers, once per model.c (with qfast_rt.c's QCC_FAST_VNNI, QCC_DPBUSD,
 * QCC_TILE). */
void dw_runtime(CGen *cg) {
    if (cg->helpers->data && strstr(cg->helpers->data, DW_MARK))
        return;
    fastk_runtime(cg);
    sb_puts(cg->helpers, dw_rt_avx512);
    sb_puts(cg->helpers, dw_rt_avx2);
}

/* The input row `rows` below the first one output row out_y's window starts at (kernel row
 * r: rows = r * DH), as C ("out_y * 2 - 1"). */
const char *dw_row_expr(CGen *cg, const DwConv *k, int64_t rows) {
    int64_t off = rows - k->PT;
    return cg_fmt(cg, "out_y * %lld %c %lld", (long long)k->SH, off < 0 ? '-' : '+',
                  (long long)(off < 0 ? -off : off));
}

/* The interior output columns [*xl, *xh): every tap inside the input row. */
void dw_interior(const DwConv *k, int64_t *xl, int64_t *xh) {
    *xl = 0, *xh = k->OW;
    while (*xl < k->OW && *xl * k->SW - k->PL < 0)
        (*xl)++;
    while (*xh > *xl && (*xh - 1) * k->SW - k->PL + (k->KW - 1) * k->DW >= k->W)
        (*xh)--;
}

/* One array into cg->helpers, 12 values a line. */
void dw_put_array(CGen *cg, const char *type, const char *name, int64_t count,
                      const int64_t *iv, const double *dv, bool is_float) {
    StrBuf *sb = cg->helpers;
    sb_printf(sb, "static const %s %s[%lld] QCC_ALIGN = {", type, name, (long long)count);
    for (int64_t i = 0; i < count; i++) {
        sb_puts(sb, i % 12 == 0 ? "\n    " : " ");
        if (dv && is_float)
            sb_float(sb, (float)dv[i]);
        else if (dv)
            sb_printf(sb, "%.17g", dv[i]);
        else
            sb_printf(sb, "%lld", (long long)iv[i]);
        if (i + 1 < count)
            sb_putc(sb, ',');
    }
    sb_puts(sb, "\n};\n");
}

/* The packed arrays of node n: weights (w - zw) tap-major as int16 (portable) and as 32-bit
 * lanes (SIMD), c3, the zx row, and the SIMD requant factors. False if the double requant
 * would not be exact (the caller then leaves the node to the portable loop). */
static bool pack(CGen *cg, const Node *n, const DwConv *k, bool fast) {
    const Tensor *w = cg_tin(cg, n, 1), *x = cg_tin(cg, n, 0);
    Arena *a = cg->g->arena;
    int64_t C = k->C, T = k->taps;
    int64_t *w16 = arena_calloc(a, (size_t)(T * C), sizeof(int64_t));
    int64_t *w32 = arena_calloc(a, (size_t)(T * C), sizeof(int64_t));
    int64_t *bias = arena_calloc(a, (size_t)C, sizeof(int64_t));
    int64_t *zrow = arena_calloc(a, (size_t)C, sizeof(int64_t));
    double *rk = arena_calloc(a, (size_t)C, sizeof(double));
    const Multiplier *m = &n->q.mul[0];
    for (int64_t c = 0; c < C; c++) {
        int32_t zw = w->q.n > 1 ? w->q.zero_point[c] : w->q.n == 1 ? w->q.zero_point[0] : 0;
        double bound = 0.0;
        for (int64_t t = 0; t < T; t++) {
            int64_t v = tensor_get_i(w, c * T + t) - zw;
            w16[t * C + c] = v;
            w32[t * C + c] = v & 0xffff;
            bound += 255.0 * (double)llabs(v);
        }
        bias[c] = n->q.nbias > 1 ? n->q.c3[c] : n->q.nbias == 1 ? n->q.c3[0] : 0;
        zrow[c] = cg_zp(x);
        bound += fabs((double)bias[c]);
        int mi = m->n > 1 ? (int)c : 0;
        if (k->fixed) {
            if (bound * (double)m->m0[mi] >= 9007199254740992.0) /* 2^53 */
                return false;
            rk[c] = ldexp((double)m->m0[mi], m->shift[mi] - 31);
        } else {
            rk[c] = m->f[mi];
        }
    }
    if (fast) /* the VNNI row kernel reads none of these */
        sb_puts(cg->helpers, "#if !defined(QCC_DW_VNNI)\n");
    dw_put_array(cg, "int16_t", cg_fmt(cg, "n%d_dw16", k->idx), T * C, w16, NULL, false);
    dw_put_array(cg, "int32_t", cg_fmt(cg, "n%d_dwb", k->idx), C, bias, NULL, false);
    dw_put_array(cg, k->xt, cg_fmt(cg, "n%d_dwz", k->idx), C, zrow, NULL, false);
    if (C >= 8) { /* what put_pixel's 16- and 8-lane loops read, where it writes them */
        sb_puts(cg->helpers, C >= 16 ? "#if defined(QCC_DW_AVX512) || defined(QCC_DW_AVX2)\n"
                                     : "#if defined(QCC_DW_AVX2)\n");
        dw_put_array(cg, "int32_t", cg_fmt(cg, "n%d_dw32", k->idx), T * C, w32, NULL, false);
        dw_put_array(cg, k->fixed ? "double" : "float", cg_fmt(cg, "n%d_dwk", k->idx), C, NULL, rk,
                  !k->fixed);
        sb_puts(cg->helpers, "#endif\n");
    }
    if (fast)
        sb_puts(cg->helpers, "#endif\n");
    return true;
}

/* The channel loops of one output pixel whose tap t reads tap_<t> (pointers set by the
 * caller) and writes yp: SIMD blocks first, then the remaining channels in plain C. */
static void put_pixel(CGen *cg, const Node *n, const DwConv *k, int ind) {
    int T = k->taps, id = k->idx;
    long long C = (long long)k->C;
    cg_line(cg, ind, "int c0 = 0;");
    bool opened = false;
    if (cg->o->simd == CG_SIMD_NEON) /* NEON target: qneon.c's 16-channel loop, not AVX */
        neon_dw_pixel(cg, n, ind, id, T, k->C, k->xs);
    for (int isa = 0; isa < 2 && cg->o->simd != CG_SIMD_NEON; isa++) {
        int lanes = isa == 0 ? 16 : 8;
        if (C < lanes)
            continue;
        cg_line(cg, 0, isa == 0 ? "#if defined(QCC_DW_AVX512)"
                       : opened ? "#elif defined(QCC_DW_AVX2)" : "#if defined(QCC_DW_AVX2)");
        opened = true;
        cg_line(cg, ind, "for (; c0 + %d <= %lld; c0 += %d) {", lanes, C, lanes);
        const char *v = isa == 0 ? "__m512i" : "__m256i";
        cg_line(cg, ind + 1, "%s acc = %s((const void *)(n%d_dwb + c0));", v,
                isa == 0 ? "_mm512_loadu_si512" : "_mm256_loadu_si256", id);
        for (int t = 0; t < T; t++)
            cg_line(cg, ind + 1, "acc = qcc_dw_mac%d(acc, qcc_dw_x%d%c(tap_%d + c0), n%d_dw32 + "
                    "%lld + c0);", lanes, lanes, k->xs ? 's' : 'u', t, id, (long long)t * C);
        const char *rq = cg_fmt(cg, "qcc_dw_rq%s%d(acc, n%d_dwk + c0, %s, %s, %s)",
                                k->fixed ? "" : "f", lanes, id, k->zy, k->lo, k->hi);
        if (isa == 0)
            cg_line(cg, ind + 1, "_mm_storeu_si128((__m128i *)(void *)(yp + c0), %s);", rq);
        else
            cg_line(cg, ind + 1, "qcc_dw_st8%c(yp + c0, %s);", k->yu ? 'u' : 's', rq);
        cg_line(cg, ind, "}");
    }
    if (opened)
        cg_line(cg, 0, "#endif");
    cg_line(cg, ind, "for (int c = c0; c < %lld; c++) {", C);
    cg_line(cg, ind + 1, "int32_t acc = n%d_dwb[c];", id);
    for (int t = 0; t < T; t++)
        cg_line(cg, ind + 1, "acc += (int32_t)tap_%d[c] * n%d_dw16[%lld + c];", t, id,
                (long long)t * C);
    cg_line(cg, ind + 1, "yp[c] = (%s)%s;", k->yt, cg_requant(cg, n, 0, "acc", "c"));
    cg_line(cg, ind, "}");
}

/* ---- the AVX-512 VNNI row kernel (QCC_DW_VNNI) ----
 * One call computes a whole output row. Per 16-channel block, a "column vector" Q of input
 * column j packs, in each 32-bit lane c, the bytes of the KH (<= 4) input rows at channel c
 * (one 3-row load + 2 inserts + a vpermb), so one vpdpbusd against (w[c][0..KH-1][kx]) adds
 * the whole kernel column kx of channel c: 3 vpdpbusd per output pixel for 3x3, and each Q
 * serves the KW outputs that read column j (register-blocked, up to DW_P pixels).
 * vpdpbusd is u8 x s8: int8 activations are flipped to u8 (x ^ 0x80 = x + 128) and
 * -128 * sum(w) is folded into the bias; weights w - zw must fit int8 (checked).
 * Borders without tests in the loop: an input row outside the image gets weight 0 in a
 * per-row "pattern" copy of the weights (its pointer aims at any real row) and zx * w in that
 * pattern's bias; an input column outside the image (known at compile time: border chunks
 * are emitted with constant positions) reads Q = all zx. The result is the portable
 * kernel's acc exactly (same integer; wraparound in between cancels), so the requant is the
 * same exact-double form as qcc_dw_rq16, with the zero point fused into the fma when that
 * sum is exact too, and the clamp after the conversion when |acc * M| < 2^30 (checked).
 * Fixed mode runs the checked float form first (qcc_v16_rqc_y, qfast_rt.c) and the double
 * form only for a chunk with a lane near a rounding tie. */
#define DW_P 8 /* output pixels per register block (8 accumulators + 3 weights + Q + consts) */


static int dw_row_mask(const DwConv *k, int64_t oy) {
    int mask = 0;
    for (int r = 0; r < (int)k->KH; r++) {
        int64_t iy = oy * k->SH - k->PT + r * k->DH;
        mask |= (iy >= 0 && iy < k->H) << r;
    }
    return mask;
}

/* The requant factor of channel c (kd[c]) for the VNNI kernels' forms, whose accumulators
 * stay within |acc| <= bound: false if those forms are not exact there; clears f->fma when
 * fusing the zero point into the double fma would not be. */
bool dw_channel_k(const Node *n, const DwConv *k, int64_t c, double bound, DwFast *f,
                           double *kd) {
    const Multiplier *m = &n->q.mul[0];
    int mi = m->n > 1 ? (int)c : 0;
    if (!k->fixed) {
        kd[c] = m->f[mi];
        return true;
    }
    double rk = ldexp((double)m->m0[mi], m->shift[mi] - 31);
    double zpart = 255.0 * ldexp(1.0, 31 - m->shift[mi]);
    if (bound * rk >= 1073741824.0 || /* 2^30: the int32 clamp after conversion */
        bound * (double)m->m0[mi] >= 9007199254740992.0) /* 2^53: pack()'s bound */
        return false;
    if (bound * (double)m->m0[mi] + zpart >= 9007199254740992.0) /* 2^53 */
        f->fma = false;
    kd[c] = rk;
    f->accmax = bound > f->accmax ? bound : f->accmax;
    return true;
}

/* The requant factors as `prefix`kv (double in fixed mode, float in float mode) and, when
 * every k meets the checked float form's assumption, `prefix`kf (sets f->checked). */
void dw_put_k(CGen *cg, const DwConv *k, DwFast *f, const double *kd, int64_t count,
                       const char *prefix) {
    dw_put_array(cg, k->fixed ? "double" : "float", cg_fmt(cg, "%skv", prefix), count, NULL, kd,
              !k->fixed);
    f->checked = k->fixed;
    for (int64_t c = 0; c < k->C && f->checked; c++)
        f->checked = fastk_checked_k(kd[c]);
    if (f->checked)
        dw_put_array(cg, "float", cg_fmt(cg, "%skf", prefix), count, NULL, kd, true);
}

/* Eligibility, then the VNNI arrays (weights and bias per row pattern, requant factors). */
static bool fast_pack(CGen *cg, const Node *n, const DwConv *k, DwFast *f) {
    const Tensor *w = cg_tin(cg, n, 1), *x = cg_tin(cg, n, 0);
    if (cg->o->simd == CG_SIMD_NEON || k->KH > 4 || k->KW > 16)
        return false;
    memset(f, 0, sizeof *f);
    f->rows = (int)k->KH;
    f->nbf = (int)(k->C / 16);
    f->rem = (int)(k->C % 16);
    int nb = f->nbf + (f->rem > 0), KW = (int)k->KW, T = k->taps;
    int32_t zx = cg_zp(x);
    f->zxu = k->xs ? zx + 128 : zx;
    int seen[16];
    for (int i = 0; i < 16; i++)
        seen[i] = -1;
    for (int64_t oy = 0; oy < k->OH; oy++) {
        int m = dw_row_mask(k, oy);
        if (seen[m] < 0)
            seen[m] = f->npat++;
        f->pm[m] = seen[m];
    }
    Arena *a = cg->g->arena;
    int8_t *wv = arena_calloc(a, (size_t)f->npat * (size_t)nb * (size_t)KW * 64, 1);
    int32_t *bv = arena_calloc(a, (size_t)f->npat * (size_t)nb * 16, sizeof(int32_t));
    double *kd = arena_calloc(a, (size_t)nb * 16, sizeof(double));
    f->fma = true;
    for (int64_t c = 0; c < k->C; c++) {
        int32_t zw = w->q.n > 1 ? w->q.zero_point[c] : w->q.n == 1 ? w->q.zero_point[0] : 0;
        int64_t c3 = n->q.nbias > 1 ? n->q.c3[c] : n->q.nbias == 1 ? n->q.c3[0] : 0;
        double bound = fabs((double)c3);
        for (int t = 0; t < T; t++) {
            int64_t v = tensor_get_i(w, c * T + t) - zw;
            if (v < -128 || v > 127)
                return false; /* vpdpbusd's signed operand is one byte */
            bound += 255.0 * (double)llabs(v);
        }
        if (!dw_channel_k(n, k, c, bound, f, kd))
            return false;
        for (int p = 0; p < 16; p++) {
            int mask = -1;
            for (int i = 0; i < 16; i++)
                if (seen[i] == p)
                    mask = i;
            if (mask < 0)
                continue;
            int64_t b = c3;
            for (int t = 0; t < T; t++) {
                int r = t / KW, kx = t % KW;
                int64_t v = tensor_get_i(w, c * T + t) - zw;
                if (mask >> r & 1) {
                    b -= k->xs ? 128 * v : 0;
                    wv[((((int64_t)p * nb + c / 16) * KW + kx) * 16 + c % 16) * 4 + r] =
                        (int8_t)v;
                } else {
                    b += (int64_t)zx * v;
                }
            }
            /* modulo 2^32 like vpdpbusd's adds: the final acc is exact (it fits int32) */
            bv[((int64_t)p * nb) * 16 + c] = (int32_t)(uint32_t)b;
        }
    }
    sb_puts(cg->helpers, "#if defined(QCC_DW_VNNI)\n");
    cg_byte_array(cg->helpers, cg_fmt(cg, "n%d_dwwv", k->idx), wv,
                  (int64_t)f->npat * nb * KW * 64, true);
    cg_i32_array(cg, cg->helpers, cg_fmt(cg, "n%d_dwbv", k->idx), bv, f->npat * nb * 16);
    dw_put_k(cg, k, f, kd, nb * 16, cg_fmt(cg, "n%d_dw", k->idx));
    int32_t pm[16];
    for (int i = 0; i < 16; i++)
        pm[i] = f->pm[i];
    cg_i32_array(cg, cg->helpers, cg_fmt(cg, "n%d_dwpm", k->idx), pm, 1 << f->rows);
    sb_puts(cg->helpers, "#endif\n");
    return true;
}

/* Q of input column offset `off` (a C expression, bytes from the row pointers). */
static const char *fast_q(CGen *cg, const DwConv *k, const DwFast *f, bool masked,
                          const char *off) {
    const char *v = NULL;
    for (int r = 0; r < f->rows; r++) {
        const char *ld = masked ? cg_fmt(cg, "_mm_maskz_loadu_epi8(mk, r%d + (%s))", r, off)
                                : cg_fmt(cg, "_mm_loadu_si128((const __m128i *)(const void *)"
                                         "(r%d + (%s)))", r, off);
        v = r == 0 ? cg_fmt(cg, "_mm512_zextsi128_si512(%s)", ld)
                   : cg_fmt(cg, "_mm512_inserti32x4(%s, %s, %d)", v, ld, r);
    }
    v = cg_fmt(cg, "_mm512_permutexvar_epi8(perm, %s)", v);
    return k->xs ? cg_fmt(cg, "_mm512_xor_si512(%s, flip)", v) : v;
}

/* np output pixels from ox (compile-time ox0 >= 0, or the loop variable `ox` when -1, then
 * every column is inside the input). */
static void fast_chunk(CGen *cg, const DwConv *k, const DwFast *f, int ind, int64_t ox0, int np,
                       bool masked) {
    long long C = (long long)k->C;
    cg_line(cg, ind, "{ /* output pixels %s .. +%d */",
            ox0 < 0 ? "ox" : cg_fmt(cg, "%lld", (long long)ox0), np - 1);
    if (ox0 < 0)
        cg_line(cg, ind + 1, "const long o = ((long)ox * %lld - %lld) * %lld + c0;",
                (long long)k->SW, (long long)k->PL, C);
    else
        cg_line(cg, ind + 1, "const long o = %lldL + c0;",
                (long long)((ox0 * k->SW - k->PL) * k->C));
    for (int p = 0; p < np; p++)
        cg_line(cg, ind + 1, "__m512i a%d = bias;", p);
    int64_t span = (int64_t)(np - 1) * k->SW + (k->KW - 1) * k->DW + 1;
    for (int64_t j = 0; j < span; j++) {
        int uses = 0;
        for (int p = 0; p < np; p++)
            for (int kx = 0; kx < (int)k->KW; kx++)
                uses += p * k->SW + kx * k->DW == j;
        if (!uses)
            continue;
        int64_t col = ox0 * k->SW - k->PL + j;
        bool in = ox0 < 0 || (col >= 0 && col < k->W);
        cg_line(cg, ind + 1, "{");
        cg_line(cg, ind + 2, "const __m512i q = %s;",
                in ? fast_q(cg, k, f, masked, cg_fmt(cg, "o + %lld", (long long)(j * C))) : "qz");
        for (int p = 0; p < np; p++)
            for (int kx = 0; kx < (int)k->KW; kx++)
                if (p * k->SW + kx * k->DW == j)
                    cg_line(cg, ind + 2, "QCC_DPBUSD(a%d, q, w%d);", p, kx);
        cg_line(cg, ind + 1, "}");
    }
    const char *addr[DW_P], *mk[DW_P];
    for (int p = 0; p < np; p++) {
        addr[p] = cg_fmt(cg, "y + (%s + %d) * %lld + c0",
                         ox0 < 0 ? "ox" : cg_fmt(cg, "%lld", (long long)ox0), p, C);
        mk[p] = masked ? "mk" : "(__mmask16)0xffff";
    }
    dw_stores(cg, k, f, ind + 1, np, addr, mk, cg_fmt(cg, "const __m512d kl = "
                "_mm512_loadu_pd(n%d_dwkv + c0), kh = _mm512_loadu_pd(n%d_dwkv + c0 + 8);",
                k->idx, k->idx), false);
    cg_line(cg, ind, "}");
}

/* Requantize accumulators a0..a<np-1> and store each to addr[p] under lane mask mk[p]: the
 * checked float form first when f->checked (kc, czp, clo, chi), then, for a chunk with a lane
 * near a tie, the exact double form (kl, kh declared by `kdecl`); else the double form
 * (fixed) or qcc_requant_f's (float) directly. Where the sums stay below 2^24 (cvtepi32_ps
 * exact; |y| < 2^30 holds for every fast depthwise, dw_channel_k), whole vectors go four at
 * a time through the saturating checked form and one packed store (fastk_bound's reasoning:
 * no float clamp, lo/hi on the bytes, the two-rounding tie bound). */
void dw_stores(CGen *cg, const DwConv *k, const DwFast *f, int ind, int np,
               const char *const *addr, const char *const *mk, const char *kdecl,
               bool contiguous) {
    /* a clamp to the whole byte range is the saturating store's (vpmovsdb; vpmovusdb once
     * negatives are 0) */
    bool full = k->fixed && ((!k->yu && !strcmp(k->lo, "-128") && !strcmp(k->hi, "127")) ||
                             (k->yu && !strcmp(k->hi, "255")));
    const char *rq = !k->fixed ? "qcc_dw_rqv_f(a%d, kf, zp32, flo, fhi)"
                     : f->fma  ? "qcc_dw_rqv_fma(a%d, kl, kh, zpd, vlo, vhi, %d)"
                               : "qcc_dw_rqv_mul(a%d, kl, kh, zp32, vlo, vhi, %d)";
    const char *st = !full ? "" : k->yu ? "us" : "s";
    int xi = ind;
    if (f->checked) { /* the exact form below only for a chunk with a lane near a tie */
        int lo = atoi(k->lo), hi = atoi(k->hi), zp = atoi(k->zy);
        bool sat = f->accmax < 0x1p24;
        int packed = 0;
        for (int p = 0; sat && p + 4 <= np; p += 4) {
            bool whole = true;
            for (int i = p; i < p + 4; i++)
                whole = whole && !strcmp(mk[i], "(__mmask16)0xffff");
            if (!whole)
                break;
            packed = p + 4;
        }
        cg_line(cg, ind, "__m512 tie = _mm512_setzero_ps();");
        if (packed)
            cg_line(cg, ind, "__m512i v;");
        for (int p = 0; p < packed; p += 4) {
            cg_line(cg, ind, "v = qcc_v64_%s(qcc_v16_rqs_y(a%d, kc, czp, &tie), "
                    "qcc_v16_rqs_y(a%d, kc, czp, &tie),", k->yu ? "u8" : "s8", p, p + 1);
            cg_line(cg, ind + 4, "qcc_v16_rqs_y(a%d, kc, czp, &tie), qcc_v16_rqs_y(a%d, kc, "
                    "czp, &tie));", p + 2, p + 3);
            const char *v = fastk_byte_clamp(cg, "v", k->yu, lo, hi, false);
            if (contiguous)
                cg_line(cg, ind, "_mm512_storeu_si512((void *)(%s), %s);", addr[p], v);
            else
                cg_line(cg, ind, "qcc_v64_put4(%s, %s, %s, %s, %s);", addr[p], addr[p + 1],
                        addr[p + 2], addr[p + 3], v);
        }
        for (int p = packed; p < np; p++)
            cg_line(cg, ind, "_mm512_mask_cvtepi32_storeu_epi8(%s, %s, qcc_v16_rqc_y(a%d, kc, "
                    "czp, clo, chi, &tie));", addr[p], mk[p], p);
        if (sat) { /* fastk_bound's threshold */
            cg_line(cg, ind, "if (QCC_UNLIKELY(qcc_v16_near(tie, %af))) { /* near a tie: again, "
                    "exactly */", (double)fastk_near_exact(lo, hi, zp));
        } else {
            cg_line(cg, ind, "if (QCC_UNLIKELY(qcc_v16_tied(tie, %s, %s, %s))) { /* near a tie: "
                    "again, exactly */", k->zy, k->lo, k->hi);
        }
        xi = ind + 1;
        cg_line(cg, xi, "%s", kdecl);
    }
    for (int p = 0; p < np; p++) {
        const char *v = cg_fmt(cg, rq, p, full);
        if (full && k->yu) /* lo >= 0: max with lo, then the unsigned saturation is min 255 */
            v = cg_fmt(cg, "_mm512_max_epi32(%s, vlo)", v);
        cg_line(cg, xi, "_mm512_mask_cvt%sepi32_storeu_epi8(%s, %s, %s);", st, addr[p], mk[p], v);
    }
    if (f->checked)
        cg_line(cg, ind, "}");
}

/* Compile-time chunks covering output columns [x0, x1), at most DW_P pixels each. */
static void fast_const_chunks(CGen *cg, const DwConv *k, const DwFast *f, int ind, int64_t x0,
                              int64_t x1, bool masked) {
    for (int64_t ox = x0; ox < x1; ox += DW_P)
        fast_chunk(cg, k, f, ind, ox, (int)(x1 - ox < DW_P ? x1 - ox : DW_P), masked);
}

/* One 16-channel block of the row: weights, bias and factors into registers, then the
 * output columns: border chunks at constant positions, the interior in a loop. */
static void fast_block(CGen *cg, const DwConv *k, const DwFast *f, int ind, bool masked) {
    int id = k->idx;
    for (int kx = 0; kx < (int)k->KW; kx++)
        cg_line(cg, ind, "const __m512i w%d = _mm512_loadu_si512((const void *)(wp + c0 * %d + "
                "%d));", kx, (int)k->KW * 4, kx * 64);
    cg_line(cg, ind, "const __m512i bias = _mm512_loadu_si512((const void *)(bp + c0));");
    if (f->checked)
        cg_line(cg, ind, "const __m512 kc = _mm512_loadu_ps(n%d_dwkf + c0);", id);
    else if (k->fixed)
        cg_line(cg, ind, "const __m512d kl = _mm512_loadu_pd(n%d_dwkv + c0), kh = "
                "_mm512_loadu_pd(n%d_dwkv + c0 + 8);", id, id);
    else
        cg_line(cg, ind, "const __m512 kf = _mm512_loadu_ps(n%d_dwkv + c0);", id);
    /* interior: every column of every tap inside the input. A row of two chunks is written
     * out as two 8-pixel chunks, each with its border column, rather than the 1 + 8 + 7
     * pixels of border, loop and tail: fewer unpacked single-pixel stores (a 96-channel
     * 16x16 layer 4.76 -> 4.53 us; at 32 pixels the loop was as fast). */
    int64_t xl, xh;
    dw_interior(k, &xl, &xh);
    int64_t nloop = (xh - xl) / DW_P;
    if (nloop < 1 || k->OW == 2 * DW_P) {
        fast_const_chunks(cg, k, f, ind, 0, k->OW, masked);
        return;
    }
    fast_const_chunks(cg, k, f, ind, 0, xl, masked);
    cg_line(cg, ind, "for (int ox = %lld; ox < %lld; ox += %d)", (long long)xl,
            (long long)(xl + nloop * DW_P), DW_P);
    fast_chunk(cg, k, f, ind + 1, -1, DW_P, masked);
    fast_const_chunks(cg, k, f, ind, xl + nloop * DW_P, k->OW, masked);
}

/* The VNNI kernels' constant vectors: the int8 flip, and what dw_stores' forms read. */
void dw_consts(CGen *cg, const DwConv *k, const DwFast *f, int ind) {
    if (k->xs)
        cg_line(cg, ind, "const __m512i flip = _mm512_set1_epi8((char)-128); /* int8 -> u8 + 128 */");
    if (k->fixed && f->fma)
        cg_line(cg, ind, "const __m512d zpd = _mm512_set1_pd(%s.0);", k->zy);
    else
        cg_line(cg, ind, "const __m512i zp32 = _mm512_set1_epi32(%s);", k->zy);
    if (f->checked)
        cg_line(cg, ind, "const __m512 czp = _mm512_set1_ps(%s.0f), clo = _mm512_set1_ps(%s.0f), "
                "chi = _mm512_set1_ps(%s.0f);", k->zy, k->lo, k->hi);
    if (f->checked) /* unread when every store is a packed one (dw_stores) */
        cg_line(cg, ind, "(void)clo;\n%*s(void)chi;", ind * 4, "");
    if (k->fixed)
        cg_line(cg, ind, "const __m512i vlo = _mm512_set1_epi32(%s), vhi = _mm512_set1_epi32(%s);",
                k->lo, k->hi);
    else
        cg_line(cg, ind, "const __m512 flo = _mm512_set1_ps((float)(%s - %s)), fhi = "
                "_mm512_set1_ps((float)(%s - %s));", k->lo, k->zy, k->hi, k->zy);
}

/* n<idx>_dwrow: one output row from the KH input rows r0.. (any real row where outside the
 * image; the pattern's weights ignore it), pattern weights wp and bias bp. */
static void fast_row_fn(CGen *cg, const DwConv *k, const DwFast *f) {
    CGen sub = *cg;
    sub.sb = cg->helpers;
    CGen *s = &sub;
    sb_puts(s->sb, "#if defined(QCC_DW_VNNI)\n");
    const char *args = "";
    for (int r = 0; r < f->rows; r++)
        args = cg_fmt(cg, "%sconst %s *r%d, ", args, k->xt, r);
    cg_line(s, 0, "/* node %d: one output row of the depthwise conv (VNNI, %d rows per lane) */",
            k->idx, f->rows);
    cg_line(s, 0, "QCC_TILE void n%d_dwrow(%sconst int8_t *wp, const int32_t *bp, %s *y) {",
            k->idx, args, k->yt);
    const char *perm = "";
    for (int i = 0; i < 64; i++)
        perm = cg_fmt(cg, "%s%s%d", perm, i ? "," : "", (i % 4 < f->rows ? i % 4 : 0) * 16 + i / 4);
    cg_line(s, 1, "/* byte 4c + r of Q = byte c of row r */");
    cg_line(s, 1, "static const uint8_t perm_b[64] = {%s};", perm);
    cg_line(s, 1, "const __m512i perm = _mm512_loadu_si512((const void *)perm_b);");
    cg_line(s, 1, "const __m512i qz = _mm512_set1_epi8((char)%d); /* a column of zx */",
            f->zxu > 127 ? f->zxu - 256 : f->zxu);
    cg_line(s, 1, "(void)qz; /* unused without horizontal padding */");
    dw_consts(s, k, f, 1);
    if (f->nbf > 0) {
        cg_line(s, 1, "for (int c0 = 0; c0 < %d; c0 += 16) {", f->nbf * 16);
        fast_block(s, k, f, 2, false);
        cg_line(s, 1, "}");
    }
    if (f->rem > 0) {
        cg_line(s, 1, "{ /* the last %d channel(s) */", f->rem);
        cg_line(s, 2, "const int c0 = %d;", f->nbf * 16);
        cg_line(s, 2, "const __mmask16 mk = (__mmask16)0x%x;", (1u << f->rem) - 1u);
        fast_block(s, k, f, 2, true);
        cg_line(s, 1, "}");
    }
    cg_line(s, 0, "}");
    sb_puts(s->sb, "#endif\n");
}

/* The node body's VNNI branch: per output row, its input rows and pattern, then the row. */
static void fast_body(CGen *cg, const Node *n, const DwConv *k, const DwFast *f) {
    long long rowx = (long long)(k->W * k->C);
    int nb = f->nbf + (f->rem > 0);
    cg_line(cg, 1, "/* NHWC depthwise %lldx%lld, VNNI rows (n%d_dwrow); taps outside the input "
            "count zx (the real 0) */", (long long)k->KH, (long long)k->KW, k->idx);
    if (n->q.mul[0].n == 1) /* per-tensor: cg_requant spells literals, no arrays */
        ;
    else if (k->fixed) /* the multiplier arrays only the other branch reads */
        cg_line(cg, 1, "(void)%s; (void)%s;", cg_node_array(cg, n, "m0_0"),
                cg_node_array(cg, n, "shift_0"));
    else
        cg_line(cg, 1, "(void)%s;", cg_node_array(cg, n, "f_0"));
    cg_line(cg, 1, "for (int batch = 0; batch < %lld; batch++) {", (long long)k->N);
    cg_line(cg, 2, "const %s *xb = %s + batch * %lld;", k->xt, cg_in(cg, n, 0),
            (long long)(k->H * k->W * k->C));
    cg_line(cg, 2, "%s *yb = %s + batch * %lld;", k->yt, cg_out(cg, n, 0),
            (long long)(k->OH * k->OW * k->C));
    cg_line(cg, 2, "for (int out_y = 0; out_y < %lld; out_y++) {", (long long)k->OH);
    const char *args = "", *mask = "";
    for (int r = 0; r < f->rows; r++) {
        cg_line(cg, 3, "const int iy%d = %s, v%d = iy%d >= 0 && iy%d < %lld;", r,
                dw_row_expr(cg, k, r * k->DH), r, r, r, (long long)k->H);
        args = cg_fmt(cg, "%sxb + (v%d ? iy%d : 0) * %lld, ", args, r, r, rowx);
        mask = cg_fmt(cg, "%s%sv%d << %d", mask, r ? " | " : "", r, r);
    }
    cg_line(cg, 3, "const int pat = n%d_dwpm[%s];", k->idx, mask);
    cg_line(cg, 3, "n%d_dwrow(%sn%d_dwwv + pat * %d, n%d_dwbv + pat * %d, yb + out_y * %lld);",
            k->idx, args, k->idx, nb * (int)k->KW * 64, k->idx, nb * 16,
            (long long)(k->OW * k->C));
    cg_line(cg, 2, "}");
    cg_line(cg, 1, "}");
}

bool cg_qconv_depthwise_nhwc(CGen *cg, const Node *n) {
    const Tensor *x = cg_tin(cg, n, 0), *w = cg_tin(cg, n, 1), *y = cg_tout(cg, n, 0);
    if (!cg->helpers || !dtype_is_int8ish(y->dtype) || !dtype_is_int8ish(x->dtype) ||
        w->shape[1] != 1 || n->q.nmul < 1 || x->shape[3] != y->shape[3] ||
        w->shape[2] * w->shape[3] > 64)
        return false;
    DwConv k = dw_geometry(cg, n, false);
    dw_runtime(cg);
    DwFast f;
    bool fast = fast_pack(cg, n, &k, &f);
    if (!pack(cg, n, &k, fast))
        return false;
    if (fast) {
        fast_row_fn(cg, &k, &f);
        sb_puts(cg->sb, "#if defined(QCC_DW_VNNI)\n");
        fast_body(cg, n, &k, &f);
        sb_puts(cg->sb, "#else\n");
    }
    /* Interior output columns: every tap inside the input. */
    int64_t x_lo, x_hi;
    dw_interior(&k, &x_lo, &x_hi);
    long long C = (long long)k.C;
    cg_line(cg, 1, "/* NHWC depthwise %lldx%lld: acc[c] = c3[c] + sum_tap x * (w - zw[c]); taps "
            "outside the input read n%d_dwz (zx = %ld, the real 0) */", (long long)k.KH,
            (long long)k.KW, k.idx, (long)cg_zp(x));
    cg_line(cg, 1, "for (int batch = 0; batch < %lld; batch++) {", (long long)x->shape[0]);
    cg_line(cg, 2, "const %s *xb = %s + batch * %lld;", k.xt, cg_in(cg, n, 0),
            (long long)(k.H * k.W * k.C));
    cg_line(cg, 2, "%s *yb = %s + batch * %lld;", k.yt, cg_out(cg, n, 0),
            (long long)(k.OH * k.OW * k.C));
    cg_line(cg, 2, "for (int out_y = 0; out_y < %lld; out_y++) {", (long long)k.OH);
    cg_line(cg, 3, "const int in_y0 = out_y * %lld - %lld;", (long long)k.SH, (long long)k.PT);
    cg_line(cg, 3, "const int full_row = in_y0 >= 0 && in_y0 + %lld < %lld;",
            (long long)((k.KH - 1) * k.DH), (long long)k.H);
    cg_line(cg, 3, "for (int out_x = 0; out_x < %lld; out_x++) {", (long long)k.OW);
    cg_line(cg, 4, "const int in_x0 = out_x * %lld - %lld;", (long long)k.SW, (long long)k.PL);
    cg_line(cg, 4, "%s *yp = yb + (out_y * %lld + out_x) * %lld;", k.yt, (long long)k.OW, C);
    for (int t = 0; t < k.taps; t++)
        cg_line(cg, 4, "const %s *tap_%d;", k.xt, t);
    cg_line(cg, 4, "if (full_row && out_x >= %lld && out_x < %lld) {", (long long)x_lo,
            (long long)x_hi);
    cg_line(cg, 5, "const %s *xp = xb + (in_y0 * %lld + in_x0) * %lld;", k.xt, (long long)k.W, C);
    for (int t = 0; t < k.taps; t++) {
        int64_t ky = t / k.KW, kx = t % k.KW;
        cg_line(cg, 5, "tap_%d = xp + %lld;", t, (long long)((ky * k.DH * k.W + kx * k.DW) * k.C));
    }
    cg_line(cg, 4, "} else {");
    for (int t = 0; t < k.taps; t++) {
        int64_t ky = t / k.KW, kx = t % k.KW;
        const char *iy = cg_fmt(cg, "in_y0 + %lld", (long long)(ky * k.DH));
        const char *ix = cg_fmt(cg, "in_x0 + %lld", (long long)(kx * k.DW));
        cg_line(cg, 5, "tap_%d = %s >= 0 && %s < %lld && %s >= 0 && %s < %lld", t, iy, iy,
                (long long)k.H, ix, ix, (long long)k.W);
        cg_line(cg, 6, "? xb + ((%s) * %lld + %s) * %lld : n%d_dwz;", iy, (long long)k.W, ix, C,
                k.idx);
    }
    cg_line(cg, 4, "}");
    put_pixel(cg, n, &k, 4);
    cg_line(cg, 3, "}");
    cg_line(cg, 2, "}");
    cg_line(cg, 1, "}");
    if (fast)
        sb_puts(cg->sb, "#endif\n");
    return true;
}
