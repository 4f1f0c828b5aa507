/* qfast_int.h: what the fast-kernel emitters (qconv_fast.c, qgemm_fast.c) share with
 * qfast_rt.c: the once-per-file helper text (ISA selection, dot-product wrapper, vectorised
 * requantization) and the writers of per-node constant arrays into CGen.helpers.
 * ISA-specific text lives only in the fastk_* functions named below, so another ISA (NEON)
 * adds a branch there without touching the loop structure. */
#ifndef QCC_QFAST_INT_H
#define QCC_QFAST_INT_H

#include "qfast.h"

/* Per-node requantization data of a fast kernel, padded to `lanes` channels. */
typedef struct FastQuant {
    int lanes;                  /* channels rounded up to 16 */
    int channels;               /* real output channels */
    const char *m0, *sh, *f;    /* names of the padded multiplier arrays (NULL if unused) */
    const char *kf;             /* float multipliers of the checked form (x86, Q31 mode), or NULL */
    const char *zy, *lo, *hi;   /* output zero point and clamp bounds (C literals) */
    const char *yt;             /* output element type ("uint8_t") */
    float near;                 /* checked form: a lane's |y - rint(y)| >= near is too close */
    bool sat;                   /* checked form: |y| < 2^30, packed stores may skip the clamp */
} FastQuant;

/* Write the shared helper text into cg->helpers once per file. */
void fastk_runtime(CGen *cg);
/* Node idx's packed weights in cg->helpers, both orders, only one compiled: n<idx>_<what>v
 * (the SIMD order; also what the NEON target's SDOT reads) under QCC_FAST_VNNI or QCC_NEON,
 * else n<idx>_<what>p (the portable order). */
void fastk_packed(CGen *cg, int idx, const char *what, const int8_t *simd, int64_t nsimd,
                  const int8_t *port, int64_t nport);
/* Emit the padded arrays of node n's multiplier 0: n<idx>_fm0/_fsh (Q31 mode; plus n<idx>_fk
 * for the checked float form on x86) or n<idx>_ff (float mode). mirror (channels = 16k + 8):
 * the 8 padding lanes repeat the last 8 channels, for paired row tiles. */
void fastk_quant(CGen *cg, const Node *n, int lanes, int channels, bool mirror,
                 FastQuant *fq);
/* The checked float form's tie threshold and saturating stores from a bound on the sums:
 * each output adds k products (u8 x s8, plus the weight zero point's terms) to its c3. */
void fastk_bound(CGen *cg, const Node *n, int64_t k, FastQuant *fq);
/* The checked form's tie threshold 0.5 - E: in general (three roundings; the value the
 * runtime's qcc_v16_tied computes, which tests/simd/requant_x86.c checks), and where the sums
 * convert exactly (two; fastk_bound). */
float fastk_near_general(int32_t lo, int32_t hi, int32_t zp);
float fastk_near_exact(int32_t lo, int32_t hi, int32_t zp);
/* Byte vector expression v clamped to [lo, hi] where that is narrower than the type's range
 * (what saturating packs leave): with the constants lo8/hi8 of fastk_byte_consts (named) or
 * inline ones. */
const char *fastk_byte_clamp(CGen *cg, const char *v, bool u8, int lo, int hi, bool named);
void fastk_byte_consts(CGen *cg, int ind, bool u8, int lo, int hi);
/* True if multiplier k, rounded to float, is 0 or a normal float far from overflow: what the
 * checked float form's error bound assumes. */
bool fastk_checked_k(double k);
/* The checked float form (fq->kf): begin declares the tile's `tie` before its stores (false,
 * nothing emitted, without that form); after them, redo opens `if (tied) {` and sets *exact
 * to the exact form, with which the caller writes the same stores again, then closes it. */
bool fastk_vnni_checked_begin(CGen *cg, int ind, const FastQuant *fq);
void fastk_vnni_checked_redo(CGen *cg, int ind, const FastQuant *fq, FastQuant *exact);
/* The AVX-512 epilogue in two steps: `name` = the requant constants of the 16 channels at
 * bias + oc (once per block; in_acc: the accumulators started at that bias, so the
 * constants add none), then requantize+store accumulator `acc` (once per pixel). */
void fastk_vnni_prep(CGen *cg, int ind, const FastQuant *fq, const char *name,
                     const char *bias, const char *oc, bool in_acc);
void fastk_vnni_put(CGen *cg, int ind, const FastQuant *fq, const char *name, const char *acc,
                    const char *dst, int valid);
/* Requantize four accumulators accs[i] (constants names[i]) and store their 64 bytes, one
 * packed store instead of four narrowing ones: as one run at dst[0] (runs 1), 32-byte
 * halves at dst[0..1] (runs 2) or 16-byte quarters at dst[0..3] (runs 4), of each of which
 * the first `valid` bytes are written. */
void fastk_vnni_put4(CGen *cg, int ind, const FastQuant *fq, const char *const names[4],
                     const char *const accs[4], const char *const *dst, int runs, int valid);
/* The requantized int32 lanes of accumulator `acc` with the constants `name`, before
 * narrowing: the expression fastk_vnni_put4 packs. */
const char *fastk_vnni_requant(CGen *cg, const FastQuant *fq, const char *name, const char *acc);
/* The declarations fastk_vnni_put4 uses, once per block before the puts. */
void fastk_vnni_put4_begin(CGen *cg, int ind, const FastQuant *fq);
/* Requantize+store 16 lanes of accumulator expression `acc` (an __m512i) plus bias vector at
 * `bias` (int32 pointer expression), channel base `oc`, to `dst` (valid lanes `valid`):
 * the AVX-512 epilogue of one register. */
void fastk_vnni_store16(CGen *cg, int ind, const FastQuant *fq, const char *acc,
                        const char *bias, const char *oc, const char *dst, int valid);
/* qcc_port_rq31, qcc_requant_q31 in a form gcc vectorises, into cg->helpers once per file. */
void fastk_port_rq(CGen *cg);
/* Scalar epilogue of one accumulator `acc` for channel expression `oc` (portable path). */
void fastk_scalar_store(CGen *cg, int ind, const FastQuant *fq, const char *acc,
                        const char *bias, const char *oc, const char *dst);

#endif
