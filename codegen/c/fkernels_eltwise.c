/* fkernels_eltwise.c: C bodies of the element-wise float ops (binary with numpy broadcasting,
 * variadic Max/Min, the unary activations, Round, Softmax) and Cast between any dtypes. The
 * same text serves int32/int64/uint8 tensors that are not quantized (shape plumbing, the
 * ONNX tests' integer Add/Max...). Quantized element-wise ops live in qkernels_*.c. */
#include "cgen.h"

#include <math.h>
#include <stdio.h>

#define EW_BUF 1024 /* one index expression or C expression */

static bool ew_is_float(DType t) {
    return t == DT_FLOAT || t == DT_DOUBLE || t == DT_FLOAT16;
}

/* A float as a C literal that reads back to the same bits; infinities need <math.h>. */
static void ew_flit(CGen *cg, char *buf, size_t cap, float v) {
    if (isinf(v)) {
        snprintf(buf, cap, "%sHUGE_VALF", v < 0 ? "-" : "");
        cg->need_math = true;
        return;
    }
    StrBuf sb;
    sb_init(&sb);
    sb_float(&sb, v);
    snprintf(buf, cap, "%s", sb.data);
    sb_free(&sb);
}

/* Index of an input broadcast against an output of rank `rank`, in loop variables d0..:
 * right-aligned dims; a size-1 input dim under a larger output dim does not advance. */
static void ew_bcast_index(char *buf, size_t cap, const Tensor *in, const Tensor *out) {
    int64_t stride = 1;
    int off = out->rank - in->rank;
    char tmp[EW_BUF];
    buf[0] = '\0';
    for (int d = in->rank - 1; d >= 0; d--) {
        if (in->shape[d] != 1 || out->shape[d + off] == 1) {
            if (stride == 1)
                snprintf(tmp, sizeof tmp, "d%d%s%s", d + off, buf[0] ? " + " : "", buf);
            else
                snprintf(tmp, sizeof tmp, "d%d * %lld%s%s", d + off, (long long)stride,
                         buf[0] ? " + " : "", buf);
            snprintf(buf, cap, "%s", tmp);
        }
        stride *= in->shape[d];
    }
    if (!buf[0])
        snprintf(buf, cap, "0");
}

/* Opens the loops of an element-wise node. Returns the indentation of the loop body and
 * writes the output index expression. A flat loop `i` when every input is dense in the
 * output's shape or a single element; nested d0.. loops otherwise. */
static int ew_open(CGen *cg, const Node *n, bool *flat, char *oidx, size_t cap) {
    const Tensor *out = cg_tensor(cg, n->out[0]);
    int64_t total = tensor_numel(out);
    *flat = true;
    for (int k = 0; k < n->nin; k++) {
        if (n->in[k] < 0)
            continue;
        int64_t m = tensor_numel(cg_tensor(cg, n->in[k]));
        if (m != total && m != 1)
            *flat = false;
    }
    if (*flat) {
        cg_line(cg, 1, "for (int i = 0; i < %lld; i++) {", (long long)total);
        snprintf(oidx, cap, "i");
        return 2;
    }
    for (int d = 0; d < out->rank; d++)
        cg_line(cg, 1 + d, "for (int d%d = 0; d%d < %lld; d%d++) {", d, d,
                (long long)out->shape[d], d);
    ew_bcast_index(oidx, cap, out, out);
    return 1 + out->rank;
}

static void ew_close(CGen *cg, int body_indent) {
    for (int ind = body_indent - 1; ind >= 1; ind--)
        cg_line(cg, ind, "}");
}

/* The element of input k read at the current iteration. */
static void ew_in_elem(CGen *cg, const Node *n, int k, bool flat, char *buf, size_t cap) {
    const Tensor *in = cg_tensor(cg, n->in[k]);
    char idx[EW_BUF / 2];
    if (tensor_numel(in) == 1)
        snprintf(idx, sizeof idx, "0");
    else if (flat)
        snprintf(idx, sizeof idx, "i");
    else
        ew_bcast_index(idx, sizeof idx, in, cg_tensor(cg, n->out[0]));
    snprintf(buf, cap, "%s[%s]", cg_in(cg, n, k), idx);
}

/* ADD SUB MUL DIV MAX MIN: numpy broadcasting; Max/Min are variadic (one input: copy).
 * Integer Div truncates toward zero like C (ONNX's reference casts np.divide back). */
