/* target_c.c: the portable C backend's frame. Writes model.h (sizes, scales, prototypes) and
 * model.c (runtime helpers, constants, per-node quant arrays, the arena, one `static void`
 * function per node whose body a kernel emitter writes, and the run functions). It only reads
 * the IR; kernels are found through cg_quant_kernel / cg_float_kernel / cg_movement_kernel.
 * Output is deterministic: nodes in graph order, tensors in id order, no dates or paths. */
#include "cgen.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

typedef CFrame Frame; /* the frame state, in cgen.h so other backends reuse it */

static const char *const c_reserved[] = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch",
    "typedef", "union", "unsigned", "void", "volatile", "while", "arena", "main", "bool",
    "true", "false", "int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t", "uint32_t",
    "int64_t", "uint64_t", "NULL", "asm", "fortran"};

/* Names our generated code uses itself: t12, n3_c3, node4_x, x0, y0, qcc_*, <prefix>_*. */
static bool name_reserved(const Frame *f, const char *s) {
    for (size_t i = 0; i < sizeof c_reserved / sizeof c_reserved[0]; i++)
        if (strcmp(s, c_reserved[i]) == 0)
            return true;
    if (s[0] == '_' || strncmp(s, "qcc_", 4) == 0 || strncmp(s, "QCC_", 4) == 0)
        return true;
    if (strchr("tnxy", s[0]) && isdigit((unsigned char)s[1]))
        return true;
    if (strncmp(s, "node", 4) == 0 && isdigit((unsigned char)s[4]))
        return true;
    size_t len = strlen(f->name);
    return strncmp(s, f->name, len) == 0 && (s[len] == '_' || s[len] == 0);
}

/* ONNX name -> C identifier: non-alnum to '_', leading digit prefixed, at most `max` chars. */
static char *sanitize(Arena *a, const char *s, size_t max) {
    size_t len = strlen(s);
    if (len > max)
        len = max;
    char *out = arena_alloc(a, len + 3);
    size_t k = 0;
    if (len == 0 || isdigit((unsigned char)s[0]))
        out[k++] = 'v';
    for (size_t i = 0; i < len; i++)
        out[k++] = isalnum((unsigned char)s[i]) ? s[i] : '_';
    out[k] = 0;
    return out;
}

/* Text safe inside a C comment (no terminator, no newline). */
static void put_comment_text(StrBuf *sb, const char *s) {
    for (; s && *s; s++) {
        if (s[0] == '*' && s[1] == '/')
            sb_puts(sb, "* ");
        else if (*s == '\n' || *s == '\r')
            sb_putc(sb, ' ');
        else
            sb_putc(sb, *s);
    }
}

static void put_shape(StrBuf *sb, const Tensor *t) {
    sb_putc(sb, '[');
    for (int i = 0; i < t->rank; i++)
        sb_printf(sb, "%s%lld", i ? "," : "", (long long)t->shape[i]);
    sb_putc(sb, ']');
}

/* "'name' uint8 [1,3,8,8] scale 0.02 zp 128" */
static void put_tensor_desc(StrBuf *sb, const Tensor *t) {
    sb_putc(sb, '\'');
    put_comment_text(sb, t->name);
    sb_printf(sb, "' %s ", dtype_name(t->dtype));
    put_shape(sb, t);
    if (t->q.n == 1) {
        sb_puts(sb, " scale ");
        sb_float(sb, t->q.scale[0]);
        sb_printf(sb, " zp %ld", (long)t->q.zero_point[0]);
    } else if (t->q.n > 1) {
        sb_printf(sb, " per-axis %d: %d scales (", t->q.axis, t->q.n);
        for (int i = 0; i < t->q.n && i < 4; i++) {
            sb_puts(sb, i ? ", " : "");
            sb_float(sb, t->q.scale[i]);
        }
        sb_puts(sb, t->q.n > 4 ? ", ...)" : ")");
    }
}

static bool is_graph_port(const Graph *g, int t) {
    return (g->tensors[t].flags & (T_INPUT | T_OUTPUT)) != 0;
}

/* Boundary Q/DQ nodes (design sec. 7: _run_q takes/returns their tensors quantized), as
 * memplan decided them: it planned their tensors live over the whole run, so <name>_run keeps
 * them at their planned offsets. */
