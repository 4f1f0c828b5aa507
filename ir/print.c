/* print.c: the IR as stable text for --dump-after and pass tests. Same graph, same bytes:
 * tensors in id order, nodes in graph order, floats printed so they read back exactly. */
#include "ir.h"

static void print_shape(const Tensor *t, StrBuf *sb) {
    sb_printf(sb, "%s", dtype_name(t->dtype));
    if (!t->shape_known) {
        sb_puts(sb, "[?]");
        return;
    }
    sb_putc(sb, '[');
    for (int i = 0; i < t->rank; i++)
        sb_printf(sb, "%s%lld", i ? "," : "", (long long)t->shape[i]);
    sb_putc(sb, ']');
}

static void print_qparams(const QParams *q, StrBuf *sb) {
    if (q->n == 0)
        return;
    if (q->n == 1) {
        sb_puts(sb, " q(s=");
        sb_float(sb, q->scale[0]);
        sb_printf(sb, " zp=%d)", (int)q->zero_point[0]);
        return;
    }
    sb_printf(sb, " q(axis=%d n=%d s0=", q->axis, q->n);
    sb_float(sb, q->scale[0]);
    sb_printf(sb, " zp0=%d)", (int)q->zero_point[0]);
}

static void print_tensor(const Graph *g, int id, StrBuf *sb) {
    const Tensor *t = &g->tensors[id];
    const char *kind = (t->flags & T_INPUT) ? "input " : (t->flags & T_OUTPUT) ? "output"
                       : tensor_is_const(t) ? "const " : "value ";
    sb_printf(sb, "  %s %%%d %s: ", kind, id, t->name);
    print_shape(t, sb);
    print_qparams(&t->q, sb);
    if (t->flags & T_OUTPUT && t->flags & T_INPUT)
        sb_puts(sb, " (also output)");
    if (t->offset >= 0)
        sb_printf(sb, " @%lld", (long long)t->offset);
    sb_putc(sb, '\n');
}

static void print_ints(StrBuf *sb, const char *label, const int64_t *v, int n) {
    sb_printf(sb, " %s=", label);
    for (int i = 0; i < n; i++)
        sb_printf(sb, "%s%lld", i ? "," : "", (long long)v[i]);
}

void node_print_attrs(const Node *n, int rank, StrBuf *sb) {
    const Attr *a = &n->a;
    switch (n->op) {
    case OP_CONV: case OP_CONV_TRANSPOSE: case OP_MAX_POOL: case OP_AVG_POOL:
    case OP_QLINEAR_CONV: case OP_CONV_INTEGER: case OP_QLINEAR_AVG_POOL: {
        int s = a->conv.nspatial;
        print_ints(sb, "kernel", a->conv.kernel, s);
        print_ints(sb, "stride", a->conv.stride, s);
        print_ints(sb, "dilation", a->conv.dilation, s);
        print_ints(sb, "pad", a->conv.pad, 2 * s);
        if (a->conv.group != 1)
            sb_printf(sb, " group=%lld", (long long)a->conv.group);
        if (a->conv.ceil_mode)
            sb_puts(sb, " ceil_mode");
        if (n->op == OP_AVG_POOL && a->conv.count_include_pad)
            sb_puts(sb, " count_include_pad");
        break;
    }
    case OP_SLICE:
        print_ints(sb, "start", a->slice.start, rank);
        print_ints(sb, "step", a->slice.step, rank);
        break;
    case OP_PAD:
        print_ints(sb, "pads", a->pad.pads, 2 * rank);
        sb_printf(sb, " mode=%s", a->pad.mode == PAD_CONSTANT ? "constant"
                                  : a->pad.mode == PAD_REFLECT ? "reflect"
                                  : a->pad.mode == PAD_EDGE ? "edge" : "wrap");
        break;
    case OP_RESIZE:
        sb_printf(sb, " mode=%s scales=", a->resize.mode == RESIZE_NEAREST ? "nearest"
                                          : a->resize.mode == RESIZE_LINEAR ? "linear"
                                                                            : "cubic");
        for (int i = 0; i < rank; i++) {
            if (i)
                sb_putc(sb, ',');
            sb_float(sb, a->resize.scales[i]);
        }
        break;
    case OP_BATCHNORM:
        sb_puts(sb, " epsilon=");
        sb_float(sb, a->bn.epsilon);
        break;
    case OP_GEMM: case OP_QGEMM:
        sb_printf(sb, " transA=%d transB=%d alpha=", a->gemm.trans_a, a->gemm.trans_b);
        sb_float(sb, a->gemm.alpha);
        sb_puts(sb, " beta=");
        sb_float(sb, a->gemm.beta);
        break;
    case OP_CONCAT: case OP_SOFTMAX: case OP_FLATTEN: case OP_GATHER: case OP_QLINEAR_CONCAT:
    case OP_QLINEAR_SOFTMAX:
        sb_printf(sb, " axis=%lld", (long long)a->axis.axis);
        break;
    case OP_TRANSPOSE: case OP_SQUEEZE: case OP_UNSQUEEZE: case OP_REDUCE_MAX:
    case OP_REDUCE_MIN:
        if (a->axes.naxes >= 0)
            print_ints(sb, "axes", a->axes.axes, a->axes.naxes);
        break;
    case OP_CLIP:
        sb_puts(sb, " lo=");
        sb_float(sb, a->act.lo);
        sb_puts(sb, " hi=");
        sb_float(sb, a->act.hi);
        break;
    case OP_LEAKY_RELU:
        sb_puts(sb, " alpha=");
        sb_float(sb, a->act.alpha);
        break;
    default:
        break;
    }
}

