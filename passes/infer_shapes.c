/* infer_shapes.c: the shape-inference pass (dtype and static shape of every tensor per the ONNX
 * specs, attributes normalised in place so later stages never see ONNX corner cases): driver
 * folding shape plumbing as it goes, per-op dispatch, graph-output checks and the checked helpers
 * every op uses. Ops: shapes_window.c (Conv, pools, Pad, Resize, Slice), shapes_basic.c (rest).
 * Every user error names the node; hostile input is diagnosed, never indexed blindly. */
#include "shapes_internal.h"

#include <stdarg.h>
#include <string.h>

/* ------------------------------------------------------------------ helpers */

bool sh_fail(ShapeCtx *c, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return diag_error(c->d, "node '%s' (%s): %s", c->n->name, op_name(c->n->op), msg);
}

const char *sh_shape_text(ShapeText *b, int rank, const int64_t *shape) {
    size_t len = 0;
    b->s[len++] = '[';
    for (int i = 0; i < rank && len < 140; i++)
        len += (size_t)snprintf(b->s + len, sizeof b->s - len, "%s%lld", i ? "," : "",
                                (long long)shape[i]);
    snprintf(b->s + len, sizeof b->s - len, "]");
    return b->s;
}

Tensor *sh_input(ShapeCtx *c, int k) {
    if (k < 0 || k >= c->n->nin || c->n->in[k] < 0)
        return NULL;
    return &c->g->tensors[c->n->in[k]];
}

bool sh_need(ShapeCtx *c, int k, Tensor **t) {
    *t = sh_input(c, k);
    if (!*t)
        return sh_fail(c, "input %d is required", k);
    return true;
}

/* dtype of an optional input (a zero point decides a QLinear op's output type), or dflt. */
DType sh_dtype_of(ShapeCtx *c, int k, DType dflt) {
    Tensor *t = sh_input(c, k);
    return t && t->dtype != DT_UNDEF ? t->dtype : dflt;
}

bool sh_set_out(ShapeCtx *c, int k, DType dt, int rank, const int64_t *shape) {
    if (k >= c->n->nout || c->n->out[k] < 0)
        return true;
    Tensor *t = &c->g->tensors[c->n->out[k]];
    if (rank < 0 || rank > QCC_MAX_RANK)
        return sh_fail(c, "output '%s' would have rank %d (at most %d supported)", t->name, rank,
                       QCC_MAX_RANK);
    int64_t numel = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0 || shape[i] >= MAX_DIM)
            return sh_fail(c, "output '%s' would have invalid shape %s", t->name, shp(rank, shape));
        if (shape[i] != 0 && numel > MAX_NUMEL / shape[i])
            return sh_fail(c, "output '%s' would have shape %s: too many elements", t->name,
                           shp(rank, shape));
        numel *= shape[i];
    }
    if (tensor_is_const(t))
        return true;    /* already folded: its data defines it */
    t->dtype = dt;
    t->rank = rank;
    memset(t->shape, 0, sizeof t->shape);
    for (int i = 0; i < rank; i++)
        t->shape[i] = shape[i];
    t->shape_known = true;
    return true;
}

bool sh_copy_out(ShapeCtx *c, int k, DType dt, const Tensor *like) {
    return sh_set_out(c, k, dt, like->rank, like->shape);
}

/* A constant integer vector (shape, axes, pads, sizes) from input k into v[0..*count). */
bool sh_const_ints(ShapeCtx *c, int k, const char *what, int64_t *v, int max, int *count) {
    Tensor *t = sh_input(c, k);
    if (!t)
        return sh_fail(c, "%s input is missing", what);
    if (!tensor_is_const(t) || (t->flags & T_INPUT))
        return sh_fail(c, "%s input must be constant", what);
    if (t->dtype != DT_INT64 && t->dtype != DT_INT32 && t->dtype != DT_INT16 &&
        t->dtype != DT_INT8 && t->dtype != DT_UINT8)
        return sh_fail(c, "%s input '%s' must be an integer tensor, not %s", what, t->name,
                       dtype_name(t->dtype));
    if (t->rank > 1)
        return sh_fail(c, "%s input '%s' must be 1-d, not %s", what, t->name, TSHP(t));
    int64_t numel = tensor_numel(t);
    if (numel > max)
        return sh_fail(c, "%s input '%s' has %lld entries (at most %d)", what, t->name,
                       (long long)numel, max);
    for (int64_t i = 0; i < numel; i++)
        v[i] = tensor_get_i(t, i);
    *count = (int)numel;
    return true;
}

