/* target_cuda.c: the CUDA backend (--target=cuda). Writes model.h (the C backend's API plus
 * <name>_init/_free/_run_device) and model.cu: host copies of the constants that _init
 * uploads once into one device block, one __global__ kernel per node (a parallel kernel from
 * cuda_conv.c / cuda_eltwise.c, else the C backend's body on one thread), and host entry
 * points that check every CUDA call and return non-zero on failure, never abort.
 * Tensors stay NCHW as in the IR. Same file frame pieces as the C backend (cgen.h). */
#include "cudagen.h"

#include <string.h>

typedef struct Cuda {
    CFrame f;                   /* C frame: names, boundaries, constants */
    CuGen cu;                   /* state shared with the kernel emitters */
    const char **grid, **block; /* per node: launch geometry */
    bool **cparams;             /* per node: per tensor, a constant the kernel reads */
    int64_t *woff;              /* per tensor: offset in the device weight block, or -1 */
    int64_t *aoff;              /* per node x 16 array kinds: offset of its quant arrays */
    int64_t *xoff;              /* per extra: offset in the weight block */
    int64_t wbytes;             /* size of the weight block */
    int64_t *in_f, *in_q;       /* per graph input: offsets of its staging buffers */
    int64_t *out_f, *out_q;     /* per graph output: same */
    int64_t iobytes;            /* size of the staging block */
} Cuda;

#define CU_NARR 11 /* CG_ARR_* bits: c3, lut, m0_0..2, shift_0..2, f_0..2 */

const char *cu_extra(CuGen *cu, const Node *n, const char *what, const int32_t *v,
                     int64_t count) {
    if (cu->nextra == cu->cap) {
        int cap = cu->cap ? 2 * cu->cap : 16;
        CuExtra *e = arena_calloc(cu->cg->g->arena, (size_t)cap, sizeof *e);
        if (cu->nextra)
            memcpy(e, cu->extra, (size_t)cu->nextra * sizeof *e);
        cu->extra = e;
        cu->cap = cap;
    }
    CuExtra *e = &cu->extra[cu->nextra++];
    e->node = (int)(n - cu->cg->g->nodes);
    e->name = cg_fmt(cu->cg, "n%d_%s", e->node, what);
    e->v = v;
    e->n = count;
    return e->name;
}

/* Name, C type and byte size of node array kind `bit` (CG_ARR_*) of node idx. */
static const char *arr_info(Cuda *c, int idx, unsigned bit, const char **ctype, int64_t *bytes) {
    const Node *n = &c->f.g->nodes[idx];
    *ctype = "int32_t";
    if (bit == CG_ARR_C3) {
        *bytes = 4 * (int64_t)n->q.nbias;
        return cg_fmt(&c->f.cg, "n%d_c3", idx);
    }
    if (bit == CG_ARR_LUT) {
        *ctype = dtype_ctype(c->f.g->tensors[n->out[0]].dtype);
        *bytes = 256;
        return cg_fmt(&c->f.cg, "n%d_lut", idx);
    }
    for (int k = 0; k < 3; k++) {
        *bytes = 4 * (int64_t)n->q.mul[k].n;
        if (bit == ((unsigned)CG_ARR_M0 << k))
            return cg_fmt(&c->f.cg, "n%d_m0_%d", idx, k);
        if (bit == ((unsigned)CG_ARR_SHIFT << k))
            return cg_fmt(&c->f.cg, "n%d_shift_%d", idx, k);
        if (bit == ((unsigned)CG_ARR_F << k)) {
            *ctype = "float";
            return cg_fmt(&c->f.cg, "n%d_f_%d", idx, k);
        }
    }
    qcc_unreachable();
}

