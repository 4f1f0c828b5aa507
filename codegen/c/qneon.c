/* qneon.c: aarch64 NEON bodies for the fast kernels of the neon target (qneon.h): the dense
 * NHWC convolution tile and the constant-B GEMV, each in two forms, SDOT (vdotq_s32 and
 * vdotq_laneq_s32, 4 input channels x 4 output channels per instruction) under
 * __ARM_FEATURE_DOTPROD and vmull_s8 + vpadalq_s16 otherwise, over the same packed weights as
 * the VNNI path; and the depthwise channel loop (int16 x int16 -> int32 vmlal_s16). The
 * epilogue requantizes 4 lanes at a time with target_neon.c's qcc_n_requant_* (the runtime's
 * formulas, lane for lane), so the bytes written are those of the portable path.
 * Vector integer adds wrap modulo 2^32, so only the final sum's range matters, and that sum
 * is the portable kernel's (int32-exact by the passes' bound). Writes text only. */
#include "qneon.h"

void neon_conv_wsum(CGen *cg, int idx, const int8_t *wv, int taps, int gt, int blocks) {
    int lanes = blocks * 16;
    int32_t *ws = arena_calloc(cg->g->arena, (size_t)taps * (size_t)lanes, sizeof(int32_t));
    for (int blk = 0; blk < blocks; blk++)
        for (int t = 0; t < taps; t++)
            for (int g = 0; g < gt; g++)
                for (int lane = 0; lane < 16; lane++)
                    for (int i = 0; i < 4; i++)
                        ws[t * lanes + blk * 16 + lane] +=
                            wv[((((int64_t)blk * taps + t) * gt + g) * 16 + lane) * 4 + i];
    sb_puts(cg->helpers, "#if defined(QCC_NEON)\n");
    sb_printf(cg->helpers, "/* node %d, NEON: per tap, sum over input channels of w (SDOT "
              "reads u - 128; 128 * this restores sum(u*w)) */\n", idx);
    cg_i32_array(cg, cg->helpers, cg_fmt(cg, "n%d_wsum", idx), ws, taps * lanes);
    sb_puts(cg->helpers, "#endif\n");
}

void neon_store16(CGen *cg, int ind, const FastQuant *fq, const char *const acc[4],
                  const char *bias, const char *oc, const char *dst, const char *valid) {
    cg_line(cg, ind, "{");
    for (int j = 0; j < 4; j++) {
        const char *v = bias ? cg_fmt(cg, "vaddq_s32(%s, vld1q_s32(%s + %s + %d))", acc[j], bias,
                                      oc, 4 * j)
                             : acc[j];
        if (fq->f)
            cg_line(cg, ind + 1, "const int32x4_t r%d = qcc_n_requant_f(%s, %s + %s + %d, %s, %s, "
                    "%s);", j, v, fq->f, oc, 4 * j, fq->zy, fq->lo, fq->hi);
        else
            cg_line(cg, ind + 1, "const int32x4_t r%d = qcc_n_requant_q31(%s, %s + %s + %d, %s + "
                    "%s + %d, %s, %s, %s);", j, v, fq->m0, oc, 4 * j, fq->sh, oc, 4 * j, fq->zy,
                    fq->lo, fq->hi);
    }
    cg_line(cg, ind + 1, "qcc_n_store_%s(%s, r0, r1, r2, r3, %s);",
            fq->yt[0] == 'u' ? "u8" : "s8", dst, valid);
    cg_line(cg, ind, "}");
}

/* SDOT over 4 groups of 4 input channels per 16-byte input load: lane l of the loaded
 * vector meets the weights of group g + l (vdotq_laneq_s32). */
static void conv_groups16(CGen *cg, const NeonConvTile *t, int ind, int np, int g16) {
    cg_line(cg, ind, "for (int g = 0; g < %d; g += 4) {", g16);
    for (int p = 0; p < np; p++) {
        const char *src = cg_fmt(cg, "vld1q_s8(xt + %lld + 4 * g)", (long long)p * t->sw * t->c);
        cg_line(cg, ind + 1, "const int8x16_t v%d = %s;", p,
                t->s8 ? src : cg_fmt(cg, "qcc_n_flip(%s)", src));
    }
    for (int l = 0; l < 4; l++) {
        cg_line(cg, ind + 1, "{");
        for (int j = 0; j < 4; j++)
            cg_line(cg, ind + 2, "const int8x16_t w%d = vld1q_s8(wt + (g + %d) * 64 + %d);", j, l,
                    16 * j);
        for (int p = 0; p < np; p++)
            for (int j = 0; j < 4; j++)
                cg_line(cg, ind + 2, "a%d_%d = vdotq_laneq_s32(a%d_%d, w%d, v%d, %d);", p, j, p, j,
                        j, p, l);
        cg_line(cg, ind + 1, "}");
    }
    cg_line(cg, ind, "}");
}

