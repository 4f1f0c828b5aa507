/* test_shapes.c: shape inference and constant folding on small hand-built graphs, checked
 * against shapes and values computed by hand from the ONNX specs (SAME padding, ceil-mode
 * pooling, Reshape 0/-1, matmul broadcasting, Unsqueeze axes input, QuantizeLinear ties). */
#include "fixture.h"

static void assert_shape(const Graph *g, const char *name, int rank, const int64_t *shape) {
    int id = graph_find_tensor(g, name);
    assert_true(id >= 0);
    const Tensor *t = &g->tensors[id];
    assert_true(t->shape_known);
    assert_int_equal(t->rank, rank);
    for (int i = 0; i < rank; i++)
        assert_int_equal(t->shape[i], shape[i]);
}

static bool infer(Fixture *f) {
    bool ok = pass_infer_shapes(&f->g, &f->po, &f->cap.d);
    assert_true(graph_verify(&f->g, &f->cap.d, "test") || !ok);
    return ok;
}

/* ---- convolution family ------------------------------------------------------------------ */

static void test_conv_same_upper_stride2(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int x = add_input(g, "x", DT_FLOAT, 4, (int64_t[]){1, 3, 8, 8});
    int w = add_floats(g, "w", 4, (int64_t[]){16, 3, 3, 3}, (float[16 * 27]){0});
    int n = add_node(g, OP_CONV, "conv", "y", x, w, -2);
    mark_output(g, graph_find_tensor(g, "y"));
    g->nodes[n].a.conv.auto_pad = AUTO_PAD_SAME_UPPER;
    g->nodes[n].a.conv.stride[0] = g->nodes[n].a.conv.stride[1] = 2;
    assert_true(infer(f));
    /* out = ceil(8/2) = 4; total pad = (4-1)*2 + 3 - 8 = 1: the odd one at the end */
    assert_shape(g, "y", 4, (int64_t[]){1, 16, 4, 4});
    const ConvAttr *a = &g->nodes[n].a.conv;
    assert_int_equal(a->nspatial, 2);
    assert_int_equal(a->kernel[0], 3);
    assert_int_equal(a->kernel[1], 3);
    assert_int_equal(a->auto_pad, AUTO_PAD_NOTSET);
    assert_int_equal(a->pad[0], 0);
    assert_int_equal(a->pad[1], 0);
    assert_int_equal(a->pad[2], 1);
    assert_int_equal(a->pad[3], 1);
    assert_int_equal(a->dilation[0], 1);
    assert_int_equal(a->group, 1);
}

static void test_conv_same_lower_depthwise(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int x = add_input(g, "x", DT_FLOAT, 4, (int64_t[]){1, 8, 7, 6});
    int w = add_floats(g, "w", 4, (int64_t[]){8, 1, 3, 3}, (float[72]){0});
    int n = add_node(g, OP_CONV, "dw", "y", x, w, -2);
    ConvAttr *a = &g->nodes[n].a.conv;
    a->auto_pad = AUTO_PAD_SAME_LOWER;
    a->stride[0] = a->stride[1] = 2;
    a->group = 8;
    assert_true(infer(f));
    /* H: out 4, total (3*2+3-7) = 2 -> 1,1; W: out 3, total (2*2+3-6) = 1 -> begin gets it */
    assert_shape(g, "y", 4, (int64_t[]){1, 8, 4, 3});
    assert_int_equal(a->pad[0], 1);
    assert_int_equal(a->pad[1], 1);
    assert_int_equal(a->pad[2], 1);
    assert_int_equal(a->pad[3], 0);
}

static void test_conv_channel_mismatch(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int x = add_input(g, "x", DT_FLOAT, 4, (int64_t[]){1, 4, 8, 8});
    int w = add_floats(g, "w", 4, (int64_t[]){16, 3, 3, 3}, (float[16 * 27]){0});
    add_node(g, OP_CONV, "conv1", "y", x, w, -2);
    assert_false(infer(f));
    assert_non_null(strstr(diag_text(f), "node 'conv1' (Conv): input 'x' [1,4,8,8] has 4 "
                                         "channels"));
}

