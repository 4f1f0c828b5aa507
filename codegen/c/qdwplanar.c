/* qdwplanar.c: the planar (NCHW) depthwise convolution of the C backend, for a depthwise
 * conv that passes/layout.c leaves NCHW because it reads an NCHW tensor
 * (layout_planar_depthwise). The AVX-512 VNNI kernel below, and planar_portable for other
 * builds. */
#include "qdw_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool cg_qconv_depthwise_planar(CGen *cg, const Node *n);

/* ---- the planar (NCHW) VNNI kernel ----
 * For a depthwise node that passes/layout.c left NCHW (its input is NCHW, e.g. a graph input,
 * and layout_planar_depthwise holds): the lanes are 16 output pixels of one channel's row.
 * Lane l of Q for kernel row ky holds the KW (<= 4) bytes x[iy][(ox0 + l) * SW - PL + kx * DW]:
 * one 64-byte load of the input row and one vpermb pick them (the vpermb's mask puts zx where a
 * column is outside the image), so one vpdpbusd against w[c][ky][0..KW-1] (broadcast) adds
 * kernel row ky: KH vpdpbusd per 16 outputs, no transpose of the input. Rows outside the image
 * read a row of zx. The accumulator is the NHWC kernels' (weights w - zw, int8 input flipped to
 * u8 with -128 * sum(w) in the bias), and so is the requant (dw_stores). */
#define DP_MAXV 32 /* vectors per output row (OW <= 512, layout_planar_depthwise) */
#define DP_CHUNK 8 /* accumulators per register block */

typedef struct DpVec {
    int64_t ox0;                /* first output column */
    int64_t s;                  /* first input column loaded */
    int64_t nload;              /* bytes loaded (64: unmasked) */
    uint64_t pmask;             /* vpermb mask: bytes that read the image */
    int tab;                    /* index table */
    int lanes;                  /* output columns stored (16 but in the last vector) */
} DpVec;

/* Vector v's load, index table (into tabs, deduplicated) and masks. */
static void planar_vec(const DwConv *k, int v, uint8_t (*tabs)[64], int *ntab, DpVec *pv) {
    int64_t ox0 = 16 * (int64_t)v, first = ox0 * k->SW - k->PL;
    pv->ox0 = ox0;
    pv->s = first < 0 ? 0 : first > k->W - 1 ? k->W - 1 : first;
    pv->nload = k->W - pv->s < 64 ? k->W - pv->s : 64;
    pv->lanes = k->OW - ox0 < 16 ? (int)(k->OW - ox0) : 16;
    pv->pmask = 0;
    uint8_t idx[64] = {0};
    for (int l = 0; l < 16; l++)
        for (int kx = 0; kx < (int)k->KW; kx++) {
            int64_t col = (ox0 + l) * k->SW - k->PL + kx * k->DW;
            if (ox0 + l >= k->OW || col < 0 || col >= k->W)
                continue;
            QCC_ASSERT(col - pv->s >= 0 && col - pv->s < pv->nload);
            idx[4 * l + kx] = (uint8_t)(col - pv->s);
            pv->pmask |= 1ull << (4 * l + kx);
        }
    for (pv->tab = 0; pv->tab < *ntab; pv->tab++)
        if (!memcmp(tabs[pv->tab], idx, 64))
            return;
    memcpy(tabs[(*ntab)++], idx, 64);
}

/* Weights (one int32 of KW bytes per channel and kernel row), bias and requant factors;
 * false if the accumulators could leave the forms' bounds (dw_channel_k). */
