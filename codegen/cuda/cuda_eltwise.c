/* cuda_eltwise.c: element-wise, pooling, Q/DQ and data-movement nodes on the GPU. Their C
 * backend body (codegen/c/) for these ops is one outer loop whose iterations write disjoint
 * outputs (per element, per plane, per row) and read only inputs, so the loop itself becomes
 * a grid-stride loop: the same per-element code, hence the same integers. A body of any other
 * shape (two loops, a mutable variable outside the loop) runs on one thread instead. */
#include "cudagen.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Ops whose C body's outer-loop iterations are independent (checked by reading each
 * emitter in codegen/c/; the shape of the body is checked again below). */
static bool loop_parallel_op(const Graph *g, const Node *n) {
    switch (n->op) {
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_LUT: case OP_CLIP: case OP_RELU:
    case OP_AVG_POOL: case OP_GLOBAL_AVG_POOL: case OP_MAX_POOL: case OP_GLOBAL_MAX_POOL:
    case OP_RESHAPE: case OP_FLATTEN: case OP_SQUEEZE: case OP_UNSQUEEZE: case OP_IDENTITY:
    case OP_TRANSPOSE: case OP_SOFTMAX:
        return true;
    case OP_QUANTIZE: case OP_DEQUANTIZE:
        return n->nin == 1 || n->in[1] < 0 || tensor_is_const(&g->tensors[n->in[1]]);
    default:
        return false;
    }
}

/* If line is "    for (int V = 0; V < N; V++)...", store V and N and return the rest of
 * the line after the header; else NULL. */
static const char *loop_header(const char *line, char *var, size_t cap, long long *count) {
    const char *p = line;
    if (strncmp(p, "    for (int ", 13) != 0)
        return NULL;
    p += 13;
    size_t len = 0;
    while (isalnum((unsigned char)p[len]) || p[len] == '_')
        len++;
    if (len == 0 || len >= cap)
        return NULL;
    memcpy(var, p, len);
    var[len] = 0;
    p += len;
    if (strncmp(p, " = 0; ", 6) != 0 || strncmp(p + 6, var, len) != 0 ||
        strncmp(p + 6 + len, " < ", 3) != 0)
        return NULL;
    p += 9 + len;
    char *end;
    *count = strtoll(p, &end, 10);
    if (end == p || strncmp(end, "; ", 2) != 0 || strncmp(end + 2, var, len) != 0 ||
        strncmp(end + 2 + len, "++)", 3) != 0)
        return NULL;
    return end + 5 + len;
}

/* One top-level loop, everything else at top level a const declaration or a comment? */
static const char *single_loop(const char *body, char *var, size_t cap, long long *count,
                               size_t *at) {
    const char *found = NULL;
    bool in_static = false; /* inside a multi-line "static const T name[] = {" */
    for (const char *line = body; *line;) {
        size_t len = strcspn(line, "\n");
        bool top = strncmp(line, "    ", 4) == 0 && line[4] != ' ';
        if (in_static) {
            in_static = !(top && strncmp(line + 4, "};", 2) == 0);
        } else if (top) {
            const char *s = line + 4;
            const char *rest = loop_header(line, var, cap, count);
            if (rest) {
                if (found)
                    return NULL;
                found = rest;
                *at = (size_t)(line - body);
            } else if (strncmp(s, "static const ", 13) == 0) {
                in_static = line[len - 1] == '{';
            } else if (!(strncmp(s, "const ", 6) == 0 || strncmp(s, "/*", 2) == 0 ||
                         strncmp(s, "}", 1) == 0 || strncmp(s, "(void)", 6) == 0)) {
                return NULL;
            }
        } else if (strncmp(line, "    ", 4) != 0 && len > 0) {
            return NULL;
        }
        line += len + (line[len] == '\n');
    }
    return found;
}

static bool emit_grid_stride(CuGen *cu, const Node *n) {
    CGen *cg = cu->cg;
    KernelFn fn = cframe_pick_kernel(cg->g, n);
    StrBuf *out = cg->sb, body;
    sb_init(&body);
    cg->sb = &body;
    bool ok = fn && fn(cg, n);
    cg->sb = out;
    if (!ok) {
        sb_free(&body);
        return fn ? false : diag_error(cg->d, "node '%s' (%s): no kernel for this op/dtype",
                                       n->name, op_name(n->op));
    }
    const char *text = body.data ? body.data : "";
    char var[64];
    long long count = 0;
    size_t at = 0;
    const char *rest = single_loop(text, var, sizeof var, &count, &at);
    if (!rest || count <= 0) {
        sb_puts(out, "    /* single thread: this body is not one independent loop */\n"
                     "    if (blockIdx.x != 0 || threadIdx.x != 0)\n        return;\n");
        sb_puts(out, text);
        sb_free(&body);
        return true;
    }
    long long blocks = (count + 255) / 256;
    cu->grid = cg_fmt(cg, "dim3(%lld)", blocks < 1024 ? blocks : 1024);
    cu->block = "dim3(256)";
    sb_printf(out, "    /* the C backend's loop, grid-stride: iterations are independent */\n");
    sb_printf(out, "%.*s", (int)at, text);
    sb_printf(out, "    for (int %s = (int)(blockIdx.x * blockDim.x + threadIdx.x); %s < %lld; "
                   "%s += (int)(gridDim.x * blockDim.x))%s", var, var, count, var, rest);
    sb_free(&body);
    return true;
}

CuKernelFn cu_eltwise_kernel(const CuGen *cu, const Node *n) {
    return loop_parallel_op(cu->cg->g, n) ? emit_grid_stride : NULL;
}
