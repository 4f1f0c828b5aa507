/* quant_util.c: what the lowering passes share about quantization parameters: reading them
 * from scale/zero-point tensors, attaching them to tensors, and 8-bit lookup tables for
 * unary ops. Computation here happens at compile time, in float exactly as ONNX Runtime's
 * op-by-op float simulation does it, so tables match its results bit for bit. */
#include "passes.h"

#include <math.h>
#include <string.h>

bool qp_read(Graph *g, const Node *n, int scale_id, int zp_id, int axis, QParams *q, Diag *d) {
    memset(q, 0, sizeof *q);
    if (scale_id < 0)
        return diag_error(d, "node '%s' (%s): missing scale input", n->name, op_name(n->op));
    const Tensor *s = &g->tensors[scale_id];
    if (!tensor_is_const(s))
        return diag_error(d, "node '%s' (%s): unsupported: scale '%s' is computed at run time "
                          "(qcc needs constant quantization parameters)", n->name,
                          op_name(n->op), s->name);
    if (s->dtype != DT_FLOAT)
        return diag_error(d, "node '%s' (%s): scale '%s' must be float, not %s", n->name,
                          op_name(n->op), s->name, dtype_name(s->dtype));
    int64_t count = tensor_numel(s);
    if (count < 1 || count > (1 << 24))
        return diag_error(d, "node '%s' (%s): scale '%s' has %lld elements", n->name,
                          op_name(n->op), s->name, (long long)count);
    const Tensor *z = zp_id >= 0 ? &g->tensors[zp_id] : NULL;
    if (z && !tensor_is_const(z))
        return diag_error(d, "node '%s' (%s): unsupported: zero point '%s' is computed at run "
                          "time (qcc needs constant quantization parameters)", n->name,
                          op_name(n->op), z->name);
    if (z && z->dtype != DT_UINT8 && z->dtype != DT_INT8 && z->dtype != DT_UINT16 &&
        z->dtype != DT_INT16 && z->dtype != DT_INT32)
        return diag_error(d, "node '%s' (%s): unsupported: zero point '%s' has type %s",
                          n->name, op_name(n->op), z->name, dtype_name(z->dtype));
    if (z && tensor_numel(z) != count)
        return diag_error(d, "node '%s' (%s): zero point '%s' has %lld elements but the scale "
                          "has %lld", n->name, op_name(n->op), z->name,
                          (long long)tensor_numel(z), (long long)count);
    q->n = (int)count;
    q->axis = count > 1 ? axis : 0;
    q->scale = arena_calloc(g->arena, (size_t)count, sizeof(float));
    q->zero_point = arena_calloc(g->arena, (size_t)count, sizeof(int32_t));
    for (int64_t i = 0; i < count; i++) {
        float v = ((const float *)s->data)[i];
        if (!(v > 0.0f) || !isfinite(v))
            return diag_error(d, "node '%s' (%s): scale '%s' must be positive and finite "
                              "(element %lld is %g)", n->name, op_name(n->op), s->name,
                              (long long)i, (double)v);
        q->scale[i] = v;
        q->zero_point[i] = z ? (int32_t)tensor_get_i(z, i) : 0;
    }
    return true;
}

bool qp_equal(const QParams *a, const QParams *b) {
    if (a->n != b->n || (a->n > 1 && a->axis != b->axis))
        return false;
    for (int i = 0; i < a->n; i++)
        if (a->scale[i] != b->scale[i] || a->zero_point[i] != b->zero_point[i])
            return false;
    return true;
}

bool qp_attach(Graph *g, int t, const QParams *q, const Node *n, Diag *d) {
    Tensor *tt = &g->tensors[t];
    if (tt->q.n == 0) {
        if (q->n > 1 && tt->shape_known &&
            (q->axis < 0 || q->axis >= tt->rank || tt->shape[q->axis] != q->n))
            return diag_error(d, "node '%s' (%s): %d per-axis scales for axis %d of '%s' "
                              "(shape has %lld there)", n->name, op_name(n->op), q->n, q->axis,
                              tt->name, (q->axis >= 0 && q->axis < tt->rank) ?
                              (long long)tt->shape[q->axis] : -1LL);
        if (tt->dtype != DT_UNDEF && tt->dtype != DT_FLOAT && tt->dtype != DT_DOUBLE)
            for (int i = 0; i < q->n; i++)
                if (q->zero_point[i] < dtype_qmin(tt->dtype) ||
                    q->zero_point[i] > dtype_qmax(tt->dtype))
                    return diag_error(d, "node '%s' (%s): zero point %d out of range for %s",
                                      n->name, op_name(n->op), (int)q->zero_point[i],
                                      dtype_name(tt->dtype));
        tt->q = *q;
        return true;
    }
    if (!qp_equal(&tt->q, q))
        return diag_error(d, "node '%s' (%s): tensor '%s' is given two different sets of "
                          "quantization parameters", n->name, op_name(n->op), tt->name);
    return true;
}