/* A constant float vector (scales, clip bounds) from input k. */
bool sh_const_floats(ShapeCtx *c, int k, const char *what, float *v, int max, int *count) {
    Tensor *t = sh_input(c, k);
    if (!t)
        return sh_fail(c, "%s input is missing", what);
    if (!tensor_is_const(t) || (t->flags & T_INPUT))
        return sh_fail(c, "%s input must be constant", what);
    int64_t numel = tensor_numel(t);
    if (numel > max)
        return sh_fail(c, "%s input '%s' has %lld entries (at most %d)", what, t->name,
                       (long long)numel, max);
    for (int64_t i = 0; i < numel; i++)
        v[i] = (float)tensor_get_f(t, i);
    *count = (int)numel;
    return true;
}

bool sh_norm_axis(ShapeCtx *c, int64_t *axis, int rank, const char *what) {
    if (*axis < -rank || *axis >= rank)
        return sh_fail(c, "%s %lld out of range for rank %d", what, (long long)*axis, rank);
    if (*axis < 0)
        *axis += rank;
    return true;
}

/* Make axes non-negative, sort them and reject duplicates. */
bool sh_norm_axes(ShapeCtx *c, int64_t *axes, int n, int rank) {
    for (int i = 0; i < n; i++)
        if (!sh_norm_axis(c, &axes[i], rank, "axis"))
            return false;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && axes[j - 1] > axes[j]; j--) {
            int64_t t = axes[j];
            axes[j] = axes[j - 1];
            axes[j - 1] = t;
        }
    for (int i = 1; i < n; i++)
        if (axes[i] == axes[i - 1])
            return sh_fail(c, "axis %lld repeated", (long long)axes[i]);
    return true;
}

/* ------------------------------------------------------------------ dispatch */

