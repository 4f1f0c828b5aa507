/* fkernels_pool.c: C bodies of the windowed and reducing ops that are not quantized:
 * AveragePool (ceil mode, count_include_pad, dilations, 1/2/3-d) and GlobalAveragePool in
 * float; MaxPool (and its Indices), GlobalMaxPool, ReduceMax and ReduceMin on any dtype
 * (max and min only compare, so one text serves float and integers; movement.c hands MaxPool
 * here). */
#include "cgen.h"

#include <stdio.h>
#include <string.h>

#define PL_BUF 1024 /* one index expression */

KernelFn cg_float_pool_kernel(Op op);
bool cg_pool_window(CGen *cg, const Node *n);
bool cg_pool_global_max(CGen *cg, const Node *n);

/* out * stride - pad_begin + k * dilation, without the factors that are 1. */
static void pl_coord(char *buf, size_t cap, const char *axis, int64_t stride, int64_t pad,
                     int64_t dil) {
    char s[48], k[48];
    if (stride == 1)
        snprintf(s, sizeof s, "out_%s", axis);
    else
        snprintf(s, sizeof s, "out_%s * %lld", axis, (long long)stride);
    if (dil == 1)
        snprintf(k, sizeof k, "k_%s", axis);
    else
        snprintf(k, sizeof k, "k_%s * %lld", axis, (long long)dil);
    if (pad != 0)
        snprintf(buf, cap, "%s - %lld + %s", s, (long long)pad, k);
    else
        snprintf(buf, cap, "%s + %s", s, k);
}

/* The smallest value of a dtype as C text: the start of a running maximum. */
static const char *pl_lowest(CGen *cg, DType t) {
    switch (t) {
    case DT_FLOAT: cg->need_math = true; return "-HUGE_VALF";
    case DT_INT8: return "INT8_MIN";
    case DT_INT16: return "INT16_MIN";
    case DT_INT32: return "INT32_MIN";
    case DT_INT64: return "INT64_MIN";
    default: return "0"; /* unsigned and bool */
    }
}

/* MAX_POOL (any dtype) and AVG_POOL (float): x [N, C, S...] -> y [N, C, O...]. MaxPool's
 * optional out[1] (Indices, int64) is the flat index of the first maximal tap in x, over
 * N*C planes, the spatial part row major (storage_order 0) or column major (1), as ONNX
 * Runtime and the ONNX reference compute it. Taps outside the input are skipped; bounds
 * tests are emitted only on axes where a tap can fall outside. Average divisor: the valid
 * taps, or with count_include_pad the taps inside the padded extent
 * [-pad_begin, size + pad_end) (ceil mode can run past it). When every window is full the
 * divisor is the constant kernel size. */
