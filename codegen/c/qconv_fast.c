/* qconv_fast.c: dense (group 1) 2-d quantized convolution over channels-last tensors with
 * weights packed at compile time, register-blocked direct convolution (no im2col), c3 bias,
 * requantization and clamp fused into the store. Emits, per node, into CGen.helpers: the
 * packed weights, c3 and padding tables, and "tile" functions computing P output pixels x B
 * blocks of 16 output channels; the node function walks rows and calls the tiles.
 * Two bodies per tile, one compiled: AVX-512 VNNI (vpdpbusd, weights [block][ky][kx][ic/4]
 * [16 lanes][4]) and portable C (weights OHWI rows padded to 32 bytes; each pixel's
 * receptive field gathered into a stack buffer, then 2 pixels x 8 channels of u8 x s8 dot
 * products over all kh*kw*c bytes, which gcc -O3 turns into vpdpbusd/vpmaddwd itself).
 *
 * Arithmetic (design sec. 3): int8 inputs are read as x ^ 0x80 = x + 128 (uint8), so the
 * u8 x s8 dot-product instructions apply; c3p = c3 - 128 * sum(w) restores the int8 sum and
 * padding reads zx + 128. A tap outside the input is skipped and its zx' * sum_ic w added
 * through a per-row/pixel bias, so the interior loop never tests bounds (the portable body
 * instead gathers zx + 128 for such taps and uses c3p alone: same sum). The sums are the
 * same integers as the portable NCHW kernel's acc + c3, hence bit-identical outputs.
 * Bound: |u8 * s8| <= 255 * 128 and K <= 2^16 taps (checked by the passes) keep int32 exact;
 * vpdpbusd adds the four products of a group without intermediate saturation. */
#include "qfast_int.h"
#include "qneon.h"

#include <stdlib.h>
#include <string.h>

typedef struct ConvGeo {
    int idx;                    /* node index (names n<idx>_*) */
    int nb, ih, iw, c;          /* batch, input height/width/channels (NHWC) */
    int oh, ow, co;             /* output height/width/channels */
    int kh, kw, sh, sw, dh, dw; /* kernel, strides, dilations */
    int pt, pl;                 /* top and left padding */
    int g4, ct, gt;             /* full groups of 4 input channels, tail channels, groups */
    int blocks, lanes;          /* output-channel blocks of 16, blocks * 16 */
    int xl, xr;                 /* output columns [xl, xr) whose every kx tap is inside */
    int zxp;                    /* padding value in the uint8 domain */
    bool s8;                    /* int8 input read as uint8 (x ^ 0x80) */
    bool tapz;                  /* padding may be read and zxp != 0: bias table n<idx>_tapz */
    int bmain, btail;           /* blocks per tile call, blocks of the last call */
    const char *xt, *yt;        /* C element types of input and output */
    FastQuant fq;               /* requant arrays */
    int rows;                   /* x86 VNNI row mode (band_*): 0 off, 1 band copy, 2 direct */
    bool pair;                  /* row tiles: the last block's 8 channels of two pixels in one
                                 * vector (rtile_vnni_pair) */
    int rg;                     /* groups of 4 bytes over one kernel row's run of kw*c bytes */
    int bw;                     /* band columns: every input column an output row's taps read */
    int64_t brow;               /* bytes from one row to the next as the row tiles read them */
    const int32_t *zw;          /* weight zero point per output channel, NULL when all are 0 */
} ConvGeo;

/* Pixels per tile for B blocks: B*P accumulators + B weights + 1 broadcast <= 32 zmm. */
static int tile_pixels(int b) {
    return b >= 4 ? 5 : b == 3 ? 7 : 10;
}

/* K padded to a multiple of 32 (zero weights, zero gathered bytes): the vectorised dot loop
 * then has no scalar remainder (64-byte body, at most one 32-byte epilogue). */
static int port_kpad(const ConvGeo *q) {
    int k = q->kh * q->kw * q->c;
    return (k + 31) / 32 * 32;
}

static const char *tile_name(CGen *cg, const ConvGeo *q, int p, int b) {
    return cg_fmt(cg, "n%d_tile_%dx%d", q->idx, p, b);
}

/* The portable epilogue's Q31 requantization: qcc_requant_q31 (runtime_min) restated without
 * branches, in operations gcc and clang vectorise (64-bit multiply, per-lane variable
 * shifts of a vector, compares as selects), so a loop over a tile's channels becomes SIMD.
 * Same integers: with s = 31 - shift in [1, 62] and t = |x*m0| >> (s-1), the quotient is
 * t >> 1 and rounding half to even adds 1 iff the half bit (t & 1) is set and either a bit
 * below it (t << (s-1) != |x*m0|) or the quotient's low bit is; then the int32 saturation,
 * + zp and the clamp, as there. (Checked against qcc_requant_q31 on 2e8 random and edge
 * inputs, all equal.) */
static const char port_rq_text[] =
    "/* qcc_requant_q31 without branches, vectorisable (qconv_fast.c); same integers */\n"
    "QCC_RT_INLINE int32_t qcc_port_rq31(int32_t acc, int32_t m0, int32_t shift, int32_t zp,\n"
    "                                    int32_t lo, int32_t hi) {\n"
    "    const int64_t prod = (int64_t)acc * m0;\n"
    "    const int64_t s1 = 30 - (int64_t)shift; /* rounding shift - 1, in [0, 61] */\n"
    "    const int64_t neg = prod >> 63;\n"
    "    const uint64_t mag = (uint64_t)((prod ^ neg) - neg);\n"
    "    const uint64_t t = mag >> s1; /* quotient << 1 | half bit */\n"
    "    const uint64_t below = (t << s1) != mag;\n"
    "    const uint64_t q = (t >> 1) + (t & (below | (t >> 1)) & 1u);\n"
    "    int64_t r = (int64_t)((q ^ (uint64_t)neg) - (uint64_t)neg);\n"
    "    r = r < INT32_MIN ? INT32_MIN : r > INT32_MAX ? INT32_MAX : r;\n"
    "    r += zp;\n"
    "    return (int32_t)(r < lo ? lo : r > hi ? hi : r);\n"
    "}\n";

void fastk_port_rq(CGen *cg) {
    if (!cg->helpers->data || !strstr(cg->helpers->data, "qcc_port_rq31(int32_t"))
        sb_puts(cg->helpers, port_rq_text); /* once per file, before the first tile */
}

/* ---- packed constants --------------------------------------------------------------------- */

static void emit_tables(CGen *cg, const Node *n, ConvGeo *q) {
    const Tensor *w = cg_tin(cg, n, 1);
    const int8_t *wd = w->data;
    Arena *a = cg->g->arena;
    int taps = q->kh * q->kw;
    /* VNNI order: [block][ky][kx][group][lane][4], channels past c and co are zero. */
    int64_t nv = (int64_t)q->blocks * taps * q->gt * 64;
    int8_t *wv = arena_alloc(a, (size_t)nv);
    /* portable order: OHWI rows of port_kpad bytes, rows past co and bytes past K zero */
    int64_t kp = port_kpad(q);
    int64_t np = (int64_t)q->lanes * kp;
    int8_t *wp = arena_calloc(a, (size_t)np, 1);
    int32_t *c3p = arena_calloc(a, (size_t)q->lanes, sizeof(int32_t));
    int32_t *tz = arena_calloc(a, (size_t)(taps * q->lanes), sizeof(int32_t));
    for (int oc = 0; oc < q->co; oc++) {
        int64_t wsum = 0;
        for (int ic = 0; ic < q->c; ic++)
            for (int t = 0; t < taps; t++) {
                int8_t v = wd[((int64_t)oc * q->c + ic) * taps + t];
                wsum += v;
                tz[t * q->lanes + oc] += v;
                wv[((((int64_t)(oc / 16) * taps + t) * q->gt + ic / 4) * 16 + oc % 16) * 4 +
                   ic % 4] = v;
                wp[(int64_t)oc * kp + (int64_t)t * q->c + ic] = v;
            }
        int32_t c3 = n->q.nbias > 0 ? n->q.c3[n->q.nbias > 1 ? oc : 0] : 0;
        c3p[oc] = (int32_t)(c3 - (q->s8 ? 128 * wsum : 0));
    }
    for (int i = 0; i < taps * q->lanes; i++)
        tz[i] *= q->zxp;
    if (q->rows && cg->o->simd != CG_SIMD_NEON) {
        /* row mode: [block][ky][run group][lane][4] over the run j = kx * c + ic, j < kw*c;
         * paired tiles: lanes 8-15 of the last block repeat lanes 0-7 */
        nv = (int64_t)q->blocks * q->kh * q->rg * 64;
        wv = arena_calloc(a, (size_t)nv, 1);
        for (int oc = 0; oc < q->co + (q->pair ? 8 : 0); oc++) {
            int sc = oc < q->co ? oc : oc - 8; /* the channel whose weights lane oc holds */
            for (int ky = 0; ky < q->kh; ky++)
                for (int j = 0; j < q->kw * q->c; j++)
                    wv[((((int64_t)(oc / 16) * q->kh + ky) * q->rg + j / 4) * 16 + oc % 16) * 4 +
                       j % 4] = wd[((int64_t)sc * q->c + j % q->c) * taps + ky * q->kw + j / q->c];
        }
    }
    if (q->pair)
        for (int l = q->co; l < q->co + 8; l++)
            c3p[l] = c3p[l - 8];
    sb_printf(cg->helpers, "/* node %d: weights packed for the fast conv; c3p = c3%s */\n",
              q->idx, q->s8 ? " - 128*sum(w) (int8 input read as x+128)" : "");
    bool neon = cg->o->simd == CG_SIMD_NEON; /* NEON (qneon.c): SDOT needs weight sums */
    fastk_packed(cg, q->idx, "w", wv, nv, wp, np);
    if (!q->fq.f)
        fastk_port_rq(cg);
    cg_i32_array(cg, cg->helpers, cg_fmt(cg, "n%d_c3p", q->idx), c3p, q->lanes);
    if (neon) /* NEON: per-tap weight sums restoring sum(u*w) from SDOT's sum((u-128)*w) */
        neon_conv_wsum(cg, q->idx, wv, taps, q->gt, q->blocks);
    if (q->tapz) {
        if (q->rows) /* the rtiles read real padding */
            sb_puts(cg->helpers, "#if !defined(QCC_FAST_VNNI)\n");
        sb_printf(cg->helpers, "/* per tap: %d * sum_ic w, what a tap in the padding adds */\n",
                  q->zxp);
        cg_i32_array(cg, cg->helpers, cg_fmt(cg, "n%d_tapz", q->idx), tz, taps * q->lanes);
        /* bias of a pixel whose taps outside [ky0,ky1) x [kx0,kx1) read the padding */
        StrBuf *sb = cg->helpers;
        CGen sub = *cg;
        sub.sb = sb;
        cg_line(&sub, 0, "static void n%d_bias(int32_t *adj, int ky0, int ky1, int kx0, "
                "int kx1) {", q->idx);
        cg_line(&sub, 1, "for (int oc = 0; oc < %d; oc++)", q->lanes);
        cg_line(&sub, 2, "adj[oc] = n%d_c3p[oc];", q->idx);
        cg_line(&sub, 1, "for (int ky = 0; ky < %d; ky++)", q->kh);
        cg_line(&sub, 2, "for (int kx = 0; kx < %d; kx++) {", q->kw);
        cg_line(&sub, 3, "if (ky >= ky0 && ky < ky1 && kx >= kx0 && kx < kx1)");
        cg_line(&sub, 4, "continue;");
        cg_line(&sub, 3, "for (int oc = 0; oc < %d; oc++)", q->lanes);
        cg_line(&sub, 4, "adj[oc] += n%d_tapz[(ky * %d + kx) * %d + oc];", q->idx, q->kw,
                q->lanes);
        cg_line(&sub, 2, "}");
        cg_line(&sub, 0, "}");
        if (q->rows)
            sb_puts(cg->helpers, "#endif\n");
    }
}

