/* onnx_ops.c: ONNX attribute spellings -> the IR's normalised Attr union, with ONNX defaults
 * and the differences between opsets. The only file that knows attribute names; it never
 * looks at tensor shapes (shape inference resolves what depends on them). An attribute value
 * qcc cannot honour is an error naming the node, never silently ignored. */
#include "onnx_internal.h"

#include <float.h>
#include <string.h>

typedef struct AttrCtx {
    Graph *g;                   /* graph being built */
    int node;                   /* node id in g */
    const Onnx__NodeProto *np;  /* its protobuf */
    int opset;                  /* ai.onnx opset of the model */
    const char *dir;            /* model directory for external data (NULL: refused) */
    Diag *d;                    /* diagnostics */
} AttrCtx;

static const char *ctx_name(const AttrCtx *c) {
    return c->g->nodes[c->node].name;
}

static const char *ctx_op(const AttrCtx *c) {
    return c->np->op_type;
}

static const Onnx__AttributeProto *attr_find(const AttrCtx *c, const char *name) {
    for (size_t i = 0; i < c->np->n_attribute; i++) {
        const Onnx__AttributeProto *at = c->np->attribute[i];
        if (at->name && strcmp(at->name, name) == 0)
            return at;
    }
    return NULL;
}

static int64_t attr_int(const AttrCtx *c, const char *name, int64_t def) {
    const Onnx__AttributeProto *at = attr_find(c, name);
    return at && at->has_i ? at->i : def;
}

static float attr_float(const AttrCtx *c, const char *name, float def) {
    const Onnx__AttributeProto *at = attr_find(c, name);
    if (!at)
        return def;
    if (at->has_f)
        return at->f;
    return at->has_i ? (float)at->i : def;
}

/* String attribute compared against the accepted spellings: index into `names`, `def` if
 * absent, -1 (after an error) for a value not in the list. */
static int attr_enum(const AttrCtx *c, const char *name, const char *const *names, int def) {
    const Onnx__AttributeProto *at = attr_find(c, name);
    if (!at || !at->has_s)
        return def;
    for (int i = 0; names[i]; i++)
        if (strlen(names[i]) == at->s.len && memcmp(names[i], at->s.data, at->s.len) == 0)
            return i;
    diag_error(c->d, "node '%s' (%s): unsupported %s='%.*s'", ctx_name(c), ctx_op(c), name,
               (int)(at->s.len > 64 ? 64 : at->s.len), (const char *)at->s.data);
    return -1;
}

/* Integer list attribute into out[max]: count, 0 if absent, -1 (after an error) if longer. */
static int attr_ints(const AttrCtx *c, const char *name, int64_t *out, int max) {
    const Onnx__AttributeProto *at = attr_find(c, name);
    if (!at)
        return 0;
    if (at->n_ints > (size_t)max) {
        diag_error(c->d, "node '%s' (%s): %s has %zu entries, qcc supports at most %d",
                   ctx_name(c), ctx_op(c), name, at->n_ints, max);
        return -1;
    }
    for (size_t i = 0; i < at->n_ints; i++)
        out[i] = at->ints[i];
    return (int)at->n_ints;
}

/* An attribute that must keep its default value for qcc to be right. */
static bool attr_require(const AttrCtx *c, const char *name, int64_t want) {
    int64_t v = attr_int(c, name, want);
    if (v == want)
        return true;
    return diag_error(c->d, "node '%s' (%s): unsupported %s=%lld", ctx_name(c), ctx_op(c), name,
                      (long long)v);
}

static Attr *ctx_attr(const AttrCtx *c) {
    return &c->g->nodes[c->node].a;
}

