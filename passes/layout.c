/* layout.c: channels-last (NHWC) activations for the C backend's fast kernels (issue 4).
 * When the target asks for it (PassOptions.channels_last), 2-d quantized CONV, AVG_POOL,
 * MAX_POOL, GLOBAL_AVG_POOL and GLOBAL_MAX_POOL nodes, and the quantized element-wise ops fed
 * by them (same-shape ADD/SUB/MUL, LUT, CLIP, RELU, CONCAT on channels), get NHWC tensors and
 * n->nhwc. A TRANSPOSE node converts wherever an NHWC tensor meets an NCHW producer or
 * consumer (graph ports, Flatten, Gemm, Softmax...); inverse transpose pairs cancel. Weights
 * stay OIHW (kernels pack them). Runs after requant (the arithmetic does not depend on the
 * layout) and before memplan, which plans the new tensors like any other.
 * Depthwise and pointwise convs are the exceptions where the target has planar kernels for
 * them (PassOptions.planar_convs): one whose input is NCHW (a graph input, an NCHW node) stays
 * NCHW. A depthwise conv does a few MACs per byte it reads, so a transpose of its input would
 * cost about as much as the conv itself; a pointwise one with few input channels spends
 * as much on requantizing as on its dot products, and the transposes of its ports were a
 * fifth of its time (24->144 @56). */
#include "passes.h"

#include <string.h>

static const int64_t to_nhwc[4] = {0, 2, 3, 1};   /* TRANSPOSE perm NCHW -> NHWC */
static const int64_t to_nchw[4] = {0, 3, 1, 2};   /* TRANSPOSE perm NHWC -> NCHW */

/* A run-time 4-d 8-bit quantized activation (what an NHWC kernel can read or write). */
static bool act4(const Graph *g, int t) {
    if (t < 0)
        return false;
    const Tensor *tt = &g->tensors[t];
    return !tensor_is_const(tt) && tt->shape_known && tt->rank == 4 &&
           dtype_is_int8ish(tt->dtype) && tt->q.n >= 1;
}

/* Nodes that are always worth converting: the windowed 2-d kernels. */
static bool is_anchor(const Graph *g, const Node *n) {
    if (n->dead || n->float_fallback || !node_is_quantized(g, n) || n->nin < 1 || n->nout != 1 ||
        !act4(g, n->in[0]) || !act4(g, n->out[0]))
        return false;
    switch (n->op) {
    case OP_CONV: {
        if (n->nin < 2 || n->in[1] < 0)
            return false;
        const Tensor *w = &g->tensors[n->in[1]];
        return tensor_is_const(w) && w->rank == 4;
    }
    case OP_AVG_POOL: case OP_MAX_POOL:
    case OP_GLOBAL_AVG_POOL: case OP_GLOBAL_MAX_POOL:
        return n->nin == 1;
    default:
        return false;
    }
}

bool layout_planar_depthwise(const Graph *g, const Node *n) {
    if (n->op != OP_CONV || !is_anchor(g, n))
        return false;
    const Tensor *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[1]];
    const Tensor *y = &g->tensors[n->out[0]];
    const ConvAttr *a = &n->a.conv;
    int64_t C = x->shape[1], KW = w->shape[3];
    if (a->group != C || y->shape[1] != C || w->shape[0] != C || w->shape[1] != 1 || KW > 4 ||
        a->stride[0] < 1 || a->stride[1] < 1 || a->dilation[0] < 1 || a->dilation[1] < 1 ||
        15 * a->stride[1] + (KW - 1) * a->dilation[1] > 63 || y->shape[3] > 512 ||
        w->shape[2] > 16)
        return false;
    int64_t taps = w->shape[2] * KW;
    for (int64_t c = 0; c < C; c++) {
        int32_t zw = w->q.n > 1 ? w->q.zero_point[c] : w->q.n == 1 ? w->q.zero_point[0] : 0;
        for (int64_t t = 0; t < taps; t++) {
            int64_t v = tensor_get_i(w, c * taps + t) - zw;
            if (v < -128 || v > 127) /* vpdpbusd's signed operand is one byte */
                return false;
        }
    }
    return true;
}

