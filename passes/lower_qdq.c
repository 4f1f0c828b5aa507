/* lower_qdq.c: DequantizeLinear -> float op -> QuantizeLinear patterns into integer ops.
 * lower_qop has already moved every Q/DQ scale onto the integer tensors, so a pattern is
 * lowered by rewiring: the op reads the DQ inputs' integer tensors and writes the Q node's
 * integer output. An activation (Relu/Clip) between op and Q is folded into the clamp, and
 * a MatMul followed by an Add of a constant becomes a MatMul with bias (tf2onnx's Dense).
 * Data movement (MaxPool, Reshape, Transpose...) commutes with dequantization, so DQ nodes
 * are first sunk below chains of such ops, and a Q reading a DQ then cancels (equal
 * parameters) or becomes a lookup table (different ones). Ops that do not match stay float
 * between their DQ and Q nodes (mixed precision); DQ nodes left reading constants become
 * float constants. */
#include "passes.h"

#include <math.h>
#include <string.h>

/* A Q/DQ node whose scale and zero point are still inputs (run-time or blocked, lower_qop
 * left them): it has no QParams to lower with, so every rewrite here leaves it alone. */
static bool params_are_inputs(const Node *n) {
    return n->nin > 1;
}

/* The integer tensor behind a float input: the input of its DequantizeLinear producer, or -1. */
static int dq_source(const Graph *g, int t) {
    if (t < 0)
        return -1;
    int p = graph_producer(g, t);
    if (p < 0 || g->nodes[p].op != OP_DEQUANTIZE || params_are_inputs(&g->nodes[p]))
        return -1;
    return g->nodes[p].in[0];
}

/* The only reader of tensor t, or -1 when there are none or several, or t is an output. */
static int sole_consumer(const Graph *g, int t) {
    int found = -1;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->nin; k++) {
            if (n->in[k] != t)
                continue;
            if (found >= 0 && found != i)
                return -1;
            found = i;
        }
    }
    for (int k = 0; k < g->noutputs; k++)
        if (g->outputs[k] == t)
            return -1;
    return found;
}

static bool is_act8(const Graph *g, int t) {
    const Tensor *tt = &g->tensors[t];
    return dtype_is_int8ish(tt->dtype) && tt->q.n == 1;
}

typedef enum Kind {
    K_NONE,       /* not lowered */
    K_REQUANT,    /* integer op with a requantizing epilogue (conv, gemm, add, pools...) */
    K_CONCAT,     /* concat on integers (other data movement: sink_dequantize below) */
    K_TABLE,      /* unary float function: a 256-entry table */
    K_SOFTMAX,    /* quantized softmax (float inside the kernel) */
} Kind;

static Kind kind_of(const Node *n) {
    switch (n->op) {
    case OP_CONV: case OP_GEMM: case OP_MATMUL: case OP_ADD: case OP_SUB: case OP_MUL:
    case OP_AVG_POOL: case OP_GLOBAL_AVG_POOL:
        return K_REQUANT;
    case OP_CONCAT:
        return K_CONCAT;
    case OP_RELU: case OP_CLIP: case OP_LEAKY_RELU: case OP_SIGMOID: case OP_HARD_SIGMOID:
    case OP_HARD_SWISH: case OP_TANH:
        return K_TABLE;
    case OP_SOFTMAX:
        return K_SOFTMAX;
    default:
        return K_NONE;
    }
}

/* Which inputs of a requantizing op are activations (8-bit, per tensor), which is the
 * weight (constant or activation, per tensor or per output channel) and which the bias. */
static int weight_input(Op op) {
    return op == OP_CONV || op == OP_GEMM || op == OP_MATMUL ? 1 : -1;
}
static int bias_input(Op op) {
    return op == OP_CONV || op == OP_GEMM || op == OP_MATMUL ? 2 : -1;
}

