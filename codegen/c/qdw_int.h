/* qdw_int.h: what the two depthwise emitters share: the channels-last one (qdwconv.c) and
 * the planar NCHW one (qdwplanar.c). Both write the same accumulator, acc = c3 + sum of
 * x * (w - zw) with padding read as zx, and requantize it with the same AVX-512 forms. */
#ifndef QCC_QDW_INT_H
#define QCC_QDW_INT_H

#include "qfast_int.h"

typedef struct DwConv {
    int64_t N, C, H, W, OH, OW, KH, KW, SH, SW, PT, PL, DH, DW; /* shapes and attributes */
    int taps;                   /* KH * KW */
    int idx;                    /* node index (array names n<idx>_dw...) */
    const char *xt, *yt;        /* element types */
    bool xs;                    /* int8 input (sign-extending loads) */
    bool yu;                    /* uint8 output */
    const char *zy, *lo, *hi;   /* output zero point and clamp bounds (C literals) */
    bool fixed;                 /* Q31 requant (double form) rather than float */
} DwConv;

/* The AVX-512 VNNI kernels' per-node choices (qdwconv.c's row kernel, qdwplanar.c). */
typedef struct DwFast {
    int rows;                   /* KH: input rows packed per Q lane (<= 4) */
    int npat;                   /* distinct row-validity patterns */
    int pm[16];                 /* row-validity mask -> pattern index */
    int nbf;                    /* full 16-channel blocks */
    int rem;                    /* channels of the last, partial block (0: none) */
    bool fma;                   /* zero point fused into the fma (exact) */
    bool checked;               /* fixed: the checked float requant first (qcc_v16_rqc_y) */
    double accmax;              /* the largest |acc| bound dw_channel_k saw */
    int zxu;                    /* zx as the u8 byte Q holds (flipped for int8) */
} DwFast;

/* Shapes, attributes and types of depthwise CONV n, channels-last or NCHW (nchw). */
DwConv dw_geometry(CGen *cg, const Node *n, bool nchw);
/* The depthwise runtime text (qcc_dw_*) into cg->helpers, once per model.c. */
void dw_runtime(CGen *cg);
/* The input row `rows` below the start of output row out_y's window, as C ("out_y * 2 - 1"). */
const char *dw_row_expr(CGen *cg, const DwConv *k, int64_t rows);
/* The interior output columns [*xl, *xh): every tap inside the input row. */
void dw_interior(const DwConv *k, int64_t *xl, int64_t *xh);
/* One static const array into cg->helpers: integers iv, or doubles dv (as floats when
 * is_float). */
void dw_put_array(CGen *cg, const char *type, const char *name, int64_t count,
                  const int64_t *iv, const double *dv, bool is_float);
/* Channel c's requant factor into kd[c], for accumulators within |acc| <= bound: false if
 * the VNNI forms are not exact there (clears f->fma where only the fused form is not). */
bool dw_channel_k(const Node *n, const DwConv *k, int64_t c, double bound, DwFast *f,
                  double *kd);
/* The factors as <prefix>kv, and <prefix>kf for the checked float form (sets f->checked). */
void dw_put_k(CGen *cg, const DwConv *k, DwFast *f, const double *kd, int64_t count,
              const char *prefix);
/* The constant vectors dw_stores reads (and the int8 flip). */
void dw_consts(CGen *cg, const DwConv *k, const DwFast *f, int ind);
/* Requantize accumulators a0..a<np-1> and store each to addr[p] under lane mask mk[p]
 * (contiguous: addr[p + 1] is addr[p] + 16). */
void dw_stores(CGen *cg, const DwConv *k, const DwFast *f, int ind, int np,
               const char *const *addr, const char *const *mk, const char *kdecl,
               bool contiguous);

#endif
