/* qkernels_pool.c: integer AVG_POOL (1-3 spatial dims, count_include_pad, ceil_mode windows
 * clipped to the input) and GLOBAL_AVG_POOL for the portable C backend.
 * Fixed mode: acc = sum(x - zx) (|acc| <= 255 * window, far from int32 limits), multiplier
 * entry count-1. Float mode follows ONNX Runtime's kernels (see codegen/c/ort_formulas.md). */
#include "cgen.h"

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

KernelFn cg_qpool_kernel(Op op) {
    switch (op) {
    case OP_AVG_POOL: return emit_avg_pool;
    case OP_GLOBAL_AVG_POOL: return emit_global_avg_pool;
    default: return NULL;
    }
}