bool infer_shapes_node(Graph *g, int node, Diag *d) {
    ShapeCtx cx = {g, &g->nodes[node], d}, *c = &cx;
    Node *n = c->n;
    for (int k = 0; k < n->nin; k++) {
        Tensor *t = sh_input(c, k);
        if (t && !t->shape_known)
            return sh_fail(c, "input '%s' has no known shape (graph inputs need static shapes)",
                           t->name);
    }
    Tensor *x = sh_input(c, 0);
    DType xt = x ? x->dtype : DT_UNDEF;
    switch (n->op) {
    case OP_CONSTANT:
        if (n->nout < 1 || n->out[0] < 0 || !tensor_is_const(&g->tensors[n->out[0]]))
            return sh_fail(c, "Constant without a value");
        return true;
    case OP_IDENTITY: case OP_RELU: case OP_LEAKY_RELU: case OP_SIGMOID: case OP_HARD_SIGMOID:
    case OP_HARD_SWISH: case OP_TANH: case OP_ROUND: case OP_LUT:
        return sh_need(c, 0, &x) && sh_copy_out(c, 0, xt, x);
    case OP_CAST:
        if (dtype_size(n->a.cast.to) == 0)
            return sh_fail(c, "unsupported target type %d", (int)n->a.cast.to);
        return sh_need(c, 0, &x) && sh_copy_out(c, 0, n->a.cast.to, x);
    case OP_SHAPE: {
        if (!sh_need(c, 0, &x))
            return false;
        int64_t r = x->rank;
        return sh_set_out(c, 0, DT_INT64, 1, &r);
    }
    case OP_GATHER: return sh_infer_gather(c);
    case OP_CONSTANT_OF_SHAPE: return sh_infer_constant_of_shape(c);
    case OP_CONV: case OP_CONV_TRANSPOSE: return sh_infer_window(c, 0, 1, 2, xt);
    case OP_QLINEAR_CONV: return sh_infer_window(c, 0, 3, 8, sh_dtype_of(c, 7, xt));
    case OP_CONV_INTEGER: return sh_infer_window(c, 0, 1, -1, DT_INT32);
    case OP_MAX_POOL: case OP_AVG_POOL: return sh_infer_window(c, 0, -1, -1, xt);
    case OP_QLINEAR_AVG_POOL: return sh_infer_window(c, 0, -1, -1, sh_dtype_of(c, 4, xt));
    case OP_GEMM: return sh_infer_gemm(c, 0, 1, 2, xt);
    case OP_QGEMM:
        return sh_infer_gemm(c, 0, 3, 6, sh_input(c, 7) ? sh_dtype_of(c, 8, xt) : DT_FLOAT);
    case OP_MATMUL: return sh_infer_matmul(c, 0, 1, xt);
    case OP_QLINEAR_MATMUL: return sh_infer_matmul(c, 0, 3, sh_dtype_of(c, 7, xt));
    case OP_MATMUL_INTEGER: return sh_infer_matmul(c, 0, 1, DT_INT32);
    case OP_BATCHNORM: return sh_infer_batchnorm(c);
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MAX: case OP_MIN: {
        int ins[QCC_MAX_IO];
        for (int k = 0; k < n->nin; k++)
            ins[k] = k;
        if (n->nin < 1 || (n->nin < 2 && n->op != OP_MAX && n->op != OP_MIN))
            return sh_fail(c, "needs two inputs");
        return sh_infer_eltwise(c, ins, n->nin, DT_UNDEF);
    }
    case OP_QLINEAR_ADD: case OP_QLINEAR_MUL: {
        static const int ins[2] = {0, 3};
        return sh_infer_eltwise(c, ins, 2, sh_dtype_of(c, 7, xt));
    }
    case OP_CLIP: return sh_infer_clip(c);
    case OP_QLINEAR_SIGMOID: case OP_QLINEAR_LEAKY_RELU:
        return sh_need(c, 0, &x) && sh_copy_out(c, 0, sh_dtype_of(c, 4, xt), x);
    case OP_SOFTMAX: case OP_QLINEAR_SOFTMAX:
        if (!sh_need(c, 0, &x) ||
            (x->rank > 0 && !sh_norm_axis(c, &n->a.axis.axis, x->rank, "axis")))
            return false;
        return sh_copy_out(c, 0, n->op == OP_SOFTMAX ? xt : sh_dtype_of(c, 4, xt), x);
    case OP_GLOBAL_AVG_POOL: case OP_GLOBAL_MAX_POOL: return sh_infer_global_pool(c, xt);
    case OP_QLINEAR_GAP: return sh_infer_global_pool(c, sh_dtype_of(c, 4, xt));
    case OP_REDUCE_MAX: case OP_REDUCE_MIN: return sh_infer_reduce(c);
    case OP_CONCAT: return sh_infer_concat(c, 0, 1, DT_UNDEF);
    case OP_QLINEAR_CONCAT: {
        Tensor *yz;
        if (!sh_need(c, 1, &yz))
            return false;
        if (n->nin < 5 || (n->nin - 2) % 3 != 0)
            return sh_fail(c, "expects ys, yz and (x, xs, xz) triples; got %d inputs", n->nin);
        return sh_infer_concat(c, 2, 3, yz->dtype);
    }
    case OP_RESHAPE: return sh_infer_reshape(c);
    case OP_FLATTEN: return sh_infer_flatten(c);
    case OP_SQUEEZE: return sh_infer_squeeze(c);
    case OP_UNSQUEEZE: return sh_infer_unsqueeze(c);
    case OP_TRANSPOSE: return sh_infer_transpose(c);
    case OP_PAD: return sh_infer_pad(c);
    case OP_RESIZE: return sh_infer_resize(c);
    case OP_SLICE: return sh_infer_slice(c);
    case OP_QUANTIZE: return sh_infer_quantize(c, sh_dtype_of(c, 2, DT_UINT8));
    case OP_DEQUANTIZE: return sh_infer_quantize(c, DT_FLOAT);
    case OP_DYNAMIC_QUANTIZE: {
        if (!sh_need(c, 0, &x))
            return false;
        return sh_copy_out(c, 0, DT_UINT8, x) && sh_set_out(c, 1, DT_FLOAT, 0, NULL) &&
               sh_set_out(c, 2, DT_UINT8, 0, NULL);
    }
    case OP_COUNT: break;
    }
    return sh_fail(c, "no shape inference for this op");
}