static void find_boundaries(Frame *f) {
    const Graph *g = f->g;
    memplan_boundaries(g, f->qnode, f->dqnode); /* never a Q/DQ with run-time parameters */
    for (int k = 0; k < g->ninputs; k++)
        if (f->qnode[k] >= 0) {
            f->boundary[f->qnode[k]] = true;
            f->bt[g->nodes[f->qnode[k]].out[0]] = true;
        }
    for (int k = 0; k < g->noutputs; k++)
        if (f->dqnode[k] >= 0) {
            f->boundary[f->dqnode[k]] = true;
            f->bt[g->nodes[f->dqnode[k]].in[0]] = true;
        }
}

static void name_ports(Frame *f) {
    const Graph *g = f->g;
    const char **used = arena_calloc(g->arena, (size_t)(g->ninputs + g->noutputs) + 1,
                                     sizeof(char *));
    int nused = 0;
    for (int pass = 0; pass < 2; pass++) {
        int count = pass ? g->noutputs : g->ninputs;
        const int *ids = pass ? g->outputs : g->inputs;
        for (int k = 0; k < count; k++) {
            int t = ids[k];
            if (f->port[t])
                continue;
            const char *s = sanitize(g->arena, g->tensors[t].name, 48);
            bool clash = name_reserved(f, s);
            for (int i = 0; i < nused && !clash; i++)
                clash = strcmp(used[i], s) == 0;
            if (clash)
                s = cg_fmt(&f->cg, "%s_%d", s, t);
            f->port[t] = used[nused++] = s;
        }
    }
}

/* ---- node functions ---------------------------------------------------------------------- */

static KernelFn pick_kernel(const Graph *g, const Node *n) {
    KernelFn fn = NULL;
    /* Integer kernels whatever the output's QParams: boundary conversions, and the
     * unlowered ConvInteger/MatMulInteger (int32 output without QParams, codegen.h). */
    if (n->op == OP_QUANTIZE || n->op == OP_DEQUANTIZE || n->op == OP_DYNAMIC_QUANTIZE ||
        n->op == OP_CONV_INTEGER || n->op == OP_MATMUL_INTEGER)
        return cg_quant_kernel(n->op);
    if (node_is_quantized(g, n))
        fn = cg_quant_kernel(n->op);
    else
        fn = cg_float_kernel(n->op);
    return fn ? fn : cg_movement_kernel(n->op);
}

static void put_attrs(StrBuf *sb, const Graph *g, const Node *n) {
    StrBuf attrs;
    sb_init(&attrs);
    node_print_attrs(n, n->nin && n->in[0] >= 0 ? g->tensors[n->in[0]].rank : 0, &attrs);
    if (attrs.len)
        sb_printf(sb, " * attrs:%s\n", attrs.data);
    sb_free(&attrs);
}

static void put_node_comment(Frame *f, StrBuf *sb, int idx) {
    const Graph *g = f->g;
    const Node *n = &g->nodes[idx];
    sb_printf(sb, "/* node %d: %s%s\n * name: '", idx, op_name(n->op),
              node_is_quantized(g, n) ? " (quantized)" : "");
    put_comment_text(sb, n->name);
    sb_puts(sb, "'; sources:");
    for (int i = 0; i < n->nsources; i++) {
        sb_puts(sb, i ? ", '" : " '");
        put_comment_text(sb, n->sources[i]);
        sb_putc(sb, '\'');
    }
    sb_putc(sb, '\n');
    for (int k = 0; k < n->nin; k++) {
        if (n->in[k] < 0)
            continue;
        sb_printf(sb, " * in %d: ", k);
        put_tensor_desc(sb, &g->tensors[n->in[k]]);
        sb_puts(sb, tensor_is_const(&g->tensors[n->in[k]]) ? " const\n" : "\n");
    }
    for (int k = 0; k < n->nout; k++) {
        sb_printf(sb, " * out %d: ", k);
        put_tensor_desc(sb, &g->tensors[n->out[k]]);
        sb_putc(sb, '\n');
    }
    put_attrs(sb, g, n);
    if (node_is_quantized(g, n) && n->q.nmul > 0)
        sb_printf(sb, " * requant: %s, %d multiplier(s), clamp [%ld, %ld]\n",
                  f->cg.o->requant == REQUANT_FLOAT ? "float (ONNX Runtime)" : "fixed Q31",
                  n->q.nmul, (long)n->q.act_min, (long)n->q.act_max);
    if (n->float_fallback)
        sb_puts(sb, " * float fallback: this node stays float in the quantized model\n");
    if (f->boundary[idx])
        sb_puts(sb, " * graph boundary: called by the float entry point only\n");
    sb_puts(sb, " */\n");
}

