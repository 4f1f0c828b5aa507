/* lower_qop.c: QOperator ops (QLinearConv, QGemm, QLinearAdd, ConvInteger, ...) and the
 * QuantizeLinear/DequantizeLinear nodes into the canonical integer form: the scale and zero
 * point inputs become QParams on the tensors, the node keeps only its data inputs, and ops
 * that run directly on integer tensors (MaxPool, Flatten, Clip on uint8...) pass the
 * parameters through. A Q/DQ with run-time or blocked parameters keeps them as inputs.
 * Must run after shape inference; before lower_qdq. */
#include "passes.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* A constant scalar scale of 1 with the given zero point tensor (ConvInteger's view). */
static bool qp_unit(Graph *g, const Node *n, int zp_id, int axis, QParams *q, Diag *d) {
    if (zp_id < 0) {
        q->n = 1;
        q->axis = 0;
        q->scale = arena_calloc(g->arena, 1, sizeof(float));
        q->zero_point = arena_calloc(g->arena, 1, sizeof(int32_t));
        q->scale[0] = 1.0f;
        return true;
    }
    const Tensor *z = &g->tensors[zp_id];
    if (!tensor_is_const(z))
        return diag_error(d, "node '%s' (%s): zero point '%s' must be a constant", n->name,
                          op_name(n->op), z->name);
    int64_t count = tensor_numel(z);
    if (count < 1 || count > (1 << 24))
        return diag_error(d, "node '%s' (%s): zero point '%s' has %lld elements", n->name,
                          op_name(n->op), z->name, (long long)count);
    q->n = (int)count;
    q->axis = count > 1 ? axis : 0;
    q->scale = arena_calloc(g->arena, (size_t)count, sizeof(float));
    q->zero_point = arena_calloc(g->arena, (size_t)count, sizeof(int32_t));
    for (int64_t i = 0; i < count; i++) {
        q->scale[i] = 1.0f;
        q->zero_point[i] = (int32_t)tensor_get_i(z, i);
    }
    return true;
}

static int in_or_absent(const Node *n, int k) {
    return k < n->nin ? n->in[k] : -1;
}

/* Attach (scale_k, zp_k) of node n to tensor t. */
static bool attach(Graph *g, int ni, int t, int scale_k, int zp_k, int axis, Diag *d) {
    QParams q;
    const Node *n = &g->nodes[ni];
    if (!qp_read(g, n, in_or_absent(n, scale_k), in_or_absent(n, zp_k), axis, &q, d))
        return false;
    return qp_attach(g, t, &q, n, d);
}

/* Replace node ni's inputs with the listed ones. */
static void set_inputs(Graph *g, int ni, const int *ins, int count) {
    Node *n = &g->nodes[ni];
    int tmp[QCC_MAX_IO];
    memcpy(tmp, ins, (size_t)count * sizeof(int));
    n->nin = count;
    memcpy(n->in, tmp, (size_t)count * sizeof(int));
}

/* Default clamp of a requantizing node: the output type's whole range. */
static void init_clamp(Graph *g, int ni) {
    Node *n = &g->nodes[ni];
    DType dt = g->tensors[n->out[0]].dtype;
    if (dt == DT_INT32 || dt == DT_UINT8 || dt == DT_INT8 || dt == DT_INT16 ||
        dt == DT_UINT16) {
        n->q.act_min = dtype_qmin(dt);
        n->q.act_max = dtype_qmax(dt);
    }
}

static int norm_axis(int64_t axis, int rank) {
    return (int)(axis < 0 ? axis + rank : axis);
}