static bool planar_pack(CGen *cg, const Node *n, const DwConv *k, DwFast *f) {
    const Tensor *w = cg_tin(cg, n, 1);
    Arena *a = cg->g->arena;
    int64_t C = k->C, KH = k->KH, KW = k->KW;
    int32_t *wv = arena_calloc(a, (size_t)(C * KH), sizeof(int32_t));
    int32_t *bv = arena_calloc(a, (size_t)C, sizeof(int32_t));
    double *kd = arena_calloc(a, (size_t)C, sizeof(double));
    int64_t *wt = arena_calloc(a, (size_t)(C * k->taps), sizeof(int64_t));
    int64_t *c3v = arena_calloc(a, (size_t)C, sizeof(int64_t));
    memset(f, 0, sizeof *f);
    f->fma = true;
    for (int64_t c = 0; c < C; c++) {
        int32_t zw = w->q.n > 1 ? w->q.zero_point[c] : w->q.n == 1 ? w->q.zero_point[0] : 0;
        int64_t c3 = n->q.nbias > 1 ? n->q.c3[c] : n->q.nbias == 1 ? n->q.c3[0] : 0;
        int64_t b = c3;
        double bound = fabs((double)c3);
        for (int64_t ky = 0; ky < KH; ky++) {
            uint32_t word = 0;
            for (int64_t kx = 0; kx < KW; kx++) {
                int64_t v = tensor_get_i(w, (c * KH + ky) * KW + kx) - zw;
                QCC_ASSERT(v >= -128 && v <= 127); /* layout_planar_depthwise */
                wt[(c * KH + ky) * KW + kx] = v;
                word |= (uint32_t)(uint8_t)(int8_t)v << (8 * kx);
                bound += 255.0 * (double)llabs(v);
                b -= k->xs ? 128 * v : 0;
            }
            wv[c * KH + ky] = (int32_t)word;
        }
        if (!dw_channel_k(n, k, c, bound, f, kd))
            return false;
        bv[c] = (int32_t)(uint32_t)b; /* modulo 2^32 like vpdpbusd's adds */
        c3v[c] = c3;
    }
    sb_puts(cg->helpers, "#if defined(QCC_DW_VNNI)\n");
    cg_i32_array(cg, cg->helpers, cg_fmt(cg, "n%d_dpw", k->idx), wv, (int)(C * KH));
    cg_i32_array(cg, cg->helpers, cg_fmt(cg, "n%d_dpb", k->idx), bv, (int)C);
    dw_put_k(cg, k, f, kd, C, cg_fmt(cg, "n%d_dp", k->idx));
    sb_puts(cg->helpers, "#else\n"); /* planar_portable's: w - zw per tap, c3, factors */
    dw_put_array(cg, "int16_t", cg_fmt(cg, "n%d_dpt", k->idx), C * k->taps, wt, NULL, false);
    dw_put_array(cg, "int32_t", cg_fmt(cg, "n%d_dpc", k->idx), C, c3v, NULL, false);
    sb_puts(cg->helpers, "#if defined(QCC_DW_AVX512) || defined(QCC_DW_AVX2)\n");
    dw_put_array(cg, k->fixed ? "double" : "float", cg_fmt(cg, "n%d_dpk", k->idx), C, NULL, kd,
              !k->fixed);
    sb_puts(cg->helpers, "#endif\n#endif\n");
    int64_t *zrow = arena_calloc(a, (size_t)k->W, sizeof(int64_t));
    for (int64_t i = 0; i < k->W; i++)
        zrow[i] = cg_zp(cg_tin(cg, n, 0));
    dw_put_array(cg, k->xt, cg_fmt(cg, "n%d_dpz", k->idx), k->W, zrow, NULL, false);
    return true;
}

/* Q of vector pv from row pointer r<ky>. */
static const char *planar_q(CGen *cg, const DwConv *k, const DpVec *pv, int ky) {
    const char *ld = pv->nload == 64
        ? cg_fmt(cg, "_mm512_loadu_si512((const void *)(r%d + %lld))", ky, (long long)pv->s)
        : cg_fmt(cg, "_mm512_maskz_loadu_epi8(0x%llxull, r%d + %lld)",
                 (unsigned long long)((1ull << pv->nload) - 1), ky, (long long)pv->s);
    const char *q = cg_fmt(cg, "_mm512_mask_permutexvar_epi8(qz, 0x%llxull, ix%d, %s)",
                           (unsigned long long)pv->pmask, pv->tab, ld);
    return k->xs ? cg_fmt(cg, "_mm512_xor_si512(%s, flip)", q) : q;
}

/* R output rows from out_y (the loop body): their (R - 1) * SH + (KH - 1) * DH + 1 input
 * rows, each vector's Q computed once per input row and added to every output row that reads
 * it, in register blocks of at most 16 accumulators. */
