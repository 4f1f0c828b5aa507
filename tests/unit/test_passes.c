/* test_passes.c: the lowering and arithmetic passes on small hand-built QDQ graphs, run
 * through the real pipeline. Every expected number is worked out by hand in the comments
 * (c3 bias, Q31 multipliers, clamp bounds, lookup-table entries, arena offsets); the
 * expected IR text was written from those numbers, not copied from qcc's output. */
#include "fixture.h"

/* ---- graph building helpers (the shared ones are in fixture.h) ---- */

/* A constant float tensor of n values: a scalar when n is 1, else 1-d [n]. */
static int const_f(Graph *g, const char *name, int64_t n, const float *v) {
    return add_floats(g, name, n == 1 ? 0 : 1, &n, v);
}

static int const_u8(Graph *g, const char *name, int32_t v) {
    int id = graph_tensor(g, name);
    uint8_t *p = tensor_set_const(g, id, DT_UINT8, 0, NULL);
    p[0] = (uint8_t)v;
    return id;
}

static int const_typed(Graph *g, const char *name, DType dt, int rank, const int64_t *shape,
                       const int32_t *v) {
    int id = graph_tensor(g, name);
    void *p = tensor_set_const(g, id, dt, rank, shape);
    int64_t n = tensor_numel(&g->tensors[id]);
    for (int64_t i = 0; i < n; i++) {
        if (dt == DT_INT8)
            ((int8_t *)p)[i] = (int8_t)v[i];
        else if (dt == DT_UINT8)
            ((uint8_t *)p)[i] = (uint8_t)v[i];
        else
            ((int32_t *)p)[i] = v[i];
    }
    return id;
}

static int find_node(const Graph *g, Op op) {
    for (int i = 0; i < g->nnodes; i++)
        if (!g->nodes[i].dead && g->nodes[i].op == op)
            return i;
    return -1;
}

/* x[1,1,3,3] -Q(s .5, zp 3)-> DQ -> Conv(w: DQ int8 [2,1,2,2] per channel s {.25,.125}
 * zp {0,2}; bias: DQ int32 {10,-5} at s {.125,.0625}) -> Relu -> Q(s .5, zp 10) -> DQ -> y */
static void build_conv_graph(Graph *g, float w_scale1) {
    int64_t xs[4] = {1, 1, 3, 3}, ws[4] = {2, 1, 2, 2}, bs[1] = {2}, two = 2;
    int x = add_input(g, "x", DT_FLOAT, 4, xs);
    float half = 0.5f;
    int s_x = const_f(g, "s_x", 1, &half), zp_x = const_u8(g, "zp_x", 3);
    int q = add_node(g, OP_QUANTIZE, "q_x", "x_q", x, s_x, zp_x, -2);
    int dq = add_node(g, OP_DEQUANTIZE, "dq_x", "x_f", out_of(g, q), s_x, zp_x, -2);
    int32_t wv[8] = {1, 2, 3, 4, 5, 6, 7, -8};
    int w = const_typed(g, "w", DT_INT8, 4, ws, wv);
    float wsc[2] = {0.25f, w_scale1};
    int s_w = const_f(g, "s_w", two, wsc);
    int32_t wzp[2] = {0, 2};
    int zp_w = const_typed(g, "zp_w", DT_INT8, 1, bs, wzp);
    int dqw = add_node(g, OP_DEQUANTIZE, "dq_w", "w_f", w, s_w, zp_w, -2);
    g->nodes[dqw].a.axis.axis = 0;
    int32_t bv[2] = {10, -5};
    int b = const_typed(g, "b", DT_INT32, 1, bs, bv);
    float bsc[2] = {0.125f, 0.0625f};
    int32_t bzp[2] = {0, 0};
    int s_b = const_f(g, "s_b", two, bsc);
    int zp_b = const_typed(g, "zp_b", DT_INT32, 1, bs, bzp);
    int dqb = add_node(g, OP_DEQUANTIZE, "dq_b", "b_f", b, s_b, zp_b, -2);
    g->nodes[dqb].a.axis.axis = 0;
    int conv = add_node(g, OP_CONV, "conv", "y_f", out_of(g, dq), out_of(g, dqw), out_of(g, dqb),
                        -2);
    ConvAttr *ca = &g->nodes[conv].a.conv;
    ca->nspatial = 2;
    ca->kernel[0] = ca->kernel[1] = 2;
    ca->stride[0] = ca->stride[1] = 1;
    ca->dilation[0] = ca->dilation[1] = 1;
    ca->group = 1;
    int relu = add_node(g, OP_RELU, "relu", "y_r", out_of(g, conv), -2);
    int s_y = const_f(g, "s_y", 1, &half), zp_y = const_u8(g, "zp_y", 10);
    int qy = add_node(g, OP_QUANTIZE, "q_y", "y_q", out_of(g, relu), s_y, zp_y, -2);
    int dqy = add_node(g, OP_DEQUANTIZE, "dq_y", "y", out_of(g, qy), s_y, zp_y, -2);
    mark_output(g, out_of(g, dqy));
}

