/* fold_constants.c: evaluate nodes whose inputs are all constant (shape plumbing, layout ops,
 * element-wise arithmetic, QuantizeLinear of float weights) into constant tensors that keep
 * their names, and remove copies (Identity, no-op Cast) by rewiring their readers. Runs both
 * before and after shape inference. Never folds DequantizeLinear: the lowering passes need
 * the integer weights with their scales. */
#include "passes.h"

#include <math.h>
#include <string.h>

/* Folding materialises data in the arena: beyond this many elements we leave the node to
 * run at inference time rather than bloat the compiler (and the emitted weights). */
#define FOLD_MAX_NUMEL ((int64_t)1 << 26)

/* A constant we may evaluate: data present, not overridable by the caller, readable type. */
static bool foldable(const Graph *g, int id) {
    if (id < 0)
        return false;
    const Tensor *t = &g->tensors[id];
    return tensor_is_const(t) && !(t->flags & T_INPUT) && t->data && t->shape_known &&
           t->dtype != DT_FLOAT16 && t->dtype != DT_UNDEF;
}

static bool is_graph_output(const Graph *g, int id) {
    for (int k = 0; k < g->noutputs; k++)
        if (g->outputs[k] == id)
            return true;
    return false;
}

/* Every live reader of `from` reads `to` instead (topological order is kept: `to` exists
 * wherever `from` did). */
static void rewire(Graph *g, int from, int to) {
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = &g->nodes[i];
        for (int k = 0; k < n->nin && !n->dead; k++)
            if (n->in[k] == from)
                n->in[k] = to;
    }
}

static void put_i(Tensor *t, int64_t i, int64_t v) {
    switch (t->dtype) {
    case DT_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
    case DT_BOOL: ((uint8_t *)t->data)[i] = v != 0; break;
    case DT_INT8: ((int8_t *)t->data)[i] = (int8_t)v; break;
    case DT_UINT16: ((uint16_t *)t->data)[i] = (uint16_t)v; break;
    case DT_INT16: ((int16_t *)t->data)[i] = (int16_t)v; break;
    case DT_INT32: ((int32_t *)t->data)[i] = (int32_t)v; break;
    case DT_INT64: ((int64_t *)t->data)[i] = v; break;
    case DT_FLOAT: ((float *)t->data)[i] = (float)v; break;
    case DT_DOUBLE: ((double *)t->data)[i] = (double)v; break;
    default: qcc_unreachable();
    }
}

static bool is_float(DType t) {
    return t == DT_FLOAT || t == DT_DOUBLE;
}

/* Store a real value: floats as is; integers truncated toward zero and saturated (C leaves
 * out-of-range conversions undefined; NaN becomes 0). */
static void put_f(Tensor *t, int64_t i, double v) {
    if (t->dtype == DT_FLOAT) {
        ((float *)t->data)[i] = (float)v;
    } else if (t->dtype == DT_DOUBLE) {
        ((double *)t->data)[i] = v;
    } else if (t->dtype == DT_BOOL) {
        put_i(t, i, v != 0.0);
    } else {
        double lo = t->dtype == DT_INT64 ? -9.2233720368547758e18 : dtype_qmin(t->dtype);
        double hi = t->dtype == DT_INT64 ? 9.2233720368547748e18 : dtype_qmax(t->dtype);
        v = v != v ? 0.0 : v < lo ? lo : v > hi ? hi : trunc(v);
        put_i(t, i, (int64_t)v);
    }
}

/* Odometer over an output shape carrying one flat offset per source; a source's stride is
 * 0 along dims it is broadcast in. */
typedef struct Walk {
    int rank;                               /* output rank */
    const int64_t *shape;                   /* output dims */
    int64_t idx[QCC_MAX_RANK];              /* current output index */
    int nsrc;                               /* sources walked along */
    int64_t st[QCC_MAX_IO][QCC_MAX_RANK];   /* per source, per output dim: element stride */
    int64_t off[QCC_MAX_IO];                /* per source: current flat offset */
} Walk;

static void walk_next(Walk *w) {
    for (int d = w->rank - 1; d >= 0; d--) {
        w->idx[d]++;
        for (int k = 0; k < w->nsrc; k++)
            w->off[k] += w->st[k][d];
        if (w->idx[d] < w->shape[d])
            return;
        for (int k = 0; k < w->nsrc; k++)
            w->off[k] -= w->st[k][d] * w->shape[d];
        w->idx[d] = 0;
    }
}

/* Strides of t (right-aligned, numpy broadcasting) over an output of the given rank. */
static void bcast_strides(const Tensor *t, int rank, int64_t *st) {
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        int td = d - (rank - t->rank);
        if (td >= 0 && t->shape[td] != 1) {
            st[d] = s;
            s *= t->shape[td];
        } else {
            st[d] = 0;
            if (td >= 0)
                s *= t->shape[td];
        }
    }
}