/* One group of np <= 4 pixels starting at pixel p0, for block `blk` of the tile; `dot`
 * picks SDOT or the vmull/vpadal form (two half-accumulators per register, paired at the
 * end with vpaddq_s32). */
static void conv_pixels(CGen *cg, const NeonConvTile *t, int ind, int p0, int np, bool dot) {
    const char *load = t->s8 ? "" : "qcc_n_flip(";
    const char *loade = t->s8 ? "" : ")";
    cg_line(cg, ind, "{");
    for (int p = 0; p < np; p++)
        for (int j = 0; j < 4; j++) {
            if (dot)
                cg_line(cg, ind + 1, "int32x4_t a%d_%d = k%d;", p, j, j);
            else
                cg_line(cg, ind + 1, "int32x4_t a%d_%dl = vdupq_n_s32(0), a%d_%dh = a%d_%dl;", p,
                        j, p, j, p, j);
        }
    cg_line(cg, ind + 1, "for (int ky = ky0; ky < ky1; ky++) {");
    cg_line(cg, ind + 2, "for (int kx = kx0; kx < kx1; kx++) {");
    cg_line(cg, ind + 3, "const int8_t *xt = xs + ((iy0 + ky * %d) * %d + ix0 + kx * %d) * %d + "
            "%lld;", t->dh, t->iw, t->dw, t->c, (long long)p0 * t->sw * t->c);
    cg_line(cg, ind + 3, "const int8_t *wt = wb + (ky * %d + kx) * %d;", t->kw, t->gt * 64);
    int g16 = dot ? t->g4 / 4 * 4 : 0; /* groups read 16 input bytes at a time (SDOT lanes) */
    if (g16 > 0)
        conv_groups16(cg, t, ind + 3, np, g16);
    for (int tail = 0; tail < 2; tail++) {
        if (tail ? t->ct == 0 : t->g4 == g16)
            continue;
        int in = ind + 4;
        if (!tail) {
            cg_line(cg, ind + 3, "for (int g = %d; g < %d; g++) {", g16, t->g4);
        } else {
            cg_line(cg, ind + 3, "{ /* last %d input channel(s); the zero weights past them "
                    "meet any byte */", t->ct);
            cg_line(cg, in, "const int g = %d;", t->g4);
        }
        cg_line(cg, in, "const int8x16_t w0 = vld1q_s8(wt + g * 64), w1 = vld1q_s8(wt + g * 64 "
                "+ 16);");
        cg_line(cg, in, "const int8x16_t w2 = vld1q_s8(wt + g * 64 + 32), w3 = vld1q_s8(wt + "
                "g * 64 + 48);");
        for (int p = 0; p < np; p++) {
            const char *src = cg_fmt(cg, "xt + %lld + 4 * g", (long long)p * t->sw * t->c);
            if (!tail)
                cg_line(cg, in, "const int8x16_t v%d = %sqcc_n_dup4(%s)%s;", p, load, src, loade);
            else
                cg_line(cg, in, "const int8x16_t v%d = %sqcc_n_dupn(%s, %d)%s;", p, load, src,
                        t->ct, loade);
        }
        for (int p = 0; p < np; p++)
            for (int j = 0; j < 4; j++) {
                if (dot)
                    cg_line(cg, in, "a%d_%d = vdotq_s32(a%d_%d, w%d, v%d);", p, j, p, j, j, p);
                else
                    cg_line(cg, in, "a%d_%dl = vpadalq_s16(a%d_%dl, vmull_s8(vget_low_s8(w%d), "
                            "vget_low_s8(v%d))); a%d_%dh = vpadalq_s16(a%d_%dh, vmull_high_s8(w%d, "
                            "v%d));", p, j, p, j, j, p, p, j, p, j, j, p);
            }
        cg_line(cg, ind + 3, "}");
    }
    cg_line(cg, ind + 2, "}");
    cg_line(cg, ind + 1, "}");
    /* Epilogue: bias, the runtime's requantization on 4 lanes at a time, 16 bytes. */
    for (int p = 0; p < np; p++) {
        const char *r[4];
        for (int j = 0; j < 4; j++)
            r[j] = dot ? cg_fmt(cg, "a%d_%d", p, j)
                       : cg_fmt(cg, "vaddq_s32(k%d, vpaddq_s32(a%d_%dl, a%d_%dh))", j, p, j, p, j);
        neon_store16(cg, ind + 1, t->fq, r, "bias", "blk * 16",
                     cg_fmt(cg, "y + %lld + blk * 16", (long long)(p0 + p) * t->co),
                     t->co % 16 ? cg_fmt(cg, "blk == %d ? %d : 16", t->blocks - 1, t->co % 16)
                                : "16");
    }
    cg_line(cg, ind, "}");
}

