/* qkernels_conv.c: integer CONV (1-3 spatial dims, groups, strides, dilations, padding that
 * reads the input zero point), GEMM and MATMUL for the portable C backend, and the unlowered
 * ConvInteger/MatMulInteger whose zero points are run-time tensors. Each emitter writes
 * plain loops with literal bounds and int32 accumulation, then requantizes per output channel.
 *
 * Accumulator bound: |x*w| <= 255*128 and the window has K <= 2^16 terms (checked by the
 * passes), so |sum| < 2^31 - |c3|; the zw*sum(x) correction is bounded the same way. */
#include "qfast.h"

bool cg_qconv_depthwise_nhwc(CGen *cg, const Node *n);   /* qdwconv.c */
bool cg_qconv_depthwise_planar(CGen *cg, const Node *n); /* qdwconv.c */

/* Weight zero points of tensor w along its channel axis as a C expression for channel `idx`:
 * NULL when all are zero (the sum(x) term is then not emitted). */
static const char *weight_zp(CGen *cg, const Tensor *w, int channels, const char *idx) {
    bool any = false;
    for (int i = 0; i < w->q.n; i++)
        any = any || w->q.zero_point[i] != 0;
    if (!any)
        return NULL;
    if (w->q.n == 1)
        return cg_i32(cg, w->q.zero_point[0]);
    QCC_ASSERT(w->q.n == channels);
    cg_line(cg, 1, "static const int32_t zw[%d] = {", channels);
    StrBuf *sb = cg->sb;
    sb_puts(sb, "       ");
    for (int i = 0; i < channels; i++)
        sb_printf(sb, " %ld%s", (long)w->q.zero_point[i], i + 1 < channels ? "," : "");
    sb_puts(sb, "\n    };\n");
    return cg_fmt(cg, "zw[%s]", idx);
}

/* "y0[i] = (T)requant(acc)" or the raw accumulator for int32 outputs. c3 is indexed by
 * `bias` (the channel, or row and column when the bias varies along rows too), the
 * multiplier by `chan`. */
static void store_result(CGen *cg, const Node *n, int indent, const char *dst, const char *chan,
                         const char *bias) {
    const Tensor *y = cg_tout(cg, n, 0);
    if (n->q.nbias > 0)
        cg_line(cg, indent, "acc += %s[%s];", cg_node_array(cg, n, "c3"),
                n->q.nbias > 1 ? bias : "0");
    if (y->dtype == DT_INT32)
        cg_line(cg, indent, "%s = acc;", dst);
    else
        cg_line(cg, indent, "%s = (%s)%s;", dst, dtype_ctype(y->dtype),
                cg_requant(cg, n, 0, "acc", chan));
}

/* CONV in channels-last form (n->nhwc, passes/layout.c): x [N][H][W][Cin], y [N][OH][OW][Cout],
 * w still OIHW. The portable loop for what the fast kernels leave: any group, padding reads
 * zx, same arithmetic and store as emit_conv. */