static void planar_rows(CGen *cg, const DwConv *k, const DwFast *f, const DpVec *pv, int nv,
                        int R) {
    int id = k->idx, nr = (int)((R - 1) * k->SH + (k->KH - 1) * k->DH + 1);
    int chunk = R == 1 ? DP_CHUNK : 16 / R;
    bool used[64] = {false}; /* input rows some output row reads */
    QCC_ASSERT(nr <= 64);
    for (int rr = 0; rr < R; rr++)
        for (int ky = 0; ky < (int)k->KH; ky++)
            used[rr * k->SH + ky * k->DH] = true;
    for (int j = 0; j < nr; j++) {
        if (!used[j])
            continue;
        cg_line(cg, 4, "const int iy%d = %s;", j, dw_row_expr(cg, k, j));
        cg_line(cg, 4, "const %s *r%d = iy%d >= 0 && iy%d < %lld ? xc + iy%d * %lld : n%d_dpz;",
                k->xt, j, j, j, (long long)k->H, j, (long long)k->W, id);
    }
    for (int v0 = 0; v0 < nv; v0 += chunk) {
        int np = nv - v0 < chunk ? nv - v0 : chunk;
        cg_line(cg, 4, "{ /* output columns %lld .. %lld */", (long long)pv[v0].ox0,
                (long long)(pv[v0 + np - 1].ox0 + pv[v0 + np - 1].lanes - 1));
        for (int rr = 0; rr < R; rr++)
            for (int p = 0; p < np; p++)
                cg_line(cg, 5, "__m512i a%d_%d = bias;", rr, p);
        for (int j = 0; j < nr; j++)
            for (int p = 0; p < np && used[j]; p++) {
                cg_line(cg, 5, "{");
                cg_line(cg, 6, "const __m512i q = %s;", planar_q(cg, k, &pv[v0 + p], j));
                for (int rr = 0; rr < R; rr++)
                    for (int ky = 0; ky < (int)k->KH; ky++)
                        if (rr * k->SH + ky * k->DH == j)
                            cg_line(cg, 6, "QCC_DPBUSD(a%d_%d, q, w%d);", rr, p, ky);
                cg_line(cg, 5, "}");
            }
        for (int rr = 0; rr < R; rr++) {
            const char *addr[DP_CHUNK], *mk[DP_CHUNK], *names = "";
            for (int p = 0; p < np; p++) { /* only the row's last vector may be partial */
                addr[p] = cg_fmt(cg, "yc + (out_y + %d) * %lld + %lld", rr, (long long)k->OW,
                                 (long long)pv[v0 + p].ox0);
                mk[p] = cg_fmt(cg, "(__mmask16)0x%x", (1u << pv[v0 + p].lanes) - 1u);
                names = cg_fmt(cg, "%s%sa%d = a%d_%d", names, p ? ", " : "", p, rr, p);
            }
            cg_line(cg, 5, "{ /* output row out_y + %d */", rr);
            cg_line(cg, 6, "const __m512i %s;", names);
            dw_stores(cg, k, f, 6, np, addr, mk, cg_fmt(cg, "const __m512d kl = "
                        "_mm512_set1_pd(n%d_dpkv[c]), kh = kl;", id), true);
            cg_line(cg, 5, "}");
        }
        cg_line(cg, 4, "}");
    }
}

/* The node body's VNNI branch: per channel its weights and factors, per output row its
 * input rows, then the row's vectors in register blocks of DP_CHUNK. */
