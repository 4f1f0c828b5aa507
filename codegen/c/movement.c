/* movement.c: C bodies of the dtype-generic data movement ops: Concat, Reshape, Flatten,
 * Squeeze, Unsqueeze, Identity (copies), Transpose, Pad (constant/edge/reflect/wrap),
 * Resize (nearest any dtype, tf_crop_and_resize also quantized per tensor; linear and cubic
 * float only), Gather, Slice; MaxPool and GlobalMaxPool come from fkernels_pool.c. Apart
 * from linear/cubic Resize (float) nothing here does arithmetic on the values, so quantized
 * tensors (equal input and output QParams) go through the same text. */
#include "cgen.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MV_BUF 1024 /* one index expression */

bool cg_pool_window(CGen *cg, const Node *n);     /* fkernels_pool.c */
bool cg_pool_global_max(CGen *cg, const Node *n); /* fkernels_pool.c */
bool cg_qpool_nhwc(CGen *cg, const Node *n);       /* qkernels_pool.c: channels-last pools */

static void mv_strides(const Tensor *t, int64_t *st) {
    int64_t s = 1;
    for (int d = t->rank - 1; d >= 0; d--) {
        st[d] = s;
        s *= t->shape[d];
    }
}

/* RESHAPE FLATTEN SQUEEZE UNSQUEEZE IDENTITY: the dense layout is unchanged, so a copy
 * (the memory plan may make it in place; copying an element onto itself is harmless). */
static bool mv_copy(CGen *cg, const Node *n) {
    const Tensor *y = cg_tensor(cg, n->out[0]);
    cg_line(cg, 1, "for (int i = 0; i < %lld; i++)", (long long)tensor_numel(y));
    cg_line(cg, 2, "%s[i] = %s[i];", cg_out(cg, n, 0), cg_in(cg, n, 0));
    return true;
}

/* CONCAT along a.axis.axis: each input is `outer` blocks of shape[axis]*inner elements that
 * land side by side in the output's blocks. */
static bool mv_concat(CGen *cg, const Node *n) {
    const Tensor *y = cg_tensor(cg, n->out[0]);
    int axis = (int)n->a.axis.axis;
    if (axis < 0 || axis >= y->rank)
        return diag_error(cg->d, "node '%s' (Concat): axis %d out of range", n->name, axis);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < y->rank; d++) {
        if (d < axis)
            outer *= y->shape[d];
        else if (d > axis)
            inner *= y->shape[d];
    }
    int64_t yblock = y->shape[axis] * inner, at = 0;
    for (int k = 0; k < n->nin; k++) {
        if (n->in[k] < 0)
            continue;
        const Tensor *x = cg_tensor(cg, n->in[k]);
        int64_t block = x->shape[axis] * inner;
        if (block == 0)
            continue;
        cg_line(cg, 1, "for (int outer = 0; outer < %lld; outer++) /* input %d */",
                (long long)outer, k);
        cg_line(cg, 2, "for (int i = 0; i < %lld; i++)", (long long)block);
        cg_line(cg, 3, "%s[outer * %lld + %lld + i] = %s[outer * %lld + i];", cg_out(cg, n, 0),
                (long long)yblock, (long long)at, cg_in(cg, n, k), (long long)block);
        at += block;
    }
    return true;
}

/* The 16x16 byte tile transpose of the blocked TRANSPOSE below, once per model.c. Four
 * rounds of interleaving row k with row k+8 (a perfect shuffle) transpose a 16x16 byte tile
 * in 64 SSE2 unpacks; the portable body is the plain double loop. */
static const char mv_tr16_text[] =
    "/* 16x16 tile of bytes: dst[j * dstride + i] = src[i * sstride + j] */\n"
    "#if !defined(QCC_NO_SIMD) && (defined(__SSE2__) || defined(_M_X64))\n"
    "#include <emmintrin.h>\n"
    "QCC_RT_INLINE void qcc_tr16(const uint8_t *src, long sstride, uint8_t *dst, long dstride) {\n"
    "    __m128i a[16], b[16];\n"
    "    for (int i = 0; i < 16; i++)\n"
    "        a[i] = _mm_loadu_si128((const __m128i *)(const void *)(src + i * sstride));\n"
    "    for (int round = 0; round < 4; round++) {\n"
    "        for (int k = 0; k < 8; k++) {\n"
    "            b[2 * k] = _mm_unpacklo_epi8(a[k], a[k + 8]);\n"
    "            b[2 * k + 1] = _mm_unpackhi_epi8(a[k], a[k + 8]);\n"
    "        }\n"
    "        for (int i = 0; i < 16; i++)\n"
    "            a[i] = b[i];\n"
    "    }\n"
    "    for (int i = 0; i < 16; i++)\n"
    "        _mm_storeu_si128((__m128i *)(void *)(dst + i * dstride), a[i]);\n"
    "}\n"
    "#else\n"
    "QCC_RT_INLINE void qcc_tr16(const uint8_t *src, long sstride, uint8_t *dst, long dstride) {\n"
    "    for (int i = 0; i < 16; i++)\n"
    "        for (int j = 0; j < 16; j++)\n"
    "            dst[j * dstride + i] = src[i * sstride + j];\n"
    "}\n"
    "#endif\n\n";

