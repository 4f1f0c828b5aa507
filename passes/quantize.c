/* quantize.c: a prepared float graph plus a QuantPlan becomes a QDQ graph shaped like the
 * ones ONNX Runtime's quantizer and PyTorch's export write (the zoo's qdq models), so that
 * lower_qdq turns it into integer ops like any imported QDQ model:
 *   - QuantizeLinear -> DequantizeLinear on every planned activation, once per tensor and
 *     shared by its readers (graph inputs included; the graph output stays float);
 *   - Conv/Gemm/MatMul weights int8 symmetric per output channel behind DequantizeLinear,
 *     bias int32 with scale sx*sw[c] behind DequantizeLinear;
 *   - a Relu/Clip after a requantizing op is fused (one Q after the activation), and data
 *     movement (MaxPool, Flatten, Reshape...) keeps its input's parameters (no Q of its own).
 * It only inserts nodes and constants; lowering, bias precompute and requant come later. */
#include "quantize.h"

#include <math.h>
#include <string.h>

bool quant_prepare(Graph *g, Diag *d) {
    static const struct { const char *name; PassFn run; } steps[] = {
        {"fold_constants", pass_fold_constants}, {"infer_shapes", pass_infer_shapes},
        {"fold_bn", pass_fold_bn}, {"remove_dead", pass_remove_dead},
    };
    PassOptions o;
    memset(&o, 0, sizeof o);
    if (!graph_verify(g, d, "frontend"))
        return false;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (!steps[i].run(g, &o, d) || d->errors || !graph_verify(g, d, steps[i].name))
            return false;
    return true;
}

void quant_plan_init(Graph *g, QuantPlan *p, DType act_dtype) {
    p->ntensors = g->ntensors;
    p->act = arena_calloc(g->arena, (size_t)g->ntensors + 1, sizeof *p->act);
    p->act_dtype = act_dtype;
    p->weights_per_tensor = false;
    p->skip = NULL;
    p->nskip = 0;
    p->weight_scale = NULL;
}

/* ONNX Runtime's and PyTorch's asymmetric parameters: the range always holds 0 (so that
 * zero padding and ReLU outputs are exact), scale = (hi - lo) / 255 and zero point
 * round(-lo / scale) on the uint8 grid; int8 is the same grid shifted by -128. */
ActQuant act_quant_from_range(float lo, float hi, DType dt) {
    ActQuant a = {.set = true, .dtype = dt == DT_INT8 ? DT_INT8 : DT_UINT8};
    if (!(lo <= 0.0f)) /* also NaN */
        lo = 0.0f;
    if (!(hi >= 0.0f))
        hi = 0.0f;
    float scale = (hi - lo) / 255.0f;
    if (!(scale > 0.0f) || !isfinite(scale) || scale < 1e-30f) {
        /* an all-zero tensor: any positive scale represents it; 1 keeps multipliers sane */
        scale = 1.0f;
        lo = 0.0f;
    }
    float zp = nearbyintf(-lo / scale);
    int32_t z = zp < 0.0f ? 0 : zp > 255.0f ? 255 : (int32_t)zp;
    a.scale = scale;
    a.zero_point = a.dtype == DT_INT8 ? z - 128 : z;
    return a;
}

/* ---------------------------------------------------------------------------------------
 * Deciding where the Q->DQ pairs go
 * ------------------------------------------------------------------------------------- */

typedef struct QState {
    Graph *g;               /* the graph being rewritten */
    const QuantPlan *p;     /* the plan (indexed by the prepared graph's tensor ids) */
    int n0;                 /* tensors before rewriting: the arrays below cover these */
    ActQuant *eff;          /* parameters each tensor ends up with (plan, fused or inherited) */
    bool *qact;             /* after the rewrite, readers of t see a dequantized 8-bit value */
    bool *insert;           /* a QuantizeLinear -> DequantizeLinear pair goes on t */
    int *fuse_to;           /* t is fused into the op writing fuse_to[t] (-1: not fused) */
} QState;

