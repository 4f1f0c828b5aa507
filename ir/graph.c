/* graph.c: construction and queries of the IR graph; the op and dtype tables.
 * Ids, not pointers: arrays are reallocated as they grow. No pass logic lives here. */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

static const struct { const char *onnx, *domain; } op_table[] = {
#define OP(e, onnx, dom, doc) {onnx, dom},
#include "ops.def"
#undef OP
};
static const char *const op_enum_names[] = {
#define OP(e, onnx, dom, doc) #e,
#include "ops.def"
#undef OP
};
_Static_assert(sizeof op_table / sizeof op_table[0] == OP_COUNT, "ops.def drifted");

const char *op_name(Op op) {
    QCC_ASSERT(op >= 0 && op < OP_COUNT);
    return op_table[op].onnx ? op_table[op].onnx : op_enum_names[op];
}

bool op_from_onnx(const char *domain, const char *op_type, Op *out) {
    if (!domain || strcmp(domain, "ai.onnx") == 0)
        domain = "";
    for (int i = 0; i < OP_COUNT; i++) {
        if (!op_table[i].onnx || strcmp(op_table[i].onnx, op_type) != 0)
            continue;
        /* the op's own domain; ORT also accepts default-domain ops under com.microsoft and
         * its com.microsoft ops under the default domain, so qcc reads both the same way */
        bool std = op_table[i].domain[0] == '\0';
        if (strcmp(op_table[i].domain, domain) == 0 ||
            (std && strcmp(domain, "com.microsoft") == 0) || (!std && domain[0] == '\0')) {
            *out = (Op)i;
            return true;
        }
    }
    return false;
}

const char *dtype_name(DType t) {
    switch (t) {
    case DT_UNDEF: return "undef";
    case DT_FLOAT: return "float";
    case DT_UINT8: return "uint8";
    case DT_INT8: return "int8";
    case DT_UINT16: return "uint16";
    case DT_INT16: return "int16";
    case DT_INT32: return "int32";
    case DT_INT64: return "int64";
    case DT_BOOL: return "bool";
    case DT_FLOAT16: return "float16";
    case DT_DOUBLE: return "double";
    }
    return "?";
}

const char *dtype_ctype(DType t) {
    switch (t) {
    case DT_FLOAT: return "float";
    case DT_UINT8: return "uint8_t";
    case DT_INT8: return "int8_t";
    case DT_UINT16: return "uint16_t";
    case DT_INT16: return "int16_t";
    case DT_INT32: return "int32_t";
    case DT_INT64: return "int64_t";
    case DT_BOOL: return "uint8_t";
    case DT_FLOAT16: return "uint16_t";
    case DT_DOUBLE: return "double";
    case DT_UNDEF: break;
    }
    qcc_unreachable();
}

size_t dtype_size(DType t) {
    switch (t) {
    case DT_UINT8: case DT_INT8: case DT_BOOL: return 1;
    case DT_UINT16: case DT_INT16: case DT_FLOAT16: return 2;
    case DT_FLOAT: case DT_INT32: return 4;
    case DT_INT64: case DT_DOUBLE: return 8;
    case DT_UNDEF: return 0;
    }
    return 0;
}

bool dtype_is_int8ish(DType t) {
    return t == DT_UINT8 || t == DT_INT8;
}

int32_t dtype_qmin(DType t) {
    switch (t) {
    case DT_UINT8: case DT_UINT16: case DT_BOOL: return 0;
    case DT_INT8: return -128;
    case DT_INT16: return -32768;
    case DT_INT32: return INT32_MIN;
    default: qcc_unreachable();
    }
}

int32_t dtype_qmax(DType t) {
    switch (t) {
    case DT_UINT8: return 255;
    case DT_BOOL: return 1;
    case DT_INT8: return 127;
    case DT_UINT16: return 65535;
    case DT_INT16: return 32767;
    case DT_INT32: return INT32_MAX;
    default: qcc_unreachable();
    }
}

void graph_init(Graph *g, Arena *a) {
    memset(g, 0, sizeof *g);
    g->arena = a;
    g->name = "model";
    g->opset = 13;
}

/* Grow an arena-backed array by doubling; the old copy is simply abandoned. */
static void *grow(Arena *a, void *old, int n, int *cap, size_t elem) {
    if (n < *cap)
        return old;
    int ncap = *cap ? *cap * 2 : 64;
    void *p = arena_calloc(a, (size_t)ncap, elem);
    if (old)
        memcpy(p, old, (size_t)n * elem);
    *cap = ncap;
    return p;
}