static void test_pool_ceil_mode(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int x = add_input(g, "x", DT_FLOAT, 4, (int64_t[]){1, 2, 6, 4});
    int n = add_node(g, OP_MAX_POOL, "pool", "y", x, -2);
    ConvAttr *a = &g->nodes[n].a.conv;
    a->nspatial = 2;
    a->kernel[0] = 3;
    a->kernel[1] = 1;
    a->stride[0] = a->stride[1] = 2;
    a->ceil_mode = true;
    assert_true(infer(f));
    /* H: ceil((6-3)/2)+1 = 3 (floor would give 2). W: ceil((4-1)/2)+1 = 3, but the third
     * window would start at 4, outside the input: dropped, 2. */
    assert_shape(g, "y", 4, (int64_t[]){1, 2, 3, 2});
    a->ceil_mode = false;
    assert_true(infer(f));
    assert_shape(g, "y", 4, (int64_t[]){1, 2, 2, 2});
}

static void test_conv_transpose_output_shape(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int x = add_input(g, "x", DT_FLOAT, 4, (int64_t[]){1, 4, 5, 5});
    int w = add_floats(g, "w", 4, (int64_t[]){4, 2, 3, 3}, (float[72]){0});
    int n = add_node(g, OP_CONV_TRANSPOSE, "up", "y", x, w, -2);
    ConvAttr *a = &g->nodes[n].a.conv;
    a->stride[0] = a->stride[1] = 2;
    a->out_shape[0] = a->out_shape[1] = 10;
    assert_true(infer(f));
    /* natural 2*4 + 3 = 11, requested 10: total pad 1, NOTSET puts it at the beginning */
    assert_shape(g, "y", 4, (int64_t[]){1, 2, 10, 10});
    assert_int_equal(a->pad[0], 1);
    assert_int_equal(a->pad[2], 0);
    assert_int_equal(a->out_shape[0], 0);
}

/* ---- linear algebra and broadcasting ----------------------------------------------------- */

static void test_matmul_broadcast(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int a = add_input(g, "a", DT_FLOAT, 4, (int64_t[]){2, 1, 3, 4});
    int b = add_input(g, "b", DT_FLOAT, 3, (int64_t[]){5, 4, 6});
    int v = add_input(g, "v", DT_FLOAT, 1, (int64_t[]){4});
    add_node(g, OP_MATMUL, "mm", "y", a, b, -2);
    add_node(g, OP_MATMUL, "mv", "z", v, b, -2);
    add_node(g, OP_MATMUL, "vm", "u", a, v, -2);
    assert_true(infer(f));
    assert_shape(g, "y", 4, (int64_t[]){2, 5, 3, 6});
    assert_shape(g, "z", 2, (int64_t[]){5, 6});
    assert_shape(g, "u", 3, (int64_t[]){2, 1, 3});
}

static void test_gemm_trans_b(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int a = add_input(g, "a", DT_FLOAT, 2, (int64_t[]){3, 8});
    int b = add_floats(g, "b", 2, (int64_t[]){10, 8}, (float[80]){0});
    int c = add_floats(g, "c", 1, (int64_t[]){10}, (float[10]){0});
    int n = add_node(g, OP_GEMM, "fc", "y", a, b, c, -2);
    g->nodes[n].a.gemm.trans_b = true;
    assert_true(infer(f));
    assert_shape(g, "y", 2, (int64_t[]){3, 10});
}

static void test_add_shape_mismatch(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int a = add_input(g, "a", DT_FLOAT, 2, (int64_t[]){2, 3});
    int b = add_input(g, "b", DT_FLOAT, 2, (int64_t[]){4, 3});
    add_node(g, OP_ADD, "add1", "y", a, b, -2);
    assert_false(infer(f));
    assert_int_equal(f->cap.d.errors, 1);
    assert_non_null(strstr(diag_text(f), "node 'add1' (Add): shapes [2,3] and [4,3]"));
}