static bool node_skipped(const QuantPlan *p, const Node *n) {
    for (int k = 0; k < p->nskip; k++)
        for (int s = 0; s < n->nsources; s++)
            if (strcmp(p->skip[k], n->sources[s]) == 0)
                return true;
    return false;
}

/* Data movement: the output has the input's parameters (lower_qdq sinks the DQ below it). */
static bool moves_data(const Node *n) {
    switch (n->op) {
    case OP_MAX_POOL: case OP_GLOBAL_MAX_POOL: case OP_RESHAPE: case OP_FLATTEN:
    case OP_SQUEEZE: case OP_UNSQUEEZE: case OP_TRANSPOSE: case OP_IDENTITY: case OP_SLICE:
        return true;
    case OP_PAD:
        return n->a.pad.mode != PAD_CONSTANT || n->a.pad.value == 0.0f;
    case OP_RESIZE:
        return n->a.resize.mode == RESIZE_NEAREST;
    default:
        return false;
    }
}

static bool is_activation(const Tensor *t) {
    return t->dtype == DT_FLOAT && !tensor_is_const(t);
}

/* The only live reader of t (and t not a graph output), or -1. */
static int sole_reader(const Graph *g, int t) {
    if (g->tensors[t].flags & T_OUTPUT)
        return -1;
    int found = -1;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] == t) {
                if (found >= 0 && found != i)
                    return -1;
                found = i;
            }
    }
    return found;
}

/* A constant float operand of an Add fit to be a MatMul's bias (one value per column). */
static bool is_bias_add(const Graph *g, const Node *add, int from) {
    if (add->op != OP_ADD || add->nin != 2)
        return false;
    int b = add->in[0] == from ? add->in[1] : add->in[0];
    const Tensor *tb = &g->tensors[b];
    const Tensor *ty = &g->tensors[add->out[0]];
    if (b == from || !tensor_is_const(tb) || tb->dtype != DT_FLOAT || ty->rank < 1)
        return false;
    int64_t n = tensor_numel(tb);
    return n == 1 || n == ty->shape[ty->rank - 1];
}

/* Has some live non-skipped reader. */
static bool read_by_quantized(const QState *s, int t) {
    const Graph *g = s->g;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead || node_skipped(s->p, n))
            continue;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] == t)
                return true;
    }
    return false;
}

static ActQuant planned(const QState *s, int t) {
    if (t >= 0 && t < s->p->ntensors && s->p->act[t].set)
        return s->p->act[t];
    return (ActQuant){.set = false};
}

/* One pass in topological order: parameters, fusion and Q->DQ placement of every tensor. */
static void decide(QState *s) {
    Graph *g = s->g;
    for (int k = 0; k < g->ninputs; k++) {
        int t = g->inputs[k];
        s->eff[t] = planned(s, t);
        s->insert[t] = s->qact[t] = s->eff[t].set && is_activation(&g->tensors[t]) &&
                                   read_by_quantized(s, t);
    }
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead || n->nout < 1 || n->out[0] < 0 || n->out[0] >= s->n0)
            continue;
        int t = n->out[0], x = n->nin > 0 ? n->in[0] : -1;
        bool skipped = node_skipped(s->p, n);
        if (!is_activation(&g->tensors[t]))
            continue;
        if (!skipped && moves_data(n) && x >= 0 && s->qact[x]) {
            s->eff[t] = s->eff[x];
            s->qact[t] = true;
            continue;
        }
        ActQuant q = planned(s, t);
        /* Relu/Clip without a range of their own: the fused producer's (or input's) one */
        if (!q.set && (n->op == OP_RELU || n->op == OP_CLIP) && x >= 0)
            q = s->eff[x];
        s->eff[t] = q;
        if (!skipped && op_requantizes(n->op)) {
            int r = sole_reader(g, t);
            const Node *rn = r >= 0 ? &g->nodes[r] : NULL;
            bool fuse = rn && !node_skipped(s->p, rn) &&
                        (rn->op == OP_RELU || rn->op == OP_CLIP ||
                         (n->op == OP_MATMUL && is_bias_add(g, rn, t)));
            if (fuse) {
                s->fuse_to[t] = rn->out[0];
                continue;
            }
        }
        if (!q.set)
            continue;
        s->insert[t] = s->qact[t] = !skipped || read_by_quantized(s, t);
    }
}