static void planar_body(CGen *cg, const Node *n, const DwConv *k, const DwFast *f) {
    int nv = (int)((k->OW + 15) / 16), ntab = 0, id = k->idx;
    uint8_t tabs[DP_MAXV][64];
    DpVec pv[DP_MAXV];
    QCC_ASSERT(nv <= DP_MAXV);
    for (int v = 0; v < nv; v++)
        planar_vec(k, v, tabs, &ntab, &pv[v]);
    cg_line(cg, 1, "/* NCHW depthwise %lldx%lld, VNNI: 16 output pixels of a row per vector, "
            "vpermb picks each lane's taps */", (long long)k->KH, (long long)k->KW);
    if (n->q.mul[0].n > 1)
        cg_line(cg, 1, "(void)%s;", cg_node_array(cg, n, k->fixed ? "m0_0" : "f_0"));
    if (n->q.mul[0].n > 1 && k->fixed)
        cg_line(cg, 1, "(void)%s;", cg_node_array(cg, n, "shift_0"));
    for (int t = 0; t < ntab; t++) {
        const char *bytes = "";
        for (int i = 0; i < 64; i++)
            bytes = cg_fmt(cg, "%s%s%d", bytes, i ? "," : "", tabs[t][i]);
        cg_line(cg, 1, "static const uint8_t ix%d_b[64] = {%s};", t, bytes);
        cg_line(cg, 1, "const __m512i ix%d = _mm512_loadu_si512((const void *)ix%d_b);", t, t);
    }
    int32_t zx = cg_zp(cg_tin(cg, n, 0));
    cg_line(cg, 1, "const __m512i qz = _mm512_set1_epi8((char)%d); /* zx outside the image */",
            zx > 127 ? zx - 256 : zx);
    dw_consts(cg, k, f, 1);
    cg_line(cg, 1, "for (int batch = 0; batch < %lld; batch++) {", (long long)k->N);
    cg_line(cg, 2, "for (int c = 0; c < %lld; c++) {", (long long)k->C);
    for (int ky = 0; ky < (int)k->KH; ky++)
        cg_line(cg, 3, "const __m512i w%d = _mm512_set1_epi32(n%d_dpw[c * %lld + %d]);", ky, id,
                (long long)k->KH, ky);
    cg_line(cg, 3, "const __m512i bias = _mm512_set1_epi32(n%d_dpb[c]);", id);
    if (f->checked)
        cg_line(cg, 3, "const __m512 kc = _mm512_set1_ps(n%d_dpkf[c]);", id);
    else if (k->fixed)
        cg_line(cg, 3, "const __m512d kl = _mm512_set1_pd(n%d_dpkv[c]), kh = kl;", id);
    else
        cg_line(cg, 3, "const __m512 kf = _mm512_set1_ps(n%d_dpkv[c]);", id);
    cg_line(cg, 3, "const %s *xc = %s + (batch * %lld + c) * %lld;", k->xt, cg_in(cg, n, 0),
            (long long)k->C, (long long)(k->H * k->W));
    cg_line(cg, 3, "%s *yc = %s + (batch * %lld + c) * %lld;", k->yt, cg_out(cg, n, 0),
            (long long)k->C, (long long)(k->OH * k->OW));
    /* stride 1: two output rows per pass share KH - 1 of their input rows' Q vectors */
    int R = k->SH == 1 && k->DH == 1 && k->KH > 1 && k->OH > 1 ? 2 : 1;
    int64_t nmain = k->OH / R * R;
    cg_line(cg, 3, "for (int out_y = 0; out_y < %lld; out_y += %d) {", (long long)nmain, R);
    planar_rows(cg, k, f, pv, nv, R);
    cg_line(cg, 3, "}");
    if (nmain < k->OH) {
        cg_line(cg, 3, "for (int out_y = %lld; out_y < %lld; out_y++) {", (long long)nmain,
                (long long)k->OH);
        planar_rows(cg, k, f, pv, nv, 1);
        cg_line(cg, 3, "}");
    }
    cg_line(cg, 2, "}");
    cg_line(cg, 1, "}");
}

/* planar_portable's interior columns at stride 1 with AVX-512 or AVX2 (no VNNI): x widened
 * to 32-bit lanes times w - zw in the low half of each lane (vpmaddwd: the high halves add
 * x_hi * 0), as the NHWC kernel's qcc_dw_mac16. part 0: the channel's weight vectors; part 1:
 * the loop over 16 or 8 columns from ox up to xh. (A stride-2 form, loading 2 bytes a lane
 * and keeping the even ones, passed every single node alone but changed retinaface's outputs
 * in gcc 12's -O3 -mno-avx512f build of the whole model: left out until that is understood.) */
static void planar_portable_simd(CGen *cg, const DwConv *k, int part, int64_t xh) {
    for (int isa = 0; isa < 2; isa++) {
        int lanes = isa ? 8 : 16;
        const char *v = isa ? "__m256i" : "__m512i", *mm = isa ? "_mm256" : "_mm512";
        cg_line(cg, 0, isa ? "#elif defined(QCC_DW_AVX2)" : "#if defined(QCC_DW_AVX512)");
        if (part == 0) {
            for (int t = 0; t < k->taps; t++)
                cg_line(cg, 3, "const %s wv%d = %s_set1_epi32(wc[%d] & 0xffff);", v, t, mm, t);
            continue;
        }
        cg_line(cg, 4, "for (; ox + %d <= %lld; ox += %d) {", lanes, (long long)xh, lanes);
        cg_line(cg, 5, "%s a = %s_set1_epi32(n%d_dpc[c]);", v, mm, k->idx);
        for (int t = 0; t < k->taps; t++) {
            int64_t off = (t % k->KW) * k->DW - k->PL;
            cg_line(cg, 5, "a = %s_add_epi32(a, %s_madd_epi16(qcc_dw_x%d%c(r%d + ox %c %lld), "
                    "wv%d));", mm, mm, lanes, k->xs ? 's' : 'u', t / (int)k->KW,
                    off < 0 ? '-' : '+', (long long)(off < 0 ? -off : off), t);
        }
        cg_line(cg, 5, isa ? "_mm256_storeu_si256((__m256i *)(void *)(acc + ox), a);"
                           : "_mm512_storeu_si512((void *)(acc + ox), a);");
        cg_line(cg, 4, "}");
    }
    cg_line(cg, 0, "#endif");
}