/* True if identifier `id` occurs as a whole token in s. */
static bool uses_ident(const char *s, const char *id) {
    size_t len = strlen(id);
    for (const char *p = strstr(s, id); p; p = strstr(p + 1, id)) {
        bool start = p == s || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        bool end = !(isalnum((unsigned char)p[len]) || p[len] == '_');
        if (start && end)
            return true;
    }
    return false;
}

static bool emit_node(Frame *f, StrBuf *out, int idx, Diag *d) {
    const Graph *g = f->g;
    const Node *n = &g->nodes[idx];
    KernelFn fn = pick_kernel(g, n);
    if (!fn)
        return diag_error(d, "node '%s' (%s): no C kernel for this op/dtype", n->name,
                          op_name(n->op));
    f->fname[idx] = cg_fmt(&f->cg, "node%d_%s", idx, sanitize(g->arena, n->name, 40));
    StrBuf body;
    sb_init(&body);
    f->cg.sb = &body;
    bool ok = fn(&f->cg, n);
    f->cg.sb = NULL;
    if (!ok) {
        sb_free(&body);
        return false;
    }
    put_node_comment(f, out, idx);
    sb_printf(out, "static void %s(", f->fname[idx]);
    StrBuf unused;
    sb_init(&unused);
    int nparams = 0;
    for (int k = 0; k < n->nin; k++) {
        if (n->in[k] < 0 || tensor_is_const(&g->tensors[n->in[k]]))
            continue;
        sb_printf(out, "%sconst %s *x%d", nparams++ ? ", " : "",
                  dtype_ctype(g->tensors[n->in[k]].dtype), k);
        if (!uses_ident(body.data ? body.data : "", cg_fmt(&f->cg, "x%d", k)))
            sb_printf(&unused, "    (void)x%d;\n", k);
    }
    for (int k = 0; k < n->nout; k++) {
        sb_printf(out, "%s%s *y%d", nparams++ ? ", " : "", dtype_ctype(g->tensors[n->out[k]].dtype),
                  k);
        if (!uses_ident(body.data ? body.data : "", cg_fmt(&f->cg, "y%d", k)))
            sb_printf(&unused, "    (void)y%d;\n", k);
    }
    sb_puts(out, nparams ? ") {\n" : "void) {\n");
    if (unused.len)
        sb_puts(out, unused.data);
    if (body.len)
        sb_puts(out, body.data);
    sb_puts(out, "}\n\n");
    sb_free(&unused);
    sb_free(&body);
    return true;
}

/* ---- constants and node arrays ------------------------------------------------------------ */

/* Decimal digits without printf: weight arrays hold millions of values and a vsnprintf per
 * value was most of qcc's time on a 25 MB model. v != INT64_MIN. */
static void put_int(StrBuf *sb, int64_t v, bool suffix_ll) {
    char buf[24], *p = buf + sizeof buf;
    uint64_t u = v < 0 ? (uint64_t)-v : (uint64_t)v;
    *--p = '\0';
    if (suffix_ll) {
        *--p = 'L';
        *--p = 'L';
    }
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    sb_puts(sb, p);
}

static void put_value(Frame *f, StrBuf *sb, const Tensor *t, int64_t i) {
    if (t->dtype == DT_FLOAT) {
        float v = ((const float *)t->data)[i];
        if (isnan(v)) {
            f->cg.need_math = true;
            sb_puts(sb, "NAN");
        } else if (isinf(v)) {
            f->cg.need_math = true;
            sb_puts(sb, v > 0 ? "INFINITY" : "-INFINITY");
        } else {
            sb_float(sb, v);
        }
        return;
    }
    int64_t v = tensor_get_i(t, i);
    if (v == INT64_MIN)
        sb_puts(sb, "(-9223372036854775807LL - 1)");
    else if (v == INT32_MIN)
        sb_puts(sb, "(-2147483647 - 1)");
    else
        put_int(sb, v, v > INT32_MAX || v < INT32_MIN);
}

/* An 8-bit array as one string literal per 32 bytes ("\x7f\x80..."): the C compilers build
 * one tree node per brace-initializer element (gcc 12: ~1.3 us CPU and ~100 bytes each; a 25 MB
 * model took 47 s CPU and 2.7 GB at -O2) but read a string literal like a byte stream (28x
 * faster). Used from QCC_STR_MIN elements on so small arrays stay readable. C99/C11 6.7.8p14 /
 * 6.7.9p14 allow a character-type array of exactly the literal's length (the '\0' is dropped);
 * -Wpedantic's -Woverlength-strings (the 4095-byte translation limit) is silenced around it. */