/* The wide tiles of the same kernel, once per model.c: with AVX-512BW the four unpack rounds
 * run on 64-byte registers, i.e. on four 16x16 tiles at once (one per 128-bit lane), so a
 * 1 KB tile costs 16 loads, 64 unpacks and 64 (16x64) or 16 (64x16) stores instead of 4 x
 * 96 SSE2 operations (the boundary transposes of a 112x112x32 layer are ~12% of its
 * model_run). Without AVX-512BW each is four qcc_tr16 calls: the same bytes either way. */
static const char mv_tr64_text[] =
    "#if !defined(QCC_NO_SIMD) && defined(__AVX512BW__)\n"
    "#include <immintrin.h>\n"
    "/* the 4 rounds of row k with row k+8, lane by lane: a[i] lane l = column i of lane l */\n"
    "QCC_RT_INLINE void qcc_tr_rounds64(__m512i a[16]) {\n"
    "    __m512i b[16];\n"
    "    for (int round = 0; round < 4; round++) {\n"
    "        for (int k = 0; k < 8; k++) {\n"
    "            b[2 * k] = _mm512_unpacklo_epi8(a[k], a[k + 8]);\n"
    "            b[2 * k + 1] = _mm512_unpackhi_epi8(a[k], a[k + 8]);\n"
    "        }\n"
    "        for (int i = 0; i < 16; i++)\n"
    "            a[i] = b[i];\n"
    "    }\n"
    "}\n"
    "/* 16 rows x 64 columns: dst[j * dstride + i] = src[i * sstride + j] */\n"
    "QCC_RT_INLINE void qcc_tr16x64(const uint8_t *src, long sstride, uint8_t *dst,\n"
    "                                long dstride) {\n"
    "    __m512i a[16];\n"
    "    for (int i = 0; i < 16; i++)\n"
    "        a[i] = _mm512_loadu_si512((const void *)(src + i * sstride));\n"
    "    qcc_tr_rounds64(a);\n"
    "    for (int i = 0; i < 16; i++) {\n"
    "        _mm_storeu_si128((__m128i *)(void *)(dst + i * dstride),\n"
    "                         _mm512_castsi512_si128(a[i]));\n"
    "        _mm_storeu_si128((__m128i *)(void *)(dst + (16 + i) * dstride),\n"
    "                         _mm512_extracti32x4_epi32(a[i], 1));\n"
    "        _mm_storeu_si128((__m128i *)(void *)(dst + (32 + i) * dstride),\n"
    "                         _mm512_extracti32x4_epi32(a[i], 2));\n"
    "        _mm_storeu_si128((__m128i *)(void *)(dst + (48 + i) * dstride),\n"
    "                         _mm512_extracti32x4_epi32(a[i], 3));\n"
    "    }\n"
    "}\n"
    "/* 64 rows x 16 columns: lane l of a[i] holds row 16l + i */\n"
    "QCC_RT_INLINE void qcc_tr64x16(const uint8_t *src, long sstride, uint8_t *dst,\n"
    "                                long dstride) {\n"
    "    __m512i a[16];\n"
    "    for (int i = 0; i < 16; i++) {\n"
    "        const uint8_t *s = src + i * sstride;\n"
    "        __m512i v =\n"
    "            _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(const void *)s));\n"
    "        s += 16 * sstride;\n"
    "        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)s), 1);\n"
    "        s += 16 * sstride;\n"
    "        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)s), 2);\n"
    "        s += 16 * sstride;\n"
    "        a[i] = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)s), 3);\n"
    "    }\n"
    "    qcc_tr_rounds64(a);\n"
    "    for (int i = 0; i < 16; i++)\n"
    "        _mm512_storeu_si512((void *)(dst + i * dstride), a[i]);\n"
    "}\n"
    "#else\n"
    "QCC_RT_INLINE void qcc_tr16x64(const uint8_t *src, long sstride, uint8_t *dst,\n"
    "                                long dstride) {\n"
    "    for (int q = 0; q < 4; q++)\n"
    "        qcc_tr16(src + 16 * q, sstride, dst + 16 * q * dstride, dstride);\n"
    "}\n"
    "QCC_RT_INLINE void qcc_tr64x16(const uint8_t *src, long sstride, uint8_t *dst,\n"
    "                                long dstride) {\n"
    "    for (int q = 0; q < 4; q++)\n"
    "        qcc_tr16(src + 16 * q * sstride, sstride, dst + 16 * q, dstride);\n"
    "}\n"
    "#endif\n\n";

/* TRANSPOSE of one-byte elements that swaps two blocks of axes ([N][R][S] -> [N][S][R]: the
 * NCHW <-> NHWC conversions of passes/layout.c): 16x16 tiles, edges in overlapping tiles. False
 * when the perm is not of that form (the generic loop runs). */