/* The tensor whose Q ends the fused chain starting at t (t itself when not fused). */
static int chain_end(const QState *s, int t) {
    while (t >= 0 && t < s->n0 && s->fuse_to[t] >= 0)
        t = s->fuse_to[t];
    return t;
}

/* ---------------------------------------------------------------------------------------
 * Rewriting
 * ------------------------------------------------------------------------------------- */

static int new_const(Graph *g, const char *name, DType dt, int rank, const int64_t *shape) {
    int t = graph_new_tensor(g, name);
    tensor_set_const(g, t, dt, rank, shape);
    return t;
}

static void set_like(Graph *g, int t, int like, DType dt) {
    Tensor *tt = &g->tensors[t];
    const Tensor *tl = &g->tensors[like];
    tt->dtype = dt;
    tt->rank = tl->rank;
    memcpy(tt->shape, tl->shape, sizeof tt->shape);
    tt->shape_known = tl->shape_known;
}

/* Scalar scale and zero point constants of an activation's parameters. */
static void act_params(Graph *g, const char *base, const ActQuant *a, int *scale, int *zp) {
    *scale = new_const(g, arena_printf(g->arena, "%s_scale", base), DT_FLOAT, 0, NULL);
    ((float *)g->tensors[*scale].data)[0] = a->scale;
    *zp = new_const(g, arena_printf(g->arena, "%s_zero_point", base), a->dtype, 0, NULL);
    if (a->dtype == DT_INT8)
        ((int8_t *)g->tensors[*zp].data)[0] = (int8_t)a->zero_point;
    else
        ((uint8_t *)g->tensors[*zp].data)[0] = (uint8_t)a->zero_point;
}

static int add_qdq_node(Graph *g, Op op, const char *name, int in, int scale, int zp, int out,
                        int axis) {
    int n = graph_add_node(g, op, name);
    node_add_input(g, n, in);
    node_add_input(g, n, scale);
    node_add_input(g, n, zp);
    node_add_output(g, n, out);
    g->nodes[n].a.axis.axis = axis;
    return n;
}

/* Q -> DQ on activation t. A computed tensor keeps its id as the DQ output (so its readers,
 * a graph output among them, are untouched) and its producer writes t_prequant; a graph
 * input stays the Q's input and its readers move to the DQ output. */
static void insert_qdq(QState *s, int t) {
    Graph *g = s->g;
    const char *name = g->tensors[t].name;
    ActQuant a = s->eff[t];
    int scale, zp;
    act_params(g, name, &a, &scale, &zp);
    int tq = graph_new_tensor(g, arena_printf(g->arena, "%s_quantized", name));
    set_like(g, tq, t, a.dtype);
    int prod = graph_producer(g, t);
    if (prod >= 0) {
        int pre = graph_new_tensor(g, arena_printf(g->arena, "%s_prequant", name));
        set_like(g, pre, t, DT_FLOAT);
        Node *pn = &g->nodes[prod];
        for (int k = 0; k < pn->nout; k++)
            if (pn->out[k] == t)
                pn->out[k] = pre;
        add_qdq_node(g, OP_QUANTIZE, arena_printf(g->arena, "%s_QuantizeLinear", name), pre,
                     scale, zp, tq, 0);
        add_qdq_node(g, OP_DEQUANTIZE, arena_printf(g->arena, "%s_DequantizeLinear", name), tq,
                     scale, zp, t, 0);
        return;
    }
    int dq = graph_new_tensor(g, arena_printf(g->arena, "%s_dequantized", name));
    set_like(g, dq, t, DT_FLOAT);
    int nreaders = g->nnodes;
    for (int i = 0; i < nreaders; i++)
        for (int k = 0; k < g->nodes[i].nin; k++)
            if (g->nodes[i].in[k] == t)
                g->nodes[i].in[k] = dq;
    add_qdq_node(g, OP_QUANTIZE, arena_printf(g->arena, "%s_QuantizeLinear", name), t, scale,
                 zp, tq, 0);
    add_qdq_node(g, OP_DEQUANTIZE, arena_printf(g->arena, "%s_DequantizeLinear", name), tq,
                 scale, zp, dq, 0);
}