bool cg_pool_window(CGen *cg, const Node *n) {
    const Tensor *x = cg_tensor(cg, n->in[0]), *y = cg_tensor(cg, n->out[0]);
    const ConvAttr *a = &n->a.conv;
    bool is_max = n->op == OP_MAX_POOL;
    int ns = x->rank - 2;
    bool want_idx = is_max && n->nout == 2 && n->out[1] >= 0;
    if (ns < 1 || ns > 3 || n->nout > (is_max ? 2 : 1))
        return diag_error(cg->d, "node '%s' (%s): unsupported form (rank %d, %d outputs)",
                          n->name, op_name(n->op), x->rank, n->nout);
    if (!is_max && x->dtype != DT_FLOAT)
        return diag_error(cg->d, "node '%s' (%s): float only here", n->name, op_name(n->op));
    const char *const *ax = cg_spatial_names(ns);
    const char *ct = dtype_ctype(x->dtype);
    int64_t in_sp = 1, out_sp = 1, ksize = 1;
    for (int d = 0; d < ns; d++) {
        in_sp *= x->shape[2 + d];
        out_sp *= y->shape[2 + d];
        ksize *= a->kernel[d];
    }
    bool inner_test[3] = {false, false, false}, any_inner = false, need_count = false;
    char valid[PL_BUF] = "", xi[PL_BUF] = "", yi[PL_BUF] = "";
    int ind = 1;
    cg_line(cg, ind++, "for (int plane = 0; plane < %lld; plane++) { /* batch * channels */",
            (long long)(x->shape[0] * x->shape[1]));
    for (int d = 0; d < ns; d++)
        cg_line(cg, ind++, "for (int out_%s = 0; out_%s < %lld; out_%s++) {", ax[d], ax[d],
                (long long)y->shape[2 + d], ax[d]);
    int body = ind;
    if (is_max)
        cg_line(cg, ind, "%s acc = %s;", ct, pl_lowest(cg, x->dtype));
    if (want_idx)
        cg_line(cg, ind, "int64_t idx = -1; /* no tap yet */");
    if (!is_max)
        cg_line(cg, ind, "float sum = 0.0f;");
    /* which axes need a test: taps before 0 (pads) or past the end (pads, ceil mode) */
    for (int d = 0; d < ns; d++) {
        int64_t ext = x->shape[2 + d];
        int64_t last = (y->shape[2 + d] - 1) * a->stride[d] - a->pad[d] +
                       (a->kernel[d] - 1) * a->dilation[d];
        bool skip_valid = a->pad[d] > 0 || last >= ext;
        bool skip_padded = last >= ext + a->pad[ns + d];
        if (!is_max && a->count_include_pad) {
            inner_test[d] = skip_valid;
            need_count |= skip_padded;
        } else if (!is_max) {
            need_count |= skip_valid;
        }
        any_inner |= inner_test[d];
    }
    if (need_count)
        cg_line(cg, ind, "int count = 0;");
    int64_t st = in_sp, ost = out_sp, colst = 1;
    char ci[PL_BUF] = ""; /* column-major spatial index (storage_order 1) */
    for (int d = 0; d < ns; d++) {
        int64_t ext = x->shape[2 + d];
        int64_t last = (y->shape[2 + d] - 1) * a->stride[d] - a->pad[d] +
                       (a->kernel[d] - 1) * a->dilation[d];
        char term[32], start[160];
        cg_line(cg, ind++, "for (int k_%s = 0; k_%s < %lld; k_%s++) {", ax[d], ax[d],
                (long long)a->kernel[d], ax[d]);
        pl_coord(start, sizeof start, ax[d], a->stride[d], a->pad[d], a->dilation[d]);
        cg_line(cg, ind, "const int in_%s = %s;", ax[d], start);
        if (is_max || !a->count_include_pad) {
            if (a->pad[d] > 0 || last >= ext)
                cg_line(cg, ind, "if (in_%s < 0 || in_%s >= %lld) continue;", ax[d], ax[d],
                        (long long)ext);
        } else if (last >= ext + a->pad[ns + d]) {
            cg_line(cg, ind, "if (in_%s >= %lld) continue;", ax[d],
                    (long long)(ext + a->pad[ns + d]));
        }
        if (inner_test[d]) {
            size_t len = strlen(valid);
            snprintf(valid + len, sizeof valid - len, "%sin_%s >= 0 && in_%s < %lld",
                     len ? " && " : "", ax[d], ax[d], (long long)ext);
        }
        st /= ext;
        ost /= y->shape[2 + d];
        snprintf(term, sizeof term, "in_%s", ax[d]);
        cg_idx_add(xi, sizeof xi, term, st);
        cg_idx_add(ci, sizeof ci, term, colst);
        colst *= ext;
        snprintf(term, sizeof term, "out_%s", ax[d]);
        cg_idx_add(yi, sizeof yi, term, ost);
    }
    char xfull[PL_BUF] = "", yfull[PL_BUF] = "";
    cg_idx_add(xfull, sizeof xfull, "plane", in_sp);
    cg_idx_add(xfull, sizeof xfull, xi, 1);
    cg_idx_add(yfull, sizeof yfull, "plane", out_sp);
    cg_idx_add(yfull, sizeof yfull, yi, 1);
    const char *xs = cg_in(cg, n, 0);
    if (want_idx) {
        cg_line(cg, ind, "const %s v = %s[%s];", ct, xs, xfull);
        cg_line(cg, ind, "if (idx < 0 || v > acc) {");
        cg_line(cg, ind + 1, "acc = v;");
        cg_line(cg, ind + 1, "idx = (int64_t)plane * %lld + (%s);", (long long)in_sp,
                a->storage_order == 1 ? ci : xi);
        cg_line(cg, ind, "}");
    } else if (is_max) {
        cg_line(cg, ind, "const %s v = %s[%s];", ct, xs, xfull);
        cg_line(cg, ind, "acc = v > acc ? v : acc;");
    } else {
        if (need_count)
            cg_line(cg, ind, "count++;");
        if (any_inner)
            cg_line(cg, ind, "if (%s) sum += %s[%s];", valid, xs, xfull);
        else
            cg_line(cg, ind, "sum += %s[%s];", xs, xfull);
    }
    while (ind > body)
        cg_line(cg, --ind, "}");
    if (want_idx)
        cg_line(cg, body, "%s[%s] = idx;", cg_out(cg, n, 1), yfull);
    if (is_max)
        cg_line(cg, body, "%s[%s] = acc;", cg_out(cg, n, 0), yfull);
    else if (need_count)
        cg_line(cg, body, "%s[%s] = sum / (float)count;", cg_out(cg, n, 0), yfull);
    else
        cg_line(cg, body, "%s[%s] = sum / %lld.0f;", cg_out(cg, n, 0), yfull, (long long)ksize);
    for (ind = body - 1; ind >= 1; ind--)
        cg_line(cg, ind, "}");
    return true;
}