static bool ew_binary(CGen *cg, const Node *n) {
    const Tensor *out = cg_tensor(cg, n->out[0]);
    const char *ct = dtype_ctype(out->dtype);
    char oidx[EW_BUF], a[EW_BUF], b[EW_BUF];
    bool flat;
    int nin = 0;
    for (int k = 0; k < n->nin; k++)
        if (n->in[k] >= 0)
            nin++;
    if (nin != n->nin || nin < 1 || (nin != 2 && n->op != OP_MAX && n->op != OP_MIN))
        return diag_error(cg->d, "node '%s' (%s): unsupported inputs", n->name, op_name(n->op));
    int ind = ew_open(cg, n, &flat, oidx, sizeof oidx);
    const char *y = cg_out(cg, n, 0);
    ew_in_elem(cg, n, 0, flat, a, sizeof a);
    if (n->op == OP_MAX || n->op == OP_MIN) {
        const char *cmp = n->op == OP_MAX ? ">" : "<";
        cg_line(cg, ind, "%s acc = %s;", ct, a);
        for (int k = 1; k < nin; k++) {
            ew_in_elem(cg, n, k, flat, b, sizeof b);
            cg_line(cg, ind, "acc = %s %s acc ? %s : acc;", b, cmp, b);
        }
        cg_line(cg, ind, "%s[%s] = acc;", y, oidx);
    } else {
        static const char *const sym[] = {"+", "-", "*", "/"};
        int which = n->op == OP_ADD ? 0 : n->op == OP_SUB ? 1 : n->op == OP_MUL ? 2 : 3;
        ew_in_elem(cg, n, 1, flat, b, sizeof b);
        if (ew_is_float(out->dtype))
            cg_line(cg, ind, "%s[%s] = %s %s %s;", y, oidx, a, sym[which], b);
        else /* narrow integer types wrap like ONNX Runtime's */
            cg_line(cg, ind, "%s[%s] = (%s)(%s %s %s);", y, oidx, ct, a, sym[which], b);
    }
    ew_close(cg, ind);
    return true;
}

/* Integer bounds of a float Clip range within an integer type. */
static void ew_int_bounds(DType t, float lo, float hi, long long *ilo, long long *ihi) {
    double tmin = t == DT_INT64 ? -9.2e18 : (double)dtype_qmin(t);
    double tmax = t == DT_INT64 ? 9.2e18 : (double)dtype_qmax(t);
    double l = ceil((double)lo), h = floor((double)hi);
    *ilo = (long long)(l < tmin ? tmin : l);
    *ihi = (long long)(h > tmax ? tmax : h);
}

/* RELU CLIP LEAKY_RELU SIGMOID HARD_SIGMOID HARD_SWISH TANH ROUND, in float except Relu and
 * Clip which also run on plain integer tensors. */