static void conv_pixel_groups(CGen *cg, const NeonConvTile *t, int ind, bool dot) {
    int pg = dot ? 4 : 2; /* accumulators: pg * 4 (x2 without dotprod) of the 32 registers */
    for (int p0 = 0; p0 < t->P; p0 += pg)
        conv_pixels(cg, t, ind, p0, t->P - p0 < pg ? t->P - p0 : pg, dot);
}

void neon_conv_tile(CGen *cg, const NeonConvTile *t) {
    int64_t bstride = (int64_t)t->kh * t->kw * t->gt * 64;
    int lanes = t->blocks * 16;
    cg_line(cg, 1, "const int8_t *xs = (const int8_t *)(const void *)x;");
    cg_line(cg, 1, "for (int b = 0; b < %d; b++) {", t->B);
    cg_line(cg, 2, "const int blk = ob + b;");
    cg_line(cg, 2, "const int8_t *wb = n%d_wv + blk * %lld;", t->idx, (long long)bstride);
    cg_line(cg, 2, "/* 128 * sum(w) over the taps read: SDOT saw u - 128 */");
    cg_line(cg, 2, "int32x4_t k0 = vdupq_n_s32(0), k1 = k0, k2 = k0, k3 = k0;");
    cg_line(cg, 2, "for (int ky = ky0; ky < ky1; ky++)");
    cg_line(cg, 3, "for (int kx = kx0; kx < kx1; kx++) {");
    cg_line(cg, 4, "const int32_t *ws = n%d_wsum + (ky * %d + kx) * %d + blk * 16;", t->idx,
            t->kw, lanes);
    cg_line(cg, 4, "k0 = vaddq_s32(k0, vld1q_s32(ws)); k1 = vaddq_s32(k1, vld1q_s32(ws + 4));");
    cg_line(cg, 4, "k2 = vaddq_s32(k2, vld1q_s32(ws + 8)); k3 = vaddq_s32(k3, vld1q_s32(ws + "
            "12));");
    cg_line(cg, 3, "}");
    cg_line(cg, 2, "k0 = vshlq_n_s32(k0, 7); k1 = vshlq_n_s32(k1, 7); k2 = vshlq_n_s32(k2, 7); "
            "k3 = vshlq_n_s32(k3, 7);");
    sb_puts(cg->sb, "#if defined(__ARM_FEATURE_DOTPROD)\n");
    conv_pixel_groups(cg, t, 2, true);
    sb_puts(cg->sb, "#else\n");
    conv_pixel_groups(cg, t, 2, false);
    sb_puts(cg->sb, "#endif\n");
    cg_line(cg, 1, "}");
}

