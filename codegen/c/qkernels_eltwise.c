/* qkernels_eltwise.c: integer element-wise kernels (ADD, SUB, MUL with numpy broadcasting,
 * LUT, CLIP/RELU clamps, SOFTMAX through float), the QUANTIZE / DEQUANTIZE /
 * DYNAMIC_QUANTIZE boundary kernels, and cg_quant_kernel(), the table of every integer kernel.
 * Formulas: codegen.h (contract) and codegen/c/ort_formulas.md (float mode vs ONNX Runtime). */
#include "cgen.h"

#include <string.h>

KernelFn cg_qconv_kernel(Op op); /* qkernels_conv.c */
KernelFn cg_qpool_kernel(Op op); /* qkernels_pool.c */
bool cg_qeltwise_fast(CGen *cg, const Node *n); /* qeltwise_fast.c: vector forms or false */
/* qeltwise_fast.c: the float-mode Add/Sub constants, one definition for both forms */
void cg_add_float_consts(const Node *n, int32_t za, int32_t zb, int32_t zy, bool swap,
                         float *ra, float *rb, float *fixed);

/* Loops over y's elements; idx[k] receives the index expression of input k (numpy broadcast
 * with literal strides; a size-1 dim has stride 0). Returns the indent of the loop body and
 * the output index in *yidx; close_loops() ends them. */
static int open_loops(CGen *cg, const Node *n, int nin, const char **idx, const char **yidx) {
    const Tensor *y = cg_tout(cg, n, 0);
    int64_t total = tensor_numel(y);
    bool flat = true;
    for (int k = 0; k < nin; k++)
        flat = flat && tensor_numel(cg_tin(cg, n, k)) == total;
    if (flat || y->rank == 0) {
        cg_line(cg, 1, "for (int i = 0; i < %lld; i++) {", (long long)total);
        for (int k = 0; k < nin; k++)
            idx[k] = tensor_numel(cg_tin(cg, n, k)) == 1 ? "0" : "i";
        *yidx = "i";
        return 2;
    }
    for (int d = 0; d < y->rank; d++)
        cg_line(cg, 1 + d, "for (int dim%d = 0; dim%d < %lld; dim%d++) {", d, d,
                (long long)y->shape[d], d);
    for (int k = -1; k < nin; k++) {
        const Tensor *t = k < 0 ? y : cg_tin(cg, n, k);
        StrBuf sb;
        sb_init(&sb);
        int64_t stride = 1;
        for (int d = t->rank - 1; d >= 0; d--) {
            int yd = y->rank - t->rank + d;
            if (t->shape[d] != 1)
                sb_printf(&sb, "%sdim%d * %lld", sb.len ? " + " : "", yd, (long long)stride);
            stride *= t->shape[d];
        }
        const char *s = cg_fmt(cg, "%s", sb.len ? sb.data : "0");
        sb_free(&sb);
        if (k < 0)
            *yidx = s;
        else
            idx[k] = s;
    }
    return 1 + y->rank;
}

static void close_loops(CGen *cg, int body) {
    for (int ind = body - 1; ind >= 1; ind--)
        cg_line(cg, ind, "}");
}

/* ADD/SUB. Fixed (TFLite): xa = mulhi((a-za) << ls, M_a), xb likewise, y = mulhi(xa +/- xb,
 * M_out) + zy. Float: ONNX Runtime's AVX2 QLinearAdd, v = fma(a, rA, fma(b, rB, fixed)) with
 * fixed = zy - (rA*za + rB*zb) precomputed here, saturating round half to even. */
