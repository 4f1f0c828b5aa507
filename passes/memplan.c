/* memplan.c: one static arena for every intermediate tensor, planned at compile time.
 * Each tensor lives from the node that writes it to the last node that reads it; tensors are
 * placed largest first at the lowest 16-byte aligned offset that overlaps no placed tensor
 * alive at the same time (greedy by size, first fit, as TFLite Micro's planner). Graph
 * inputs/outputs live in the caller's buffers and constants in read-only arrays, so neither
 * takes arena space. Boundary conversions (memplan_boundaries) run outside the node order,
 * so their integer tensors live over the whole run. The lower bound printed beside the plan
 * is the largest sum of live bytes at any one step: no plan can do better. */
#include "passes.h"

#include <stdlib.h>

enum { ALIGN = 16 };

typedef struct Interval {
    int tensor;         /* tensor id */
    int first, last;    /* node indices of the write and the last read */
    int64_t bytes;      /* aligned size */
} Interval;

static int by_size_desc(const void *pa, const void *pb) {
    const Interval *a = pa, *b = pb;
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes ? -1 : 1;
    return a->tensor - b->tensor; /* deterministic ties */
}

static bool is_port(const Graph *g, int t) {
    return (g->tensors[t].flags & (T_INPUT | T_OUTPUT)) != 0;
}

/* Number of live nodes reading tensor t; *only is the last of them. */
static int readers(const Graph *g, int t, int *only) {
    int count = 0;
    for (int i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].dead)
            continue;
        for (int k = 0; k < g->nodes[i].nin; k++)
            if (g->nodes[i].in[k] == t) {
                count++;
                *only = i;
            }
    }
    return count;
}

void memplan_boundaries(const Graph *g, int *qnode, int *dqnode) {
    /* claimed[t]: tensor t is already the integer side of a chosen boundary node (a tensor
     * cannot be both _run_q's input and its output, nor two outputs). */
    bool *claimed = arena_calloc(g->arena, (size_t)g->ntensors + 1, sizeof(bool));
    for (int k = 0; k < g->ninputs; k++) {
        int t = g->inputs[k], node = -1;
        qnode[k] = -1;
        if (readers(g, t, &node) != 1 || g->tensors[t].flags & T_OUTPUT)
            continue;
        const Node *n = &g->nodes[node];
        /* a Q whose scale or zero point is an input (run-time or blocked) has no QParams for
         * _run_q to publish: codegen runs it in node order, so its output must not be
         * planned as live from before the first node */
        if (n->op != OP_QUANTIZE || n->nin > 1 || n->nout < 1 || n->in[0] != t ||
            n->out[0] < 0 || is_port(g, n->out[0]) || claimed[n->out[0]])
            continue;
        qnode[k] = node;
        claimed[n->out[0]] = true;
    }
    for (int k = 0; k < g->noutputs; k++) {
        int t = g->outputs[k];
        int p = graph_producer(g, t);
        dqnode[k] = -1;
        if (p < 0 || g->nodes[p].op != OP_DEQUANTIZE || g->nodes[p].nin > 1 ||
            g->tensors[t].flags & T_INPUT)
            continue;
        int src = g->nodes[p].in[0];
        if (src < 0 || tensor_is_const(&g->tensors[src]) || is_port(g, src) ||
            graph_producer(g, src) < 0 || claimed[src])
            continue;
        bool again = false; /* the same DEQUANTIZE already serves an earlier output */
        for (int j = 0; j < k && !again; j++)
            again = dqnode[j] == p;
        if (again)
            continue;
        dqnode[k] = p;
        claimed[src] = true;
    }
}

