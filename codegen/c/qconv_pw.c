/* qconv_pw.c: the pointwise (1x1, stride 1, unpadded, group 1) quantized conv on NCHW
 * tensors, which passes/layout.c leaves NCHW where it reads an NCHW tensor
 * (layout_planar_pointwise). On NCHW a pointwise conv is the GEMM Y[m][p] = sum_k W[m][k] *
 * X[k][p] over the pixels p, so it needs no transpose of its ports (they were a fifth of a
 * 24->144 layer's time in channels-last form), which is how ONNX Runtime runs it too.
 *
 * AVX-512 VNNI: per block of 64 pixels, n<idx>_pwpack interleaves 4 input channels at a time
 * into [K/4][4 vectors][16 lanes][4 bytes] on the stack (4 row loads, 8 unpacks; the unpacks
 * work within 128-bit lanes, so vector q holds pixels 16L + 4q + j at lane 4L + j). A tile
 * then keeps 4 output channels x 4 vectors of sums, one vpdpbusd per vector and group with
 * the channel's 4 weights broadcast, and the saturating packs put the 64 bytes of a channel
 * back in pixel order (no vpermd), one store per channel. The requant is the dense kernels'
 * checked float form (fastk_bound), each channel redone exactly when one of its lanes comes
 * near a tie. The portable body is a loop over 64-pixel rows that gcc vectorises.
 *
 * Arithmetic as in qconv_fast.c: int8 inputs are read as x ^ 0x80 (uint8) with
 * c3p = c3 - 128 * sum(w); the sums are the integers of the portable NCHW kernel. */
#include "qfast_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct PwConv {
    int idx;                  /* node index (names n<idx>_*) */
    int64_t nb, k, m, n;      /* batch, input channels, output channels, pixels */
    int k4;                   /* groups of 4 input channels */
    int kp;                   /* input channels padded to 32 (portable rows) */
    int rm;                   /* output channels per tile */
    bool s8;                  /* int8 input, read as x ^ 0x80 */
    bool yu;                  /* uint8 output */
    const char *yt;           /* output element type */
    FastQuant fq;             /* requant arrays (channels padded to 16) */
} PwConv;

/* Weights as words of 4 (VNNI) and as rows (portable), and c3p. */
static void pw_tables(CGen *cg, const Node *n, PwConv *q) {
    const Tensor *w = cg_tin(cg, n, 1);
    const int8_t *wd = w->data;
    Arena *a = cg->g->arena;
    int32_t *words = arena_calloc(a, (size_t)(q->m * q->k4), sizeof(int32_t));
    int32_t *c3p = arena_calloc(a, (size_t)q->fq.lanes, sizeof(int32_t));
    for (int64_t m = 0; m < q->m; m++) {
        int64_t wsum = 0;
        for (int64_t k = 0; k < q->k; k++) {
            int8_t v = wd[m * q->k + k];
            wsum += v;
            words[m * q->k4 + k / 4] |= (int32_t)((uint32_t)(uint8_t)v << (8 * (k % 4)));
        }
        int32_t c3 = n->q.nbias > 0 ? n->q.c3[n->q.nbias > 1 ? m : 0] : 0;
        c3p[m] = (int32_t)(c3 - (q->s8 ? 128 * wsum : 0));
    }
    sb_printf(cg->helpers, "/* node %d: pointwise weights, 4 input channels per word (VNNI) "
              "or rows of %d bytes (%lld channels and zeros); c3p = c3%s */\n", q->idx, q->kp,
              (long long)q->k,
              q->s8 ? " - 128*sum(w) (int8 input read as x+128)" : "");
    sb_puts(cg->helpers, "#if defined(QCC_FAST_VNNI)\n");
    cg_i32_array(cg, cg->helpers, cg_fmt(cg, "n%d_pww", q->idx), words, (int)(q->m * q->k4));
    sb_puts(cg->helpers, "#else\n");
    int64_t m8 = (q->m + 7) / 8 * 8;
    int8_t *rows = arena_calloc(a, (size_t)(m8 * q->kp), 1);
    for (int64_t m = 0; m < q->m; m++)
        memcpy(rows + m * q->kp, wd + m * q->k, (size_t)q->k);
    cg_byte_array(cg->helpers, cg_fmt(cg, "n%d_pwp", q->idx), rows, m8 * q->kp, true);
    sb_puts(cg->helpers, "#endif\n");
    cg_i32_array(cg, cg->helpers, cg_fmt(cg, "n%d_c3p", q->idx), c3p, q->fq.lanes);
}