/* ---- data movement ----------------------------------------------------------------------- */

static void test_reshape_zero_minus_one(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int x = add_input(g, "x", DT_FLOAT, 3, (int64_t[]){2, 3, 4});
    int s = add_ints(g, "s", 3, (int64_t[]){0, -1, 2});
    add_node(g, OP_RESHAPE, "r", "y", x, s, -2);
    assert_true(infer(f));
    assert_shape(g, "y", 3, (int64_t[]){2, 6, 2});
}

static void test_reshape_shape_not_constant(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int x = add_input(g, "x", DT_FLOAT, 2, (int64_t[]){2, 3});
    int s = add_input(g, "s", DT_INT64, 1, (int64_t[]){2});
    add_node(g, OP_RESHAPE, "r", "y", x, s, -2);
    assert_false(infer(f));
    assert_non_null(strstr(diag_text(f), "node 'r' (Reshape): shape input must be constant"));
}

static void test_unsqueeze_opset13(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    g->opset = 13;
    int x = add_input(g, "x", DT_FLOAT, 2, (int64_t[]){3, 4});
    int ax = add_ints(g, "axes", 2, (int64_t[]){-1, 0});
    int n = add_node(g, OP_UNSQUEEZE, "u", "y", x, ax, -2);
    g->nodes[n].a.axes.naxes = -1;
    assert_true(infer(f));
    assert_shape(g, "y", 4, (int64_t[]){1, 3, 4, 1});
    assert_int_equal(g->nodes[n].a.axes.naxes, 2);
    assert_int_equal(g->nodes[n].a.axes.axes[0], 0);
    assert_int_equal(g->nodes[n].a.axes.axes[1], 3);
}

static void test_transpose_default_and_squeeze(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int x = add_input(g, "x", DT_UINT8, 3, (int64_t[]){1, 3, 1});
    int n = add_node(g, OP_TRANSPOSE, "t", "y", x, -2);
    g->nodes[n].a.axes.naxes = -1;
    int m = add_node(g, OP_SQUEEZE, "sq", "z", x, -2);
    g->nodes[m].a.axes.naxes = -1;
    assert_true(infer(f));
    assert_shape(g, "y", 3, (int64_t[]){1, 3, 1});
    assert_int_equal(g->nodes[n].a.axes.axes[0], 2);
    assert_shape(g, "z", 1, (int64_t[]){3});
    assert_int_equal(g->nodes[m].a.axes.naxes, 2);
    assert_int_equal(g->tensors[graph_find_tensor(g, "z")].dtype, DT_UINT8);
}

static void test_resize_pad_clip_inputs(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    g->opset = 13;
    int x = add_input(g, "x", DT_FLOAT, 4, (int64_t[]){1, 2, 5, 5});
    int roi = add_floats(g, "roi", 1, (int64_t[]){0}, (float[1]){0});
    int sc = add_floats(g, "scales", 1, (int64_t[]){4}, (float[]){1, 1, 2, 1.5f});
    add_node(g, OP_RESIZE, "rs", "y", x, roi, sc, -2);
    int pads = add_ints(g, "pads", 8, (int64_t[]){0, 0, 1, 2, 0, 0, 3, 0});
    int pv = add_floats(g, "pv", 0, NULL, (float[]){-1.5f});
    int np = add_node(g, OP_PAD, "pad", "p", x, pads, pv, -2);
    int hi = add_floats(g, "six", 0, NULL, (float[]){6});
    int nc = add_node(g, OP_CLIP, "clip", "c", x, -1, hi, -2);
    assert_true(infer(f));
    assert_shape(g, "y", 4, (int64_t[]){1, 2, 10, 7}); /* floor(5*1.5) = 7 */
    assert_shape(g, "p", 4, (int64_t[]){1, 2, 9, 7});
    assert_true(g->nodes[np].a.pad.value == -1.5f);
    assert_true(g->nodes[nc].a.act.hi == 6.0f);
    assert_true(g->nodes[nc].a.act.lo < -1e38f);
}