/* Conv, ConvTranspose, pooling and their quantized forms. */
static bool read_conv(const AttrCtx *c, Op op) {
    ConvAttr *a = &ctx_attr(c)->conv;
    for (int i = 0; i < QCC_MAX_SPATIAL; i++) {
        a->stride[i] = 1;
        a->dilation[i] = 1;
    }
    a->group = attr_int(c, "group", 1);
    int nk = attr_ints(c, "kernel_shape", a->kernel, QCC_MAX_SPATIAL);
    int ns = attr_ints(c, "strides", a->stride, QCC_MAX_SPATIAL);
    int nd = attr_ints(c, "dilations", a->dilation, QCC_MAX_SPATIAL);
    int np = attr_ints(c, "pads", a->pad, 2 * QCC_MAX_SPATIAL);
    int nop = attr_ints(c, "output_padding", a->out_pad, QCC_MAX_SPATIAL);
    int nos = attr_ints(c, "output_shape", a->out_shape, QCC_MAX_SPATIAL);
    if (nk < 0 || ns < 0 || nd < 0 || np < 0 || nop < 0 || nos < 0)
        return false;
    static const char *const pads[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", NULL};
    a->auto_pad = attr_enum(c, "auto_pad", pads, AUTO_PAD_NOTSET);
    if (a->auto_pad < 0)
        return false;
    a->nspatial = nk;
    a->ceil_mode = attr_int(c, "ceil_mode", 0) != 0;
    a->count_include_pad = attr_int(c, "count_include_pad", 0) != 0;
    a->storage_order = (int)attr_int(c, "storage_order", 0);
    bool pool = op == OP_MAX_POOL || op == OP_AVG_POOL || op == OP_QLINEAR_AVG_POOL;
    if (pool && nk == 0)
        return diag_error(c->d, "node '%s' (%s): missing kernel_shape", ctx_name(c), ctx_op(c));
    /* Every list must describe the same number of spatial dims. */
    int spatial = nk ? nk : ns ? ns : nd ? nd : np ? np / 2 : 0;
    if ((ns && ns != spatial) || (nd && nd != spatial) || (np && np != 2 * spatial) ||
        (nop && nop != spatial) || (nos && nos != spatial))
        return diag_error(c->d, "node '%s' (%s): kernel_shape, strides, dilations and pads "
                          "disagree on the number of spatial dimensions", ctx_name(c),
                          ctx_op(c));
    for (int i = 0; i < QCC_MAX_SPATIAL; i++) {
        if ((i < nk && a->kernel[i] <= 0) || a->stride[i] <= 0 || a->dilation[i] <= 0 ||
            a->pad[i] < 0 || a->pad[QCC_MAX_SPATIAL + i] < 0 || a->out_pad[i] < 0)
            return diag_error(c->d, "node '%s' (%s): kernel, strides and dilations must be "
                              "positive and pads non-negative", ctx_name(c), ctx_op(c));
    }
    if (a->group < 1)
        return diag_error(c->d, "node '%s' (%s): group must be >= 1", ctx_name(c), ctx_op(c));
    if (op == OP_MAX_POOL) {
        /* storage_order only changes how the optional Indices output (out[1]) flattens */
        if (a->storage_order != 0 && a->storage_order != 1)
            return diag_error(c->d, "node '%s' (MaxPool): invalid storage_order=%d",
                              ctx_name(c), a->storage_order);
        if (c->g->nodes[c->node].nout > 2)
            return diag_error(c->d, "node '%s' (MaxPool): at most 2 outputs (Y, Indices)",
                              ctx_name(c));
    }
    return attr_require(c, "channels_last", 0);
}

static bool read_softmax(const AttrCtx *c) {
    AxisAttr *a = &ctx_attr(c)->axis;
    int version = c->opset;
    if (c->g->nodes[c->node].op == OP_QLINEAR_SOFTMAX)
        version = (int)attr_int(c, "opset", version); /* the Softmax semantics it follows */
    a->legacy_softmax = version < 13;
    a->axis = attr_int(c, "axis", a->legacy_softmax ? 1 : -1);
    return true;
}

/* QuantizeLinear's output_dtype (opset 21) without a zero point: make the zero point an
 * explicit 0 of that type so later passes read the type from input 2 as usual. */
static bool read_output_dtype(const AttrCtx *c) {
    int64_t odt = attr_int(c, "output_dtype", 0);
    if (odt == 0)
        return true;
    if (odt != DT_UINT8 && odt != DT_INT8 && odt != DT_UINT16 && odt != DT_INT16 &&
        odt != DT_INT32)
        return diag_error(c->d, "node '%s' (%s): unsupported output_dtype=%lld", ctx_name(c),
                          ctx_op(c), (long long)odt);
    Node *n = &c->g->nodes[c->node];
    if (n->nin >= 3 && n->in[2] >= 0)
        return true; /* the zero point's type wins; the spec requires them to agree */
    while (n->nin < 2)
        node_add_input(c->g, c->node, -1);
    char base[300];
    snprintf(base, sizeof base, "%.200s_zero_point", n->name);
    int zp = graph_new_tensor(c->g, base);
    /* the zero point takes the scale's shape (per tensor, per axis or blocked) when it is
     * already known: initializers and graph inputs are read before nodes */
    int rank = 0;
    int64_t shape[QCC_MAX_RANK];
    int s = n->nin >= 2 ? n->in[1] : -1;
    if (s >= 0 && c->g->tensors[s].shape_known) {
        rank = c->g->tensors[s].rank;
        memcpy(shape, c->g->tensors[s].shape, sizeof shape);
    }
    tensor_set_const(c->g, zp, (DType)odt, rank, shape);
    n = &c->g->nodes[c->node];
    if (n->nin == 2)
        node_add_input(c->g, c->node, zp);
    else
        n->in[2] = zp;
    return true;
}

/* ConstantOfShape's value (a one-element tensor, default float 0) becomes input 1. */
static bool read_constant_of_shape(const AttrCtx *c) {
    Node *n = &c->g->nodes[c->node];
    if (n->nin != 1)
        return diag_error(c->d, "node '%s' (ConstantOfShape): needs exactly one input",
                          ctx_name(c));
    char base[300];
    snprintf(base, sizeof base, "%.200s_value", n->name);
    int v = graph_new_tensor(c->g, base);
    const Onnx__AttributeProto *at = attr_find(c, "value");
    if (at && at->t) {
        char what[300];
        snprintf(what, sizeof what, "node '%.200s' (ConstantOfShape): value", ctx_name(c));
        Tensor tmp = c->g->tensors[v];
        if (!onnx_tensor_read(c->g->arena, at->t, c->dir, &tmp, what, c->d))
            return false;
        if (tensor_numel(&tmp) != 1)
            return diag_error(c->d, "node '%s' (ConstantOfShape): value must have one element",
                              ctx_name(c));
        c->g->tensors[v] = tmp;
        ctx_attr(c)->cast.to = tmp.dtype;
    } else {
        int64_t one = 1;
        tensor_set_const(c->g, v, DT_FLOAT, 1, &one);
        ctx_attr(c)->cast.to = DT_FLOAT;
    }
    node_add_input(c->g, c->node, v);
    return true;
}

static bool read_pad(const AttrCtx *c) {
    PadAttr *a = &ctx_attr(c)->pad;
    static const char *const modes[] = {"constant", "reflect", "edge", "wrap", NULL};
    a->mode = attr_enum(c, "mode", modes, PAD_CONSTANT);
    if (a->mode < 0)
        return false;
    if (c->opset >= 11)
        return true; /* pads, value (and axes) are inputs */
    const char *name = attr_find(c, "pads") ? "pads" : "paddings"; /* opset 1 spelling */
    int n = attr_ints(c, name, a->pads, 2 * QCC_MAX_RANK);
    if (n < 0)
        return false;
    if (n % 2)
        return diag_error(c->d, "node '%s' (Pad): odd number of pads", ctx_name(c));
    /* keep the layout of the input form: begins in [0, rank), ends in [rank, 2 rank) */
    a->have_pads = true;
    a->value = attr_float(c, "value", 0.0f);
    return true;
}

static bool read_resize(const AttrCtx *c) {
    ResizeAttr *a = &ctx_attr(c)->resize;
    static const char *const modes[] = {"nearest", "linear", "cubic", NULL};
    static const char *const coords[] = {"half_pixel", "asymmetric", "align_corners",
                                         "pytorch_half_pixel", "tf_crop_and_resize",
                                         "tf_half_pixel_for_nn", NULL};
    static const char *const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                          "ceil", NULL};
    a->mode = attr_enum(c, "mode", modes, RESIZE_NEAREST);
    /* Resize-10 had no such attributes; it behaves as asymmetric + floor (the ONNX version
     * converter's mapping to opset 11). */
    bool v10 = c->opset < 11;
    a->coord = attr_enum(c, "coordinate_transformation_mode", coords,
                         v10 ? CT_ASYMMETRIC : CT_HALF_PIXEL);
    a->nearest = attr_enum(c, "nearest_mode", nearest,
                           v10 ? NEAREST_FLOOR : NEAREST_ROUND_PREFER_FLOOR);
    if (a->mode < 0 || a->coord < 0 || a->nearest < 0)
        return false;
    a->cubic_a = attr_float(c, "cubic_coeff_a", -0.75f);
    a->exclude_outside = attr_int(c, "exclude_outside", 0) != 0;
    a->extrapolation = attr_float(c, "extrapolation_value", 0.0f);
    for (int i = 0; i < QCC_MAX_RANK; i++) {
        a->roi_start[i] = 0.0f;
        a->roi_end[i] = 1.0f;
    }
    /* opset 18: scales/sizes/roi list only these axes; shape inference checks the range */
    a->naxes = attr_ints(c, "axes", a->axes, QCC_MAX_RANK);
    if (a->naxes < 0)
        return false;
    static const char *const policies[] = {"stretch", NULL};
    return attr_require(c, "antialias", 0) &&
           attr_enum(c, "keep_aspect_ratio_policy", policies, 0) == 0;
}