/* n<idx>_pwpack: 64 pixels of every input channel (x: channel 0, rows N apart; lanes past
 * mk are zero) into xp as the tiles read them. */
static void pw_pack_fn(CGen *cg, const PwConv *q) {
    CGen sub = *cg;
    sub.sb = cg->helpers;
    CGen *s = &sub;
    cg_line(s, 0, "/* node %d: 64 pixels of the %lld input channels, 4 channels per 32-bit lane "
            "(x ^ 0x80 for int8) */", q->idx, (long long)q->k);
    cg_line(s, 0, "QCC_TILE void n%d_pwpack(const uint8_t *x, uint8_t *xp, __mmask64 mk) {",
            q->idx);
    cg_line(s, 1, "__m512i r[4];");
    cg_line(s, 1, "for (int g = 0; g < %d; g++) {", q->k4);
    cg_line(s, 2, "for (int j = 0; j < 4; j++)");
    cg_line(s, 3, "r[j] = 4 * g + j < %lld ? %s_mm512_maskz_loadu_epi8(mk, x + (4 * g + j) * "
            "%lldL)%s : _mm512_setzero_si512();", (long long)q->k, q->s8 ? "_mm512_xor_si512(" : "",
            (long long)q->n, q->s8 ? ", _mm512_set1_epi8((char)-128))" : "");
    cg_line(s, 2, "const __m512i t0 = _mm512_unpacklo_epi8(r[0], r[1]), t1 = "
            "_mm512_unpackhi_epi8(r[0], r[1]);");
    cg_line(s, 2, "const __m512i t2 = _mm512_unpacklo_epi8(r[2], r[3]), t3 = "
            "_mm512_unpackhi_epi8(r[2], r[3]);");
    cg_line(s, 2, "_mm512_storeu_si512((void *)(xp + g * 256), _mm512_unpacklo_epi16(t0, t2));");
    cg_line(s, 2, "_mm512_storeu_si512((void *)(xp + g * 256 + 64), _mm512_unpackhi_epi16(t0, "
            "t2));");
    cg_line(s, 2, "_mm512_storeu_si512((void *)(xp + g * 256 + 128), _mm512_unpacklo_epi16(t1, "
            "t3));");
    cg_line(s, 2, "_mm512_storeu_si512((void *)(xp + g * 256 + 192), _mm512_unpackhi_epi16(t1, "
            "t3));");
    cg_line(s, 1, "}");
    cg_line(s, 0, "}");
}

/* The requantized int32 lanes of accumulator `acc` (constants rf, rx or kc/czp/clo/chi). */
static const char *pw_rq(CGen *cg, const FastQuant *fq, const char *acc) {
    if (fq->f)
        return cg_fmt(cg, "qcc_v16_rqf_apply(%s, &rf, %s)", acc, fq->zy);
    if (!fq->kf)
        return cg_fmt(cg, "qcc_v16_rq_apply(%s, &rx, %s)", acc, fq->zy);
    if (fq->sat)
        return cg_fmt(cg, "qcc_v16_rqs_y(%s, kc, czp, &tie)", acc);
    return cg_fmt(cg, "qcc_v16_rqc_y(%s, kc, czp, clo, chi, &tie)", acc);
}