#define QCC_STR_MIN 4096
void cg_byte_array(StrBuf *sb, const char *name, const void *data, int64_t n, bool is_signed) {
    static const char hex[] = "0123456789abcdef";
    const uint8_t *v = data;
    const char *ctype = is_signed ? "int8_t" : "uint8_t";
    if (n < QCC_STR_MIN) {
        sb_printf(sb, "static const %s %s[%lld] QCC_ALIGN = {", ctype, name,
                  (long long)(n > 0 ? n : 1));
        if (n == 0)
            sb_puts(sb, "0");
        for (int64_t i = 0; i < n; i++) {
            sb_puts(sb, i % 16 == 0 ? "\n    " : " ");
            put_int(sb, is_signed ? (int8_t)v[i] : v[i], false);
            if (i + 1 < n)
                sb_putc(sb, ',');
        }
        sb_puts(sb, "\n};\n");
        return;
    }
    sb_puts(sb, "#pragma GCC diagnostic push\n"
                "#pragma GCC diagnostic ignored \"-Woverlength-strings\"\n");
    sb_printf(sb, "static const %s %s[%lld] QCC_ALIGN =", ctype, name, (long long)n);
    char line[1 + 5 + 32 * 4 + 2]; /* newline, indent and quote, 32 escapes, quote, NUL */
    for (int64_t i = 0; i < n; i += 32) {
        char *p = line;
        *p++ = '\n';
        memcpy(p, "    \"", 5);
        p += 5;
        for (int64_t k = i; k < n && k < i + 32; k++) {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = hex[v[k] >> 4];
            *p++ = hex[v[k] & 15];
        }
        *p++ = '"';
        *p = '\0';
        sb_puts(sb, line);
    }
    sb_puts(sb, ";\n#pragma GCC diagnostic pop\n");
}

static void put_constant(Frame *f, StrBuf *sb, int id) {
    const Tensor *t = &f->g->tensors[id];
    int64_t count = tensor_numel(t);
    sb_printf(sb, "/* t%d: ", id);
    put_tensor_desc(sb, t);
    sb_puts(sb, " */\n");
    if (t->data && (t->dtype == DT_INT8 || t->dtype == DT_UINT8)) {
        cg_byte_array(sb, cg_fmt(&f->cg, "t%d", id), t->data, count, t->dtype == DT_INT8);
        return;
    }
    sb_printf(sb, "static const %s t%d[%lld] QCC_ALIGN = {", dtype_ctype(t->dtype), id,
              (long long)(count > 0 ? count : 1));
    if (count == 0 || !t->data)
        sb_puts(sb, "0");
    for (int64_t i = 0; i < count && t->data; i++) {
        sb_puts(sb, i % 16 == 0 ? "\n    " : " ");
        put_value(f, sb, t, i);
        if (i + 1 < count)
            sb_putc(sb, ',');
    }
    sb_puts(sb, "\n};\n");
}

void cg_i32_array(CGen *cg, StrBuf *sb, const char *name, const int32_t *v, int n) {
    sb_printf(sb, "static const int32_t %s[%d] QCC_ALIGN = {", name, n);
    for (int i = 0; i < n; i++)
        sb_printf(sb, "%s%s%s", i % 16 == 0 ? "\n    " : " ", cg_i32(cg, v[i]),
                  i + 1 < n ? "," : "");
    sb_puts(sb, "\n};\n");
}