static bool emit_add_sub(CGen *cg, const Node *n) {
    if (cg_qeltwise_fast(cg, n))
        return true;
    const Tensor *ta = cg_tin(cg, n, 0), *tb = cg_tin(cg, n, 1), *ty = cg_tout(cg, n, 0);
    bool sub = n->op == OP_SUB;
    int32_t za = cg_zp(ta), zb = cg_zp(tb), zy = cg_zp(ty);
    const char *idx[2], *yi;
    const char *an = cg_in(cg, n, 0), *bn = cg_in(cg, n, 1), *yn = cg_out(cg, n, 0);
    const char *T = dtype_ctype(ty->dtype);
    if (cg->o->requant == REQUANT_FLOAT) {
        cg->need_math = true; /* fmaf */
        /* ONNX Runtime passes a one-element A as the scalar "B" operand (add commutes) */
        bool swap = tensor_numel(ta) == 1 && tensor_numel(tb) != 1;
        float ra, rb, fixed;
        cg_add_float_consts(n, za, zb, zy, swap, &ra, &rb, &fixed);
        if (swap) {
            const char *tn = an;
            an = bn;
            bn = tn;
        }
        bool scalar_b = tensor_numel(swap ? ta : tb) == 1;
        cg_line(cg, 1, "/* ONNX Runtime QLinearAdd (x86-64 AVX2): v = fma(a, %s, fma(b, %s, "
                       "zy - (rA*za + rB*zb))), round half even, saturate */",
                cg_float_lit(cg, ra), cg_float_lit(cg, rb));
        if (scalar_b) {
            cg_line(cg, 1, "const float scaled_b = (float)%s[0] * %s;", bn, cg_float_lit(cg, rb));
            cg_line(cg, 1, "const float fixed = %s + scaled_b;", cg_float_lit(cg, fixed));
        }
        int body = open_loops(cg, n, 2, idx, &yi);
        if (swap) {
            const char *t = idx[0];
            idx[0] = idx[1];
            idx[1] = t;
        }
        if (scalar_b)
            cg_line(cg, body, "float v = fmaf((float)%s[%s], %s, fixed);", an, idx[0],
                    cg_float_lit(cg, ra));
        else
            cg_line(cg, body, "float v = fmaf((float)%s[%s], %s, fmaf((float)%s[%s], %s, %s));",
                    an, idx[0], cg_float_lit(cg, ra), bn, idx[1], cg_float_lit(cg, rb), cg_float_lit(cg, fixed));
        cg_line(cg, body, "v = v < %ld.0f ? %ld.0f : v > %ld.0f ? %ld.0f : v;",
                (long)n->q.act_min, (long)n->q.act_min, (long)n->q.act_max, (long)n->q.act_max);
        cg_line(cg, body, "%s[%s] = (%s)qcc_rint(v);", yn, yi, T);
        close_loops(cg, body);
        return true;
    }
    int32_t scale_in = (int32_t)1 << n->q.left_shift;
    const Multiplier *ma = &n->q.mul[0], *mb = &n->q.mul[1], *mo = &n->q.mul[2];
    cg_line(cg, 1, "/* TFLite: inputs scaled by 2^%d, rescaled to a common scale, %s, "
                   "rescaled to the output */", n->q.left_shift, sub ? "subtracted" : "added");
    int body = open_loops(cg, n, 2, idx, &yi);
    cg_line(cg, body, "const int32_t xa = qcc_mul_q31(((int32_t)%s[%s] - %ld) * %ld, %s, %s);",
            an, idx[0], (long)za, (long)scale_in, cg_i32(cg, ma->m0[0]), cg_i32(cg, ma->shift[0]));
    cg_line(cg, body, "const int32_t xb = qcc_mul_q31(((int32_t)%s[%s] - %ld) * %ld, %s, %s);",
            bn, idx[1], (long)zb, (long)scale_in, cg_i32(cg, mb->m0[0]), cg_i32(cg, mb->shift[0]));
    cg_line(cg, body, "%s[%s] = (%s)qcc_requant_q31(xa %c xb, %s, %s, %ld, %ld, %ld);", yn, yi, T,
            sub ? '-' : '+', cg_i32(cg, mo->m0[0]), cg_i32(cg, mo->shift[0]), (long)zy,
            (long)n->q.act_min, (long)n->q.act_max);
    close_loops(cg, body);
    return true;
}