/* Channel i of a tile: requantize its 4 vectors, pack, clamp, store under mk. */
static void pw_put(CGen *cg, int ind, const PwConv *q, const FastQuant *fq, int i, int V) {
    const char *r[4];
    for (int v = 0; v < 4; v++) /* vectors past V hold no pixel of the block */
        r[v] = v < V ? pw_rq(cg, fq, cg_fmt(cg, "a%d_%d", i, v)) : "_mm512_setzero_si512()";
    const char *pk = q->yu ? "qcc_v64_pk_u8" : "qcc_v64_pk_s8";
    cg_line(cg, ind, "v = %s(%s, %s,", pk, r[0], r[1]);
    cg_line(cg, 0, "%*s%s, %s);", ind * 4 + (int)strlen(pk) + 5, "", r[2], r[3]);
    int lo = atoi(fq->lo), hi = atoi(fq->hi);
    const char *v = "v";
    if (fq->kf && fq->sat) /* the packs saturate to the type; lo and hi on the bytes */
        v = fastk_byte_clamp(cg, v, q->yu, lo, hi, true);
    cg_line(cg, ind, "_mm512_mask_storeu_epi8(y + %d * %lldL, mk, %s);", i, (long long)q->n, v);
}

/* rx: the exact Q31 form's constants for channel m + i (qcc_v16_rq_q31_1). */
static void pw_exact_consts(CGen *cg, int ind, const FastQuant *fq, int i) {
    cg_line(cg, ind, "const qcc_rq16 rx = qcc_v16_rq_q31_1(%s[m + %d], %s[m + %d], %s, %s, %s);",
            fq->m0, i, fq->sh, i, fq->zy, fq->lo, fq->hi);
}

/* The name of the tile of R output channels and V vectors. */
static const char *pw_tile_name(CGen *cg, const PwConv *q, int R, int V) {
    return V == 4 ? cg_fmt(cg, "n%d_pwtile%d", q->idx, R) : cg_fmt(cg, "n%d_pwtile%dv%d", q->idx,
                                                                     R, V);
}

/* The tile of output channels m .. m+R-1 of one 64-pixel block (packed in xp), stored at y
 * (channel m's first pixel; channels N apart) under mk. V < 4 vectors serve a last block of
 * at most 4V pixels (pixel p of the block is lane p of vector 0 for p < 4, of vector 1 for
 * p < 8, ...: the pack's order). */
static void pw_tile_fn(CGen *cg, const PwConv *q, int R, int V) {
    CGen sub = *cg;
    sub.sb = cg->helpers;
    CGen *s = &sub;
    const FastQuant *fq = &q->fq;
    cg_line(s, 0, "/* node %d: %d output channel(s) x %d pixels */", q->idx, R, V * 16);
    cg_line(s, 0, "QCC_TILE void %s(const uint8_t *xp, int m, %s *y, __mmask64 mk) {",
            pw_tile_name(cg, q, R, V), q->yt);
    for (int i = 0; i < R; i++)
        for (int v = 0; v < V; v++)
            cg_line(s, 1, "__m512i a%d_%d = _mm512_set1_epi32(n%d_c3p[m + %d]);", i, v, q->idx, i);
    cg_line(s, 1, "for (int g = 0; g < %d; g++) {", q->k4);
    for (int v = 0; v < V; v++) {
        cg_line(s, 2, "__m512i x%d = _mm512_loadu_si512((const void *)(xp + g * 256 + %d));", v,
                v * 64);
        cg_line(s, 2, "QCC_PIN(x%d);", v);
    }
    for (int i = 0; i < R; i++) {
        cg_line(s, 2, "{");
        cg_line(s, 3, "const __m512i w = _mm512_set1_epi32(n%d_pww[(m + %d) * %d + g]);", q->idx,
                i, q->k4);
        StrBuf l;
        sb_init(&l);
        for (int v = 0; v < V; v++)
            sb_printf(&l, "%sQCC_DPBUSD(a%d_%d, x%d, w);", v ? " " : "", i, v, v);
        cg_line(s, 3, "%s", l.data);
        sb_free(&l);
        cg_line(s, 2, "}");
    }
    cg_line(s, 1, "}");
    cg_line(s, 1, "__m512i v;");
    int lo = atoi(fq->lo), hi = atoi(fq->hi);
    if (fq->kf) {
        cg_line(s, 1, "const __m512 czp = _mm512_set1_ps(%s.0f);", fq->zy);
        if (!fq->sat)
            cg_line(s, 1, "const __m512 clo = _mm512_set1_ps(%s.0f), chi = _mm512_set1_ps(%s.0f);",
                    fq->lo, fq->hi);
        if (fq->sat)
            fastk_byte_consts(s, 1, q->yu, lo, hi);
    }
    FastQuant exact = *fq;
    exact.kf = NULL;
    for (int i = 0; i < R; i++) {
        if (fq->f) {
            cg_line(s, 1, "{");
            cg_line(s, 2, "const qcc_rqf16 rf = {_mm512_setzero_si512(), _mm512_set1_ps(%s[m + "
                    "%d]), _mm512_set1_ps((float)(%s - %s)), _mm512_set1_ps((float)(%s - %s))};",
                    fq->f, i, fq->lo, fq->zy, fq->hi, fq->zy);
        } else if (!fq->kf) {
            cg_line(s, 1, "{");
            pw_exact_consts(s, 2, fq, i);
        } else {
            cg_line(s, 1, "{ /* channel m + %d: the checked float form, exactly again near a "
                    "tie */", i);
            cg_line(s, 2, "const __m512 kc = _mm512_set1_ps(%s[m + %d]);", fq->kf, i);
            cg_line(s, 2, "__m512 tie = _mm512_setzero_ps();");
        }
        pw_put(s, 2, q, fq, i, V);
        if (fq->kf) {
            cg_line(s, 2, "if (QCC_UNLIKELY(qcc_v16_near(tie, %af))) {", (double)fq->near);
            pw_exact_consts(s, 3, fq, i);
            pw_put(s, 3, q, &exact, i, V);
            cg_line(s, 2, "}");
        }
        cg_line(s, 1, "}");
    }
    cg_line(s, 0, "}");
}