static unsigned arr_bit(int i) {
    static const unsigned bits[CU_NARR] = {
        CG_ARR_C3, CG_ARR_LUT, CG_ARR_M0, CG_ARR_M0 << 1, CG_ARR_M0 << 2, CG_ARR_SHIFT,
        CG_ARR_SHIFT << 1, CG_ARR_SHIFT << 2, CG_ARR_F, CG_ARR_F << 1, CG_ARR_F << 2};
    return bits[i];
}

/* Visit the constant parameters of node idx in parameter order: tensors (id order), quant
 * arrays, extras. put() gets the C type, the name and the device offset. */
typedef void (*ParamFn)(Cuda *c, StrBuf *sb, const char *ctype, const char *name, int64_t off);

static void each_cparam(Cuda *c, int idx, StrBuf *sb, ParamFn put) {
    const Graph *g = c->f.g;
    for (int t = 0; t < g->ntensors; t++)
        if (c->cparams[idx][t])
            put(c, sb, dtype_ctype(g->tensors[t].dtype), cg_fmt(&c->f.cg, "t%d", t),
                c->woff ? c->woff[t] : 0); /* offsets are planned after every kernel */
    for (int i = 0; i < CU_NARR; i++)
        if (c->f.cg.arrays_used[idx] & arr_bit(i)) {
            const char *ctype;
            int64_t bytes;
            const char *name = arr_info(c, idx, arr_bit(i), &ctype, &bytes);
            put(c, sb, ctype, name, c->aoff ? c->aoff[idx * 16 + i] : 0);
        }
    for (int e = 0; e < c->cu.nextra; e++)
        if (c->cu.extra[e].node == idx)
            put(c, sb, "int32_t", c->cu.extra[e].name, c->xoff ? c->xoff[e] : 0);
}

static void put_decl(Cuda *c, StrBuf *sb, const char *ctype, const char *name, int64_t off) {
    (void)c, (void)off;
    sb_printf(sb, ", const %s *%s", ctype, name);
}

static void put_devptr(Cuda *c, StrBuf *sb, const char *ctype, const char *name, int64_t off) {
    (void)c, (void)name;
    sb_printf(sb, ", (const %s *)(qcc_w + %lld)", ctype, (long long)off);
}

/* ---- kernels ------------------------------------------------------------------------------ */

static bool emit_kernel(Cuda *c, StrBuf *out, int idx, Diag *d) {
    const Graph *g = c->f.g;
    const Node *n = &g->nodes[idx];
    CGen *cg = &c->f.cg;
    CuKernelFn par = cu_conv_kernel(&c->cu, n);
    if (!par)
        par = cu_eltwise_kernel(&c->cu, n);
    KernelFn fn = par ? NULL : cframe_pick_kernel(g, n);
    if (!par && !fn)
        return diag_error(d, "node '%s' (%s): no CUDA kernel for this op/dtype", n->name,
                          op_name(n->op));
    c->f.fname[idx] = cg_fmt(cg, "node%d_%s", idx, cframe_sanitize(g->arena, n->name, 40));
    /* which constants this body reads: const_used before and after */
    bool *before = arena_alloc(g->arena, (size_t)g->ntensors + 1);
    memcpy(before, cg->const_used, (size_t)g->ntensors);
    memset(cg->const_used, 0, (size_t)g->ntensors);
    StrBuf body;
    sb_init(&body);
    cg->sb = &body;
    c->cu.grid = "dim3(1)";
    c->cu.block = "dim3(1)";
    bool ok = par ? par(&c->cu, n) : fn(cg, n);
    cg->sb = NULL;
    c->cparams[idx] = arena_calloc(g->arena, (size_t)g->ntensors + 1, sizeof(bool));
    for (int t = 0; t < g->ntensors; t++) {
        c->cparams[idx][t] = cg->const_used[t];
        cg->const_used[t] = cg->const_used[t] || before[t];
    }
    c->grid[idx] = c->cu.grid;
    c->block[idx] = c->cu.block;
    if (!ok) {
        sb_free(&body);
        return false;
    }
    cframe_node_comment(&c->f, out, idx);
    if (!par)
        sb_puts(out, "/* single thread: the C backend's loops (no parallel kernel for this) */\n");
    sb_printf(out, "__global__ void %s(", c->f.fname[idx]);
    StrBuf unused;
    sb_init(&unused);
    int np = 0;
    const char *text = body.data ? body.data : "";
    for (int k = 0; k < n->nin; k++) {
        if (n->in[k] < 0 || tensor_is_const(&g->tensors[n->in[k]]))
            continue;
        sb_printf(out, "%sconst %s *x%d", np++ ? ", " : "", dtype_ctype(g->tensors[n->in[k]].dtype),
                  k);
        if (!cframe_uses_ident(text, cg_fmt(cg, "x%d", k)))
            sb_printf(&unused, "    (void)x%d;\n", k);
    }
    for (int k = 0; k < n->nout; k++) {
        sb_printf(out, "%s%s *y%d", np++ ? ", " : "", dtype_ctype(g->tensors[n->out[k]].dtype), k);
        if (!cframe_uses_ident(text, cg_fmt(cg, "y%d", k)))
            sb_printf(&unused, "    (void)y%d;\n", k);
    }
    each_cparam(c, idx, out, put_decl);
    sb_puts(out, ") {\n");
    if (unused.len)
        sb_puts(out, unused.data);
    if (!par)
        sb_puts(out, "    if (blockIdx.x != 0 || threadIdx.x != 0)\n        return;\n");
    sb_puts(out, text);
    sb_puts(out, "}\n\n");
    sb_free(&unused);
    sb_free(&body);
    return true;
}