/* Output channels of a CONV/GEMM/MATMUL with weight w (the dimension a bias runs along). */
static int64_t out_channels(const Node *n, const Tensor *tw) {
    return n->op == OP_CONV ? tw->shape[0]
           : n->op == OP_GEMM && n->a.gemm.trans_b ? tw->shape[0] : tw->shape[tw->rank - 1];
}

/* Can `bias` (a float tensor, maybe behind a DequantizeLinear) become one int32 per output
 * channel? It must be constant and hold one value or one per channel along its last axis,
 * every other axis 1: a Gemm C of shape [M,1] or [M,N] varies along rows, which c3 cannot
 * express (even when M == N makes the element count look right), so such a node stays float. */
static bool bias_is_channel_vector(const Graph *g, const Node *n, int w, int bias) {
    int src = dq_source(g, bias);
    const Tensor *tb = &g->tensors[src >= 0 ? src : bias];
    if (!tensor_is_const(tb))
        return false;
    int64_t count = tensor_numel(tb);
    if (count == 1)
        return true;
    if (tb->rank < 1 || count != out_channels(n, &g->tensors[w]))
        return false;
    for (int i = 0; i < tb->rank - 1; i++)
        if (tb->shape[i] != 1)
            return false;
    return true;
}

/* Integer bias for CONV/GEMM from a float constant or a DQ'd int32 constant whose scale is
 * not exactly sx*sw[c]: q = round_half_even(real / (sx*sw[c])) (beta folded in). */
static int requantize_bias(Graph *g, Node *n, int x, int w, int bias, Diag *d) {
    const Tensor *tw = &g->tensors[w];
    const Tensor *tx = &g->tensors[x];
    int64_t channels = out_channels(n, tw);
    int src = dq_source(g, bias);
    const Tensor *tb = &g->tensors[src >= 0 ? src : bias];
    if (!tensor_is_const(tb))
        return diag_error(d, "node '%s' (%s): bias must be a constant", n->name,
                          op_name(n->op)), -2;
    int64_t count = tensor_numel(tb);
    if (count != channels && count != 1)
        return diag_error(d, "node '%s' (%s): bias has %lld elements for %lld output channels",
                          n->name, op_name(n->op), (long long)count, (long long)channels), -2;
    float beta = n->op == OP_GEMM ? n->a.gemm.beta : 1.0f;
    float alpha = n->op == OP_GEMM ? n->a.gemm.alpha : 1.0f;
    if (src >= 0 && tb->dtype == DT_INT32 && beta == 1.0f && alpha == 1.0f && count == channels) {
        bool exact = true;
        for (int64_t c = 0; c < channels && exact; c++) {
            float want = tx->q.scale[0] * tw->q.scale[tw->q.n > 1 ? c : 0];
            exact = tb->q.n >= 1 && tb->q.scale[tb->q.n > 1 ? c : 0] == want &&
                    tb->q.zero_point[tb->q.n > 1 ? c : 0] == 0;
        }
        if (exact)
            return src;
    }
    int out = graph_new_tensor(g, "bias_q");
    int64_t shape[1] = {channels};
    int32_t *q = tensor_set_const(g, out, DT_INT32, 1, shape);
    tb = &g->tensors[src >= 0 ? src : bias];
    tw = &g->tensors[w];
    tx = &g->tensors[x];
    for (int64_t c = 0; c < channels; c++) {
        int64_t i = count == 1 ? 0 : c;
        double real = tensor_get_f(tb, i);
        if (src >= 0)
            real = (real - tb->q.zero_point[tb->q.n > 1 ? i : 0]) * tb->q.scale[tb->q.n > 1 ? i : 0];
        double s = (double)alpha * tx->q.scale[0] * tw->q.scale[tw->q.n > 1 ? c : 0];
        double v = nearbyint((double)beta * real / s);
        if (!(fabs(v) < 2147483647.0))
            return diag_error(d, "node '%s' (%s): bias does not fit int32 at the input*weight "
                              "scale", n->name, op_name(n->op)), -2;
        q[c] = (int32_t)v;
    }
    return out;
}

