/* fold_bn.c: a BatchNormalization reading a Conv, ConvTranspose, Gemm or MatMul output is
 * folded into that node's weights and bias: w' = w * s[c], b' = (b - mean[c]) * s[c] +
 * beta[c] with s[c] = gamma[c] / sqrt(var[c] + eps), computed in double and rounded once to
 * float. Only when every operand is a float constant and the BN is the producer's only
 * reader; any other BN stays (the float kernels compute it). A weight another node also
 * reads is copied, never changed in place. Runs after shape inference (it needs shapes). */
#include "quantize.h"

#include <math.h>
#include <string.h>

/* Which output channel (BN channel) weight element e of producer n belongs to. The layouts:
 * Conv [Cout, Cin/g, k...]; ConvTranspose [Cin, Cout/g, k...] (channel = group * Cout/g + j);
 * Gemm transB [N, K], Gemm or MatMul [K, N]. */
typedef struct WeightMap {
    Op op;                  /* producer's op */
    int64_t cout;           /* output channels (BN channels) */
    int64_t kernel;         /* elements of one filter slice (product of spatial dims) */
    int64_t cout_per_group; /* ConvTranspose: output channels per group */
    int64_t cin_per_group;  /* ConvTranspose: input channels per group */
    bool rows;              /* Gemm/MatMul: the channel is the row (transB) or the column */
    int64_t ncols;          /* Gemm/MatMul: columns of the 2-d weight */
} WeightMap;

static int64_t weight_channel(const WeightMap *m, int64_t e, int64_t numel) {
    switch (m->op) {
    case OP_CONV:
        return e / (numel / m->cout);
    case OP_CONV_TRANSPOSE: {
        int64_t in_c = e / (m->cout_per_group * m->kernel);
        int64_t j = (e / m->kernel) % m->cout_per_group;
        return (in_c / m->cin_per_group) * m->cout_per_group + j;
    }
    default:
        return m->rows ? e / m->ncols : e % m->ncols;
    }
}

/* Float constant of exactly n elements, or NULL. */
static const float *float_vector(const Graph *g, int t, int64_t n) {
    if (t < 0)
        return NULL;
    const Tensor *tt = &g->tensors[t];
    if (!tensor_is_const(tt) || tt->dtype != DT_FLOAT || tensor_numel(tt) != n)
        return NULL;
    return tt->data;
}

/* The weight layout of producer p feeding a BN over `channels`, or false if it has none we
 * fold (non-constant weight, transposed A, batched MatMul, channel count mismatch). */
static bool weight_map(const Graph *g, const Node *p, int64_t channels, WeightMap *m) {
    memset(m, 0, sizeof *m);
    m->op = p->op;
    m->cout = channels;
    if (p->nin < 2 || p->in[1] < 0)
        return false;
    const Tensor *w = &g->tensors[p->in[1]];
    if (!tensor_is_const(w) || w->dtype != DT_FLOAT || !w->shape_known)
        return false;
    switch (p->op) {
    case OP_CONV:
        return w->rank >= 3 && w->shape[0] == channels;
    case OP_CONV_TRANSPOSE: {
        int64_t groups = p->a.conv.group > 0 ? p->a.conv.group : 1;
        if (w->rank < 3 || w->shape[1] * groups != channels || w->shape[0] % groups)
            return false;
        m->cout_per_group = w->shape[1];
        m->cin_per_group = w->shape[0] / groups;
        m->kernel = 1;
        for (int k = 2; k < w->rank; k++)
            m->kernel *= w->shape[k];
        return true;
    }
    case OP_GEMM:
    case OP_MATMUL: {
        if (w->rank != 2 || (p->op == OP_GEMM && p->a.gemm.trans_a))
            return false;
        const Tensor *a = &g->tensors[p->in[0]];
        if (p->op == OP_MATMUL && (!a->shape_known || a->rank != 2))
            return false; /* BN's channel axis 1 is the matmul's column axis only in 2-d */
        m->rows = p->op == OP_GEMM && p->a.gemm.trans_b;
        m->ncols = w->shape[1];
        return (m->rows ? w->shape[0] : w->shape[1]) == channels;
    }
    default:
        return false;
    }
}

/* Gemm's C as one value per channel: absent, one element, or [N] / [1, N]. */
static bool gemm_bias_per_channel(const Graph *g, const Node *p, int64_t channels) {
    if (p->nin < 3 || p->in[2] < 0)
        return true;
    const Tensor *c = &g->tensors[p->in[2]];
    if (!tensor_is_const(c) || c->dtype != DT_FLOAT)
        return false;
    int64_t numel = tensor_numel(c);
    if (numel == 1)
        return true;
    if (numel != channels || c->rank < 1)
        return false;
    for (int k = 0; k < c->rank - 1; k++)
        if (c->shape[k] != 1)
            return false;
    return true;
}