/* The node body under QCC_FAST_VNNI: 64-pixel blocks (the last one masked), packed once,
 * then every output channel's tiles. */
static int pw_tail_vectors(const PwConv *q) {
    int64_t tail = q->n % 64;
    return tail == 0 || tail > 12 ? 4 : (int)((tail + 3) / 4);
}

/* Both bodies' loops over images and 64-pixel blocks (xb, yb, p0), left open at depth 3. */
static void pw_blocks_open(CGen *cg, const Node *n, const PwConv *q) {
    cg_line(cg, 1, "for (int batch = 0; batch < %lld; batch++) {", (long long)q->nb);
    cg_line(cg, 2, "const uint8_t *xb = (const uint8_t *)%s + batch * %lldL;", cg_in(cg, n, 0),
            (long long)(q->k * q->n));
    cg_line(cg, 2, "%s *yb = %s + batch * %lldL;", q->yt, cg_out(cg, n, 0),
            (long long)(q->m * q->n));
    cg_line(cg, 2, "for (int p0 = 0; p0 < %lld; p0 += 64) {", (long long)q->n);
}

static void pw_vnni_body(CGen *cg, const Node *n, const PwConv *q) {
    int64_t full = q->n / 64 * 64, m4 = q->m / q->rm * q->rm;
    int tv = pw_tail_vectors(q);
    cg_line(cg, 1, "uint8_t xp[%d]; /* the block's input as the tiles read it */", q->k4 * 256);
    pw_blocks_open(cg, n, q);
    if (full == q->n)
        cg_line(cg, 3, "const __mmask64 mk = ~(__mmask64)0;");
    else
        cg_line(cg, 3, "const __mmask64 mk = p0 < %lld ? ~(__mmask64)0 : (__mmask64)0x%llxULL;",
                (long long)full, (unsigned long long)((1ULL << (q->n - full)) - 1ULL));
    cg_line(cg, 3, "n%d_pwpack(xb + p0, xp, mk);", q->idx);
    for (int t = 0; t < (tv < 4 ? 2 : 1); t++) {
        int V = t ? tv : 4, ind = tv < 4 ? 4 : 3;
        if (tv < 4)
            cg_line(cg, 3, t ? "} else { /* the last %lld pixels */" : "if (p0 < %lld) {",
                    (long long)(t ? q->n - full : full));
        if (m4)
            cg_line(cg, ind, "for (int m = 0; m < %lld; m += %d)", (long long)m4, q->rm);
        if (m4)
            cg_line(cg, ind + 1, "%s(xp, m, yb + m * %lldL + p0, mk);", pw_tile_name(cg, q, q->rm, V),
                    (long long)q->n);
        if (m4 < q->m)
            cg_line(cg, ind, "%s(xp, %lld, yb + %lldL + p0, mk);",
                    pw_tile_name(cg, q, (int)(q->m - m4), V), (long long)m4,
                    (long long)(m4 * q->n));
    }
    if (tv < 4)
        cg_line(cg, 3, "}");
    cg_line(cg, 2, "}");
    cg_line(cg, 1, "}");
}

