/* requant.c: the multipliers that take an int32 accumulator to the next layer's integer
 * domain, in both forms codegen can emit (codegen.h, Multiplier):
 *   fixed: M (computed in double from the scales) as a Q31 mantissa and a power-of-two shift;
 *   float: the float expression ONNX Runtime evaluates for the same op, operation by
 *          operation in float, so --requant=float is bit-exact with it.
 * Which ORT expression belongs to which op is recorded beside each case. */
#include "passes.h"

#include <math.h>

enum { ADD_LEFT_SHIFT = 20 }; /* TFLite's headroom for 8-bit add: (255 << 20) < 2^31 */

static void mul_alloc(Graph *g, Multiplier *m, int n) {
    m->n = n;
    m->m0 = arena_calloc(g->arena, (size_t)n, sizeof(int32_t));
    m->shift = arena_calloc(g->arena, (size_t)n, sizeof(int32_t));
    m->f = arena_calloc(g->arena, (size_t)n, sizeof(float));
}

/* Entry i of m: the real multiplier `real` (double) and ORT's float value `f`. */
static bool mul_set(const Node *n, Multiplier *m, int i, double real, float f, Diag *d) {
    if (!(real >= 0.0) || !isfinite(real) || !isfinite(f))
        return diag_error(d, "node '%s' (%s): requantization multiplier %g is negative or not "
                          "finite (negative alpha?)", n->name, op_name(n->op), real);
    quantize_multiplier(real, &m->m0[i], &m->shift[i]);
    if (m->m0[i] != 0 && m->shift[i] > 30)
        return diag_error(d, "node '%s' (%s): requantization multiplier %g is too large "
                          "(output scale far smaller than input scales)", n->name,
                          op_name(n->op), real);
    m->f[i] = f;
    return true;
}

static const QParams *qp(const Graph *g, int t) {
    return &g->tensors[t].q;
}

/* Conv, Gemm, MatMul: M[c] = sx*sw[c]/sy; ORT: (x_scale * w_scale[c]) / y_scale in float
 * (QGemm: (alpha * a_scale * b_scale[c]) / y_scale). */
static bool requant_dense(Graph *g, Node *n, Diag *d) {
    const QParams *qx = qp(g, n->in[0]), *qw = qp(g, n->in[1]), *qy = qp(g, n->out[0]);
    float alpha = n->op == OP_GEMM ? n->a.gemm.alpha : 1.0f;
    int channels = qw->n;
    n->q.nmul = 1;
    mul_alloc(g, &n->q.mul[0], channels);
    for (int c = 0; c < channels; c++) {
        double real = (double)alpha * qx->scale[0] * qw->scale[c] / qy->scale[0];
        float f = alpha == 1.0f ? (qx->scale[0] * qw->scale[c]) / qy->scale[0]
                                : (alpha * qx->scale[0] * qw->scale[c]) / qy->scale[0];
        if (!mul_set(n, &n->q.mul[0], c, real, f, d))
            return false;
    }
    return true;
}

/* Add/Sub, TFLite scheme: both inputs to a common scale 2*max(sa,sb) with 20 bits of
 * headroom, add, then to the output scale. ORT float form: f0 = sa/sy, f1 = sb/sy. */
static bool requant_add(Graph *g, Node *n, Diag *d) {
    const QParams *qa = qp(g, n->in[0]), *qb = qp(g, n->in[1]), *qy = qp(g, n->out[0]);
    double sa = qa->scale[0], sb = qb->scale[0], sy = qy->scale[0];
    double twice_max = 2.0 * (sa > sb ? sa : sb);
    n->q.nmul = 3;
    n->q.left_shift = ADD_LEFT_SHIFT;
    for (int k = 0; k < 3; k++)
        mul_alloc(g, &n->q.mul[k], 1);
    return mul_set(n, &n->q.mul[0], 0, sa / twice_max, qa->scale[0] / qy->scale[0], d) &&
           mul_set(n, &n->q.mul[1], 0, sb / twice_max, qb->scale[0] / qy->scale[0], d) &&
           mul_set(n, &n->q.mul[2], 0, twice_max / ((double)(1 << ADD_LEFT_SHIFT) * sy),
                   (float)(twice_max / ((double)(1 << ADD_LEFT_SHIFT) * sy)), d);
}

/* Mul: M = sa*sb/sy; ORT: (sa * sb) / sy in float. */
static bool requant_mul(Graph *g, Node *n, Diag *d) {
    const QParams *qa = qp(g, n->in[0]), *qb = qp(g, n->in[1]), *qy = qp(g, n->out[0]);
    n->q.nmul = 1;
    mul_alloc(g, &n->q.mul[0], 1);
    return mul_set(n, &n->q.mul[0], 0, (double)qa->scale[0] * qb->scale[0] / qy->scale[0],
                   (qa->scale[0] * qb->scale[0]) / qy->scale[0], d);
}

/* AveragePool: one multiplier per possible window count (entry count-1), M = sx/(sy*count).
 * GlobalAveragePool: one, ORT: sx / (sy * (float)HW). */
static bool requant_pool(Graph *g, Node *n, Diag *d) {
    const Tensor *x = &g->tensors[n->in[0]];
    const QParams *qx = &x->q, *qy = qp(g, n->out[0]);
    int64_t count = 1;
    if (n->op == OP_AVG_POOL)
        for (int i = 0; i < n->a.conv.nspatial; i++)
            count *= n->a.conv.kernel[i];
    else
        for (int i = 2; i < x->rank; i++)
            count *= x->shape[i];
    if (count < 1 || count > (1 << 24))
        return diag_error(d, "node '%s' (%s): pooling window of %lld elements is not supported",
                          n->name, op_name(n->op), (long long)count);
    int entries = n->op == OP_AVG_POOL ? (int)count : 1;
    n->q.nmul = 1;
    mul_alloc(g, &n->q.mul[0], entries);
    for (int i = 0; i < entries; i++) {
        int64_t c = n->op == OP_AVG_POOL ? i + 1 : count;
        double real = (double)qx->scale[0] / ((double)qy->scale[0] * (double)c);
        float f = qx->scale[0] / (qy->scale[0] * (float)c);
        if (!mul_set(n, &n->q.mul[0], i, real, f, d))
            return false;
    }
    return true;
}

bool pass_requant(Graph *g, const PassOptions *o, Diag *d) {
    (void)o;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = &g->nodes[i];
        if (n->dead || !node_is_quantized(g, n) || g->tensors[n->out[0]].dtype == DT_INT32)
            continue;
        bool ok = true;
        switch (n->op) {
        case OP_CONV: case OP_GEMM: case OP_MATMUL: ok = requant_dense(g, n, d); break;
        case OP_ADD: case OP_SUB: ok = requant_add(g, n, d); break;
        case OP_MUL: ok = requant_mul(g, n, d); break;
        case OP_AVG_POOL: case OP_GLOBAL_AVG_POOL: ok = requant_pool(g, n, d); break;
        default: break;
        }
        if (!ok)
            return false;
    }
    return true;
}
