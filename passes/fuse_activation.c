/* fuse_activation.c: an activation that only clamps (Relu, Clip, ReLU6 or a lookup table
 * that is a clamp with unchanged parameters) directly after a requantizing integer op is
 * folded into that op's output clamp [act_min, act_max]: free at run time, and exact, since
 * clamping the saturated integer result equals clamping before saturation. */
#include "passes.h"

/* The integer bounds node n clamps to, if it is a pure clamp of unchanged parameters. */
static bool clamp_bounds(const Graph *g, const Node *n, int32_t *lo, int32_t *hi) {
    if (!node_is_quantized(g, n) || n->nin < 1 || n->in[0] < 0)
        return false;
    const Tensor *in = &g->tensors[n->in[0]], *out = &g->tensors[n->out[0]];
    if (!dtype_is_int8ish(out->dtype) || in->dtype != out->dtype || !qp_equal(&in->q, &out->q))
        return false;
    if (n->op == OP_LUT)
        return lut_is_clamp(g, n->in[0], n->out[0], n->q.lut, lo, hi);
    if (n->op == OP_CLIP || n->op == OP_RELU) {
        *lo = n->q.act_min;
        *hi = n->q.act_max;
        return true;
    }
    return false;
}

bool pass_fuse_activation(Graph *g, const PassOptions *o, Diag *d) {
    (void)o;
    (void)d;
    for (int i = 0; i < g->nnodes; i++) {
        Node *act = &g->nodes[i];
        int32_t lo, hi;
        if (act->dead || !clamp_bounds(g, act, &lo, &hi))
            continue;
        int p = graph_producer(g, act->in[0]);
        if (p < 0 || !op_requantizes(g->nodes[p].op) || !node_is_quantized(g, &g->nodes[p]))
            continue;
        if (graph_use_count(g, act->in[0]) != 1)
            continue;
        Node *prod = &g->nodes[p];
        if (g->tensors[prod->out[0]].dtype == DT_INT32)
            continue;
        prod->q.act_min = prod->q.act_min > lo ? prod->q.act_min : lo;
        prod->q.act_max = prod->q.act_max < hi ? prod->q.act_max : hi;
        if (prod->q.act_max < prod->q.act_min)
            prod->q.act_min = prod->q.act_max;
        prod->out[0] = act->out[0];
        act->dead = true;
        node_merge_sources(g, p, i);
    }
    graph_compact(g);
    return true;
}