/* GLOBAL_AVG_POOL (float) and GLOBAL_MAX_POOL (any dtype): one value per (batch, channel). */
static bool pl_global(CGen *cg, const Node *n, bool is_max) {
    const Tensor *x = cg_tensor(cg, n->in[0]);
    if (x->rank < 2 || (!is_max && x->dtype != DT_FLOAT))
        return diag_error(cg->d, "node '%s' (%s): unsupported input", n->name,
                          op_name(n->op));
    int64_t sp = 1;
    for (int d = 2; d < x->rank; d++)
        sp *= x->shape[d];
    const char *xs = cg_in(cg, n, 0), *ys = cg_out(cg, n, 0);
    cg_line(cg, 1, "for (int plane = 0; plane < %lld; plane++) { /* batch * channels */",
            (long long)(x->shape[0] * x->shape[1]));
    if (is_max) {
        cg_line(cg, 2, "%s acc = %s[plane * %lld];", dtype_ctype(x->dtype), xs, (long long)sp);
        cg_line(cg, 2, "for (int pos = 1; pos < %lld; pos++) {", (long long)sp);
        cg_line(cg, 3, "const %s v = %s[plane * %lld + pos];", dtype_ctype(x->dtype), xs,
                (long long)sp);
        cg_line(cg, 3, "acc = v > acc ? v : acc;");
        cg_line(cg, 2, "}");
        cg_line(cg, 2, "%s[plane] = acc;", ys);
    } else {
        cg_line(cg, 2, "float sum = 0.0f;");
        cg_line(cg, 2, "for (int pos = 0; pos < %lld; pos++)", (long long)sp);
        cg_line(cg, 3, "sum += %s[plane * %lld + pos];", xs, (long long)sp);
        cg_line(cg, 2, "%s[plane] = sum / %lld.0f;", ys, (long long)sp);
    }
    cg_line(cg, 1, "}");
    return true;
}

static bool pl_global_avg(CGen *cg, const Node *n) {
    return pl_global(cg, n, false);
}

bool cg_pool_global_max(CGen *cg, const Node *n) {
    return pl_global(cg, n, true);
}

/* REDUCE_MAX / REDUCE_MIN over a.axes (none listed: every axis), any dtype. keepdims only
 * changes the output shape, not its dense layout. Kept axes are the outer loops d<k>,
 * reduced axes the inner loops r<k>; the running value starts at the first element. */
static bool pl_reduce(CGen *cg, const Node *n) {
    const Tensor *x = cg_tensor(cg, n->in[0]);
    const AxesAttr *a = &n->a.axes;
    bool red[QCC_MAX_RANK] = {false};
    for (int d = 0; d < x->rank; d++)
        red[d] = a->naxes <= 0;
    for (int i = 0; i < a->naxes; i++) {
        if (a->axes[i] < 0 || a->axes[i] >= x->rank)
            return diag_error(cg->d, "node '%s' (%s): axis out of range", n->name,
                              op_name(n->op));
        red[a->axes[i]] = true;
    }
    const char *ct = dtype_ctype(x->dtype), *cmp = n->op == OP_REDUCE_MAX ? ">" : "<";
    int64_t xst[QCC_MAX_RANK], yst[QCC_MAX_RANK];
    int64_t s = 1, so = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        xst[d] = s;
        s *= x->shape[d];
        yst[d] = red[d] ? 0 : so;
        so *= red[d] ? 1 : x->shape[d];
    }
    char base[PL_BUF] = "", off[PL_BUF] = "", yi[PL_BUF] = "", var[16];
    int ind = 1;
    for (int d = 0; d < x->rank; d++) {
        if (red[d])
            continue;
        snprintf(var, sizeof var, "d%d", d);
        cg_line(cg, ind++, "for (int d%d = 0; d%d < %lld; d%d++) {", d, d,
                (long long)x->shape[d], d);
        cg_idx_add(base, sizeof base, var, x->shape[d] > 1 ? xst[d] : 0);
        cg_idx_add(yi, sizeof yi, var, x->shape[d] > 1 ? yst[d] : 0);
    }
    int body = ind;
    cg_line(cg, ind, "const int base = %s;", base[0] ? base : "0");
    cg_line(cg, ind, "%s acc = %s[base];", ct, cg_in(cg, n, 0));
    for (int d = 0; d < x->rank; d++) {
        if (!red[d])
            continue;
        snprintf(var, sizeof var, "r%d", d);
        cg_line(cg, ind++, "for (int r%d = 0; r%d < %lld; r%d++) {", d, d,
                (long long)x->shape[d], d);
        cg_idx_add(off, sizeof off, var, x->shape[d] > 1 ? xst[d] : 0);
    }
    cg_line(cg, ind, "const %s v = %s[base%s%s];", ct, cg_in(cg, n, 0), off[0] ? " + " : "",
            off);
    cg_line(cg, ind, "acc = v %s acc ? v : acc;", cmp);
    while (ind > body)
        cg_line(cg, --ind, "}");
    cg_line(cg, body, "%s[%s] = acc;", cg_out(cg, n, 0), yi[0] ? yi : "0");
    for (ind = body - 1; ind >= 1; ind--)
        cg_line(cg, ind, "}");
    return true;
}

KernelFn cg_float_pool_kernel(Op op) {
    switch (op) {
    case OP_AVG_POOL: case OP_MAX_POOL: return cg_pool_window;
    case OP_GLOBAL_AVG_POOL: return pl_global_avg;
    case OP_GLOBAL_MAX_POOL: return cg_pool_global_max;
    case OP_REDUCE_MAX: case OP_REDUCE_MIN: return pl_reduce;
    default: return NULL;
    }
}
