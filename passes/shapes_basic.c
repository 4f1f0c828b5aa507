/* shapes_basic.c: shape inference for the ops whose output shape follows from the inputs
 * without windows: element-wise with numpy broadcasting, MatMul/Gemm, BatchNorm, reductions,
 * data movement (Concat, Reshape 0/-1, Flatten, Squeeze/Unsqueeze, Transpose), Clip, Gather,
 * ConstantOfShape and Quantize/DequantizeLinear (per tensor, per axis, blocked). Axes are made
 * non-negative and sorted in n->a. Called from infer_shapes.c's dispatch. */
#include "shapes_internal.h"

#include <float.h>
#include <string.h>

/* ------------------------------------------------------------------ element-wise */

/* Numpy broadcasting of (rank, shape) with t, in place. */
static bool bcast(ShapeCtx *c, int *rank, int64_t *shape, const Tensor *t) {
    int r = *rank > t->rank ? *rank : t->rank;
    int64_t out[QCC_MAX_RANK];
    for (int i = 0; i < r; i++) {
        int ia = i - (r - *rank), ib = i - (r - t->rank);
        int64_t da = ia >= 0 ? shape[ia] : 1, db = ib >= 0 ? t->shape[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return sh_fail(c, "shapes %s and %s of '%s' do not broadcast", shp(*rank, shape),
                           TSHP(t), t->name);
        out[i] = da == 1 ? db : da;
    }
    memcpy(shape, out, sizeof out);
    *rank = r;
    return true;
}

/* Element-wise: every listed input broadcast together; dtype of the first. */
bool sh_infer_eltwise(ShapeCtx *c, const int *ins, int nins, DType dt) {
    Tensor *first;
    if (!sh_need(c, ins[0], &first))
        return false;
    int rank = first->rank;
    int64_t shape[QCC_MAX_RANK];
    memcpy(shape, first->shape, sizeof shape);
    for (int k = 1; k < nins; k++) {
        Tensor *t;
        if (!sh_need(c, ins[k], &t) || !bcast(c, &rank, shape, t))
            return false;
        if (dt == DT_UNDEF && t->dtype != first->dtype && t->dtype != DT_UNDEF &&
            first->dtype != DT_UNDEF)
            return sh_fail(c, "input types differ: %s and %s", dtype_name(first->dtype),
                           dtype_name(t->dtype));
    }
    return sh_set_out(c, 0, dt != DT_UNDEF ? dt : first->dtype, rank, shape);
}

/* ------------------------------------------------------------------ linear algebra */

/* numpy matmul: 1-d operands get a dim prepended/appended then removed, batch dims
 * broadcast. a at ai, b at bi. */
bool sh_infer_matmul(ShapeCtx *c, int ai, int bi, DType dt) {
    Tensor *a, *b;
    if (!sh_need(c, ai, &a) || !sh_need(c, bi, &b))
        return false;
    if (a->rank < 1 || b->rank < 1)
        return sh_fail(c, "matmul operands must have rank >= 1: %s, %s", TSHP(a), TSHP(b));
    int64_t ka = a->shape[a->rank - 1], kb = b->rank == 1 ? b->shape[0] : b->shape[b->rank - 2];
    if (ka != kb)
        return sh_fail(c, "inner dims differ: '%s' %s times '%s' %s", a->name, TSHP(a), b->name,
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
    return sh_set_out(c, 0, dt, rank, shape);
}

bool sh_infer_gemm(ShapeCtx *c, int ai, int bi, int ci, DType dt) {
    GemmAttr *ga = &c->n->a.gemm;
    Tensor *a, *b;
    if (!sh_need(c, ai, &a) || !sh_need(c, bi, &b))
        return false;
    if (a->rank != 2 || b->rank != 2)
        return sh_fail(c, "Gemm operands must be 2-d: '%s' %s, '%s' %s", a->name, TSHP(a),
                       b->name, TSHP(b));
    int64_t m = a->shape[ga->trans_a ? 1 : 0], k = a->shape[ga->trans_a ? 0 : 1];
    int64_t kb = b->shape[ga->trans_b ? 1 : 0], nn = b->shape[ga->trans_b ? 0 : 1];
    if (k != kb)
        return sh_fail(c, "inner dims differ: '%s' %s and '%s' %s (transA=%d transB=%d)", a->name,
                       TSHP(a), b->name, TSHP(b), ga->trans_a, ga->trans_b);
    int64_t shape[QCC_MAX_RANK] = {m, nn};
    int rank = 2;
    Tensor *ct = sh_input(c, ci);
    if (ct && (!bcast(c, &rank, shape, ct) || rank != 2 || shape[0] != m || shape[1] != nn))
        return sh_fail(c, "C '%s' %s does not broadcast to [%lld,%lld]", ct->name, TSHP(ct),
                       (long long)m, (long long)nn);
    return sh_set_out(c, 0, dt, rank, shape);
}

bool sh_infer_batchnorm(ShapeCtx *c) {
    Tensor *x;
    if (!sh_need(c, 0, &x))
        return false;
    if (x->rank < 2)
        return sh_fail(c, "input '%s' %s must have rank >= 2", x->name, TSHP(x));
    for (int k = 1; k < 5; k++) {
        Tensor *p;
        if (!sh_need(c, k, &p))
            return false;
        if (p->rank != 1 || p->shape[0] != x->shape[1])
            return sh_fail(c, "parameter '%s' %s must be [%lld]", p->name, TSHP(p),
                           (long long)x->shape[1]);
    }
    for (int k = 1; k < c->n->nout; k++)    /* training-mode outputs: running stats */
        if (!sh_copy_out(c, k, x->dtype, sh_input(c, 1)))
            return false;
    return sh_copy_out(c, 0, x->dtype, x);
}

/* ------------------------------------------------------------------ reductions */

bool sh_infer_reduce(ShapeCtx *c) {
    AxesAttr *a = &c->n->a.axes;
    Tensor *x;
    if (!sh_need(c, 0, &x))
        return false;
    if (sh_input(c, 1)) {  /* opset 18: axes as an input; empty means all */
        if (!sh_const_ints(c, 1, "axes", a->axes, QCC_MAX_RANK, &a->naxes))
            return false;
    }
    if (a->naxes <= 0) {
        a->naxes = x->rank;
        for (int i = 0; i < x->rank; i++)
            a->axes[i] = i;
    }
    if (a->naxes > x->rank)
        return sh_fail(c, "%d axes for input of rank %d", a->naxes, x->rank);
    if (!sh_norm_axes(c, a->axes, a->naxes, x->rank))
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
    return sh_set_out(c, 0, x->dtype, rank, shape);
}

/* ------------------------------------------------------------------ data movement */

bool sh_infer_concat(ShapeCtx *c, int first, int step, DType dt) {
    AxisAttr *a = &c->n->a.axis;
    Tensor *t0;
    if (!sh_need(c, first, &t0))
        return false;
    if (t0->rank < 1)
        return sh_fail(c, "cannot concatenate scalars");
    if (!sh_norm_axis(c, &a->axis, t0->rank, "axis"))
        return false;
    int64_t shape[QCC_MAX_RANK];
    memcpy(shape, t0->shape, sizeof shape);
    shape[a->axis] = 0;
    for (int k = first; k < c->n->nin; k += step) {
        Tensor *t;
        if (!sh_need(c, k, &t))
            return false;
        bool ok = t->rank == t0->rank;
        for (int i = 0; ok && i < t->rank; i++)
            ok = i == a->axis || t->shape[i] == t0->shape[i];
        if (!ok)
            return sh_fail(c, "inputs '%s' %s and '%s' %s differ outside axis %lld", t0->name,
                           TSHP(t0), t->name, TSHP(t), (long long)a->axis);
        if (step == 1 && t->dtype != t0->dtype)
            return sh_fail(c, "input types differ: %s and %s", dtype_name(t0->dtype),
                           dtype_name(t->dtype));
        shape[a->axis] += t->shape[a->axis];
    }
    return sh_set_out(c, 0, dt != DT_UNDEF ? dt : t0->dtype, t0->rank, shape);
}

bool sh_infer_reshape(ShapeCtx *c) {
    Tensor *x;
    int64_t v[QCC_MAX_RANK];
    int nv;
    if (!sh_need(c, 0, &x) || !sh_const_ints(c, 1, "shape", v, QCC_MAX_RANK, &nv))
        return false;
    int infer_at = -1;
    int64_t known = 1;
    for (int i = 0; i < nv; i++) {
        if (v[i] == 0 && !c->n->a.axes.allowzero) {
            if (i >= x->rank)
                return sh_fail(c, "shape entry %d is 0 but input '%s' %s has no such dim", i,
                               x->name, TSHP(x));
            v[i] = x->shape[i];
        }
        if (v[i] == -1) {
            if (infer_at >= 0)
                return sh_fail(c, "shape %s has more than one -1", shp(nv, v));
            infer_at = i;
            continue;
        }
        if (v[i] < 0 || v[i] >= MAX_DIM)
            return sh_fail(c, "invalid shape %s", shp(nv, v));
        if (v[i] != 0 && known > MAX_NUMEL / v[i])
            return sh_fail(c, "shape %s too large", shp(nv, v));
        known *= v[i];
    }
    int64_t numel = tensor_numel(x);
    if (infer_at >= 0) {
        if (known == 0 || numel % known != 0)
            return sh_fail(c, "cannot reshape '%s' %s to %s", x->name, TSHP(x), shp(nv, v));
        v[infer_at] = numel / known;
    } else if (known != numel) {
        return sh_fail(c, "cannot reshape '%s' %s to %s", x->name, TSHP(x), shp(nv, v));
    }
    return sh_set_out(c, 0, x->dtype, nv, v);
}

bool sh_infer_flatten(ShapeCtx *c) {
    Tensor *x;
    if (!sh_need(c, 0, &x))
        return false;
    int64_t *axis = &c->n->a.axis.axis;
    if (*axis < -x->rank || *axis > x->rank)
        return sh_fail(c, "axis %lld out of range for rank %d", (long long)*axis, x->rank);
    if (*axis < 0)
        *axis += x->rank;
    int64_t shape[2] = {1, 1};
    for (int i = 0; i < x->rank; i++)
        shape[i >= *axis] *= x->shape[i];
    return sh_set_out(c, 0, x->dtype, 2, shape);
}

/* Squeeze/Unsqueeze axes: the attribute, or constant input 1 (opset 13). */
static bool axes_from_input(ShapeCtx *c) {
    AxesAttr *a = &c->n->a.axes;
    if (sh_input(c, 1))
        return sh_const_ints(c, 1, "axes", a->axes, QCC_MAX_RANK, &a->naxes);
    return true;
}

bool sh_infer_squeeze(ShapeCtx *c) {
    AxesAttr *a = &c->n->a.axes;
    Tensor *x;
    if (!sh_need(c, 0, &x) || !axes_from_input(c))
        return false;
    if (a->naxes <= 0) {    /* no axes: every size-1 dim */
        a->naxes = 0;
        for (int i = 0; i < x->rank; i++)
            if (x->shape[i] == 1)
                a->axes[a->naxes++] = i;
    }
    if (a->naxes > x->rank || !sh_norm_axes(c, a->axes, a->naxes, x->rank))
        return a->naxes > x->rank ? sh_fail(c, "%d axes for rank %d", a->naxes, x->rank) : false;
    int64_t shape[QCC_MAX_RANK];
    int rank = 0;
    for (int i = 0, j = 0; i < x->rank; i++) {
        if (j < a->naxes && a->axes[j] == i) {
            if (x->shape[i] != 1)
                return sh_fail(c, "cannot squeeze axis %d of '%s' %s: not 1", i, x->name, TSHP(x));
            j++;
            continue;
        }
        shape[rank++] = x->shape[i];
    }
    return sh_set_out(c, 0, x->dtype, rank, shape);
}

bool sh_infer_unsqueeze(ShapeCtx *c) {
    AxesAttr *a = &c->n->a.axes;
    Tensor *x;
    if (!sh_need(c, 0, &x) || !axes_from_input(c))
        return false;
    if (a->naxes <= 0)
        return sh_fail(c, "axes are required");
    int rank = x->rank + a->naxes;
    if (rank > QCC_MAX_RANK)
        return sh_fail(c, "output rank %d exceeds %d", rank, QCC_MAX_RANK);
    if (!sh_norm_axes(c, a->axes, a->naxes, rank))
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
    return sh_set_out(c, 0, x->dtype, rank, shape);
}

bool sh_infer_transpose(ShapeCtx *c) {
    AxesAttr *a = &c->n->a.axes;
    Tensor *x;
    if (!sh_need(c, 0, &x))
        return false;
    if (a->naxes <= 0 && x->rank > 0) {
        a->naxes = x->rank;
        for (int i = 0; i < x->rank; i++)
            a->axes[i] = x->rank - 1 - i;
    }
    if (a->naxes < 0)
        a->naxes = 0;
    if (a->naxes != x->rank)
        return sh_fail(c, "perm has %d entries for input '%s' %s", a->naxes, x->name, TSHP(x));
    bool seen[QCC_MAX_RANK] = {false};
    int64_t shape[QCC_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        int64_t p = a->axes[i];
        if (p < 0 || p >= x->rank || seen[p])
            return sh_fail(c, "perm %s is not a permutation of rank %d", shp(a->naxes, a->axes),
                           x->rank);
        seen[p] = true;
        shape[i] = x->shape[p];
    }
    return sh_set_out(c, 0, x->dtype, x->rank, shape);
}

/* ------------------------------------------------------------------ clip, gather, quantization */

bool sh_infer_clip(ShapeCtx *c) {
    ActAttr *a = &c->n->a.act;
    Tensor *x;
    if (!sh_need(c, 0, &x))
        return false;
    if (c->g->opset >= 11) {    /* bounds are optional constant inputs; absent = unbounded */
        float v[1];
        int nv;
        a->lo = -FLT_MAX;
        a->hi = FLT_MAX;
        if (sh_input(c, 1) && !sh_const_floats(c, 1, "min", v, 1, &nv))
            return false;
        if (sh_input(c, 1) && nv == 1)
            a->lo = v[0];
        if (sh_input(c, 2) && !sh_const_floats(c, 2, "max", v, 1, &nv))
            return false;
        if (sh_input(c, 2) && nv == 1)
            a->hi = v[0];
    }
    return sh_copy_out(c, 0, x->dtype, x);
}

bool sh_infer_gather(ShapeCtx *c) {
    Tensor *x, *idx;
    if (!sh_need(c, 0, &x) || !sh_need(c, 1, &idx))
        return false;
    int64_t *axis = &c->n->a.axis.axis;
    if (x->rank < 1)
        return sh_fail(c, "cannot gather from a scalar");
    if (!sh_norm_axis(c, axis, x->rank, "axis"))
        return false;
    if (idx->dtype != DT_INT64 && idx->dtype != DT_INT32 && idx->dtype != DT_UNDEF)
        return sh_fail(c, "indices '%s' must be int32 or int64", idx->name);
    if (tensor_is_const(idx)) {
        int64_t dim = x->shape[*axis];
        for (int64_t i = 0; i < tensor_numel(idx); i++) {
            int64_t v = tensor_get_i(idx, i);
            if (v < -dim || v >= dim)
                return sh_fail(c, "index %lld out of range for dim %lld", (long long)v,
                               (long long)dim);
        }
    }
    int rank = x->rank - 1 + idx->rank;
    if (rank > QCC_MAX_RANK)
        return sh_fail(c, "output rank %d exceeds %d", rank, QCC_MAX_RANK);
    int64_t shape[QCC_MAX_RANK];
    int k = 0;
    for (int i = 0; i < *axis; i++)
        shape[k++] = x->shape[i];
    for (int i = 0; i < idx->rank; i++)
        shape[k++] = idx->shape[i];
    for (int i = (int)*axis + 1; i < x->rank; i++)
        shape[k++] = x->shape[i];
    return sh_set_out(c, 0, x->dtype, rank, shape);
}

bool sh_infer_constant_of_shape(ShapeCtx *c) {
    int64_t shape[QCC_MAX_RANK];
    int nv;
    if (!sh_const_ints(c, 0, "shape", shape, QCC_MAX_RANK, &nv))
        return false;
    Tensor *v = sh_input(c, 1);
    if (v && tensor_numel(v) != 1)
        return sh_fail(c, "value '%s' %s must have one element", v->name, TSHP(v));
    DType dt = v ? v->dtype : c->n->a.cast.to != DT_UNDEF ? c->n->a.cast.to : DT_FLOAT;
    return sh_set_out(c, 0, dt, nv, shape);
}

bool sh_infer_quantize(ShapeCtx *c, DType dt) {
    AxisAttr *a = &c->n->a.axis;
    Tensor *x, *s;
    if (!sh_need(c, 0, &x) || !sh_need(c, 1, &s))
        return false;
    Tensor *zp = sh_input(c, 2);
    if ((dt != DT_FLOAT || c->n->op == OP_QUANTIZE) && dt != DT_UINT8 && dt != DT_INT8 &&
        dt != DT_UINT16 && dt != DT_INT16 && dt != DT_INT32)
        return sh_fail(c, "zero point '%s' has unsupported type %s", zp ? zp->name : "?",
                       dtype_name(dt));
    /* [] and [1] both mean per tensor; a lone zero point serves every scale */
    if (zp && tensor_numel(zp) != tensor_numel(s) && tensor_numel(zp) != 1)
        return sh_fail(c, "scale '%s' %s and zero point '%s' %s differ", s->name, TSHP(s),
                       zp->name, TSHP(zp));
    bool per_axis = tensor_numel(s) != 1 || a->block_size != 0;
    if (per_axis && x->rank == 0)
        return sh_fail(c, "per-axis scale '%s' %s on a scalar", s->name, TSHP(s));
    if (per_axis && !sh_norm_axis(c, &a->axis, x->rank, "axis"))
        return false;
    if (!per_axis && a->axis >= -x->rank && a->axis < 0)
        a->axis += x->rank;     /* ignored for per-tensor scales, but keep it tidy */
    if (per_axis && a->block_size == 0 && (s->rank != 1 || s->shape[0] != x->shape[a->axis]))
        return sh_fail(c, "scale '%s' %s does not match axis %lld of '%s' %s", s->name, TSHP(s),
                       (long long)a->axis, x->name, TSHP(x));
    /* blocked (opset 21): x's shape except ceil(dim / block_size) entries along axis */
    for (int k = 0; a->block_size > 0 && k < x->rank; k++) {
        int64_t want = k == a->axis ? (x->shape[k] + a->block_size - 1) / a->block_size
                                    : x->shape[k];
        if (s->rank != x->rank || s->shape[k] != want)
            return sh_fail(c, "blocked scale '%s' %s does not match '%s' %s with block_size "
                           "%lld along axis %lld", s->name, TSHP(s), x->name, TSHP(x),
                           (long long)a->block_size, (long long)a->axis);
    }
    if (a->block_size > 0 && zp && tensor_numel(zp) != 1 &&
        (zp->rank != s->rank || memcmp(zp->shape, s->shape, (size_t)s->rank * sizeof(int64_t))))
        return sh_fail(c, "zero point '%s' %s must have the scale's shape %s", zp->name, TSHP(zp),
                       TSHP(s));
    return sh_copy_out(c, 0, dt, x);
}