/* One line per pixel i < 2 and half of the 8 channels j: the dot products' steps (`sums`) or
 * the stores of their results into acc. */
static void pw_port_lines(CGen *cg, int ind, bool sums) {
    for (int h = 0; h < 8; h += 4)
        for (int i = 0; i < 2; i++) {
            StrBuf l;
            sb_init(&l);
            for (int j = h; j < h + 4; j++) {
                if (j > h)
                    sb_puts(&l, " ");
                if (sums)
                    sb_printf(&l, "a%d%d += u%d * w%d[k];", i, j, i, j);
                else
                    sb_printf(&l, "acc[%d][p + %d] = a%d%d;", j, i, i, j);
            }
            cg_line(cg, ind, "%s", l.data);
            sb_free(&l);
        }
}

/* The portable body: per block of 64 pixels, their input channels gathered pixel-major
 * into col (K padded to 32 with zeros), then 2 pixels x 8 output channels of u8 x s8 dot
 * products over it at a time (gcc vectorises these, as in qconv_fast.c's portable tiles),
 * then the vectorisable requant. */
static void pw_portable_body(CGen *cg, const Node *n, const PwConv *q) {
    const FastQuant *fq = &q->fq;
    cg_line(cg, 1, "uint8_t col[64][%d]; /* a block's pixels, channels contiguous */", q->kp);
    pw_blocks_open(cg, n, q);
    cg_line(cg, 3, "const int np = %lld - p0 < 64 ? %lld - p0 : 64;", (long long)q->n,
            (long long)q->n);
    cg_line(cg, 3, "for (int p = 0; p < 64; p++)");
    cg_line(cg, 4, "for (int k = 0; k < %d; k++)", q->kp);
    cg_line(cg, 5, "col[p][k] = p < np && k < %lld ? (uint8_t)(xb[k * %lldL + p0 + p]%s) : 0;",
            (long long)q->k, (long long)q->n, q->s8 ? " ^ 0x80" : "");
    cg_line(cg, 3, "for (int m = 0; m < %lld; m += 8) {", (long long)q->m);
    cg_line(cg, 4, "int32_t acc[8][64]; /* channel m + j, pixel p */");
    cg_line(cg, 4, "for (int p = 0; p < np; p += 2) {");
    cg_line(cg, 5, "const int8_t *w0 = n%d_pwp + m * %dL;", q->idx, q->kp);
    for (int j = 1; j < 8; j++)
        cg_line(cg, 5, "const int8_t *w%d = w0 + %d;", j, j * q->kp);
    cg_line(cg, 5, "const uint8_t *r0 = col[p], *r1 = col[p + 1];");
    cg_line(cg, 5, "int32_t a00 = 0, a01 = 0, a02 = 0, a03 = 0, a04 = 0, a05 = 0, a06 = 0, "
            "a07 = 0;");
    cg_line(cg, 5, "int32_t a10 = 0, a11 = 0, a12 = 0, a13 = 0, a14 = 0, a15 = 0, a16 = 0, "
            "a17 = 0;");
    cg_line(cg, 5, "for (int k = 0; k < %d; k++) {", q->kp);
    cg_line(cg, 6, "const int32_t u0 = r0[k], u1 = r1[k];");
    pw_port_lines(cg, 6, true);
    cg_line(cg, 5, "}");
    pw_port_lines(cg, 5, false);
    cg_line(cg, 4, "}");
    cg_line(cg, 4, "for (int j = 0; j < 8 && m + j < %lld; j++) {", (long long)q->m);
    cg_line(cg, 5, "%s *yr = yb + (m + j) * %lldL + p0;", q->yt, (long long)q->n);
    cg_line(cg, 5, "for (int p = 0; p < np; p++)");
    const char *acc = cg_fmt(cg, "acc[j][p] + n%d_c3p[m + j]", q->idx);
    if (fq->f)
        cg_line(cg, 6, "yr[p] = (%s)qcc_requant_f(%s, %s[m + j], %s, %s, %s);", q->yt, acc,
                fq->f, fq->zy, fq->lo, fq->hi);
    else
        cg_line(cg, 6, "yr[p] = (%s)qcc_port_rq31(%s, %s[m + j], %s[m + j], %s, %s, %s);",
                q->yt, acc, fq->m0, fq->sh, fq->zy, fq->lo, fq->hi);
    cg_line(cg, 4, "}");
    cg_line(cg, 3, "}");
    cg_line(cg, 2, "}");
    cg_line(cg, 1, "}");
}