/* QLinearConv(x,xs,xz,w,ws,wz,ys,yz[,B]) and QLinearMatMul(a,as,az,b,bs,bz,ys,yz). */
static bool lower_qlinear_conv_matmul(Graph *g, int ni, Diag *d) {
    Node *n = &g->nodes[ni];
    int x = n->in[0], w = in_or_absent(n, 3), y = n->out[0];
    if (w < 0 || n->nin < 8)
        return diag_error(d, "node '%s' (%s): needs 8 inputs", n->name, op_name(n->op));
    bool conv = n->op == OP_QLINEAR_CONV;
    int waxis = conv ? 0 : g->tensors[w].rank - 1;
    if (!attach(g, ni, x, 1, 2, 1, d) || !attach(g, ni, w, 4, 5, waxis, d) ||
        !attach(g, ni, y, 6, 7, 1, d))
        return false;
    n = &g->nodes[ni];
    if (g->tensors[x].q.n != 1)
        return diag_error(d, "node '%s' (%s): per-axis input scales are not supported",
                          n->name, op_name(n->op));
    int ins[3] = {x, w, in_or_absent(n, 8)};
    set_inputs(g, ni, ins, conv ? 3 : 2);
    g->nodes[ni].op = conv ? OP_CONV : OP_MATMUL;
    init_clamp(g, ni);
    return true;
}

/* QGemm(a,as,az,b,bs,bz,c,ys,yz) (com.microsoft). */
static bool lower_qgemm(Graph *g, int ni, Diag *d) {
    Node *n = &g->nodes[ni];
    if (n->nin < 9 || n->in[7] < 0)
        return diag_error(d, "node '%s' (QGemm): float output (no y_scale) is not supported",
                          n->name);
    int a = n->in[0], b = n->in[3], y = n->out[0];
    int baxis = n->a.gemm.trans_b ? 0 : 1;
    if (!attach(g, ni, a, 1, 2, 1, d) || !attach(g, ni, b, 4, 5, baxis, d) ||
        !attach(g, ni, y, 7, 8, 1, d))
        return false;
    n = &g->nodes[ni];
    int ins[3] = {a, b, n->in[6]};
    set_inputs(g, ni, ins, 3);
    g->nodes[ni].op = OP_GEMM;
    init_clamp(g, ni);
    return true;
}

/* ConvInteger(x,w[,xz,wz]) / MatMulInteger(a,b[,az,bz]): int32 output, no requant. */
static bool lower_integer(Graph *g, int ni, Diag *d) {
    Node *n = &g->nodes[ni];
    bool conv = n->op == OP_CONV_INTEGER;
    /* A zero point computed at run time (DynamicQuantizeLinear feeds ConvInteger in dynamic
     * quantization) cannot go into c3: the node stays as it is and its kernel subtracts the
     * zero points in the loop. */
    for (int k = 2; k < n->nin; k++)
        if (n->in[k] >= 0 && !tensor_is_const(&g->tensors[n->in[k]]))
            return true;
    int x = n->in[0], w = n->in[1], y = n->out[0];
    QParams qx, qw, qy;
    int waxis = conv ? 0 : g->tensors[w].rank - 1;
    if (!qp_unit(g, n, in_or_absent(n, 2), 1, &qx, d) ||
        !qp_unit(g, n, in_or_absent(n, 3), waxis, &qw, d) || !qp_unit(g, n, -1, 0, &qy, d))
        return false;
    if (qx.n != 1)
        return diag_error(d, "node '%s' (%s): per-row input zero points are not supported",
                          n->name, op_name(n->op));
    if (!qp_attach(g, x, &qx, n, d) || !qp_attach(g, w, &qw, n, d) ||
        !qp_attach(g, y, &qy, n, d))
        return false;
    int ins[2] = {x, w};
    set_inputs(g, ni, ins, 2);
    g->nodes[ni].op = conv ? OP_CONV : OP_MATMUL;
    init_clamp(g, ni);
    return true;
}

