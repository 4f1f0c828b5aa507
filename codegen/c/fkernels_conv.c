/* fkernels_conv.c: C bodies of the float linear-algebra ops (Conv 1/2/3-d with groups,
 * strides, dilations and pads; ConvTranspose; Gemm; MatMul with numpy broadcasting;
 * inference BatchNormalization) and cg_float_kernel, the float kernel table of all three
 * fkernels_*.c files. Float math stays in float: the node tests allow rtol 1e-3. */
#include "cgen.h"

#include <stdio.h>
#include <string.h>

#define CV_BUF 1024 /* one index expression */

/* The other float kernel files' tables (fkernels_eltwise.c, fkernels_pool.c). */
KernelFn cg_float_eltwise_kernel(Op op);
KernelFn cg_float_pool_kernel(Op op);

static bool cv_has_input(const Node *n, int k) {
    return k < n->nin && n->in[k] >= 0;
}

static void cv_idx_end(char *buf, size_t cap) {
    if (!buf[0])
        snprintf(buf, cap, "0");
}

/* Input coordinate along spatial axis d: out * stride - pad_begin + k * dilation. */
static void cv_coord(char *buf, size_t cap, const char *axis, int64_t stride, int64_t pad,
                     int64_t dil, const char *from, const char *to) {
    char s[64] = "", k[64] = "";
    if (stride == 1)
        snprintf(s, sizeof s, "%s_%s", from, axis);
    else
        snprintf(s, sizeof s, "%s_%s * %lld", from, axis, (long long)stride);
    if (dil == 1)
        snprintf(k, sizeof k, "k_%s", axis);
    else
        snprintf(k, sizeof k, "k_%s * %lld", axis, (long long)dil);
    if (pad > 0)
        snprintf(buf, cap, "const int %s_%s = %s - %lld + %s;", to, axis, s, (long long)pad, k);
    else
        snprintf(buf, cap, "const int %s_%s = %s + %s;", to, axis, s, k);
}

/* CONV: x [N, C, S...], w [M, C/group, K...], optional bias [M] -> y [N, M, O...].
 * Direct convolution; taps outside the input are skipped (zero padding), and the bounds
 * test is left out on axes where no tap can fall outside. */