static bool mv_transpose_blocked(CGen *cg, const Node *n, const int64_t *perm) {
    const Tensor *x = cg_tensor(cg, n->in[0]), *y = cg_tensor(cg, n->out[0]);
    int r = y->rank;
    if (!cg->helpers || dtype_size(x->dtype) != 1 || r < 2)
        return false;
    /* perm = [0..b-1, b+k..r-1, b..b+k-1]: batch axes, then S axes, then R axes */
    int b = 0;
    while (b < r && perm[b] == b)
        b++;
    if (b == r)
        return false;
    int split = (int)perm[b]; /* first axis of S in x */
    for (int d = b; d < r; d++) {
        int64_t want = d < b + (r - split) ? split + (d - b) : b + (d - b - (r - split));
        if (perm[d] != want)
            return false;
    }
    int64_t N = 1, R = 1, S = 1;
    for (int d = 0; d < r; d++) {
        if (d < b)
            N *= x->shape[d];
        else if (d < split)
            R *= x->shape[d];
        else
            S *= x->shape[d];
    }
    if (R < 16 || S < 16)
        return false;
    if (!cg->helpers->data || !strstr(cg->helpers->data, "qcc_tr16(")) {
        sb_puts(cg->helpers, mv_tr16_text);
        sb_puts(cg->helpers, mv_tr64_text);
    }
    int64_t R16 = R / 16 * 16, S16 = S / 16 * 16;
    /* 64x16 tiles (64-byte stores) when there are 64 rows, else 16x64 ones (measured 5%
     * faster on [144][3136]), 16x16 ones for what is left */
    int64_t R64 = R / 64 * 64, S64 = R64 ? 0 : S / 64 * 64;
    cg_line(cg, 1, "/* [%lld][%lld][%lld] -> [%lld][%lld][%lld] in 16x16 tiles */", (long long)N,
            (long long)R, (long long)S, (long long)N, (long long)S, (long long)R);
    cg_line(cg, 1, "for (int batch = 0; batch < %lld; batch++) {", (long long)N);
    cg_line(cg, 2, "const uint8_t *xb = (const uint8_t *)%s + batch * %lld;", cg_in(cg, n, 0),
            (long long)(R * S));
    cg_line(cg, 2, "uint8_t *yb = (uint8_t *)%s + batch * %lld;", cg_out(cg, n, 0),
            (long long)(R * S));
    if (S64 || R64) {
        cg_line(cg, 2, "for (int s0 = 0; s0 < %lld; s0 += %d)", (long long)(S64 ? S64 : S16),
                S64 ? 64 : 16);
        cg_line(cg, 3, "for (int r0 = 0; r0 < %lld; r0 += %d)", (long long)(S64 ? R16 : R64),
                S64 ? 16 : 64);
        cg_line(cg, 4, "qcc_tr%s(xb + r0 * %lldL + s0, %lld, yb + s0 * %lldL + r0, %lld);",
                S64 ? "16x64" : "64x16", (long long)S, (long long)S, (long long)R, (long long)R);
    }
    int64_t s_lo = S64, r_lo = R64; /* the 16x16 tiles: columns from s_lo, rows from r_lo */
    if (S64 ? S64 < S16 : R64 ? R64 < R16 : true) {
        cg_line(cg, 2, "for (int s0 = %lld; s0 < %lld; s0 += 16)", (long long)s_lo,
                (long long)S16);
        cg_line(cg, 3, "for (int r0 = %lld; r0 < %lld; r0 += 16)", (long long)r_lo,
                (long long)R16);
        cg_line(cg, 4, "qcc_tr16(xb + r0 * %lldL + s0, %lld, yb + s0 * %lldL + r0, %lld);",
                (long long)S, (long long)S, (long long)R, (long long)R);
    }
    /* the last 16 columns and rows as whole tiles that overlap the ones before: they write
     * the same bytes again, and no byte is left to a scalar loop (8 of 24 channels were
     * 30% of a [24][3136] transpose) */
    if (S16 < S) {
        cg_line(cg, 2, "for (int r0 = 0; r0 < %lld; r0 += 16)", (long long)R16);
        cg_line(cg, 3, "qcc_tr16(xb + r0 * %lldL + %lld, %lld, yb + %lldL + r0, %lld);",
                (long long)S, (long long)(S - 16), (long long)S, (long long)((S - 16) * R),
                (long long)R);
    }
    if (R16 < R) {
        int64_t S64r = S / 64 * 64;
        if (S64r) {
            cg_line(cg, 2, "for (int s0 = 0; s0 < %lld; s0 += 64)", (long long)S64r);
            cg_line(cg, 3, "qcc_tr16x64(xb + %lldL + s0, %lld, yb + s0 * %lldL + %lld, %lld);",
                    (long long)((R - 16) * S), (long long)S, (long long)R, (long long)(R - 16),
                    (long long)R);
        }
        if (S64r < S16) {
            cg_line(cg, 2, "for (int s0 = %lld; s0 < %lld; s0 += 16)", (long long)S64r,
                    (long long)S16);
            cg_line(cg, 3, "qcc_tr16(xb + %lldL + s0, %lld, yb + s0 * %lldL + %lld, %lld);",
                    (long long)((R - 16) * S), (long long)S, (long long)R, (long long)(R - 16),
                    (long long)R);
        }
        if (S16 < S)
            cg_line(cg, 2, "qcc_tr16(xb + %lldL, %lld, yb + %lldL, %lld);",
                    (long long)((R - 16) * S + S - 16), (long long)S,
                    (long long)((S - 16) * R + R - 16), (long long)R);
    }
    cg_line(cg, 1, "}");
    return true;
}

/* TRANSPOSE: output axis d is input axis perm[d]; loops over the output in order. A perm
 * that keeps the order of the axes longer than 1 moves no byte (a [1,1,1,C] pool result to
 * [1,C,1,1]) and is a copy; byte tensors swapping two axis blocks take the tiled kernel. */