/* QLinearAdd/QLinearMul(a,as,az,b,bs,bz,ys,yz). */
static bool lower_qlinear_binary(Graph *g, int ni, Diag *d) {
    Node *n = &g->nodes[ni];
    if (n->nin < 7)
        return diag_error(d, "node '%s' (%s): needs 7 or 8 inputs", n->name, op_name(n->op));
    int a = n->in[0], b = n->in[3], y = n->out[0];
    if (!attach(g, ni, a, 1, 2, 1, d) || !attach(g, ni, b, 4, 5, 1, d) ||
        !attach(g, ni, y, 6, 7, 1, d))
        return false;
    int ins[2] = {a, b};
    set_inputs(g, ni, ins, 2);
    n = &g->nodes[ni];
    n->op = n->op == OP_QLINEAR_ADD ? OP_ADD : OP_MUL;
    init_clamp(g, ni);
    return true;
}

/* Unary QOperator ops (x,xs,xz,ys,yz): pools and softmax keep an integer op; sigmoid and
 * leaky relu become a 256-entry table. */
static bool lower_qlinear_unary(Graph *g, int ni, Diag *d) {
    Node *n = &g->nodes[ni];
    if (n->nin < 4)
        return diag_error(d, "node '%s' (%s): needs 4 or 5 inputs", n->name, op_name(n->op));
    int x = n->in[0], y = n->out[0];
    if (!attach(g, ni, x, 1, 2, 1, d) || !attach(g, ni, y, 3, 4, 1, d))
        return false;
    if (g->tensors[x].q.n != 1 || g->tensors[y].q.n != 1)
        return diag_error(d, "node '%s' (%s): per-axis scales are not supported", n->name,
                          op_name(n->op));
    set_inputs(g, ni, &x, 1);
    n = &g->nodes[ni];
    switch (n->op) {
    case OP_QLINEAR_AVG_POOL: n->op = OP_AVG_POOL; break;
    case OP_QLINEAR_GAP: n->op = OP_GLOBAL_AVG_POOL; break;
    case OP_QLINEAR_SOFTMAX: n->op = OP_SOFTMAX; break;
    case OP_QLINEAR_SIGMOID: case OP_QLINEAR_LEAKY_RELU: {
        if (!dtype_is_int8ish(g->tensors[x].dtype) || !dtype_is_int8ish(g->tensors[y].dtype))
            return diag_error(d, "node '%s' (%s): unsupported: only 8-bit inputs and outputs",
                              n->name, op_name(n->op));
        uint8_t *table = arena_alloc(g->arena, 256);
        if (!lut_build(g, n, x, y, table))
            qcc_unreachable();
        n->op = OP_LUT;
        n->q.lut = table;
        break;
    }
    default: qcc_unreachable();
    }
    init_clamp(g, ni);
    return true;
}

/* QLinearConcat(ys,yz,(x,xs,xz)...): inputs whose parameters differ from the output's are
 * requantized through a LUT first. New nodes are appended; the caller re-sorts. */
static bool lower_qlinear_concat(Graph *g, int ni, Diag *d) {
    Node *n = &g->nodes[ni];
    if (n->nin < 5 || (n->nin - 2) % 3 != 0)
        return diag_error(d, "node '%s' (QLinearConcat): inputs must be y_scale, y_zero_point "
                          "and triples (x, scale, zero point)", n->name);
    int y = n->out[0];
    if (!attach(g, ni, y, 0, 1, 1, d))
        return false;
    int ins[QCC_MAX_IO], count = 0;
    int nin = g->nodes[ni].nin;
    for (int k = 2; k < nin; k += 3) {
        int x = g->nodes[ni].in[k];
        if (!attach(g, ni, x, k + 1, k + 2, 1, d))
            return false;
        ins[count++] = x;
    }
    for (int i = 0; i < count; i++) {
        const Tensor *tx = &g->tensors[ins[i]], *ty = &g->tensors[y];
        if (!qp_equal(&tx->q, &ty->q)) {
            if (!dtype_is_int8ish(tx->dtype) || tx->dtype != ty->dtype)
                return diag_error(d, "node '%s' (QLinearConcat): inputs must be 8-bit and of "
                                  "the output's type", g->nodes[ni].name);
            QParams q = ty->q;
            ins[i] = lut_insert_requant(g, ins[i], &q, "concat_requant");
        }
    }
    set_inputs(g, ni, ins, count);
    g->nodes[ni].op = OP_CONCAT;
    return true;
}