bool pass_memplan(Graph *g, const PassOptions *o, Diag *d) {
    /* Steps: -1 is <name>_run's boundary QUANTIZE calls, 0..nnodes-1 the nodes in order,
     * nnodes its boundary DEQUANTIZE calls after <name>_run_q returns. */
    int *qnode = arena_calloc(g->arena, (size_t)g->ninputs + 1, sizeof(int));
    int *dqnode = arena_calloc(g->arena, (size_t)g->noutputs + 1, sizeof(int));
    memplan_boundaries(g, qnode, dqnode);
    int *from = arena_calloc(g->arena, (size_t)g->ntensors + 1, sizeof(int));
    int *until = arena_calloc(g->arena, (size_t)g->ntensors + 1, sizeof(int));
    for (int t = 0; t < g->ntensors; t++)
        from[t] = until[t] = -2; /* -2: no boundary extension */
    for (int k = 0; k < g->ninputs; k++)
        if (qnode[k] >= 0)
            from[g->nodes[qnode[k]].out[0]] = -1;
    for (int k = 0; k < g->noutputs; k++)
        if (dqnode[k] >= 0)
            until[g->nodes[dqnode[k]].in[0]] = g->nnodes;
    Interval *iv = arena_calloc(g->arena, (size_t)g->ntensors + 1, sizeof(Interval));
    int count = 0;
    for (int t = 0; t < g->ntensors; t++) {
        Tensor *tt = &g->tensors[t];
        tt->offset = -1;
        if (tensor_is_const(tt) || is_port(g, t))
            continue;
        int first = -1, last = -1;
        for (int i = 0; i < g->nnodes; i++) {
            const Node *n = &g->nodes[i];
            for (int k = 0; k < n->nout; k++)
                if (n->out[k] == t && first < 0)
                    first = i;
            for (int k = 0; k < n->nin; k++)
                if (n->in[k] == t)
                    last = i;
        }
        if (first < 0)
            continue; /* produced by nobody: verify/check_support report it */
        if (last < first)
            last = first; /* written but never read (an unused second output) */
        if (from[t] != -2)
            first = from[t];
        if (until[t] != -2)
            last = until[t];
        int64_t bytes = tensor_bytes(tt);
        if (bytes < 0 || bytes > ((int64_t)1 << 40))
            return diag_error(d, "tensor '%s' is too large (%lld bytes)", tt->name,
                              (long long)bytes);
        iv[count++] = (Interval){t, first, last, (bytes + ALIGN - 1) / ALIGN * ALIGN};
    }
    qsort(iv, (size_t)count, sizeof *iv, by_size_desc);
    int64_t size = 0;
    for (int i = 0; i < count; i++) {
        /* first fit: try offset 0, then the end of every conflicting placed tensor */
        int64_t best = -1;
        for (int j = -1; j < i; j++) {
            int64_t cand = j < 0 ? 0 : g->tensors[iv[j].tensor].offset + iv[j].bytes;
            if (j >= 0 && (iv[j].last < iv[i].first || iv[i].last < iv[j].first))
                continue;
            bool fits = true;
            for (int k = 0; k < i && fits; k++) {
                if (iv[k].last < iv[i].first || iv[i].last < iv[k].first)
                    continue;
                int64_t off = g->tensors[iv[k].tensor].offset;
                fits = cand + iv[i].bytes <= off || off + iv[k].bytes <= cand;
            }
            if (fits && (best < 0 || cand < best))
                best = cand;
        }
        QCC_ASSERT(best >= 0);
        g->tensors[iv[i].tensor].offset = best;
        if (best + iv[i].bytes > size)
            size = best + iv[i].bytes;
    }
    int64_t lower = 0;
    for (int step = -1; step <= g->nnodes; step++) {
        int64_t live = 0;
        for (int i = 0; i < count; i++)
            if (iv[i].first <= step && step <= iv[i].last)
                live += iv[i].bytes;
        lower = live > lower ? live : lower;
    }
    g->arena_size = size;
    g->arena_lower_bound = lower;
    if (o->ram_budget > 0 && size > o->ram_budget)
        return diag_error(d, "activation arena needs %lld bytes, over the --ram-budget of %lld",
                          (long long)size, (long long)o->ram_budget);
    return true;
}