void neon_dw_pixel(CGen *cg, const Node *n, int ind, int idx, int taps, int64_t channels,
                   bool s8) {
    if (channels < 16)
        return;
    FastQuant fq; /* arrays only the NEON loop reads: guarded, or other builds warn */
    sb_puts(cg->helpers, "#if defined(QCC_NEON)\n");
    fastk_quant(cg, n, (int)((channels + 15) / 16 * 16), (int)channels, false, &fq);
    sb_puts(cg->helpers, "#endif\n");
    long long C = (long long)channels;
    const char *ld = s8 ? "vld1q_s8" : "vld1q_u8";
    sb_puts(cg->sb, "#if defined(QCC_NEON)\n");
    cg_line(cg, ind, "for (; c0 + 16 <= %lld; c0 += 16) { /* NEON: 16 channels, int16 x int16 "
            "-> int32 (vmlal), exact */", C);
    cg_line(cg, ind + 1, "int32x4_t a0 = vld1q_s32(n%d_dwb + c0), a1 = vld1q_s32(n%d_dwb + c0 + "
            "4);", idx, idx);
    cg_line(cg, ind + 1, "int32x4_t a2 = vld1q_s32(n%d_dwb + c0 + 8), a3 = vld1q_s32(n%d_dwb + "
            "c0 + 12);", idx, idx);
    for (int t = 0; t < taps; t++) {
        cg_line(cg, ind + 1, "{");
        cg_line(cg, ind + 2, "const %s xv = %s(tap_%d + c0);", s8 ? "int8x16_t" : "uint8x16_t",
                ld, t);
        if (s8)
            cg_line(cg, ind + 2, "const int16x8_t xl = vmovl_s8(vget_low_s8(xv)), xh = "
                    "vmovl_high_s8(xv);");
        else
            cg_line(cg, ind + 2, "const int16x8_t xl = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8"
                    "(xv))), xh = vreinterpretq_s16_u16(vmovl_high_u8(xv));");
        cg_line(cg, ind + 2, "const int16x8_t wl = vld1q_s16(n%d_dw16 + %lld + c0), wh = "
                "vld1q_s16(n%d_dw16 + %lld + c0 + 8);", idx, (long long)t * C, idx,
                (long long)t * C);
        cg_line(cg, ind + 2, "a0 = vmlal_s16(a0, vget_low_s16(xl), vget_low_s16(wl)); a1 = "
                "vmlal_high_s16(a1, xl, wl);");
        cg_line(cg, ind + 2, "a2 = vmlal_s16(a2, vget_low_s16(xh), vget_low_s16(wh)); a3 = "
                "vmlal_high_s16(a3, xh, wh);");
        cg_line(cg, ind + 1, "}");
    }
    const char *const acc[4] = {"a0", "a1", "a2", "a3"};
    neon_store16(cg, ind + 1, &fq, acc, NULL, "c0", "yp + c0", "16");
    cg_line(cg, ind, "}");
    sb_puts(cg->sb, "#endif\n");
}

void neon_gemm_bsum(CGen *cg, int idx, const int8_t *bv, int blocks, int k4) {
    int lanes = blocks * 16;
    int32_t *s = arena_calloc(cg->g->arena, (size_t)lanes, sizeof(int32_t));
    for (int blk = 0; blk < blocks; blk++)
        for (int g = 0; g < k4; g++)
            for (int lane = 0; lane < 16; lane++)
                for (int i = 0; i < 4; i++)
                    s[blk * 16 + lane] += bv[(((int64_t)blk * k4 + g) * 16 + lane) * 4 + i];
    for (int i = 0; i < lanes; i++)
        s[i] *= 128; /* |sum| <= 2^16 * 128: times 128 stays below 2^31 */
    sb_puts(cg->helpers, "#if defined(QCC_NEON)\n");
    sb_printf(cg->helpers, "/* node %d, NEON: 128 * sum_k B per column (SDOT reads a - 128) */\n",
              idx);
    cg_i32_array(cg, cg->helpers, cg_fmt(cg, "n%d_b128", idx), s, lanes);
    sb_puts(cg->helpers, "#endif\n");
}

