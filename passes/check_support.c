/* check_support.c: the last word before arithmetic is derived: every node must be something
 * a backend can compile. QOperator ops must all have been lowered; integer ops need
 * quantization parameters on their 8-bit inputs; float ops inside a quantized model are
 * marked as fallbacks so the generated code says so. Errors name the node and what is
 * missing. */
#include "passes.h"

static bool needs_qparams(Op op) {
    switch (op) {
    case OP_CONV: case OP_GEMM: case OP_MATMUL: case OP_ADD: case OP_SUB: case OP_MUL:
    case OP_AVG_POOL: case OP_GLOBAL_AVG_POOL: case OP_SOFTMAX: case OP_LUT:
        return true;
    default:
        return false;
    }
}

/* QOperator ops that must have been lowered. ConvInteger/MatMulInteger are not listed: the
 * lowering keeps them only when a zero point is computed at run time, and codegen compiles
 * that form directly (codegen.h). */
static bool is_qop(Op op) {
    switch (op) {
    case OP_QLINEAR_CONV: case OP_QLINEAR_MATMUL:
    case OP_QLINEAR_ADD: case OP_QLINEAR_MUL: case OP_QLINEAR_AVG_POOL: case OP_QLINEAR_GAP:
    case OP_QLINEAR_CONCAT: case OP_QLINEAR_SIGMOID: case OP_QLINEAR_LEAKY_RELU:
    case OP_QLINEAR_SOFTMAX: case OP_QGEMM:
        return true;
    default:
        return false;
    }
}

static bool check_node(Graph *g, Node *n, bool quantized_model, Diag *d) {
    if (n->nout < 1 || n->out[0] < 0)
        return diag_error(d, "node '%s' (%s): unsupported: its first output is left out",
                          n->name, op_name(n->op));
    if (is_qop(n->op))
        return diag_error(d, "node '%s' (%s): unsupported form of this operator", n->name,
                          op_name(n->op));
    if (n->op == OP_QUANTIZE || n->op == OP_DEQUANTIZE || n->op == OP_DYNAMIC_QUANTIZE)
        return true;
    /* An integer op whose output has no quantization parameters is ONNX's literal integer
     * arithmetic (Add on uint8 wraps), compiled by the plain kernels; one whose output is
     * quantized needs parameters on every 8-bit input. */
    bool quantized_out = n->nout > 0 && tensor_is_quantized(&g->tensors[n->out[0]]);
    if (quantized_out && needs_qparams(n->op)) {
        for (int k = 0; k < n->nin; k++) {
            int t = n->in[k];
            if (t < 0)
                continue;
            const Tensor *tt = &g->tensors[t];
            if (dtype_is_int8ish(tt->dtype) && tt->q.n == 0)
                return diag_error(d, "node '%s' (%s): input '%s' is %s without quantization "
                                  "parameters (missing QuantizeLinear/DequantizeLinear?)",
                                  n->name, op_name(n->op), tt->name, dtype_name(tt->dtype));
        }
        /* Only the weight of a dense op may be per channel: the requant and the kernels read
         * scale[0]/zero_point[0] of every other input (QLinearAdd with per-axis a_scale
         * would otherwise be computed with the first channel's scale everywhere). */
        int weight = n->op == OP_CONV || n->op == OP_GEMM || n->op == OP_MATMUL ? 1 : -1;
        for (int k = 0; k < n->nin; k++) {
            int t = n->in[k];
            if (t >= 0 && k != weight && g->tensors[t].q.n > 1 &&
                dtype_is_int8ish(g->tensors[t].dtype))
                return diag_error(d, "node '%s' (%s): per-axis scales on input '%s' are not "
                                  "supported", n->name, op_name(n->op), g->tensors[t].name);
        }
        const Tensor *out = &g->tensors[n->out[0]];
        if (out->q.n > 1)
            return diag_error(d, "node '%s' (%s): per-axis output scales are not supported",
                              n->name, op_name(n->op));
    }
    if (!node_is_quantized(g, n) && quantized_model && n->nout > 0 &&
        g->tensors[n->out[0]].dtype == DT_FLOAT)
        n->float_fallback = true;
    return true;
}

bool pass_check_support(Graph *g, const PassOptions *o, Diag *d) {
    (void)o;
    bool quantized_model = false;
    for (int t = 0; t < g->ntensors; t++)
        quantized_model |= g->tensors[t].q.n > 0 && !tensor_is_const(&g->tensors[t]);
    bool ok = true;
    for (int i = 0; i < g->nnodes; i++)
        if (!g->nodes[i].dead)
            ok = check_node(g, &g->nodes[i], quantized_model, d) && ok;
    return ok;
}
