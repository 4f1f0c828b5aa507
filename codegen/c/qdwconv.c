/* qdwconv.c: the channels-last depthwise convolution of the C backend (group == Cin == Cout,
 * n->nhwc from passes/layout.c). Channels are the SIMD lanes: per output pixel, each tap adds
 * x[tap][c] * (w[c][tap] - zw[c]) to a vector of 16 (AVX-512) or 8 (AVX2) channels, then the
 * vector is requantized and stored; leftover channels and -DQCC_NO_SIMD builds run the same
 * sum in plain C with the runtime's qcc_requant_*. Interior pixels address their taps with
 * constant offsets; border pixels point taps outside the input at a row of zx (the real
 * zero), so no tap is ever tested inside the channel loop. Weights are packed at compile time
 * tap-major with the weight zero point subtracted, so no zw*sum(x) term remains:
 *   acc[c] = c3[c] + sum_t x[t][c] * (w[c][t] - zw[c])       (design sec. 3, exactly).
 * Bound: |x| <= 255 and |w - zw| <= 255, so |acc| <= |c3[c]| + taps * 65025 (checked below
 * against the double requantization's 2^53 limit; int32 safe for taps <= 2^15). */
#include "cgen.h"
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
    "}\n";

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

typedef struct DwConv {
    int64_t C, H, W, OH, OW, KH, KW, SH, SW, PT, PL, DH, DW; /* shapes and attributes */
    int taps;                   /* KH * KW */
    int idx;                    /* node index (array names n<idx>_dw...) */
    const char *xt, *yt;        /* element types */
    bool xs;                    /* int8 input (sign-extending loads) */
    bool yu;                    /* uint8 output */
    const char *zy, *lo, *hi;   /* output zero point and clamp bounds (C literals) */
    bool fixed;                 /* Q31 requant (double form) rather than float */
} DwConv;

/* One array into cg->helpers, 12 values a line. */
static void put_array(CGen *cg, const char *type, const char *name, int64_t count,
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
static bool pack(CGen *cg, const Node *n, const DwConv *k) {
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
    put_array(cg, "int16_t", cg_fmt(cg, "n%d_dw16", k->idx), T * C, w16, NULL, false);
    put_array(cg, "int32_t", cg_fmt(cg, "n%d_dwb", k->idx), C, bias, NULL, false);
    put_array(cg, k->xt, cg_fmt(cg, "n%d_dwz", k->idx), C, zrow, NULL, false);
    sb_puts(cg->helpers, "#if defined(QCC_DW_AVX512) || defined(QCC_DW_AVX2)\n");
    put_array(cg, "int32_t", cg_fmt(cg, "n%d_dw32", k->idx), T * C, w32, NULL, false);
    put_array(cg, k->fixed ? "double" : "float", cg_fmt(cg, "n%d_dwk", k->idx), C, NULL, rk,
              !k->fixed);
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

bool cg_qconv_depthwise_nhwc(CGen *cg, const Node *n) {
    const Tensor *x = cg_tin(cg, n, 0), *w = cg_tin(cg, n, 1), *y = cg_tout(cg, n, 0);
    const ConvAttr *a = &n->a.conv;
    if (!cg->helpers || !dtype_is_int8ish(y->dtype) || !dtype_is_int8ish(x->dtype) ||
        w->shape[1] != 1 || n->q.nmul < 1 || x->shape[3] != y->shape[3] ||
        w->shape[2] * w->shape[3] > 64)
        return false;
    DwConv k = {.C = x->shape[3], .H = x->shape[1], .W = x->shape[2], .OH = y->shape[1],
                .OW = y->shape[2], .KH = w->shape[2], .KW = w->shape[3], .SH = a->stride[0],
                .SW = a->stride[1], .PT = a->pad[0], .PL = a->pad[1], .DH = a->dilation[0],
                .DW = a->dilation[1]};
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
    if (!cg->helpers->data || !strstr(cg->helpers->data, DW_MARK))
    {
        sb_puts(cg->helpers, dw_rt_avx512);
        sb_puts(cg->helpers, dw_rt_avx2);
    }
    if (!pack(cg, n, &k))
        return false;
    /* Interior output columns: every tap inside the input. */
    int64_t x_lo = 0, x_hi = k.OW;
    while (x_lo < k.OW && x_lo * k.SW - k.PL < 0)
        x_lo++;
    while (x_hi > x_lo && (x_hi - 1) * k.SW - k.PL + (k.KW - 1) * k.DW >= k.W)
        x_hi--;
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
    return true;
}