/* Blocks b0 .. b0+nb-1 of one row: one pass over k. */
static void gemv_blocks(CGen *cg, const NeonGemm *q, int b0, int nb, bool dot) {
    int kg = q->k / 4, g16 = dot ? kg / 4 * 4 : 0;
    const char *fl = q->s8 ? "" : "qcc_n_flip(", *fle = q->s8 ? "" : ")";
    cg_line(cg, 2, "{");
    for (int j = 0; j < nb; j++)
        for (int r = 0; r < 4; r++) {
            if (dot)
                cg_line(cg, 3, "int32x4_t a%d_%d = vld1q_s32(n%d_b128 + %d);", j, r, q->idx,
                        (b0 + j) * 16 + 4 * r);
            else
                cg_line(cg, 3, "int32x4_t a%d_%dl = vdupq_n_s32(0), a%d_%dh = a%d_%dl;", j, r, j,
                        r, j, r);
        }
    if (g16 > 0) {
        cg_line(cg, 3, "for (int g = 0; g < %d; g += 4) {", g16);
        cg_line(cg, 4, "const int8x16_t v = %svld1q_s8(as + 4 * g)%s;", fl, fle);
        for (int l = 0; l < 4; l++)
            for (int j = 0; j < nb; j++) {
                cg_line(cg, 4, "{");
                cg_line(cg, 5, "const int8_t *w = n%d_bv + (%lld + g + %d) * 64;", q->idx,
                        (long long)(b0 + j) * q->k4, l);
                for (int r = 0; r < 4; r++)
                    cg_line(cg, 5, "a%d_%d = vdotq_laneq_s32(a%d_%d, vld1q_s8(w + %d), v, %d);", j,
                            r, j, r, 16 * r, l);
                cg_line(cg, 4, "}");
            }
        cg_line(cg, 3, "}");
    }
    for (int tail = 0; tail < 2; tail++) {
        if (tail ? q->kt == 0 : kg == g16)
            continue;
        if (!tail) {
            cg_line(cg, 3, "for (int g = %d; g < %d; g++) {", g16, kg);
            cg_line(cg, 4, "const int8x16_t v = %sqcc_n_dup4(as + 4 * g)%s;", fl, fle);
        } else {
            cg_line(cg, 3, "{ /* last %d of k: the zero weights past them meet any byte */",
                    q->kt);
            cg_line(cg, 4, "const int g = %d;", kg);
            cg_line(cg, 4, "const int8x16_t v = %sqcc_n_dupn(as + 4 * g, %d)%s;", fl, q->kt, fle);
        }
        for (int j = 0; j < nb; j++) {
            cg_line(cg, 4, "{");
            cg_line(cg, 5, "const int8_t *w = n%d_bv + (%lld + g) * 64;", q->idx,
                    (long long)(b0 + j) * q->k4);
            for (int r = 0; r < 4; r++) {
                if (dot)
                    cg_line(cg, 5, "a%d_%d = vdotq_s32(a%d_%d, vld1q_s8(w + %d), v);", j, r, j, r,
                            16 * r);
                else {
                    cg_line(cg, 5, "const int8x16_t w%d = vld1q_s8(w + %d);", r, 16 * r);
                    cg_line(cg, 5, "a%d_%dl = vpadalq_s16(a%d_%dl, vmull_s8(vget_low_s8(w%d), "
                            "vget_low_s8(v))); a%d_%dh = vpadalq_s16(a%d_%dh, vmull_high_s8(w%d, "
                            "v));", j, r, j, r, r, j, r, j, r, r);
                }
            }
            cg_line(cg, 4, "}");
        }
        cg_line(cg, 3, "}");
    }
    for (int j = 0; j < nb; j++) {
        const char *acc[4];
        for (int r = 0; r < 4; r++)
            acc[r] = dot ? cg_fmt(cg, "a%d_%d", j, r)
                         : cg_fmt(cg, "vaddq_s32(vld1q_s32(n%d_b128 + %d), vpaddq_s32(a%d_%dl, "
                                  "a%d_%dh))", q->idx, (b0 + j) * 16 + 4 * r, j, r, j, r);
        int valid = q->n - (b0 + j) * 16;
        neon_store16(cg, 3, q->fq, acc, cg_fmt(cg, "n%d_c3p", q->idx),
                     cg_fmt(cg, "%d", (b0 + j) * 16), cg_fmt(cg, "yr + %d", (b0 + j) * 16),
                     cg_fmt(cg, "%d", valid > 16 ? 16 : valid));
    }
    cg_line(cg, 2, "}");
}

void neon_gemv(CGen *cg, const NeonGemm *q) {
    cg_line(cg, 2, "const int8_t *as = (const int8_t *)(const void *)ar;");
    for (int form = 0; form < 2; form++) {
        bool dot = form == 0;
        int nbmax = dot ? 4 : 2; /* accumulators: 16 registers either way */
        sb_puts(cg->sb, dot ? "#if defined(__ARM_FEATURE_DOTPROD)\n" : "#else\n");
        for (int b0 = 0; b0 < q->blocks; b0 += nbmax)
            gemv_blocks(cg, q, b0, q->blocks - b0 < nbmax ? q->blocks - b0 : nbmax, dot);
    }
    sb_puts(cg->sb, "#endif\n");
}
