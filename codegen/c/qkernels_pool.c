/* qkernels_pool.c: integer AVG_POOL (1-3 spatial dims, count_include_pad, ceil_mode windows
 * clipped to the input) and GLOBAL_AVG_POOL for the portable C backend.
 * Fixed mode: acc = sum(x - zx) (|acc| <= 255 * window, far from int32 limits), multiplier
 * entry count-1. Float mode follows ONNX Runtime's kernels (see codegen/c/ort_formulas.md). */
#include "cgen.h"

#include <math.h>

static bool emit_avg_pool(CGen *cg, const Node *n) {
    const Tensor *x = cg_tin(cg, n, 0), *y = cg_tout(cg, n, 0);
    const ConvAttr *a = &n->a.conv;
    int ns = x->rank - 2;
    if (ns < 1 || ns > 3 || y->rank != x->rank)
        return diag_error(cg->d, "node '%s' (%s): 1 to 3 spatial dims supported", n->name,
                          op_name(n->op));
    bool ort_float = cg->o->requant == REQUANT_FLOAT;
    const char *const *sp = cg_spatial_names(ns);
    int64_t planes = x->shape[0] * x->shape[1], in_plane = 1, out_plane = 1, kprod = 1;
    for (int d = 0; d < ns; d++) {
        in_plane *= x->shape[2 + d];
        out_plane *= y->shape[2 + d];
        kprod *= a->kernel[d];
    }
    int32_t zx = cg_zp(x), zy = cg_zp(y);
    if (ort_float)
        cg_line(cg, 1, "/* ONNX Runtime QLinearAveragePool: float sum of sx*(x-zx) over the "
                       "window, / count, then nearbyint(sum / sy + zy), saturated */");
    else
        cg_line(cg, 1, "/* acc = sum(x - zx) over the window; multiplier entry count-1 holds "
                       "sx/(sy*count) */");
    cg_line(cg, 1, "for (int plane = 0; plane < %lld; plane++) {", (long long)planes);
    int ind = 2;
    for (int d = 0; d < ns; d++, ind++)
        cg_line(cg, ind, "for (int out_%s = 0; out_%s < %lld; out_%s++) {", sp[d], sp[d],
                (long long)y->shape[2 + d], sp[d]);
    int body = ind;
    cg_line(cg, body, ort_float ? "float sum = 0.0f;" : "int32_t acc = 0;");
    cg_line(cg, body, "int count = 0;");
    int64_t xs[3];
    xs[ns - 1] = 1;
    for (int d = ns - 2; d >= 0; d--)
        xs[d] = xs[d + 1] * x->shape[3 + d];
    for (int d = 0; d < ns; d++, ind++) {
        cg_line(cg, ind, "for (int k_%s = 0; k_%s < %lld; k_%s++) {", sp[d], sp[d],
                (long long)a->kernel[d], sp[d]);
        cg_line(cg, ind + 1, "const int in_%s = out_%s * %lld - %lld + k_%s * %lld;", sp[d],
                sp[d], (long long)(a->stride[d] > 0 ? a->stride[d] : 1), (long long)a->pad[d],
                sp[d], (long long)(a->dilation[d] > 0 ? a->dilation[d] : 1));
        cg_line(cg, ind + 1, "if (in_%s < 0 || in_%s >= %lld)", sp[d], sp[d],
                (long long)x->shape[2 + d]);
        cg_line(cg, ind + 2, "continue;");
    }
    StrBuf xi;
    sb_init(&xi);
    sb_printf(&xi, "%s[plane * %lld", cg_in(cg, n, 0), (long long)in_plane);
    for (int d = 0; d < ns; d++)
        sb_printf(&xi, " + in_%s * %lld", sp[d], (long long)xs[d]);
    sb_putc(&xi, ']');
    if (ort_float) {
        cg_line(cg, ind, "const float xf = %s * (float)((int32_t)%s - %ld);",
                cg_float_lit(cg, x->q.scale[0]), xi.data, (long)zx);
        cg_line(cg, ind, "sum += xf;");
    } else {
        cg_line(cg, ind, "acc += (int32_t)%s - %ld;", xi.data, (long)zx);
    }
    cg_line(cg, ind, "count++;");
    sb_free(&xi);
    for (ind--; ind >= body; ind--)
        cg_line(cg, ind, "}");
    ind = body;
    if (a->count_include_pad)
        cg_line(cg, ind, "count = %lld; /* count_include_pad: the whole kernel */",
                (long long)kprod);
    StrBuf yi;
    sb_init(&yi);
    int64_t ys = 1;
    sb_printf(&yi, "%s[plane * %lld", cg_out(cg, n, 0), (long long)out_plane);
    for (int d = ns - 1; d >= 0; d--) {
        sb_printf(&yi, " + out_%s * %lld", sp[d], (long long)ys);
        ys *= y->shape[2 + d];
    }
    sb_putc(&yi, ']');
    if (ort_float) {
        cg_line(cg, ind, "sum /= (float)count;");
        cg_line(cg, ind, "float v = sum / %s + %ld.0f;", cg_float_lit(cg, y->q.scale[0]), (long)zy);
        cg_line(cg, ind, "v = v < %ld.0f ? %ld.0f : v > %ld.0f ? %ld.0f : v;",
                (long)n->q.act_min, (long)n->q.act_min, (long)n->q.act_max,
                (long)n->q.act_max);
        cg_line(cg, ind, "%s = (%s)qcc_rint(v);", yi.data, dtype_ctype(y->dtype));
    } else {
        if (n->q.mul[0].n < kprod)
            return diag_error(cg->d, "node '%s' (%s): %d pool multipliers, need %lld", n->name,
                              op_name(n->op), n->q.mul[0].n, (long long)kprod);
        cg_line(cg, ind, "const int entry = count > 0 ? count - 1 : 0;");
        cg_line(cg, ind, "%s = (%s)%s;", yi.data, dtype_ctype(y->dtype),
                cg_requant(cg, n, 0, "acc", "entry"));
    }
    sb_free(&yi);
    for (ind--; ind >= 1; ind--)
        cg_line(cg, ind, "}");
    return true;
}

