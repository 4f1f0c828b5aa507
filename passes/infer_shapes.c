/* infer_shapes.c: dtype and static shape of every tensor, following the ONNX operator specs,
 * and normalisation of attributes in place (auto_pad resolved into explicit pads, axes made
 * non-negative and sorted, shape-like constant inputs copied into n->a) so that later stages
 * never see ONNX corner cases. Shape plumbing (Shape, Gather, Concat... on known shapes) is
 * folded as it goes through fold_constants.c.
 * Every user error names the node; hostile input is diagnosed, never indexed blindly. */
#include "passes.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

/* Bounds on what a model may ask for: larger means broken or hostile input. Keeping dims
 * below 2^31 and attributes below 2^31 keeps every product computed here inside int64. */
#define MAX_DIM ((int64_t)1 << 31)
#define MAX_NUMEL ((int64_t)1 << 36)

typedef struct Ctx {
    Graph *g;           /* the graph */
    Node *n;            /* node being inferred (nodes are not added here: pointer is stable) */
    Diag *d;            /* where errors go */
} Ctx;

static bool fail(Ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(Ctx *c, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return diag_error(c->d, "node '%s' (%s): %s", c->n->name, op_name(c->n->op), msg);
}

/* "[1,3,224,224]" for messages, written into a buffer that lives as long as the enclosing
 * block (a compound literal), so a message may print several shapes without global state. */
typedef struct ShapeText {
    char s[160];        /* the text */
} ShapeText;

static const char *shape_text(ShapeText *b, int rank, const int64_t *shape) {
    size_t len = 0;
    b->s[len++] = '[';
    for (int i = 0; i < rank && len < 140; i++)
        len += (size_t)snprintf(b->s + len, sizeof b->s - len, "%s%lld", i ? "," : "",
                                (long long)shape[i]);
    snprintf(b->s + len, sizeof b->s - len, "]");
    return b->s;
}
#define shp(rank, shape) shape_text(&(ShapeText){{0}}, (rank), (shape))
#define TSHP(t) shp((t)->rank, (t)->shape)

static Tensor *input(Ctx *c, int k) {
    if (k < 0 || k >= c->n->nin || c->n->in[k] < 0)
        return NULL;
    return &c->g->tensors[c->n->in[k]];
}

static bool need(Ctx *c, int k, Tensor **t) {
    *t = input(c, k);
    if (!*t)
        return fail(c, "input %d is required", k);
    return true;
}

/* dtype of an optional input (a zero point decides a QLinear op's output type), or dflt. */
static DType dtype_of(Ctx *c, int k, DType dflt) {
    Tensor *t = input(c, k);
    return t && t->dtype != DT_UNDEF ? t->dtype : dflt;
}

static bool set_out(Ctx *c, int k, DType dt, int rank, const int64_t *shape) {
    if (k >= c->n->nout || c->n->out[k] < 0)
        return true;
    Tensor *t = &c->g->tensors[c->n->out[k]];
    if (rank < 0 || rank > QCC_MAX_RANK)
        return fail(c, "output '%s' would have rank %d (at most %d supported)", t->name, rank,
                    QCC_MAX_RANK);
    int64_t numel = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0 || shape[i] >= MAX_DIM)
            return fail(c, "output '%s' would have invalid shape %s", t->name, shp(rank, shape));
        if (shape[i] != 0 && numel > MAX_NUMEL / shape[i])
            return fail(c, "output '%s' would have shape %s: too many elements", t->name,
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

static bool copy_out(Ctx *c, int k, DType dt, const Tensor *like) {
    return set_out(c, k, dt, like->rank, like->shape);
}

/* A constant integer vector (shape, axes, pads, sizes) from input k into v[0..*count). */
static bool const_ints(Ctx *c, int k, const char *what, int64_t *v, int max, int *count) {
    Tensor *t = input(c, k);
    if (!t)
        return fail(c, "%s input is missing", what);
    if (!tensor_is_const(t) || (t->flags & T_INPUT))
        return fail(c, "%s input must be constant", what);
    if (t->dtype != DT_INT64 && t->dtype != DT_INT32 && t->dtype != DT_INT16 &&
        t->dtype != DT_INT8 && t->dtype != DT_UINT8)
        return fail(c, "%s input '%s' must be an integer tensor, not %s", what, t->name,
                    dtype_name(t->dtype));
    if (t->rank > 1)
        return fail(c, "%s input '%s' must be 1-d, not %s", what, t->name, TSHP(t));
    int64_t numel = tensor_numel(t);
    if (numel > max)
        return fail(c, "%s input '%s' has %lld entries (at most %d)", what, t->name,
                    (long long)numel, max);
    for (int64_t i = 0; i < numel; i++)
        v[i] = tensor_get_i(t, i);
    *count = (int)numel;
    return true;
}

/* A constant float vector (scales, clip bounds) from input k. */
static bool const_floats(Ctx *c, int k, const char *what, float *v, int max, int *count) {
    Tensor *t = input(c, k);
    if (!t)
        return fail(c, "%s input is missing", what);
    if (!tensor_is_const(t) || (t->flags & T_INPUT))
        return fail(c, "%s input must be constant", what);
    int64_t numel = tensor_numel(t);
    if (numel > max)
        return fail(c, "%s input '%s' has %lld entries (at most %d)", what, t->name,
                    (long long)numel, max);
    for (int64_t i = 0; i < numel; i++)
        v[i] = (float)tensor_get_f(t, i);
    *count = (int)numel;
    return true;
}

static bool norm_axis(Ctx *c, int64_t *axis, int rank, const char *what) {
    if (*axis < -rank || *axis >= rank)
        return fail(c, "%s %lld out of range for rank %d", what, (long long)*axis, rank);
    if (*axis < 0)
        *axis += rank;
    return true;
}

/* Make axes non-negative, sort them and reject duplicates. */
static bool norm_axes(Ctx *c, int64_t *axes, int n, int rank) {
    for (int i = 0; i < n; i++)
        if (!norm_axis(c, &axes[i], rank, "axis"))
            return false;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && axes[j - 1] > axes[j]; j--) {
            int64_t t = axes[j];
            axes[j] = axes[j - 1];
            axes[j - 1] = t;
        }
    for (int i = 1; i < n; i++)
        if (axes[i] == axes[i - 1])
            return fail(c, "axis %lld repeated", (long long)axes[i]);
    return true;
}

/* Numpy broadcasting of (rank, shape) with t, in place. */
static bool bcast(Ctx *c, int *rank, int64_t *shape, const Tensor *t) {
    int r = *rank > t->rank ? *rank : t->rank;
    int64_t out[QCC_MAX_RANK];
    for (int i = 0; i < r; i++) {
        int ia = i - (r - *rank), ib = i - (r - t->rank);
        int64_t da = ia >= 0 ? shape[ia] : 1, db = ib >= 0 ? t->shape[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return fail(c, "shapes %s and %s of '%s' do not broadcast", shp(*rank, shape),
                        TSHP(t), t->name);
        out[i] = da == 1 ? db : da;
    }
    memcpy(shape, out, sizeof out);
    *rank = r;
    return true;
}

/* Element-wise: every listed input broadcast together; dtype of the first. */
static bool infer_eltwise(Ctx *c, const int *ins, int nins, DType dt) {
    Tensor *first;
    if (!need(c, ins[0], &first))
        return false;
    int rank = first->rank;
    int64_t shape[QCC_MAX_RANK];
    memcpy(shape, first->shape, sizeof shape);
    for (int k = 1; k < nins; k++) {
        Tensor *t;
        if (!need(c, ins[k], &t) || !bcast(c, &rank, shape, t))
            return false;
        if (dt == DT_UNDEF && t->dtype != first->dtype && t->dtype != DT_UNDEF &&
            first->dtype != DT_UNDEF)
            return fail(c, "input types differ: %s and %s", dtype_name(first->dtype),
                        dtype_name(t->dtype));
    }
    return set_out(c, 0, dt != DT_UNDEF ? dt : first->dtype, rank, shape);
}

/* ------------------------------------------------------------------ convolution family */

/* Output extent of one spatial dim of a convolution or pooling window, resolving auto_pad
 * into explicit pads (ONNX: SAME_* gives ceil(in/stride); the odd pad goes at the end for
 * SAME_UPPER, at the beginning for SAME_LOWER). Negative SAME pads (stride > kernel) are
 * clamped to 0: the dropped tail is never read by any window. */
static bool window_dim(Ctx *c, int i, int64_t in, bool pool, int64_t *out) {
    ConvAttr *a = &c->n->a.conv;
    int ns = a->nspatial;
    int64_t s = a->stride[i], ke = (a->kernel[i] - 1) * a->dilation[i] + 1;
    int64_t *pb = &a->pad[i], *pe = &a->pad[ns + i];
    if (a->auto_pad == AUTO_PAD_SAME_UPPER || a->auto_pad == AUTO_PAD_SAME_LOWER) {
        int64_t target = (in + s - 1) / s, total = (target - 1) * s + ke - in;
        if (total < 0)
            total = 0;
        *pb = a->auto_pad == AUTO_PAD_SAME_UPPER ? total / 2 : total - total / 2;
        *pe = total - *pb;
    } else if (a->auto_pad == AUTO_PAD_VALID) {
        *pb = *pe = 0;
    }
    int64_t span = in + *pb + *pe - ke;
    if (span < 0)
        return fail(c, "window of %lld along spatial dim %d exceeds the padded input (%lld)",
                    (long long)ke, i, (long long)(in + *pb + *pe));
    *out = span / s + 1;
    if (pool && a->ceil_mode) {
        /* round up, but the last window must start inside the input or the left padding */
        *out = (span + s - 1) / s + 1;
        if ((*out - 1) * s >= in + *pb)
            (*out)--;
    }
    return true;
}

/* ConvTranspose: out = s*(in-1) + out_pad + ke - pads; output_shape or SAME_* fix the
 * total padding instead, split as the ONNX spec says. A requested size beyond the natural
 * one becomes extra output_padding so that pads stay non-negative. */
static void transposed_dim(Ctx *c, int i, int64_t in, int64_t *out) {
    ConvAttr *a = &c->n->a.conv;
    int ns = a->nspatial;
    int64_t s = a->stride[i], ke = (a->kernel[i] - 1) * a->dilation[i] + 1;
    int64_t *pb = &a->pad[i], *pe = &a->pad[ns + i];
    bool same = a->auto_pad == AUTO_PAD_SAME_UPPER || a->auto_pad == AUTO_PAD_SAME_LOWER;
    if (a->out_shape[i] > 0 || same) {
        int64_t target = a->out_shape[i] > 0 ? a->out_shape[i] : in * s;
        int64_t total = s * (in - 1) + a->out_pad[i] + ke - target;
        if (total < 0) {
            a->out_pad[i] -= total;
            total = 0;
        }
        *pb = a->auto_pad == AUTO_PAD_SAME_UPPER ? total / 2 : total - total / 2;
        *pe = total - *pb;
    } else if (a->auto_pad == AUTO_PAD_VALID) {
        *pb = *pe = 0;
    }
    a->out_shape[i] = 0;
    *out = s * (in - 1) + a->out_pad[i] + ke - *pb - *pe;
}

static bool check_attr(Ctx *c, const char *what, int64_t v, int64_t lo) {
    if (v < lo || v >= MAX_DIM)
        return fail(c, "%s %lld out of range", what, (long long)v);
    return true;
}

/* x at xi, weight at wi (-1 for pools), bias at bi (-1 if none). */
static bool infer_window(Ctx *c, int xi, int wi, int bi, DType dt) {
    ConvAttr *a = &c->n->a.conv;
    Op op = c->n->op;
    bool pool = wi < 0, transposed = op == OP_CONV_TRANSPOSE;
    Tensor *x, *w = NULL;
    if (!need(c, xi, &x) || (!pool && !need(c, wi, &w)))
        return false;
    if (x->rank < 3 || x->rank > 2 + QCC_MAX_SPATIAL)
        return fail(c, "input '%s' %s must have rank 3 to %d (N, C, spatial...)", x->name,
                    TSHP(x), 2 + QCC_MAX_SPATIAL);
    int ns = x->rank - 2;
    if (a->nspatial != 0 && a->nspatial != ns)
        return fail(c, "attributes describe %d spatial dims but input '%s' is %s", a->nspatial,
                    x->name, TSHP(x));
    a->nspatial = ns;
    if (w && w->rank != x->rank)
        return fail(c, "weight '%s' %s and input '%s' %s differ in rank", w->name, TSHP(w),
                    x->name, TSHP(x));
    if (a->group == 0)
        a->group = 1;
    if (!check_attr(c, "group", a->group, 1))
        return false;
    for (int i = 0; i < ns; i++) {
        if (w && a->kernel[i] == 0)
            a->kernel[i] = w->shape[2 + i];
        else if (w && a->kernel[i] != w->shape[2 + i])
            return fail(c, "kernel_shape does not match weight '%s' %s", w->name, TSHP(w));
        if (a->stride[i] == 0)
            a->stride[i] = 1;
        if (a->dilation[i] == 0)
            a->dilation[i] = 1;
        if (!check_attr(c, "kernel size", a->kernel[i], 1) ||
            !check_attr(c, "stride", a->stride[i], 1) ||
            !check_attr(c, "dilation", a->dilation[i], 1) ||
            !check_attr(c, "pad", a->pad[i], 0) || !check_attr(c, "pad", a->pad[ns + i], 0) ||
            !check_attr(c, "output_padding", a->out_pad[i], 0) ||
            !check_attr(c, "output_shape", a->out_shape[i], 0))
            return false;
    }
    for (int i = ns; i < QCC_MAX_SPATIAL; i++)  /* keep unused slots clean for printing */
        a->kernel[i] = a->stride[i] = a->dilation[i] = 0;
    int64_t cin = x->shape[1], cout = cin, g = a->group;
    if (w && !transposed) {
        if (w->shape[1] * g != cin)
            return fail(c, "input '%s' %s has %lld channels but weight '%s' %s with group %lld "
                        "expects %lld", x->name, TSHP(x), (long long)cin, w->name, TSHP(w),
                        (long long)g, (long long)(w->shape[1] * g));
        if (w->shape[0] % g != 0)
            return fail(c, "%lld output channels not divisible by group %lld",
                        (long long)w->shape[0], (long long)g);
        cout = w->shape[0];
    } else if (w) {
        if (w->shape[0] != cin || cin % g != 0)
            return fail(c, "input '%s' %s does not match weight '%s' %s with group %lld",
                        x->name, TSHP(x), w->name, TSHP(w), (long long)g);
        cout = w->shape[1] * g;
    }
    Tensor *b = input(c, bi);
    if (b && (b->rank != 1 || b->shape[0] != cout))
        return fail(c, "bias '%s' %s must be [%lld]", b->name, TSHP(b), (long long)cout);
    int64_t shape[QCC_MAX_RANK] = {x->shape[0], cout};
    for (int i = 0; i < ns; i++) {
        if (transposed)
            transposed_dim(c, i, x->shape[2 + i], &shape[2 + i]);
        else if (!window_dim(c, i, x->shape[2 + i], pool, &shape[2 + i]))
            return false;
        if (shape[2 + i] < 1)
            return fail(c, "output would be empty along spatial dim %d", i);
    }
    a->auto_pad = AUTO_PAD_NOTSET;
    return set_out(c, 0, dt, x->rank, shape) &&
           (op != OP_MAX_POOL || set_out(c, 1, DT_INT64, x->rank, shape));
}

/* ------------------------------------------------------------------ linear algebra */

/* numpy matmul: 1-d operands get a dim prepended/appended then removed, batch dims
 * broadcast. a at ai, b at bi. */
static bool infer_matmul(Ctx *c, int ai, int bi, DType dt) {
    Tensor *a, *b;
    if (!need(c, ai, &a) || !need(c, bi, &b))
        return false;
    if (a->rank < 1 || b->rank < 1)
        return fail(c, "matmul operands must have rank >= 1: %s, %s", TSHP(a), TSHP(b));
    int64_t ka = a->shape[a->rank - 1], kb = b->rank == 1 ? b->shape[0] : b->shape[b->rank - 2];
    if (ka != kb)
        return fail(c, "inner dims differ: '%s' %s times '%s' %s", a->name, TSHP(a), b->name,
                    TSHP(b));
    Tensor ba = {0}, bb = {0};  /* batch parts, broadcast together */
    ba.rank = a->rank > 2 ? a->rank - 2 : 0;
    bb.rank = b->rank > 2 ? b->rank - 2 : 0;
    memcpy(ba.shape, a->shape, (size_t)ba.rank * sizeof(int64_t));
    memcpy(bb.shape, b->shape, (size_t)bb.rank * sizeof(int64_t));
    bb.name = b->name;
    int rank = ba.rank;
    int64_t shape[QCC_MAX_RANK + 2];
    memcpy(shape, ba.shape, sizeof ba.shape);
    if (!bcast(c, &rank, shape, &bb))
        return false;
    if (a->rank > 1)
        shape[rank++] = a->shape[a->rank - 2];
    if (b->rank > 1)
        shape[rank++] = b->shape[b->rank - 1];
    return set_out(c, 0, dt, rank, shape);
}

static bool infer_gemm(Ctx *c, int ai, int bi, int ci, DType dt) {
    GemmAttr *ga = &c->n->a.gemm;
    Tensor *a, *b;
    if (!need(c, ai, &a) || !need(c, bi, &b))
        return false;
    if (a->rank != 2 || b->rank != 2)
        return fail(c, "Gemm operands must be 2-d: '%s' %s, '%s' %s", a->name, TSHP(a),
                    b->name, TSHP(b));
    int64_t m = a->shape[ga->trans_a ? 1 : 0], k = a->shape[ga->trans_a ? 0 : 1];
    int64_t kb = b->shape[ga->trans_b ? 1 : 0], nn = b->shape[ga->trans_b ? 0 : 1];
    if (k != kb)
        return fail(c, "inner dims differ: '%s' %s and '%s' %s (transA=%d transB=%d)", a->name,
                    TSHP(a), b->name, TSHP(b), ga->trans_a, ga->trans_b);
    int64_t shape[QCC_MAX_RANK] = {m, nn};
    int rank = 2;
    Tensor *ct = input(c, ci);
    if (ct && (!bcast(c, &rank, shape, ct) || rank != 2 || shape[0] != m || shape[1] != nn))
        return fail(c, "C '%s' %s does not broadcast to [%lld,%lld]", ct->name, TSHP(ct),
                    (long long)m, (long long)nn);
    return set_out(c, 0, dt, rank, shape);
}

static bool infer_batchnorm(Ctx *c) {
    Tensor *x;
    if (!need(c, 0, &x))
        return false;
    if (x->rank < 2)
        return fail(c, "input '%s' %s must have rank >= 2", x->name, TSHP(x));
    for (int k = 1; k < 5; k++) {
        Tensor *p;
        if (!need(c, k, &p))
            return false;
        if (p->rank != 1 || p->shape[0] != x->shape[1])
            return fail(c, "parameter '%s' %s must be [%lld]", p->name, TSHP(p),
                        (long long)x->shape[1]);
    }
    for (int k = 1; k < c->n->nout; k++)    /* training-mode outputs: running stats */
        if (!copy_out(c, k, x->dtype, input(c, 1)))
            return false;
    return copy_out(c, 0, x->dtype, x);
}

/* ------------------------------------------------------------------ pools and reductions */

static bool infer_global_pool(Ctx *c, DType dt) {
    Tensor *x;
    if (!need(c, 0, &x))
        return false;
    if (x->rank < 3)
        return fail(c, "input '%s' %s must have rank >= 3", x->name, TSHP(x));
    int64_t shape[QCC_MAX_RANK];
    memcpy(shape, x->shape, sizeof shape);
    for (int i = 2; i < x->rank; i++)
        shape[i] = 1;
    return set_out(c, 0, dt, x->rank, shape);
}

static bool infer_reduce(Ctx *c) {
    AxesAttr *a = &c->n->a.axes;
    Tensor *x;
    if (!need(c, 0, &x))
        return false;
    if (input(c, 1)) {  /* opset 18: axes as an input; empty means all */
        if (!const_ints(c, 1, "axes", a->axes, QCC_MAX_RANK, &a->naxes))
            return false;
    }
    if (a->naxes <= 0) {
        a->naxes = x->rank;
        for (int i = 0; i < x->rank; i++)
            a->axes[i] = i;
    }
    if (a->naxes > x->rank)
        return fail(c, "%d axes for input of rank %d", a->naxes, x->rank);
    if (!norm_axes(c, a->axes, a->naxes, x->rank))
        return false;
    int64_t shape[QCC_MAX_RANK];
    int rank = 0;
    for (int i = 0, j = 0; i < x->rank; i++) {
        bool reduced = j < a->naxes && a->axes[j] == i;
        j += reduced;
        if (!reduced)
            shape[rank++] = x->shape[i];
        else if (a->keepdims)
            shape[rank++] = 1;
    }
    return set_out(c, 0, x->dtype, rank, shape);
}

/* ------------------------------------------------------------------ data movement */

static bool infer_concat(Ctx *c, int first, int step, DType dt) {
    AxisAttr *a = &c->n->a.axis;
    Tensor *t0;
    if (!need(c, first, &t0))
        return false;
    if (t0->rank < 1)
        return fail(c, "cannot concatenate scalars");
    if (!norm_axis(c, &a->axis, t0->rank, "axis"))
        return false;
    int64_t shape[QCC_MAX_RANK];
    memcpy(shape, t0->shape, sizeof shape);
    shape[a->axis] = 0;
    for (int k = first; k < c->n->nin; k += step) {
        Tensor *t;
        if (!need(c, k, &t))
            return false;
        bool ok = t->rank == t0->rank;
        for (int i = 0; ok && i < t->rank; i++)
            ok = i == a->axis || t->shape[i] == t0->shape[i];
        if (!ok)
            return fail(c, "inputs '%s' %s and '%s' %s differ outside axis %lld", t0->name,
                        TSHP(t0), t->name, TSHP(t), (long long)a->axis);
        if (step == 1 && t->dtype != t0->dtype)
            return fail(c, "input types differ: %s and %s", dtype_name(t0->dtype),
                        dtype_name(t->dtype));
        shape[a->axis] += t->shape[a->axis];
    }
    return set_out(c, 0, dt != DT_UNDEF ? dt : t0->dtype, t0->rank, shape);
}

static bool infer_reshape(Ctx *c) {
    Tensor *x;
    int64_t v[QCC_MAX_RANK];
    int nv;
    if (!need(c, 0, &x) || !const_ints(c, 1, "shape", v, QCC_MAX_RANK, &nv))
        return false;
    int infer_at = -1;
    int64_t known = 1;
    for (int i = 0; i < nv; i++) {
        if (v[i] == 0 && !c->n->a.axes.allowzero) {
            if (i >= x->rank)
                return fail(c, "shape entry %d is 0 but input '%s' %s has no such dim", i,
                            x->name, TSHP(x));
            v[i] = x->shape[i];
        }
        if (v[i] == -1) {
            if (infer_at >= 0)
                return fail(c, "shape %s has more than one -1", shp(nv, v));
            infer_at = i;
            continue;
        }
        if (v[i] < 0 || v[i] >= MAX_DIM)
            return fail(c, "invalid shape %s", shp(nv, v));
        if (v[i] != 0 && known > MAX_NUMEL / v[i])
            return fail(c, "shape %s too large", shp(nv, v));
        known *= v[i];
    }
    int64_t numel = tensor_numel(x);
    if (infer_at >= 0) {
        if (known == 0 || numel % known != 0)
            return fail(c, "cannot reshape '%s' %s to %s", x->name, TSHP(x), shp(nv, v));
        v[infer_at] = numel / known;
    } else if (known != numel) {
        return fail(c, "cannot reshape '%s' %s to %s", x->name, TSHP(x), shp(nv, v));
    }
    return set_out(c, 0, x->dtype, nv, v);
}

static bool infer_flatten(Ctx *c) {
    Tensor *x;
    if (!need(c, 0, &x))
        return false;
    int64_t *axis = &c->n->a.axis.axis;
    if (*axis < -x->rank || *axis > x->rank)
        return fail(c, "axis %lld out of range for rank %d", (long long)*axis, x->rank);
    if (*axis < 0)
        *axis += x->rank;
    int64_t shape[2] = {1, 1};
    for (int i = 0; i < x->rank; i++)
        shape[i >= *axis] *= x->shape[i];
    return set_out(c, 0, x->dtype, 2, shape);
}

/* Squeeze/Unsqueeze axes: the attribute, or constant input 1 (opset 13). */
static bool axes_from_input(Ctx *c) {
    AxesAttr *a = &c->n->a.axes;
    if (input(c, 1))
        return const_ints(c, 1, "axes", a->axes, QCC_MAX_RANK, &a->naxes);
    return true;
}

static bool infer_squeeze(Ctx *c) {
    AxesAttr *a = &c->n->a.axes;
    Tensor *x;
    if (!need(c, 0, &x) || !axes_from_input(c))
        return false;
    if (a->naxes <= 0) {    /* no axes: every size-1 dim */
        a->naxes = 0;
        for (int i = 0; i < x->rank; i++)
            if (x->shape[i] == 1)
                a->axes[a->naxes++] = i;
    }
    if (a->naxes > x->rank || !norm_axes(c, a->axes, a->naxes, x->rank))
        return a->naxes > x->rank ? fail(c, "%d axes for rank %d", a->naxes, x->rank) : false;
    int64_t shape[QCC_MAX_RANK];
    int rank = 0;
    for (int i = 0, j = 0; i < x->rank; i++) {
        if (j < a->naxes && a->axes[j] == i) {
            if (x->shape[i] != 1)
                return fail(c, "cannot squeeze axis %d of '%s' %s: not 1", i, x->name, TSHP(x));
            j++;
            continue;
        }
        shape[rank++] = x->shape[i];
    }
    return set_out(c, 0, x->dtype, rank, shape);
}

static bool infer_unsqueeze(Ctx *c) {
    AxesAttr *a = &c->n->a.axes;
    Tensor *x;
    if (!need(c, 0, &x) || !axes_from_input(c))
        return false;
    if (a->naxes <= 0)
        return fail(c, "axes are required");
    int rank = x->rank + a->naxes;
    if (rank > QCC_MAX_RANK)
        return fail(c, "output rank %d exceeds %d", rank, QCC_MAX_RANK);
    if (!norm_axes(c, a->axes, a->naxes, rank))
        return false;
    int64_t shape[QCC_MAX_RANK];
    for (int i = 0, j = 0, src = 0; i < rank; i++) {
        if (j < a->naxes && a->axes[j] == i) {
            shape[i] = 1;
            j++;
        } else {
            shape[i] = x->shape[src++];
        }
    }
    return set_out(c, 0, x->dtype, rank, shape);
}

static bool infer_transpose(Ctx *c) {
    AxesAttr *a = &c->n->a.axes;
    Tensor *x;
    if (!need(c, 0, &x))
        return false;
    if (a->naxes <= 0 && x->rank > 0) {
        a->naxes = x->rank;
        for (int i = 0; i < x->rank; i++)
            a->axes[i] = x->rank - 1 - i;
    }
    if (a->naxes < 0)
        a->naxes = 0;
    if (a->naxes != x->rank)
        return fail(c, "perm has %d entries for input '%s' %s", a->naxes, x->name, TSHP(x));
    bool seen[QCC_MAX_RANK] = {false};
    int64_t shape[QCC_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        int64_t p = a->axes[i];
        if (p < 0 || p >= x->rank || seen[p])
            return fail(c, "perm %s is not a permutation of rank %d", shp(a->naxes, a->axes),
                        x->rank);
        seen[p] = true;
        shape[i] = x->shape[p];
    }
    return set_out(c, 0, x->dtype, x->rank, shape);
}

static bool infer_pad(Ctx *c) {
    PadAttr *a = &c->n->a.pad;
    Tensor *x;
    if (!need(c, 0, &x))
        return false;
    int r = x->rank;
    if (!a->have_pads && c->g->opset >= 11) {
        int64_t v[2 * QCC_MAX_RANK], axes[QCC_MAX_RANK];
        int nv, naxes = r;
        for (int i = 0; i < r; i++)
            axes[i] = i;
        if (!const_ints(c, 1, "pads", v, 2 * QCC_MAX_RANK, &nv))
            return false;
        if (input(c, 3) && (!const_ints(c, 3, "axes", axes, QCC_MAX_RANK, &naxes) ||
                            !norm_axes(c, axes, naxes, r)))
            return false;
        if (nv != 2 * naxes)
            return fail(c, "%d pads for %d axes", nv, naxes);
        memset(a->pads, 0, sizeof a->pads);
        for (int i = 0; i < naxes; i++) {
            a->pads[axes[i]] = v[i];
            a->pads[r + axes[i]] = v[naxes + i];
        }
        a->value = 0.0f;
        Tensor *cv = input(c, 2);
        if (cv) {
            float f[1];
            int nf;
            if (!const_floats(c, 2, "constant_value", f, 1, &nf))
                return false;
            a->value = nf ? f[0] : 0.0f;
        }
    }
    int64_t shape[QCC_MAX_RANK];
    for (int i = 0; i < r; i++) {
        if (a->pads[i] <= -MAX_DIM || a->pads[i] >= MAX_DIM || a->pads[r + i] <= -MAX_DIM ||
            a->pads[r + i] >= MAX_DIM)
            return fail(c, "pads %s out of range", shp(2 * r, a->pads));
        shape[i] = x->shape[i] + a->pads[i] + a->pads[r + i];
        if (shape[i] < 0)
            return fail(c, "pads %s crop '%s' %s below zero", shp(2 * r, a->pads), x->name,
                        TSHP(x));
    }
    return set_out(c, 0, x->dtype, r, shape);
}

/* An optional input that is present and not an empty tensor (exporters pass "" or []). */
static bool present(Ctx *c, int k) {
    Tensor *t = input(c, k);
    return t && !(tensor_is_const(t) && tensor_numel(t) == 0);
}

/* Resize: output shape and a.resize.scales[] for every axis from the constant sizes or
 * scales input (opset 18: only for the axes attribute's axes, the others keep scale 1), and
 * for tf_crop_and_resize the roi input (starts then ends, same axes) into roi_start/end. */
static bool infer_resize(Ctx *c) {
    ResizeAttr *a = &c->n->a.resize;
    Tensor *x;
    if (!need(c, 0, &x))
        return false;
    int r = x->rank, si = c->g->opset <= 10 ? 1 : 2, zi = c->g->opset <= 10 ? -1 : 3, nv;
    int64_t axes[QCC_MAX_RANK], shape[QCC_MAX_RANK], v[QCC_MAX_RANK];
    int na = a->naxes > 0 ? a->naxes : r;
    bool seen[QCC_MAX_RANK] = {false};
    for (int i = 0; i < na; i++) {
        axes[i] = a->naxes > 0 ? a->axes[i] : i;
        if (!norm_axis(c, &axes[i], r, "axis"))
            return false;
        if (seen[axes[i]])
            return fail(c, "axis %lld repeated", (long long)axes[i]);
        seen[axes[i]] = true;
    }
    for (int i = 0; i < r; i++) {
        shape[i] = x->shape[i];
        a->scales[i] = 1.0f;
        a->roi_start[i] = 0.0f;
        a->roi_end[i] = 1.0f;
    }
    if (zi >= 0 && present(c, zi)) {
        if (!const_ints(c, zi, "sizes", v, QCC_MAX_RANK, &nv))
            return false;
        if (nv != na)
            return fail(c, "%d sizes for %d axes of input '%s' %s", nv, na, x->name, TSHP(x));
        for (int i = 0; i < na; i++) {
            int64_t d = axes[i];
            if (v[i] < 0 || v[i] >= MAX_DIM)
                return fail(c, "invalid sizes %s", shp(na, v));
            shape[d] = v[i];
            a->scales[d] = x->shape[d] ? (float)v[i] / (float)x->shape[d] : 1.0f;
        }
    } else {
        float f[QCC_MAX_RANK];
        if (!present(c, si))
            return fail(c, "needs scales or sizes");
        if (!const_floats(c, si, "scales", f, QCC_MAX_RANK, &nv))
            return false;
        if (nv != na)
            return fail(c, "%d scales for %d axes of input '%s' %s", nv, na, x->name,
                        TSHP(x));
        for (int i = 0; i < na; i++) {
            int64_t d = axes[i];
            /* float product truncated, as ONNX Runtime sizes its output (the spec's floor) */
            float o = floorf((float)x->shape[d] * f[i]);
            if (!(f[i] > 0.0f) || !(o < (float)MAX_DIM))
                return fail(c, "invalid scale %g on axis %lld", (double)f[i], (long long)d);
            a->scales[d] = f[i];
            shape[d] = (int64_t)o;
        }
    }
    if (a->coord == CT_TF_CROP_AND_RESIZE && c->g->opset >= 11 && present(c, 1)) {
        float roi[2 * QCC_MAX_RANK];
        if (!const_floats(c, 1, "roi", roi, 2 * QCC_MAX_RANK, &nv))
            return false;
        if (nv != 2 * na)
            return fail(c, "roi has %d values for %d axes", nv, na);
        for (int i = 0; i < na; i++) {
            a->roi_start[axes[i]] = roi[i];
            a->roi_end[axes[i]] = roi[na + i];
        }
    }
    return set_out(c, 0, x->dtype, r, shape);
}

/* Slice: starts/ends/axes/steps (constant inputs 1..4 from opset 10, attributes before)
 * become a.slice.start[] and step[] for every axis, so codegen and folding only walk
 * start + i*step. ONNX rules: an index below zero counts from the end (so INT64_MIN/MAX
 * "to the end" markers work); with step > 0 start and end clamp to [0, dim], with step < 0
 * start clamps to [0, dim-1] and end to [-1, dim-1]; the extent is
 * max(0, ceil((end - start) / step)). Steps beyond the dim are clamped to MAX_DIM (same
 * single element taken) so that no product here or in generated code can overflow. */
static bool slice_params(Ctx *c, int rank, int64_t *starts, int64_t *ends, int64_t *axes,
                         int64_t *steps, int *count) {
    SliceAttr *a = &c->n->a.slice;
    int ns, ne, na, nst;
    if (a->have_attrs) {
        ns = ne = na = a->nattr;
        memcpy(starts, a->attr_starts, sizeof a->attr_starts);
        memcpy(ends, a->attr_ends, sizeof a->attr_ends);
        memcpy(axes, a->attr_axes, sizeof a->attr_axes);
    } else {
        if (!const_ints(c, 1, "starts", starts, QCC_MAX_RANK, &ns) ||
            !const_ints(c, 2, "ends", ends, QCC_MAX_RANK, &ne))
            return false;
        na = ns;
        for (int i = 0; i < ns; i++)
            axes[i] = i;
        if (present(c, 3) && !const_ints(c, 3, "axes", axes, QCC_MAX_RANK, &na))
            return false;
    }
    nst = ns;
    for (int i = 0; i < ns; i++)
        steps[i] = 1;
    if (!a->have_attrs && present(c, 4) && !const_ints(c, 4, "steps", steps, QCC_MAX_RANK, &nst))
        return false;
    if (ne != ns || na != ns || nst != ns)
        return fail(c, "starts, ends, axes and steps differ in length (%d, %d, %d, %d)", ns, ne,
                    na, nst);
    if (ns > rank)
        return fail(c, "%d axes sliced but input has rank %d", ns, rank);
    bool seen[QCC_MAX_RANK] = {false};
    for (int i = 0; i < ns; i++) {
        if (!norm_axis(c, &axes[i], rank, "axis"))
            return false;
        if (seen[axes[i]])
            return fail(c, "axis %lld repeated", (long long)axes[i]);
        seen[axes[i]] = true;
        if (steps[i] == 0)
            return fail(c, "step on axis %lld is 0", (long long)axes[i]);
    }
    *count = ns;
    return true;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static bool infer_slice(Ctx *c) {
    SliceAttr *a = &c->n->a.slice;
    Tensor *x;
    if (!need(c, 0, &x))
        return false;
    int r = x->rank, ns = 0;
    if (r < 1)
        return fail(c, "cannot slice a scalar '%s'", x->name);
    int64_t starts[QCC_MAX_RANK], ends[QCC_MAX_RANK], axes[QCC_MAX_RANK], steps[QCC_MAX_RANK];
    if (!slice_params(c, r, starts, ends, axes, steps, &ns))
        return false;
    int64_t shape[QCC_MAX_RANK];
    for (int d = 0; d < r; d++) {
        a->start[d] = 0;
        a->step[d] = 1;
        shape[d] = x->shape[d];
    }
    for (int i = 0; i < ns; i++) {
        int d = (int)axes[i];
        int64_t dim = x->shape[d], step = clamp64(steps[i], -MAX_DIM, MAX_DIM);
        /* dim < 2^31, so v + dim cannot overflow for any negative int64 v */
        int64_t s = starts[i] < 0 ? starts[i] + dim : starts[i];
        int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
        int64_t len;
        if (step > 0) {
            s = clamp64(s, 0, dim);
            e = clamp64(e, 0, dim);
            len = e > s ? (e - s - 1) / step + 1 : 0;
        } else {
            s = clamp64(s, 0, dim - 1);
            e = clamp64(e, -1, dim - 1);
            len = dim > 0 && s > e ? (s - e - 1) / -step + 1 : 0;
        }
        a->start[d] = len > 0 ? s : 0;
        a->step[d] = step;
        shape[d] = len;
    }
    return set_out(c, 0, x->dtype, r, shape);
}

static bool infer_clip(Ctx *c) {
    ActAttr *a = &c->n->a.act;
    Tensor *x;
    if (!need(c, 0, &x))
        return false;
    if (c->g->opset >= 11) {    /* bounds are optional constant inputs; absent = unbounded */
        float v[1];
        int nv;
        a->lo = -FLT_MAX;
        a->hi = FLT_MAX;
        if (input(c, 1) && !const_floats(c, 1, "min", v, 1, &nv))
            return false;
        if (input(c, 1) && nv == 1)
            a->lo = v[0];
        if (input(c, 2) && !const_floats(c, 2, "max", v, 1, &nv))
            return false;
        if (input(c, 2) && nv == 1)
            a->hi = v[0];
    }
    return copy_out(c, 0, x->dtype, x);
}

static bool infer_gather(Ctx *c) {
    Tensor *x, *idx;
    if (!need(c, 0, &x) || !need(c, 1, &idx))
        return false;
    int64_t *axis = &c->n->a.axis.axis;
    if (x->rank < 1)
        return fail(c, "cannot gather from a scalar");
    if (!norm_axis(c, axis, x->rank, "axis"))
        return false;
    if (idx->dtype != DT_INT64 && idx->dtype != DT_INT32 && idx->dtype != DT_UNDEF)
        return fail(c, "indices '%s' must be int32 or int64", idx->name);
    if (tensor_is_const(idx)) {
        int64_t dim = x->shape[*axis];
        for (int64_t i = 0; i < tensor_numel(idx); i++) {
            int64_t v = tensor_get_i(idx, i);
            if (v < -dim || v >= dim)
                return fail(c, "index %lld out of range for dim %lld", (long long)v,
                            (long long)dim);
        }
    }
    int rank = x->rank - 1 + idx->rank;
    if (rank > QCC_MAX_RANK)
        return fail(c, "output rank %d exceeds %d", rank, QCC_MAX_RANK);
    int64_t shape[QCC_MAX_RANK];
    int k = 0;
    for (int i = 0; i < *axis; i++)
        shape[k++] = x->shape[i];
    for (int i = 0; i < idx->rank; i++)
        shape[k++] = idx->shape[i];
    for (int i = (int)*axis + 1; i < x->rank; i++)
        shape[k++] = x->shape[i];
    return set_out(c, 0, x->dtype, rank, shape);
}

static bool infer_constant_of_shape(Ctx *c) {
    int64_t shape[QCC_MAX_RANK];
    int nv;
    if (!const_ints(c, 0, "shape", shape, QCC_MAX_RANK, &nv))
        return false;
    Tensor *v = input(c, 1);
    if (v && tensor_numel(v) != 1)
        return fail(c, "value '%s' %s must have one element", v->name, TSHP(v));
    DType dt = v ? v->dtype : c->n->a.cast.to != DT_UNDEF ? c->n->a.cast.to : DT_FLOAT;
    return set_out(c, 0, dt, nv, shape);
}

static bool infer_quantize(Ctx *c, DType dt) {
    AxisAttr *a = &c->n->a.axis;
    Tensor *x, *s;
    if (!need(c, 0, &x) || !need(c, 1, &s))
        return false;
    Tensor *zp = input(c, 2);
    if ((dt != DT_FLOAT || c->n->op == OP_QUANTIZE) && dt != DT_UINT8 && dt != DT_INT8 && dt != DT_UINT16 && dt != DT_INT16 &&
        dt != DT_INT32)
        return fail(c, "zero point '%s' has unsupported type %s", zp ? zp->name : "?",
                    dtype_name(dt));
    /* [] and [1] both mean per tensor; a lone zero point serves every scale */
    if (zp && tensor_numel(zp) != tensor_numel(s) && tensor_numel(zp) != 1)
        return fail(c, "scale '%s' %s and zero point '%s' %s differ", s->name, TSHP(s),
                    zp->name, TSHP(zp));
    bool per_axis = tensor_numel(s) != 1 || a->block_size != 0;
    if (per_axis && x->rank == 0)
        return fail(c, "per-axis scale '%s' %s on a scalar", s->name, TSHP(s));
    if (per_axis && !norm_axis(c, &a->axis, x->rank, "axis"))
        return false;
    if (!per_axis && a->axis >= -x->rank && a->axis < 0)
        a->axis += x->rank;     /* ignored for per-tensor scales, but keep it tidy */
    if (per_axis && a->block_size == 0 && (s->rank != 1 || s->shape[0] != x->shape[a->axis]))
        return fail(c, "scale '%s' %s does not match axis %lld of '%s' %s", s->name, TSHP(s),
                    (long long)a->axis, x->name, TSHP(x));
    /* blocked (opset 21): x's shape except ceil(dim / block_size) entries along axis */
    for (int k = 0; a->block_size > 0 && k < x->rank; k++) {
        int64_t want = k == a->axis ? (x->shape[k] + a->block_size - 1) / a->block_size
                                    : x->shape[k];
        if (s->rank != x->rank || s->shape[k] != want)
            return fail(c, "blocked scale '%s' %s does not match '%s' %s with block_size "
                        "%lld along axis %lld", s->name, TSHP(s), x->name, TSHP(x),
                        (long long)a->block_size, (long long)a->axis);
    }
    if (a->block_size > 0 && zp && tensor_numel(zp) != 1 &&
        (zp->rank != s->rank || memcmp(zp->shape, s->shape, (size_t)s->rank * sizeof(int64_t))))
        return fail(c, "zero point '%s' %s must have the scale's shape %s", zp->name, TSHP(zp),
                    TSHP(s));
    return copy_out(c, 0, dt, x);
}

/* ------------------------------------------------------------------ dispatch */

bool infer_shapes_node(Graph *g, int node, Diag *d) {
    Ctx cx = {g, &g->nodes[node], d}, *c = &cx;
    Node *n = c->n;
    for (int k = 0; k < n->nin; k++) {
        Tensor *t = input(c, k);
        if (t && !t->shape_known)
            return fail(c, "input '%s' has no known shape (graph inputs need static shapes)",
                        t->name);
    }
    Tensor *x = input(c, 0);
    DType xt = x ? x->dtype : DT_UNDEF;
    switch (n->op) {
    case OP_CONSTANT:
        if (n->nout < 1 || n->out[0] < 0 || !tensor_is_const(&g->tensors[n->out[0]]))
            return fail(c, "Constant without a value");
        return true;
    case OP_IDENTITY: case OP_RELU: case OP_LEAKY_RELU: case OP_SIGMOID: case OP_HARD_SIGMOID:
    case OP_HARD_SWISH: case OP_TANH: case OP_ROUND: case OP_LUT:
        return need(c, 0, &x) && copy_out(c, 0, xt, x);
    case OP_CAST:
        if (dtype_size(n->a.cast.to) == 0)
            return fail(c, "unsupported target type %d", (int)n->a.cast.to);
        return need(c, 0, &x) && copy_out(c, 0, n->a.cast.to, x);
    case OP_SHAPE: {
        if (!need(c, 0, &x))
            return false;
        int64_t r = x->rank;
        return set_out(c, 0, DT_INT64, 1, &r);
    }
    case OP_GATHER: return infer_gather(c);
    case OP_CONSTANT_OF_SHAPE: return infer_constant_of_shape(c);
    case OP_CONV: case OP_CONV_TRANSPOSE: return infer_window(c, 0, 1, 2, xt);
    case OP_QLINEAR_CONV: return infer_window(c, 0, 3, 8, dtype_of(c, 7, xt));
    case OP_CONV_INTEGER: return infer_window(c, 0, 1, -1, DT_INT32);
    case OP_MAX_POOL: case OP_AVG_POOL: return infer_window(c, 0, -1, -1, xt);
    case OP_QLINEAR_AVG_POOL: return infer_window(c, 0, -1, -1, dtype_of(c, 4, xt));
    case OP_GEMM: return infer_gemm(c, 0, 1, 2, xt);
    case OP_QGEMM:
        return infer_gemm(c, 0, 3, 6, input(c, 7) ? dtype_of(c, 8, xt) : DT_FLOAT);
    case OP_MATMUL: return infer_matmul(c, 0, 1, xt);
    case OP_QLINEAR_MATMUL: return infer_matmul(c, 0, 3, dtype_of(c, 7, xt));
    case OP_MATMUL_INTEGER: return infer_matmul(c, 0, 1, DT_INT32);
    case OP_BATCHNORM: return infer_batchnorm(c);
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MAX: case OP_MIN: {
        int ins[QCC_MAX_IO];
        for (int k = 0; k < n->nin; k++)
            ins[k] = k;
        if (n->nin < 1 || (n->nin < 2 && n->op != OP_MAX && n->op != OP_MIN))
            return fail(c, "needs two inputs");
        return infer_eltwise(c, ins, n->nin, DT_UNDEF);
    }
    case OP_QLINEAR_ADD: case OP_QLINEAR_MUL: {
        static const int ins[2] = {0, 3};
        return infer_eltwise(c, ins, 2, dtype_of(c, 7, xt));
    }
    case OP_CLIP: return infer_clip(c);
    case OP_QLINEAR_SIGMOID: case OP_QLINEAR_LEAKY_RELU:
        return need(c, 0, &x) && copy_out(c, 0, dtype_of(c, 4, xt), x);
    case OP_SOFTMAX: case OP_QLINEAR_SOFTMAX:
        if (!need(c, 0, &x) || (x->rank > 0 && !norm_axis(c, &n->a.axis.axis, x->rank, "axis")))
            return false;
        return copy_out(c, 0, n->op == OP_SOFTMAX ? xt : dtype_of(c, 4, xt), x);
    case OP_GLOBAL_AVG_POOL: case OP_GLOBAL_MAX_POOL: return infer_global_pool(c, xt);
    case OP_QLINEAR_GAP: return infer_global_pool(c, dtype_of(c, 4, xt));
    case OP_REDUCE_MAX: case OP_REDUCE_MIN: return infer_reduce(c);
    case OP_CONCAT: return infer_concat(c, 0, 1, DT_UNDEF);
    case OP_QLINEAR_CONCAT: {
        Tensor *yz;
        if (!need(c, 1, &yz))
            return false;
        if (n->nin < 5 || (n->nin - 2) % 3 != 0)
            return fail(c, "expects ys, yz and (x, xs, xz) triples; got %d inputs", n->nin);
        return infer_concat(c, 2, 3, yz->dtype);
    }
    case OP_RESHAPE: return infer_reshape(c);
    case OP_FLATTEN: return infer_flatten(c);
    case OP_SQUEEZE: return infer_squeeze(c);
    case OP_UNSQUEEZE: return infer_unsqueeze(c);
    case OP_TRANSPOSE: return infer_transpose(c);
    case OP_PAD: return infer_pad(c);
    case OP_RESIZE: return infer_resize(c);
    case OP_SLICE: return infer_slice(c);
    case OP_QUANTIZE: return infer_quantize(c, dtype_of(c, 2, DT_UINT8));
    case OP_DEQUANTIZE: return infer_quantize(c, DT_FLOAT);
    case OP_DYNAMIC_QUANTIZE: {
        if (!need(c, 0, &x))
            return false;
        return copy_out(c, 0, DT_UINT8, x) && set_out(c, 1, DT_FLOAT, 0, NULL) &&
               set_out(c, 2, DT_UINT8, 0, NULL);
    }
    case OP_COUNT: break;
    }
    return fail(c, "no shape inference for this op");
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