static void test_conv_lowering(void **state) {
    Fixture *f = *state;
    build_conv_graph(&f->g, 0.125f);
    assert_true(pipeline_run(&f->g, &f->po, &f->cap.d));
    int ci = find_node(&f->g, OP_CONV);
    assert_int_not_equal(ci, -1);
    const Node *n = &f->g.nodes[ci];
    assert_true(node_is_quantized(&f->g, n));
    /* c3[c] = bias[c] - zx*sum(w[c]) + K*zx*zw[c], zx 3, K 4:
     *   c0: 10 - 3*(1+2+3+4) + 4*3*0 = -20;  c1: -5 - 3*(5+6+7-8) + 4*3*2 = -11 */
    assert_int_equal(n->q.nbias, 2);
    assert_int_equal(n->q.c3[0], -20);
    assert_int_equal(n->q.c3[1], -11);
    /* M = sx*sw/sy: 0.5*0.25/0.5 = 0.25 = 2^30 * 2^(-1-31); 0.125 = 2^30 * 2^(-2-31) */
    assert_int_equal(n->q.nmul, 1);
    assert_int_equal(n->q.mul[0].n, 2);
    assert_int_equal(n->q.mul[0].m0[0], 1 << 30);
    assert_int_equal(n->q.mul[0].shift[0], -1);
    assert_int_equal(n->q.mul[0].m0[1], 1 << 30);
    assert_int_equal(n->q.mul[0].shift[1], -2);
    assert_true(n->q.mul[0].f[0] == 0.25f && n->q.mul[0].f[1] == 0.125f);
    /* Relu folded into the clamp: real 0 is q = zp_y = 10; the top stays 255 */
    assert_int_equal(n->q.act_min, 10);
    assert_int_equal(n->q.act_max, 255);
    /* every source node name is kept */
    assert_int_equal(n->nsources, 3);
    assert_string_equal(n->sources[0], "conv");
    assert_string_equal(n->sources[1], "relu");
    assert_string_equal(n->sources[2], "q_y");
    /* The whole graph: boundary Q, one integer conv, boundary DQ. Arena: x_q (9 B -> 16)
     * lives over nodes 0..1, y_q (8 B -> 16) over 1..2: they overlap, so 0 and 16. */
    StrBuf sb;
    sb_init(&sb);
    graph_print(&f->g, &sb);
    const char *want =
        "graph 'model' opset 13: 7 tensors, 3 nodes\n"
        "  input  %0 x: float[1,1,3,3]\n"
        "  value  %1 x_q: uint8[1,1,3,3] q(s=0.5f zp=3) @0\n"
        "  const  %2 w: int8[2,1,2,2] q(axis=0 n=2 s0=0.25f zp0=0)\n"
        "  const  %3 b: int32[2] q(axis=0 n=2 s0=0.125f zp0=0)\n"
        "  value  %4 y_q: uint8[1,2,2,2] q(s=0.5f zp=10) @16\n"
        "  output %5 y: float[1,2,2,2]\n"
        "  node 0 'q_x' QuantizeLinear(%0) -> (%1)\n"
        "  node 1 'conv' Conv(%1, %2, %3) -> (%4) kernel=2,2 stride=1,1 dilation=1,1 "
        "pad=0,0,0,0 c3[2] mul[1] m0=1073741824 shift=-1 clamp=[10,255] from=conv,relu,q_y\n"
        "  node 2 'dq_y' DequantizeLinear(%4) -> (%5)\n"
        "  arena 32 bytes (lower bound 32)\n";
    /* one unreferenced constant (a scale) is still counted in the header line */
    const char *got = strchr(sb.data, '\n');
    assert_non_null(got);
    assert_string_equal(got + 1, strchr(want, '\n') + 1);
    sb_free(&sb);
}