static bool emit_conv_nhwc_loop(CGen *cg, const Node *n) {
    const Tensor *x = cg_tin(cg, n, 0), *w = cg_tin(cg, n, 1), *y = cg_tout(cg, n, 0);
    const ConvAttr *a = &n->a.conv;
    int64_t H = x->shape[1], W = x->shape[2], cin = x->shape[3];
    int64_t oh = y->shape[1], ow = y->shape[2], cout = y->shape[3];
    int64_t group = a->group > 0 ? a->group : 1, cin_g = w->shape[1], cout_g = cout / group;
    int64_t kh = w->shape[2], kw = w->shape[3];
    bool padded = a->pad[0] || a->pad[1] || a->pad[2] || a->pad[3];
    const char *wname = cg_in(cg, n, 1), *xname = cg_in(cg, n, 0);
    int32_t zx = cg_zp(x);
    const char *zw = weight_zp(cg, w, (int)cout, "out_c");
    cg_line(cg, 1, "/* NHWC: acc = sum x*w%s + c3[out_c]; padding reads zx = %ld (the real 0) */",
            zw ? " - zw*sum(x)" : "", (long)zx);
    cg_line(cg, 1, "for (int batch = 0; batch < %lld; batch++) {", (long long)x->shape[0]);
    cg_line(cg, 2, "for (int out_y = 0; out_y < %lld; out_y++) {", (long long)oh);
    cg_line(cg, 3, "for (int out_x = 0; out_x < %lld; out_x++) {", (long long)ow);
    cg_line(cg, 4, "for (int out_c = 0; out_c < %lld; out_c++) {", (long long)cout);
    if (group > 1)
        cg_line(cg, 5, "const int in_c0 = out_c / %lld * %lld;", (long long)cout_g,
                (long long)cin_g);
    cg_line(cg, 5, "int32_t acc = 0;");
    if (zw)
        cg_line(cg, 5, "int32_t sum_x = 0;");
    cg_line(cg, 5, "for (int k_y = 0; k_y < %lld; k_y++) {", (long long)kh);
    cg_line(cg, 6, "const int in_y = out_y * %lld - %lld + k_y * %lld;", (long long)a->stride[0],
            (long long)a->pad[0], (long long)a->dilation[0]);
    cg_line(cg, 6, "for (int k_x = 0; k_x < %lld; k_x++) {", (long long)kw);
    cg_line(cg, 7, "const int in_x = out_x * %lld - %lld + k_x * %lld;", (long long)a->stride[1],
            (long long)a->pad[1], (long long)a->dilation[1]);
    if (padded)
        cg_line(cg, 7, "const int inside = in_y >= 0 && in_y < %lld && in_x >= 0 && in_x < %lld;",
                (long long)H, (long long)W);
    cg_line(cg, 7, "for (int in_c = 0; in_c < %lld; in_c++) {", (long long)cin_g);
    const char *xi = cg_fmt(cg, "%s[((batch * %lld + in_y) * %lld + in_x) * %lld + %sin_c]", xname,
                            (long long)H, (long long)W, (long long)cin,
                            group > 1 ? "in_c0 + " : "");
    if (padded)
        cg_line(cg, 8, "const int32_t xv = inside ? (int32_t)%s : %ld;", xi, (long)zx);
    else
        cg_line(cg, 8, "const int32_t xv = %s;", xi);
    cg_line(cg, 8, "acc += xv * (int32_t)%s[out_c * %lld + in_c * %lld + k_y * %lld + k_x];",
            wname, (long long)(cin_g * kh * kw), (long long)(kh * kw), (long long)kw);
    if (zw)
        cg_line(cg, 8, "sum_x += xv;");
    cg_line(cg, 7, "}");
    cg_line(cg, 6, "}");
    cg_line(cg, 5, "}");
    if (zw)
        cg_line(cg, 5, "acc -= %s * sum_x;", zw);
    store_result(cg, n, 5, cg_fmt(cg, "%s[((batch * %lld + out_y) * %lld + out_x) * %lld + out_c]",
                                  cg_out(cg, n, 0), (long long)oh, (long long)ow,
                                  (long long)cout), "out_c", "out_c");
    for (int ind = 4; ind >= 1; ind--)
        cg_line(cg, ind, "}");
    return true;
}

/* Channels-last CONV: dense (group 1) to the register-blocked kernels of qconv_fast.c,
 * depthwise (group == Cin == Cout) to qdwconv.c, anything they decline to the loop above. */
static bool emit_conv_nhwc(CGen *cg, const Node *n) {
    const Tensor *x = cg_tin(cg, n, 0), *w = cg_tin(cg, n, 1), *y = cg_tout(cg, n, 0);
    if (x->rank != 4 || w->rank != 4 || y->rank != 4 || !tensor_is_const(w))
        return diag_error(cg->d, "node '%s' (%s): channels-last conv needs 4-d tensors and a "
                          "constant weight", n->name, op_name(n->op));
    int64_t group = n->a.conv.group > 0 ? n->a.conv.group : 1;
    int errors = cg->d->errors;
    if (group == 1 && cg_qconv_dense_nhwc(cg, n))
        return true;
    if (group > 1 && group == x->shape[3] && group == y->shape[3] && cg_qconv_depthwise_nhwc(cg, n))
        return true;
    if (cg->d->errors != errors)
        return false;
    return emit_conv_nhwc_loop(cg, n);
}