/* ---- tile bodies (ISA-specific parts) -------------------------------------------------- */

/* The packed stores (fastk_vnni_put4) of pixels p0 .. p0 + 4/B - 1 of a P x B tile (B = 4:
 * one pixel's 64 channels; B = 2 or 1: the vectors of 2 or 4 pixels), with the requant
 * constants names[b] and, where the node has the partial last block, the flag `full`. */
static void vnni_put_group(CGen *cg, int ind, const ConvGeo *q, const FastQuant *fq, int B,
                           const char *const names[4], int p0, bool zw) {
    int group = 4 / B, last_valid = q->co - (q->blocks - 1) * 16;
    const char *rq[4], *accs[4], *dst[4];
    for (int i = 0; i < 4; i++) {
        int p = p0 + i / B, b = i % B;
        rq[i] = names[b];
        accs[i] = zw ? cg_fmt(cg, "_mm512_add_epi32(a%d_%d, _mm512_mullo_epi32(s%d, nz%d))", p,
                              b, p, b)
                     : cg_fmt(cg, "a%d_%d", p, b);
    }
    for (int i = 0; i < group; i++)
        dst[i] = cg_fmt(cg, "y + %d + ob * 16", (p0 + i) * q->co);
    /* whole pixels side by side when the tile covers every channel */
    int runs = B * 16 == q->co ? 1 : group;
    if (last_valid == 16) {
        fastk_vnni_put4(cg, ind, fq, rq, accs, dst, runs, 64);
    } else { /* each pixel's last block may be the partial one */
        cg_line(cg, ind, "if (full) {");
        fastk_vnni_put4(cg, ind + 1, fq, rq, accs, dst, runs, 64);
        cg_line(cg, ind, "} else {");
        fastk_vnni_put4(cg, ind + 1, fq, rq, accs, dst, runs, 64 / runs - 16 + last_valid);
        cg_line(cg, ind, "}");
    }
}

/* The requant constants rq<b> of the B blocks from ob (bias + c3 at `bias`; the sums started
 * at it), their names in names[b]. */
static void vnni_prep_blocks(CGen *cg, int ind, const FastQuant *fq, int B, const char *bias,
                             const char *names[4]) {
    for (int b = 0; b < B; b++) {
        names[b] = cg_fmt(cg, "rq%d", b);
        fastk_vnni_prep(cg, ind, fq, names[b], bias, cg_fmt(cg, "(ob + %d) * 16", b), true);
    }
}

/* What vnni_put_group needs, once before its calls: the blocks' requant constants, the put4
 * declarations, `full`. */
static void vnni_put_begin(CGen *cg, int ind, const ConvGeo *q, const FastQuant *fq, int B,
                           const char *bias, const char *names[4]) {
    vnni_prep_blocks(cg, ind, fq, B, bias, names);
    fastk_vnni_put4_begin(cg, ind, fq);
    if (q->co % 16)
        cg_line(cg, ind, "const int full = ob + %d != %d;", B - 1, q->blocks - 1);
}

/* The stores of a P x B tile with requant form fq, block by block: the requant constants of
 * 16 channels once (bias + c3 at `bias`), then P stores; `zw` adds the asymmetric weights'
 * -zw*sum(u) from the per-pixel sums s<p> (row tiles). */
static void vnni_stores(CGen *cg, int ind, const ConvGeo *q, const FastQuant *fq, int P, int B,
                        const char *bias, bool zw) {
    int last_valid = q->co - (q->blocks - 1) * 16;
    /* packed stores (fastk_vnni_put4) of four vectors: B = 4, a pixel's 64 channels; B = 2
     * or 1, the vectors of 2 or 4 pixels; the rest one at a time */
    int group = B == 4 || B == 2 || B == 1 ? 4 / B : 0;
    int packed = group ? P / group * group : 0;
    if (packed) {
        const char *names[4];
        cg_line(cg, ind, "{");
        vnni_put_begin(cg, ind + 1, q, fq, B, bias, names);
        if (zw)
            for (int b = 0; b < B; b++)
                cg_line(cg, ind + 1, "const __m512i nz%d = _mm512_loadu_si512(n%d_nzw + "
                        "(ob + %d) * 16);", b, q->idx, b);
        for (int p0 = 0; p0 < packed; p0 += group)
            vnni_put_group(cg, ind + 1, q, fq, B, names, p0, zw);
        cg_line(cg, ind, "}");
        if (packed == P)
            return;
    }
    for (int b = 0; b < B; b++) {
        const char *oc = cg_fmt(cg, "(ob + %d) * 16", b);
        cg_line(cg, ind, "{");
        fastk_vnni_prep(cg, ind + 1, fq, "rq", bias, oc, true);
        if (last_valid != 16)
            cg_line(cg, ind + 1, "const int full = ob + %d != %d;", b, q->blocks - 1);
        if (zw)
            cg_line(cg, ind + 1, "const __m512i nz = _mm512_loadu_si512(n%d_nzw + %s);", q->idx,
                    oc);
        for (int p = packed; p < P; p++) {
            const char *acc = cg_fmt(cg, "a%d_%d", p, b);
            if (zw)
                acc = cg_fmt(cg, "_mm512_add_epi32(%s, _mm512_mullo_epi32(s%d, nz))", acc, p);
            const char *dst = cg_fmt(cg, "y + %d + %s", p * q->co, oc);
            if (last_valid == 16) {
                fastk_vnni_put(cg, ind + 1, fq, "rq", acc, dst, 16);
            } else {
                cg_line(cg, ind + 1, "if (full)");
                fastk_vnni_put(cg, ind + 2, fq, "rq", acc, dst, 16);
                cg_line(cg, ind + 1, "else");
                fastk_vnni_put(cg, ind + 2, fq, "rq", acc, dst, last_valid);
            }
        }
        cg_line(cg, ind, "}");
    }
}

/* The AVX-512 epilogue of a P x B tile: the checked float requant where the node has it,
 * and the exact Q31 form again for the whole tile in the rare case that a lane is too close
 * to a rounding tie for the float's error bound (qcc_v16_rq_c). */
static void vnni_epilogue(CGen *cg, const ConvGeo *q, int P, int B, const char *bias, bool zw) {
    bool checked = fastk_vnni_checked_begin(cg, 1, &q->fq);
    vnni_stores(cg, 1, q, &q->fq, P, B, bias, zw);
    if (checked) {
        FastQuant exact;
        fastk_vnni_checked_redo(cg, 1, &q->fq, &exact);
        vnni_stores(cg, 2, q, &exact, P, B, bias, zw);
        cg_line(cg, 1, "}");
    }
}

/* AVX-512 VNNI: P x B accumulators in registers; per group of 4 input channels, B weight
 * vectors (16 channels x 4) and one broadcast of 4 input bytes per pixel. */