bool layout_planar_pointwise(const Graph *g, const Node *n) {
    if (n->op != OP_CONV || !is_anchor(g, n))
        return false;
    const Tensor *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[1]];
    const ConvAttr *a = &n->a.conv;
    if (a->group > 1 || w->dtype != DT_INT8 || !w->data || w->shape[2] != 1 ||
        w->shape[3] != 1 || a->stride[0] != 1 || a->stride[1] != 1 || a->pad[0] || a->pad[1] ||
        a->pad[2] || a->pad[3] || x->shape[1] > 512)
        return false;
    for (int i = 0; i < w->q.n; i++)
        if (w->q.zero_point[i] != 0)
            return false;
    return true;
}

/* A pointwise conv reading NCHW stays NCHW unless that moves a transpose to a wider tensor:
 * its output is a graph output read by nothing else, or no wider than its input. */
static bool planar_pointwise_pays(const Graph *g, const Node *n) {
    const Tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    if (y->shape[1] <= x->shape[1])
        return true;
    bool output = false;
    for (int k = 0; k < g->noutputs; k++)
        output = output || g->outputs[k] == n->out[0];
    for (int i = 0; i < g->nnodes && output; i++) {
        const Node *c = &g->nodes[i];
        for (int k = 0; k < c->nin && !c->dead; k++)
            output = output && c->in[k] != n->out[0];
    }
    return output;
}

static bool same_shape(const Tensor *a, const Tensor *b) {
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->shape[i] != b->shape[i])
            return false;
    return true;
}

/* Element-wise quantized ops that do not care about the layout (flat loops over equal
 * shapes), converted when an input comes from an NHWC node. Which inputs are activations:
 * *nact leading inputs (CONCAT: all); the rest must be constants that are not indexed by
 * position (Clip's scalar bounds). */
static bool is_flexible(const Graph *g, const Node *n, int *nact) {
    if (n->dead || n->float_fallback || !node_is_quantized(g, n) || n->nout != 1 ||
        !act4(g, n->out[0]))
        return false;
    const Tensor *y = &g->tensors[n->out[0]];
    switch (n->op) {
    case OP_ADD: case OP_SUB: case OP_MUL:
        *nact = 2;
        break;
    case OP_LUT: case OP_CLIP: case OP_RELU:
        *nact = 1;
        break;
    case OP_CONCAT:
        if (n->a.axis.axis != 1)
            return false;
        *nact = n->nin;
        for (int k = 0; k < n->nin; k++)
            if (!act4(g, n->in[k]))
                return false;
        return true;
    default:
        return false;
    }
    if (n->nin < *nact)
        return false;
    for (int k = 0; k < n->nin; k++) {
        if (k < *nact) {
            if (!act4(g, n->in[k]) || !same_shape(&g->tensors[n->in[k]], y))
                return false;
        } else if (n->in[k] >= 0 && (!tensor_is_const(&g->tensors[n->in[k]]) ||
                                     tensor_numel(&g->tensors[n->in[k]]) != 1)) {
            return false;
        }
    }
    return true;
}

/* Number of leading activation inputs of a node this pass converts. */
static int act_inputs(const Graph *g, const Node *n) {
    int nact = 0;
    if (is_anchor(g, n))
        return 1;
    if (is_flexible(g, n, &nact))
        return nact;
    qcc_unreachable();
}

