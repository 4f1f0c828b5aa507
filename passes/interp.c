/* interp.c: the float reference interpreter's driver: buffers for every tensor, constants
 * converted once, nodes run in graph order through interp_ops.c. It must not modify the graph:
 * calibration and the report run it on graphs that compilation goes on to use. */
#include "interp.h"

#include <string.h>

bool interp_init(Interp *ip, const Graph *g, Diag *d) {
    memset(ip, 0, sizeof *ip);
    ip->g = g;
    arena_init(&ip->arena);
    ip->val = arena_calloc(&ip->arena, (size_t)g->ntensors + 1, sizeof *ip->val);
    bool *used = arena_calloc(&ip->arena, (size_t)g->ntensors + 1, sizeof *used);
    for (int k = 0; k < g->ninputs; k++)
        used[g->inputs[k]] = true;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        if (!interp_supports(g, n))
            return diag_error(d, "node '%s' (%s): not supported by the float interpreter",
                              n->name, op_name(n->op));
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0)
                used[n->in[k]] = true;
        for (int k = 0; k < n->nout; k++)
            if (n->out[k] >= 0)
                used[n->out[k]] = true;
    }
    int64_t total = 0;
    for (int t = 0; t < g->ntensors; t++) {
        const Tensor *x = &g->tensors[t];
        if (!used[t])
            continue;
        if (!x->shape_known)
            return diag_error(d, "tensor '%s': shape unknown, the float interpreter needs "
                              "static shapes", x->name);
        int64_t n = tensor_numel(x);
        if (n < 0 || n > INTERP_MAX_ELEMS - total)
            return diag_error(d, "tensor '%s': the float interpreter's buffers would exceed "
                              "%lld elements", x->name, (long long)INTERP_MAX_ELEMS);
        total += n;
        /* one spare element so that empty tensors still get a distinct non-NULL buffer */
        float *v = arena_calloc(&ip->arena, (size_t)n + 1, sizeof *v);
        if (tensor_is_const(x)) {
            if (!x->data)
                return diag_error(d, "tensor '%s': constant without data", x->name);
            for (int64_t e = 0; e < n; e++)
                v[e] = (float)tensor_get_f(x, e);
        }
        ip->val[t] = v;
    }
    return true;
}

bool interp_run(Interp *ip, const Tensor *inputs, Diag *d) {
    const Graph *g = ip->g;
    for (int k = 0; k < g->ninputs; k++) {
        const Tensor *want = &g->tensors[g->inputs[k]], *have = &inputs[k];
        if (have->dtype != DT_FLOAT || !have->data || tensor_numel(have) != tensor_numel(want))
            return diag_error(d, "input '%s': the interpreter needs float data of %lld "
                              "elements", want->name, (long long)tensor_numel(want));
        memcpy(ip->val[g->inputs[k]], have->data, (size_t)tensor_numel(want) * sizeof(float));
    }
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (!n->dead && !interp_node(g, n, ip->val, d))
            return false;
    }
    ip->runs++;
    return true;
}

const float *interp_value(const Interp *ip, int tensor) {
    QCC_ASSERT(tensor >= 0 && tensor < ip->g->ntensors);
    return ip->val[tensor];
}

void interp_free(Interp *ip) {
    arena_free(&ip->arena);
    ip->val = NULL;
}