static void tile_vnni(CGen *cg, const ConvGeo *q, int P, int B) {
    int64_t bstride = (int64_t)q->kh * q->kw * q->gt * 64;
    const char *xor80 = q->s8 ? "_mm512_xor_si512(" : "";
    const char *xor80e = q->s8 ? ", _mm512_set1_epi32(-2139062144))" : ""; /* 0x80808080 */
    const char *bias = "bias"; /* the sums start at it: one vpaddd less per store */
    cg_line(cg, 1, "const uint8_t *xb = (const uint8_t *)x;");
    for (int p = 0; p < P; p++)
        for (int b = 0; b < B; b++)
            cg_line(cg, 1, "__m512i a%d_%d = _mm512_loadu_si512(%s + (ob + %d) * 16);", p, b,
                    bias, b);
    cg_line(cg, 1, "for (int ky = ky0; ky < ky1; ky++) {");
    cg_line(cg, 2, "for (int kx = kx0; kx < kx1; kx++) {");
    cg_line(cg, 3, "const uint8_t *xt = xb + ((iy0 + ky * %d) * %d + ix0 + kx * %d) * %d;",
            q->dh, q->iw, q->dw, q->c);
    cg_line(cg, 3, "const int8_t *wt = n%d_wv + ((ob * %d + ky) * %d + kx) * %d;", q->idx, q->kh,
            q->kw, q->gt * 64);
    for (int tail = 0; tail < 2; tail++) {
        if (tail ? q->ct == 0 : q->g4 == 0)
            continue;
        int ind = 3;
        if (!tail) {
            cg_line(cg, 3, "for (int g = 0; g < %d; g++) {", q->g4);
            ind = 4;
        } else {
            cg_line(cg, 3, "{ /* last %d input channel(s): bytes past them meet zero weights */",
                    q->ct);
            cg_line(cg, 4, "const int g = %d;", q->g4);
            ind = 4;
        }
        for (int b = 0; b < B; b++)
        {
            cg_line(cg, ind, "__m512i w%d = _mm512_loadu_si512(wt + g * 64 + %lld);", b,
                    (long long)(b * bstride));
            cg_line(cg, ind, "QCC_PIN(w%d);", b);
        }
        cg_line(cg, ind, "__m512i u;");
        for (int p = 0; p < P; p++) {
            int64_t off = (int64_t)p * q->sw * q->c;
            if (!tail) {
                cg_line(cg, ind, "u = %sqcc_v16_bcast4(xt + %lld + 4 * g)%s;", xor80,
                        (long long)off, xor80e);
            } else {
                StrBuf e;
                sb_init(&e);
                for (int k = 0; k < q->ct; k++)
                    sb_printf(&e, "%s(uint32_t)xt[%lld] << %d", k ? " | " : "",
                              (long long)(off + 4 * q->g4 + k), 8 * k);
                cg_line(cg, ind, "u = %s_mm512_set1_epi32((int32_t)(%s))%s;", xor80, e.data,
                        xor80e);
                sb_free(&e);
            }
            StrBuf l;
            sb_init(&l);
            for (int b = 0; b < B; b++)
                sb_printf(&l, "%sQCC_DPBUSD(a%d_%d, u, w%d);", b ? " " : "", p, b, b);
            cg_line(cg, ind, "%s", l.data);
            sb_free(&l);
        }
        cg_line(cg, 3, "}");
    }
    cg_line(cg, 2, "}");
    cg_line(cg, 1, "}");
    vnni_epilogue(cg, q, P, B, "bias", false);
}

/* Portable path: receptive fields gathered into a stack buffer (im2col of the tile's
 * pixels only), then dot products over all K = kh*kw*c bytes at once. */

/* A 1x1 kernel whose c is a multiple of 32 reads its pixels in place (int8 turned into
 * uint8 in the dot loop): nothing to gather unless a tap falls into the padding. */
static bool port_direct(const ConvGeo *q) {
    return q->kh == 1 && q->kw == 1 && q->c % 32 == 0;
}

/* Fill col[0..np) with the receptive fields of pixels p .. p+np-1 in the uint8 domain
 * (x ^ 0x80 for int8 input): taps outside [ky0,ky1) x [kx0,kx1) read the padding value zxp,
 * so every pixel, border or not, is one run of K bytes and the plain c3p bias applies. */
static void port_gather(CGen *cg, int ind, const ConvGeo *q, int np, const char *p) {
    int run = q->kw * q->c;
    /* port_direct: the dot loop turns int8 to uint8 itself, so the buffer keeps raw bytes */
    bool raw = port_direct(q) && q->s8;
    const char *x80 = q->s8 && !raw ? " ^ 0x80u" : "";
    int pad = raw ? q->zxp ^ 0x80 : q->zxp;
    cg_line(cg, ind, "for (int i = 0; i < %d; i++) {", np);
    cg_line(cg, ind + 1, "const int ixp = ix0 + (%s + i) * %d;", p, q->sw);
    cg_line(cg, ind + 1, "for (int ky = 0; ky < %d; ky++) {", q->kh);
    cg_line(cg, ind + 2, "uint8_t *d = col[i] + ky * %d;", run);
    cg_line(cg, ind + 2, "if (ky < ky0 || ky >= ky1) {");
    cg_line(cg, ind + 3, "for (int k = 0; k < %d; k++)", run);
    cg_line(cg, ind + 4, "d[k] = %d;", pad);
    cg_line(cg, ind + 3, "continue;");
    cg_line(cg, ind + 2, "}");
    cg_line(cg, ind + 2, "const uint8_t *s = xb + (iy0 + ky * %d) * %lld;", q->dh,
            (long long)q->iw * q->c);
    if (q->dw == 1) { /* a full row of taps is one contiguous run of the input */
        cg_line(cg, ind + 2, "if (kx0 == 0 && kx1 == %d) {", q->kw);
        cg_line(cg, ind + 3, "s += ixp * %d;", q->c);
        cg_line(cg, ind + 3, "for (int k = 0; k < %d; k++)", run);
        cg_line(cg, ind + 4, "d[k] = (uint8_t)(s[k]%s);", x80);
        cg_line(cg, ind + 3, "continue;");
        cg_line(cg, ind + 2, "}");
    }
    cg_line(cg, ind + 2, "for (int kx = 0; kx < %d; kx++) {", q->kw);
    cg_line(cg, ind + 3, "uint8_t *e = d + kx * %d;", q->c);
    cg_line(cg, ind + 3, "if (kx < kx0 || kx >= kx1) {");
    cg_line(cg, ind + 4, "for (int k = 0; k < %d; k++)", q->c);
    cg_line(cg, ind + 5, "e[k] = %d;", pad);
    cg_line(cg, ind + 3, "} else {");
    cg_line(cg, ind + 4, "const uint8_t *t = s + (ixp + kx * %d) * %d;", q->dw, q->c);
    cg_line(cg, ind + 4, "for (int k = 0; k < %d; k++)", q->c);
    cg_line(cg, ind + 5, "e[k] = (uint8_t)(t[k]%s);", x80);
    cg_line(cg, ind + 3, "}");
    cg_line(cg, ind + 2, "}");
    cg_line(cg, ind + 1, "}");
    cg_line(cg, ind, "}");
}

/* Row pointers r0..r<np-1> of pixels p .. p+np-1: gathered, or in place (port_direct). */
static void port_rows(CGen *cg, int ind, const ConvGeo *q, int np, const char *p) {
    StrBuf l;
    sb_init(&l);
    for (int i = 0; i < np; i++)
        sb_printf(&l, "%sr%d = col[%d]", i ? ", *" : "const uint8_t *", i, i);
    if (!port_direct(q)) {
        port_gather(cg, ind, q, np, p);
        cg_line(cg, ind, "%s;", l.data);
        sb_free(&l);
        return;
    }
    cg_line(cg, ind, "%s;", l.data);
    sb_free(&l);
    cg_line(cg, ind, "if (ky0 == 0 && ky1 == 1 && kx0 == 0 && kx1 == 1) {");
    for (int i = 0; i < np; i++)
        cg_line(cg, ind + 1, "r%d = xb + (iy0 * %d + ix0 + (%s + %d) * %d) * %d;", i, q->iw, p,
                i, q->sw, q->c);
    cg_line(cg, ind, "} else {");
    port_gather(cg, ind + 1, q, np, p);
    cg_line(cg, ind, "}");
}

/* np gathered pixels x PORT_OC output channels per pass: np * PORT_OC fresh scalar
 * accumulators over one index k < KP, nothing else in the loop body: the shape gcc -O3
 * vectorises into u8 x s8 dot products (vpdpbusd / vpmaddubsw) with one horizontal sum per
 * accumulator after K bytes. The sums go to acc[][] and one loop per pixel requantizes the
 * tile's channels (vectorised too: a scalar requant per output cost 3x the dot products).
 * Rows past co are zero weights, computed but not stored. */