/* Check the inputs of a requantizing op and collect their integer tensors in ins[].
 * Returns false (without a diagnostic) when the pattern does not match. */
static bool match_requant_inputs(const Graph *g, const Node *n, int *ins) {
    int wi = weight_input(n->op), bi = bias_input(n->op);
    for (int k = 0; k < n->nin; k++) {
        ins[k] = -1;
        if (n->in[k] < 0 || k == bi)
            continue;
        int src = dq_source(g, n->in[k]);
        if (src < 0)
            return false;
        const Tensor *t = &g->tensors[src];
        if (k == wi) {
            if (!dtype_is_int8ish(t->dtype))
                return false;
            if (t->q.n > 1) { /* per output channel only */
                int want = n->op == OP_CONV ? 0
                           : n->op == OP_GEMM ? (n->a.gemm.trans_b ? 0 : 1) : t->rank - 1;
                if (t->q.axis != want || !tensor_is_const(t))
                    return false;
            }
        } else if (!is_act8(g, src)) {
            return false;
        }
        ins[k] = src;
    }
    /* transA is not lowered; a Gemm scaled by alpha <= 0 (or a non-finite alpha/beta) has
     * no positive requantization multiplier nor a representable bias: it stays float */
    if (n->op == OP_GEMM && (n->a.gemm.trans_a || !(n->a.gemm.alpha > 0.0f) ||
                             !isfinite(n->a.gemm.alpha) || !isfinite(n->a.gemm.beta)))
        return false;
    if ((n->op == OP_CONV || n->op == OP_GEMM) && !tensor_is_const(&g->tensors[ins[1]]))
        return false;
    return true;
}

/* The other operand of an Add reading `t`, if it is a constant vector (float, or int32 behind
 * a DequantizeLinear) that can serve as a bias; else -1. */
static int bias_operand(const Graph *g, const Node *add, int t) {
    if (add->nin != 2 || (add->in[0] == t) == (add->in[1] == t))
        return -1;
    int b = add->in[0] == t ? add->in[1] : add->in[0];
    int src = dq_source(g, b);
    const Tensor *tb = &g->tensors[src >= 0 ? src : b];
    if (!tensor_is_const(tb) || (src < 0 && tb->dtype != DT_FLOAT))
        return -1;
    int64_t numel = tensor_numel(tb);
    const Tensor *out = &g->tensors[add->out[0]];
    if (out->rank < 1 || (numel != 1 && numel != out->shape[out->rank - 1]))
        return -1;
    for (int i = 0; i < tb->rank - 1; i++)
        if (tb->shape[i] != 1)
            return -1;
    return b;
}

/* Follow op -> [Add bias] -> [Relu|Clip] -> QuantizeLinear; returns the Q node or -1, and the activation
 * node (or -1) in *act. */
static int find_output_q(const Graph *g, const Node *n, Kind kind, int *act, int *add) {
    *act = -1;
    *add = -1;
    int c = sole_consumer(g, n->out[0]);
    if (c < 0)
        return -1;
    const Node *cn = &g->nodes[c];
    if (n->op == OP_MATMUL && cn->op == OP_ADD && bias_operand(g, cn, n->out[0]) >= 0) {
        *add = c;
        c = sole_consumer(g, cn->out[0]);
        if (c < 0)
            return -1;
        cn = &g->nodes[c];
    }
    if (kind == K_REQUANT && (cn->op == OP_RELU || cn->op == OP_CLIP)) {
        *act = c;
        c = sole_consumer(g, cn->out[0]);
        if (c < 0)
            return -1;
        cn = &g->nodes[c];
    }
    if (cn->op != OP_QUANTIZE || params_are_inputs(cn) || !is_act8(g, cn->out[0]))
        return -1;
    return c;
}

