/* report.c: `qcc --report`: one line per node of the compiled graph (op, integer or float,
 * output shape, multiply-accumulates, constant bytes it reads) and the totals a deployment
 * engineer budgets with: MACs, weight bytes, arena bytes against its lower bound. */
#include "driver.h"

#include <string.h>

static void shape_text(const Tensor *t, char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "%s[", dtype_name(t->dtype));
    for (int i = 0; i < t->rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? "x" : "",
                                 (long long)t->shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

/* The first output the node writes, or -1: a leading optional output may be left out
 * (MaxPool with only Indices has out[0] == -1). */
static int first_output(const Node *n) {
    for (int k = 0; k < n->nout; k++)
        if (n->out[k] >= 0)
            return n->out[k];
    return -1;
}

/* Multiply-accumulates of one node (0 for ops that do none). */
static int64_t node_macs(const Graph *g, const Node *n) {
    if (n->nin < 2 || n->in[1] < 0 || n->nout < 1 || n->out[0] < 0)
        return 0;
    const Tensor *out = &g->tensors[n->out[0]], *w = &g->tensors[n->in[1]];
    switch (n->op) {
    case OP_CONV: /* every output element sums Cin/group * kernel products */
        return tensor_numel(out) * (w->shape[0] ? tensor_numel(w) / w->shape[0] : 0);
    case OP_GEMM: case OP_MATMUL: { /* output elements times the shared dimension K */
        const Tensor *a = &g->tensors[n->in[0]];
        int64_t k = a->rank ? a->shape[a->rank - 1] : 1;
        if (n->op == OP_GEMM && n->a.gemm.trans_a && a->rank == 2)
            k = a->shape[0];
        return tensor_numel(out) * k;
    }
    default:
        return 0;
    }
}

void qcc_report(const Graph *g, FILE *f) {
    int64_t total_macs = 0, weight_bytes = 0;
    fprintf(f, "%-4s %-18s %-5s %-22s %12s %10s  %s\n", "#", "op", "kind", "output", "MACs",
            "const B", "node");
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        char shape[96] = "-";
        int out = first_output(n);
        if (out >= 0)
            shape_text(&g->tensors[out], shape, sizeof shape);
        int64_t macs = node_macs(g, n), consts = 0;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0 && tensor_is_const(&g->tensors[n->in[k]]))
                consts += tensor_bytes(&g->tensors[n->in[k]]);
        const char *kind = node_is_quantized(g, n) ? "int" : n->float_fallback ? "float*"
                                                                                : "float";
        fprintf(f, "%-4d %-18s %-5s %-22s %12lld %10lld  %s\n", i, op_name(n->op), kind, shape,
                (long long)macs, (long long)consts, n->name);
        total_macs += macs;
    }
    for (int t = 0; t < g->ntensors; t++)
        if (tensor_is_const(&g->tensors[t]) && graph_use_count(g, t) > 0)
            weight_bytes += tensor_bytes(&g->tensors[t]);
    fprintf(f, "total: %d nodes, %lld MACs, %lld bytes of constants, arena %lld bytes "
            "(lower bound %lld)\n", g->nnodes, (long long)total_macs, (long long)weight_bytes,
            (long long)g->arena_size, (long long)g->arena_lower_bound);
    fprintf(f, "kind: int = integer kernel, float* = float fallback inside a quantized model\n");
}