static void test_bias_rescaled_when_scale_differs(void **state) {
    Fixture *f = *state;
    /* weight scale of channel 1 is 0.25 instead of 0.125: the stored bias scale 0.0625 no
     * longer equals sx*sw = 0.125, so the bias is requantized: -5 * 0.0625 / 0.125 = -2.5,
     * round half to even -> -2; c3[1] = -2 - 30 + 24 = -8 */
    build_conv_graph(&f->g, 0.25f);
    assert_true(pipeline_run(&f->g, &f->po, &f->cap.d));
    const Node *n = &f->g.nodes[find_node(&f->g, OP_CONV)];
    assert_int_equal(n->q.c3[0], -20);
    assert_int_equal(n->q.c3[1], -8);
}

static void test_zero_scale_is_an_error(void **state) {
    Fixture *f = *state;
    int64_t xs[2] = {1, 4};
    int x = add_input(&f->g, "x", DT_FLOAT, 2, xs);
    float zero = 0.0f;
    int s = const_f(&f->g, "s", 1, &zero), zp = const_u8(&f->g, "zp", 0);
    int q = add_node(&f->g, OP_QUANTIZE, "quant_in", "xq", x, s, zp, -2);
    mark_output(&f->g, out_of(&f->g, q));
    assert_false(pipeline_run(&f->g, &f->po, &f->cap.d));
    assert_non_null(strstr(diag_text(f), "t.onnx: error: node 'quant_in' (QuantizeLinear)"));
    assert_non_null(strstr(diag_text(f), "positive and finite"));
}

static void test_axis_scale_mismatch_is_an_error(void **state) {
    Fixture *f = *state;
    int64_t xs[2] = {2, 3}, three = 3;
    int32_t wv[6] = {1, 2, 3, 4, 5, 6}, zv[3] = {0, 0, 0};
    int w = const_typed(&f->g, "w", DT_INT8, 2, xs, wv);
    float sv[3] = {1, 1, 1};
    int s = const_f(&f->g, "s", three, sv);
    int zp = const_typed(&f->g, "zp", DT_INT8, 1, &three, zv);
    int dq = add_node(&f->g, OP_DEQUANTIZE, "dq_w", "wf", w, s, zp, -2);
    f->g.nodes[dq].a.axis.axis = 0; /* axis 0 has 2 entries, the scale has 3 */
    mark_output(&f->g, out_of(&f->g, dq));
    assert_false(pipeline_run(&f->g, &f->po, &f->cap.d));
    assert_non_null(strstr(diag_text(f), "node 'dq_w' (DequantizeLinear)"));
}

static void test_sigmoid_becomes_table(void **state) {
    Fixture *f = *state;
    /* DQ(s 0.1, zp 128) -> Sigmoid -> Q(s 1/256, zp 0):
     *   q 128: x 0 -> 0.5 -> 128;  q 255: x 12.7 -> 0.999997 -> 255.999 -> 256 -> 255;
     *   q 0: x -12.8 -> 2.8e-6 -> 0;  q 138: x 1.0 -> 0.7310586 -> 187.15 -> 187 */
    int64_t xs[2] = {1, 8};
    int x = add_input(&f->g, "x", DT_FLOAT, 2, xs);
    float si = 0.1f, so = 1.0f / 256.0f;
    int s_in = const_f(&f->g, "s_in", 1, &si), zp_in = const_u8(&f->g, "zp_in", 128);
    int s_out = const_f(&f->g, "s_out", 1, &so), zp_out = const_u8(&f->g, "zp_out", 0);
    int q = add_node(&f->g, OP_QUANTIZE, "q", "xq", x, s_in, zp_in, -2);
    int dq = add_node(&f->g, OP_DEQUANTIZE, "dq", "xf", out_of(&f->g, q), s_in, zp_in, -2);
    int sg = add_node(&f->g, OP_SIGMOID, "sig", "yf", out_of(&f->g, dq), -2);
    int q2 = add_node(&f->g, OP_QUANTIZE, "q2", "yq", out_of(&f->g, sg), s_out, zp_out, -2);
    int dq2 = add_node(&f->g, OP_DEQUANTIZE, "dq2", "y", out_of(&f->g, q2), s_out, zp_out, -2);
    mark_output(&f->g, out_of(&f->g, dq2));
    assert_true(pipeline_run(&f->g, &f->po, &f->cap.d));
    int li = find_node(&f->g, OP_LUT);
    assert_int_not_equal(li, -1);
    const uint8_t *lut = f->g.nodes[li].q.lut;
    assert_int_equal(lut[128], 128);
    assert_int_equal(lut[255], 255);
    assert_int_equal(lut[0], 0);
    assert_int_equal(lut[138], 187);
    assert_int_equal(find_node(&f->g, OP_SIGMOID), -1);
}