static double arith_f(Op op, double a, double b) {
    switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_DIV: return a / b;
    case OP_MAX: return a > b || a != a ? a : b;   /* NaN propagates */
    case OP_MIN: return a < b || a != a ? a : b;
    default: qcc_unreachable();
    }
}

/* Integers wrap like the hardware does (computed unsigned: signed overflow is undefined);
 * division truncates toward zero (C, and ONNX Runtime). Zero divisors were ruled out. */
static int64_t arith_i(Op op, int64_t a, int64_t b) {
    switch (op) {
    case OP_ADD: return (int64_t)((uint64_t)a + (uint64_t)b);
    case OP_SUB: return (int64_t)((uint64_t)a - (uint64_t)b);
    case OP_MUL: return (int64_t)((uint64_t)a * (uint64_t)b);
    case OP_DIV: return b == -1 ? (int64_t)(0 - (uint64_t)a) : a / b;
    case OP_MAX: return a > b ? a : b;
    case OP_MIN: return a < b ? a : b;
    default: qcc_unreachable();
    }
}

static void fold_eltwise(Graph *g, const Node *n, Tensor *out) {
    Walk w = {.rank = out->rank, .shape = out->shape, .nsrc = n->nin};
    for (int k = 0; k < n->nin; k++)
        bcast_strides(&g->tensors[n->in[k]], out->rank, w.st[k]);
    bool fl = is_float(out->dtype);
    for (int64_t o = 0, total = tensor_numel(out); o < total; o++, walk_next(&w)) {
        const Tensor *t0 = &g->tensors[n->in[0]];
        if (fl) {
            double acc = tensor_get_f(t0, w.off[0]);
            for (int k = 1; k < n->nin; k++)
                acc = arith_f(n->op, acc, tensor_get_f(&g->tensors[n->in[k]], w.off[k]));
            put_f(out, o, acc);
        } else {
            int64_t acc = tensor_get_i(t0, w.off[0]);
            for (int k = 1; k < n->nin; k++)
                acc = arith_i(n->op, acc, tensor_get_i(&g->tensors[n->in[k]], w.off[k]));
            put_i(out, o, acc);
        }
    }
}

static void fold_transpose(const Tensor *x, const AxesAttr *perm, Tensor *out) {
    Walk w = {.rank = out->rank, .shape = out->shape, .nsrc = 1};
    int64_t in_st[QCC_MAX_RANK], s = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        in_st[d] = s;
        s *= x->shape[d];
    }
    for (int d = 0; d < out->rank; d++)
        w.st[0][d] = in_st[perm->axes[d]];
    size_t es = dtype_size(x->dtype);
    for (int64_t o = 0, total = tensor_numel(out); o < total; o++, walk_next(&w))
        memcpy((char *)out->data + o * (int64_t)es, (const char *)x->data + w.off[0] * (int64_t)es,
               es);
}

/* Slice with the normalised a.slice (start and step on every axis): the odometer walks the
 * output while the input offset moves by step * stride per axis, possibly backwards. */
static void fold_slice(const Tensor *x, const SliceAttr *a, Tensor *out) {
    Walk w = {.rank = out->rank, .shape = out->shape, .nsrc = 1};
    int64_t s = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        w.st[0][d] = s * a->step[d];
        w.off[0] += s * a->start[d];
        s *= x->shape[d];
    }
    size_t es = dtype_size(x->dtype);
    for (int64_t o = 0, total = tensor_numel(out); o < total; o++, walk_next(&w))
        memcpy((char *)out->data + o * (int64_t)es, (const char *)x->data + w.off[0] * (int64_t)es,
               es);
}

static void fold_gather(const Tensor *x, const Tensor *idx, int64_t axis, Tensor *out) {
    int64_t outer = 1, inner = 1, dim = x->shape[axis], nidx = tensor_numel(idx);
    for (int d = 0; d < axis; d++)
        outer *= x->shape[d];
    for (int d = (int)axis + 1; d < x->rank; d++)
        inner *= x->shape[d];
    size_t row = (size_t)inner * dtype_size(x->dtype);
    char *dst = out->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < nidx; j++) {
            int64_t v = tensor_get_i(idx, j);   /* range checked by shape inference */
            v = v < 0 ? v + dim : v;
            memcpy(dst, (const char *)x->data + (size_t)(o * dim + v) * row, row);
            dst += row;
        }
}