/* MUL: acc = (a-za)*(b-zb) (|acc| <= 2^16), requantized with sa*sb/sy. */
static bool emit_mul(CGen *cg, const Node *n) {
    if (cg_qeltwise_fast(cg, n))
        return true;
    const Tensor *ta = cg_tin(cg, n, 0), *tb = cg_tin(cg, n, 1), *ty = cg_tout(cg, n, 0);
    const char *idx[2], *yi;
    cg_line(cg, 1, "/* acc = (a - za) * (b - zb), requantized with sa*sb/sy */");
    int body = open_loops(cg, n, 2, idx, &yi);
    cg_line(cg, body, "const int32_t acc = ((int32_t)%s[%s] - %ld) * ((int32_t)%s[%s] - %ld);",
            cg_in(cg, n, 0), idx[0], (long)cg_zp(ta), cg_in(cg, n, 1), idx[1], (long)cg_zp(tb));
    cg_line(cg, body, "%s[%s] = (%s)%s;", cg_out(cg, n, 0), yi, dtype_ctype(ty->dtype),
            cg_requant(cg, n, 0, "acc", "0"));
    close_loops(cg, body);
    return true;
}

static bool emit_lut(CGen *cg, const Node *n) {
    const Tensor *x = cg_tin(cg, n, 0);
    if (!n->q.lut || !dtype_is_int8ish(x->dtype))
        return diag_error(cg->d, "node '%s' (%s): table lookup needs an 8-bit input and a table",
                          n->name, op_name(n->op));
    cg_line(cg, 1, "for (int i = 0; i < %lld; i++)", (long long)tensor_numel(x));
    cg_line(cg, 2, "%s[i] = %s[(uint8_t)%s[i]];", cg_out(cg, n, 0), cg_node_array(cg, n, "lut"),
            cg_in(cg, n, 0));
    return true;
}

static bool emit_clamp(CGen *cg, const Node *n) {
    const Tensor *y = cg_tout(cg, n, 0);
    cg_line(cg, 1, "/* quantized %s: clamp to [%ld, %ld] in the integer domain */",
            op_name(n->op), (long)n->q.act_min, (long)n->q.act_max);
    cg_line(cg, 1, "for (int i = 0; i < %lld; i++)", (long long)tensor_numel(y));
    cg_line(cg, 2, "%s[i] = (%s)qcc_clamp(%s[i], %s, %s);", cg_out(cg, n, 0),
            dtype_ctype(y->dtype), cg_in(cg, n, 0), cg_i32(cg, n->q.act_min),
            cg_i32(cg, n->q.act_max));
    return true;
}

/* outer / len / inner split of a tensor around axis (legacy: len covers axis..end). */
static void split_axis(const Tensor *t, int axis, bool legacy, int64_t *outer, int64_t *len,
                       int64_t *inner) {
    *outer = *len = *inner = 1;
    for (int d = 0; d < t->rank; d++) {
        if (d < axis)
            *outer *= t->shape[d];
        else if (d == axis || legacy)
            *len *= t->shape[d];
        else
            *inner *= t->shape[d];
    }
}