/* A Q/DQ node whose parameters cannot become QParams: a scale or zero point computed at
 * run time (DynamicQuantizeLinear's expanded body), or blocked quantization (block_size).
 * The node keeps its inputs (x, scale[, zp]) and its kernel reads them (codegen.h); no
 * tensor gets QParams, so nothing downstream treats it as a quantized op. */
static bool keep_param_inputs(Graph *g, int ni, Diag *d) {
    const Node *n = &g->nodes[ni];
    int s = in_or_absent(n, 1), z = in_or_absent(n, 2);
    if (s < 0)
        return diag_error(d, "node '%s' (%s): missing scale input", n->name, op_name(n->op));
    if (g->tensors[s].dtype != DT_FLOAT)
        return diag_error(d, "node '%s' (%s): unsupported: scale '%s' has type %s", n->name,
                          op_name(n->op), g->tensors[s].name, dtype_name(g->tensors[s].dtype));
    DType zt = z >= 0 ? g->tensors[z].dtype : DT_UINT8;
    if (zt != DT_UINT8 && zt != DT_INT8 && zt != DT_UINT16 && zt != DT_INT16 && zt != DT_INT32)
        return diag_error(d, "node '%s' (%s): unsupported: zero point '%s' has type %s",
                          n->name, op_name(n->op), g->tensors[z].name, dtype_name(zt));
    if (z < 0 && n->nin > 2)
        set_inputs(g, ni, n->in, 2); /* an absent trailing zero point: drop the slot */
    return true;
}

/* QuantizeLinear / DequantizeLinear: parameters onto the integer side. */
static bool lower_qdq_node(Graph *g, int ni, Diag *d) {
    Node *n = &g->nodes[ni];
    int data = n->op == OP_QUANTIZE ? n->out[0] : n->in[0];
    DType dt = g->tensors[data].dtype;
    if (dt != DT_UINT8 && dt != DT_INT8 && dt != DT_UINT16 && dt != DT_INT16 &&
        !(dt == DT_INT32 && n->op == OP_DEQUANTIZE))
        return diag_error(d, "node '%s' (%s): unsupported: quantized type %s", n->name,
                          op_name(n->op), dtype_name(dt));
    int s = in_or_absent(n, 1), z = in_or_absent(n, 2);
    if (n->a.axis.block_size > 0 || (s >= 0 && !tensor_is_const(&g->tensors[s])) ||
        (z >= 0 && !tensor_is_const(&g->tensors[z])))
        return keep_param_inputs(g, ni, d);
    int axis = norm_axis(n->a.axis.axis, g->tensors[data].rank);
    /* the axis matters only for per-axis scales: qp_attach checks it against the shape */
    if (!attach(g, ni, data, 1, 2, axis, d))
        return false;
    n = &g->nodes[ni];
    if (g->tensors[data].dtype == DT_INT32 && g->tensors[data].q.n >= 1)
        for (int i = 0; i < g->tensors[data].q.n; i++)
            if (g->tensors[data].q.zero_point[i] != 0)
                return diag_error(d, "node '%s' (%s): int32 tensors need zero point 0",
                                  n->name, op_name(n->op));
    set_inputs(g, ni, &n->in[0], 1);
    return true;
}

/* Ops that run literally on integer tensors: the output has the input's parameters. */
static bool passes_qparams(Op op) {
    switch (op) {
    case OP_MAX_POOL: case OP_GLOBAL_MAX_POOL: case OP_RESHAPE: case OP_FLATTEN:
    case OP_SQUEEZE: case OP_UNSQUEEZE: case OP_TRANSPOSE: case OP_IDENTITY: case OP_CLIP:
    case OP_RELU: case OP_PAD: case OP_RESIZE: case OP_GATHER: case OP_SLICE:
        return true;
    default:
        return false;
    }
}