/* CONV: NCHW (1-3 spatial dims) below, channels-last 2-d above. */
static bool emit_conv(CGen *cg, const Node *n) {
    if (n->nhwc)
        return emit_conv_nhwc(cg, n);
    const Tensor *x = cg_tin(cg, n, 0), *w = cg_tin(cg, n, 1), *y = cg_tout(cg, n, 0);
    const ConvAttr *a = &n->a.conv;
    int ns = x->rank - 2;
    if (ns < 1 || ns > 3 || w->rank != x->rank || y->rank != x->rank || !tensor_is_const(w))
        return diag_error(cg->d, "node '%s' (%s): quantized conv needs a constant weight and "
                          "1 to 3 spatial dims", n->name, op_name(n->op));
    int64_t cout = y->shape[1], group = a->group > 0 ? a->group : 1;
    if (group > 1 && cg_qconv_depthwise_planar(cg, n)) /* qdwconv.c's NCHW depthwise */
        return true;
    if (group == 1 && cg_qconv_pointwise_planar(cg, n)) /* qconv_pw.c's NCHW GEMM */
        return true;
    int64_t cin_g = w->shape[1], cout_g = cout / group;
    int64_t xs[QCC_MAX_RANK], ws[QCC_MAX_RANK], ys[QCC_MAX_RANK];
    xs[x->rank - 1] = ws[x->rank - 1] = ys[x->rank - 1] = 1;
    for (int i = x->rank - 2; i >= 0; i--) {
        xs[i] = xs[i + 1] * x->shape[i + 1];
        ws[i] = ws[i + 1] * w->shape[i + 1];
        ys[i] = ys[i + 1] * y->shape[i + 1];
    }
    bool padded = false;
    for (int i = 0; i < 2 * ns; i++)
        padded = padded || a->pad[i] != 0;
    const char *const *sp = cg_spatial_names(ns);
    const char *wname = cg_in(cg, n, 1), *xname = cg_in(cg, n, 0);
    int32_t zx = cg_zp(x);
    const char *zw = weight_zp(cg, w, (int)cout, "out_c");

    cg_line(cg, 1, "/* acc = sum x*w%s + c3[out_c]; padding reads zx = %ld (the real 0) */",
            zw ? " - zw*sum(x)" : "", (long)zx);
    cg_line(cg, 1, "for (int batch = 0; batch < %lld; batch++) {", (long long)x->shape[0]);
    cg_line(cg, 2, "for (int out_c = 0; out_c < %lld; out_c++) {", (long long)cout);
    if (group > 1)
        cg_line(cg, 3, "const int in_c0 = out_c / %lld * %lld;", (long long)cout_g,
                (long long)cin_g);
    int ind = 3;
    for (int d = 0; d < ns; d++, ind++)
        cg_line(cg, ind, "for (int out_%s = 0; out_%s < %lld; out_%s++) {", sp[d], sp[d],
                (long long)y->shape[2 + d], sp[d]);
    int body = ind;
    cg_line(cg, body, "int32_t acc = 0;");
    if (zw)
        cg_line(cg, body, "int32_t sum_x = 0;");
    cg_line(cg, ind, "for (int in_c = 0; in_c < %lld; in_c++) {", (long long)cin_g);
    ind++;
    StrBuf cond;
    sb_init(&cond);
    for (int d = 0; d < ns; d++, ind++) {
        cg_line(cg, ind, "for (int k_%s = 0; k_%s < %lld; k_%s++) {", sp[d], sp[d],
                (long long)a->kernel[d] > 0 ? (long long)a->kernel[d] : (long long)w->shape[2 + d],
                sp[d]);
        cg_line(cg, ind + 1, "const int in_%s = out_%s * %lld - %lld + k_%s * %lld;", sp[d], sp[d],
                (long long)(a->stride[d] > 0 ? a->stride[d] : 1), (long long)a->pad[d], sp[d],
                (long long)(a->dilation[d] > 0 ? a->dilation[d] : 1));
        sb_printf(&cond, "%sin_%s >= 0 && in_%s < %lld", d ? " && " : "", sp[d], sp[d],
                  (long long)x->shape[2 + d]);
    }
    StrBuf xi, wi;
    sb_init(&xi);
    sb_init(&wi);
    sb_printf(&xi, "batch * %lld + (%sin_c) * %lld", (long long)xs[0], group > 1 ? "in_c0 + " : "",
              (long long)xs[1]);
    sb_printf(&wi, "out_c * %lld + in_c * %lld", (long long)ws[0], (long long)ws[1]);
    for (int d = 0; d < ns; d++) {
        sb_printf(&xi, " + in_%s * %lld", sp[d], (long long)xs[2 + d]);
        sb_printf(&wi, " + k_%s * %lld", sp[d], (long long)ws[2 + d]);
    }
    if (padded)
        cg_line(cg, ind, "const int32_t xv = (%s) ? (int32_t)%s[%s] : %ld;", cond.data, xname,
                xi.data, (long)zx);
    else
        cg_line(cg, ind, "const int32_t xv = %s[%s];", xname, xi.data);
    cg_line(cg, ind, "acc += xv * (int32_t)%s[%s];", wname, wi.data);
    if (zw)
        cg_line(cg, ind, "sum_x += xv;");
    sb_free(&cond);
    sb_free(&xi);
    sb_free(&wi);
    for (ind--; ind >= body; ind--)
        cg_line(cg, ind, "}");
    ind = body;
    if (zw)
        cg_line(cg, ind, "acc -= %s * sum_x;", zw);
    StrBuf yi;
    sb_init(&yi);
    sb_printf(&yi, "%s[batch * %lld + out_c * %lld", cg_out(cg, n, 0), (long long)ys[0],
              (long long)ys[1]);
    for (int d = 0; d < ns; d++)
        sb_printf(&yi, " + out_%s * %lld", sp[d], (long long)ys[2 + d]);
    sb_putc(&yi, ']');
    store_result(cg, n, ind, yi.data, "out_c", "out_c");
    sb_free(&yi);
    for (ind--; ind >= 1; ind--)
        cg_line(cg, ind, "}");
    return true;
}