int graph_find_tensor(const Graph *g, const char *name) {
    for (int i = 0; i < g->ntensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0)
            return i;
    return -1;
}

static int add_tensor(Graph *g, const char *name) {
    g->tensors = grow(g->arena, g->tensors, g->ntensors, &g->captensors, sizeof(Tensor));
    Tensor *t = &g->tensors[g->ntensors];
    memset(t, 0, sizeof *t);
    t->name = arena_strdup(g->arena, name);
    t->offset = -1;
    return g->ntensors++;
}

int graph_tensor(Graph *g, const char *name) {
    int id = graph_find_tensor(g, name);
    return id >= 0 ? id : add_tensor(g, name);
}

int graph_new_tensor(Graph *g, const char *base) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", base);
    for (int k = 1; graph_find_tensor(g, buf) >= 0; k++)
        snprintf(buf, sizeof buf, "%.200s_%d", base, k);
    return add_tensor(g, buf);
}

int graph_add_node(Graph *g, Op op, const char *name) {
    g->nodes = grow(g->arena, g->nodes, g->nnodes, &g->capnodes, sizeof(Node));
    Node *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    char buf[64];
    if (!name || !*name) {
        snprintf(buf, sizeof buf, "%s_%d", op_name(op), g->nnodes);
        name = buf;
    }
    n->name = arena_strdup(g->arena, name);
    n->sources = arena_alloc(g->arena, sizeof(char *));
    n->sources[0] = n->name;
    n->nsources = 1;
    return g->nnodes++;
}

void node_add_input(Graph *g, int node, int tensor) {
    Node *n = &g->nodes[node];
    QCC_ASSERT(n->nin < QCC_MAX_IO);
    n->in[n->nin++] = tensor;
}

void node_add_output(Graph *g, int node, int tensor) {
    Node *n = &g->nodes[node];
    QCC_ASSERT(n->nout < QCC_MAX_IO);
    n->out[n->nout++] = tensor;
}

void node_merge_sources(Graph *g, int into, int from) {
    Node *a = &g->nodes[into], *b = &g->nodes[from];
    const char **s = arena_calloc(g->arena, (size_t)(a->nsources + b->nsources), sizeof(char *));
    /* keep graph order: the earlier node's names first */
    const Node *first = into < from ? a : b, *second = into < from ? b : a;
    int k = 0;
    for (int i = 0; i < first->nsources; i++)
        s[k++] = first->sources[i];
    for (int i = 0; i < second->nsources; i++)
        s[k++] = second->sources[i];
    a->sources = s;
    a->nsources = k;
}

int graph_producer(const Graph *g, int tensor) {
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->nout; k++)
            if (n->out[k] == tensor)
                return i;
    }
    return -1;
}

int graph_use_count(const Graph *g, int tensor) {
    int uses = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->nin; k++)
            uses += n->in[k] == tensor;
    }
    for (int k = 0; k < g->noutputs; k++)
        uses += g->outputs[k] == tensor;
    return uses;
}

bool graph_toposort(Graph *g, Diag *d) {
    int nn = g->nnodes;
    int *order = arena_calloc(g->arena, (size_t)nn + 1, sizeof(int));
    int *producer = arena_calloc(g->arena, (size_t)g->ntensors + 1, sizeof(int));
    bool *done = arena_calloc(g->arena, (size_t)nn + 1, sizeof(bool));
    for (int t = 0; t < g->ntensors; t++)
        producer[t] = -1;
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].nout; k++)
            if (g->nodes[i].out[k] >= 0)
                producer[g->nodes[i].out[k]] = i;
    /* Repeated stable sweeps: O(n^2) worst case, fine for graphs of a few thousand nodes. */
    int placed = 0;
    while (placed < nn) {
        bool progress = false;
        for (int i = 0; i < nn; i++) {
            if (done[i])
                continue;
            bool ready = true;
            for (int k = 0; k < g->nodes[i].nin && ready; k++) {
                int t = g->nodes[i].in[k];
                ready = t < 0 || producer[t] < 0 || done[producer[t]];
            }
            if (ready) {
                done[i] = true;
                order[placed++] = i;
                progress = true;
            }
        }
        if (!progress) {
            for (int i = 0; i < nn; i++)
                if (!done[i])
                    return diag_error(d, "node '%s' (%s): graph has a cycle through this node",
                                      g->nodes[i].name, op_name(g->nodes[i].op));
        }
    }
    Node *sorted = arena_calloc(g->arena, (size_t)g->capnodes, sizeof(Node));
    for (int i = 0; i < nn; i++)
        sorted[i] = g->nodes[order[i]];
    g->nodes = sorted;
    return true;
}