/* ------------------------------------------------------------------ graph outputs */

typedef struct Declared {
    DType dtype;                /* declared element type (DT_UNDEF = none) */
    int rank;                   /* declared rank */
    bool has_rank;              /* a shape was declared (rank is meaningful) */
    bool has_dims;              /* ... and every dim was a number, not a dim_param */
    int64_t shape[QCC_MAX_RANK];/* declared dims (valid if has_dims) */
} Declared;

/* The model's declared type of a graph output must agree with what we inferred. The
 * frontend marks a declaration with symbolic dims shape_known = false: then only the rank
 * is checked and the inferred dims (what we store) win. */
static bool check_output(Graph *g, int id, const Declared *dc, Diag *d) {
    const Tensor *t = &g->tensors[id];
    if (!t->shape_known)
        return diag_error(d, "graph output '%s': shape could not be inferred", t->name);
    bool float_like = dc->dtype == DT_FLOAT16 || dc->dtype == DT_DOUBLE;
    if (dc->dtype != DT_UNDEF && dc->dtype != t->dtype && !(float_like && t->dtype == DT_FLOAT))
        return diag_error(d, "graph output '%s': declared %s but computes %s", t->name,
                          dtype_name(dc->dtype), dtype_name(t->dtype));
    if (!dc->has_rank)
        return true;
    bool ok = dc->rank == t->rank;
    for (int i = 0; ok && dc->has_dims && i < t->rank; i++)
        ok = dc->shape[i] == t->shape[i];
    if (!ok)
        return diag_error(d, "graph output '%s': declared shape %s but computes %s", t->name,
                          shp(dc->rank, dc->shape), TSHP(t));
    return true;
}

bool pass_infer_shapes(Graph *g, const PassOptions *o, Diag *d) {
    (void)o;
    Declared decl[QCC_MAX_IO * 4];
    for (int k = 0; k < g->noutputs; k++) {
        const Tensor *t = &g->tensors[g->outputs[k]];
        Declared *dc = &decl[k];
        dc->dtype = t->dtype;
        dc->rank = t->rank < 0 || t->rank > QCC_MAX_RANK ? 0 : t->rank;
        dc->has_rank = t->shape_known || t->rank > 0;
        dc->has_dims = t->shape_known;
        memcpy(dc->shape, t->shape, sizeof dc->shape);
    }
    /* constants and graph inputs are where shapes start: bound them once */
    for (int i = 0; i < g->ntensors; i++) {
        Tensor *t = &g->tensors[i];
        if (!t->shape_known || (!(t->flags & (T_INPUT | T_CONST))))
            continue;
        for (int k = 0; k < t->rank; k++)
            if (t->shape[k] < 0 || t->shape[k] >= MAX_DIM)
                return diag_error(d, "tensor '%s' has invalid shape %s", t->name, TSHP(t));
    }
    /* Shape plumbing on intermediate tensors is folded as soon as its shapes are known: the
     * Reshape it feeds needs a constant shape when we reach it. remove_dead compacts. */
    bool folded = false;
    for (int i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].dead)
            continue;
        if (!infer_shapes_node(g, i, d) || !fold_constants_node(g, i, &folded, d))
            return false;
    }
    bool ok = true;
    for (int k = 0; k < g->noutputs; k++)
        ok = check_output(g, g->outputs[k], &decl[k], d) && ok;
    if (ok && folded)
        graph_compact(g);
    return ok;
}