static bool read_cast(const AttrCtx *c) {
    const Onnx__AttributeProto *at = attr_find(c, "to");
    if (!at || !at->has_i)
        return diag_error(c->d, "node '%s' (Cast): missing 'to'", ctx_name(c));
    switch (at->i) {
    case DT_FLOAT: case DT_UINT8: case DT_INT8: case DT_UINT16: case DT_INT16: case DT_INT32:
    case DT_INT64: case DT_BOOL: case DT_FLOAT16: case DT_DOUBLE:
        ctx_attr(c)->cast.to = (DType)at->i;
        return true;
    default:
        return diag_error(c->d, "node '%s' (Cast): unsupported target type %lld", ctx_name(c),
                          (long long)at->i);
    }
}

/* Squeeze, Unsqueeze, Transpose, reductions, Reshape: an axes/perm list, -1 if absent. */
static bool read_axes(const AttrCtx *c, const char *name) {
    AxesAttr *a = &ctx_attr(c)->axes;
    a->naxes = -1;
    a->keepdims = attr_int(c, "keepdims", 1) != 0;
    a->allowzero = attr_int(c, "allowzero", 0) != 0;
    if (!name || !attr_find(c, name))
        return true;
    int n = attr_ints(c, name, a->axes, QCC_MAX_RANK);
    if (n < 0)
        return false;
    a->naxes = n;
    return true;
}