int32_t quantize_value(float x, float scale, int32_t zp, DType dt) {
    float v = x / scale;
    float r = nearbyintf(v); /* default rounding mode: half to even */
    double lo = dtype_qmin(dt), hi = dtype_qmax(dt);
    double q = (double)r + zp;
    if (!(q >= lo))
        return (int32_t)lo; /* also NaN */
    if (q > hi)
        return (int32_t)hi;
    return (int32_t)q;
}

/* The float definition of each unary op a LUT can stand for (ONNX semantics, float32). */
static bool unary_eval(const Node *n, float x, float *y) {
    const ActAttr *a = &n->a.act;
    switch (n->op) {
    case OP_RELU: *y = x > 0.0f ? x : 0.0f; return true;
    case OP_CLIP: *y = x < a->lo ? a->lo : x > a->hi ? a->hi : x; return true;
    case OP_LEAKY_RELU: case OP_QLINEAR_LEAKY_RELU:
        *y = x >= 0.0f ? x : a->alpha * x;
        return true;
    case OP_SIGMOID: case OP_QLINEAR_SIGMOID: *y = 1.0f / (1.0f + expf(-x)); return true;
    case OP_HARD_SIGMOID: {
        float v = a->alpha * x + a->beta;
        *y = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        return true;
    }
    case OP_HARD_SWISH: {
        float v = x / 6.0f + 0.5f;
        *y = x * (v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v);
        return true;
    }
    case OP_TANH: *y = tanhf(x); return true;
    case OP_IDENTITY: case OP_LUT: *y = x; return true; /* LUT: a pure requantization */
    default: return false;
    }
}

bool lut_build(Graph *g, const Node *n, int in, int out, uint8_t *table) {
    const Tensor *ti = &g->tensors[in], *to = &g->tensors[out];
    QCC_ASSERT(ti->q.n == 1 && to->q.n == 1);
    QCC_ASSERT(dtype_is_int8ish(ti->dtype) && dtype_is_int8ish(to->dtype));
    for (int byte = 0; byte < 256; byte++) {
        int32_t q = ti->dtype == DT_INT8 ? (int32_t)(int8_t)byte : byte;
        float x = (float)(q - ti->q.zero_point[0]) * ti->q.scale[0];
        float y;
        if (!unary_eval(n, x, &y))
            return false;
        int32_t r = quantize_value(y, to->q.scale[0], to->q.zero_point[0], to->dtype);
        table[byte] = (uint8_t)(r & 0xff);
    }
    return true;
}

bool lut_is_clamp(const Graph *g, int in, int out, const uint8_t *table, int32_t *lo,
                  int32_t *hi) {
    const Tensor *ti = &g->tensors[in], *to = &g->tensors[out];
    if (ti->dtype != to->dtype || !qp_equal(&ti->q, &to->q))
        return false;
    int32_t qmin = dtype_qmin(ti->dtype), qmax = dtype_qmax(ti->dtype);
    int32_t first = ti->dtype == DT_INT8 ? (int32_t)(int8_t)table[128] : table[0];
    int32_t last = ti->dtype == DT_INT8 ? (int32_t)(int8_t)table[127] : table[255];
    for (int32_t q = qmin; q <= qmax; q++) {
        int32_t y = ti->dtype == DT_INT8 ? (int32_t)(int8_t)table[q & 0xff] : table[q];
        int32_t want = q < first ? first : q > last ? last : q;
        if (y != want)
            return false;
    }
    *lo = first;
    *hi = last;
    return true;
}

int lut_insert_requant(Graph *g, int from, const QParams *q, const char *name) {
    int t = graph_new_tensor(g, name);
    Tensor *tt = &g->tensors[t], *tf = &g->tensors[from];
    tt->dtype = tf->dtype;
    tt->rank = tf->rank;
    memcpy(tt->shape, tf->shape, sizeof tt->shape);
    tt->shape_known = tf->shape_known;
    tt->q = *q;
    int ni = graph_add_node(g, OP_LUT, name);
    node_add_input(g, ni, from);
    node_add_output(g, ni, t);
    uint8_t *table = arena_alloc(g->arena, 256);
    Node probe = {.op = OP_LUT}; /* f = identity: a pure change of parameters */
    if (!lut_build(g, &probe, from, t, table))
        qcc_unreachable();
    g->nodes[ni].q.lut = table;
    return t;
}

bool op_requantizes(Op op) {
    switch (op) {
    case OP_CONV: case OP_GEMM: case OP_MATMUL: case OP_ADD: case OP_SUB: case OP_MUL:
    case OP_AVG_POOL: case OP_GLOBAL_AVG_POOL:
        return true;
    default:
        return false;
    }
}