static void put_node_arrays(Frame *f, StrBuf *sb, int idx) {
    const Node *n = &f->g->nodes[idx];
    unsigned used = f->cg.arrays_used[idx];
    if (!used)
        return;
    sb_printf(sb, "/* node %d '", idx);
    put_comment_text(sb, n->name);
    sb_puts(sb, "': integer arithmetic (c3, multipliers, table) */\n");
    if (used & CG_ARR_C3)
        cg_i32_array(&f->cg, sb, cg_fmt(&f->cg, "n%d_c3", idx), n->q.c3, n->q.nbias);
    for (int k = 0; k < 3; k++) {
        const Multiplier *m = &n->q.mul[k];
        if (used & (CG_ARR_M0 << k))
            cg_i32_array(&f->cg, sb, cg_fmt(&f->cg, "n%d_m0_%d", idx, k), m->m0, m->n);
        if (used & (CG_ARR_SHIFT << k))
            cg_i32_array(&f->cg, sb, cg_fmt(&f->cg, "n%d_shift_%d", idx, k), m->shift, m->n);
        if (used & (CG_ARR_F << k)) {
            sb_printf(sb, "static const float n%d_f_%d[%d] QCC_ALIGN = {", idx, k, m->n);
            for (int i = 0; i < m->n; i++) {
                sb_puts(sb, i % 16 == 0 ? "\n    " : " ");
                sb_float(sb, m->f[i]);
                sb_puts(sb, i + 1 < m->n ? "," : "");
            }
            sb_puts(sb, "\n};\n");
        }
    }
    if (used & CG_ARR_LUT) {
        DType dt = f->g->tensors[n->out[0]].dtype;
        sb_printf(sb, "static const %s n%d_lut[256] QCC_ALIGN = {", dtype_ctype(dt), idx);
        for (int i = 0; i < 256; i++)
            sb_printf(sb, "%s%d%s", i % 16 == 0 ? "\n    " : " ",
                      dt == DT_INT8 ? (int)(int8_t)n->q.lut[i] : (int)n->q.lut[i],
                      i < 255 ? "," : "");
        sb_puts(sb, "\n};\n");
    }
}

/* ---- run functions ------------------------------------------------------------------------ */

/* Pointer expression for tensor t inside a run function (ports: its parameter names). */
static const char *tensor_ptr(Frame *f, int t, const char *const *ports, Diag *d) {
    const Tensor *tt = &f->g->tensors[t];
    if (ports[t])
        return ports[t];
    if (tensor_is_const(tt))
        return cg_const_name(&f->cg, t);
    int64_t off = tt->offset;
    if (off < 0) {
        diag_error(d, "tensor '%s': no arena offset (memory plan missing)", tt->name);
        return "0";
    }
    return cg_fmt(&f->cg, "(%s *)(qcc_arena + %lld)", dtype_ctype(tt->dtype), (long long)off);
}

static void put_call(Frame *f, StrBuf *sb, int idx, const char *const *ports, Diag *d) {
    const Node *n = &f->g->nodes[idx];
    sb_printf(sb, "    %s(", f->fname[idx]);
    int np = 0;
    for (int k = 0; k < n->nin; k++)
        if (n->in[k] >= 0 && !tensor_is_const(&f->g->tensors[n->in[k]]))
            sb_printf(sb, "%s%s", np++ ? ", " : "", tensor_ptr(f, n->in[k], ports, d));
    for (int k = 0; k < n->nout; k++)
        sb_printf(sb, "%s%s", np++ ? ", " : "", tensor_ptr(f, n->out[k], ports, d));
    sb_puts(sb, ");\n");
}

/* Prototype of <name>_run (q = false) or <name>_run_q, without the trailing ';' or '{'. */
static void put_proto(Frame *f, StrBuf *sb, bool q) {
    const Graph *g = f->g;
    sb_printf(sb, "int %s_run%s(", f->name, q ? "_q" : "");
    int np = 0;
    for (int k = 0; k < g->ninputs; k++) {
        int t = q && f->qnode[k] >= 0 ? g->nodes[f->qnode[k]].out[0] : g->inputs[k];
        sb_printf(sb, "%sconst %s *%s", np++ ? ", " : "", dtype_ctype(g->tensors[t].dtype),
                  f->port[g->inputs[k]]);
    }
    for (int k = 0; k < g->noutputs; k++) {
        int t = q && f->dqnode[k] >= 0 ? g->nodes[f->dqnode[k]].in[0] : g->outputs[k];
        sb_printf(sb, "%s%s *%s", np++ ? ", " : "", dtype_ctype(g->tensors[t].dtype),
                  f->port[g->outputs[k]]);
    }
    if (f->cg.o->arena_caller)
        sb_printf(sb, "%svoid *arena", np++ ? ", " : "");
    if (!np)
        sb_puts(sb, "void");
    sb_putc(sb, ')');
}

static void put_arena_var(Frame *f, StrBuf *sb) {
    if (f->cg.o->arena_caller)
        sb_puts(sb, "    uint8_t *qcc_arena = (uint8_t *)arena;\n");
    else
        sb_printf(sb, "    uint8_t *qcc_arena = %s_arena;\n", f->name);
    sb_puts(sb, "    (void)qcc_arena;\n");
}