static bool mv_transpose(CGen *cg, const Node *n) {
    const Tensor *x = cg_tensor(cg, n->in[0]), *y = cg_tensor(cg, n->out[0]);
    int64_t perm[QCC_MAX_RANK], xst[QCC_MAX_RANK], yst[QCC_MAX_RANK];
    for (int d = 0; d < y->rank; d++)
        perm[d] = n->a.axes.naxes == y->rank ? n->a.axes.axes[d] : y->rank - 1 - d;
    int64_t last = -1;
    bool copy = true;
    for (int d = 0; d < y->rank && copy; d++) {
        if (x->shape[perm[d]] == 1)
            continue;
        copy = perm[d] > last;
        last = perm[d];
    }
    if (copy)
        return mv_copy(cg, n);
    if (mv_transpose_blocked(cg, n, perm))
        return true;
    mv_strides(x, xst);
    mv_strides(y, yst);
    char xi[MV_BUF] = "", yi[MV_BUF] = "", var[16];
    for (int d = 0; d < y->rank; d++) {
        cg_line(cg, 1 + d, "for (int d%d = 0; d%d < %lld; d%d++)%s", d, d,
                (long long)y->shape[d], d, d + 1 < y->rank ? " {" : "");
        snprintf(var, sizeof var, "d%d", d);
        cg_idx_add(xi, sizeof xi, var, y->shape[d] > 1 ? xst[perm[d]] : 0);
        cg_idx_add(yi, sizeof yi, var, y->shape[d] > 1 ? yst[d] : 0);
    }
    cg_line(cg, 1 + y->rank, "%s[%s] = %s[%s];", cg_out(cg, n, 0), yi[0] ? yi : "0",
            cg_in(cg, n, 0), xi[0] ? xi : "0");
    for (int d = y->rank - 2; d >= 0; d--)
        cg_line(cg, 1 + d, "}");
    return true;
}

/* PAD: output index o along axis d reads input o - pad_begin[d], mapped back inside the
 * input by the mode (edge clamps, reflect mirrors without repeating the border, wrap is
 * modular) or, for constant, replaced by the value. Negative pads crop. The constant of a
 * quantized tensor is its zero point (the real 0); others use a.pad.value. */
static bool mv_pad(CGen *cg, const Node *n) {
    const Tensor *x = cg_tensor(cg, n->in[0]), *y = cg_tensor(cg, n->out[0]);
    const PadAttr *a = &n->a.pad;
    int r = y->rank;
    int64_t xst[QCC_MAX_RANK], yst[QCC_MAX_RANK];
    mv_strides(x, xst);
    mv_strides(y, yst);
    char value[64];
    if (y->dtype == DT_FLOAT) {
        StrBuf sb;
        sb_init(&sb);
        sb_float(&sb, a->value);
        snprintf(value, sizeof value, "%s", sb.data);
        sb_free(&sb);
    } else {
        /* ONNX semantics on integers: the literal value (lower_qdq stores the zero point here
         * when it moves a Pad of real 0 onto the integer side) */
        snprintf(value, sizeof value, "%lld", (long long)a->value);
    }
    char xi[MV_BUF] = "", yi[MV_BUF] = "", inside[MV_BUF] = "", var[16];
    for (int d = 0; d < r; d++) {
        int64_t ext = x->shape[d], pb = a->pads[d];
        int ind = 1 + d;
        cg_line(cg, ind, "for (int d%d = 0; d%d < %lld; d%d++) {", d, d,
                (long long)y->shape[d], d);
        snprintf(var, sizeof var, "d%d", d);
        cg_idx_add(yi, sizeof yi, var, y->shape[d] > 1 ? yst[d] : 0);
        bool moved = pb != 0 || a->pads[r + d] != 0;
        if (!moved) {
            cg_idx_add(xi, sizeof xi, var, ext > 1 ? xst[d] : 0);
            continue;
        }
        cg_line(cg, ind + 1, "%sint in%d = d%d %s %lld;", a->mode == PAD_CONSTANT ? "const " : "",
                d, d, pb >= 0 ? "-" : "+", (long long)(pb >= 0 ? pb : -pb));
        switch (a->mode) {
        case PAD_CONSTANT: {
            size_t len = strlen(inside);
            snprintf(inside + len, sizeof inside - len, "%sin%d >= 0 && in%d < %lld",
                     len ? " && " : "", d, d, (long long)ext);
            break;
        }
        case PAD_EDGE:
            cg_line(cg, ind + 1, "in%d = in%d < 0 ? 0 : in%d > %lld ? %lld : in%d;", d, d, d,
                    (long long)(ext - 1), (long long)(ext - 1), d);
            break;
        case PAD_REFLECT: /* pads smaller than the axis (ONNX requires it) reflect once */
            if (ext == 1) {
                cg_line(cg, ind + 1, "in%d = 0;", d);
                break;
            }
            cg_line(cg, ind + 1, "while (in%d < 0 || in%d > %lld)", d, d, (long long)(ext - 1));
            cg_line(cg, ind + 2, "in%d = in%d < 0 ? -in%d : %lld - in%d;", d, d, d,
                    (long long)(2 * (ext - 1)), d);
            break;
        case PAD_WRAP:
            cg_line(cg, ind + 1, "in%d = ((in%d %% %lld) + %lld) %% %lld;", d, d, (long long)ext,
                    (long long)ext, (long long)ext);
            break;
        default:
            return diag_error(cg->d, "node '%s' (Pad): unsupported mode", n->name);
        }
        snprintf(var, sizeof var, "in%d", d);
        cg_idx_add(xi, sizeof xi, var, ext > 1 ? xst[d] : 0);
    }
    if (!xi[0])
        snprintf(xi, sizeof xi, "0");
    if (inside[0])
        cg_line(cg, 1 + r, "%s[%s] = %s ? %s[%s] : %s;", cg_out(cg, n, 0), yi[0] ? yi : "0",
                inside, cg_in(cg, n, 0), xi, value);
    else
        cg_line(cg, 1 + r, "%s[%s] = %s[%s];", cg_out(cg, n, 0), yi[0] ? yi : "0",
                cg_in(cg, n, 0), xi);
    for (int d = r - 1; d >= 0; d--)
        cg_line(cg, 1 + d, "}");
    return true;
}