static void test_qlinear_conv_dtype(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int x = add_input(g, "x", DT_UINT8, 4, (int64_t[]){1, 3, 4, 4});
    int s = add_floats(g, "s", 0, NULL, (float[]){0.5f});
    int zu = graph_tensor(g, "zu");
    tensor_set_const(g, zu, DT_UINT8, 0, NULL);
    int zi = graph_tensor(g, "zi");
    tensor_set_const(g, zi, DT_INT8, 0, NULL);
    int w = graph_tensor(g, "w");
    tensor_set_const(g, w, DT_INT8, 4, (int64_t[]){6, 3, 1, 1});
    add_node(g, OP_QLINEAR_CONV, "qc", "y", x, s, zu, w, s, zi, s, zi, -2);
    assert_true(infer(f));
    assert_shape(g, "y", 4, (int64_t[]){1, 6, 4, 4});
    assert_int_equal(g->tensors[graph_find_tensor(g, "y")].dtype, DT_INT8);
}

static void test_output_declared_mismatch(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int x = add_input(g, "x", DT_FLOAT, 2, (int64_t[]){2, 3});
    add_node(g, OP_RELU, "relu", "y", x, -2);
    int y = graph_find_tensor(g, "y");
    g->tensors[y].dtype = DT_FLOAT;
    g->tensors[y].rank = 2;
    g->tensors[y].shape[0] = 1;     /* symbolic dims (shape_known false): rank only */
    g->tensors[y].shape[1] = 1;
    mark_output(g, y);
    assert_true(infer(f));
    assert_shape(g, "y", 2, (int64_t[]){2, 3});
    g->tensors[y].shape[1] = 4;     /* a fully declared shape must agree */
    assert_true(g->tensors[y].shape_known);
    assert_false(infer(f));
    assert_non_null(strstr(diag_text(f), "graph output 'y': declared shape [2,4] but computes "
                                         "[2,3]"));
}

/* ---- constant folding -------------------------------------------------------------------- */

static void test_quantize_fold_ties_to_even(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int x = add_floats(g, "wf", 1, (int64_t[]){6},
                       (float[]){0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 1000.0f});
    int s = add_floats(g, "s", 0, NULL, (float[]){1.0f});
    int zp = graph_tensor(g, "zp");
    tensor_set_const(g, zp, DT_INT8, 0, NULL);
    add_node(g, OP_QUANTIZE, "q", "wq", x, s, zp, -2);
    int dq = add_node(g, OP_DEQUANTIZE, "dq", "w", graph_tensor(g, "wq"), s, zp, -2);
    (void)dq;
    mark_output(g, graph_tensor(g, "w"));
    assert_true(pass_fold_constants(g, &f->po, &f->cap.d));
    int id = graph_find_tensor(g, "wq");
    assert_true(id >= 0);
    const Tensor *t = &g->tensors[id];
    assert_true(tensor_is_const(t));
    assert_int_equal(t->dtype, DT_INT8);
    const int8_t want[] = {0, 2, 2, 0, -2, 127};
    assert_memory_equal(t->data, want, sizeof want);
    assert_int_equal(t->q.n, 1);
    /* DequantizeLinear is never folded: lowering needs the integer weights */
    assert_int_equal(g->nnodes, 1);
    assert_int_equal(g->nodes[0].op, OP_DEQUANTIZE);
}

static void test_quantize_fold_per_axis(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int x = add_floats(g, "wf", 2, (int64_t[]){2, 2}, (float[]){1.5f, -300.0f, 5.0f, 3.0f});
    int s = add_floats(g, "s", 1, (int64_t[]){2}, (float[]){1.0f, 2.0f});
    int zp = graph_tensor(g, "zp");
    uint8_t *z = tensor_set_const(g, zp, DT_UINT8, 1, (int64_t[]){2});
    z[0] = 128;
    z[1] = 0;
    int n = add_node(g, OP_QUANTIZE, "q", "wq", x, s, zp, -2);
    g->nodes[n].a.axis.axis = 0;
    mark_output(g, graph_tensor(g, "wq"));
    assert_true(pass_fold_constants(g, &f->po, &f->cap.d));
    const Tensor *t = &g->tensors[graph_find_tensor(g, "wq")];
    const uint8_t want[] = {130, 0, 2, 2};    /* 5/2 = 2.5 -> 2, 3/2 = 1.5 -> 2 */
    assert_int_equal(t->dtype, DT_UINT8);
    assert_memory_equal(t->data, want, sizeof want);
    assert_int_equal(t->q.n, 2);
}