static void put_run_q(Frame *f, StrBuf *sb, Diag *d) {
    const Graph *g = f->g;
    const char **ports = arena_calloc(g->arena, (size_t)g->ntensors, sizeof(char *));
    for (int k = 0; k < g->ninputs; k++)
        ports[f->qnode[k] >= 0 ? g->nodes[f->qnode[k]].out[0] : g->inputs[k]] =
            f->port[g->inputs[k]];
    for (int k = 0; k < g->noutputs; k++)
        ports[f->dqnode[k] >= 0 ? g->nodes[f->dqnode[k]].in[0] : g->outputs[k]] =
            f->port[g->outputs[k]];
    put_proto(f, sb, true);
    sb_puts(sb, " {\n");
    put_arena_var(f, sb);
    for (int i = 0; i < g->nnodes; i++)
        if (!g->nodes[i].dead && !f->boundary[i])
            put_call(f, sb, i, ports, d);
    /* outputs no node writes (a constant or a graph input): copy them */
    for (int k = 0; k < g->noutputs; k++) {
        int t = g->outputs[k];
        const Tensor *tt = &g->tensors[t];
        if (!tensor_is_const(tt) && !(tt->flags & T_INPUT))
            continue;
        const char *src = tensor_is_const(tt) ? cg_const_name(&f->cg, t) : NULL;
        for (int j = 0; j < g->ninputs && !src; j++)
            if (g->inputs[j] == t)
                src = f->port[t];
        if (src == f->port[t])
            continue; /* same pointer both ways: nothing to copy */
        sb_printf(sb, "    for (int byte = 0; byte < %lld; byte++)\n", (long long)tensor_bytes(tt));
        sb_printf(sb, "        ((uint8_t *)%s)[byte] = ((const uint8_t *)%s)[byte];\n",
                  f->port[t], src);
    }
    sb_puts(sb, "    return 0;\n}\n\n");
}

static void put_run(Frame *f, StrBuf *sb, Diag *d) {
    const Graph *g = f->g;
    const char **ports = arena_calloc(g->arena, (size_t)g->ntensors, sizeof(char *));
    for (int k = 0; k < g->ninputs; k++)
        ports[g->inputs[k]] = f->port[g->inputs[k]];
    for (int k = 0; k < g->noutputs; k++)
        ports[g->outputs[k]] = f->port[g->outputs[k]];
    put_proto(f, sb, false);
    sb_puts(sb, " {\n");
    put_arena_var(f, sb);
    for (int k = 0; k < g->ninputs; k++)
        if (f->qnode[k] >= 0)
            put_call(f, sb, f->qnode[k], ports, d);
    sb_printf(sb, "    int status = %s_run_q(", f->name);
    int np = 0;
    for (int k = 0; k < g->ninputs; k++)
        sb_printf(sb, "%s%s", np++ ? ", " : "",
                  f->qnode[k] >= 0 ? tensor_ptr(f, g->nodes[f->qnode[k]].out[0], ports, d)
                                   : f->port[g->inputs[k]]);
    for (int k = 0; k < g->noutputs; k++)
        sb_printf(sb, "%s%s", np++ ? ", " : "",
                  f->dqnode[k] >= 0 ? tensor_ptr(f, g->nodes[f->dqnode[k]].in[0], ports, d)
                                    : f->port[g->outputs[k]]);
    if (f->cg.o->arena_caller)
        sb_printf(sb, "%sarena", np ? ", " : "");
    sb_puts(sb, ");\n");
    for (int k = 0; k < g->noutputs; k++)
        if (f->dqnode[k] >= 0)
            put_call(f, sb, f->dqnode[k], ports, d);
    sb_puts(sb, "    return status;\n}\n");
}

/* ---- files -------------------------------------------------------------------------------- */

static void put_banner(Frame *f, StrBuf *sb, const char *what) {
    sb_printf(sb, "/* %s: generated by qcc %s; do not edit.\n * model sha256: ", what,
              QCC_VERSION);
    for (int i = 0; i < 32; i++)
        sb_printf(sb, "%02x", f->g->sha256[i]);
    sb_puts(sb, "\n * graph: '");
    put_comment_text(sb, f->g->name);
    sb_printf(sb, "'\n * requant: %s */\n",
              f->cg.o->requant == REQUANT_FLOAT ? "float (ONNX Runtime formulas)" : "fixed Q31");
}