static bool emit_global_avg_pool(CGen *cg, const Node *n) {
    const Tensor *x = cg_tin(cg, n, 0), *y = cg_tout(cg, n, 0);
    if (x->rank < 3)
        return diag_error(cg->d, "node '%s' (%s): needs [N, C, spatial...]", n->name,
                          op_name(n->op));
    int64_t planes = x->shape[0] * x->shape[1], hw = tensor_numel(x) / (planes ? planes : 1);
    int32_t zx = cg_zp(x);
    cg_line(cg, 1, "/* acc = sum(x) - zx*HW; multiplier sx/(sy*HW) (ONNX Runtime form) */");
    cg_line(cg, 1, "for (int plane = 0; plane < %lld; plane++) {", (long long)planes);
    cg_line(cg, 2, "int32_t acc = %s;", cg_i32(cg, (int32_t)(-(int64_t)zx * hw)));
    cg_line(cg, 2, "for (int pixel = 0; pixel < %lld; pixel++)", (long long)hw);
    cg_line(cg, 3, "acc += %s[plane * %lld + pixel];", cg_in(cg, n, 0), (long long)hw);
    cg_line(cg, 2, "%s[plane] = (%s)%s;", cg_out(cg, n, 0), dtype_ctype(y->dtype),
            cg_requant(cg, n, 0, "acc", "0"));
    cg_line(cg, 1, "}");
    return true;
}

/* ---- channels-last (n->nhwc, passes/layout.c): x [N][H][W][C] -> y [N][OH][OW][C] --------
 * The window loops run per output pixel with the channels innermost: contiguous, constant
 * trip count, so compilers vectorize them. Same arithmetic (and window/count rules) as the
 * NCHW kernels above, per channel. */

bool cg_qpool_nhwc(CGen *cg, const Node *n);   /* also MaxPool/GlobalMaxPool via movement.c */

/* The batch/out_y/out_x loops of a windowed pool (the pixel body is at indent 4). */
static void nhwc_window_open(CGen *cg, const Node *n, const Tensor *x, const Tensor *y) {
    (void)n;
    cg_line(cg, 1, "for (int batch = 0; batch < %lld; batch++) {", (long long)x->shape[0]);
    cg_line(cg, 2, "for (int out_y = 0; out_y < %lld; out_y++) {", (long long)y->shape[1]);
    cg_line(cg, 3, "for (int out_x = 0; out_x < %lld; out_x++) {", (long long)y->shape[2]);
}

/* The window loops inside a pixel, skipping taps outside the input; leaves the tap body at
 * indent 6 with xp pointing at the tap's channels. */