static void print_node(const Graph *g, int id, StrBuf *sb) {
    const Node *n = &g->nodes[id];
    sb_printf(sb, "  node %d '%s' %s(", id, n->name, op_name(n->op));
    for (int k = 0; k < n->nin; k++) {
        if (n->in[k] < 0)
            sb_printf(sb, "%s-", k ? ", " : "");
        else
            sb_printf(sb, "%s%%%d", k ? ", " : "", n->in[k]);
    }
    sb_puts(sb, ") -> (");
    for (int k = 0; k < n->nout; k++)
        sb_printf(sb, "%s%%%d", k ? ", " : "", n->out[k]);
    sb_putc(sb, ')');
    node_print_attrs(n, n->nin && n->in[0] >= 0 ? g->tensors[n->in[0]].rank : 0, sb);
    if (n->q.nbias)
        sb_printf(sb, " c3[%d]", n->q.nbias);
    if (n->q.nmul)
        sb_printf(sb, " mul[%d] m0=%d shift=%d clamp=[%d,%d]", n->q.nmul,
                  (int)n->q.mul[0].m0[0], (int)n->q.mul[0].shift[0], (int)n->q.act_min,
                  (int)n->q.act_max);
    if (n->q.lut)
        sb_puts(sb, " lut");
    if (n->float_fallback)
        sb_puts(sb, " float-fallback");
    if (n->nsources > 1) {
        sb_puts(sb, " from=");
        for (int i = 0; i < n->nsources; i++)
            sb_printf(sb, "%s%s", i ? "," : "", n->sources[i]);
    }
    sb_putc(sb, '\n');
}

void graph_print(const Graph *g, StrBuf *sb) {
    sb_printf(sb, "graph '%s' opset %d: %d tensors, %d nodes\n", g->name, g->opset, g->ntensors,
              g->nnodes);
    for (int t = 0; t < g->ntensors; t++) {
        const Tensor *tt = &g->tensors[t];
        /* unreferenced constants (e.g. folded scales) would only add noise */
        if (tensor_is_const(tt) && graph_use_count(g, t) == 0 && !(tt->flags & T_OUTPUT))
            continue;
        print_tensor(g, t, sb);
    }
    for (int i = 0; i < g->nnodes; i++)
        if (!g->nodes[i].dead)
            print_node(g, i, sb);
    if (g->arena_size)
        sb_printf(sb, "  arena %lld bytes (lower bound %lld)\n", (long long)g->arena_size,
                  (long long)g->arena_lower_bound);
}