static bool emit_softmax(CGen *cg, const Node *n) {
    const Tensor *x = cg_tin(cg, n, 0), *y = cg_tout(cg, n, 0);
    int axis = (int)(n->a.axis.axis < 0 ? n->a.axis.axis + x->rank : n->a.axis.axis);
    int64_t outer, len, inner;
    split_axis(x, axis, n->a.axis.legacy_softmax, &outer, &len, &inner);
    cg->need_math = true;
    const char *sx = cg_float_lit(cg, x->q.scale[0]), *sy = cg_float_lit(cg, y->q.scale[0]);
    const char *xn = cg_in(cg, n, 0);
    long zx = (long)cg_zp(x), zy = (long)cg_zp(y);
    cg_line(cg, 1, "/* FLOAT inside: dequantize, softmax with expf, quantize (QLinearSoftmax) */");
    cg_line(cg, 1, "for (int outer = 0; outer < %lld; outer++) {", (long long)outer);
    cg_line(cg, 2, "for (int inner = 0; inner < %lld; inner++) {", (long long)inner);
    cg_line(cg, 3, "const int base = outer * %lld + inner;", (long long)(len * inner));
    cg_line(cg, 3, "float max = qcc_dequantize(%s[base], %s, %ld);", xn, sx, zx);
    cg_line(cg, 3, "for (int j = 1; j < %lld; j++) {", (long long)len);
    cg_line(cg, 4, "const float v = qcc_dequantize(%s[base + j * %lld], %s, %ld);", xn,
            (long long)inner, sx, zx);
    cg_line(cg, 4, "max = v > max ? v : max;");
    cg_line(cg, 3, "}");
    cg_line(cg, 3, "float sum = 0.0f;");
    cg_line(cg, 3, "for (int j = 0; j < %lld; j++)", (long long)len);
    cg_line(cg, 4, "sum += expf(qcc_dequantize(%s[base + j * %lld], %s, %ld) - max);", xn,
            (long long)inner, sx, zx);
    cg_line(cg, 3, "for (int j = 0; j < %lld; j++) {", (long long)len);
    cg_line(cg, 4, "const float e = expf(qcc_dequantize(%s[base + j * %lld], %s, %ld) - max);",
            xn, (long long)inner, sx, zx);
    cg_line(cg, 4, "%s[base + j * %lld] = (%s)qcc_quantize(e / sum, %s, %ld, %ld, %ld);",
            cg_out(cg, n, 0), (long long)inner, dtype_ctype(y->dtype), sy, zy,
            (long)n->q.act_min, (long)n->q.act_max);
    cg_line(cg, 3, "}");
    cg_line(cg, 2, "}");
    cg_line(cg, 1, "}");
    return true;
}

/* QUANTIZE / DEQUANTIZE whose scale (x1) and zero point (x2, optional) are inputs: run-time
 * tensors or constants of a blocked node (codegen.h). Per tensor (one scale), per axis (a
 * 1-d scale along axis) or blocked (the scale has x's shape with ceil(len / block_size)
 * entries along axis); a one-element zero point serves every scale. Same rounding as the
 * QParams form: qcc_quantize divides, rounds half to even, saturates to the output type. */
static bool emit_q_dq_inputs(CGen *cg, const Node *n) {
    bool q = n->op == OP_QUANTIZE;
    const Tensor *x = cg_tin(cg, n, 0), *y = cg_tout(cg, n, 0), *s = cg_tin(cg, n, 1);
    const Tensor *z = n->nin > 2 && n->in[2] >= 0 ? cg_tin(cg, n, 2) : NULL;
    int64_t block = n->a.axis.block_size, nscale = tensor_numel(s);
    int axis = (int)n->a.axis.axis;
    if (nscale > 1 && (axis < 0 || axis >= x->rank))
        return diag_error(cg->d, "node '%s' (%s): axis %d out of range", n->name,
                          op_name(n->op), axis);
    int64_t outer = 1, len = 1, inner = 1;
    if (nscale > 1)
        split_axis(x, axis, false, &outer, &len, &inner);
    else
        len = tensor_numel(x);
    int64_t nblocks = block > 0 ? (len + block - 1) / block : len;
    if (nscale > 1 && nscale != (block > 0 ? outer * nblocks * inner : len))
        return diag_error(cg->d, "node '%s' (%s): scale '%s' has %lld elements for %lld "
                          "along axis %d", n->name, op_name(n->op), s->name,
                          (long long)nscale, (long long)len, axis);
    const char *xn = cg_in(cg, n, 0), *sn = cg_in(cg, n, 1), *yn = cg_out(cg, n, 0);
    const char *sidx = nscale == 1 ? "0"
                       : block > 0 ? cg_fmt(cg, "(outer * %lld + chan / %lld) * %lld + inner",
                                           (long long)nblocks, (long long)block,
                                           (long long)inner)
                                   : "chan";
    const char *zexpr = z ? cg_fmt(cg, "(int32_t)%s[%s]", cg_in(cg, n, 2),
                                   tensor_numel(z) == 1 ? "0" : sidx)
                          : "0";
    cg_line(cg, 1, "/* scale and zero point read from %s inputs%s */",
            tensor_is_const(s) && (!z || tensor_is_const(z)) ? "constant" : "run-time",
            block > 0 ? cg_fmt(cg, ", blocks of %lld along axis %d", (long long)block, axis)
                      : "");
    int body = 2;
    if (nscale == 1) {
        cg_line(cg, 1, "const float scale = %s[0];", sn);
        cg_line(cg, 1, "const int32_t zp = %s;", zexpr);
        cg_line(cg, 1, "for (int i = 0; i < %lld; i++)", (long long)len);
        sidx = NULL;
    } else {
        cg_line(cg, 1, "for (int outer = 0; outer < %lld; outer++)", (long long)outer);
        cg_line(cg, 2, "for (int chan = 0; chan < %lld; chan++)", (long long)len);
        cg_line(cg, 3, "for (int inner = 0; inner < %lld; inner++) {", (long long)inner);
        cg_line(cg, 4, "const int i = (outer * %lld + chan) * %lld + inner;", (long long)len,
                (long long)inner);
        body = 4;
    }
    const char *scale = sidx ? cg_fmt(cg, "%s[%s]", sn, sidx) : "scale";
    const char *zp = sidx ? zexpr : "zp";
    if (q)
        cg_line(cg, body, "%s[i] = (%s)qcc_quantize(%s[i], %s, %s, %s, %s);", yn,
                dtype_ctype(y->dtype), xn, scale, zp, cg_i32(cg, dtype_qmin(y->dtype)),
                cg_i32(cg, dtype_qmax(y->dtype)));
    else
        cg_line(cg, body, "%s[i] = qcc_dequantize(%s[i], %s, %s);", yn, xn, scale, zp);
    if (body == 4)
        cg_line(cg, 3, "}");
    return true;
}