static void fold_concat(Graph *g, const Node *n, Tensor *out) {
    int64_t axis = n->a.axis.axis, outer = 1, inner = dtype_size(out->dtype);
    for (int d = 0; d < axis; d++)
        outer *= out->shape[d];
    for (int d = (int)axis + 1; d < out->rank; d++)
        inner *= out->shape[d];
    char *dst = out->data;
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < n->nin; k++) {
            const Tensor *t = &g->tensors[n->in[k]];
            size_t chunk = (size_t)(t->shape[axis] * inner);
            memcpy(dst, (const char *)t->data + (size_t)o * chunk, chunk);
            dst += chunk;
        }
}

/* QuantizeLinear as ONNX Runtime computes it: float division, nearbyint (round half to
 * even in the default rounding mode), add the zero point, saturate. The result gets the
 * scales as its QParams (real = scale * (q - zp)). */
static void fold_quantize(Graph *g, const Node *n, Tensor *out) {
    const Tensor *x = &g->tensors[n->in[0]], *s = &g->tensors[n->in[1]];
    const Tensor *zp = n->nin > 2 && n->in[2] >= 0 ? &g->tensors[n->in[2]] : NULL;
    int64_t ns = tensor_numel(s), axis = n->a.axis.axis, inner = 1, dim = 1;
    if (ns > 1) {
        dim = x->shape[axis];
        for (int d = (int)axis + 1; d < x->rank; d++)
            inner *= x->shape[d];
    }
    float lo = (float)dtype_qmin(out->dtype), hi = (float)dtype_qmax(out->dtype);
    for (int64_t i = 0, total = tensor_numel(x); i < total; i++) {
        int64_t ch = ns > 1 ? (i / inner) % dim : 0;
        float scale = (float)tensor_get_f(s, ch);
        float v = nearbyintf((float)tensor_get_f(x, i) / scale);
        v += zp ? (float)tensor_get_i(zp, tensor_numel(zp) == 1 ? 0 : ch) : 0.0f;
        v = v != v ? lo : v < lo ? lo : v > hi ? hi : v;
        int64_t q = (int64_t)v;     /* |v| <= 2^31 here: exact, then clamped for int32 */
        put_i(out, i, q < dtype_qmin(out->dtype) ? dtype_qmin(out->dtype)
                      : q > dtype_qmax(out->dtype) ? dtype_qmax(out->dtype) : q);
    }
    float *sc = arena_calloc(g->arena, (size_t)ns, sizeof(float));
    int32_t *zs = arena_calloc(g->arena, (size_t)ns, sizeof(int32_t));
    for (int64_t c = 0; c < ns; c++) {
        sc[c] = (float)tensor_get_f(s, c);
        zs[c] = zp ? (int32_t)tensor_get_i(zp, tensor_numel(zp) == 1 ? 0 : c) : 0;
        if (!(sc[c] > 0.0f) || sc[c] > 3.4e38f)
            return;     /* not a valid quantization: leave QParams unset */
    }
    out->q = (QParams){.n = (int)ns, .axis = ns > 1 ? (int)axis : 0, .scale = sc,
                       .zero_point = zs};
}

static void fold_cast(const Tensor *x, Tensor *out) {
    bool exact_int = !is_float(x->dtype) && !is_float(out->dtype);
    for (int64_t i = 0, total = tensor_numel(x); i < total; i++) {
        if (exact_int)
            put_i(out, i, tensor_get_i(x, i));
        else
            put_f(out, i, tensor_get_f(x, i));
    }
}

/* Inputs a folded op may leave out (others absent: not folded, shape inference reports). */
static bool optional_input(Op op, int k) {
    return (op == OP_QUANTIZE && k == 2) || (op == OP_CONSTANT_OF_SHAPE && k == 1) ||
           (op == OP_SLICE && k >= 3);
}

/* Ops evaluated here, and whether their evaluation is possible for this node. */
static bool can_fold(const Graph *g, const Node *n) {
    switch (n->op) {
    case OP_CAST:
        return n->a.cast.to != DT_FLOAT16 && dtype_size(n->a.cast.to) != 0;
    case OP_QUANTIZE:
        return n->a.axis.block_size == 0 && g->tensors[n->in[0]].dtype == DT_FLOAT;
    case OP_DIV:    /* integer division by zero stays a run-time matter */
        if (n->nin != 2 || is_float(g->tensors[n->in[0]].dtype))
            return n->nin == 2;
        for (int64_t i = 0, m = tensor_numel(&g->tensors[n->in[1]]); i < m; i++)
            if (tensor_get_i(&g->tensors[n->in[1]], i) == 0)
                return false;
        return true;
    case OP_IDENTITY: case OP_GATHER: case OP_UNSQUEEZE: case OP_SQUEEZE: case OP_RESHAPE:
    case OP_FLATTEN: case OP_CONCAT: case OP_TRANSPOSE: case OP_CONSTANT_OF_SHAPE: case OP_SLICE:
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_MAX: case OP_MIN:
        return true;
    default:
        return false;
    }
}