#define PORT_OC 8 /* output channels per pass (2 x 8 measured best of 1-4 x 4-16) */
static void port_dots(CGen *cg, int ind, const ConvGeo *q, int B, int np, const char *p) {
    int kp = port_kpad(q);
    cg_line(cg, ind, "for (int oc = 0; oc < %d; oc += %d) {", B * 16, PORT_OC);
    cg_line(cg, ind + 1, "const int8_t *w0 = n%d_wp + (ob * 16 + oc) * %d;", q->idx, kp);
    for (int j = 1; j < PORT_OC; j++)
        cg_line(cg, ind + 1, "const int8_t *w%d = w0 + %d;", j, j * kp);
    StrBuf l;
    sb_init(&l);
    for (int i = 0; i < np; i++)
        for (int j = 0; j < PORT_OC; j++)
            sb_printf(&l, "%sa%d%d = 0", i || j ? ", " : "int32_t ", i, j);
    cg_line(cg, ind + 1, "%s;", l.data);
    sb_free(&l);
    cg_line(cg, ind + 1, "for (int k = 0; k < %d; k++) {", kp);
    for (int i = 0; i < np; i++)
        cg_line(cg, ind + 2, "const int32_t u%d = %sr%d[k]%s;", i, port_direct(q) && q->s8 ?
                "(uint8_t)(" : "", i, port_direct(q) && q->s8 ? " ^ 0x80u)" : "");
    for (int i = 0; i < np; i++) {
        sb_init(&l);
        for (int j = 0; j < PORT_OC; j++)
            sb_printf(&l, "%sa%d%d += u%d * w%d[k];", j ? " " : "", i, j, i, j);
        cg_line(cg, ind + 2, "%s", l.data);
        sb_free(&l);
    }
    cg_line(cg, ind + 1, "}");
    for (int i = 0; i < np; i++) {
        sb_init(&l);
        for (int j = 0; j < PORT_OC; j++)
            sb_printf(&l, "%sacc[%d][oc + %d] = a%d%d;", j ? " " : "", i, j, i, j);
        cg_line(cg, ind + 1, "%s", l.data);
        sb_free(&l);
    }
    cg_line(cg, ind, "}");
    const char *nv = cg_fmt(cg, "%d", B * 16);
    if (q->co % 16 != 0) { /* the last block stops at co */
        cg_line(cg, ind, "const int nv = %d - ob * 16 < %d ? %d - ob * 16 : %d;", q->co, B * 16,
                q->co, B * 16);
        nv = "nv";
    }
    cg_line(cg, ind, "for (int i = 0; i < %d; i++)", np);
    cg_line(cg, ind + 1, "for (int j = 0; j < %s; j++)", nv);
    const char *oc = "ob * 16 + j";
    const char *dst = cg_fmt(cg, "y[(%s + i) * %d + ob * 16 + j]", p, q->co);
    const char *bias = cg_fmt(cg, "n%d_c3p", q->idx);
    if (q->fq.f)
        fastk_scalar_store(cg, ind + 2, &q->fq, "acc[i][j]", bias, oc, dst);
    else
        cg_line(cg, ind + 2, "%s = (%s)qcc_port_rq31(acc[i][j] + %s[%s], %s[%s], %s[%s], %s, %s, "
                "%s);", dst, q->fq.yt, bias, oc, q->fq.m0, oc, q->fq.sh, oc, q->fq.zy, q->fq.lo,
                q->fq.hi);
}

/* Pixels in pairs, an odd count's last three together (a lone pixel only when P == 1); one
 * at a time for port_direct, measured faster there. Stack: col and acc, 3 * (K + 64 * B)
 * bytes at most. The bias argument is not read: gathered padding taps already add what
 * n<idx>_tapz would. */
static void tile_portable(CGen *cg, const ConvGeo *q, int P, int B) {
    int K = q->kh * q->kw * q->c, kp = port_kpad(q);
    int G = port_direct(q) ? 1 : P < 2 ? P : 2; /* pixels per pass (measured best) */
    int ng = P / G, last = P % G;
    if (last == 1 && ng > 0 && G == 2) { /* 2,2,..,3 rather than a lone pixel */
        ng--;
        last = 3;
    }
    int rows = last > G ? last : G;
    cg_line(cg, 1, "const uint8_t *xb = (const uint8_t *)x;");
    cg_line(cg, 1, "uint8_t col[%d][%d]; /* receptive fields, K = %d padded to %d */", rows, kp,
            K, kp);
    cg_line(cg, 1, "int32_t acc[%d][%d]; /* dot products of the tile's channels */", rows,
            B * 16);
    cg_line(cg, 1, "(void)bias;");
    if (kp > K) {
        cg_line(cg, 1, "for (int i = 0; i < %d; i++)", rows);
        cg_line(cg, 2, "for (int k = %d; k < %d; k++)", K, kp);
        cg_line(cg, 3, "col[i][k] = 0;");
    }
    if (ng > 0) {
        cg_line(cg, 1, "for (int p = 0; p < %d; p += %d) {", ng * G, G);
        port_rows(cg, 2, q, G, "p");
        port_dots(cg, 2, q, B, G, "p");
        cg_line(cg, 1, "}");
    }
    if (last > 0) {
        const char *p0 = cg_fmt(cg, "%d", P - last);
        cg_line(cg, 1, "{");
        port_rows(cg, 2, q, last, p0);
        port_dots(cg, 2, q, B, last, p0);
        cg_line(cg, 1, "}");
    }
}

static void emit_tile(CGen *cg, const ConvGeo *q, int P, int B) {
    CGen sub = *cg;
    sub.sb = cg->helpers;
    /* x86 row mode: VNNI builds use the rtiles, these tiles serve the portable path only */
    if (q->rows)
        sb_puts(sub.sb, "#if !defined(QCC_FAST_VNNI)\n");
    cg_line(&sub, 0, "/* node %d: %d output pixel(s) x %d block(s) of 16 channels; taps "
            "[ky0,ky1) x [kx0,kx1) */", q->idx, P, B);
    cg_line(&sub, 0, "QCC_TILE void %s(const %s *x, int iy0, int ix0, int ky0, int ky1, int kx0, "
            "int kx1, int ob, const int32_t *bias, %s *y) {", tile_name(cg, q, P, B), q->xt,
            q->yt);
    if (q->rows) {
        tile_portable(&sub, q, P, B);
        cg_line(&sub, 0, "}");
        sb_puts(sub.sb, "#endif\n");
        return;
    }
    if (cg->o->simd == CG_SIMD_NEON) { /* NEON target: qneon.c's body instead of VNNI */
        NeonConvTile nt = {q->idx, P, B, q->c, q->g4, q->ct, q->gt, q->iw, q->kh, q->kw, q->sw,
                           q->dh, q->dw, q->co, q->blocks, q->s8, &q->fq};
        sb_puts(sub.sb, "#if defined(QCC_NEON)\n");
        neon_conv_tile(&sub, &nt);
    } else {
        sb_puts(sub.sb, "#if defined(QCC_FAST_VNNI)\n");
        tile_vnni(&sub, q, P, B);
    }
    sb_puts(sub.sb, "#else\n");
    tile_portable(&sub, q, P, B);
    sb_puts(sub.sb, "#endif\n");
    cg_line(&sub, 0, "}");
}

/* ---- x86 VNNI row mode ------------------------------------------------------------------
 * With dilation 1 along x, the taps of one kernel row are one contiguous run of kw*c bytes,
 * so the dot products group that run in fours (a stem with c = 3 and kw = 7 needs 6 groups,
 * not 7 taps of one padded group). Padding is made real: per output row the node copies the
 * kh input rows it reads into a band (x ^ 0x80 for int8, zx' in the padding), so every pixel
 * is an interior one, the tiles have no tap ranges and no bias tables, and a row is covered
 * by tiles of P pixels and one remainder tile. A conv without padding and c % 4 == 0 reads
 * its input directly (mode 2: the 1x1 convs). The NEON target and the portable path keep
 * the tap-range tiles above. */

/* Tables of an asymmetric-weight node (row mode only): the run-grouped weights, c3p with
 * the zero point's constant share, -zw per lane, and per run group a word of 0/1 bytes that
 * sums the input bytes the group really covers (sum(x) over the window, for -zw * sum(x)).
 * With u = x + off (off = 128 for int8, padding zx + off): -zw*sum(x) = -zw*sum(u) +
 * zw*K*off, K = kh*kw*c, so c3p = c3 - off*sum(w) + zw*K*off. */
static void emit_ztables(CGen *cg, const Node *n, ConvGeo *q) {
    const Tensor *w = cg_tin(cg, n, 1);
    const int8_t *wd = w->data;
    Arena *a = cg->g->arena;
    int taps = q->kh * q->kw, run = q->kw * q->c;
    int64_t K = (int64_t)taps * q->c, off = q->s8 ? 128 : 0;
    int64_t nv = (int64_t)q->blocks * q->kh * q->rg * 64;
    int8_t *wv = arena_calloc(a, (size_t)nv, 1);
    int32_t *c3p = arena_calloc(a, (size_t)q->lanes, sizeof(int32_t));
    int32_t *nzw = arena_calloc(a, (size_t)q->lanes, sizeof(int32_t));
    int32_t *ones = arena_calloc(a, (size_t)q->rg, sizeof(int32_t));
    for (int oc = 0; oc < q->co; oc++) {
        int64_t wsum = 0;
        for (int ky = 0; ky < q->kh; ky++)
            for (int j = 0; j < run; j++) {
                int8_t v = wd[((int64_t)oc * q->c + j % q->c) * taps + ky * q->kw + j / q->c];
                wsum += v;
                wv[((((int64_t)(oc / 16) * q->kh + ky) * q->rg + j / 4) * 16 + oc % 16) * 4 +
                   j % 4] = v;
            }
        int64_t c3 = n->q.nbias > 0 ? n->q.c3[n->q.nbias > 1 ? oc : 0] : 0;
        c3p[oc] = (int32_t)(c3 - off * wsum + (int64_t)q->zw[oc] * K * off);
        nzw[oc] = -q->zw[oc];
    }
    for (int j = 0; j < run; j++)
        ones[j / 4] |= (int32_t)(1u << (8 * (j % 4)));
    sb_printf(cg->helpers, "/* node %d: weights grouped by kernel-row runs; asymmetric weights "
              "(zero point per channel in n%d_nzw, negated) */\n", q->idx, q->idx);
    cg_byte_array(cg->helpers, cg_fmt(cg, "n%d_wv", q->idx), wv, nv, true);
    cg_i32_array(cg, cg->helpers, cg_fmt(cg, "n%d_c3p", q->idx), c3p, q->lanes);
    cg_i32_array(cg, cg->helpers, cg_fmt(cg, "n%d_nzw", q->idx), nzw, q->lanes);
    sb_puts(cg->helpers, "#if defined(QCC_FAST_VNNI)\n"); /* the plain body tests j < run */
    cg_i32_array(cg, cg->helpers, cg_fmt(cg, "n%d_ones", q->idx), ones, q->rg);
    sb_puts(cg->helpers, "#endif\n");
}

static const char *rtile_name(CGen *cg, const ConvGeo *q, int p, int b) {
    return cg_fmt(cg, "n%d_rtile_%dx%d", q->idx, p, b);
}