/* QUANTIZE / DEQUANTIZE: the quantized side's QParams, per tensor or per axis. */
static bool emit_q_dq(CGen *cg, const Node *n) {
    if (n->nin > 1)
        return emit_q_dq_inputs(cg, n);
    bool q = n->op == OP_QUANTIZE;
    const Tensor *x = cg_tin(cg, n, 0), *y = cg_tout(cg, n, 0);
    const Tensor *qt = q ? y : x;
    if (qt->q.n < 1 || qt->dtype == DT_FLOAT)
        return diag_error(cg->d, "node '%s' (%s): missing quantization parameters", n->name,
                          op_name(n->op));
    const char *xn = cg_in(cg, n, 0), *yn = cg_out(cg, n, 0), *T = dtype_ctype(y->dtype);
    if (qt->q.n == 1) {
        const char *s = cg_float_lit(cg, qt->q.scale[0]);
        cg_line(cg, 1, "for (int i = 0; i < %lld; i++)", (long long)tensor_numel(x));
        if (q)
            cg_line(cg, 2, "%s[i] = (%s)qcc_quantize(%s[i], %s, %ld, %s, %s);", yn, T, xn, s,
                    (long)qt->q.zero_point[0], cg_i32(cg, dtype_qmin(y->dtype)),
                    cg_i32(cg, dtype_qmax(y->dtype)));
        else
            cg_line(cg, 2, "%s[i] = qcc_dequantize(%s[i], %s, %ld);", yn, xn, s,
                    (long)qt->q.zero_point[0]);
        return true;
    }
    int64_t outer, len, inner;
    split_axis(qt, qt->q.axis, false, &outer, &len, &inner);
    if (len != qt->q.n)
        return diag_error(cg->d, "node '%s' (%s): %d scales for axis size %lld", n->name,
                          op_name(n->op), qt->q.n, (long long)len);
    StrBuf *sb = cg->sb;
    cg_line(cg, 1, "static const float scale[%d] = {", qt->q.n);
    for (int i = 0; i < qt->q.n; i++) {
        sb_puts(sb, i % 8 == 0 ? (i ? "\n        " : "        ") : " ");
        sb_float(sb, qt->q.scale[i]);
        sb_puts(sb, i + 1 < qt->q.n ? "," : "\n");
    }
    cg_line(cg, 1, "};");
    cg_line(cg, 1, "static const int32_t zp[%d] = {", qt->q.n);
    for (int i = 0; i < qt->q.n; i++)
        sb_printf(sb, "%s%ld%s", i % 16 == 0 ? (i ? "\n        " : "        ") : " ",
                  (long)qt->q.zero_point[i], i + 1 < qt->q.n ? "," : "\n");
    cg_line(cg, 1, "};");
    cg_line(cg, 1, "for (int outer = 0; outer < %lld; outer++)", (long long)outer);
    cg_line(cg, 2, "for (int chan = 0; chan < %lld; chan++)", (long long)len);
    cg_line(cg, 3, "for (int inner = 0; inner < %lld; inner++) {", (long long)inner);
    cg_line(cg, 4, "const int i = (outer * %lld + chan) * %lld + inner;", (long long)len,
            (long long)inner);
    if (q)
        cg_line(cg, 4, "%s[i] = (%s)qcc_quantize(%s[i], scale[chan], zp[chan], %s, %s);", yn, T,
                xn, cg_i32(cg, dtype_qmin(y->dtype)), cg_i32(cg, dtype_qmax(y->dtype)));
    else
        cg_line(cg, 4, "%s[i] = qcc_dequantize(%s[i], scale[chan], zp[chan]);", yn, xn);
    cg_line(cg, 3, "}");
    return true;
}

