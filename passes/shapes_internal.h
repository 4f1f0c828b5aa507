/* shapes_internal.h: what the shape-inference files share, private to them: the per-node
 * context, the checked helpers every op's inference goes through (errors naming the node,
 * outputs bounded, constant inputs read safely), and one entry point per op family.
 * infer_shapes.c holds the helpers and dispatch; shapes_window.c and shapes_basic.c the ops.
 * Nothing outside passes/infer_shapes.c and passes/shapes_*.c includes this header. */
#ifndef QCC_SHAPES_INTERNAL_H
#define QCC_SHAPES_INTERNAL_H

#include "passes.h"

/* Bounds on what a model may ask for: larger means broken or hostile input. Keeping dims
 * below 2^31 and attributes below 2^31 keeps every product computed here inside int64. */
#define MAX_DIM ((int64_t)1 << 31)
#define MAX_NUMEL ((int64_t)1 << 36)

typedef struct ShapeCtx {
    Graph *g;           /* the graph */
    Node *n;            /* node being inferred (nodes are not added here: pointer is stable) */
    Diag *d;            /* where errors go */
} ShapeCtx;

/* ---- helpers (infer_shapes.c) ---- */

/* Report "node 'name' (Op): <message>"; always false, so callers can `return sh_fail(...)`. */
bool sh_fail(ShapeCtx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "[1,3,224,224]" for messages, written into a buffer that lives as long as the enclosing
 * block (a compound literal), so a message may print several shapes without global state. */
typedef struct ShapeText {
    char s[160];        /* the text */
} ShapeText;

const char *sh_shape_text(ShapeText *b, int rank, const int64_t *shape);
#define shp(rank, shape) sh_shape_text(&(ShapeText){{0}}, (rank), (shape))
#define TSHP(t) shp((t)->rank, (t)->shape)

/* Input k of the node, or NULL when it is absent (k < 0, k >= nin, or an omitted optional
 * input). */
Tensor *sh_input(ShapeCtx *c, int k);
/* Input k into *t, or an error when it is absent. */
bool sh_need(ShapeCtx *c, int k, Tensor **t);
/* dtype of an optional input (a zero point decides a QLinear op's output type), or dflt. */
DType sh_dtype_of(ShapeCtx *c, int k, DType dflt);
/* Give output k (if the node has it) dtype dt and the shape, after checking rank, dims and
 * element count against the bounds above. An output already folded to a constant keeps its
 * own type and shape. */
bool sh_set_out(ShapeCtx *c, int k, DType dt, int rank, const int64_t *shape);
/* sh_set_out with the shape of `like`. */
bool sh_copy_out(ShapeCtx *c, int k, DType dt, const Tensor *like);
/* A constant integer vector (shape, axes, pads, sizes) from input k into v[0..*count). */
bool sh_const_ints(ShapeCtx *c, int k, const char *what, int64_t *v, int max, int *count);
/* A constant float vector (scales, clip bounds) from input k. */
bool sh_const_floats(ShapeCtx *c, int k, const char *what, float *v, int max, int *count);
/* Check -rank <= *axis < rank and make it non-negative; `what` names it in the error. */
bool sh_norm_axis(ShapeCtx *c, int64_t *axis, int rank, const char *what);
/* Make axes non-negative, sort them and reject duplicates. */
bool sh_norm_axes(ShapeCtx *c, int64_t *axes, int n, int rank);

/* ---- windows and index ranges (shapes_window.c) ---- */

/* Conv, ConvTranspose, pools and their QLinear/Integer forms: x at xi, weight at wi (-1 for
 * pools), bias at bi (-1 if none); output dtype dt. Resolves auto_pad into explicit pads. */
bool sh_infer_window(ShapeCtx *c, int xi, int wi, int bi, DType dt);
bool sh_infer_global_pool(ShapeCtx *c, DType dt);
bool sh_infer_pad(ShapeCtx *c);
bool sh_infer_resize(ShapeCtx *c);
bool sh_infer_slice(ShapeCtx *c);

/* ---- element-wise, linear algebra, reductions, data movement, quantization
 *      (shapes_basic.c) ---- */

/* Element-wise: the inputs listed in ins[] broadcast together; dtype dt, or (DT_UNDEF) the
 * first input's. */
bool sh_infer_eltwise(ShapeCtx *c, const int *ins, int nins, DType dt);
/* numpy matmul of a at ai and b at bi. */
bool sh_infer_matmul(ShapeCtx *c, int ai, int bi, DType dt);
/* Gemm of a at ai, b at bi, optional C at ci. */
bool sh_infer_gemm(ShapeCtx *c, int ai, int bi, int ci, DType dt);
bool sh_infer_batchnorm(ShapeCtx *c);
bool sh_infer_reduce(ShapeCtx *c);
/* Concat of inputs first, first + step, ...; output dtype dt, or (DT_UNDEF) the first's. */
bool sh_infer_concat(ShapeCtx *c, int first, int step, DType dt);
bool sh_infer_reshape(ShapeCtx *c);
bool sh_infer_flatten(ShapeCtx *c);
bool sh_infer_squeeze(ShapeCtx *c);
bool sh_infer_unsqueeze(ShapeCtx *c);
bool sh_infer_transpose(ShapeCtx *c);
bool sh_infer_clip(ShapeCtx *c);
bool sh_infer_gather(ShapeCtx *c);
bool sh_infer_constant_of_shape(ShapeCtx *c);
/* QuantizeLinear / DequantizeLinear (per tensor, per axis or blocked); output dtype dt. */
bool sh_infer_quantize(ShapeCtx *c, DType dt);

#endif