/* Input coordinate of output index o along axis d (ONNX Resize), in double like the
 * ONNX reference implementation so nearest ties land on the same side. out_len is the
 * real-valued output length in*scale (not the rounded size), as the reference uses it. */
static double mv_resize_coord(const ResizeAttr *a, int d, double o, double scale, int64_t in,
                              double out_len) {
    double s = a->roi_start[d], e = a->roi_end[d], span = (double)(in - 1);
    switch (a->coord) {
    case CT_ASYMMETRIC: return o / scale;
    case CT_ALIGN_CORNERS: return out_len == 1.0 ? 0.0 : o * span / (out_len - 1.0);
    case CT_PYTORCH_HALF_PIXEL: return out_len == 1.0 ? -0.5 : (o + 0.5) / scale - 0.5;
    case CT_TF_HALF_PIXEL_FOR_NN: return (o + 0.5) / scale;
    case CT_TF_CROP_AND_RESIZE: /* o spans the roi box [s, e] of the input's corners */
        return (out_len == 1.0 ? (e - s) * span / 2.0 : o * (e - s) * span / (out_len - 1.0)) +
               s * span;
    default: return (o + 0.5) / scale - 0.5; /* CT_HALF_PIXEL */
    }
}

static int64_t mv_clamp(int64_t v, int64_t hi) {
    return v < 0 ? 0 : v > hi ? hi : v;
}

#define MV_CUBIC_TAPS 4 /* cubic reads 4 neighbours per axis */

/* The 4 cubic taps of input coordinate c: source indices (clamped: the input is edge-padded)
 * and weights, as the ONNX reference picks them: the 4 indices nearest to c within the input
 * padded by 2 on each side, the lower one on ties, with t = distance to the second tap in
 * (0, 1]; the Keys kernel with coefficient A; with exclude_outside the taps off the input
 * get weight 0 and the rest are scaled to sum to 1. */
static void mv_cubic_taps(const ResizeAttr *a, double c, int64_t in, int64_t *idx, float *w) {
    double fl = floor(c), t = c == fl ? 1.0 : c - fl, u = 1.0 - t, A = (double)a->cubic_a;
    int64_t start = (int64_t)fl - (c == fl ? 2 : 1);
    start = start < -2 ? -2 : start > in - 2 ? in - 2 : start;
    double k[MV_CUBIC_TAPS] = {
        ((A * (t + 1.0) - 5.0 * A) * (t + 1.0) + 8.0 * A) * (t + 1.0) - 4.0 * A,
        ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0,
        ((A + 2.0) * u - (A + 3.0)) * u * u + 1.0,
        ((A * (u + 1.0) - 5.0 * A) * (u + 1.0) + 8.0 * A) * (u + 1.0) - 4.0 * A,
    };
    double sum = 0.0;
    for (int i = 0; i < MV_CUBIC_TAPS; i++) {
        int64_t at = start + i;
        if (a->exclude_outside && (at < 0 || at >= in))
            k[i] = 0.0;
        sum += k[i];
    }
    for (int i = 0; i < MV_CUBIC_TAPS; i++) {
        idx[i] = mv_clamp(start + i, in - 1);
        w[i] = (float)(a->exclude_outside && sum != 0.0 ? k[i] / sum : k[i]);
    }
}

/* Emits `static const T name[count] = {...};` wrapped at 12 values per line. */
static void mv_table_i(CGen *cg, int ind, const char *name, const int64_t *v, int64_t count) {
    cg_line(cg, ind, "static const int %s[%lld] = {", name, (long long)count);
    for (int64_t i = 0; i < count; i += 12) {
        char line[MV_BUF] = "";
        for (int64_t j = i; j < count && j < i + 12; j++) {
            size_t len = strlen(line);
            snprintf(line + len, sizeof line - len, "%lld,%s", (long long)v[j],
                     j + 1 < count && j + 1 < i + 12 ? " " : "");
        }
        cg_line(cg, ind + 1, "%s", line);
    }
    cg_line(cg, ind, "};");
}

static void mv_table_f(CGen *cg, int ind, const char *name, const float *v, int64_t count) {
    cg_line(cg, ind, "static const float %s[%lld] = {", name, (long long)count);
    for (int64_t i = 0; i < count; i += 6) {
        StrBuf sb;
        sb_init(&sb);
        sb_puts(&sb, "");
        for (int64_t j = i; j < count && j < i + 6; j++) {
            sb_float(&sb, v[j]);
            sb_puts(&sb, j + 1 < count && j + 1 < i + 6 ? ", " : ",");
        }
        cg_line(cg, ind + 1, "%s", sb.data);
        sb_free(&sb);
    }
    cg_line(cg, ind, "};");
}