/* GEMM (2-d, trans_a/trans_b) and MATMUL (batched A; B 2-d or batched) share this loop nest:
 * acc[m][n] = sum_k A*B - zb[n]*sum_k A + c3[n] with a constant B, or
 * sum_k (A-za)*(B-zb) (+ c3 if present) with a computed B. */
static bool emit_matmul_common(CGen *cg, const Node *n, bool trans_a, bool trans_b) {
    const Tensor *ta = cg_tin(cg, n, 0), *tb = cg_tin(cg, n, 1), *ty = cg_tout(cg, n, 0);
    if (ta->rank < 1 || tb->rank < 1)
        return diag_error(cg->d, "node '%s' (%s): scalar operands", n->name, op_name(n->op));
    int64_t k_dim = trans_a ? ta->shape[ta->rank - 2] : ta->shape[ta->rank - 1];
    int64_t m_dim = ta->rank >= 2 ? (trans_a ? ta->shape[ta->rank - 1] : ta->shape[ta->rank - 2])
                                  : 1;
    int64_t n_dim = tb->rank >= 2 ? (trans_b ? tb->shape[tb->rank - 2] : tb->shape[tb->rank - 1])
                                  : 1;
    int64_t batch = m_dim * n_dim > 0 ? tensor_numel(ty) / (m_dim * n_dim) : 0;
    int64_t a_batch = ta->rank > 2 ? tensor_numel(ta) / (m_dim * k_dim) : 1;
    int64_t b_batch = tb->rank > 2 ? tensor_numel(tb) / (k_dim * n_dim) : 1;
    if ((a_batch != 1 && a_batch != batch) || (b_batch != 1 && b_batch != batch))
        return diag_error(cg->d, "node '%s' (%s): broadcast of batch dims not supported",
                          n->name, op_name(n->op));
    /* c3 (nbias > 0) holds the za terms of a constant 2-d B; without it (a computed B, or
     * a batched constant B whose sum over k differs per batch) both zero points stay in the
     * loop. */
    bool folded = tensor_is_const(tb) && n->q.nbias > 0; /* za terms folded into c3 */
    const char *an = cg_in(cg, n, 0), *bn = cg_in(cg, n, 1);
    int32_t za = cg_zp(ta);
    const char *zb = NULL;
    if (folded) {
        zb = weight_zp(cg, tb, (int)n_dim, "col");
    } else if (tb->q.n > 1) {
        if (!tensor_is_const(tb) || tb->q.n != n_dim)
            return diag_error(cg->d, "node '%s' (%s): per-axis zero point on a computed B",
                              n->name, op_name(n->op));
        zb = weight_zp(cg, tb, (int)n_dim, "col");
        zb = zb ? zb : "0";
    } else {
        zb = cg_i32(cg, cg_zp(tb));
    }
    const char *a_idx = trans_a ? "k * %lld + row" : "row * %lld + k";
    const char *b_idx = trans_b ? "col * %lld + k" : "k * %lld + col";
    cg_line(cg, 1, "/* %s */", folded ? "acc = sum A*B - zb*sum(A) + c3 (c3 holds bias and za "
                                         "terms)" : "acc = sum (A-za)*(B-zb)");
    cg_line(cg, 1, "for (int mat = 0; mat < %lld; mat++) {", (long long)batch);
    cg_line(cg, 2, "for (int row = 0; row < %lld; row++) {", (long long)m_dim);
    cg_line(cg, 3, "for (int col = 0; col < %lld; col++) {", (long long)n_dim);
    cg_line(cg, 4, "int32_t acc = 0;");
    if (folded && zb)
        cg_line(cg, 4, "int32_t sum_a = 0;");
    cg_line(cg, 4, "for (int k = 0; k < %lld; k++) {", (long long)k_dim);
    char fmt[128];
    snprintf(fmt, sizeof fmt, "%%s[mat * %%lld + %s]", a_idx);
    const char *aval = cg_fmt(cg, fmt, an, (long long)(a_batch > 1 ? m_dim * k_dim : 0),
                              (long long)(trans_a ? m_dim : k_dim));
    snprintf(fmt, sizeof fmt, "%%s[mat * %%lld + %s]", b_idx);
    const char *bval = cg_fmt(cg, fmt, bn, (long long)(b_batch > 1 ? k_dim * n_dim : 0),
                              (long long)(trans_b ? k_dim : n_dim));
    if (folded) {
        cg_line(cg, 5, "const int32_t a = %s;", aval);
        cg_line(cg, 5, "acc += a * (int32_t)%s;", bval);
        if (zb)
            cg_line(cg, 5, "sum_a += a;");
    } else {
        cg_line(cg, 5, "acc += ((int32_t)%s - %ld) * ((int32_t)%s - %s);", aval, (long)za, bval,
                zb);
    }
    cg_line(cg, 4, "}");
    if (folded && zb)
        cg_line(cg, 4, "acc -= %s * sum_a;", zb);
    const char *bias_idx = n->q.nbias > n_dim ? cg_fmt(cg, "row * %lld + col", (long long)n_dim)
                                              : "col";
    store_result(cg, n, 4,
                 cg_fmt(cg, "%s[(mat * %lld + row) * %lld + col]", cg_out(cg, n, 0),
                        (long long)m_dim, (long long)n_dim), "col", bias_idx);
    cg_line(cg, 3, "}");
    cg_line(cg, 2, "}");
    cg_line(cg, 1, "}");
    return true;
}