/* Row tiles reading the input in place (mode 2) read int8 as uint8: x ^ 0x80 (= x + 128). */
static void rtile_xor(const ConvGeo *q, const char **pre, const char **post) {
    bool xr = q->rows == 2 && q->s8;
    *pre = xr ? "_mm512_xor_si512(" : "";
    *post = xr ? ", _mm512_set1_epi32(-2139062144))" : ""; /* 0x80808080 */
}

/* Opens a row tile's sum loops: per kernel row ky (input row xt) and group g of 4 bytes of
 * its run, the weight vectors w0..w<B-1> of blocks ob.. in registers. */
static void rtile_loops_open(CGen *cg, const ConvGeo *q, int B) {
    int64_t bstride = (int64_t)q->kh * q->rg * 64;
    cg_line(cg, 1, "for (int ky = 0; ky < %d; ky++) {", q->kh);
    cg_line(cg, 2, "const uint8_t *xt = xr + ky * %lld;", (long long)q->brow);
    cg_line(cg, 2, "const int8_t *wt = n%d_wv + (ob * %d + ky) * %d;", q->idx, q->kh, q->rg * 64);
    cg_line(cg, 2, "for (int g = 0; g < %d; g++) {", q->rg);
    for (int b = 0; b < B; b++) {
        cg_line(cg, 3, "__m512i w%d = _mm512_loadu_si512(wt + g * 64 + %lld);", b,
                (long long)(b * bstride));
        cg_line(cg, 3, "QCC_PIN(w%d);", b);
    }
}

/* A row tile whose weights all fit in 16 registers (kh * rg * B <= 16: a 1x1 conv with K <=
 * 64 / B, or a small kh x kw*c window) may run pixel by pixel without reloading them. Then the
 * stores of one group of pixels (a packed 64-byte store: 4/B pixels) go between the sums of
 * the next group and the group after, so the requant of one group and the vpdpbusd of the
 * next are side by side in the instruction stream. With small K the requant is as long as
 * the sums; after the sums of a whole 5 x 4 tile, then its 20 stores, the core's window held
 * too little of either. Measured on the 16 -> 64 channel 1x1 conv of mobilenet_tiny:
 * 9.3 -> 7.8 us. */
static bool rtile_staged(const ConvGeo *q, int P, int B) {
    return !q->zw && (B == 4 || B == 2 || B == 1) && P % (4 / B) == 0 &&
           q->kh * q->rg <= 6 && q->kh * q->rg * B <= 16;
}

/* Blocks per row tile where staging pays, else 0: at most 6 vpdpbusd per output vector (K
 * <= 24 for a 1x1 conv); at 8 (K = 32) the staged tiles ran no faster, and a staged
 * 1-block tile of K = 64 ran 7% slower than the 2-block one. The most blocks whose weights
 * fit in 16 registers (B = 2 for K = 24: 4.45 -> 4.13 us on a 24 -> 96 channel 1x1 conv at
 * 16x16; 1 block of 12 pixels for the 3x3 stems of one input channel, 2.0 -> 1.8 us). */
static int staged_blocks(const ConvGeo *q) {
    if (!q->rows || q->zw || q->kh * q->rg > 6)
        return 0;
    for (int b = 4; b >= 1; b /= 2)
        if (b <= q->blocks && q->kh * q->rg * b <= 16)
            return b;
    return 0;
}

/* The sums of pixel p of a staged row tile, from the weights w<ky * rg + g>_<b>. */
static void staged_sums(CGen *cg, int ind, const ConvGeo *q, int p, int B, const char *bias) {
    const char *xor80, *xor80e;
    rtile_xor(q, &xor80, &xor80e);
    for (int b = 0; b < B; b++)
        cg_line(cg, ind, "__m512i a%d_%d = _mm512_loadu_si512(%s + (ob + %d) * 16);", p, b,
                bias, b);
    for (int ky = 0; ky < q->kh; ky++)
        for (int g = 0; g < q->rg; g++) {
            StrBuf l;
            sb_init(&l);
            sb_printf(&l, "u = %sqcc_v16_bcast4(xr + %lld)%s;", xor80,
                      (long long)(ky * q->brow + (int64_t)p * q->sw * q->c + 4 * g), xor80e);
            for (int b = 0; b < B; b++)
                sb_printf(&l, " QCC_DPBUSD(a%d_%d, u, w%d_%d);", p, b, ky * q->rg + g, b);
            cg_line(cg, ind, "%s", l.data);
            sb_free(&l);
        }
}

static void rtile_vnni_staged(CGen *cg, const ConvGeo *q, int P, int B) {
    int64_t bstride = (int64_t)q->kh * q->rg * 64;
    int S = 4 / B;
    const char *bias = cg_fmt(cg, "n%d_c3p", q->idx); /* the sums start at it */
    const char *names[4];
    cg_line(cg, 1, "/* staged: the sums of pixels [p, p + %d), then the stores of the %d "
            "before them */", S, S);
    cg_line(cg, 1, "const int8_t *wt = n%d_wv + ob * %lld;", q->idx, (long long)bstride);
    for (int i = 0; i < q->kh * q->rg; i++)
        for (int b = 0; b < B; b++) {
            cg_line(cg, 1, "__m512i w%d_%d = _mm512_loadu_si512(wt + %lld);", i, b,
                    (long long)(b * bstride + i * 64));
            cg_line(cg, 1, "QCC_PIN(w%d_%d);", i, b);
        }
    cg_line(cg, 1, "__m512i u;");
    bool checked = fastk_vnni_checked_begin(cg, 1, &q->fq);
    cg_line(cg, 1, "{");
    vnni_put_begin(cg, 2, q, &q->fq, B, bias, names);
    for (int p0 = 0; p0 <= P; p0 += S) {
        for (int p = p0; p < P && p < p0 + S; p++)
            staged_sums(cg, 2, q, p, B, bias);
        if (p0 > 0)
            vnni_put_group(cg, 2, q, &q->fq, B, names, p0 - S, false);
    }
    cg_line(cg, 1, "}");
    if (checked) { /* rare: the sums again, stored exactly */
        FastQuant exact;
        fastk_vnni_checked_redo(cg, 1, &q->fq, &exact);
        vnni_put_begin(cg, 2, q, &exact, B, bias, names);
        for (int p0 = 0; p0 < P; p0 += S) {
            cg_line(cg, 2, "{");
            for (int p = p0; p < p0 + S; p++)
                staged_sums(cg, 3, q, p, B, bias);
            vnni_put_group(cg, 3, q, &exact, B, names, p0, false);
            cg_line(cg, 2, "}");
        }
        cg_line(cg, 1, "}");
    }
}

/* Paired row tile (q->pair: 24 or 8 output channels, B = 2 or 1 blocks, P even). The last
 * block's vector h<i> holds its 8 channels for pixels 2i (lanes 0-7) and 2i + 1 (lanes 8-15):
 * the weights, c3 and requant arrays repeat those 8 channels in the padding lanes, and the
 * broadcast of its 4 input bytes is the two pixels' broadcasts blended. Where a half-empty
 * block took a vpdpbusd per pixel, it takes one per pair (a quarter of the 24-channel
 * layers' vpdpbusd and requant), at the cost of a vpblendmd. */
static void pair_stores(CGen *cg, int ind, const ConvGeo *q, const FastQuant *fq, int P, int B,
                        const char *bias) {
    const char *names[4], *rq[4], *accs[4], *dst[4];
    bool u8 = strcmp(fq->yt, "uint8_t") == 0;
    cg_line(cg, ind, "{");
    vnni_prep_blocks(cg, ind + 1, fq, B, bias, names);
    if (B == 2 || P / 2 >= 4) /* the packed stores' declarations, where there are some */
        fastk_vnni_put4_begin(cg, ind + 1, fq);
    if (B == 2) { /* per pair: 48 bytes, pixel 2i's 16 + 8 channels, then pixel 2i + 1's */
        for (int i = 0; i < P / 2; i++) {
            const char *h = cg_fmt(cg, "h%d", i);
            rq[0] = names[0], accs[0] = cg_fmt(cg, "a%d_0", 2 * i);
            rq[1] = names[1], accs[1] = h;
            rq[2] = names[0], accs[2] = cg_fmt(cg, "a%d_0", 2 * i + 1);
            rq[3] = names[1], accs[3] = h;
            cg_line(cg, ind + 1, "v = qcc_v64_pk_%s(%s, %s,", u8 ? "u8" : "s8",
                    fastk_vnni_requant(cg, fq, rq[0], accs[0]),
                    fastk_vnni_requant(cg, fq, rq[1], accs[1]));
            cg_line(cg, ind + 1, "                %s, %s);",
                    fastk_vnni_requant(cg, fq, rq[2], accs[2]),
                    fastk_vnni_requant(cg, fq, rq[3], accs[3]));
            /* the packs' dword 4L + j is lanes 4L..4L+3 of vector j; out: A, h's low half,
             * A', h's high half */
            cg_line(cg, ind + 1, "v = _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, "
                    "5, 2, 6, 10, 14, 9, 13, 3, 7, 11, 15), v);");
            const char *v = "v";
            if (fq->sat && fq->kf)
                v = fastk_byte_clamp(cg, v, u8, atoi(fq->lo), atoi(fq->hi), true);
            cg_line(cg, ind + 1, "_mm512_mask_storeu_epi8(y + %d, (__mmask64)0xffffffffffffULL, "
                    "%s);", 2 * i * q->co, v);
        }
    } else { /* B = 1, 8 channels: four pairs are 64 contiguous bytes */
        int i = 0;
        for (; i + 4 <= P / 2; i += 4) {
            for (int j = 0; j < 4; j++)
                rq[j] = names[0], accs[j] = cg_fmt(cg, "h%d", i + j);
            dst[0] = cg_fmt(cg, "y + %d", 2 * i * q->co);
            fastk_vnni_put4(cg, ind + 1, fq, rq, accs, dst, 1, 64);
        }
        for (; i < P / 2; i++)
            fastk_vnni_put(cg, ind + 1, fq, names[0], cg_fmt(cg, "h%d", i),
                           cg_fmt(cg, "y + %d", 2 * i * q->co), 16);
    }
    cg_line(cg, ind, "}");
}