/* Emits `if (outside2[d2] || ...) { y[yi] = value; continue; }` for tf_crop_and_resize:
 * a sample outside the input on any axis is the extrapolation value (the reference returns
 * it from the 1-d step, and the other axes' weights sum to 1 around it). */
static void mv_resize_outside(CGen *cg, const Node *n, int ind, const bool *ext, int r,
                              const char *yi) {
    char cond[MV_BUF] = "";
    for (int d = 0; d < r; d++) {
        size_t len = strlen(cond);
        if (ext[d])
            snprintf(cond + len, sizeof cond - len, "%soutside%d[d%d]", len ? " || " : "", d, d);
    }
    if (!cond[0])
        return;
    const Tensor *y = cg_tensor(cg, n->out[0]);
    float v = n->a.resize.extrapolation;
    StrBuf sb;
    sb_init(&sb);
    if (y->dtype == DT_FLOAT) {
        sb_float(&sb, v);
    } else { /* quantized nearest: the value in the output's integer domain, as Q would */
        double lo = y->dtype == DT_INT8 ? -128.0 : 0.0, hi = y->dtype == DT_INT8 ? 127.0 : 255.0;
        double q = nearbyint((double)v / (double)y->q.scale[0]) + (double)y->q.zero_point[0];
        sb_printf(&sb, "%d", (int)(q < lo ? lo : q > hi ? hi : q));
    }
    cg_line(cg, ind, "if (%s) {", cond);
    cg_line(cg, ind + 1, "%s[%s] = %s;", cg_out(cg, n, 0), yi, sb.data);
    cg_line(cg, ind + 1, "continue;");
    cg_line(cg, ind, "}");
    sb_free(&sb);
}

/* Cubic body: sum over the 4^nmoved taps of the weight product times the tap's value. */
static void mv_resize_cubic(CGen *cg, const Node *n, int ind, const bool *moved,
                            const int64_t *xst) {
    const Tensor *x = cg_tensor(cg, n->in[0]);
    char xi[MV_BUF] = "", w[MV_BUF] = "", var[48];
    cg_line(cg, ind, "float acc = 0.0f;");
    for (int d = 0; d < x->rank; d++) {
        if (moved[d]) {
            cg_line(cg, ind++, "for (int t%d = 0; t%d < %d; t%d++)", d, d, MV_CUBIC_TAPS, d);
            snprintf(var, sizeof var, "src%d[d%d * %d + t%d]", d, d, MV_CUBIC_TAPS, d);
            size_t len = strlen(w);
            snprintf(w + len, sizeof w - len, "%sweight%d[d%d * %d + t%d]", len ? " * " : "", d,
                     d, MV_CUBIC_TAPS, d);
        } else {
            snprintf(var, sizeof var, "d%d", d);
        }
        cg_idx_add(xi, sizeof xi, var, x->shape[d] > 1 ? xst[d] : 0);
    }
    cg_line(cg, ind, "acc += %s * %s[%s];", w, cg_in(cg, n, 0), xi[0] ? xi : "0");
}

/* RESIZE: the source index (nearest), the two neighbours and the weight of the second
 * (linear) or the 4 taps and their weights (cubic) of every output position are computed
 * here, per axis, and emitted as tables, so the generated code has no coordinate arithmetic
 * and no libm. Linear and cubic are separable over the axes that change size, float only;
 * tf_crop_and_resize adds a table of the samples outside the input. No antialias. */