/* GEMM / MATMUL: the fast kernels of qconv_fast.c first; false there without a diagnostic
 * means "not this form": the portable loop runs. */
static bool emit_gemm(CGen *cg, const Node *n) {
    int errors = cg->d->errors;
    if (cg_qgemm_fast(cg, n))
        return true;
    if (cg->d->errors != errors)
        return false;
    return emit_matmul_common(cg, n, n->a.gemm.trans_a, n->a.gemm.trans_b);
}

static bool emit_matmul(CGen *cg, const Node *n) {
    int errors = cg->d->errors;
    if (cg_qgemm_fast(cg, n))
        return true;
    if (cg->d->errors != errors)
        return false;
    return emit_matmul_common(cg, n, false, false);
}

/* ---- ConvInteger / MatMulInteger with run-time zero points ------------------------------- */

/* Zero point input k of an unlowered ConvInteger/MatMulInteger as an int32 C expression for
 * element `idx` (used when the input has more than one element): a literal when constant and
 * scalar, "0" when absent, else a read of the constant array or of the parameter x<k>. */
static const char *integer_zp(CGen *cg, const Node *n, int k, const char *idx) {
    if (k >= n->nin || n->in[k] < 0)
        return "0";
    const Tensor *z = cg_tin(cg, n, k);
    bool scalar = tensor_numel(z) == 1;
    if (tensor_is_const(z) && scalar)
        return cg_i32(cg, (int32_t)tensor_get_i(z, 0));
    return cg_fmt(cg, "(int32_t)%s[%s]", cg_in(cg, n, k), scalar ? "0" : idx);
}