static bool ew_unary(CGen *cg, const Node *n) {
    const Tensor *in = cg_tensor(cg, n->in[0]);
    const Tensor *out = cg_tensor(cg, n->out[0]);
    bool isf = ew_is_float(out->dtype);
    const char *ct = dtype_ctype(out->dtype);
    char e[EW_BUF], f1[48], f2[48];
    if (!isf && n->op != OP_RELU && n->op != OP_CLIP)
        return diag_error(cg->d, "node '%s' (%s): unsupported on %s tensors", n->name,
                          op_name(n->op), dtype_name(out->dtype));
    if (in->dtype != out->dtype)
        return diag_error(cg->d, "node '%s' (%s): input and output types differ", n->name,
                          op_name(n->op));
    if (n->op == OP_CLIP && n->a.act.lo > n->a.act.hi) { /* numpy.clip: everything is hi */
        ew_flit(cg, f2, sizeof f2, n->a.act.hi);
        cg_line(cg, 1, "for (int i = 0; i < %lld; i++)", (long long)tensor_numel(out));
        if (isf)
            cg_line(cg, 2, "%s[i] = %s;", cg_out(cg, n, 0), f2);
        else
            cg_line(cg, 2, "%s[i] = (%s)%lld;", cg_out(cg, n, 0), ct, (long long)n->a.act.hi);
        return true;
    }
    switch (n->op) {
    case OP_RELU:
        snprintf(e, sizeof e, isf ? "v > 0.0f ? v : 0.0f" : "v > 0 ? v : 0");
        break;
    case OP_CLIP:
        if (isf) {
            bool has_lo = !isinf(n->a.act.lo), has_hi = !isinf(n->a.act.hi);
            ew_flit(cg, f1, sizeof f1, n->a.act.lo);
            ew_flit(cg, f2, sizeof f2, n->a.act.hi);
            if (has_lo && has_hi)
                snprintf(e, sizeof e, "v < %s ? %s : v > %s ? %s : v", f1, f1, f2, f2);
            else if (has_lo)
                snprintf(e, sizeof e, "v < %s ? %s : v", f1, f1);
            else if (has_hi)
                snprintf(e, sizeof e, "v > %s ? %s : v", f2, f2);
            else
                snprintf(e, sizeof e, "v");
        } else {
            /* a bound at or beyond the type's range is left out: comparing against it
             * would be always false (-Wtype-limits) */
            long long lo, hi, tmin, tmax;
            ew_int_bounds(out->dtype, n->a.act.lo, n->a.act.hi, &lo, &hi);
            ew_int_bounds(out->dtype, -INFINITY, INFINITY, &tmin, &tmax);
            if (lo > tmin && hi < tmax)
                snprintf(e, sizeof e, "v < %lld ? (%s)%lld : v > %lld ? (%s)%lld : v", lo, ct,
                         lo, hi, ct, hi);
            else if (lo > tmin)
                snprintf(e, sizeof e, "v < %lld ? (%s)%lld : v", lo, ct, lo);
            else if (hi < tmax)
                snprintf(e, sizeof e, "v > %lld ? (%s)%lld : v", hi, ct, hi);
            else
                snprintf(e, sizeof e, "v");
        }
        break;
    case OP_LEAKY_RELU:
        ew_flit(cg, f1, sizeof f1, n->a.act.alpha);
        snprintf(e, sizeof e, "v < 0.0f ? %s * v : v", f1);
        break;
    case OP_SIGMOID:
        cg->need_math = true;
        snprintf(e, sizeof e, "1.0f / (1.0f + expf(-v))");
        break;
    case OP_HARD_SIGMOID:
        ew_flit(cg, f1, sizeof f1, n->a.act.alpha);
        ew_flit(cg, f2, sizeof f2, n->a.act.beta);
        cg_line(cg, 1, "for (int i = 0; i < %lld; i++) {", (long long)tensor_numel(out));
        cg_line(cg, 2, "const float v = %s * %s[i] + %s;", f1, cg_in(cg, n, 0), f2);
        cg_line(cg, 2, "%s[i] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;", cg_out(cg, n, 0));
        cg_line(cg, 1, "}");
        return true;
    case OP_HARD_SWISH: /* x * HardSigmoid(x) with alpha 1/6, beta 1/2 */
        cg_line(cg, 1, "for (int i = 0; i < %lld; i++) {", (long long)tensor_numel(out));
        cg_line(cg, 2, "const float v = %s[i];", cg_in(cg, n, 0));
        cg_line(cg, 2, "const float h = v * (1.0f / 6.0f) + 0.5f;");
        cg_line(cg, 2, "%s[i] = v * (h < 0.0f ? 0.0f : h > 1.0f ? 1.0f : h);",
                cg_out(cg, n, 0));
        cg_line(cg, 1, "}");
        return true;
    case OP_TANH:
        cg->need_math = true;
        snprintf(e, sizeof e, "tanhf(v)");
        break;
    case OP_ROUND: /* half to even; beyond 2^23 every float is already an integer */
        snprintf(e, sizeof e, "v < 8388608.0f && v > -8388608.0f ? qcc_rint(v) : v");
        break;
    default:
        qcc_unreachable();
    }
    cg_line(cg, 1, "for (int i = 0; i < %lld; i++) {", (long long)tensor_numel(out));
    cg_line(cg, 2, "const %s v = %s[i];", ct, cg_in(cg, n, 0));
    cg_line(cg, 2, "%s[i] = %s;", cg_out(cg, n, 0), e);
    cg_line(cg, 1, "}");
    return true;
}

/* SOFTMAX along a.axis.axis: subtract the row maximum before expf so large inputs do not
 * overflow. Opset < 13 (legacy_softmax) flattens to 2-d around the axis first. */