static bool mv_resize(CGen *cg, const Node *n) {
    const Tensor *x = cg_tensor(cg, n->in[0]), *y = cg_tensor(cg, n->out[0]);
    const ResizeAttr *a = &n->a.resize;
    int r = y->rank;
    bool linear = a->mode == RESIZE_LINEAR, cubic = a->mode == RESIZE_CUBIC,
         crop = a->coord == CT_TF_CROP_AND_RESIZE;
    bool quant = dtype_is_int8ish(y->dtype) && y->q.n == 1; /* crop: per-tensor, nearest */
    if (((linear || cubic) && y->dtype != DT_FLOAT) || (crop && y->dtype != DT_FLOAT && !quant) ||
        x->rank != r)
        return diag_error(cg->d, "node '%s' (Resize): unsupported mode for %s", n->name,
                          dtype_name(y->dtype));
    int taps = cubic ? MV_CUBIC_TAPS : 1;
    int64_t xst[QCC_MAX_RANK], yst[QCC_MAX_RANK];
    mv_strides(x, xst);
    mv_strides(y, yst);
    bool moved[QCC_MAX_RANK], ext[QCC_MAX_RANK];
    char name[32];
    for (int d = 0; d < r; d++) {
        int64_t in = x->shape[d], out = y->shape[d];
        double scale = a->scales[d] > 0.0f ? (double)a->scales[d] : (double)out / (double)in;
        double out_len = scale * (double)in;
        if (fabs(out_len - (double)out) < 1e-5 * (double)out) { /* sizes given: exact ratio */
            out_len = (double)out;
            scale = (double)out / (double)in;
        }
        moved[d] = in != out || (a->scales[d] > 0.0f && a->scales[d] != 1.0f) ||
                   (crop && (a->roi_start[d] != 0.0f || a->roi_end[d] != 1.0f));
        ext[d] = false;
        if (!moved[d])
            continue;
        int64_t *i0 = arena_calloc(cg->g->arena, (size_t)(out * taps), sizeof(int64_t));
        int64_t *i1 = arena_calloc(cg->g->arena, (size_t)out, sizeof(int64_t));
        int64_t *off = arena_calloc(cg->g->arena, (size_t)out, sizeof(int64_t));
        float *w1 = arena_calloc(cg->g->arena, (size_t)(out * taps), sizeof(float));
        for (int64_t o = 0; o < out; o++) {
            double c = mv_resize_coord(a, d, (double)o, scale, in, out_len);
            if (crop && (c < 0.0 || c > (double)(in - 1))) {
                off[o] = 1; /* tables keep index 0, never read */
                ext[d] = true;
                continue;
            }
            double fl = floor(c), frac = c - fl;
            int64_t base = (int64_t)fl;
            if (cubic) {
                mv_cubic_taps(a, c, in, i0 + o * taps, w1 + o * taps);
                continue;
            }
            if (linear) {
                i0[o] = mv_clamp(base, in - 1);
                i1[o] = mv_clamp(base + 1, in - 1);
                w1[o] = (float)frac;
                continue;
            }
            bool up;
            switch (a->nearest) {
            case NEAREST_ROUND_PREFER_CEIL: up = frac >= 0.5; break;
            case NEAREST_FLOOR: up = false; break;
            case NEAREST_CEIL: up = frac > 0.0; break;
            default: up = frac > 0.5; break; /* round_prefer_floor */
            }
            i0[o] = mv_clamp(base + (up ? 1 : 0), in - 1);
        }
        snprintf(name, sizeof name, "src%d", d);
        mv_table_i(cg, 1, name, i0, out * taps);
        if (linear) {
            snprintf(name, sizeof name, "src%d_next", d);
            mv_table_i(cg, 1, name, i1, out);
        }
        if (linear || cubic) {
            snprintf(name, sizeof name, "weight%d", d);
            mv_table_f(cg, 1, name, w1, out * taps);
        }
        if (ext[d]) {
            snprintf(name, sizeof name, "outside%d", d);
            mv_table_i(cg, 1, name, off, out);
        }
    }
    char yi[MV_BUF] = "", var[32];
    int nmoved = 0;
    for (int d = 0; d < r; d++) {
        cg_line(cg, 1 + d, "for (int d%d = 0; d%d < %lld; d%d++) {", d, d,
                (long long)y->shape[d], d);
        snprintf(var, sizeof var, "d%d", d);
        cg_idx_add(yi, sizeof yi, var, y->shape[d] > 1 ? yst[d] : 0);
        nmoved += moved[d];
    }
    int ind = 1 + r;
    if (!yi[0])
        snprintf(yi, sizeof yi, "0");
    mv_resize_outside(cg, n, ind, ext, r, yi);
    if (a->mode == RESIZE_NEAREST || nmoved == 0) {
        char xi[MV_BUF] = "";
        for (int d = 0; d < r; d++) {
            snprintf(var, sizeof var, moved[d] ? "src%d[d%d]" : "d%d", d, d);
            cg_idx_add(xi, sizeof xi, var, x->shape[d] > 1 ? xst[d] : 0);
        }
        cg_line(cg, ind, "%s[%s] = %s[%s];", cg_out(cg, n, 0), yi, cg_in(cg, n, 0),
                xi[0] ? xi : "0");
    } else if (cubic) {
        mv_resize_cubic(cg, n, ind, moved, xst);
        cg_line(cg, ind, "%s[%s] = acc;", cg_out(cg, n, 0), yi);
    } else {
        /* sum over the 2^nmoved corners of weight product * corner value */
        cg_line(cg, ind, "float acc = 0.0f;");
        for (int corner = 0; corner < (1 << nmoved); corner++) {
            char xi[MV_BUF] = "", w[MV_BUF] = "";
            int bit = 0;
            for (int d = 0; d < r; d++) {
                if (moved[d]) {
                    bool hi = (corner >> (nmoved - 1 - bit)) & 1;
                    size_t len = strlen(w);
                    snprintf(var, sizeof var, hi ? "src%d_next[d%d]" : "src%d[d%d]", d, d);
                    snprintf(w + len, sizeof w - len, hi ? "%sweight%d[d%d]"
                             : "%s(1.0f - weight%d[d%d])", len ? " * " : "", d, d);
                    bit++;
                } else {
                    snprintf(var, sizeof var, "d%d", d);
                }
                cg_idx_add(xi, sizeof xi, var, x->shape[d] > 1 ? xst[d] : 0);
            }
            cg_line(cg, ind, "acc += %s * %s[%s];", w, cg_in(cg, n, 0), xi[0] ? xi : "0");
        }
        cg_line(cg, ind, "%s[%s] = acc;", cg_out(cg, n, 0), yi);
    }
    for (int d = r - 1; d >= 0; d--)
        cg_line(cg, 1 + d, "}");
    return true;
}