static void rtile_vnni_pair(CGen *cg, const ConvGeo *q, int P, int B) {
    const char *xor80, *xor80e;
    rtile_xor(q, &xor80, &xor80e);
    const char *bias = cg_fmt(cg, "n%d_c3p", q->idx); /* the sums start at it */
    QCC_ASSERT(P % 2 == 0 && (B == 1 || B == 2));
    for (int p = 0; B == 2 && p < P; p++)
        cg_line(cg, 1, "__m512i a%d_0 = _mm512_loadu_si512(%s);", p, bias);
    for (int i = 0; i < P / 2; i++)
        cg_line(cg, 1, "__m512i h%d = _mm512_loadu_si512(%s + %d);", i, bias, (B - 1) * 16);
    rtile_loops_open(cg, q, B);
    cg_line(cg, 3, "__m512i u0, u1;");
    for (int p = 0; p < P; p++) {
        StrBuf l;
        sb_init(&l);
        sb_printf(&l, "u%d = %sqcc_v16_bcast4(xt + %lld + 4 * g)%s;", p % 2, xor80,
                  (long long)p * q->sw * q->c, xor80e);
        if (B == 2)
            sb_printf(&l, " QCC_DPBUSD(a%d_0, u%d, w0);", p, p % 2);
        if (p % 2)
            sb_printf(&l, " QCC_DPBUSD(h%d, _mm512_mask_blend_epi32((__mmask16)0xff00, u0, u1), "
                      "w%d);", p / 2, B - 1);
        cg_line(cg, 3, "%s", l.data);
        sb_free(&l);
    }
    cg_line(cg, 2, "}");
    cg_line(cg, 1, "}");
    bool checked = fastk_vnni_checked_begin(cg, 1, &q->fq);
    pair_stores(cg, 1, q, &q->fq, P, B, bias);
    if (checked) {
        FastQuant exact;
        fastk_vnni_checked_redo(cg, 1, &q->fq, &exact);
        pair_stores(cg, 2, q, &exact, P, B, bias);
        cg_line(cg, 1, "}");
    }
}

static void rtile_vnni(CGen *cg, const ConvGeo *q, int P, int B) {
    if (q->pair) {
        rtile_vnni_pair(cg, q, P, B);
        return;
    }
    if (rtile_staged(q, P, B)) {
        rtile_vnni_staged(cg, q, P, B);
        return;
    }
    const char *xor80, *xor80e;
    rtile_xor(q, &xor80, &xor80e);
    const char *bias = cg_fmt(cg, "n%d_c3p", q->idx); /* the sums start at it */
    for (int p = 0; p < P; p++)
        for (int b = 0; b < B; b++)
            cg_line(cg, 1, "__m512i a%d_%d = _mm512_loadu_si512(%s + (ob + %d) * 16);", p, b,
                    bias, b);
    if (q->zw) /* per pixel: the window's sum of u in every lane */
        for (int p = 0; p < P; p++)
            cg_line(cg, 1, "__m512i s%d = _mm512_setzero_si512();", p);
    rtile_loops_open(cg, q, B);
    cg_line(cg, 3, "__m512i u;");
    if (q->zw)
        cg_line(cg, 3, "const __m512i ones = _mm512_set1_epi32(n%d_ones[g]);", q->idx);
    for (int p = 0; p < P; p++) {
        cg_line(cg, 3, "u = %sqcc_v16_bcast4(xt + %lld + 4 * g)%s;", xor80,
                (long long)p * q->sw * q->c, xor80e);
        StrBuf l;
        sb_init(&l);
        for (int b = 0; b < B; b++)
            sb_printf(&l, "%sQCC_DPBUSD(a%d_%d, u, w%d);", b ? " " : "", p, b, b);
        if (q->zw)
            sb_printf(&l, " QCC_DPBUSD(s%d, u, ones);", p);
        cg_line(cg, 3, "%s", l.data);
        sb_free(&l);
    }
    cg_line(cg, 2, "}");
    cg_line(cg, 1, "}");
    vnni_epilogue(cg, q, P, B, cg_fmt(cg, "n%d_c3p", q->idx), q->zw != NULL);
}

/* Plain C body of a row tile (asymmetric-weight nodes in builds without VNNI): the same sums
 * one output at a time, straight from the run-grouped weights. */
static void rtile_plain(CGen *cg, const ConvGeo *q, int P, int B) {
    bool xr = q->rows == 2 && q->s8;
    int run = q->kw * q->c;
    cg_line(cg, 1, "for (int b = 0; b < %d; b++)", B);
    cg_line(cg, 2, "for (int l = 0; l < 16 && (ob + b) * 16 + l < %d; l++) {", q->co);
    cg_line(cg, 3, "const int oc = (ob + b) * 16 + l;");
    cg_line(cg, 3, "for (int p = 0; p < %d; p++) {", P);
    cg_line(cg, 4, "int32_t acc = 0, sum_u = 0;");
    cg_line(cg, 4, "for (int ky = 0; ky < %d; ky++) {", q->kh);
    cg_line(cg, 5, "const uint8_t *xt = xr + ky * %lld + p * %d;", (long long)q->brow,
            q->sw * q->c);
    cg_line(cg, 5, "const int8_t *wt = n%d_wv + ((ob + b) * %d + ky) * %d + l * 4;", q->idx,
            q->kh, q->rg * 64);
    cg_line(cg, 5, "for (int j = 0; j < %d; j++) {", run);
    cg_line(cg, 6, "const int32_t u = %s;", xr ? "(uint8_t)(xt[j] ^ 0x80u)" : "xt[j]");
    cg_line(cg, 6, "acc += u * wt[j / 4 * 64 + j %% 4];");
    cg_line(cg, 6, "sum_u += u;");
    cg_line(cg, 5, "}");
    cg_line(cg, 4, "}");
    cg_line(cg, 4, "acc += n%d_nzw[oc] * sum_u;", q->idx);
    fastk_scalar_store(cg, 4, &q->fq, "acc", cg_fmt(cg, "n%d_c3p", q->idx), "oc",
                       cg_fmt(cg, "y[p * %d + oc]", q->co));
    cg_line(cg, 3, "}");
    cg_line(cg, 2, "}");
}

static void emit_rtile(CGen *cg, const ConvGeo *q, int P, int B) {
    CGen sub = *cg;
    sub.sb = cg->helpers;
    cg_line(&sub, 0, "/* node %d: %d output pixel(s) x %d block(s) of 16 channels, every tap "
            "read from %s */", q->idx, P, B, q->rows == 1 ? "the band" : "the input");
    cg_line(&sub, 0, "QCC_TILE void %s(const uint8_t *xr, int ob, %s *y) {", rtile_name(cg, q, P, B),
            q->yt);
    if (q->zw) { /* every build runs the row mode: VNNI body or plain C */
        sb_puts(sub.sb, "#if defined(QCC_FAST_VNNI)\n");
        rtile_vnni(&sub, q, P, B);
        sb_puts(sub.sb, "#else\n");
        rtile_plain(&sub, q, P, B);
        sb_puts(sub.sb, "#endif\n");
    } else {
        rtile_vnni(&sub, q, P, B);
    }
    cg_line(&sub, 0, "}");
}

static void emit_rcalls(CGen *cg, const ConvGeo *q, int ind, int P, const char *ox) {
    int nfull = q->blocks / q->bmain * q->bmain;
    const char *xr = cg_fmt(cg, "xr + (%s) * %d", ox, q->sw * q->c);
    if (nfull > q->bmain)
        cg_line(cg, ind, "for (int ob = 0; ob < %d; ob += %d)", nfull, q->bmain);
    cg_line(cg, ind + (nfull > q->bmain), "%s(%s, %s, yr + (%s) * %d);",
            rtile_name(cg, q, P, q->bmain), xr, nfull > q->bmain ? "ob" : "0", ox, q->co);
    if (q->btail)
        cg_line(cg, ind, "%s(%s, %d, yr + (%s) * %d);", rtile_name(cg, q, P, q->btail), xr, nfull,
                ox, q->co);
}

/* How row mode covers a row of ow pixels with tiles of at most pm: n[0] tiles of p[0] = pm,
 * then n[1] tiles of p[1]. Where the remainder would be one small tile (56 = 11 x 5 + 1) and
 * there are enough tiles, the last ones take one pixel less instead (56 = 8 x 5 + 4 x 4):
 * a 1-pixel tile runs at about half the MAC rate of a full one. */
static void row_split(int ow, int pm, int n[2], int p[2]) {
    int t = (ow + pm - 1) / pm, d = t * pm - ow;
    p[0] = pm, n[0] = ow / pm, p[1] = ow % pm, n[1] = p[1] > 0;
    if (d > 0 && d <= t && pm > 2 && p[1] < pm - 1)
        n[0] = t - d, p[1] = pm - 1, n[1] = d;
}

/* row_split for q's tiles: paired tiles need an even number of pixels (ow and pm are). */
static void row_split_q(const ConvGeo *q, int pm, int n[2], int p[2]) {
    if (!q->pair) {
        row_split(q->ow, pm, n, p);
        return;
    }
    p[0] = pm, n[0] = q->ow / pm, p[1] = q->ow % pm, n[1] = p[1] > 0;
}