/* Clamp bounds of a fused Relu/Clip in the output's integer domain. */
static void act_clamp(const Graph *g, const Node *act, int out, int32_t *lo, int32_t *hi) {
    const Tensor *t = &g->tensors[out];
    float lo_real = act->op == OP_RELU ? 0.0f : act->a.act.lo;
    float hi_real = act->op == OP_RELU ? INFINITY : act->a.act.hi;
    *lo = lo_real <= -INFINITY ? dtype_qmin(t->dtype)
          : quantize_value(lo_real, t->q.scale[0], t->q.zero_point[0], t->dtype);
    *hi = hi_real >= INFINITY ? dtype_qmax(t->dtype)
          : quantize_value(hi_real, t->q.scale[0], t->q.zero_point[0], t->dtype);
    if (*hi < *lo)
        *lo = *hi;
}

static void copy_shape(Tensor *to, const Tensor *from) {
    to->rank = from->rank;
    memcpy(to->shape, from->shape, sizeof to->shape);
    to->shape_known = from->shape_known;
}

static bool lower_requant(Graph *g, int ni, int qn, int act, int add, Diag *d) {
    int ins[QCC_MAX_IO];
    if (!match_requant_inputs(g, &g->nodes[ni], ins))
        return true;
    Node *n = &g->nodes[ni];
    int bi0 = bias_input(n->op);
    if (bi0 >= 0 && bi0 < n->nin && n->in[bi0] >= 0 &&
        !bias_is_channel_vector(g, n, ins[1], n->in[bi0]))
        return true;
    if (add >= 0) {
        /* MatMul + Add(bias): the bias becomes input 2, as for Gemm */
        if (!tensor_is_const(&g->tensors[ins[1]]) || g->tensors[ins[1]].rank != 2)
            return true;
        n->in[2] = bias_operand(g, &g->nodes[add], n->out[0]);
        n->nin = 3;
        ins[2] = -1;
        g->nodes[add].dead = true;
        node_merge_sources(g, ni, add);
        n = &g->nodes[ni];
    }
    int bi = bias_input(n->op);
    if (bi >= 0 && bi < n->nin && n->in[bi] >= 0) {
        int b = requantize_bias(g, n, ins[0], ins[1], n->in[bi], d);
        if (b == -2)
            return false;
        n = &g->nodes[ni];
        ins[bi] = b;
    }
    int y = g->nodes[qn].out[0];
    for (int k = 0; k < n->nin; k++)
        n->in[k] = ins[k];
    n->out[0] = y;
    n->q.act_min = dtype_qmin(g->tensors[y].dtype);
    n->q.act_max = dtype_qmax(g->tensors[y].dtype);
    if (act >= 0) {
        act_clamp(g, &g->nodes[act], y, &n->q.act_min, &n->q.act_max);
        g->nodes[act].dead = true;
        node_merge_sources(g, ni, act);
    }
    g->nodes[qn].dead = true;
    node_merge_sources(g, ni, qn);
    return true;
}

/* Concat of dequantized 8-bit tensors of one type: inputs whose parameters differ from the
 * Q output's are requantized through a LUT first, then the concat runs on integers. */
static bool lower_concat(Graph *g, int ni, int qn) {
    const Node *n = &g->nodes[ni];
    int y = g->nodes[qn].out[0];
    int ins[QCC_MAX_IO];
    for (int k = 0; k < n->nin; k++) {
        ins[k] = dq_source(g, n->in[k]);
        if (ins[k] < 0 || !is_act8(g, ins[k]) || g->tensors[ins[k]].dtype != g->tensors[y].dtype)
            return true;
    }
    int count = n->nin;
    for (int k = 0; k < count; k++) {
        QParams yq = g->tensors[y].q;
        if (!qp_equal(&g->tensors[ins[k]].q, &yq))
            ins[k] = lut_insert_requant(g, ins[k], &yq, "concat_requant");
    }
    Node *cn = &g->nodes[ni];
    for (int k = 0; k < count; k++)
        cn->in[k] = ins[k];
    cn->out[0] = y;
    g->nodes[qn].dead = true;
    node_merge_sources(g, ni, qn);
    return true;
}

