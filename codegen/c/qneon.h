/* qneon.h: the aarch64 NEON bodies of the fast kernels (target neon, CodegenOptions.simd ==
 * CG_SIMD_NEON). The kernel files (qconv_fast.c...) own the loop structure, the packing and
 * the portable path; they call these writers for the text between `#if defined(QCC_NEON)` and
 * `#else`. QCC_NEON and the qcc_n_* helpers come from target_neon.c's prelude.
 *
 * Arithmetic: SDOT (vdotq_s32, armv8.2-a+dotprod) multiplies int8 by int8, so the kernels
 * feed it v = u - 128, where u is the uint8-domain input the fast kernels use (u = x for
 * uint8, x + 128 for int8 input: then v is just the raw int8 byte). sum(v*w) + 128*sum(w)
 * over the taps read is sum(u*w), the same integer the VNNI and portable paths compute; the
 * 128*sum(w) term comes from a per-tap table. Without dotprod the same int8 products go
 * through vmull_s8 (exact in int16: |v*w| <= 2^14) and vpadalq_s16 pairwise into int32. */
#ifndef QCC_QNEON_H
#define QCC_QNEON_H

#include "qfast_int.h"

/* Geometry a dense NHWC conv tile needs (a copy of qconv_fast.c's ConvGeo fields). */
typedef struct NeonConvTile {
    int idx;                    /* node index: arrays n<idx>_wv, n<idx>_wsum */
    int P, B;                   /* output pixels and blocks of 16 channels per call */
    int c, g4, ct, gt;          /* input channels, full groups of 4, tail channels, groups */
    int iw, kh, kw, sw, dh, dw; /* input width, kernel, stride and dilation along x/y */
    int co, blocks;             /* output channels, blocks of 16 */
    bool s8;                    /* int8 input (raw bytes are v); else uint8 (v = x ^ 0x80) */
    const FastQuant *fq;        /* requant arrays (padded to whole blocks of 16) */
} NeonConvTile;

/* Per-tap sums over input channels of the VNNI-packed weights [block][ky][kx][g][16][4]
 * (the order SDOT reads too): n<idx>_wsum[tap][lane], into cg->helpers under QCC_NEON. */
void neon_conv_wsum(CGen *cg, int idx, const int8_t *wv, int taps, int gt, int blocks);
/* Body of tile function n<idx>_tile_PxB (parameters x, iy0, ix0, ky0, ky1, kx0, kx1, ob,
 * bias, y as in qconv_fast.c) for both the dotprod and the vmull/vpadal forms. */
void neon_conv_tile(CGen *cg, const NeonConvTile *t);

/* Depthwise NHWC (qdwconv.c's put_pixel): a `for (; c0 + 16 <= C; c0 += 16)` loop under
 * QCC_NEON over 16 channels of one output pixel whose tap t reads tap_<t>, weights
 * n<idx>_dw16 (w - zw, int16, tap-major), bias n<idx>_dwb, store to yp. Nothing if C < 16. */
void neon_dw_pixel(CGen *cg, const Node *n, int ind, int idx, int taps, int64_t channels,
                   bool s8);
/* Fast GEMM/MATMUL with constant B (qgemm_fast.c): B packed [block][k/4][16][4] as n<idx>_bv,
 * c3p as n<idx>_c3p. */
typedef struct NeonGemm {
    int idx;                    /* node index */
    int k, n, k4, kt;           /* depth, columns, groups of 4 (rounded up), k % 4 */
    int blocks;                 /* column blocks of 16 */
    bool s8;                    /* int8 A (raw bytes are v); else uint8 (v = a ^ 0x80) */
    const FastQuant *fq;        /* requant arrays padded to blocks * 16 */
} NeonGemm;
/* n<idx>_b128[col] = 128 * sum_k B[k][col] under QCC_NEON, into cg->helpers. */
void neon_gemm_bsum(CGen *cg, int idx, const int8_t *bv, int blocks, int k4);
/* One row's GEMV inside qgemm_fast.c's row loop (ar: the row of A, yr: the output row),
 * both the dotprod and the vmull/vpadal forms. */
void neon_gemv(CGen *cg, const NeonGemm *q);

/* Requantize 16 int32 lanes (four int32x4_t expressions acc[0..3]) plus bias[oc..oc+15]
 * (bias NULL: already inside acc) with fq's arrays from entry oc, store `valid` (a C expression <= 16) bytes at dst. */
void neon_store16(CGen *cg, int ind, const FastQuant *fq, const char *const acc[4],
                  const char *bias, const char *oc, const char *dst, const char *valid);

#endif