/* The row tiles row_split uses (main and tail channel blocks). */
static void emit_rtiles(CGen *cg, const ConvGeo *q, int pm) {
    int n[2], p[2];
    row_split_q(q, pm, n, p);
    for (int i = 0; i < 2; i++)
        if (n[i] > 0) {
            emit_rtile(cg, q, p[i], q->bmain);
            if (q->btail)
                emit_rtile(cg, q, p[i], q->btail);
        }
}

/* Output rows per band fill in mode 1: with dilation 1 the band holds the input rows of a
 * group of m output rows, (m - 1) * sh + kh rows, each copied once per group instead of once
 * per output row that reads it (kh times at stride 1); the band stays within 32 KiB of stack.
 * Groups are balanced: as many as the largest group needs, of sizes differing by at most 1. */
static int band_group(const ConvGeo *q) {
    int m = 1;
    while (q->dh == 1 && m < q->oh && ((int64_t)m * q->sh + q->kh) * q->brow <= 32768)
        m++;
    int groups = (q->oh + m - 1) / m;
    return (q->oh + groups - 1) / groups;
}

/* Band rows [from, to) all zx'. */
static void emit_band_pad(CGen *cg, const ConvGeo *q, const char *from, const char *to) {
    cg_line(cg, 3, "for (int r = %s; r < %s; r++)", from, to);
    cg_line(cg, 4, "for (int i = 0; i < %lld; i++)", (long long)q->bw * q->c);
    cg_line(cg, 5, "band[r * %lld + i] = %d;", (long long)q->brow, q->zxp);
}

/* Mode 1's band fill for the output rows from row0: rows above and below the image are zx',
 * the others the input row with zx' columns for the padding. The three loops have no test
 * inside: gcc 12 at -O3 with AVX-512 miscompiled one loop over all rows that tested each
 * row's position (outer-loop vectorization; the kws models' 10x4 stride-2 conv). */
static void emit_band_fill(CGen *cg, const ConvGeo *q, int nrows) {
    int ncopy = q->iw < q->bw - q->pl ? q->iw : q->bw - q->pl; /* input columns read */
    const char *iy0 = cg_fmt(cg, "row0 * %d - %d", q->sh, q->pt);
    cg_line(cg, 3, "int r_lo = 0, r_hi = %d; /* band rows inside the image: [r_lo, r_hi) */",
            nrows);
    cg_line(cg, 3, "while (r_lo < %d && %s + r_lo * %d < 0)", nrows, iy0, q->dh);
    cg_line(cg, 4, "r_lo++;");
    cg_line(cg, 3, "while (r_hi > r_lo && %s + (r_hi - 1) * %d >= %d)", iy0, q->dh, q->ih);
    cg_line(cg, 4, "r_hi--;");
    emit_band_pad(cg, q, "0", "r_lo");
    cg_line(cg, 3, "for (int r = r_lo; r < r_hi; r++) {");
    cg_line(cg, 4, "uint8_t *br = band + r * %lld;", (long long)q->brow);
    cg_line(cg, 4, "const %s *src = xb + (%s + r * %d) * %lld;", q->xt, iy0, q->dh,
            (long long)q->iw * q->c);
    if (q->pl > 0) {
        cg_line(cg, 4, "for (int i = 0; i < %d; i++)", q->pl * q->c);
        cg_line(cg, 5, "br[i] = %d;", q->zxp);
    }
    cg_line(cg, 4, "for (int i = 0; i < %d; i++)", ncopy * q->c);
    cg_line(cg, 5, "br[%d + i] = (uint8_t)%s;", q->pl * q->c,
            q->s8 ? "(src[i] ^ 0x80)" : "src[i]");
    if (q->pl + ncopy < q->bw) {
        cg_line(cg, 4, "for (int i = %d; i < %lld; i++)", (q->pl + ncopy) * q->c,
                (long long)q->bw * q->c);
        cg_line(cg, 5, "br[i] = %d;", q->zxp);
    }
    cg_line(cg, 3, "}");
    emit_band_pad(cg, q, "r_hi", cg_fmt(cg, "%d", nrows));
}

/* The node body of row mode: band fill (mode 1), then the tiles of row_split. */
static void emit_rbody(CGen *cg, const ConvGeo *q, int pm) {
    int n[2], p[2];
    row_split_q(q, pm, n, p);
    int m = q->rows == 1 ? band_group(q) : 1, nrows = (m - 1) * q->sh + q->kh;
    int ti = 3; /* indent of the per-output-row code */
    if (q->rows == 1) {
        cg_line(cg, 1, "/* the input rows of %d output row(s), padding made real (zx' = %d)%s */",
                m, q->zxp, q->s8 ? ", int8 read as x ^ 0x80" : "");
        cg_line(cg, 1, "uint8_t band[%lld];", (long long)(nrows * q->brow));
        cg_line(cg, 1, "for (int i = 0; i < %lld; i++)", (long long)(nrows * q->brow));
        cg_line(cg, 2, "band[i] = %d;", q->zxp);
    }
    cg_line(cg, 1, "for (int batch = 0; batch < %d; batch++) {", q->nb);
    cg_line(cg, 2, "const %s *xb = x0 + batch * %lld;", q->xt, (long long)q->ih * q->iw * q->c);
    if (q->rows == 1) {
        cg_line(cg, 2, "for (int row0 = 0; row0 < %d; row0 += %d) {", q->oh, m);
        emit_band_fill(cg, q, nrows);
        if (m > 1)
            cg_line(cg, 3, "for (int out_y = row0; out_y < row0 + %d && out_y < %d; out_y++) {",
                    m, q->oh);
        else
            cg_line(cg, 3, "{");
        ti = 4;
        cg_line(cg, ti, "%s *yr = y0 + (batch * %d + %s) * %lld;", q->yt, q->oh,
                m > 1 ? "out_y" : "row0", (long long)q->ow * q->co);
        if (m > 1)
            cg_line(cg, ti, "const uint8_t *xr = band + (out_y - row0) * %lld;",
                    (long long)q->sh * q->brow);
        else
            cg_line(cg, ti, "const uint8_t *xr = band;");
    } else {
        cg_line(cg, 2, "for (int out_y = 0; out_y < %d; out_y++) {", q->oh);
        cg_line(cg, ti, "%s *yr = y0 + (batch * %d + out_y) * %lld;", q->yt, q->oh,
                (long long)q->ow * q->co);
        cg_line(cg, ti, "const uint8_t *xr = (const uint8_t *)(xb + out_y * %lld);",
                (long long)q->sh * q->iw * q->c);
    }
    for (int i = 0, x0 = 0; i < 2; x0 += n[i] * p[i], i++) {
        if (n[i] > 1) {
            cg_line(cg, ti, "for (int out_x = %d; out_x < %d; out_x += %d) {", x0,
                    x0 + n[i] * p[i], p[i]);
            emit_rcalls(cg, q, ti + 1, p[i], "out_x");
            cg_line(cg, ti, "}");
        } else if (n[i] == 1) {
            cg_line(cg, ti, "{");
            emit_rcalls(cg, q, ti + 1, p[i], cg_fmt(cg, "%d", x0));
            cg_line(cg, ti, "}");
        }
    }
    for (int ind = ti - 1; ind >= 1; ind--)
        cg_line(cg, ind, "}");
}

/* ---- the node function --------------------------------------------------------------- */

/* Calls covering every block of 16 output channels for P pixels at column `ox`. */
static void emit_calls(CGen *cg, const ConvGeo *q, int ind, int P, const char *ix0,
                       const char *kx, const char *bias, const char *ox) {
    int nfull = q->blocks / q->bmain * q->bmain;
    if (nfull > q->bmain)
        cg_line(cg, ind, "for (int ob = 0; ob < %d; ob += %d)", nfull, q->bmain);
    cg_line(cg, ind + (nfull > q->bmain), "%s(xb, iy0, %s, ky0, ky1, %s, %s, %s, yr + (%s) * %d);",
            tile_name(cg, q, P, q->bmain), ix0, kx, nfull > q->bmain ? "ob" : "0", bias, ox,
            q->co);
    if (q->btail)
        cg_line(cg, ind, "%s(xb, iy0, %s, ky0, ky1, %s, %d, %s, yr + (%s) * %d);",
                tile_name(cg, q, P, q->btail), ix0, kx, nfull, bias, ox, q->co);
}