/* Slice-1 carried starts/ends/axes as attributes; from opset 10 they (and steps) are inputs
 * 1..4, read by shape inference. The attribute form keeps ONNX order and sign: shape
 * inference clamps and normalises both forms the same way. */
static bool read_slice(const AttrCtx *c) {
    SliceAttr *a = &ctx_attr(c)->slice;
    int nin = c->g->nodes[c->node].nin;
    if (c->opset >= 10) {
        if (nin < 3 || nin > 5)
            return diag_error(c->d, "node '%s' (Slice): needs 3 to 5 inputs (data, starts, "
                              "ends[, axes, steps]), has %d", ctx_name(c), nin);
        return true;
    }
    if (nin != 1)
        return diag_error(c->d, "node '%s' (Slice): opset %d takes one input, has %d",
                          ctx_name(c), c->opset, nin);
    if (!attr_find(c, "starts") || !attr_find(c, "ends"))
        return diag_error(c->d, "node '%s' (Slice): missing starts or ends", ctx_name(c));
    int ns = attr_ints(c, "starts", a->attr_starts, QCC_MAX_RANK);
    int ne = attr_ints(c, "ends", a->attr_ends, QCC_MAX_RANK);
    int na = attr_ints(c, "axes", a->attr_axes, QCC_MAX_RANK);
    if (ns < 0 || ne < 0 || na < 0)
        return false;
    bool have_axes = attr_find(c, "axes") != NULL;
    if (ns != ne || (have_axes && na != ns))
        return diag_error(c->d, "node '%s' (Slice): starts, ends and axes differ in length "
                          "(%d, %d, %d)", ctx_name(c), ns, ne, have_axes ? na : ns);
    if (!have_axes)
        for (int i = 0; i < ns; i++)
            a->attr_axes[i] = i; /* the default: the first len(starts) axes */
    a->nattr = ns;
    a->have_attrs = true;
    return true;
}

