/* cudagen.h: what the CUDA backend's files share. target_cuda.c writes the frame (model.h,
 * host copies of the constants, device state, one __global__ kernel per node, the host entry
 * points); a kernel emitter here writes the body of one parallel kernel, its launch geometry
 * and any compile-time packed arrays it needs. Nodes without one run their C backend body as
 * a single-thread kernel (cframe_pick_kernel). */
#ifndef QCC_CUDAGEN_H
#define QCC_CUDAGEN_H

#include "../c/cgen.h"

/* A compile-time array a kernel emitter adds (packed weights, folded corrections). */
typedef struct CuExtra {
    const char *name;           /* C name, "n5_wpack" */
    int node;                   /* node that uses it */
    const int32_t *v;           /* values (arena) */
    int64_t n;                  /* element count */
} CuExtra;

typedef struct CuGen {
    CGen *cg;                   /* the C helpers: names, requant expressions, lines */
    const char *grid;           /* launch grid of the node being emitted ("dim3(4, 2)") */
    const char *block;          /* launch block ("dim3(256)") */
    CuExtra *extra;             /* every extra array so far */
    int nextra, cap;            /* used / allocated entries */
    const char *cg_arch;        /* --cuda-arch, "sm_75" when NULL */
} CuGen;

/* Register an extra int32 array for node n and return its name (a kernel parameter). */
const char *cu_extra(CuGen *cu, const Node *n, const char *what, const int32_t *v, int64_t count);

typedef bool (*CuKernelFn)(CuGen *cu, const Node *n);
/* A parallel kernel for n (cuda_conv.c, cuda_eltwise.c), or NULL: then the C body runs on
 * one GPU thread. */
CuKernelFn cu_conv_kernel(const CuGen *cu, const Node *n);
CuKernelFn cu_eltwise_kernel(const CuGen *cu, const Node *n);

#endif