void graph_compact(Graph *g) {
    int *remap = arena_calloc(g->arena, (size_t)g->ntensors + 1, sizeof(int));
    bool *used = arena_calloc(g->arena, (size_t)g->ntensors + 1, sizeof(bool));
    int kept = 0;
    for (int i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].dead)
            continue;
        g->nodes[kept++] = g->nodes[i];
    }
    g->nnodes = kept;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0)
                used[n->in[k]] = true;
        for (int k = 0; k < n->nout; k++)
            if (n->out[k] >= 0)
                used[n->out[k]] = true;
    }
    for (int k = 0; k < g->ninputs; k++)
        used[g->inputs[k]] = true;
    for (int k = 0; k < g->noutputs; k++)
        used[g->outputs[k]] = true;
    int nt = 0;
    for (int t = 0; t < g->ntensors; t++) {
        remap[t] = used[t] ? nt : -1;
        if (used[t])
            g->tensors[nt++] = g->tensors[t];
    }
    g->ntensors = nt;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = &g->nodes[i];
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0)
                n->in[k] = remap[n->in[k]];
        for (int k = 0; k < n->nout; k++)
            if (n->out[k] >= 0)
                n->out[k] = remap[n->out[k]];
    }
    for (int k = 0; k < g->ninputs; k++)
        g->inputs[k] = remap[g->inputs[k]];
    for (int k = 0; k < g->noutputs; k++)
        g->outputs[k] = remap[g->outputs[k]];
}

int64_t tensor_numel(const Tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= t->shape[i];
    return n;
}

int64_t tensor_bytes(const Tensor *t) {
    return tensor_numel(t) * (int64_t)dtype_size(t->dtype);
}

bool tensor_is_const(const Tensor *t) {
    return (t->flags & T_CONST) != 0;
}

bool tensor_is_quantized(const Tensor *t) {
    return t->q.n > 0 && t->dtype != DT_FLOAT && t->dtype != DT_UNDEF;
}

double tensor_get_f(const Tensor *t, int64_t i) {
    QCC_ASSERT(t->data && i >= 0);
    switch (t->dtype) {
    case DT_FLOAT: return ((const float *)t->data)[i];
    case DT_DOUBLE: return ((const double *)t->data)[i];
    default: return (double)tensor_get_i(t, i);
    }
}

int64_t tensor_get_i(const Tensor *t, int64_t i) {
    QCC_ASSERT(t->data && i >= 0);
    switch (t->dtype) {
    case DT_UINT8: case DT_BOOL: return ((const uint8_t *)t->data)[i];
    case DT_INT8: return ((const int8_t *)t->data)[i];
    case DT_UINT16: return ((const uint16_t *)t->data)[i];
    case DT_INT16: return ((const int16_t *)t->data)[i];
    case DT_INT32: return ((const int32_t *)t->data)[i];
    case DT_INT64: return ((const int64_t *)t->data)[i];
    case DT_FLOAT: return (int64_t)((const float *)t->data)[i];
    case DT_DOUBLE: return (int64_t)((const double *)t->data)[i];
    default: qcc_unreachable();
    }
}

void *tensor_set_const(Graph *g, int tensor, DType dt, int rank, const int64_t *shape) {
    Tensor *t = &g->tensors[tensor];
    QCC_ASSERT(rank >= 0 && rank <= QCC_MAX_RANK);
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank; i++)
        t->shape[i] = shape[i];
    t->shape_known = true;
    t->flags |= T_CONST;
    t->data = arena_calloc(g->arena, (size_t)tensor_numel(t) + 1, dtype_size(dt));
    return t->data;
}

bool node_is_quantized(const Graph *g, const Node *n) {
    return n->nout > 0 && n->out[0] >= 0 && tensor_is_quantized(&g->tensors[n->out[0]]);
}