static void put_port_defines(Frame *f, StrBuf *sb, bool input, int k) {
    const Graph *g = f->g;
    int t = input ? g->inputs[k] : g->outputs[k];
    int qt = t;
    if (input && f->qnode[k] >= 0)
        qt = g->nodes[f->qnode[k]].out[0];
    if (!input && f->dqnode[k] >= 0)
        qt = g->nodes[f->dqnode[k]].in[0];
    const char *kind = input ? "INPUT" : "OUTPUT";
    sb_printf(sb, "/* %s %d: ", input ? "input" : "output", k);
    put_tensor_desc(sb, &g->tensors[t]);
    if (qt != t) {
        sb_puts(sb, "; _run_q: ");
        put_tensor_desc(sb, &g->tensors[qt]);
    }
    sb_puts(sb, " */\n");
    sb_printf(sb, "#define %s_%s%d_SIZE %lld\n", f->uname, kind, k,
              (long long)tensor_numel(&g->tensors[t]));
    const Tensor *q = &g->tensors[qt];
    if (q->q.n == 1 && dtype_is_int8ish(q->dtype)) {
        sb_printf(sb, "#define %s_%s%d_SCALE ", f->uname, kind, k);
        sb_float(sb, q->q.scale[0]);
        sb_printf(sb, "\n#define %s_%s%d_ZERO_POINT %ld\n", f->uname, kind, k,
                  (long)q->q.zero_point[0]);
    }
}