static void nhwc_window_taps(CGen *cg, const Node *n, const Tensor *x) {
    const ConvAttr *a = &n->a.conv;
    cg_line(cg, 4, "for (int k_y = 0; k_y < %lld; k_y++) {", (long long)a->kernel[0]);
    cg_line(cg, 5, "const int in_y = out_y * %lld - %lld + k_y * %lld;", (long long)a->stride[0],
            (long long)a->pad[0], (long long)a->dilation[0]);
    cg_line(cg, 5, "if (in_y < 0 || in_y >= %lld)", (long long)x->shape[1]);
    cg_line(cg, 6, "continue;");
    cg_line(cg, 5, "for (int k_x = 0; k_x < %lld; k_x++) {", (long long)a->kernel[1]);
    cg_line(cg, 6, "const int in_x = out_x * %lld - %lld + k_x * %lld;", (long long)a->stride[1],
            (long long)a->pad[1], (long long)a->dilation[1]);
    cg_line(cg, 6, "if (in_x < 0 || in_x >= %lld)", (long long)x->shape[2]);
    cg_line(cg, 7, "continue;");
    cg_line(cg, 6, "const %s *xp = %s + ((batch * %lld + in_y) * %lld + in_x) * %lld;",
            dtype_ctype(x->dtype), cg_in(cg, n, 0), (long long)x->shape[1],
            (long long)x->shape[2], (long long)x->shape[3]);
}

/* Fixed-mode NHWC AvgPool: can every entry's requant run exactly in double (see the caller)? */
static bool avg_exact_double(const Node *n, int64_t kprod) {
    const Multiplier *m = &n->q.mul[0];
    if (kprod * 255 >= ((int64_t)1 << 21))
        return false;
    for (int e = 0; e < m->n; e++)
        if (m->shift[e] > 30 || ldexp((double)m->m0[e], m->shift[e] - 31) * (double)kprod * 255.0 >=
                                    ldexp(1.0, 30))
            return false;
    return true;
}

/* The exact double value m0 * 2^(shift-31) of every multiplier entry, as n<idx>_avgm (in
 * helpers when the frame has them, else a static array in the function). */
static const char *avg_double_array(CGen *cg, const Node *n) {
    const Multiplier *m = &n->q.mul[0];
    int idx = (int)(n - cg->g->nodes);
    const char *name = cg_fmt(cg, "n%d_avgm", idx);
    StrBuf *sb = cg->helpers ? cg->helpers : cg->sb;
    sb_printf(sb, "%sstatic const double %s[%d] = {", cg->helpers ? "" : "    ", name, m->n);
    for (int e = 0; e < m->n; e++)
        sb_printf(sb, "%s%a", e ? ", " : "", ldexp((double)m->m0[e], m->shift[e] - 31));
    sb_puts(sb, "};\n");
    return name;
}