/* Device pointer expression of tensor t in a run function; ports[t] overrides. */
static const char *dev_ptr(Cuda *c, int t, const char *const *ports, Diag *d) {
    const Tensor *tt = &c->f.g->tensors[t];
    if (ports[t])
        return ports[t];
    if (tensor_is_const(tt))
        return cg_fmt(&c->f.cg, "(const %s *)(qcc_w + %lld)", dtype_ctype(tt->dtype),
                      (long long)c->woff[t]);
    if (tt->offset < 0) {
        diag_error(d, "tensor '%s': no arena offset (memory plan missing)", tt->name);
        return "0";
    }
    return cg_fmt(&c->f.cg, "(%s *)(qcc_arena + %lld)", dtype_ctype(tt->dtype),
                  (long long)tt->offset);
}

static void put_launch(Cuda *c, StrBuf *sb, int idx, const char *const *ports, Diag *d) {
    const Node *n = &c->f.g->nodes[idx];
    sb_printf(sb, "    QCC_LAUNCH(%s, %s, %s, 0, stream", c->f.fname[idx], c->grid[idx],
              c->block[idx]);
    for (int k = 0; k < n->nin; k++)
        if (n->in[k] >= 0 && !tensor_is_const(&c->f.g->tensors[n->in[k]]))
            sb_printf(sb, ", %s", dev_ptr(c, n->in[k], ports, d));
    for (int k = 0; k < n->nout; k++)
        sb_printf(sb, ", %s", dev_ptr(c, n->out[k], ports, d));
    each_cparam(c, idx, sb, put_devptr);
    sb_puts(sb, ");\n    QCC_CHECK(cudaGetLastError());\n");
}

/* ---- layout of the device blocks ---------------------------------------------------------- */

static int64_t align16(int64_t v) { return (v + 15) / 16 * 16; }