/* DynamicQuantizeLinear: range [min(0, min x), max(0, max x)], scale = range/255, uint8. */
static bool emit_dynamic_quantize(CGen *cg, const Node *n) {
    const Tensor *x = cg_tin(cg, n, 0);
    const char *xn = cg_in(cg, n, 0);
    long long count = (long long)tensor_numel(x);
    cg_line(cg, 1, "/* ONNX DynamicQuantizeLinear: the range always includes 0 */");
    cg_line(cg, 1, "float lo = 0.0f, hi = 0.0f;");
    cg_line(cg, 1, "for (int i = 0; i < %lld; i++) {", count);
    cg_line(cg, 2, "lo = %s[i] < lo ? %s[i] : lo;", xn, xn);
    cg_line(cg, 2, "hi = %s[i] > hi ? %s[i] : hi;", xn, xn);
    cg_line(cg, 1, "}");
    cg_line(cg, 1, "float scale = (hi - lo) / 255.0f;");
    cg_line(cg, 1, "if (!(scale > 0.0f))");
    cg_line(cg, 2, "scale = 1.0f; /* all zeros: any scale reproduces them */");
    cg_line(cg, 1, "const int32_t zp = qcc_quantize(0.0f - lo, scale, 0, 0, 255);");
    cg_line(cg, 1, "for (int i = 0; i < %lld; i++)", count);
    cg_line(cg, 2, "%s[i] = (uint8_t)qcc_quantize(%s[i], scale, zp, 0, 255);", cg_out(cg, n, 0),
            xn);
    if (n->nout > 1)
        cg_line(cg, 1, "%s[0] = scale;", cg_out(cg, n, 1));
    if (n->nout > 2)
        cg_line(cg, 1, "%s[0] = (uint8_t)zp;", cg_out(cg, n, 2));
    return true;
}

KernelFn cg_quant_kernel(Op op) {
    KernelFn fn = cg_qconv_kernel(op);
    if (fn)
        return fn;
    if ((fn = cg_qpool_kernel(op)) != NULL)
        return fn;
    switch (op) {
    case OP_ADD: case OP_SUB: return emit_add_sub;
    case OP_MUL: return emit_mul;
    case OP_LUT: return emit_lut;
    case OP_CLIP: case OP_RELU: return emit_clamp;
    case OP_SOFTMAX: return emit_softmax;
    case OP_QUANTIZE: case OP_DEQUANTIZE: return emit_q_dq;
    case OP_DYNAMIC_QUANTIZE: return emit_dynamic_quantize;
    default: return NULL;
    }
}