/* The planar kernel's path in builds without VNNI: per channel and output row, the row's
 * int32 sums in acc[] (interior columns in a loop compilers vectorise along the row, the
 * border columns with tests), then the row's requantization. */
static void planar_portable(CGen *cg, const Node *n, const DwConv *k) {
    int id = k->idx;
    int32_t zx = cg_zp(cg_tin(cg, n, 0));
    cg_line(cg, 1, "/* NCHW depthwise %lldx%lld: a row of sums at a time; columns outside the "
            "image read zx = %ld (the real 0) */", (long long)k->KH, (long long)k->KW, (long)zx);
    cg_line(cg, 1, "int32_t acc[%lld];", (long long)k->OW);
    cg_line(cg, 1, "for (int batch = 0; batch < %lld; batch++) {", (long long)k->N);
    cg_line(cg, 2, "for (int c = 0; c < %lld; c++) {", (long long)k->C);
    cg_line(cg, 3, "const %s *xc = %s + (batch * %lld + c) * %lld;", k->xt, cg_in(cg, n, 0),
            (long long)k->C, (long long)(k->H * k->W));
    cg_line(cg, 3, "%s *yc = %s + (batch * %lld + c) * %lld;", k->yt, cg_out(cg, n, 0),
            (long long)k->C, (long long)(k->OH * k->OW));
    cg_line(cg, 3, "const int16_t *wc = n%d_dpt + c * %d;", id, k->taps);
    cg_line(cg, 0, "#if defined(QCC_DW_AVX512) || defined(QCC_DW_AVX2)");
    cg_line(cg, 3, "%s kk[16]; /* the channel's factor in every lane */",
            k->fixed ? "double" : "float");
    cg_line(cg, 3, "for (int i = 0; i < 16; i++)");
    cg_line(cg, 4, "kk[i] = n%d_dpk[c];", id);
    cg_line(cg, 0, "#endif");
    /* interior columns: every tap inside the image, one expression per pixel */
    int64_t xl, xh;
    dw_interior(k, &xl, &xh);
    bool vec = k->SW == 1 && xh > xl; /* stride 1: planar_portable_simd */
    if (vec)
        planar_portable_simd(cg, k, 0, 0);
    cg_line(cg, 3, "for (int out_y = 0; out_y < %lld; out_y++) {", (long long)k->OH);
    for (int ky = 0; ky < (int)k->KH; ky++) {
        cg_line(cg, 4, "const int iy%d = %s;", ky, dw_row_expr(cg, k, ky * k->DH));
        cg_line(cg, 4, "const %s *r%d = iy%d >= 0 && iy%d < %lld ? xc + iy%d * %lld : n%d_dpz;",
                k->xt, ky, ky, ky, (long long)k->H, ky, (long long)k->W, id);
    }
    StrBuf sum;
    sb_init(&sum);
    for (int t = 0; t < k->taps; t++) {
        int64_t off = (t % k->KW) * k->DW - k->PL;
        sb_printf(&sum, " + r%d[ox * %lld %c %lld] * (int32_t)wc[%d]", t / (int)k->KW,
                  (long long)k->SW, off < 0 ? '-' : '+', (long long)(off < 0 ? -off : off), t);
    }
    if (xh > xl) {
        cg_line(cg, 4, "int ox = %lld;", (long long)xl);
        if (vec)
            planar_portable_simd(cg, k, 1, xh);
        cg_line(cg, 4, "for (; ox < %lld; ox++)", (long long)xh);
        cg_line(cg, 5, "acc[ox] = n%d_dpc[c]%s;", id, sum.data);
    }
    sb_free(&sum);
    /* border columns: a tap outside the image reads zx */
    if (xl > 0 || xh < k->OW) {
        cg_line(cg, 4, "for (int ox = 0; ox < %lld; ox++) {", (long long)k->OW);
        if (xh > xl) {
            cg_line(cg, 5, "if (ox == %lld)", (long long)xl);
            cg_line(cg, 6, "ox = %lld;", (long long)xh);
            cg_line(cg, 5, "if (ox >= %lld)", (long long)k->OW);
            cg_line(cg, 6, "break;");
        }
        cg_line(cg, 5, "int32_t a = n%d_dpc[c];", id);
        for (int t = 0; t < k->taps; t++) {
            int64_t off = (t % k->KW) * k->DW - k->PL;
            const char *col = cg_fmt(cg, "ox * %lld %c %lld", (long long)k->SW,
                                     off < 0 ? '-' : '+', (long long)(off < 0 ? -off : off));
            cg_line(cg, 5, "a += (%s >= 0 && %s < %lld ? r%d[%s] : %ld) * (int32_t)wc[%d];", col,
                    col, (long long)k->W, t / (int)k->KW, col, (long)zx, t);
        }
        cg_line(cg, 5, "acc[ox] = a;");
        cg_line(cg, 4, "}");
    }
    /* the row's requantization: 16 or 8 lanes with the NHWC kernel's exact helpers (their
     * double form's bound holds: planar_pack checked it), the rest one at a time */
    const char *f = k->fixed ? "" : "f";
    cg_line(cg, 4, "%s *yr = yc + out_y * %lld;", k->yt, (long long)k->OW);
    cg_line(cg, 4, "%sox = 0;", xh > xl ? "" : "int "); /* declared above for the interior */
    cg_line(cg, 0, "#if defined(QCC_DW_AVX512)");
    cg_line(cg, 4, "for (; ox + 16 <= %lld; ox += 16)", (long long)k->OW);
    cg_line(cg, 5, "_mm_storeu_si128((__m128i *)(void *)(yr + ox), qcc_dw_rq%s16("
            "_mm512_loadu_si512((const void *)(acc + ox)), kk, %s, %s, %s));", f, k->zy, k->lo,
            k->hi);
    cg_line(cg, 0, "#elif defined(QCC_DW_AVX2)");
    cg_line(cg, 4, "for (; ox + 8 <= %lld; ox += 8)", (long long)k->OW);
    cg_line(cg, 5, "qcc_dw_st8%c(yr + ox, qcc_dw_rq%s8(_mm256_loadu_si256((const __m256i *)"
            "(const void *)(acc + ox)), kk, %s, %s, %s));", k->yu ? 'u' : 's', f, k->zy, k->lo,
            k->hi);
    cg_line(cg, 0, "#endif");
    cg_line(cg, 4, "for (; ox < %lld; ox++)", (long long)k->OW);
    cg_line(cg, 5, "yr[ox] = (%s)%s;", k->yt, cg_requant(cg, n, 0, "acc[ox]", "c"));
    cg_line(cg, 3, "}");
    cg_line(cg, 2, "}");
    cg_line(cg, 1, "}");
}

/* CONV n, NCHW depthwise (layout_planar_depthwise): the VNNI kernel and, for other builds,
 * planar_portable. False, with nothing written, when the node does not qualify (the caller's
 * generic loop then runs it). */
bool cg_qconv_depthwise_planar(CGen *cg, const Node *n) {
    const Tensor *y = cg_tout(cg, n, 0);
    if (!cg->helpers || cg->o->simd == CG_SIMD_NEON || !layout_planar_depthwise(cg->g, n) ||
        n->q.nmul < 1 || !dtype_is_int8ish(y->dtype))
        return false;
    DwConv k = dw_geometry(cg, n, true);
    dw_runtime(cg);
    size_t mark = cg->helpers->len;
    DwFast f;
    if (!planar_pack(cg, n, &k, &f)) {
        cg->helpers->len = mark; /* nothing of this node stays */
        cg->helpers->data[mark] = '\0';
        return false;
    }
    sb_puts(cg->sb, "#if defined(QCC_DW_VNNI)\n");
    planar_body(cg, n, &k, &f);
    sb_puts(cg->sb, "#else\n");
    planar_portable(cg, n, &k);
    sb_puts(cg->sb, "#endif\n");
    return true;
}