/* Shape -> Gather -> Unsqueeze -> Concat -> Reshape: the flatten idiom of PyTorch exports. */
static void test_fold_shape_plumbing(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    g->opset = 13;
    int x = add_input(g, "x", DT_FLOAT, 4, (int64_t[]){2, 8, 3, 3});
    add_node(g, OP_SHAPE, "shape", "sh", x, -2);
    int i0 = graph_tensor(g, "i0");
    tensor_set_const(g, i0, DT_INT64, 0, NULL);
    add_node(g, OP_GATHER, "gather", "n", graph_tensor(g, "sh"), i0, -2);
    int ax = add_ints(g, "ax", 1, (int64_t[]){0});
    add_node(g, OP_UNSQUEEZE, "unsq", "n1", graph_tensor(g, "n"), ax, -2);
    int m1 = add_ints(g, "m1", 1, (int64_t[]){-1});
    add_node(g, OP_CONCAT, "cat", "newshape", graph_tensor(g, "n1"), m1, -2);
    add_node(g, OP_IDENTITY, "id", "x2", x, -2);
    add_node(g, OP_RESHAPE, "flat", "y", graph_tensor(g, "x2"), graph_tensor(g, "newshape"), -2);
    mark_output(g, graph_tensor(g, "y"));
    assert_true(pass_fold_constants(g, &f->po, &f->cap.d));
    assert_int_equal(g->nnodes, 1);
    assert_int_equal(g->nodes[0].op, OP_RESHAPE);
    const Tensor *ns = &g->tensors[g->nodes[0].in[1]];
    assert_string_equal(ns->name, "newshape");
    assert_true(tensor_is_const(ns));
    assert_int_equal(tensor_get_i(ns, 0), 2);
    assert_int_equal(tensor_get_i(ns, 1), -1);
    assert_string_equal(g->tensors[g->nodes[0].in[0]].name, "x");  /* Identity rewired */
    assert_true(infer(f));
    assert_shape(g, "y", 2, (int64_t[]){2, 72});
}

/* The same idiom on an intermediate tensor: only shape inference knows its shape, and it
 * must fold the plumbing as it goes to find Reshape's shape constant. */
static void test_infer_folds_dynamic_flatten(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    g->opset = 13;
    int x = add_input(g, "x", DT_FLOAT, 4, (int64_t[]){2, 8, 3, 3});
    add_node(g, OP_RELU, "relu", "r", x, -2);
    int r = graph_tensor(g, "r");
    add_node(g, OP_SHAPE, "shape", "sh", r, -2);
    int i0 = graph_tensor(g, "i0");
    tensor_set_const(g, i0, DT_INT64, 0, NULL);
    add_node(g, OP_GATHER, "gather", "n", graph_tensor(g, "sh"), i0, -2);
    int ax = add_ints(g, "ax", 1, (int64_t[]){0});
    add_node(g, OP_UNSQUEEZE, "unsq", "n1", graph_tensor(g, "n"), ax, -2);
    int m1 = add_ints(g, "m1", 1, (int64_t[]){-1});
    add_node(g, OP_CONCAT, "cat", "newshape", graph_tensor(g, "n1"), m1, -2);
    add_node(g, OP_RESHAPE, "flat", "y", r, graph_tensor(g, "newshape"), -2);
    mark_output(g, graph_tensor(g, "y"));
    assert_true(pass_fold_constants(g, &f->po, &f->cap.d));
    assert_int_equal(g->nnodes, 6);     /* nothing foldable before shapes are known */
    assert_true(infer(f));
    assert_shape(g, "y", 2, (int64_t[]){2, 72});
    assert_int_equal(g->nnodes, 2);
    assert_int_equal(g->nodes[1].op, OP_RESHAPE);
}