static bool fold_one(Graph *g, int bn_id) {
    const Node *bn = &g->nodes[bn_id];
    if (bn->nin < 5 || bn->in[0] < 0)
        return false;
    for (int k = 1; k < bn->nout; k++) /* training-mode statistics outputs still read */
        if (bn->out[k] >= 0 && graph_use_count(g, bn->out[k]) > 0)
            return false;
    int x = bn->in[0];
    const Tensor *tx = &g->tensors[x];
    if (!tx->shape_known || tx->rank < 2 || tx->dtype != DT_FLOAT)
        return false;
    int64_t channels = tx->shape[1];
    int p_id = graph_producer(g, x);
    if (p_id < 0 || graph_use_count(g, x) != 1)
        return false;
    const Node *p = &g->nodes[p_id];
    WeightMap m;
    if (!weight_map(g, p, channels, &m))
        return false;
    if (p->op == OP_GEMM && !gemm_bias_per_channel(g, p, channels))
        return false;
    const float *gamma = float_vector(g, bn->in[1], channels);
    const float *beta = float_vector(g, bn->in[2], channels);
    const float *mean = float_vector(g, bn->in[3], channels);
    const float *var = float_vector(g, bn->in[4], channels);
    if (!gamma || !beta || !mean || !var)
        return false;
    int bias_in = p->nin > 2 ? p->in[2] : -1;
    const float *bias = NULL;
    int64_t bias_numel = 0;
    if (bias_in >= 0) {
        const Tensor *tb = &g->tensors[bias_in];
        bias_numel = tensor_numel(tb);
        if (!tensor_is_const(tb) || tb->dtype != DT_FLOAT ||
            (bias_numel != channels && !(p->op == OP_GEMM && bias_numel == 1)))
            return false;
        bias = tb->data;
    }
    double eps = bn->a.bn.epsilon;
    double *scale = arena_calloc(g->arena, (size_t)channels, sizeof(double));
    for (int64_t c = 0; c < channels; c++) {
        scale[c] = (double)gamma[c] / sqrt((double)var[c] + eps);
        if (!isfinite(scale[c]))
            return false; /* negative variance or similar: leave it to the float kernel */
    }
    /* Gemm: y = alpha*A*B + beta*C, so the bias term folded is beta*C and beta becomes 1 */
    double cbeta = p->op == OP_GEMM ? p->a.gemm.beta : 1.0;

    /* New weight data; the tensor keeps its id (and name) unless another node reads it. */
    int w = p->in[1];
    int64_t wn = tensor_numel(&g->tensors[w]);
    float *nw = arena_calloc(g->arena, (size_t)wn, sizeof(float));
    const float *ow = g->tensors[w].data;
    for (int64_t e = 0; e < wn; e++)
        nw[e] = (float)((double)ow[e] * scale[weight_channel(&m, e, wn)]);
    if (graph_use_count(g, w) > 1) {
        const Tensor *old = &g->tensors[w];
        int rank = old->rank;
        int64_t shape[QCC_MAX_RANK];
        memcpy(shape, old->shape, sizeof shape);
        int copy = graph_new_tensor(g, arena_printf(g->arena, "%s_bn_folded", old->name));
        tensor_set_const(g, copy, DT_FLOAT, rank, shape);
        g->nodes[p_id].in[1] = copy;
        w = copy;
    }
    g->tensors[w].data = nw;

    /* New bias: a fresh [C] tensor unless the old one is ours alone and already [C]. */
    float *nb = arena_calloc(g->arena, (size_t)channels, sizeof(float));
    for (int64_t c = 0; c < channels; c++) {
        double b = bias ? cbeta * bias[bias_numel == 1 ? 0 : c] : 0.0;
        nb[c] = (float)((b - mean[c]) * scale[c] + beta[c]);
    }
    if (bias_in >= 0 && bias_numel == channels && graph_use_count(g, bias_in) == 1) {
        g->tensors[bias_in].data = nb;
    } else {
        const char *base = bias_in >= 0 ? g->tensors[bias_in].name
                           : arena_printf(g->arena, "%s_bias", g->nodes[p_id].name);
        int nbias = graph_new_tensor(g, arena_printf(g->arena, "%s_bn_folded", base));
        int64_t shape[1] = {channels};
        tensor_set_const(g, nbias, DT_FLOAT, 1, shape);
        g->tensors[nbias].data = nb;
        Node *pn = &g->nodes[p_id];
        while (pn->nin < 3)
            pn->in[pn->nin++] = -1;
        pn->in[2] = nbias;
    }
    Node *pn = &g->nodes[p_id];
    if (pn->op == OP_MATMUL) { /* MatMul has no bias: it becomes Gemm (2-d, no transposes) */
        pn->op = OP_GEMM;
        memset(&pn->a, 0, sizeof pn->a);
        pn->a.gemm.alpha = 1.0f;
    }
    if (pn->op == OP_GEMM)
        pn->a.gemm.beta = 1.0f;
    /* The producer now writes the BN's output tensor (its name may be a graph output). */
    pn->out[0] = g->nodes[bn_id].out[0];
    g->nodes[bn_id].dead = true;
    node_merge_sources(g, p_id, bn_id);
    return true;
}

bool pass_fold_bn(Graph *g, const PassOptions *o, Diag *d) {
    (void)o, (void)d;
    for (int i = 0; i < g->nnodes; i++)
        if (!g->nodes[i].dead && g->nodes[i].op == OP_BATCHNORM)
            fold_one(g, i);
    return true;
}