static bool emit_avg_pool_nhwc(CGen *cg, const Node *n, const Tensor *x, const Tensor *y) {
    const ConvAttr *a = &n->a.conv;
    int64_t C = x->shape[3], kprod = a->kernel[0] * a->kernel[1];
    int32_t zx = cg_zp(x), zy = cg_zp(y);
    bool ort_float = cg->o->requant == REQUANT_FLOAT;
    if (!ort_float && n->q.mul[0].n < kprod)
        return diag_error(cg->d, "node '%s' (%s): %d pool multipliers, need %lld", n->name,
                          op_name(n->op), n->q.mul[0].n, (long long)kprod);
    cg_line(cg, 1, ort_float ? "/* NHWC; ONNX Runtime QLinearAveragePool: float sum of "
                               "sx*(x-zx), / count, nearbyint(sum / sy + zy) */"
                             : "/* NHWC; acc = sum(x - zx) over the window; multiplier entry "
                               "count-1 holds sx/(sy*count) */");
    nhwc_window_open(cg, n, x, y);
    cg_line(cg, 4, "%s acc[%lld];", ort_float ? "float" : "int32_t", (long long)C);
    cg_line(cg, 4, "int count = 0;");
    cg_line(cg, 4, "for (int c = 0; c < %lld; c++)", (long long)C);
    cg_line(cg, 5, "acc[c] = 0;");
    nhwc_window_taps(cg, n, x);
    cg_line(cg, 6, "count++;");
    cg_line(cg, 6, "for (int c = 0; c < %lld; c++)", (long long)C);
    if (ort_float)
        cg_line(cg, 7, "acc[c] += %s * (float)((int32_t)xp[c] - %ld);",
                cg_float_lit(cg, x->q.scale[0]), (long)zx);
    else
        cg_line(cg, 7, "acc[c] += (int32_t)xp[c] - %ld;", (long)zx);
    cg_line(cg, 5, "}");
    cg_line(cg, 4, "}");
    if (a->count_include_pad)
        cg_line(cg, 4, "count = %lld; /* count_include_pad: the whole kernel */",
                (long long)kprod);
    cg_line(cg, 4, "%s *yp = %s + ((batch * %lld + out_y) * %lld + out_x) * %lld;",
            dtype_ctype(y->dtype), cg_out(cg, n, 0), (long long)y->shape[1],
            (long long)y->shape[2], (long long)C);
    if (ort_float) {
        cg_line(cg, 4, "for (int c = 0; c < %lld; c++) {", (long long)C);
        cg_line(cg, 5, "float v = acc[c] / (float)count / %s + %ld.0f;",
                cg_float_lit(cg, y->q.scale[0]), (long)zy);
        cg_line(cg, 5, "v = v < %ld.0f ? %ld.0f : v > %ld.0f ? %ld.0f : v;",
                (long)n->q.act_min, (long)n->q.act_min, (long)n->q.act_max,
                (long)n->q.act_max);
        cg_line(cg, 5, "yp[c] = (%s)qcc_rint(v);", dtype_ctype(y->dtype));
        cg_line(cg, 4, "}");
    } else if (avg_exact_double(n, kprod)) {
        /* |acc| <= 255 * window < 2^21 and m0 < 2^31: acc * m0 * 2^(shift-31) is exact in a
         * double, and adding and subtracting 1.5 * 2^52 rounds it half to even, once: the
         * value qcc_mul_q31 computes (no saturation: |result| < 2^30, checked at compile
         * time). Integer clamp only, so the channel loop vectorises. */
        const char *md = avg_double_array(cg, n);
        cg_line(cg, 4, "const double mul = %s[count > 0 ? count - 1 : 0];", md);
        cg_line(cg, 4, "for (int c = 0; c < %lld; c++) {", (long long)C);
        cg_line(cg, 5, "const double r = ((double)acc[c] * mul + 6755399441055744.0) - "
                       "6755399441055744.0;");
        cg_line(cg, 5, "int32_t q = (int32_t)r + %ld;", (long)zy);
        cg_line(cg, 5, "q = q < %ld ? %ld : q > %ld ? %ld : q;", (long)n->q.act_min,
                (long)n->q.act_min, (long)n->q.act_max, (long)n->q.act_max);
        cg_line(cg, 5, "yp[c] = (%s)q;", dtype_ctype(y->dtype));
        cg_line(cg, 4, "}");
    } else {
        cg_line(cg, 4, "const int entry = count > 0 ? count - 1 : 0;");
        cg_line(cg, 4, "for (int c = 0; c < %lld; c++)", (long long)C);
        cg_line(cg, 5, "yp[c] = (%s)%s;", dtype_ctype(y->dtype),
                cg_requant(cg, n, 0, "acc[c]", "entry"));
    }
    for (int ind = 3; ind >= 1; ind--)
        cg_line(cg, ind, "}");
    return true;
}

/* The running max lives in a local array: through yp the compiler had to assume it aliases
 * xp and kept the loop scalar (13% of a kws model). */
static bool emit_max_pool_nhwc(CGen *cg, const Node *n, const Tensor *x, const Tensor *y) {
    int64_t C = x->shape[3];
    const char *ct = dtype_ctype(x->dtype);
    if (n->nout != 1)
        return diag_error(cg->d, "node '%s' (%s): no Indices output in channels-last form",
                          n->name, op_name(n->op));
    cg_line(cg, 1, "/* NHWC max over the window (taps outside the input skipped) */");
    nhwc_window_open(cg, n, x, y);
    cg_line(cg, 4, "%s mx[%lld];", ct, (long long)C);
    cg_line(cg, 4, "for (int c = 0; c < %lld; c++)", (long long)C);
    cg_line(cg, 5, "mx[c] = %s;", x->dtype == DT_INT8 ? "INT8_MIN" : "0");
    nhwc_window_taps(cg, n, x);
    cg_line(cg, 6, "for (int c = 0; c < %lld; c++)", (long long)C);
    cg_line(cg, 7, "mx[c] = xp[c] > mx[c] ? xp[c] : mx[c];");
    cg_line(cg, 5, "}");
    cg_line(cg, 4, "}");
    cg_line(cg, 4, "%s *yp = %s + ((batch * %lld + out_y) * %lld + out_x) * %lld;", ct,
            cg_out(cg, n, 0), (long long)y->shape[1], (long long)y->shape[2], (long long)C);
    cg_line(cg, 4, "for (int c = 0; c < %lld; c++)", (long long)C);
    cg_line(cg, 5, "yp[c] = mx[c];");
    for (int ind = 3; ind >= 1; ind--)
        cg_line(cg, ind, "}");
    return true;
}