static void plan_blocks(Cuda *c) {
    const Graph *g = c->f.g;
    Arena *a = g->arena;
    c->woff = arena_alloc(a, ((size_t)g->ntensors + 1) * sizeof(int64_t));
    c->aoff = arena_calloc(a, ((size_t)g->nnodes + 1) * 16, sizeof(int64_t));
    c->xoff = arena_calloc(a, (size_t)c->cu.nextra + 1, sizeof(int64_t));
    int64_t off = 0;
    for (int t = 0; t < g->ntensors; t++) {
        c->woff[t] = -1;
        if (c->f.cg.const_used[t]) {
            c->woff[t] = off;
            off = align16(off + (tensor_bytes(&g->tensors[t]) > 0 ? tensor_bytes(&g->tensors[t])
                                                                   : 1));
        }
    }
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < CU_NARR; k++)
            if (c->f.cg.arrays_used[i] & arr_bit(k)) {
                const char *ctype;
                int64_t bytes;
                arr_info(c, i, arr_bit(k), &ctype, &bytes);
                c->aoff[i * 16 + k] = off;
                off = align16(off + bytes);
            }
    for (int e = 0; e < c->cu.nextra; e++) {
        c->xoff[e] = off;
        off = align16(off + 4 * c->cu.extra[e].n);
    }
    c->wbytes = off > 0 ? off : 16;
    /* staging buffers of the host entry points */
    c->in_f = arena_calloc(a, (size_t)g->ninputs + 1, sizeof(int64_t));
    c->in_q = arena_calloc(a, (size_t)g->ninputs + 1, sizeof(int64_t));
    c->out_f = arena_calloc(a, (size_t)g->noutputs + 1, sizeof(int64_t));
    c->out_q = arena_calloc(a, (size_t)g->noutputs + 1, sizeof(int64_t));
    off = 0;
    for (int k = 0; k < g->ninputs; k++) {
        int t = g->inputs[k], qt = c->f.qnode[k] >= 0 ? g->nodes[c->f.qnode[k]].out[0] : t;
        c->in_f[k] = off;
        off = align16(off + tensor_bytes(&g->tensors[t]) + 1);
        c->in_q[k] = qt == t ? c->in_f[k] : off;
        if (qt != t)
            off = align16(off + tensor_bytes(&g->tensors[qt]) + 1);
    }
    for (int k = 0; k < g->noutputs; k++) {
        int t = g->outputs[k], qt = c->f.dqnode[k] >= 0 ? g->nodes[c->f.dqnode[k]].in[0] : t;
        c->out_f[k] = off;
        off = align16(off + tensor_bytes(&g->tensors[t]) + 1);
        c->out_q[k] = qt == t ? c->out_f[k] : off;
        if (qt != t)
            off = align16(off + tensor_bytes(&g->tensors[qt]) + 1);
    }
    c->iobytes = off > 0 ? off : 16;
}

/* ---- host code ---------------------------------------------------------------------------- */

static void put_upload(Cuda *c, StrBuf *sb, const char *ctype, const char *name, int64_t off) {
    (void)c, (void)ctype;
    sb_printf(sb, "    QCC_TRY(cudaMemcpy(qcc_dev_weights + %lld, %s, sizeof %s, "
                  "cudaMemcpyHostToDevice));\n", (long long)off, name, name);
}