static bool lower_table(Graph *g, int ni, int qn) {
    Node *n = &g->nodes[ni];
    int src = dq_source(g, n->in[0]);
    if (src < 0 || !is_act8(g, src))
        return true;
    int y = g->nodes[qn].out[0];
    uint8_t *table = arena_alloc(g->arena, 256);
    if (!lut_build(g, n, src, y, table))
        return true;
    n->op = OP_LUT;
    n->nin = 1;
    n->in[0] = src;
    n->out[0] = y;
    n->q.lut = table;
    g->nodes[qn].dead = true;
    node_merge_sources(g, ni, qn);
    return true;
}

static bool lower_softmax(Graph *g, int ni, int qn) {
    Node *n = &g->nodes[ni];
    int src = dq_source(g, n->in[0]);
    if (src < 0 || !is_act8(g, src))
        return true;
    n->in[0] = src;
    n->out[0] = g->nodes[qn].out[0];
    n->q.act_min = dtype_qmin(g->tensors[n->out[0]].dtype);
    n->q.act_max = dtype_qmax(g->tensors[n->out[0]].dtype);
    g->nodes[qn].dead = true;
    node_merge_sources(g, ni, qn);
    return true;
}

/* Data movement that commutes with per-tensor dequantization: op(DQ(x)) == DQ(op(x)). */
static bool commutes_with_dq(const Node *n) {
    switch (n->op) {
    case OP_MAX_POOL: case OP_GLOBAL_MAX_POOL: case OP_RESHAPE: case OP_FLATTEN:
    case OP_SQUEEZE: case OP_UNSQUEEZE: case OP_TRANSPOSE: case OP_IDENTITY: case OP_SLICE:
        return true;
    case OP_PAD: /* padding with real 0 is padding with the zero point */
        return n->a.pad.mode != PAD_CONSTANT || n->a.pad.value == 0.0f;
    case OP_RESIZE:
        return n->a.resize.mode == RESIZE_NEAREST;
    default:
        return false;
    }
}

/* Rewrite op(DQ(x)) -> y as op(x) -> yi, DQ(yi) -> y, repeatedly, so chains of data movement
 * run on integers and the DQ meets the next real op (or a Q) further down. */
static bool sink_dequantize(Graph *g) {
    bool any = false, changed = true;
    while (changed) {
        changed = false;
        for (int i = 0; i < g->nnodes; i++) {
            Node *n = &g->nodes[i];
            if (n->dead || n->nout != 1 || !commutes_with_dq(n) || n->nin < 1)
                continue;
            int src = dq_source(g, n->in[0]);
            if (src < 0 || !is_act8(g, src) || g->tensors[n->out[0]].dtype != DT_FLOAT)
                continue;
            int y = n->out[0];
            int yi = graph_new_tensor(g, g->tensors[y].name);
            n = &g->nodes[i];
            Tensor *ti = &g->tensors[yi];
            copy_shape(ti, &g->tensors[y]);
            ti->dtype = g->tensors[src].dtype;
            ti->q = g->tensors[src].q;
            n->in[0] = src;
            n->out[0] = yi;
            if (n->op == OP_PAD) /* padding with real 0 is padding with the zero point */
                n->a.pad.value = (float)g->tensors[src].q.zero_point[0];
            int dq = graph_add_node(g, OP_DEQUANTIZE, g->nodes[i].name);
            node_add_input(g, dq, yi);
            node_add_output(g, dq, y);
            changed = any = true;
        }
    }
    return any;
}

/* Q(DQ(x)): with equal parameters the pair cancels (readers of the Q output read x); with
 * different 8-bit per-tensor parameters it is one lookup table. */