static void propagate_qparams(Graph *g) {
    bool changed = true;
    while (changed) {
        changed = false;
        for (int i = 0; i < g->nnodes; i++) {
            Node *n = &g->nodes[i];
            if (n->dead || !passes_qparams(n->op) || n->nin < 1 || n->in[0] < 0)
                continue;
            Tensor *in = &g->tensors[n->in[0]], *out = &g->tensors[n->out[0]];
            if (!dtype_is_int8ish(in->dtype) || in->dtype != out->dtype)
                continue;
            if (in->q.n == 1 && out->q.n == 0) {
                out->q = in->q;
                changed = true;
            } else if (out->q.n == 1 && in->q.n == 0 && !tensor_is_const(in)) {
                in->q = out->q;
                changed = true;
            }
        }
    }
}

/* Clip/Relu on integer tensors are literal clamps: record the bounds in the clamp. */
static void integer_clamps(Graph *g) {
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = &g->nodes[i];
        if (n->dead || (n->op != OP_CLIP && n->op != OP_RELU))
            continue;
        DType dt = g->tensors[n->out[0]].dtype;
        if (!dtype_is_int8ish(dt))
            continue;
        /* Bounds are floats (Clip-6 attributes) that may be NaN or far outside the type:
         * both are brought into [qmin, qmax] before any conversion to int32 (a NaN bound
         * counts as absent), so nothing here converts an out-of-range double. */
        double qmin = dtype_qmin(dt), qmax = dtype_qmax(dt);
        double lo = n->op == OP_RELU ? 0.0 : n->a.act.lo;
        double hi = n->op == OP_RELU ? qmax : n->a.act.hi;
        lo = lo != lo ? qmin : ceil(lo < qmin ? qmin : lo > qmax ? qmax : lo);
        hi = hi != hi ? qmax : floor(hi > qmax ? qmax : hi < qmin ? qmin : hi);
        n->q.act_min = (int32_t)lo;
        n->q.act_max = (int32_t)hi;
        if (lo > hi)  /* ONNX: min > max gives max everywhere */
            n->q.act_min = n->q.act_max;
        if (n->op == OP_CLIP) { /* the float kernels read these for an unquantized clip */
            n->a.act.lo = (float)n->q.act_min;
            n->a.act.hi = (float)n->q.act_max;
        }
    }
}

bool pass_lower_qop(Graph *g, const PassOptions *o, Diag *d) {
    (void)o;
    int appended = g->nnodes;
    for (int i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].dead)
            continue;
        bool ok = true;
        switch (g->nodes[i].op) {
        case OP_QLINEAR_CONV: case OP_QLINEAR_MATMUL: ok = lower_qlinear_conv_matmul(g, i, d); break;
        case OP_QGEMM: ok = lower_qgemm(g, i, d); break;
        case OP_CONV_INTEGER: case OP_MATMUL_INTEGER: ok = lower_integer(g, i, d); break;
        case OP_QLINEAR_ADD: case OP_QLINEAR_MUL: ok = lower_qlinear_binary(g, i, d); break;
        case OP_QLINEAR_AVG_POOL: case OP_QLINEAR_GAP: case OP_QLINEAR_SIGMOID:
        case OP_QLINEAR_LEAKY_RELU: case OP_QLINEAR_SOFTMAX:
            ok = lower_qlinear_unary(g, i, d);
            break;
        case OP_QLINEAR_CONCAT: ok = lower_qlinear_concat(g, i, d); break;
        case OP_QUANTIZE: case OP_DEQUANTIZE: ok = lower_qdq_node(g, i, d); break;
        default: break;
        }
        if (!ok)
            return false;
    }
    propagate_qparams(g);
    integer_clamps(g);
    if (g->nnodes != appended && !graph_toposort(g, d))
        return false;
    return true;
}