static void put_init_free(Cuda *c, StrBuf *sb) {
    const char *p = c->f.name;
    const Graph *g = c->f.g;
    sb_printf(sb, "int %s_free(void) {\n    int status = 0;\n", p);
    sb_puts(sb, "    uint8_t **blocks[3] = {&qcc_dev_arena, &qcc_dev_weights, &qcc_dev_io};\n"
                "    for (int b = 0; b < 3; b++) {\n"
                "        if (*blocks[b] && cudaFree(*blocks[b]) != cudaSuccess)\n"
                "            status = 1;\n"
                "        *blocks[b] = 0;\n    }\n"
                "    qcc_dev_ready = 0;\n    return status;\n}\n\n");
    sb_printf(sb, "int %s_init(void) {\n    if (qcc_dev_ready)\n        return 0;\n", p);
    sb_printf(sb, "    QCC_TRY(cudaMalloc((void **)&qcc_dev_arena, %lld));\n",
              (long long)(g->arena_size > 0 ? g->arena_size : 16));
    sb_printf(sb, "    QCC_TRY(cudaMalloc((void **)&qcc_dev_weights, %lld));\n",
              (long long)c->wbytes);
    sb_printf(sb, "    QCC_TRY(cudaMalloc((void **)&qcc_dev_io, %lld));\n", (long long)c->iobytes);
    StrBuf dummy;
    sb_init(&dummy);
    for (int t = 0; t < g->ntensors; t++)
        if (c->f.cg.const_used[t])
            put_upload(c, sb, NULL, cg_fmt(&c->f.cg, "t%d", t), c->woff[t]);
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < CU_NARR; k++)
            if (c->f.cg.arrays_used[i] & arr_bit(k)) {
                const char *ctype;
                int64_t bytes;
                put_upload(c, sb, NULL, arr_info(c, i, arr_bit(k), &ctype, &bytes),
                           c->aoff[i * 16 + k]);
            }
    for (int e = 0; e < c->cu.nextra; e++)
        put_upload(c, sb, NULL, c->cu.extra[e].name, c->xoff[e]);
    sb_free(&dummy);
    sb_printf(sb, "    qcc_dev_ready = 1;\n    return 0;\nfail:\n    %s_free();\n"
                  "    return 1;\n}\n\n", p);
}

/* The locals a run function's body (text) uses, then the body itself (device: only the
 * declarations; its caller appends the rest). nvcc warns about set-but-unused variables. */
static void put_locals(StrBuf *sb, const char *text, bool device) {
    if (cframe_uses_ident(text, "qcc_arena"))
        sb_puts(sb, "    uint8_t *qcc_arena = qcc_dev_arena;\n");
    if (cframe_uses_ident(text, "qcc_w"))
        sb_puts(sb, "    const uint8_t *qcc_w = qcc_dev_weights;\n");
    if (!device)
        sb_puts(sb, "    cudaStream_t stream = 0;\n");
    else if (!cframe_uses_ident(text, "stream"))
        sb_puts(sb, "    (void)stream;\n");
    sb_puts(sb, text);
}

/* "int <name>_run_device(<_run_q's parameters>, struct CUstream_st *stream)" */
static void put_device_proto(Cuda *c, StrBuf *sb) {
    StrBuf q;
    sb_init(&q);
    cframe_proto(&c->f, &q, true);
    const char *open = strchr(q.data, '(');
    sb_printf(sb, "int %s_run_device(", c->f.name);
    if (strcmp(open, "(void)") != 0)
        sb_printf(sb, "%.*s, ", (int)(strlen(open) - 2), open + 1);
    sb_puts(sb, "struct CUstream_st *stream)");
    sb_free(&q);
}

static void put_run_device(Cuda *c, StrBuf *sb, Diag *d) {
    const Graph *g = c->f.g;
    const char **ports = arena_calloc(g->arena, (size_t)g->ntensors + 1, sizeof(char *));
    for (int k = 0; k < g->ninputs; k++)
        ports[c->f.qnode[k] >= 0 ? g->nodes[c->f.qnode[k]].out[0] : g->inputs[k]] =
            c->f.port[g->inputs[k]];
    for (int k = 0; k < g->noutputs; k++)
        ports[c->f.dqnode[k] >= 0 ? g->nodes[c->f.dqnode[k]].in[0] : g->outputs[k]] =
            c->f.port[g->outputs[k]];
    put_device_proto(c, sb);
    sb_printf(sb, " {\n    if (!qcc_dev_ready && %s_init() != 0)\n        return 1;\n",
              c->f.name);
    StrBuf body;
    sb_init(&body);
    for (int i = 0; i < g->nnodes; i++)
        if (!g->nodes[i].dead && !c->f.boundary[i])
            put_launch(c, &body, i, ports, d);
    for (int k = 0; k < g->noutputs; k++) {
        int t = g->outputs[k];
        const Tensor *tt = &g->tensors[t];
        if (!tensor_is_const(tt) && !(tt->flags & T_INPUT))
            continue;
        const char *src = tensor_is_const(tt) ? dev_ptr(c, t, ports, d) : NULL;
        for (int j = 0; j < g->ninputs && !src; j++)
            if (g->inputs[j] == t)
                src = c->f.port[t];
        if (src == c->f.port[t])
            continue;
        sb_printf(&body, "    QCC_CHECK(cudaMemcpyAsync(%s, %s, %lld, cudaMemcpyDeviceToDevice, "
                         "stream));\n", c->f.port[t], src, (long long)tensor_bytes(tt));
    }
    put_locals(sb, body.data ? body.data : "", true);
    sb_puts(sb, "    return 0;\n}\n\n");
    sb_free(&body);
}