static bool cv_conv(CGen *cg, const Node *n) {
    const Tensor *x = cg_tensor(cg, n->in[0]), *w = cg_tensor(cg, n->in[1]);
    const Tensor *y = cg_tensor(cg, n->out[0]);
    const ConvAttr *a = &n->a.conv;
    int ns = x->rank - 2;
    if (ns < 1 || ns > 3 || w->rank != x->rank || a->group < 1)
        return diag_error(cg->d, "node '%s' (Conv): unsupported rank %d", n->name, x->rank);
    int64_t in_c = x->shape[1], out_c = y->shape[1];
    int64_t cg_in_c = in_c / a->group, cg_out_c = out_c / a->group;
    int64_t in_sp = 1, out_sp = 1, k_sp = 1;
    for (int d = 0; d < ns; d++) {
        in_sp *= x->shape[2 + d];
        out_sp *= y->shape[2 + d];
        k_sp *= w->shape[2 + d];
    }
    const char *const *ax = cg_spatial_names(ns);
    char line[CV_BUF], xi[CV_BUF] = "", wi[CV_BUF] = "", yi[CV_BUF] = "";
    int ind = 1;
    cg_line(cg, ind++, "for (int batch = 0; batch < %lld; batch++) {", (long long)y->shape[0]);
    cg_line(cg, ind++, "for (int out_c = 0; out_c < %lld; out_c++) {", (long long)out_c);
    if (a->group > 1)
        cg_line(cg, ind, "const int in_c0 = out_c / %lld * %lld; /* first channel of the group */",
                (long long)cg_out_c, (long long)cg_in_c);
    for (int d = 0; d < ns; d++)
        cg_line(cg, ind++, "for (int out_%s = 0; out_%s < %lld; out_%s++) {", ax[d], ax[d],
                (long long)y->shape[2 + d], ax[d]);
    if (cv_has_input(n, 2))
        cg_line(cg, ind, "float acc = %s[out_c];", cg_in(cg, n, 2));
    else
        cg_line(cg, ind, "float acc = 0.0f;");
    int body = ind;
    cg_line(cg, ind++, "for (int in_c = 0; in_c < %lld; in_c++) {", (long long)cg_in_c);
    int64_t sp_stride = in_sp, k_stride = k_sp;
    for (int d = 0; d < ns; d++) {
        int64_t ext = x->shape[2 + d];
        int64_t last = (y->shape[2 + d] - 1) * a->stride[d] - a->pad[d] +
                       (w->shape[2 + d] - 1) * a->dilation[d];
        cg_line(cg, ind++, "for (int k_%s = 0; k_%s < %lld; k_%s++) {", ax[d], ax[d],
                (long long)w->shape[2 + d], ax[d]);
        cv_coord(line, sizeof line, ax[d], a->stride[d], a->pad[d], a->dilation[d], "out", "in");
        cg_line(cg, ind, "%s", line);
        if (a->pad[d] > 0 || last >= ext)
            cg_line(cg, ind, "if (in_%s < 0 || in_%s >= %lld) continue;", ax[d], ax[d],
                    (long long)ext);
        sp_stride /= ext;
        k_stride /= w->shape[2 + d];
        char term[32];
        snprintf(term, sizeof term, "in_%s", ax[d]);
        cg_idx_add(xi, sizeof xi, term, sp_stride);
        snprintf(term, sizeof term, "k_%s", ax[d]);
        cg_idx_add(wi, sizeof wi, term, k_stride);
    }
    char xc[CV_BUF] = "";
    cg_idx_add(xc, sizeof xc, "batch", in_c * in_sp);
    cg_idx_add(xc, sizeof xc, a->group > 1 ? "in_c0 + in_c" : "in_c", in_sp);
    cg_idx_add(xc, sizeof xc, xi, 1);
    char wc[CV_BUF] = "";
    cg_idx_add(wc, sizeof wc, "out_c", cg_in_c * k_sp);
    cg_idx_add(wc, sizeof wc, "in_c", k_sp);
    cg_idx_add(wc, sizeof wc, wi, 1);
    cv_idx_end(xc, sizeof xc);
    cv_idx_end(wc, sizeof wc);
    cg_line(cg, ind, "acc += %s[%s] * %s[%s];", cg_in(cg, n, 0), xc, cg_in(cg, n, 1), wc);
    while (ind > body + 1)
        cg_line(cg, --ind, "}");
    cg_line(cg, body, "}");
    int64_t st = out_sp;
    cg_idx_add(yi, sizeof yi, "batch", out_c * out_sp);
    cg_idx_add(yi, sizeof yi, "out_c", out_sp);
    for (int d = 0; d < ns; d++) {
        char term[32];
        st /= y->shape[2 + d];
        snprintf(term, sizeof term, "out_%s", ax[d]);
        cg_idx_add(yi, sizeof yi, term, st);
    }
    cv_idx_end(yi, sizeof yi);
    cg_line(cg, body, "%s[%s] = acc;", cg_out(cg, n, 0), yi);
    for (ind = body - 1; ind >= 1; ind--)
        cg_line(cg, ind, "}");
    return true;
}

/* CONV_TRANSPOSE: x [N, C, S...], w [C, M/group, K...], optional bias [M] -> y [N, M, O...].
 * Scatter form: y starts at the bias, then every input element adds its contribution
 * x * w to y at in * stride - pad_begin + k * dilation, skipping positions outside y
 * (pads crop; output_padding positions only get the bias). */