/* Where node n's weight keeps its output channels, as [outer][cout][inner]; false for
 * weights lower_qdq would not take (ConvTranspose, batched MatMul, transposed A). */
static bool weight_layout(const Graph *g, const Node *n, int *axis, int64_t *outer,
                          int64_t *cout, int64_t *inner) {
    const Tensor *w = &g->tensors[n->in[1]];
    if (!tensor_is_const(w) || w->dtype != DT_FLOAT || !w->shape_known || w->rank < 2)
        return false;
    int64_t numel = tensor_numel(w);
    if (n->op == OP_CONV)
        *axis = 0;
    else if (n->op == OP_GEMM && !n->a.gemm.trans_a && n->a.gemm.alpha > 0.0f && w->rank == 2)
        *axis = n->a.gemm.trans_b ? 0 : 1;
    else if (n->op == OP_MATMUL && w->rank == 2)
        *axis = 1;
    else
        return false;
    *cout = w->shape[*axis];
    *outer = *axis == 0 ? 1 : w->shape[0];
    *inner = numel / (*outer * *cout);
    return *cout > 0;
}

/* int8 weight + int32 bias behind DequantizeLinear for Conv/Gemm/MatMul node ni. */
static void quantize_weights(QState *s, int ni) {
    Graph *g = s->g;
    int axis;
    int64_t outer, cout, inner;
    if (g->nodes[ni].nin < 2 || !weight_layout(g, &g->nodes[ni], &axis, &outer, &cout, &inner))
        return;
    bool per_tensor = s->p->weights_per_tensor;
    int w = g->nodes[ni].in[1];
    const char *wname = g->tensors[w].name;
    int64_t nscale = per_tensor ? 1 : cout;
    int64_t vshape[1] = {nscale};
    int sc = new_const(g, arena_printf(g->arena, "%s_scale", wname), DT_FLOAT,
                       per_tensor ? 0 : 1, vshape);
    int zp = new_const(g, arena_printf(g->arena, "%s_zero_point", wname), DT_INT8,
                       per_tensor ? 0 : 1, vshape);
    float *scale = g->tensors[sc].data;
    int rank = g->tensors[w].rank;
    int64_t shape[QCC_MAX_RANK];
    memcpy(shape, g->tensors[w].shape, sizeof shape);
    int wq = new_const(g, arena_printf(g->arena, "%s_quantized", wname), DT_INT8, rank, shape);
    const float *wf = g->tensors[w].data;
    /* A QAT checkpoint's fake-quant scales, when the plan has them, make the weights exactly
     * what PyTorch's convert produces (full int8 range); otherwise max|w|/127 (sec. 2). */
    const float *given = !per_tensor && s->p->weight_scale && w < s->p->ntensors
                         ? s->p->weight_scale[w] : NULL;
    if (given)
        memcpy(scale, given, (size_t)cout * sizeof *scale);
    else
        weight_scales_axis(wf, outer, cout, inner, per_tensor, scale);
    weight_quantize_axis(wf, outer, cout, inner, per_tensor, scale, given ? -128 : -127,
                         g->tensors[wq].data);
    int wdq = graph_new_tensor(g, arena_printf(g->arena, "%s_dequantized", wname));
    set_like(g, wdq, w, DT_FLOAT);
    add_qdq_node(g, OP_DEQUANTIZE, arena_printf(g->arena, "%s_DequantizeLinear", wname), wq, sc,
                 zp, wdq, per_tensor ? 0 : axis);
    g->nodes[ni].in[1] = wdq;

    /* Bias: int32 at scale sx*sw[c] (the float product lower_qdq checks for), when it is
     * one float per channel and Gemm's alpha/beta are 1; otherwise lower_qdq requantizes the
     * float bias itself. */
    const Node *n = &g->nodes[ni];
    if (n->nin < 3 || n->in[2] < 0)
        return;
    int b = n->in[2];
    const Tensor *tb = &g->tensors[b];
    if (!tensor_is_const(tb) || tb->dtype != DT_FLOAT || tensor_numel(tb) != cout ||
        tb->rank != 1 ||
        (n->op == OP_GEMM && (n->a.gemm.alpha != 1.0f || n->a.gemm.beta != 1.0f)))
        return;
    float sx = s->eff[n->in[0]].scale;
    const char *bname = tb->name;
    int64_t bshape[1] = {cout};
    int bq = new_const(g, arena_printf(g->arena, "%s_quantized", bname), DT_INT32, 1, bshape);
    int bs = new_const(g, arena_printf(g->arena, "%s_scale", bname), DT_FLOAT, 1, bshape);
    int bz = new_const(g, arena_printf(g->arena, "%s_zero_point", bname), DT_INT32, 1, bshape);
    const float *bf = g->tensors[b].data;
    int32_t *q = g->tensors[bq].data;
    float *bscale = g->tensors[bs].data;
    scale = g->tensors[sc].data;
    for (int64_t c = 0; c < cout; c++) {
        bscale[c] = sx * scale[per_tensor ? 0 : c];
        double v = nearbyint((double)bf[c] / bscale[c]);
        if (!(fabs(v) < 2147483647.0))
            return; /* leave the float bias: lower_qdq reports the layer */
        q[c] = (int32_t)v;
    }
    int bdq = graph_new_tensor(g, arena_printf(g->arena, "%s_dequantized", bname));
    set_like(g, bdq, b, DT_FLOAT);
    add_qdq_node(g, OP_DEQUANTIZE, arena_printf(g->arena, "%s_DequantizeLinear", bname), bq, bs,
                 bz, bdq, 0);
    g->nodes[ni].in[2] = bdq;
}