static void test_fold_arith_transpose(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int a = add_floats(g, "a", 2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6});
    int b = add_floats(g, "b", 1, (int64_t[]){3}, (float[]){10, 20, 30});
    add_node(g, OP_ADD, "add", "s", a, b, -2);
    int n = add_node(g, OP_TRANSPOSE, "t", "y", graph_tensor(g, "s"), -2);
    g->nodes[n].a.axes.naxes = -1;
    int i = graph_tensor(g, "i");
    int32_t *iv = tensor_set_const(g, i, DT_INT32, 1, (int64_t[]){3});
    iv[0] = 7, iv[1] = -7, iv[2] = 9;
    int k = graph_tensor(g, "k");
    int32_t *kv = tensor_set_const(g, k, DT_INT32, 0, NULL);
    kv[0] = 2;
    add_node(g, OP_DIV, "div", "q", i, k, -2);
    mark_output(g, graph_tensor(g, "y"));
    mark_output(g, graph_tensor(g, "q"));
    assert_true(pass_fold_constants(g, &f->po, &f->cap.d));
    assert_int_equal(g->nnodes, 0);
    const Tensor *y = &g->tensors[graph_find_tensor(g, "y")];
    const float want[] = {11, 14, 22, 25, 33, 36};
    assert_int_equal(y->rank, 2);
    assert_int_equal(y->shape[0], 3);
    assert_memory_equal(y->data, want, sizeof want);
    const int32_t wq[] = {3, -3, 4};
    assert_memory_equal(g->tensors[graph_find_tensor(g, "q")].data, wq, sizeof wq);
}

/* Slice (opset 13) on [4,6]: axis 0 takes 1..3 -> 2 rows; axis 1 starts at -1 (= 5), ends at
 * -7 (below -6: clamped to -1 for a negative step) with step -2 -> columns 5, 3, 1. */
static void test_slice_negative_step(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    g->opset = 13;
    int x = add_input(g, "x", DT_FLOAT, 2, (int64_t[]){4, 6});
    int starts = add_ints(g, "starts", 2, (int64_t[]){1, -1});
    int ends = add_ints(g, "ends", 2, (int64_t[]){3, -7});
    int axes = add_ints(g, "axes", 2, (int64_t[]){0, 1});
    int steps = add_ints(g, "steps", 2, (int64_t[]){1, -2});
    int n = add_node(g, OP_SLICE, "sl", "y", x, starts, ends, axes, steps, -2);
    assert_true(infer(f));
    assert_shape(g, "y", 2, (int64_t[]){2, 3});
    assert_int_equal(g->nodes[n].a.slice.start[0], 1);
    assert_int_equal(g->nodes[n].a.slice.start[1], 5);
    assert_int_equal(g->nodes[n].a.slice.step[0], 1);
    assert_int_equal(g->nodes[n].a.slice.step[1], -2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
        T(test_conv_same_upper_stride2),
        T(test_conv_same_lower_depthwise),
        T(test_conv_channel_mismatch),
        T(test_pool_ceil_mode),
        T(test_conv_transpose_output_shape),
        T(test_matmul_broadcast),
        T(test_gemm_trans_b),
        T(test_add_shape_mismatch),
        T(test_reshape_zero_minus_one),
        T(test_reshape_shape_not_constant),
        T(test_unsqueeze_opset13),
        T(test_transpose_default_and_squeeze),
        T(test_resize_pad_clip_inputs),
        T(test_qlinear_conv_dtype),
        T(test_output_declared_mismatch),
        T(test_quantize_fold_ties_to_even),
        T(test_quantize_fold_per_axis),
        T(test_fold_shape_plumbing),
        T(test_infer_folds_dynamic_flatten),
        T(test_fold_arith_transpose),
        T(test_slice_negative_step),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