static bool ew_softmax(CGen *cg, const Node *n) {
    const Tensor *x = cg_tensor(cg, n->in[0]);
    int axis = (int)n->a.axis.axis;
    if (x->dtype != DT_FLOAT || axis < 0 || axis >= (x->rank ? x->rank : 1))
        return diag_error(cg->d, "node '%s' (Softmax): unsupported axis or type", n->name);
    int64_t outer = 1, len = 1, inner = 1;
    for (int d = 0; d < x->rank; d++) {
        if (d < axis)
            outer *= x->shape[d];
        else if (d == axis || n->a.axis.legacy_softmax)
            len *= x->shape[d];
        else
            inner *= x->shape[d];
    }
    const char *xi = cg_in(cg, n, 0), *y = cg_out(cg, n, 0);
    cg->need_math = true;
    char base[128], step[64];
    if (inner == 1)
        snprintf(base, sizeof base, "row * %lld", (long long)len);
    else
        snprintf(base, sizeof base, "row / %lld * %lld + row %% %lld", (long long)inner,
                 (long long)(len * inner), (long long)inner);
    if (inner == 1)
        snprintf(step, sizeof step, "k");
    else
        snprintf(step, sizeof step, "k * %lld", (long long)inner);
    /* rows are (outer, inner) pairs; element k of a row is k*inner past its base */
    cg_line(cg, 1, "for (int row = 0; row < %lld; row++) {", (long long)(outer * inner));
    cg_line(cg, 2, "const int base = %s;", base);
    cg_line(cg, 2, "float max = %s[base];", xi);
    cg_line(cg, 2, "for (int k = 1; k < %lld; k++)", (long long)len);
    cg_line(cg, 3, "max = %s[base + %s] > max ? %s[base + %s] : max;", xi, step, xi, step);
    cg_line(cg, 2, "float sum = 0.0f;");
    cg_line(cg, 2, "for (int k = 0; k < %lld; k++) {", (long long)len);
    cg_line(cg, 3, "const float e = expf(%s[base + %s] - max);", xi, step);
    cg_line(cg, 3, "%s[base + %s] = e;", y, step);
    cg_line(cg, 3, "sum += e;");
    cg_line(cg, 2, "}");
    cg_line(cg, 2, "for (int k = 0; k < %lld; k++)", (long long)len);
    cg_line(cg, 3, "%s[base + %s] /= sum;", y, step);
    cg_line(cg, 1, "}");
    return true;
}

/* CAST: ONNX semantics through C conversions: float -> int truncates toward zero, anything
 * -> bool is `!= 0`. Float16/double tensors were widened to float on import, so casting to
 * float16 rounds to the nearest half value explicitly. */
static bool ew_cast(CGen *cg, const Node *n) {
    const Tensor *out = cg_tensor(cg, n->out[0]);
    const char *x = cg_in(cg, n, 0), *y = cg_out(cg, n, 0);
    int64_t total = tensor_numel(out);
    cg_line(cg, 1, "for (int i = 0; i < %lld; i++) {", (long long)total);
    if (out->dtype == DT_BOOL)
        cg_line(cg, 2, "%s[i] = (%s)(%s[i] != 0);", y, dtype_ctype(out->dtype), x);
    else if (n->a.cast.to == DT_FLOAT16 && out->dtype == DT_FLOAT) {
        /* Round to 11 significant bits (ties to even) by adding and subtracting a power of
         * two 13 bits above the value's exponent; subnormal halves keep the 2^-24 grid and
         * values beyond the half range become infinities. */
        cg->need_math = true;
        cg_line(cg, 2, "const float v = (float)%s[i];", x);
        cg_line(cg, 2, "int e;");
        cg_line(cg, 2, "(void)frexpf(v, &e);");
        cg_line(cg, 2, "if (e < -13) e = -13;");
        cg_line(cg, 2, "const float big = ldexpf(1.0f, e + 12);");
        cg_line(cg, 2, "float r = v >= 0.0f ? (v + big) - big : (v - big) + big;");
        cg_line(cg, 2, "if (r >= 65520.0f) r = HUGE_VALF;");
        cg_line(cg, 2, "if (r <= -65520.0f) r = -HUGE_VALF;");
        cg_line(cg, 2, "%s[i] = isnan(v) ? v : (v == 0.0f ? v : r);", y);
    } else
        cg_line(cg, 2, "%s[i] = (%s)%s[i];", y, dtype_ctype(out->dtype), x);
    cg_line(cg, 1, "}");
    return true;
}

KernelFn cg_float_eltwise_kernel(Op op);
KernelFn cg_float_eltwise_kernel(Op op) {
    switch (op) {
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MAX: case OP_MIN:
        return ew_binary;
    case OP_RELU: case OP_CLIP: case OP_LEAKY_RELU: case OP_SIGMOID: case OP_HARD_SIGMOID:
    case OP_HARD_SWISH: case OP_TANH: case OP_ROUND:
        return ew_unary;
    case OP_SOFTMAX:
        return ew_softmax;
    case OP_CAST:
        return ew_cast;
    default:
        return NULL;
    }
}