/* GATHER along a.axis.axis: y[outer, idx..., inner] = x[outer, indices[idx...], inner];
 * negative indices count from the end (ONNX), checked at run time since indices may be a
 * graph input. */
static bool mv_gather(CGen *cg, const Node *n) {
    const Tensor *x = cg_tensor(cg, n->in[0]), *ix = cg_tensor(cg, n->in[1]);
    int axis = (int)n->a.axis.axis;
    if (axis < 0 || axis >= x->rank)
        return diag_error(cg->d, "node '%s' (Gather): axis %d out of range", n->name, axis);
    int64_t outer = 1, inner = 1, ext = x->shape[axis], count = tensor_numel(ix);
    for (int d = 0; d < x->rank; d++) {
        if (d < axis)
            outer *= x->shape[d];
        else if (d > axis)
            inner *= x->shape[d];
    }
    cg_line(cg, 1, "for (int outer = 0; outer < %lld; outer++) {", (long long)outer);
    cg_line(cg, 2, "for (int idx = 0; idx < %lld; idx++) {", (long long)count);
    cg_line(cg, 3, "const long long raw = (long long)%s[idx];", cg_in(cg, n, 1));
    cg_line(cg, 3, "const int at = (int)(raw < 0 ? raw + %lld : raw);", (long long)ext);
    cg_line(cg, 3, "for (int i = 0; i < %lld; i++)", (long long)inner);
    cg_line(cg, 4, "%s[(outer * %lld + idx) * %lld + i] = %s[(outer * %lld + at) * %lld + i];",
            cg_out(cg, n, 0), (long long)count, (long long)inner, cg_in(cg, n, 0),
            (long long)ext, (long long)inner);
    cg_line(cg, 2, "}");
    cg_line(cg, 1, "}");
    return true;
}

/* SLICE: output index o along axis d reads input start[d] + o*step[d] (normalised and
 * clamped by shape inference, steps possibly negative), so the input index is one constant
 * base plus a signed stride per output loop; no bounds checks are needed. */
static bool mv_slice(CGen *cg, const Node *n) {
    const Tensor *x = cg_tensor(cg, n->in[0]), *y = cg_tensor(cg, n->out[0]);
    const SliceAttr *a = &n->a.slice;
    if (x->rank != y->rank)
        return diag_error(cg->d, "node '%s' (Slice): input and output ranks differ", n->name);
    if (tensor_numel(y) == 0)
        return true;    /* an empty slice: nothing to copy */
    int64_t xst[QCC_MAX_RANK], yst[QCC_MAX_RANK], base = 0;
    mv_strides(x, xst);
    mv_strides(y, yst);
    /* terms[] holds " + d0 * 42 - d3 * 2" (a reversed axis reads as a subtraction) */
    char terms[MV_BUF] = "", yi[MV_BUF] = "", var[16];
    for (int d = 0; d < y->rank; d++) {
        base += a->start[d] * xst[d];
        cg_line(cg, 1 + d, "for (int d%d = 0; d%d < %lld; d%d++)%s", d, d,
                (long long)y->shape[d], d, d + 1 < y->rank ? " {" : "");
        snprintf(var, sizeof var, "d%d", d);
        cg_idx_add(yi, sizeof yi, var, y->shape[d] > 1 ? yst[d] : 0);
        int64_t st = y->shape[d] > 1 ? a->step[d] * xst[d] : 0, mag = st < 0 ? -st : st;
        size_t len = strlen(terms);
        if (st != 0)
            snprintf(terms + len, sizeof terms - len, " %c %s", st < 0 ? '-' : '+', var);
        len = strlen(terms);
        if (mag > 1)
            snprintf(terms + len, sizeof terms - len, " * %lld", (long long)mag);
    }
    char xi[MV_BUF];
    if (base == 0 && strncmp(terms, " + ", 3) == 0)
        snprintf(xi, sizeof xi, "%s", terms + 3);
    else
        snprintf(xi, sizeof xi, "%lld%s", (long long)base, terms);
    cg_line(cg, 1 + y->rank, "%s[%s] = %s[%s];", cg_out(cg, n, 0), yi[0] ? yi : "0",
            cg_in(cg, n, 0), xi);
    for (int d = y->rank - 2; d >= 0; d--)
        cg_line(cg, 1 + d, "}");
    return true;
}

/* MAX_POOL / GLOBAL_MAX_POOL on any dtype; channels-last ones (passes/layout.c) have their
 * own loops with the channels innermost. */
static bool mv_max_pool(CGen *cg, const Node *n) {
    if (n->nhwc)
        return cg_qpool_nhwc(cg, n);
    return n->op == OP_MAX_POOL ? cg_pool_window(cg, n) : cg_pool_global_max(cg, n);
}

KernelFn cg_movement_kernel(Op op) {
    switch (op) {
    case OP_RESHAPE: case OP_FLATTEN: case OP_SQUEEZE: case OP_UNSQUEEZE: case OP_IDENTITY:
        return mv_copy;
    case OP_CONCAT: return mv_concat;
    case OP_TRANSPOSE: return mv_transpose;
    case OP_PAD: return mv_pad;
    case OP_RESIZE: return mv_resize;
    case OP_GATHER: return mv_gather;
    case OP_SLICE: return mv_slice;
    case OP_MAX_POOL: case OP_GLOBAL_MAX_POOL: return mv_max_pool;
    default: return NULL;
    }
}