/* CONV n on NCHW tensors, pointwise (layout_planar_pointwise): false, nothing written, when
 * the node does not qualify (the caller's generic loop then runs it). */
bool cg_qconv_pointwise_planar(CGen *cg, const Node *n) {
    const Tensor *x = cg_tin(cg, n, 0), *y = cg_tout(cg, n, 0);
    if (!cg->helpers || cg->o->simd == CG_SIMD_NEON || n->nhwc ||
        !layout_planar_pointwise(cg->g, n) || n->q.nmul < 1 || !dtype_is_int8ish(y->dtype) ||
        x->rank != 4)
        return false;
    PwConv q;
    memset(&q, 0, sizeof q);
    q.idx = (int)(n - cg->g->nodes);
    q.nb = x->shape[0];
    q.k = x->shape[1];
    q.m = y->shape[1];
    q.n = x->shape[2] * x->shape[3];
    q.k4 = (int)((q.k + 3) / 4);
    q.kp = (int)((q.k + 31) / 32 * 32);
    q.rm = 4; /* 5 and 6 measured slower (conv1x1 256@14: 71 and 110 against 65 us) */
    q.s8 = x->dtype == DT_INT8;
    q.yu = y->dtype == DT_UINT8;
    q.yt = dtype_ctype(y->dtype);
    const Multiplier *mul = &n->q.mul[0];
    if (mul->n != 1 && mul->n != q.m)
        return false;
    fastk_runtime(cg);
    fastk_quant(cg, n, (int)((q.m + 15) / 16 * 16), (int)q.m, false, &q.fq);
    fastk_bound(cg, n, q.k, &q.fq);
    if (!q.fq.f)
        fastk_port_rq(cg);
    pw_tables(cg, n, &q);
    sb_puts(cg->helpers, "#if defined(QCC_FAST_VNNI)\n");
    pw_pack_fn(cg, &q);
    int tv = pw_tail_vectors(&q);
    for (int V = 4; V >= tv; V = V == 4 && tv < 4 ? tv : 0) {
        if (q.m >= q.rm)
            pw_tile_fn(cg, &q, q.rm, V);
        if (q.m % q.rm)
            pw_tile_fn(cg, &q, (int)(q.m % q.rm), V);
        if (V == tv)
            break;
    }
    sb_puts(cg->helpers, "#endif\n");
    cg_line(cg, 1, "/* pointwise conv as the GEMM [%lld x %lld] x [%lld x %lld pixels] on NCHW "
            "(qconv_pw.c) */", (long long)q.m, (long long)q.k, (long long)q.k, (long long)q.n);
    sb_puts(cg->sb, "#if defined(QCC_FAST_VNNI)\n");
    pw_vnni_body(cg, n, &q);
    sb_puts(cg->sb, "#else\n");
    pw_portable_body(cg, n, &q);
    sb_puts(cg->sb, "#endif\n");
    return true;
}