/* ConvInteger(x, w, [xz], [wz]) -> int32: acc = sum (x - xz) * (w - wz[out_c]), padding is
 * the real zero (it contributes nothing, as ONNX and ONNX Runtime pad x with xz).
 * Bound: |x - xz|, |w - wz| <= 255, so K <= 33025 terms keep |acc| < 2^31. */
static bool emit_conv_integer(CGen *cg, const Node *n) {
    const Tensor *x = cg_tin(cg, n, 0), *w = cg_tin(cg, n, 1), *y = cg_tout(cg, n, 0);
    const ConvAttr *a = &n->a.conv;
    int ns = x->rank - 2;
    if (ns < 1 || ns > 3 || w->rank != x->rank || y->rank != x->rank || y->dtype != DT_INT32)
        return diag_error(cg->d, "node '%s' (%s): needs 1 to 3 spatial dims and an int32 "
                          "output", n->name, op_name(n->op));
    if (n->nin > 2 && n->in[2] >= 0 && tensor_numel(cg_tin(cg, n, 2)) != 1)
        return diag_error(cg->d, "node '%s' (%s): x_zero_point must be a scalar", n->name,
                          op_name(n->op));
    int64_t cout = y->shape[1], group = a->group > 0 ? a->group : 1;
    int64_t cin_g = w->shape[1], cout_g = cout / group;
    if (n->nin > 3 && n->in[3] >= 0) {
        int64_t nz = tensor_numel(cg_tin(cg, n, 3));
        if (nz != 1 && nz != cout)
            return diag_error(cg->d, "node '%s' (%s): w_zero_point needs 1 or %lld elements",
                              n->name, op_name(n->op), (long long)cout);
    }
    int64_t xs[QCC_MAX_RANK], ws[QCC_MAX_RANK], ys[QCC_MAX_RANK];
    xs[x->rank - 1] = ws[x->rank - 1] = ys[x->rank - 1] = 1;
    for (int i = x->rank - 2; i >= 0; i--) {
        xs[i] = xs[i + 1] * x->shape[i + 1];
        ws[i] = ws[i + 1] * w->shape[i + 1];
        ys[i] = ys[i + 1] * y->shape[i + 1];
    }
    const char *const *sp = cg_spatial_names(ns);
    const char *xname = cg_in(cg, n, 0), *wname = cg_in(cg, n, 1);
    cg_line(cg, 1, "/* ONNX ConvInteger: acc = sum (x - zx) * (w - zw[out_c]); padding "
                   "contributes 0 */");
    cg_line(cg, 1, "const int32_t zx = %s;", integer_zp(cg, n, 2, "0"));
    cg_line(cg, 1, "for (int batch = 0; batch < %lld; batch++) {", (long long)x->shape[0]);
    cg_line(cg, 2, "for (int out_c = 0; out_c < %lld; out_c++) {", (long long)cout);
    cg_line(cg, 3, "const int32_t zw = %s;", integer_zp(cg, n, 3, "out_c"));
    if (group > 1)
        cg_line(cg, 3, "const int in_c0 = out_c / %lld * %lld;", (long long)cout_g,
                (long long)cin_g);
    int ind = 3;
    for (int d = 0; d < ns; d++, ind++)
        cg_line(cg, ind, "for (int out_%s = 0; out_%s < %lld; out_%s++) {", sp[d], sp[d],
                (long long)y->shape[2 + d], sp[d]);
    int body = ind;
    cg_line(cg, body, "int32_t acc = 0;");
    cg_line(cg, ind, "for (int in_c = 0; in_c < %lld; in_c++) {", (long long)cin_g);
    ind++;
    StrBuf cond, xi, wi, yi;
    sb_init(&cond);
    sb_init(&xi);
    sb_init(&wi);
    sb_init(&yi);
    bool padded = false;
    for (int d = 0; d < 2 * ns; d++)
        padded = padded || a->pad[d] != 0;
    for (int d = 0; d < ns; d++, ind++) {
        cg_line(cg, ind, "for (int k_%s = 0; k_%s < %lld; k_%s++) {", sp[d], sp[d],
                (long long)w->shape[2 + d], sp[d]);
        cg_line(cg, ind + 1, "const int in_%s = out_%s * %lld - %lld + k_%s * %lld;", sp[d], sp[d],
                (long long)(a->stride[d] > 0 ? a->stride[d] : 1), (long long)a->pad[d], sp[d],
                (long long)(a->dilation[d] > 0 ? a->dilation[d] : 1));
        sb_printf(&cond, "%sin_%s >= 0 && in_%s < %lld", d ? " && " : "", sp[d], sp[d],
                  (long long)x->shape[2 + d]);
    }
    sb_printf(&xi, "batch * %lld + (%sin_c) * %lld", (long long)xs[0], group > 1 ? "in_c0 + " : "",
              (long long)xs[1]);
    sb_printf(&wi, "out_c * %lld + in_c * %lld", (long long)ws[0], (long long)ws[1]);
    sb_printf(&yi, "%s[batch * %lld + out_c * %lld", cg_out(cg, n, 0), (long long)ys[0],
              (long long)ys[1]);
    for (int d = 0; d < ns; d++) {
        sb_printf(&xi, " + in_%s * %lld", sp[d], (long long)xs[2 + d]);
        sb_printf(&wi, " + k_%s * %lld", sp[d], (long long)ws[2 + d]);
        sb_printf(&yi, " + out_%s * %lld", sp[d], (long long)ys[2 + d]);
    }
    if (padded)
        cg_line(cg, ind, "if (!(%s))\n%*scontinue;", cond.data, 4 * ind + 4, "");
    cg_line(cg, ind, "acc += ((int32_t)%s[%s] - zx) *", xname, xi.data);
    cg_line(cg, ind, "       ((int32_t)%s[%s] - zw);", wname, wi.data);
    for (ind--; ind >= body; ind--)
        cg_line(cg, ind, "}");
    cg_line(cg, body, "%s] = acc;", yi.data);
    for (ind = body - 1; ind >= 1; ind--)
        cg_line(cg, ind, "}");
    sb_free(&cond);
    sb_free(&xi);
    sb_free(&wi);
    sb_free(&yi);
    return true;
}