static void test_maxpool_chain_runs_on_integers(void **state) {
    Fixture *f = *state;
    /* DQ -> MaxPool -> Flatten -> Q with equal parameters: both movement ops run on uint8
     * and the trailing Q/DQ pair cancels: Q, MaxPool, Flatten, DQ remain */
    int64_t xs[4] = {1, 1, 2, 2}, shp[2] = {1, 1};
    int x = add_input(&f->g, "x", DT_FLOAT, 4, xs);
    float s = 0.25f;
    int sc = const_f(&f->g, "s", 1, &s), zp = const_u8(&f->g, "zp", 7);
    int q = add_node(&f->g, OP_QUANTIZE, "q", "xq", x, sc, zp, -2);
    int dq = add_node(&f->g, OP_DEQUANTIZE, "dq", "xf", out_of(&f->g, q), sc, zp, -2);
    int mp = add_node(&f->g, OP_MAX_POOL, "pool", "pf", out_of(&f->g, dq), -2);
    ConvAttr *ca = &f->g.nodes[mp].a.conv;
    ca->nspatial = 2;
    ca->kernel[0] = ca->kernel[1] = 2;
    ca->stride[0] = ca->stride[1] = 2;
    ca->dilation[0] = ca->dilation[1] = 1;
    ca->group = 1;
    int fl = add_node(&f->g, OP_FLATTEN, "flat", "ff", out_of(&f->g, mp), -2);
    f->g.nodes[fl].a.axis.axis = 1;
    int q2 = add_node(&f->g, OP_QUANTIZE, "q2", "yq", out_of(&f->g, fl), sc, zp, -2);
    int dq2 = add_node(&f->g, OP_DEQUANTIZE, "dq2", "y", out_of(&f->g, q2), sc, zp, -2);
    mark_output(&f->g, out_of(&f->g, dq2));
    (void)shp;
    assert_true(pipeline_run(&f->g, &f->po, &f->cap.d));
    assert_int_equal(f->g.nnodes, 4);
    assert_int_equal(f->g.nodes[1].op, OP_MAX_POOL);
    assert_int_equal(f->g.nodes[2].op, OP_FLATTEN);
    assert_int_equal(f->g.tensors[f->g.nodes[1].out[0]].dtype, DT_UINT8);
    assert_int_equal(f->g.tensors[f->g.nodes[2].out[0]].dtype, DT_UINT8);
    assert_int_equal(f->g.nodes[3].op, OP_DEQUANTIZE);
}

static void test_ram_budget(void **state) {
    Fixture *f = *state;
    build_conv_graph(&f->g, 0.125f);
    f->po.ram_budget = 31; /* the plan needs 32 bytes (see test_conv_lowering) */
    assert_false(pipeline_run(&f->g, &f->po, &f->cap.d));
    assert_non_null(strstr(diag_text(f), "32 bytes, over the --ram-budget of 31"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
        T(test_conv_lowering),
        T(test_bias_rescaled_when_scale_differs),
        T(test_zero_scale_is_an_error),
        T(test_axis_scale_mismatch_is_an_error),
        T(test_sigmoid_becomes_table),
        T(test_maxpool_chain_runs_on_integers),
        T(test_ram_budget),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