bool onnx_read_attrs(Graph *g, int node, const Onnx__NodeProto *np, int opset,
                     const char *dir, Diag *d) {
    AttrCtx c = {g, node, np, opset, dir, d};
    Op op = g->nodes[node].op;
    Attr *a = &g->nodes[node].a;
    switch (op) {
    case OP_CONV: case OP_CONV_TRANSPOSE: case OP_MAX_POOL: case OP_AVG_POOL:
    case OP_QLINEAR_CONV: case OP_CONV_INTEGER: case OP_QLINEAR_AVG_POOL:
        return read_conv(&c, op);
    case OP_GEMM: case OP_QGEMM:
        a->gemm.alpha = attr_float(&c, "alpha", 1.0f);
        a->gemm.beta = attr_float(&c, "beta", 1.0f);
        a->gemm.trans_a = attr_int(&c, "transA", 0) != 0;
        a->gemm.trans_b = attr_int(&c, "transB", 0) != 0;
        /* Gemm-1..6 had a broadcast flag; numpy broadcasting of C covers what it allowed */
        return true;
    case OP_CONCAT: case OP_QLINEAR_CONCAT:
        if (!attr_find(&c, "axis") && !(op == OP_CONCAT && opset < 4))
            return diag_error(d, "node '%s' (%s): missing axis", ctx_name(&c), ctx_op(&c));
        a->axis.axis = attr_int(&c, "axis", 1); /* Concat-1 defaulted to 1 */
        return true;
    case OP_FLATTEN:
        a->axis.axis = attr_int(&c, "axis", 1);
        return true;
    case OP_GATHER:
        a->axis.axis = attr_int(&c, "axis", 0);
        return true;
    case OP_SOFTMAX: case OP_QLINEAR_SOFTMAX:
        return read_softmax(&c);
    case OP_QUANTIZE: case OP_DEQUANTIZE:
        a->axis.axis = attr_int(&c, "axis", 1);
        a->axis.block_size = attr_int(&c, "block_size", 0);
        a->axis.saturate = attr_int(&c, "saturate", 1) != 0;
        if (a->axis.block_size < 0)
            return diag_error(d, "node '%s' (%s): negative block_size", ctx_name(&c),
                              ctx_op(&c));
        return op == OP_DEQUANTIZE || read_output_dtype(&c);
    case OP_TRANSPOSE:
        return read_axes(&c, "perm");
    case OP_SQUEEZE: case OP_UNSQUEEZE:
        return read_axes(&c, "axes"); /* opset >= 13: an input, read by shape inference */
    case OP_REDUCE_MAX: case OP_REDUCE_MIN:
        return read_axes(&c, "axes") && attr_require(&c, "noop_with_empty_axes", 0);
    case OP_RESHAPE:
        return read_axes(&c, NULL);
    case OP_LEAKY_RELU: case OP_QLINEAR_LEAKY_RELU:
        a->act.alpha = attr_float(&c, "alpha", 0.01f);
        return true;
    case OP_HARD_SIGMOID:
        a->act.alpha = attr_float(&c, "alpha", 0.2f);
        a->act.beta = attr_float(&c, "beta", 0.5f);
        return true;
    case OP_CLIP:
        /* Clip-11 moved the bounds to optional inputs, resolved once constants are known */
        a->act.lo = opset < 11 ? attr_float(&c, "min", -FLT_MAX) : -FLT_MAX;
        a->act.hi = opset < 11 ? attr_float(&c, "max", FLT_MAX) : FLT_MAX;
        return true;
    case OP_PAD:
        return read_pad(&c);
    case OP_RESIZE:
        return read_resize(&c);
    case OP_CAST:
        return read_cast(&c);
    case OP_SLICE:
        return read_slice(&c);
    case OP_CONSTANT_OF_SHAPE:
        return read_constant_of_shape(&c);
    case OP_BATCHNORM:
        a->bn.epsilon = attr_float(&c, "epsilon", 1e-5f);
        return attr_require(&c, "training_mode", 0) && attr_require(&c, "spatial", 1);
    case OP_SHAPE:
        if (attr_find(&c, "start") || attr_find(&c, "end"))
            return diag_error(d, "node '%s' (Shape): start/end attributes are not supported",
                              ctx_name(&c));
        return true;
    case OP_QLINEAR_GAP:
        return attr_require(&c, "channels_last", 0);
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV:
        /* before opset 7, broadcast=1 with an axis aligned b at that axis, not at the end */
        if (attr_int(&c, "broadcast", 0) && attr_find(&c, "axis"))
            return diag_error(d, "node '%s' (%s): legacy broadcast with axis is not supported",
                              ctx_name(&c), ctx_op(&c));
        return true;
    case OP_CONSTANT:
        return diag_error(d, "node '%s' (Constant): unsupported in domain '%s'", ctx_name(&c),
                          np->domain ? np->domain : "");
    default:
        return true; /* ops without attributes we act on */
    }
}