static void put_header(Frame *f, StrBuf *sb) {
    const Graph *g = f->g;
    put_banner(f, sb, f->cg.o->header_name ? f->cg.o->header_name : "model.h");
    sb_printf(sb, "#ifndef QCC_%s_H\n#define QCC_%s_H\n\n#include <stdint.h>\n\n", f->uname,
              f->uname);
    sb_printf(sb, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    sb_printf(sb, "/* bytes of working memory (16-byte aligned) */\n#define %s_ARENA_SIZE %lld\n\n",
              f->uname, (long long)g->arena_size);
    for (int k = 0; k < g->ninputs; k++)
        put_port_defines(f, sb, true, k);
    for (int k = 0; k < g->noutputs; k++)
        put_port_defines(f, sb, false, k);
    sb_puts(sb, "\n/* Run the model: inputs in ONNX order, then outputs, dense row-major; ");
    sb_puts(sb, "returns 0.\n * _run_q takes quantized boundary tensors (see above) instead.");
    if (f->cg.o->arena_caller)
        sb_printf(sb, "\n * arena: >= %s_ARENA_SIZE bytes, 16-byte aligned.", f->uname);
    sb_puts(sb, " */\n");
    put_proto(f, sb, false);
    sb_puts(sb, ";\n");
    put_proto(f, sb, true);
    sb_puts(sb, ";\n\n#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}

static void put_plan(Frame *f, StrBuf *sb) {
    const Graph *g = f->g;
    sb_printf(sb, "/* Memory plan (%lld bytes, lower bound %lld):\n"
                  " *   offset      bytes  tensor\n",
              (long long)g->arena_size, (long long)g->arena_lower_bound);
    for (int t = 0; t < g->ntensors; t++) {
        const Tensor *tt = &g->tensors[t];
        if (tensor_is_const(tt) || is_graph_port(g, t) || tt->offset < 0)
            continue;
        sb_printf(sb, " * %8lld %10lld  '", (long long)tt->offset, (long long)tensor_bytes(tt));
        put_comment_text(sb, tt->name);
        sb_puts(sb, f->bt[t] ? "' (boundary: live over the whole run, float entry point only)\n"
                             : "'\n");
    }
    sb_puts(sb, " */\n");
}

static bool emit_c(const Graph *g, const CodegenOptions *o, StrBuf *src, StrBuf *hdr, Diag *d) {
    Frame f;
    cframe_init(&f, g, o, d);

    StrBuf funcs, consts, runs, helpers;
    sb_init(&funcs);
    sb_init(&consts);
    sb_init(&runs);
    sb_init(&helpers);
    f.cg.helpers = &helpers;
    bool ok = true;
    for (int i = 0; i < g->nnodes && ok; i++)
        if (!g->nodes[i].dead)
            ok = emit_node(&f, &funcs, i, d);
    if (ok) {
        int errors = d->errors;
        put_run_q(&f, &runs, d);
        put_run(&f, &runs, d);
        ok = d->errors == errors;
    }
    if (ok) {
        for (int t = 0; t < g->ntensors; t++)
            if (f.cg.const_used[t])
                put_constant(&f, &consts, t);
        for (int i = 0; i < g->nnodes; i++)
            put_node_arrays(&f, &consts, i);
        put_header(&f, hdr);
        put_banner(&f, src, o->source_name ? o->source_name : "model.c");
        sb_printf(src, "#include \"%s\"\n", o->header_name ? o->header_name : "model.h");
        if (f.cg.need_math)
            sb_puts(src, "#include <math.h>\n");
        sb_puts(src, "\n/* ---- runtime helpers (runtime_min/qcc_rt.h, verbatim) ---- */\n");
        sb_puts(src, qcc_rt_h_text);
        sb_puts(src, "\n#if defined(__GNUC__)\n#define QCC_ALIGN __attribute__((aligned(16)))\n"
                     "#else\n#define QCC_ALIGN\n#endif\n\n/* ---- constants ---- */\n");
        if (consts.len)
            sb_puts(src, consts.data);
        sb_puts(src, "\n");
        put_plan(&f, src);
        if (!o->arena_caller)
            sb_printf(src, "static uint8_t %s_arena[%lld] QCC_ALIGN;\n", f.name,
                      (long long)(g->arena_size > 0 ? g->arena_size : 1));
        if (helpers.len) {
            sb_puts(src, "\n/* ---- fast kernels: packed weights and tile functions ---- */\n\n");
            sb_puts(src, helpers.data);
        }
        sb_puts(src, "\n/* ---- one function per node ---- */\n\n");
        if (funcs.len)
            sb_puts(src, funcs.data);
        sb_puts(src, "/* ---- entry points ---- */\n\n");
        sb_puts(src, runs.data);
    }
    sb_free(&funcs);
    sb_free(&consts);
    sb_free(&runs);
    sb_free(&helpers);
    return ok;
}

/* ---- frame pieces other backends reuse (cgen.h) -------------------------------------------- */

void cframe_init(CFrame *f, const Graph *g, const CodegenOptions *o, Diag *d) {
    Arena *a = g->arena;
    memset(f, 0, sizeof *f);
    f->g = g;
    f->cg.g = g;
    f->cg.o = o;
    f->cg.d = d;
    f->cg.const_used = arena_calloc(a, (size_t)g->ntensors + 1, sizeof(bool));
    f->cg.arrays_used = arena_calloc(a, (size_t)g->nnodes + 1, sizeof(unsigned));
    f->name = o->name && *o->name ? o->name : "model";
    char *up = arena_strdup(a, f->name);
    for (char *p = up; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    f->uname = up;
    f->port = arena_calloc(a, (size_t)g->ntensors + 1, sizeof(char *));
    f->fname = arena_calloc(a, (size_t)g->nnodes + 1, sizeof(char *));
    f->qnode = arena_calloc(a, (size_t)g->ninputs + 1, sizeof(int));
    f->dqnode = arena_calloc(a, (size_t)g->noutputs + 1, sizeof(int));
    f->boundary = arena_calloc(a, (size_t)g->nnodes + 1, sizeof(bool));
    f->bt = arena_calloc(a, (size_t)g->ntensors + 1, sizeof(bool));
    find_boundaries(f);
    name_ports(f);
}

KernelFn cframe_pick_kernel(const Graph *g, const Node *n) { return pick_kernel(g, n); }
void cframe_node_comment(CFrame *f, StrBuf *sb, int idx) { put_node_comment(f, sb, idx); }
bool cframe_uses_ident(const char *s, const char *id) { return uses_ident(s, id); }
const char *cframe_sanitize(Arena *a, const char *s, size_t max) { return sanitize(a, s, max); }
void cframe_constant(CFrame *f, StrBuf *sb, int id) { put_constant(f, sb, id); }
void cframe_node_arrays(CFrame *f, StrBuf *sb, int idx) { put_node_arrays(f, sb, idx); }
void cframe_proto(CFrame *f, StrBuf *sb, bool q) { put_proto(f, sb, q); }
void cframe_banner(CFrame *f, StrBuf *sb, const char *what) { put_banner(f, sb, what); }
void cframe_port_defines(CFrame *f, StrBuf *sb, bool input, int k) {
    put_port_defines(f, sb, input, k);
}
void cframe_plan(CFrame *f, StrBuf *sb) { put_plan(f, sb); }

const Target target_c = {"c", ".c", emit_c, true, true};
