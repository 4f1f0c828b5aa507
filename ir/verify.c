/* verify.c: structural invariants of the IR, checked after every pass. A failure here is a
 * bug in qcc, not in the model: user errors are diagnosed by the stage that reads them. */
#include "ir.h"

static bool fail(Diag *d, const char *pass, const Graph *g, int node, const char *what) {
    if (node >= 0)
        return diag_error(d, "internal: IR invalid after %s: node '%s' (%s): %s", pass,
                          g->nodes[node].name, op_name(g->nodes[node].op), what);
    return diag_error(d, "internal: IR invalid after %s: %s", pass, what);
}

static bool verify_qparams(const Graph *g, const Tensor *t, Diag *d, const char *pass) {
    const QParams *q = &t->q;
    if (q->n == 0)
        return true;
    if (!q->scale || !q->zero_point)
        return fail(d, pass, g, -1, "quant params without arrays");
    if (q->n > 1 && t->shape_known && (q->axis < 0 || q->axis >= t->rank ||
                                        t->shape[q->axis] != q->n))
        return fail(d, pass, g, -1, "per-axis scale count does not match the axis");
    for (int i = 0; i < q->n; i++)
        if (!(q->scale[i] > 0.0f) || q->scale[i] > 3.4e38f)
            return fail(d, pass, g, -1, "scale not positive and finite");
    return true;
}

bool graph_verify(const Graph *g, Diag *d, const char *pass) {
    Arena scratch;
    arena_init(&scratch);
    int *producer = arena_calloc(&scratch, (size_t)g->ntensors + 1, sizeof(int));
    bool ok = true;
    for (int t = 0; t < g->ntensors; t++)
        producer[t] = -1;
    for (int i = 0; i < g->nnodes && ok; i++) {
        const Node *n = &g->nodes[i];
        if (n->op < 0 || n->op >= OP_COUNT)
            ok = fail(d, pass, g, -1, "op out of range");
        for (int k = 0; k < n->nin && ok; k++) {
            int t = n->in[k];
            if (t < -1 || t >= g->ntensors)
                ok = fail(d, pass, g, i, "input id out of range");
            else if (!n->dead && t >= 0 && producer[t] == -1 && graph_producer(g, t) >= 0 &&
                     !tensor_is_const(&g->tensors[t]))
                ok = fail(d, pass, g, i, "input produced later: not in topological order");
        }
        for (int k = 0; k < n->nout && ok; k++) {
            int t = n->out[k];
            if (t < -1 || t >= g->ntensors)
                ok = fail(d, pass, g, i, "output id out of range");
            else if (t >= 0 && !n->dead) {
                if (producer[t] >= 0)
                    ok = fail(d, pass, g, i, "tensor has two producers");
                producer[t] = i;
            }
        }
    }
    for (int t = 0; t < g->ntensors && ok; t++) {
        const Tensor *tt = &g->tensors[t];
        if (tt->rank < 0 || tt->rank > QCC_MAX_RANK)
            ok = fail(d, pass, g, -1, "rank out of range");
        else if (tensor_is_const(tt) && !tt->data)
            ok = fail(d, pass, g, -1, "constant without data");
        else
            ok = verify_qparams(g, tt, d, pass);
    }
    for (int k = 0; k < g->noutputs && ok; k++)
        if (g->outputs[k] < 0 || g->outputs[k] >= g->ntensors)
            ok = fail(d, pass, g, -1, "graph output id out of range");
    arena_free(&scratch);
    return ok;
}