/* A fresh tensor like `src` (dtype, QParams) with src's shape permuted by perm; returns id. */
static int permuted_twin(Graph *g, int src, const int64_t *perm, const char *suffix) {
    char base[256];
    snprintf(base, sizeof base, "%.200s_%s", g->tensors[src].name, suffix);
    int t = graph_new_tensor(g, base);
    Tensor *s = &g->tensors[src], *tt = &g->tensors[t];
    const char *name = tt->name;
    *tt = *s;
    tt->name = name;
    tt->flags &= ~(unsigned)(T_INPUT | T_OUTPUT | T_CONST);
    tt->data = NULL;
    tt->offset = -1;
    for (int d = 0; d < 4; d++)
        tt->shape[d] = s->shape[perm[d]];
    if (s->q.n > 1) /* per-axis activation parameters follow their axis */
        for (int d = 0; d < 4; d++)
            if (perm[d] == s->q.axis)
                tt->q.axis = d;
    return t;
}

/* Append TRANSPOSE from -> to with perm; returns the node id. */
static int add_transpose(Graph *g, int from, int to, const int64_t *perm) {
    char name[256];
    snprintf(name, sizeof name, "%.200s_%s", g->tensors[to].name, "transpose");
    int id = graph_add_node(g, OP_TRANSPOSE, name);
    node_add_input(g, id, from);
    node_add_output(g, id, to);
    Node *n = &g->nodes[id];
    n->a.axes.naxes = 4;
    for (int d = 0; d < 4; d++)
        n->a.axes.axes[d] = perm[d];
    return id;
}

/* A transpose that keeps the order of the axes longer than 1 moves no byte ([1,1,1,C] to
 * [1,C,1,1]): its input's bytes already are its output. */
static bool transpose_is_copy(const Tensor *x, const int64_t *perm, int rank) {
    int64_t last = -1;
    for (int d = 0; d < rank; d++) {
        if (x->shape[perm[d]] == 1)
            continue;
        if (perm[d] < last)
            return false;
        last = perm[d];
    }
    return true;
}

/* Ops whose kernel only copies numel elements in order (movement.c mv_copy): they may read
 * the NHWC bytes of a tensor when those equal its NCHW bytes. */
static bool reads_flat(Op op) {
    return op == OP_RESHAPE || op == OP_FLATTEN || op == OP_SQUEEZE || op == OP_UNSQUEEZE ||
           op == OP_IDENTITY;
}

static bool is_output(const Graph *g, int t) {
    return (g->tensors[t].flags & T_OUTPUT) != 0;
}

/* Cancel TRANSPOSE pairs that undo each other (ours, or the model's own around an NHWC
 * source): readers of the second one read the first one's input. Then drop transposes nobody
 * reads. Graph outputs keep their producers. */
static void cancel_pairs(Graph *g) {
    for (int i = 0; i < g->nnodes; i++) {
        Node *b = &g->nodes[i];
        if (b->dead || b->op != OP_TRANSPOSE || b->nin != 1 || b->nout != 1 ||
            is_output(g, b->out[0]))
            continue;
        int rank = g->tensors[b->out[0]].rank;
        int p = graph_producer(g, b->in[0]);
        if (p < 0 || g->nodes[p].op != OP_TRANSPOSE || g->nodes[p].nin != 1)
            continue;
        const Node *a = &g->nodes[p];
        if (a->a.axes.naxes != rank || b->a.axes.naxes != rank)
            continue;
        bool identity = true;
        for (int d = 0; d < rank; d++)
            identity = identity && a->a.axes.axes[b->a.axes.axes[d]] == d;
        if (!identity)
            continue;
        int src = a->in[0], dst = b->out[0];
        if (g->tensors[src].dtype != g->tensors[dst].dtype ||
            !qp_equal(&g->tensors[src].q, &g->tensors[dst].q))
            continue;
        b->dead = true;
        for (int j = 0; j < g->nnodes; j++)
            for (int k = 0; k < g->nodes[j].nin; k++)
                if (!g->nodes[j].dead && g->nodes[j].in[k] == dst)
                    g->nodes[j].in[k] = src;
    }
    for (int i = g->nnodes - 1; i >= 0; i--) {
        Node *n = &g->nodes[i];
        if (!n->dead && n->op == OP_TRANSPOSE && n->nout == 1 &&
            graph_use_count(g, n->out[0]) == 0)
            n->dead = true;
    }
}

