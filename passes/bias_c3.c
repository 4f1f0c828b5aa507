/* bias_c3.c: everything in sum((qx-zx)(qw-zw)) that depends only on constants, folded into
 * one int32 per output channel at compile time (design section 3):
 *   acc = sum qx*qw - zw[c]*sum qx + c3[c],   c3[c] = bias[c] - zx*sum qw[c] + K*zx*zw[c]
 * K is the receptive field (Cin/group * kernel) or the GEMM depth. Padding must read zx so
 * the sums stay position independent. Also checks the int32 accumulator bound per layer. */
#include "passes.h"

#include <stdlib.h>

typedef struct Dims {
    int64_t channels;   /* output channels (conv) or columns N (gemm/matmul) */
    int64_t depth;      /* K: products summed into one accumulator */
    int64_t wstride_c;  /* weight element step between output channels */
    int64_t wstride_k;  /* weight element step along K */
} Dims;

static bool weight_dims(const Graph *g, const Node *n, Dims *dm) {
    const Tensor *w = &g->tensors[n->in[1]];
    if (n->op == OP_CONV) {
        dm->channels = w->shape[0];
        dm->depth = tensor_numel(w) / (w->shape[0] ? w->shape[0] : 1);
        dm->wstride_c = dm->depth;
        dm->wstride_k = 1;
        return true;
    }
    if (w->rank != 2)
        return false;
    bool trans = n->op == OP_GEMM && n->a.gemm.trans_b;
    dm->channels = trans ? w->shape[0] : w->shape[1];
    dm->depth = trans ? w->shape[1] : w->shape[0];
    dm->wstride_c = trans ? w->shape[1] : 1;
    dm->wstride_k = trans ? 1 : w->shape[1];
    return true;
}

static bool compute_c3(Graph *g, int ni, Diag *d) {
    Node *n = &g->nodes[ni];
    const Tensor *x = &g->tensors[n->in[0]];
    const Tensor *w = &g->tensors[n->in[1]];
    Dims dm;
    if (!weight_dims(g, n, &dm))
        return diag_error(d, "node '%s' (%s): constant weight must be 2-d", n->name,
                          op_name(n->op));
    const Tensor *b = n->nin > 2 && n->in[2] >= 0 ? &g->tensors[n->in[2]] : NULL;
    if (b && (!tensor_is_const(b) || b->dtype != DT_INT32))
        return diag_error(d, "node '%s' (%s): bias must be a constant int32 tensor", n->name,
                          op_name(n->op));
    /* The bias is one value, one per output column (any shape ending in N), or, for a 2-d
     * Gemm/MatMul output [M,N], a C that also varies along rows (QGemm's [M,1] or [M,N]):
     * then c3 holds M*N entries, one per output element, still computed once here. */
    int64_t rows = 1;
    const Tensor *y = &g->tensors[n->out[0]];
    if (b && !(tensor_numel(b) == 1 || (tensor_numel(b) == dm.channels && b->rank >= 1 &&
                                        b->shape[b->rank - 1] == dm.channels))) {
        bool matrix_out = n->op != OP_CONV && y->rank == 2 && y->shape[1] == dm.channels;
        int64_t m = matrix_out ? y->shape[0] : 0;
        bool fits = matrix_out && b->rank == 2 && (b->shape[0] == m || b->shape[0] == 1) &&
                    (b->shape[1] == dm.channels || b->shape[1] == 1);
        if (!fits)
            return diag_error(d, "node '%s' (%s): unsupported: bias '%s' does not broadcast to "
                              "the output", n->name, op_name(n->op), b->name);
        rows = m;
    }
    int32_t zx = x->q.zero_point[0];
    int32_t *c3 = arena_calloc(g->arena, (size_t)(rows * dm.channels), sizeof(int32_t));
    int64_t worst = 0;
    for (int64_t c = 0; c < dm.channels; c++) {
        int64_t sum_w = 0, max_abs = 0;
        for (int64_t k = 0; k < dm.depth; k++) {
            int64_t v = tensor_get_i(w, c * dm.wstride_c + k * dm.wstride_k);
            sum_w += v;
            max_abs = llabs(v) > max_abs ? llabs(v) : max_abs;
        }
        int32_t zw = w->q.zero_point[w->q.n > 1 ? c : 0];
        int64_t v = 0;
        for (int64_t r = 0; r < rows; r++) {
            int64_t bias = 0;
            if (b && rows == 1)
                bias = tensor_get_i(b, tensor_numel(b) == 1 ? 0 : c);
            else if (b) /* [M or 1, N or 1] broadcast to row r, column c */
                bias = tensor_get_i(b, (b->shape[0] == 1 ? 0 : r) * b->shape[1] +
                                       (b->shape[1] == 1 ? 0 : c));
            int64_t e = bias - (int64_t)zx * sum_w + dm.depth * (int64_t)zx * zw;
            if (e < INT32_MIN || e > INT32_MAX)
                return diag_error(d, "node '%s' (%s): zero-point bias term of channel %lld "
                                  "overflows int32", n->name, op_name(n->op), (long long)c);
            c3[r * dm.channels + c] = (int32_t)e;
            v = llabs(e) > llabs(v) ? e : v;
        }
        /* |sum qx*qw - zw*sum qx| <= K*255*(max|qw| + |zw|) for 8-bit qx */
        int64_t bound = dm.depth * 255 * (max_abs + llabs(zw)) + llabs(v);
        worst = bound > worst ? bound : worst;
    }
    if (worst > INT32_MAX)
        diag_warning(d, "node '%s' (%s): int32 accumulator may overflow (bound %lld > 2^31-1)",
                     n->name, op_name(n->op), (long long)worst);
    n->q.nbias = (int)(rows * dm.channels);
    n->q.c3 = c3;
    return true;
}

bool pass_bias_c3(Graph *g, const PassOptions *o, Diag *d) {
    (void)o;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = &g->nodes[i];
        if (n->dead || !node_is_quantized(g, n))
            continue;
        if (n->op != OP_CONV && n->op != OP_GEMM && n->op != OP_MATMUL)
            continue;
        /* MatMul with a run-time B keeps both zero points in the loop (nbias = 0). */
        if (!tensor_is_const(&g->tensors[n->in[1]]))
            continue;
        if (n->op == OP_MATMUL && g->tensors[n->in[1]].rank != 2)
            continue;
        if (!compute_c3(g, i, d))
            return false;
    }
    return true;
}