static bool cv_conv_transpose(CGen *cg, const Node *n) {
    const Tensor *x = cg_tensor(cg, n->in[0]), *w = cg_tensor(cg, n->in[1]);
    const Tensor *y = cg_tensor(cg, n->out[0]);
    const ConvAttr *a = &n->a.conv;
    int ns = x->rank - 2;
    if (ns < 1 || ns > 3 || w->rank != x->rank || a->group < 1)
        return diag_error(cg->d, "node '%s' (ConvTranspose): unsupported rank %d", n->name,
                          x->rank);
    int64_t in_c = x->shape[1], out_c = y->shape[1];
    int64_t cg_in_c = in_c / a->group, cg_out_c = out_c / a->group;
    int64_t in_sp = 1, out_sp = 1, k_sp = 1;
    for (int d = 0; d < ns; d++) {
        in_sp *= x->shape[2 + d];
        out_sp *= y->shape[2 + d];
        k_sp *= w->shape[2 + d];
    }
    const char *const *ax = cg_spatial_names(ns);
    const char *yo = cg_out(cg, n, 0);
    /* y = bias */
    cg_line(cg, 1, "for (int batch = 0; batch < %lld; batch++)", (long long)y->shape[0]);
    cg_line(cg, 2, "for (int out_c = 0; out_c < %lld; out_c++)", (long long)out_c);
    cg_line(cg, 3, "for (int pos = 0; pos < %lld; pos++)", (long long)out_sp);
    if (cv_has_input(n, 2))
        cg_line(cg, 4, "%s[(batch * %lld + out_c) * %lld + pos] = %s[out_c];", yo,
                (long long)out_c, (long long)out_sp, cg_in(cg, n, 2));
    else
        cg_line(cg, 4, "%s[(batch * %lld + out_c) * %lld + pos] = 0.0f;", yo, (long long)out_c,
                (long long)out_sp);
    int ind = 1;
    char xi[CV_BUF] = "", wi[CV_BUF] = "", yi[CV_BUF] = "", line[CV_BUF];
    cg_line(cg, ind++, "for (int batch = 0; batch < %lld; batch++) {", (long long)y->shape[0]);
    cg_line(cg, ind++, "for (int in_c = 0; in_c < %lld; in_c++) {", (long long)in_c);
    if (a->group > 1)
        cg_line(cg, ind, "const int out_c0 = in_c / %lld * %lld; /* first channel of the group */",
                (long long)cg_in_c, (long long)cg_out_c);
    int64_t st = in_sp;
    cg_idx_add(xi, sizeof xi, "batch", in_c * in_sp);
    cg_idx_add(xi, sizeof xi, "in_c", in_sp);
    for (int d = 0; d < ns; d++) {
        char term[32];
        cg_line(cg, ind++, "for (int in_%s = 0; in_%s < %lld; in_%s++) {", ax[d], ax[d],
                (long long)x->shape[2 + d], ax[d]);
        st /= x->shape[2 + d];
        snprintf(term, sizeof term, "in_%s", ax[d]);
        cg_idx_add(xi, sizeof xi, term, st);
    }
    cv_idx_end(xi, sizeof xi);
    cg_line(cg, ind, "const float v = %s[%s];", cg_in(cg, n, 0), xi);
    int body = ind;
    cg_line(cg, ind++, "for (int oc = 0; oc < %lld; oc++) {", (long long)cg_out_c);
    int64_t ost = out_sp, kst = k_sp;
    for (int d = 0; d < ns; d++) {
        char term[32];
        cg_line(cg, ind++, "for (int k_%s = 0; k_%s < %lld; k_%s++) {", ax[d], ax[d],
                (long long)w->shape[2 + d], ax[d]);
        cv_coord(line, sizeof line, ax[d], a->stride[d], a->pad[d], a->dilation[d], "in", "out");
        cg_line(cg, ind, "%s", line);
        cg_line(cg, ind, "if (out_%s < 0 || out_%s >= %lld) continue;", ax[d], ax[d],
                (long long)y->shape[2 + d]);
        ost /= y->shape[2 + d];
        kst /= w->shape[2 + d];
        snprintf(term, sizeof term, "out_%s", ax[d]);
        cg_idx_add(yi, sizeof yi, term, ost);
        snprintf(term, sizeof term, "k_%s", ax[d]);
        cg_idx_add(wi, sizeof wi, term, kst);
    }
    char yc[CV_BUF] = "", wc[CV_BUF] = "";
    cg_idx_add(yc, sizeof yc, "batch", out_c * out_sp);
    cg_idx_add(yc, sizeof yc, a->group > 1 ? "out_c0 + oc" : "oc", out_sp);
    cg_idx_add(yc, sizeof yc, yi, 1);
    cg_idx_add(wc, sizeof wc, "in_c", cg_out_c * k_sp);
    cg_idx_add(wc, sizeof wc, "oc", k_sp);
    cg_idx_add(wc, sizeof wc, wi, 1);
    cv_idx_end(yc, sizeof yc);
    cv_idx_end(wc, sizeof wc);
    cg_line(cg, ind, "%s[%s] += v * %s[%s];", yo, yc, cg_in(cg, n, 1), wc);
    while (ind > body)
        cg_line(cg, --ind, "}");
    for (ind = body - 1; ind >= 1; ind--)
        cg_line(cg, ind, "}");
    return true;
}