/* Staging pointer "(T *)(qcc_dev_io + off)". */
static const char *io_ptr(Cuda *c, int t, int64_t off) {
    return cg_fmt(&c->f.cg, "(%s *)(qcc_dev_io + %lld)", dtype_ctype(c->f.g->tensors[t].dtype),
                  (long long)off);
}

/* <name>_run_q (q) or <name>_run: copy in, run on the device, copy out, synchronise. */
static void put_run_host(Cuda *c, StrBuf *sb, bool q, Diag *d) {
    const Graph *g = c->f.g;
    const char **ports = arena_calloc(g->arena, (size_t)g->ntensors + 1, sizeof(char *));
    cframe_proto(&c->f, sb, q);
    sb_printf(sb, " {\n    if (!qcc_dev_ready && %s_init() != 0)\n        return 1;\n",
              c->f.name);
    StrBuf body;
    sb_init(&body);
    StrBuf *outer = sb;
    sb = &body;
    for (int k = 0; k < g->ninputs; k++) {
        int t = g->inputs[k], qn = c->f.qnode[k];
        int qt = qn >= 0 ? g->nodes[qn].out[0] : t;
        bool conv = !q && qn >= 0; /* the float entry point quantizes on the device */
        int src = conv ? t : qt;
        sb_printf(sb, "    QCC_CHECK(cudaMemcpy(qcc_dev_io + %lld, %s, %lld, "
                      "cudaMemcpyHostToDevice));\n", (long long)(conv ? c->in_f[k] : c->in_q[k]),
                  c->f.port[t], (long long)tensor_bytes(&g->tensors[src]));
        ports[t] = io_ptr(c, t, c->in_f[k]);
        ports[qt] = io_ptr(c, qt, c->in_q[k]);
        if (conv)
            put_launch(c, sb, qn, ports, d);
    }
    for (int k = 0; k < g->noutputs; k++) {
        int t = g->outputs[k], dn = c->f.dqnode[k];
        int qt = dn >= 0 ? g->nodes[dn].in[0] : t;
        ports[t] = io_ptr(c, t, c->out_f[k]);
        ports[qt] = io_ptr(c, qt, c->out_q[k]);
    }
    sb_printf(sb, "    int status = %s_run_device(", c->f.name);
    for (int k = 0; k < g->ninputs; k++) {
        int t = g->inputs[k];
        int qt = c->f.qnode[k] >= 0 ? g->nodes[c->f.qnode[k]].out[0] : t;
        sb_printf(sb, "%s, ", ports[qt]);
    }
    for (int k = 0; k < g->noutputs; k++) {
        int t = g->outputs[k];
        int qt = c->f.dqnode[k] >= 0 ? g->nodes[c->f.dqnode[k]].in[0] : t;
        sb_printf(sb, "%s, ", ports[qt]);
    }
    sb_puts(sb, "stream);\n    if (status != 0)\n        return status;\n");
    for (int k = 0; k < g->noutputs; k++) {
        int t = g->outputs[k], dn = c->f.dqnode[k];
        int qt = dn >= 0 ? g->nodes[dn].in[0] : t;
        bool conv = !q && dn >= 0;
        if (conv)
            put_launch(c, sb, dn, ports, d);
        sb_printf(sb, "    QCC_CHECK(cudaMemcpy(%s, qcc_dev_io + %lld, %lld, "
                      "cudaMemcpyDeviceToHost));\n", c->f.port[t],
                  (long long)(conv ? c->out_f[k] : c->out_q[k]),
                  (long long)tensor_bytes(&g->tensors[conv ? t : qt]));
    }
    sb_puts(sb, "    QCC_CHECK(cudaDeviceSynchronize());\n    return 0;\n}\n\n");
    put_locals(outer, body.data, false);
    sb_free(&body);
}