static void fold_requantize_pairs(Graph *g) {
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = &g->nodes[i];
        if (n->dead || n->op != OP_QUANTIZE || params_are_inputs(n))
            continue;
        int src = dq_source(g, n->in[0]);
        int y = n->out[0];
        if (src < 0 || !is_act8(g, src) || !is_act8(g, y))
            continue;
        const Tensor *ts = &g->tensors[src], *ty = &g->tensors[y];
        bool is_output = (ty->flags & T_OUTPUT) != 0;
        if (ts->dtype == ty->dtype && qp_equal(&ts->q, &ty->q) && !is_output &&
            !(ts->flags & T_INPUT && ts->flags & T_OUTPUT)) {
            for (int j = 0; j < g->nnodes; j++)
                for (int k = 0; k < g->nodes[j].nin; k++)
                    if (g->nodes[j].in[k] == y)
                        g->nodes[j].in[k] = src;
            g->nodes[i].dead = true;
            continue;
        }
        uint8_t *table = arena_alloc(g->arena, 256);
        Node probe = {.op = OP_LUT};
        if (!lut_build(g, &probe, src, y, table))
            continue;
        if (tensor_is_const(&g->tensors[src])) { /* requantized weights: fold now */
            const Tensor *c = &g->tensors[src];
            int64_t numel = tensor_numel(c);
            int rank = c->rank;
            int64_t shape[QCC_MAX_RANK];
            memcpy(shape, c->shape, sizeof shape);
            uint8_t *out = tensor_set_const(g, y, g->tensors[y].dtype, rank, shape);
            const uint8_t *in = g->tensors[src].data;
            for (int64_t e = 0; e < numel; e++)
                out[e] = table[in[e]];
            g->nodes[i].dead = true;
            continue;
        }
        n = &g->nodes[i];
        n->op = OP_LUT;
        n->in[0] = src;
        n->nin = 1;
        n->q.lut = table;
    }
}

/* DequantizeLinear of a constant that is still read (by float ops): fold to float. */
static void fold_const_dq(Graph *g) {
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = &g->nodes[i];
        if (n->dead || n->op != OP_DEQUANTIZE || params_are_inputs(n) ||
            !tensor_is_const(&g->tensors[n->in[0]]))
            continue;
        if (graph_use_count(g, n->out[0]) == 0)
            continue;
        const Tensor *src = &g->tensors[n->in[0]];
        int64_t numel = tensor_numel(src);
        int rank = src->rank;
        int64_t shape[QCC_MAX_RANK];
        memcpy(shape, src->shape, sizeof shape);
        float *out = tensor_set_const(g, n->out[0], DT_FLOAT, rank, shape);
        src = &g->tensors[g->nodes[i].in[0]];
        const QParams *q = &src->q;
        int64_t inner = 1;
        for (int k = q->axis + 1; k < rank; k++)
            inner *= shape[k];
        for (int64_t e = 0; e < numel; e++) {
            int c = q->n > 1 ? (int)((e / inner) % q->n) : 0;
            out[e] = (float)(tensor_get_i(src, e) - q->zero_point[c]) * q->scale[c];
        }
        g->nodes[i].dead = true;
    }
}

bool pass_lower_qdq(Graph *g, const PassOptions *o, Diag *d) {
    (void)o;
    if (sink_dequantize(g) && !graph_toposort(g, d))
        return false;
    int before = g->nnodes;
    for (int i = 0; i < before; i++) {
        Node *n = &g->nodes[i];
        if (n->dead || node_is_quantized(g, n))
            continue;
        Kind kind = kind_of(n);
        if (kind == K_NONE || n->nout != 1)
            continue;
        int act, add;
        int qn = find_output_q(g, n, kind, &act, &add);
        if (qn < 0)
            continue;
        bool ok = true;
        switch (kind) {
        case K_REQUANT: ok = lower_requant(g, i, qn, act, add, d); break;
        case K_CONCAT: ok = lower_concat(g, i, qn); break;
        case K_TABLE: ok = lower_table(g, i, qn); break;
        case K_SOFTMAX: ok = lower_softmax(g, i, qn); break;
        case K_NONE: break;
        }
        if (!ok)
            return false;
    }
    fold_requantize_pairs(g);
    fold_const_dq(g);
    if (g->nnodes != before && !graph_toposort(g, d))
        return false;
    return true;
}