/* GEMM: y[M, N] = alpha * A' B' + beta * C, C broadcast to [M, N] (rank 0, 1 or 2). */
static bool cv_gemm(CGen *cg, const Node *n) {
    const Tensor *ta = cg_tensor(cg, n->in[0]), *tb = cg_tensor(cg, n->in[1]);
    const Tensor *ty = cg_tensor(cg, n->out[0]);
    const GemmAttr *a = &n->a.gemm;
    if (ta->rank != 2 || tb->rank != 2 || ty->rank != 2)
        return diag_error(cg->d, "node '%s' (Gemm): operands must be 2-d", n->name);
    int64_t m = ty->shape[0], nn = ty->shape[1];
    int64_t k = a->trans_a ? ta->shape[0] : ta->shape[1];
    const char *A = cg_in(cg, n, 0), *B = cg_in(cg, n, 1), *Y = cg_out(cg, n, 0);
    char ai[64], bi[64], alpha[48] = "", cterm[CV_BUF] = "";
    if (a->trans_a)
        snprintf(ai, sizeof ai, "k * %lld + m", (long long)m);
    else
        snprintf(ai, sizeof ai, "m * %lld + k", (long long)k);
    if (a->trans_b)
        snprintf(bi, sizeof bi, "n * %lld + k", (long long)k);
    else
        snprintf(bi, sizeof bi, "k * %lld + n", (long long)nn);
    if (a->alpha != 1.0f) {
        StrBuf sb;
        sb_init(&sb);
        sb_float(&sb, a->alpha);
        snprintf(alpha, sizeof alpha, "%s * ", sb.data);
        sb_free(&sb);
    }
    if (cv_has_input(n, 2) && a->beta != 0.0f) {
        const Tensor *tc = cg_tensor(cg, n->in[2]);
        int64_t cn = tc->rank >= 1 ? tc->shape[tc->rank - 1] : 1;
        int64_t cm = tc->rank >= 2 ? tc->shape[tc->rank - 2] : 1;
        char ci[CV_BUF] = "";
        cg_idx_add(ci, sizeof ci, "m", cm > 1 ? cn : 0);
        cg_idx_add(ci, sizeof ci, "n", cn > 1 ? 1 : 0);
        cv_idx_end(ci, sizeof ci);
        StrBuf sb;
        sb_init(&sb);
        if (a->beta != 1.0f) {
            sb_float(&sb, a->beta);
            sb_puts(&sb, " * ");
        }
        snprintf(cterm, sizeof cterm, " + %s%s[%s]", sb.data ? sb.data : "", cg_in(cg, n, 2),
                 ci);
        sb_free(&sb);
    }
    cg_line(cg, 1, "for (int m = 0; m < %lld; m++) {", (long long)m);
    cg_line(cg, 2, "for (int n = 0; n < %lld; n++) {", (long long)nn);
    cg_line(cg, 3, "float acc = 0.0f;");
    cg_line(cg, 3, "for (int k = 0; k < %lld; k++)", (long long)k);
    cg_line(cg, 4, "acc += %s[%s] * %s[%s];", A, ai, B, bi);
    cg_line(cg, 3, "%s[m * %lld + n] = %sacc%s;", Y, (long long)nn, alpha, cterm);
    cg_line(cg, 2, "}");
    cg_line(cg, 1, "}");
    return true;
}

/* MATMUL: numpy semantics. A 1-d A is a row [1, K], a 1-d B a column [K, 1] (the removed
 * dims do not change the dense layout); leading batch dims broadcast. The m, k, n loop
 * order keeps the innermost loop contiguous in B and y so compilers vectorize it. */