/* Evaluate a node whose inputs are all constant; *done says whether it was folded. */
static bool fold_const_node(Graph *g, int ni, Diag *d, bool *done) {
    Node *n = &g->nodes[ni];
    if (n->nout != 1 || n->out[0] < 0 || !can_fold(g, n))
        return true;
    if (!infer_shapes_node(g, ni, d))
        return false;
    int oid = n->out[0];
    Tensor *o = &g->tensors[oid];
    if (!o->shape_known || tensor_numel(o) > FOLD_MAX_NUMEL || dtype_size(o->dtype) == 0)
        return true;
    int64_t shape[QCC_MAX_RANK];
    memcpy(shape, o->shape, sizeof shape);
    tensor_set_const(g, oid, o->dtype, o->rank, shape);
    Tensor *out = o;
    const Tensor *x = &g->tensors[n->in[0]];
    switch (n->op) {
    case OP_IDENTITY: case OP_UNSQUEEZE: case OP_SQUEEZE: case OP_RESHAPE: case OP_FLATTEN:
        memcpy(out->data, x->data, (size_t)tensor_bytes(out));
        break;
    case OP_CAST: fold_cast(x, out); break;
    case OP_GATHER: fold_gather(x, &g->tensors[n->in[1]], n->a.axis.axis, out); break;
    case OP_CONCAT: fold_concat(g, n, out); break;
    case OP_TRANSPOSE: fold_transpose(x, &n->a.axes, out); break;
    case OP_SLICE: fold_slice(x, &n->a.slice, out); break;
    case OP_QUANTIZE: fold_quantize(g, n, out); break;
    case OP_CONSTANT_OF_SHAPE: {
        const Tensor *v = n->nin > 1 && n->in[1] >= 0 ? &g->tensors[n->in[1]] : NULL;
        size_t es = dtype_size(out->dtype);
        for (int64_t i = 0, total = tensor_numel(out); v && i < total; i++)
            memcpy((char *)out->data + (size_t)i * es, v->data, es);
        break;
    }
    default: fold_eltwise(g, n, out); break;
    }
    n->dead = true;
    *done = true;
    return true;
}

/* Identity, and Cast to the type it already has, are copies: readers take the source. */
static bool drop_copy(Graph *g, Node *n) {
    if (n->nin < 1 || n->nout != 1 || n->in[0] < 0 || n->out[0] < 0)
        return false;
    const Tensor *x = &g->tensors[n->in[0]];
    bool copy = n->op == OP_IDENTITY ||
                (n->op == OP_CAST && x->dtype != DT_UNDEF && x->dtype == n->a.cast.to);
    if (!copy || is_graph_output(g, n->out[0]))
        return false;
    rewire(g, n->out[0], n->in[0]);
    n->dead = true;
    return true;
}

bool fold_constants_node(Graph *g, int node, bool *changed, Diag *d) {
    Node *n = &g->nodes[node];
    if (n->dead)
        return true;
    if (n->op == OP_CONSTANT) {     /* the frontend already made its output a constant */
        if (n->nout == 1 && n->out[0] >= 0 && tensor_is_const(&g->tensors[n->out[0]]))
            n->dead = *changed = true;
        return true;
    }
    if (n->op == OP_SHAPE && n->nin >= 1 && n->in[0] >= 0 && n->nout >= 1 && n->out[0] >= 0 &&
        g->tensors[n->in[0]].shape_known) {
        const Tensor *x = &g->tensors[n->in[0]];
        int64_t rank = x->rank, dims[QCC_MAX_RANK];
        memcpy(dims, x->shape, sizeof dims);
        int64_t *v = tensor_set_const(g, n->out[0], DT_INT64, 1, &rank);
        memcpy(v, dims, (size_t)rank * sizeof dims[0]);
        n->dead = *changed = true;
        return true;
    }
    bool all_const = n->nin > 0;
    for (int k = 0; k < n->nin && all_const; k++)
        all_const = n->in[k] < 0 ? optional_input(n->op, k) : foldable(g, n->in[k]);
    if (all_const) {
        bool done = false;
        if (!fold_const_node(g, node, d, &done))
            return false;
        *changed |= done;
        if (done)
            return true;
    }
    n = &g->nodes[node];
    if (n->op == OP_IDENTITY || n->op == OP_CAST)
        *changed |= drop_copy(g, n);
    return true;
}

bool pass_fold_constants(Graph *g, const PassOptions *o, Diag *d) {
    (void)o;
    bool changed = false;
    for (int i = 0; i < g->nnodes; i++)
        if (!fold_constants_node(g, i, &changed, d))
            return false;
    if (changed)
        graph_compact(g);
    return true;
}