/* MatMulInteger(A, B, [az], [bz]) -> int32: numpy matmul of (A - az[row]) and (B - bz[col]),
 * batch dims broadcast. Bound as ConvInteger: K <= 33025. */
static bool emit_matmul_integer(CGen *cg, const Node *n) {
    const Tensor *ta = cg_tin(cg, n, 0), *tb = cg_tin(cg, n, 1), *ty = cg_tout(cg, n, 0);
    if (ta->rank < 1 || tb->rank < 1 || ty->dtype != DT_INT32)
        return diag_error(cg->d, "node '%s' (%s): needs non-scalar operands and an int32 "
                          "output", n->name, op_name(n->op));
    int64_t k_dim = ta->shape[ta->rank - 1];
    int64_t m_dim = ta->rank >= 2 ? ta->shape[ta->rank - 2] : 1;
    int64_t n_dim = tb->rank >= 2 ? tb->shape[tb->rank - 1] : 1;
    if ((tb->rank >= 2 ? tb->shape[tb->rank - 2] : tb->shape[0]) != k_dim)
        return diag_error(cg->d, "node '%s' (%s): inner dimensions differ", n->name,
                          op_name(n->op));
    for (int k = 2; k < n->nin && k < 4; k++) {
        if (n->in[k] < 0)
            continue;
        int64_t nz = tensor_numel(cg_tin(cg, n, k)), want = k == 2 ? m_dim : n_dim;
        if (nz != 1 && nz != want)
            return diag_error(cg->d, "node '%s' (%s): %s zero point needs 1 or %lld elements",
                              n->name, op_name(n->op), k == 2 ? "A" : "B", (long long)want);
    }
    /* Batch dims: the output's leading dims; A and B broadcast into them (stride 0 on a
     * missing or size-1 dim). */
    int nbatch = ty->rank - (ta->rank >= 2) - (tb->rank >= 2);
    if (nbatch < 0)
        nbatch = 0;
    int64_t a_mat = m_dim * k_dim, b_mat = k_dim * n_dim;
    int64_t a_str[QCC_MAX_RANK], b_str[QCC_MAX_RANK];
    int64_t a_acc = a_mat, b_acc = b_mat;
    for (int d = nbatch - 1; d >= 0; d--) {
        int ad = ta->rank - 2 - (nbatch - d), bd = tb->rank - 2 - (nbatch - d);
        int64_t as = ad >= 0 ? ta->shape[ad] : 1, bs = bd >= 0 ? tb->shape[bd] : 1;
        a_str[d] = as == 1 ? 0 : a_acc;
        b_str[d] = bs == 1 ? 0 : b_acc;
        a_acc *= as;
        b_acc *= bs;
        if ((as != 1 && as != ty->shape[d]) || (bs != 1 && bs != ty->shape[d]))
            return diag_error(cg->d, "node '%s' (%s): batch dims do not broadcast", n->name,
                              op_name(n->op));
    }
    const char *an = cg_in(cg, n, 0), *bn = cg_in(cg, n, 1);
    cg_line(cg, 1, "/* ONNX MatMulInteger: acc = sum_k (A - za[row]) * (B - zb[col]) */");
    StrBuf aoff, boff;
    sb_init(&aoff);
    sb_init(&boff);
    cg_line(cg, 1, "int32_t *out = %s;", cg_out(cg, n, 0));
    int ind = 1;
    for (int d = 0; d < nbatch; d++, ind++) {
        cg_line(cg, ind, "for (int b%d = 0; b%d < %lld; b%d++) {", d, d,
                (long long)ty->shape[d], d);
        if (a_str[d])
            sb_printf(&aoff, "b%d * %lld + ", d, (long long)a_str[d]);
        if (b_str[d])
            sb_printf(&boff, "b%d * %lld + ", d, (long long)b_str[d]);
    }
    cg_line(cg, ind, "for (int row = 0; row < %lld; row++) {", (long long)m_dim);
    cg_line(cg, ind + 1, "const int32_t za = %s;", integer_zp(cg, n, 2, "row"));
    cg_line(cg, ind + 1, "for (int col = 0; col < %lld; col++) {", (long long)n_dim);
    cg_line(cg, ind + 2, "const int32_t zb = %s;", integer_zp(cg, n, 3, "col"));
    cg_line(cg, ind + 2, "int32_t acc = 0;");
    cg_line(cg, ind + 2, "for (int k = 0; k < %lld; k++)", (long long)k_dim);
    cg_line(cg, ind + 3, "acc += ((int32_t)%s[%srow * %lld + k] - za) *", an,
            aoff.len ? aoff.data : "", (long long)k_dim);
    cg_line(cg, ind + 3, "       ((int32_t)%s[%sk * %lld + col] - zb);", bn,
            boff.len ? boff.data : "", (long long)n_dim);
    cg_line(cg, ind + 2, "*out++ = acc;");
    cg_line(cg, ind + 1, "}");
    cg_line(cg, ind, "}");
    for (ind--; ind >= 1; ind--)
        cg_line(cg, ind, "}");
    sb_free(&aoff);
    sb_free(&boff);
    return true;
}

KernelFn cg_qconv_kernel(Op op) {
    switch (op) {
    case OP_CONV: return emit_conv;
    case OP_GEMM: return emit_gemm;
    case OP_MATMUL: return emit_matmul;
    case OP_CONV_INTEGER: return emit_conv_integer;
    case OP_MATMUL_INTEGER: return emit_matmul_integer;
    default: return NULL;
    }
}
