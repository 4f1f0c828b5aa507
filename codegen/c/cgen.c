/* cgen.c: the small helpers every C kernel emitter shares (names of inputs, outputs,
 * constants and per-node arrays; requant expressions; formatted lines). Names handed out here
 * are recorded in the CGen so target_c.c emits exactly the arrays the kernels used (an unused
 * `static const` array would trip -Wunused-const-variable in the generated file). */
#include "cgen.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *cg_fmt(CGen *cg, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const char *s = arena_vprintf(cg->g->arena, fmt, ap);
    va_end(ap);
    return s;
}

void cg_line(CGen *cg, int indent, const char *fmt, ...) {
    for (int i = 0; i < indent; i++)
        sb_puts(cg->sb, "    ");
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(cg->sb, fmt, ap);
    va_end(ap);
    sb_putc(cg->sb, '\n');
}

const Tensor *cg_tin(CGen *cg, const Node *n, int k) {
    QCC_ASSERT(k < n->nin && n->in[k] >= 0);
    return &cg->g->tensors[n->in[k]];
}

const Tensor *cg_tout(CGen *cg, const Node *n, int k) {
    QCC_ASSERT(k < n->nout && n->out[k] >= 0);
    return &cg->g->tensors[n->out[k]];
}

int32_t cg_zp(const Tensor *t) {
    return t->q.n > 0 && t->q.zero_point ? t->q.zero_point[0] : 0;
}

const char *cg_const_name(CGen *cg, int tensor) {
    QCC_ASSERT(tensor >= 0 && tensor < cg->g->ntensors);
    if (cg->const_used)
        cg->const_used[tensor] = true;
    return cg_fmt(cg, "t%d", tensor);
}

const char *cg_in(CGen *cg, const Node *n, int k) {
    QCC_ASSERT(k < n->nin && n->in[k] >= 0);
    if (tensor_is_const(&cg->g->tensors[n->in[k]]))
        return cg_const_name(cg, n->in[k]);
    return cg_fmt(cg, "x%d", k);
}

const char *cg_out(CGen *cg, const Node *n, int k) {
    QCC_ASSERT(k < n->nout);
    return cg_fmt(cg, "y%d", k);
}

/* "c3", "lut", "m0_1", "shift_0", "f_2" -> its CG_ARR_* bit (0 if unknown). */
static unsigned array_bit(const char *what) {
    if (strcmp(what, "c3") == 0)
        return CG_ARR_C3;
    if (strcmp(what, "lut") == 0)
        return CG_ARR_LUT;
    static const struct { const char *prefix; unsigned bit; } kinds[] = {
        {"m0_", CG_ARR_M0}, {"shift_", CG_ARR_SHIFT}, {"f_", CG_ARR_F}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t len = strlen(kinds[i].prefix);
        if (strncmp(what, kinds[i].prefix, len) == 0 && what[len] >= '0' && what[len] <= '2' &&
            what[len + 1] == 0)
            return kinds[i].bit << (what[len] - '0');
    }
    return 0;
}

const char *cg_node_array(CGen *cg, const Node *n, const char *what) {
    int idx = (int)(n - cg->g->nodes);
    QCC_ASSERT(idx >= 0 && idx < cg->g->nnodes);
    unsigned bit = array_bit(what);
    QCC_ASSERT(bit != 0);
    if (cg->arrays_used)
        cg->arrays_used[idx] |= bit;
    return cg_fmt(cg, "n%d_%s", idx, what);
}

const char *cg_i32(CGen *cg, int32_t v) {
    if (v == INT32_MIN)
        return "(-2147483647 - 1)";
    return cg_fmt(cg, "%ld", (long)v);
}

const char *cg_requant(CGen *cg, const Node *n, int k, const char *acc, const char *idx) {
    const Multiplier *m = &n->q.mul[k];
    const Tensor *y = cg_tout(cg, n, 0);
    const char *zy = cg_i32(cg, cg_zp(y));
    const char *lo = cg_i32(cg, n->q.act_min), *hi = cg_i32(cg, n->q.act_max);
    QCC_ASSERT(m->n >= 1);
    if (cg->o->requant == REQUANT_FLOAT) {
        const char *f = m->n == 1 ? cg_float_lit(cg, m->f[0])
                                  : cg_fmt(cg, "%s[%s]", cg_node_array(cg, n,
                                           cg_fmt(cg, "f_%d", k)), idx);
        return cg_fmt(cg, "qcc_requant_f(%s, %s, %s, %s, %s)", acc, f, zy, lo, hi);
    }
    const char *m0, *sh;
    if (m->n == 1) {
        m0 = cg_i32(cg, m->m0[0]);
        sh = cg_i32(cg, m->shift[0]);
    } else {
        m0 = cg_fmt(cg, "%s[%s]", cg_node_array(cg, n, cg_fmt(cg, "m0_%d", k)), idx);
        sh = cg_fmt(cg, "%s[%s]", cg_node_array(cg, n, cg_fmt(cg, "shift_%d", k)), idx);
    }
    return cg_fmt(cg, "qcc_requant_q31(%s, %s, %s, %s, %s, %s)", acc, m0, sh, zy, lo, hi);
}

const Tensor *cg_tensor(const CGen *cg, int id) {
    return &cg->g->tensors[id];
}

void cg_idx_add(char *buf, size_t cap, const char *term, int64_t stride) {
    size_t len = strlen(buf);
    bool compound = strchr(term, ' ') != NULL;
    if (stride == 0 || !term[0])
        return;
    if (stride == 1)
        snprintf(buf + len, cap - len, "%s%s", len ? " + " : "", term);
    else
        snprintf(buf + len, cap - len, "%s%s%s%s * %lld", len ? " + " : "", compound ? "(" : "",
                 term, compound ? ")" : "", (long long)stride);
}

const char *cg_float_lit(CGen *cg, float v) {
    StrBuf sb;
    sb_init(&sb);
    sb_float(&sb, v);
    const char *s = arena_strdup(cg->g->arena, sb.data);
    sb_free(&sb);
    return s;
}

const char *const *cg_spatial_names(int n) {
    static const char *const names[3][3] = {{"x"}, {"y", "x"}, {"z", "y", "x"}};
    QCC_ASSERT(n >= 1 && n <= 3);
    return names[n - 1];
}