static void put_header(Cuda *c, StrBuf *sb) {
    const Graph *g = c->f.g;
    const char *u = c->f.uname;
    cframe_banner(&c->f, sb, c->f.cg.o->header_name ? c->f.cg.o->header_name : "model.h");
    sb_printf(sb, "#ifndef QCC_%s_H\n#define QCC_%s_H\n\n#include <stdint.h>\n\n", u, u);
    sb_puts(sb, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    sb_printf(sb, "/* bytes of device working memory (allocated by %s_init) */\n"
                  "#define %s_ARENA_SIZE %lld\n\n", c->f.name, u, (long long)g->arena_size);
    for (int k = 0; k < g->ninputs; k++)
        cframe_port_defines(&c->f, sb, true, k);
    for (int k = 0; k < g->noutputs; k++)
        cframe_port_defines(&c->f, sb, false, k);
    sb_printf(sb, "\n/* %s_init: allocate device memory and upload the weights, once (the run\n"
                  " * functions call it if needed); %s_free: release them. */\n"
                  "int %s_init(void);\nint %s_free(void);\n", c->f.name, c->f.name, c->f.name,
              c->f.name);
    sb_puts(sb, "/* Run the model: host pointers, inputs in ONNX order, then outputs, dense "
                "row-major;\n * returns 0, or non-zero if a CUDA call failed. _run_q takes the "
                "quantized boundary\n * tensors (see above) instead. */\n");
    cframe_proto(&c->f, sb, false);
    sb_puts(sb, ";\n");
    cframe_proto(&c->f, sb, true);
    sb_puts(sb, ";\n/* As _run_q with device pointers, queued on stream (a cudaStream_t; 0: the "
                "default\n * stream); returns without synchronising. Not reentrant: one device "
                "arena. */\nstruct CUstream_st;\n");
    put_device_proto(c, sb);
    sb_puts(sb, ";\n\n#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}

static const char cu_prelude[] =
    "#ifdef __CUDACC__\n"
    "#include <cuda_runtime.h>\n"
    "#define QCC_LAUNCH(kernel, grid, block, shmem, stream, ...) \\\n"
    "    kernel<<<grid, block, shmem, stream>>>(__VA_ARGS__)\n"
    "#elif !defined(QCC_LAUNCH)\n"
    "#error \"compile with nvcc, or as C++ with -include qcc_cuda_emu.h (runtime_min/)\"\n"
    "#endif\n"
    "/* every CUDA call is checked: failures return non-zero, never abort */\n"
    "#define QCC_CHECK(call) do { if ((call) != cudaSuccess) return 1; } while (0)\n"
    "#define QCC_TRY(call) do { if ((call) != cudaSuccess) goto fail; } while (0)\n";

static bool emit_cuda(const Graph *g, const CodegenOptions *o, StrBuf *src, StrBuf *hdr,
                      Diag *d) {
    if (o->arena_caller)
        return diag_error(d, "--arena=caller is not supported by --target=cuda (the device "
                          "arena is allocated by <name>_init)");
    Cuda c;
    memset(&c, 0, sizeof c);
    cframe_init(&c.f, g, o, d);
    c.cu.cg = &c.f.cg;
    c.cu.cg_arch = o->cuda_arch;
    c.grid = arena_calloc(g->arena, (size_t)g->nnodes + 1, sizeof(char *));
    c.block = arena_calloc(g->arena, (size_t)g->nnodes + 1, sizeof(char *));
    c.cparams = arena_calloc(g->arena, (size_t)g->nnodes + 1, sizeof(bool *));
    StrBuf kernels, consts, runs;
    sb_init(&kernels);
    sb_init(&consts);
    sb_init(&runs);
    bool ok = true;
    for (int i = 0; i < g->nnodes && ok; i++)
        if (!g->nodes[i].dead)
            ok = emit_kernel(&c, &kernels, i, d);
    if (ok) {
        plan_blocks(&c);
        int errors = d->errors;
        put_init_free(&c, &runs);
        put_run_device(&c, &runs, d);
        put_run_host(&c, &runs, true, d);
        put_run_host(&c, &runs, false, d);
        ok = d->errors == errors;
    }
    if (ok) {
        for (int t = 0; t < g->ntensors; t++)
            if (c.f.cg.const_used[t])
                cframe_constant(&c.f, &consts, t);
        for (int i = 0; i < g->nnodes; i++)
            cframe_node_arrays(&c.f, &consts, i);
        for (int e = 0; e < c.cu.nextra; e++) {
            const CuExtra *x = &c.cu.extra[e];
            sb_printf(&consts, "/* node %d: packed for its kernel (see there) */\n"
                               "static const int32_t %s[%lld] QCC_ALIGN = {", x->node, x->name,
                      (long long)(x->n > 0 ? x->n : 1));
            for (int64_t i = 0; i < x->n; i++)
                sb_printf(&consts, "%s%s%s", i % 12 == 0 ? "\n    " : " ",
                          cg_i32(&c.f.cg, x->v[i]), i + 1 < x->n ? "," : "");
            sb_puts(&consts, x->n > 0 ? "\n};\n" : "0};\n");
        }
        put_header(&c, hdr);
        cframe_banner(&c.f, src, o->source_name ? o->source_name : "model.cu");
        sb_printf(src, "/* CUDA target, %s: one kernel per node, NCHW int8, dp4a implicit GEMM "
                       "for conv/gemm.\n * Build: nvcc -c -arch=%s model.cu; on a CPU: g++ -x "
                       "c++ -include qcc_cuda_emu.h. */\n",
                  o->cuda_arch ? o->cuda_arch : "sm_75", o->cuda_arch ? o->cuda_arch : "sm_75");
        sb_printf(src, "#include \"%s\"\n", o->header_name ? o->header_name : "model.h");
        if (c.f.cg.need_math)
            sb_puts(src, "#include <math.h>\n");
        sb_puts(src, cu_prelude);
        sb_puts(src, "\n/* ---- runtime helpers (runtime_min/qcc_rt.h, verbatim) ---- */\n");
        sb_puts(src, qcc_rt_h_text);
        sb_puts(src, "\n#define QCC_ALIGN __align__(16)\n\n/* ---- constants: host copies, "
                     "uploaded once by _init ---- */\n");
        if (consts.len)
            sb_puts(src, consts.data);
        sb_puts(src, "\n");
        cframe_plan(&c.f, src);
        sb_puts(src, "static int qcc_dev_ready;       /* _init done */\n"
                     "static uint8_t *qcc_dev_arena;  /* activations (plan above) */\n"
                     "static uint8_t *qcc_dev_weights;/* every constant, at fixed offsets */\n"
                     "static uint8_t *qcc_dev_io;     /* staging of the host entry points */\n");
        sb_puts(src, "\n/* ---- one kernel per node ---- */\n\n");
        if (kernels.len)
            sb_puts(src, kernels.data);
        sb_puts(src, "/* ---- entry points ---- */\n\n");
        sb_puts(src, runs.data);
    }
    sb_free(&kernels);
    sb_free(&consts);
    sb_free(&runs);
    return ok;
}

const Target target_cuda = {"cuda", ".cu", emit_cuda, false, false}; /* NCHW kernels for now */
