/* shapes_window.c: shape inference for ops that slide or cut a window over the spatial/indexed
 * dims: Conv, ConvTranspose, pools (auto_pad resolved into explicit pads, ceil_mode, output_shape
 * split into pads), Pad, Resize and Slice (constant inputs copied into n->a, indices clamped as
 * ONNX says). Called from infer_shapes.c's dispatch; errors go through sh_fail (node named). */
#include "shapes_internal.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ convolution family */

/* Output extent of one spatial dim of a convolution or pooling window, resolving auto_pad
 * into explicit pads (ONNX: SAME_* gives ceil(in/stride); the odd pad goes at the end for
 * SAME_UPPER, at the beginning for SAME_LOWER). Negative SAME pads (stride > kernel) are
 * clamped to 0: the dropped tail is never read by any window. */
static bool window_dim(ShapeCtx *c, int i, int64_t in, bool pool, int64_t *out) {
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
        return sh_fail(c, "window of %lld along spatial dim %d exceeds the padded input (%lld)",
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
static void transposed_dim(ShapeCtx *c, int i, int64_t in, int64_t *out) {
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

static bool check_attr(ShapeCtx *c, const char *what, int64_t v, int64_t lo) {
    if (v < lo || v >= MAX_DIM)
        return sh_fail(c, "%s %lld out of range", what, (long long)v);
    return true;
}

/* x at xi, weight at wi (-1 for pools), bias at bi (-1 if none). */
bool sh_infer_window(ShapeCtx *c, int xi, int wi, int bi, DType dt) {
    ConvAttr *a = &c->n->a.conv;
    Op op = c->n->op;
    bool pool = wi < 0, transposed = op == OP_CONV_TRANSPOSE;
    Tensor *x, *w = NULL;
    if (!sh_need(c, xi, &x) || (!pool && !sh_need(c, wi, &w)))
        return false;
    if (x->rank < 3 || x->rank > 2 + QCC_MAX_SPATIAL)
        return sh_fail(c, "input '%s' %s must have rank 3 to %d (N, C, spatial...)", x->name,
                       TSHP(x), 2 + QCC_MAX_SPATIAL);
    int ns = x->rank - 2;
    if (a->nspatial != 0 && a->nspatial != ns)
        return sh_fail(c, "attributes describe %d spatial dims but input '%s' is %s", a->nspatial,
                       x->name, TSHP(x));
    a->nspatial = ns;
    if (w && w->rank != x->rank)
        return sh_fail(c, "weight '%s' %s and input '%s' %s differ in rank", w->name, TSHP(w),
                       x->name, TSHP(x));
    if (a->group == 0)
        a->group = 1;
    if (!check_attr(c, "group", a->group, 1))
        return false;
    for (int i = 0; i < ns; i++) {
        if (w && a->kernel[i] == 0)
            a->kernel[i] = w->shape[2 + i];
        else if (w && a->kernel[i] != w->shape[2 + i])
            return sh_fail(c, "kernel_shape does not match weight '%s' %s", w->name, TSHP(w));
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
            return sh_fail(c, "input '%s' %s has %lld channels but weight '%s' %s with group %lld "
                           "expects %lld", x->name, TSHP(x), (long long)cin, w->name, TSHP(w),
                           (long long)g, (long long)(w->shape[1] * g));
        if (w->shape[0] % g != 0)
            return sh_fail(c, "%lld output channels not divisible by group %lld",
                           (long long)w->shape[0], (long long)g);
        cout = w->shape[0];
    } else if (w) {
        if (w->shape[0] != cin || cin % g != 0)
            return sh_fail(c, "input '%s' %s does not match weight '%s' %s with group %lld",
                           x->name, TSHP(x), w->name, TSHP(w), (long long)g);
        cout = w->shape[1] * g;
    }
    Tensor *b = sh_input(c, bi);
    if (b && (b->rank != 1 || b->shape[0] != cout))
        return sh_fail(c, "bias '%s' %s must be [%lld]", b->name, TSHP(b), (long long)cout);
    int64_t shape[QCC_MAX_RANK] = {x->shape[0], cout};
    for (int i = 0; i < ns; i++) {
        if (transposed)
            transposed_dim(c, i, x->shape[2 + i], &shape[2 + i]);
        else if (!window_dim(c, i, x->shape[2 + i], pool, &shape[2 + i]))
            return false;
        if (shape[2 + i] < 1)
            return sh_fail(c, "output would be empty along spatial dim %d", i);
    }
    a->auto_pad = AUTO_PAD_NOTSET;
    return sh_set_out(c, 0, dt, x->rank, shape) &&
           (op != OP_MAX_POOL || sh_set_out(c, 1, DT_INT64, x->rank, shape));
}

/* ------------------------------------------------------------------ global pools */

bool sh_infer_global_pool(ShapeCtx *c, DType dt) {
    Tensor *x;
    if (!sh_need(c, 0, &x))
        return false;
    if (x->rank < 3)
        return sh_fail(c, "input '%s' %s must have rank >= 3", x->name, TSHP(x));
    int64_t shape[QCC_MAX_RANK];
    memcpy(shape, x->shape, sizeof shape);
    for (int i = 2; i < x->rank; i++)
        shape[i] = 1;
    return sh_set_out(c, 0, dt, x->rank, shape);
}

/* ------------------------------------------------------------------ pad, resize, slice */

bool sh_infer_pad(ShapeCtx *c) {
    PadAttr *a = &c->n->a.pad;
    Tensor *x;
    if (!sh_need(c, 0, &x))
        return false;
    int r = x->rank;
    if (!a->have_pads && c->g->opset >= 11) {
        int64_t v[2 * QCC_MAX_RANK], axes[QCC_MAX_RANK];
        int nv, naxes = r;
        for (int i = 0; i < r; i++)
            axes[i] = i;
        if (!sh_const_ints(c, 1, "pads", v, 2 * QCC_MAX_RANK, &nv))
            return false;
        if (sh_input(c, 3) && (!sh_const_ints(c, 3, "axes", axes, QCC_MAX_RANK, &naxes) ||
                               !sh_norm_axes(c, axes, naxes, r)))
            return false;
        if (nv != 2 * naxes)
            return sh_fail(c, "%d pads for %d axes", nv, naxes);
        memset(a->pads, 0, sizeof a->pads);
        for (int i = 0; i < naxes; i++) {
            a->pads[axes[i]] = v[i];
            a->pads[r + axes[i]] = v[naxes + i];
        }
        a->value = 0.0f;
        Tensor *cv = sh_input(c, 2);
        if (cv) {
            float f[1];
            int nf;
            if (!sh_const_floats(c, 2, "constant_value", f, 1, &nf))
                return false;
            a->value = nf ? f[0] : 0.0f;
        }
    }
    int64_t shape[QCC_MAX_RANK];
    for (int i = 0; i < r; i++) {
        if (a->pads[i] <= -MAX_DIM || a->pads[i] >= MAX_DIM || a->pads[r + i] <= -MAX_DIM ||
            a->pads[r + i] >= MAX_DIM)
            return sh_fail(c, "pads %s out of range", shp(2 * r, a->pads));
        shape[i] = x->shape[i] + a->pads[i] + a->pads[r + i];
        if (shape[i] < 0)
            return sh_fail(c, "pads %s crop '%s' %s below zero", shp(2 * r, a->pads), x->name,
                           TSHP(x));
    }
    return sh_set_out(c, 0, x->dtype, r, shape);
}

/* An optional input that is present and not an empty tensor (exporters pass "" or []). */
static bool present(ShapeCtx *c, int k) {
    Tensor *t = sh_input(c, k);
    return t && !(tensor_is_const(t) && tensor_numel(t) == 0);
}

/* Resize: output shape and a.resize.scales[] for every axis from the constant sizes or
 * scales input (opset 18: only for the axes attribute's axes, the others keep scale 1), and
 * for tf_crop_and_resize the roi input (starts then ends, same axes) into roi_start/end. */
bool sh_infer_resize(ShapeCtx *c) {
    ResizeAttr *a = &c->n->a.resize;
    Tensor *x;
    if (!sh_need(c, 0, &x))
        return false;
    int r = x->rank, si = c->g->opset <= 10 ? 1 : 2, zi = c->g->opset <= 10 ? -1 : 3, nv;
    int64_t axes[QCC_MAX_RANK], shape[QCC_MAX_RANK], v[QCC_MAX_RANK];
    int na = a->naxes > 0 ? a->naxes : r;
    bool seen[QCC_MAX_RANK] = {false};
    for (int i = 0; i < na; i++) {
        axes[i] = a->naxes > 0 ? a->axes[i] : i;
        if (!sh_norm_axis(c, &axes[i], r, "axis"))
            return false;
        if (seen[axes[i]])
            return sh_fail(c, "axis %lld repeated", (long long)axes[i]);
        seen[axes[i]] = true;
    }
    for (int i = 0; i < r; i++) {
        shape[i] = x->shape[i];
        a->scales[i] = 1.0f;
        a->roi_start[i] = 0.0f;
        a->roi_end[i] = 1.0f;
    }
    if (zi >= 0 && present(c, zi)) {
        if (!sh_const_ints(c, zi, "sizes", v, QCC_MAX_RANK, &nv))
            return false;
        if (nv != na)
            return sh_fail(c, "%d sizes for %d axes of input '%s' %s", nv, na, x->name, TSHP(x));
        for (int i = 0; i < na; i++) {
            int64_t d = axes[i];
            if (v[i] < 0 || v[i] >= MAX_DIM)
                return sh_fail(c, "invalid sizes %s", shp(na, v));
            shape[d] = v[i];
            a->scales[d] = x->shape[d] ? (float)v[i] / (float)x->shape[d] : 1.0f;
        }
    } else {
        float f[QCC_MAX_RANK];
        if (!present(c, si))
            return sh_fail(c, "needs scales or sizes");
        if (!sh_const_floats(c, si, "scales", f, QCC_MAX_RANK, &nv))
            return false;
        if (nv != na)
            return sh_fail(c, "%d scales for %d axes of input '%s' %s", nv, na, x->name,
                           TSHP(x));
        for (int i = 0; i < na; i++) {
            int64_t d = axes[i];
            /* float product truncated, as ONNX Runtime sizes its output (the spec's floor) */
            float o = floorf((float)x->shape[d] * f[i]);
            if (!(f[i] > 0.0f) || !(o < (float)MAX_DIM))
                return sh_fail(c, "invalid scale %g on axis %lld", (double)f[i], (long long)d);
            a->scales[d] = f[i];
            shape[d] = (int64_t)o;
        }
    }
    if (a->coord == CT_TF_CROP_AND_RESIZE && c->g->opset >= 11 && present(c, 1)) {
        float roi[2 * QCC_MAX_RANK];
        if (!sh_const_floats(c, 1, "roi", roi, 2 * QCC_MAX_RANK, &nv))
            return false;
        if (nv != 2 * na)
            return sh_fail(c, "roi has %d values for %d axes", nv, na);
        for (int i = 0; i < na; i++) {
            a->roi_start[axes[i]] = roi[i];
            a->roi_end[axes[i]] = roi[na + i];
        }
    }
    return sh_set_out(c, 0, x->dtype, r, shape);
}

/* Slice: starts/ends/axes/steps (constant inputs 1..4 from opset 10, attributes before)
 * become a.slice.start[] and step[] for every axis, so codegen and folding only walk
 * start + i*step. ONNX rules: an index below zero counts from the end (so INT64_MIN/MAX
 * "to the end" markers work); with step > 0 start and end clamp to [0, dim], with step < 0
 * start clamps to [0, dim-1] and end to [-1, dim-1]; the extent is
 * max(0, ceil((end - start) / step)). Steps beyond the dim are clamped to MAX_DIM (same
 * single element taken) so that no product here or in generated code can overflow. */
static bool slice_params(ShapeCtx *c, int rank, int64_t *starts, int64_t *ends, int64_t *axes,
                         int64_t *steps, int *count) {
    SliceAttr *a = &c->n->a.slice;
    int ns, ne, na, nst;
    if (a->have_attrs) {
        ns = ne = na = a->nattr;
        memcpy(starts, a->attr_starts, sizeof a->attr_starts);
        memcpy(ends, a->attr_ends, sizeof a->attr_ends);
        memcpy(axes, a->attr_axes, sizeof a->attr_axes);
    } else {
        if (!sh_const_ints(c, 1, "starts", starts, QCC_MAX_RANK, &ns) ||
            !sh_const_ints(c, 2, "ends", ends, QCC_MAX_RANK, &ne))
            return false;
        na = ns;
        for (int i = 0; i < ns; i++)
            axes[i] = i;
        if (present(c, 3) && !sh_const_ints(c, 3, "axes", axes, QCC_MAX_RANK, &na))
            return false;
    }
    nst = ns;
    for (int i = 0; i < ns; i++)
        steps[i] = 1;
    if (!a->have_attrs && present(c, 4) && !sh_const_ints(c, 4, "steps", steps, QCC_MAX_RANK, &nst))
        return false;
    if (ne != ns || na != ns || nst != ns)
        return sh_fail(c, "starts, ends, axes and steps differ in length (%d, %d, %d, %d)", ns, ne,
                       na, nst);
    if (ns > rank)
        return sh_fail(c, "%d axes sliced but input has rank %d", ns, rank);
    bool seen[QCC_MAX_RANK] = {false};
    for (int i = 0; i < ns; i++) {
        if (!sh_norm_axis(c, &axes[i], rank, "axis"))
            return false;
        if (seen[axes[i]])
            return sh_fail(c, "axis %lld repeated", (long long)axes[i]);
        seen[axes[i]] = true;
        if (steps[i] == 0)
            return sh_fail(c, "step on axis %lld is 0", (long long)axes[i]);
    }
    *count = ns;
    return true;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

bool sh_infer_slice(ShapeCtx *c) {
    SliceAttr *a = &c->n->a.slice;
    Tensor *x;
    if (!sh_need(c, 0, &x))
        return false;
    int r = x->rank, ns = 0;
    if (r < 1)
        return sh_fail(c, "cannot slice a scalar '%s'", x->name);
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
    return sh_set_out(c, 0, x->dtype, r, shape);
}