/* GLOBAL_AVG_POOL / GLOBAL_MAX_POOL: one value per (batch, channel) over H*W pixels. */
static bool emit_global_nhwc(CGen *cg, const Node *n, const Tensor *x, const Tensor *y) {
    int64_t C = x->shape[3], hw = x->shape[1] * x->shape[2];
    bool is_max = n->op == OP_GLOBAL_MAX_POOL;
    const char *xs = cg_in(cg, n, 0), *ys = cg_out(cg, n, 0);
    cg_line(cg, 1, "for (int batch = 0; batch < %lld; batch++) {", (long long)x->shape[0]);
    cg_line(cg, 2, "const %s *xb = %s + batch * %lld;", dtype_ctype(x->dtype), xs,
            (long long)(hw * C));
    if (is_max) {
        cg_line(cg, 2, "/* NHWC max over the pixels */");
        cg_line(cg, 2, "%s *yb = %s + batch * %lld;", dtype_ctype(y->dtype), ys, (long long)C);
        cg_line(cg, 2, "for (int c = 0; c < %lld; c++)", (long long)C);
        cg_line(cg, 3, "yb[c] = xb[c];");
        cg_line(cg, 2, "for (int pixel = 1; pixel < %lld; pixel++)", (long long)hw);
        cg_line(cg, 3, "for (int c = 0; c < %lld; c++)", (long long)C);
        cg_line(cg, 4, "yb[c] = xb[pixel * %lld + c] > yb[c] ? xb[pixel * %lld + c] : yb[c];",
                (long long)C, (long long)C);
    } else {
        cg_line(cg, 2, "/* NHWC; acc = sum(x) - zx*HW; multiplier sx/(sy*HW) */");
        cg_line(cg, 2, "int32_t acc[%lld];", (long long)C);
        cg_line(cg, 2, "for (int c = 0; c < %lld; c++)", (long long)C);
        cg_line(cg, 3, "acc[c] = %s;", cg_i32(cg, (int32_t)(-(int64_t)cg_zp(x) * hw)));
        cg_line(cg, 2, "for (int pixel = 0; pixel < %lld; pixel++)", (long long)hw);
        cg_line(cg, 3, "for (int c = 0; c < %lld; c++)", (long long)C);
        cg_line(cg, 4, "acc[c] += xb[pixel * %lld + c];", (long long)C);
        cg_line(cg, 2, "for (int c = 0; c < %lld; c++)", (long long)C);
        cg_line(cg, 3, "%s[batch * %lld + c] = (%s)%s;", ys, (long long)C,
                dtype_ctype(y->dtype), cg_requant(cg, n, 0, "acc[c]", "0"));
    }
    cg_line(cg, 1, "}");
    return true;
}

bool cg_qpool_nhwc(CGen *cg, const Node *n) {
    const Tensor *x = cg_tin(cg, n, 0), *y = cg_tout(cg, n, 0);
    if (x->rank != 4 || y->rank != 4 || y->shape[3] != x->shape[3])
        return diag_error(cg->d, "node '%s' (%s): channels-last pool needs [N,H,W,C]", n->name,
                          op_name(n->op));
    switch (n->op) {
    case OP_AVG_POOL: return emit_avg_pool_nhwc(cg, n, x, y);
    case OP_MAX_POOL: return emit_max_pool_nhwc(cg, n, x, y);
    case OP_GLOBAL_AVG_POOL: case OP_GLOBAL_MAX_POOL: return emit_global_nhwc(cg, n, x, y);
    default: qcc_unreachable();
    }
}

static bool emit_avg_pool_any(CGen *cg, const Node *n) {
    return n->nhwc ? cg_qpool_nhwc(cg, n) : emit_avg_pool(cg, n);
}

static bool emit_global_avg_pool_any(CGen *cg, const Node *n) {
    return n->nhwc ? cg_qpool_nhwc(cg, n) : emit_global_avg_pool(cg, n);
}

KernelFn cg_qpool_kernel(Op op) {
    switch (op) {
    case OP_AVG_POOL: return emit_avg_pool_any;
    case OP_GLOBAL_AVG_POOL: return emit_global_avg_pool_any;
    default: return NULL;
    }
}