static bool cv_matmul(CGen *cg, const Node *n) {
    const Tensor *ta = cg_tensor(cg, n->in[0]), *tb = cg_tensor(cg, n->in[1]);
    const Tensor *ty = cg_tensor(cg, n->out[0]);
    int64_t ash[QCC_MAX_RANK + 1], bsh[QCC_MAX_RANK + 1];
    int ra = ta->rank, rb = tb->rank;
    if (ra < 1 || rb < 1)
        return diag_error(cg->d, "node '%s' (MatMul): scalar operand", n->name);
    if (ra == 1) {
        ash[0] = 1, ash[1] = ta->shape[0], ra = 2;
    } else
        memcpy(ash, ta->shape, sizeof(int64_t) * (size_t)ra);
    if (rb == 1) {
        bsh[0] = tb->shape[0], bsh[1] = 1, rb = 2;
    } else
        memcpy(bsh, tb->shape, sizeof(int64_t) * (size_t)rb);
    int64_t m = ash[ra - 2], k = ash[ra - 1], nn = bsh[rb - 1];
    int nb = (ra > rb ? ra : rb) - 2;
    const char *ct = dtype_ctype(ty->dtype);
    const char *A = cg_in(cg, n, 0), *B = cg_in(cg, n, 1), *Y = cg_out(cg, n, 0);
    char aoff[CV_BUF] = "", boff[CV_BUF] = "", yoff[CV_BUF] = "";
    int64_t sa = m * k, sb = k * nn, sy = m * nn;
    for (int d = nb - 1; d >= 0; d--) {
        int da = d - (nb - (ra - 2)), db = d - (nb - (rb - 2));
        int64_t ea = da >= 0 ? ash[da] : 1, eb = db >= 0 ? bsh[db] : 1;
        int64_t ey = ea > eb ? ea : eb;
        char var[16];
        snprintf(var, sizeof var, "b%d", d);
        cg_idx_add(aoff, sizeof aoff, var, ea == 1 ? 0 : sa);
        cg_idx_add(boff, sizeof boff, var, eb == 1 ? 0 : sb);
        cg_idx_add(yoff, sizeof yoff, var, ey == 1 ? 0 : sy);
        sa *= ea, sb *= eb, sy *= ey;
    }
    int ind = 1;
    for (int d = 0; d < nb; d++) {
        int da = d - (nb - (ra - 2)), db = d - (nb - (rb - 2));
        int64_t ea = da >= 0 ? ash[da] : 1, eb = db >= 0 ? bsh[db] : 1;
        cg_line(cg, ind, "for (int b%d = 0; b%d < %lld; b%d++) {", d, d,
                (long long)(ea > eb ? ea : eb), d);
        ind++;
    }
    cv_idx_end(aoff, sizeof aoff);
    cv_idx_end(boff, sizeof boff);
    cv_idx_end(yoff, sizeof yoff);
    cg_line(cg, ind, "const %s *a_mat = %s + %s;", ct, A, aoff);
    cg_line(cg, ind, "const %s *b_mat = %s + %s;", ct, B, boff);
    cg_line(cg, ind, "%s *y_mat = %s + %s;", ct, Y, yoff);
    cg_line(cg, ind, "for (int m = 0; m < %lld; m++) {", (long long)m);
    cg_line(cg, ind + 1, "for (int n = 0; n < %lld; n++)", (long long)nn);
    cg_line(cg, ind + 2, "y_mat[m * %lld + n] = 0;", (long long)nn);
    cg_line(cg, ind + 1, "for (int k = 0; k < %lld; k++) {", (long long)k);
    cg_line(cg, ind + 2, "const %s a_mk = a_mat[m * %lld + k];", ct, (long long)k);
    cg_line(cg, ind + 2, "for (int n = 0; n < %lld; n++)", (long long)nn);
    cg_line(cg, ind + 3, "y_mat[m * %lld + n] += a_mk * b_mat[k * %lld + n];", (long long)nn,
            (long long)nn);
    cg_line(cg, ind + 1, "}");
    cg_line(cg, ind, "}");
    while (ind > 1)
        cg_line(cg, --ind, "}");
    return true;
}

/* BATCHNORM (inference): y = (x - mean) / sqrt(var + epsilon) * scale + bias per channel,
 * computed as x * mul + add with the per-channel factors formed once per channel. */
static bool cv_batchnorm(CGen *cg, const Node *n) {
    const Tensor *x = cg_tensor(cg, n->in[0]);
    if (n->nin < 5 || x->rank < 2 || n->nout > 1)
        return diag_error(cg->d, "node '%s' (BatchNormalization): only inference form",
                          n->name);
    int64_t sp = 1;
    for (int d = 2; d < x->rank; d++)
        sp *= x->shape[d];
    float eps = n->a.bn.epsilon;
    StrBuf e;
    sb_init(&e);
    sb_float(&e, eps);
    cg->need_math = true;
    cg_line(cg, 1, "for (int batch = 0; batch < %lld; batch++) {", (long long)x->shape[0]);
    cg_line(cg, 2, "for (int c = 0; c < %lld; c++) {", (long long)x->shape[1]);
    cg_line(cg, 3, "const float mul = %s[c] / sqrtf(%s[c] + %s);", cg_in(cg, n, 1),
            cg_in(cg, n, 4), e.data);
    cg_line(cg, 3, "const float add = %s[c] - %s[c] * mul;", cg_in(cg, n, 2), cg_in(cg, n, 3));
    cg_line(cg, 3, "const int base = (batch * %lld + c) * %lld;", (long long)x->shape[1],
            (long long)sp);
    cg_line(cg, 3, "for (int pos = 0; pos < %lld; pos++)", (long long)sp);
    cg_line(cg, 4, "%s[base + pos] = %s[base + pos] * mul + add;", cg_out(cg, n, 0),
            cg_in(cg, n, 0));
    cg_line(cg, 2, "}");
    cg_line(cg, 1, "}");
    sb_free(&e);
    return true;
}

KernelFn cg_float_kernel(Op op) {
    switch (op) {
    case OP_CONV: return cv_conv;
    case OP_CONV_TRANSPOSE: return cv_conv_transpose;
    case OP_GEMM: return cv_gemm;
    case OP_MATMUL: return cv_matmul;
    case OP_BATCHNORM: return cv_batchnorm;
    default: break;
    }
    KernelFn f = cg_float_eltwise_kernel(op);
    return f ? f : cg_float_pool_kernel(op);
}