bool pass_layout(Graph *g, const PassOptions *o, Diag *d) {
    if (!o->channels_last)
        return true;
    int nn = g->nnodes, nt = g->ntensors;
    int *twin = arena_calloc(g->arena, (size_t)nt + 1, sizeof(int)); /* NHWC id of NCHW t */
    bool *native = arena_calloc(g->arena, (size_t)nt + 1, sizeof(bool)); /* written NHWC */
    bool *convert = arena_calloc(g->arena, (size_t)nn + 1, sizeof(bool));
    for (int t = 0; t < nt; t++)
        twin[t] = -1;
    /* Decide in graph order: anchors always; an element-wise op when one of its activation
     * inputs is written in NHWC (so it never adds a transpose pair between NCHW ops). */
    bool *nhwc_t = arena_calloc(g->arena, (size_t)nt + 1, sizeof(bool));
    bool any = false;
    for (int i = 0; i < nn; i++) {
        const Node *n = &g->nodes[i];
        int nact = 0;
        bool want = is_anchor(g, n);
        /* a depthwise conv reading NCHW runs NCHW where the target has that kernel: no
         * transpose of its input, and of its output only if an NHWC node reads it */
        if (want && o->planar_convs && !nhwc_t[n->in[0]] && layout_planar_depthwise(g, n))
            want = false;
        /* likewise a pointwise conv (NCHW 1x1 is a GEMM, as ONNX Runtime runs it) */
        if (want && o->planar_convs && !nhwc_t[n->in[0]] && layout_planar_pointwise(g, n) &&
            planar_pointwise_pays(g, n))
            want = false;
        if (!want && is_flexible(g, n, &nact))
            for (int k = 0; k < nact && !want; k++)
                want = nhwc_t[n->in[k]];
        if (!want)
            continue;
        convert[i] = any = true;
        nhwc_t[n->out[0]] = true;
    }
    if (!any)
        return true;
    /* Rewrite: each converted node reads NHWC twins (a transpose makes one from an NCHW
     * tensor, once per tensor) and writes a fresh NHWC tensor. Node ids stay valid (new nodes
     * are appended), tensor pointers do not (graph_new_tensor may move the array). */
    for (int i = 0; i < nn; i++) {
        if (!convert[i])
            continue;
        int nact = act_inputs(g, &g->nodes[i]);
        for (int k = 0; k < nact; k++) {
            int s = g->nodes[i].in[k];
            if (twin[s] < 0) {
                twin[s] = permuted_twin(g, s, to_nhwc, "nhwc");
                add_transpose(g, s, twin[s], to_nhwc);
            }
            g->nodes[i].in[k] = twin[s];
        }
        int y = g->nodes[i].out[0];
        QCC_ASSERT(twin[y] < 0);
        twin[y] = permuted_twin(g, y, to_nhwc, "nhwc");
        native[y] = true;
        Node *n = &g->nodes[i];
        n->out[0] = twin[y];
        n->nhwc = true;
        if (n->op == OP_CONCAT)
            n->a.axis.axis = 3;
    }
    /* NCHW readers of a converted node's output (and graph outputs) get it back through a
     * transpose; flat copies (Flatten of a [1,C,1,1] pool result) read the NHWC bytes directly
     * when the two layouts coincide. */
    for (int y = 0; y < nt; y++) {
        if (!native[y])
            continue;
        bool copy = transpose_is_copy(&g->tensors[twin[y]], to_nchw, 4);
        for (int j = 0; j < g->nnodes; j++) {
            Node *r = &g->nodes[j];
            if (copy && !r->dead && reads_flat(r->op) && r->nin >= 1 && r->in[0] == y)
                r->in[0] = twin[y];
        }
        if (graph_use_count(g, y) > 0)
            add_transpose(g, twin[y], y, to_nchw);
    }
    cancel_pairs(g);
    if (!graph_toposort(g, d))
        return false;
    graph_compact(g);
    return true;
}