static void emit_body(CGen *cg, const ConvGeo *q, int pm, int nmain, int rem) {
    cg_line(cg, 1, "/* NHWC direct convolution: tiles of %d pixels over columns [%d, %d), "
            "single pixels at the borders */", pm, q->xl, q->xr);
    if (q->tapz)
        cg_line(cg, 1, "int32_t adj_row[%d], adj_px[%d];", q->lanes, q->lanes);
    cg_line(cg, 1, "for (int batch = 0; batch < %d; batch++) {", q->nb);
    cg_line(cg, 2, "const %s *xb = x0 + batch * %lld;", q->xt,
            (long long)q->ih * q->iw * q->c);
    cg_line(cg, 2, "for (int out_y = 0; out_y < %d; out_y++) {", q->oh);
    cg_line(cg, 3, "const int iy0 = out_y * %d - %d;", q->sh, q->pt);
    cg_line(cg, 3, "int ky0 = 0, ky1 = %d;", q->kh);
    cg_line(cg, 3, "while (ky0 < %d && iy0 + ky0 * %d < 0)", q->kh, q->dh);
    cg_line(cg, 4, "ky0++;");
    cg_line(cg, 3, "while (ky1 > ky0 && iy0 + (ky1 - 1) * %d >= %d)", q->dh, q->ih);
    cg_line(cg, 4, "ky1--;");
    cg_line(cg, 3, "%s *yr = y0 + (batch * %d + out_y) * %lld;", q->yt, q->oh,
            (long long)q->ow * q->co);
    const char *rb = cg_fmt(cg, "n%d_c3p", q->idx), *pb = rb;
    if (q->tapz) {
        cg_line(cg, 3, "const int32_t *rb = n%d_c3p;", q->idx);
        cg_line(cg, 3, "if (ky0 > 0 || ky1 < %d) {", q->kh);
        cg_line(cg, 4, "n%d_bias(adj_row, ky0, ky1, 0, %d);", q->idx, q->kw);
        cg_line(cg, 4, "rb = adj_row;");
        cg_line(cg, 3, "}");
        rb = "rb";
        pb = "pb";
    }
    const char *kxfull = cg_fmt(cg, "0, %d", q->kw);
    if (nmain > 0) {
        cg_line(cg, 3, "for (int out_x = %d; out_x < %d; out_x += %d) {", q->xl,
                q->xl + nmain * pm, pm);
        emit_calls(cg, q, 4, pm, cg_fmt(cg, "out_x * %d - %d", q->sw, q->pl), kxfull, rb,
                   "out_x");
        cg_line(cg, 3, "}");
    }
    if (rem > 0) {
        int ox = q->xl + nmain * pm;
        cg_line(cg, 3, "{");
        emit_calls(cg, q, 4, rem, cg_fmt(cg, "%d", ox * q->sw - q->pl), kxfull, rb,
                   cg_fmt(cg, "%d", ox));
        cg_line(cg, 3, "}");
    }
    for (int side = 0; side < 2; side++) {
        int from = side ? q->xr : 0, to = side ? q->ow : q->xl;
        if (from >= to)
            continue;
        cg_line(cg, 3, "for (int out_x = %d; out_x < %d; out_x++) { /* %s border */", from, to,
                side ? "right" : "left");
        cg_line(cg, 4, "const int ix0 = out_x * %d - %d;", q->sw, q->pl);
        cg_line(cg, 4, "int kx0 = 0, kx1 = %d;", q->kw);
        cg_line(cg, 4, "while (kx0 < %d && ix0 + kx0 * %d < 0)", q->kw, q->dw);
        cg_line(cg, 5, "kx0++;");
        cg_line(cg, 4, "while (kx1 > kx0 && ix0 + (kx1 - 1) * %d >= %d)", q->dw, q->iw);
        cg_line(cg, 5, "kx1--;");
        if (q->tapz) {
            cg_line(cg, 4, "const int32_t *pb = rb;");
            cg_line(cg, 4, "if (kx0 > 0 || kx1 < %d) {", q->kw);
            cg_line(cg, 5, "n%d_bias(adj_px, ky0, ky1, kx0, kx1);", q->idx);
            cg_line(cg, 5, "pb = adj_px;");
            cg_line(cg, 4, "}");
        }
        emit_calls(cg, q, 4, 1, "ix0", "kx0, kx1", pb, "out_x");
        cg_line(cg, 3, "}");
    }
    cg_line(cg, 2, "}");
    cg_line(cg, 1, "}");
}

bool cg_qconv_dense_nhwc(CGen *cg, const Node *n) {
    if (n->op != OP_CONV || !n->nhwc || !cg->helpers || n->nin < 2)
        return false;
    const Tensor *x = cg_tin(cg, n, 0), *w = cg_tin(cg, n, 1), *y = cg_tout(cg, n, 0);
    const ConvAttr *a = &n->a.conv;
    if (x->rank != 4 || w->rank != 4 || y->rank != 4 || !tensor_is_const(w) || !w->data ||
        w->dtype != DT_INT8 || !dtype_is_int8ish(x->dtype) || !dtype_is_int8ish(y->dtype) ||
        (a->group > 1) || n->q.nmul < 1)
        return false;
    ConvGeo q;
    memset(&q, 0, sizeof q);
    if (w->q.n != 1 && w->q.n != w->shape[0])
        return false;
    for (int i = 0; i < w->q.n; i++)
        if (w->q.zero_point[i] != 0) { /* asymmetric weights: row mode's sum(x) term */
            int32_t *zw = arena_calloc(cg->g->arena, (size_t)w->shape[0], sizeof(int32_t));
            for (int64_t oc = 0; oc < w->shape[0]; oc++)
                zw[oc] = w->q.zero_point[w->q.n == 1 ? 0 : oc];
            q.zw = zw;
            break;
        }
    q.idx = (int)(n - cg->g->nodes);
    q.nb = (int)x->shape[0], q.ih = (int)x->shape[1], q.iw = (int)x->shape[2];
    q.c = (int)x->shape[3];
    q.oh = (int)y->shape[1], q.ow = (int)y->shape[2], q.co = (int)y->shape[3];
    q.kh = (int)w->shape[2], q.kw = (int)w->shape[3];
    if (w->shape[0] != q.co || w->shape[1] != q.c || q.co < 1 || q.c < 1 || q.oh < 1 ||
        q.ow < 1)
        return false;
    if (n->q.nbias > 1 && n->q.nbias != q.co)
        return false;
    if (n->q.mul[0].n != 1 && n->q.mul[0].n != q.co)
        return false;
    q.sh = a->stride[0] > 0 ? (int)a->stride[0] : 1, q.sw = a->stride[1] > 0 ? (int)a->stride[1] : 1;
    q.dh = a->dilation[0] > 0 ? (int)a->dilation[0] : 1;
    q.dw = a->dilation[1] > 0 ? (int)a->dilation[1] : 1;
    q.pt = (int)a->pad[0], q.pl = (int)a->pad[1];
    bool padded = a->pad[0] || a->pad[1] || a->pad[2] || a->pad[3];
    if (q.kh == 1 && q.kw == 1 && q.sh == 1 && q.sw == 1 && !padded) {
        /* pointwise: the image is one row of ih*iw pixels, so tiles run across row ends */
        q.iw = q.ow = q.oh * q.ow;
        q.ih = q.oh = 1;
    }
    q.g4 = q.c / 4, q.ct = q.c % 4, q.gt = (q.c + 3) / 4;
    q.blocks = (q.co + 15) / 16, q.lanes = q.blocks * 16;
    q.s8 = x->dtype == DT_INT8;
    q.zxp = cg_zp(x) + (q.s8 ? 128 : 0);
    q.xt = dtype_ctype(x->dtype), q.yt = dtype_ctype(y->dtype);
    q.tapz = padded && q.zxp != 0;
    q.xl = (q.pl + q.sw - 1) / q.sw;
    q.xr = 0;
    while (q.xr < q.ow && q.xr * q.sw - q.pl + (q.kw - 1) * q.dw < q.iw)
        q.xr++;
    if (q.xl > q.ow)
        q.xl = q.ow;
    if (q.xr <= q.xl)
        q.xl = q.xr = q.ow; /* no interior: every column takes the border path */
    if (cg->o->simd != CG_SIMD_NEON && q.dw == 1) {
        q.rg = (q.kw * q.c + 3) / 4;
        q.bw = (q.ow - 1) * q.sw + q.kw;
        if (!padded && q.c % 4 == 0) {
            q.rows = 2;
            q.brow = (int64_t)q.dh * q.iw * q.c;
        } else if ((int64_t)q.kh * ((int64_t)q.bw * q.c + 4) <= 32768) {
            q.rows = 1; /* the band lives on the stack: 32 KiB at most */
            q.brow = (int64_t)q.bw * q.c + 4;
        }
    }
    q.bmain = q.blocks < 4 ? q.blocks : 4;
    int pm = tile_pixels(q.bmain);
    int sb = staged_blocks(&q);
    if (sb) {
        q.bmain = sb;
        pm = sb == 4 ? 5 : sb == 2 ? 10 : 12;
    }
    q.btail = q.blocks % q.bmain;
    /* 24 or 8 output channels: their last block would be half padding in every vector */
    q.pair = q.rows && !sb && !q.zw && q.co % 16 == 8 && q.blocks <= 2 && q.ow % 2 == 0;
    int nmain = (q.xr - q.xl) / pm, rem = (q.xr - q.xl) % pm;

    if (q.zw && !q.rows)
        return false; /* the tap-range tiles (NEON, dilated) have no sum(x) term */
    if (q.zw) { /* 5 x 4 accumulators + 5 pixel sums + 4 weights + ones + broadcast */
        int b = q.bmain, p = (32 - b - 2) / (b + 1);
        pm = p < pm ? p : pm;
    }

    fastk_runtime(cg);
    fastk_quant(cg, n, q.lanes, q.co, q.pair, &q.fq);
    fastk_bound(cg, n, (int64_t)q.kh * q.kw * q.c, &q.fq);
    if (q.zw) { /* row mode for every build: the rtiles have a portable body too */
        emit_ztables(cg, n, &q);
        emit_rtiles(cg, &q, pm);
        emit_rbody(cg, &q, pm);
        return true;
    }
    emit_tables(cg, n, &q);
    int ps[3] = {nmain > 0 ? pm : 0, rem, (q.xl > 0 || q.xr < q.ow) ? 1 : 0};
    for (int i = 0; i < 3; i++) {
        bool seen = ps[i] == 0;
        for (int j = 0; j < i; j++)
            seen = seen || ps[j] == ps[i];
        if (seen)
            continue;
        emit_tile(cg, &q, ps[i], q.bmain);
        if (q.btail)
            emit_tile(cg, &q, ps[i], q.btail);
    }
    if (q.rows) {
        sb_puts(cg->helpers, "#if defined(QCC_FAST_VNNI)\n");
        emit_rtiles(cg, &q, pm);
        sb_puts(cg->helpers, "#endif\n");
        sb_puts(cg->sb, "#if defined(QCC_FAST_VNNI)\n");
        emit_rbody(cg, &q, pm);
        sb_puts(cg->sb, "#else\n");
        emit_body(cg, &q, pm, nmain, rem);
        sb_puts(cg->sb, "#endif\n");
        return true;
    }
    emit_body(cg, &q, pm, nmain, rem);
    return true;
}