/* Constant float operand k of an Add/Sub/Mul: per-tensor 8-bit behind DequantizeLinear. */
static void quantize_const_operand(QState *s, int ni, int k) {
    Graph *g = s->g;
    int c = g->nodes[ni].in[k];
    const Tensor *tc = &g->tensors[c];
    int64_t numel = tensor_numel(tc);
    const float *v = tc->data;
    float lo = 0.0f, hi = 0.0f;
    for (int64_t i = 0; i < numel; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    ActQuant a = act_quant_from_range(lo, hi, s->p->act_dtype);
    const char *name = tc->name;
    int rank = tc->rank;
    int64_t shape[QCC_MAX_RANK];
    memcpy(shape, tc->shape, sizeof shape);
    int cq = new_const(g, arena_printf(g->arena, "%s_quantized", name), a.dtype, rank, shape);
    for (int64_t i = 0; i < numel; i++) {
        int32_t q = quantize_value(((const float *)g->tensors[c].data)[i], a.scale,
                                   a.zero_point, a.dtype);
        if (a.dtype == DT_INT8)
            ((int8_t *)g->tensors[cq].data)[i] = (int8_t)q;
        else
            ((uint8_t *)g->tensors[cq].data)[i] = (uint8_t)q;
    }
    int scale, zp;
    act_params(g, name, &a, &scale, &zp);
    int cdq = graph_new_tensor(g, arena_printf(g->arena, "%s_dequantized", name));
    set_like(g, cdq, c, DT_FLOAT);
    add_qdq_node(g, OP_DEQUANTIZE, arena_printf(g->arena, "%s_DequantizeLinear", name), cq,
                 scale, zp, cdq, 0);
    g->nodes[ni].in[k] = cdq;
}

/* Will node ni be lowered to an integer op: not skipped, activation inputs quantized, and
 * its (fused) output chain ends in a Q? */
static bool lowers(const QState *s, int ni) {
    const Node *n = &s->g->nodes[ni];
    if (node_skipped(s->p, n) || n->nout < 1 || n->out[0] < 0 || n->out[0] >= s->n0)
        return false;
    int end = chain_end(s, n->out[0]);
    return end >= 0 && end < s->n0 && s->insert[end];
}

static bool check_skips(const Graph *g, const QuantPlan *p, Diag *d) {
    for (int k = 0; k < p->nskip; k++) {
        bool found = false;
        for (int i = 0; i < g->nnodes && !found; i++)
            for (int j = 0; j < g->nodes[i].nsources && !found; j++)
                found = !g->nodes[i].dead && strcmp(g->nodes[i].sources[j], p->skip[k]) == 0;
        if (!found)
            diag_error(d, "--skip: the graph has no node named '%s'", p->skip[k]);
    }
    return d->errors == 0;
}

/* The first input of n that is not a constant (the activation an Add/Mul with a constant
 * operand reads), or -1. */
static int first_activation(const Graph *g, const Node *n) {
    for (int k = 0; k < n->nin; k++)
        if (n->in[k] >= 0 && !tensor_is_const(&g->tensors[n->in[k]]))
            return n->in[k];
    return -1;
}

bool quantize_graph(Graph *g, const QuantPlan *p, Diag *d) {
    if (!check_skips(g, p, d))
        return false;
    QState s = {.g = g, .p = p, .n0 = g->ntensors};
    QCC_ASSERT(p->ntensors <= g->ntensors);
    s.eff = arena_calloc(g->arena, (size_t)s.n0 + 1, sizeof *s.eff);
    s.qact = arena_calloc(g->arena, (size_t)s.n0 + 1, sizeof *s.qact);
    s.insert = arena_calloc(g->arena, (size_t)s.n0 + 1, sizeof *s.insert);
    s.fuse_to = arena_calloc(g->arena, (size_t)s.n0 + 1, sizeof *s.fuse_to);
    for (int t = 0; t < s.n0; t++)
        s.fuse_to[t] = -1;
    decide(&s);

    /* Weights and constant operands first (they do not depend on the activation rewrite);
     * only for nodes that will lower, so no weight is rounded for a layer that stays float. */
    int nnodes = g->nnodes;
    for (int i = 0; i < nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead || !lowers(&s, i))
            continue;
        int x = first_activation(g, n);
        if (x < 0 || x >= s.n0 || !s.qact[x])
            continue;
        if (n->op == OP_CONV || n->op == OP_GEMM || n->op == OP_MATMUL) {
            quantize_weights(&s, i);
        } else if (n->op == OP_ADD || n->op == OP_SUB || n->op == OP_MUL) {
            int p0 = graph_producer(g, x);
            if (n->op == OP_ADD && p0 >= 0 && g->nodes[p0].op == OP_MATMUL &&
                s.fuse_to[x] == n->out[0])
                continue; /* MatMul's bias: lower_qdq takes the float constant as it is */
            for (int k = 0; k < g->nodes[i].nin; k++) {
                int c = g->nodes[i].in[k];
                if (c >= 0 && tensor_is_const(&g->tensors[c]) && g->tensors[c].dtype == DT_FLOAT)
                    quantize_const_operand(&s, i, k);
            }
        }
    }
    for (int t = 0; t < s.n0; t++)
        if (s.insert[t])
            insert_qdq(&s, t);
    return graph_toposort(g, d) && graph_verify(g, d, "quantize");
}
