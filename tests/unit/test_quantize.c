/* test_quantize.c: the float-model passes (issue 3) on small hand-built graphs: BatchNorm
 * folding (Conv, ConvTranspose, Gemm; a shared weight; a BN that must stay), symmetric
 * weight scales, activation parameters from a range, and the QDQ graph quantize_graph
 * builds from a plan filled by hand, lowered by the real pipeline. Every expected number is
 * worked out in the comments, never read back from qcc. */
#include <math.h>

#include "fixture.h"
#include "passes/quantize.h"

/* ---- helpers ---- */

static int const_f(Graph *g, const char *name, int rank, const int64_t *shape,
                   const float *v) {
    return add_floats(g, name, rank, shape, v);
}

static int vec_f(Graph *g, const char *name, int64_t n, const float *v) {
    return add_floats(g, name, 1, &n, v);
}

static void conv_attrs(Node *n) {
    ConvAttr *ca = &n->a.conv;
    ca->nspatial = 2;
    ca->kernel[0] = ca->kernel[1] = 1;
    ca->stride[0] = ca->stride[1] = 1;
    ca->dilation[0] = ca->dilation[1] = 1;
    ca->group = 1;
}

/* BN over 2 channels: gamma {3, 2}, beta {0.5, -1}, mean {1, 2}, var {3, 0}, eps 1, so
 * sqrt(var + eps) = {2, 1} and the per-channel factor s = gamma / sqrt = {1.5, 2}. */
static int add_bn2(Graph *g, int x, const char *out) {
    static const float gamma[2] = {3, 2}, beta[2] = {0.5f, -1}, mean[2] = {1, 2}, var[2] = {3, 0};
    int bn = add_node(g, OP_BATCHNORM, "bn", out, x, vec_f(g, "gamma", 2, gamma),
                      vec_f(g, "beta", 2, beta), vec_f(g, "mean", 2, mean),
                      vec_f(g, "var", 2, var), -2);
    g->nodes[bn].a.bn.epsilon = 1.0f;
    return bn;
}

static const float *data_f(const Graph *g, int t) {
    return g->tensors[t].data;
}

static int live_count(const Graph *g, Op op) {
    int c = 0;
    for (int i = 0; i < g->nnodes; i++)
        c += !g->nodes[i].dead && g->nodes[i].op == op;
    return c;
}

static int find_live(const Graph *g, Op op) {
    for (int i = 0; i < g->nnodes; i++)
        if (!g->nodes[i].dead && g->nodes[i].op == op)
            return i;
    return -1;
}

static bool run_fold(Fixture *f) {
    return pass_infer_shapes(&f->g, &f->po, &f->cap.d) && pass_fold_bn(&f->g, &f->po, &f->cap.d) &&
           graph_verify(&f->g, &f->cap.d, "fold_bn");
}

/* ---- fold_bn ---- */

/* x[1,1,2,2] -> Conv(w [2,1,1,1] = {2, -1}, b {1, 0.5}) -> BN -> y.
 * w' = w*s = {2*1.5, -1*2} = {3, -2};
 * b' = (b - mean)*s + beta = {(1-1)*1.5 + 0.5, (0.5-2)*2 - 1} = {0.5, -4}. */
static void test_fold_conv_bn(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int64_t xs[4] = {1, 1, 2, 2}, ws[4] = {2, 1, 1, 1};
    static const float w[2] = {2, -1}, b[2] = {1, 0.5f};
    int x = add_input(g, "x", DT_FLOAT, 4, xs);
    int conv = add_node(g, OP_CONV, "conv", "c", x, const_f(g, "w", 4, ws, w),
                        vec_f(g, "b", 2, b), -2);
    conv_attrs(&g->nodes[conv]);
    int bn = add_bn2(g, out_of(g, conv), "y");
    mark_output(g, out_of(g, bn));
    assert_true(run_fold(f));
    assert_true(g->nodes[bn].dead);
    const Node *n = &g->nodes[conv];
    assert_int_equal(n->out[0], graph_find_tensor(g, "y")); /* writes the BN's output */
    assert_int_equal(n->nsources, 2);
    assert_string_equal(n->sources[1], "bn");
    const float *nw = data_f(g, n->in[1]), *nb = data_f(g, n->in[2]);
    assert_true(nw[0] == 3.0f && nw[1] == -2.0f);
    assert_true(nb[0] == 0.5f && nb[1] == -4.0f);
    assert_int_equal(n->in[1], graph_find_tensor(g, "w")); /* sole reader: same tensor */
}

/* The same without a conv bias: b' = -mean*s + beta = {-1.5 + 0.5, -4 - 1} = {-1, -5}. */
static void test_fold_conv_bn_no_bias(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int64_t xs[4] = {1, 1, 2, 2}, ws[4] = {2, 1, 1, 1};
    static const float w[2] = {2, -1};
    int x = add_input(g, "x", DT_FLOAT, 4, xs);
    int conv = add_node(g, OP_CONV, "conv", "c", x, const_f(g, "w", 4, ws, w), -2);
    conv_attrs(&g->nodes[conv]);
    mark_output(g, out_of(g, add_bn2(g, out_of(g, conv), "y")));
    assert_true(run_fold(f));
    const Node *n = &g->nodes[conv];
    assert_int_equal(n->nin, 3);
    const float *nb = data_f(g, n->in[2]);
    assert_true(nb[0] == -1.0f && nb[1] == -5.0f);
    assert_true(data_f(g, n->in[1])[0] == 3.0f && data_f(g, n->in[1])[1] == -2.0f);
}

/* ConvTranspose weight is [Cin, Cout/g, k...]: w [1,2,1,1] = {2, -1} are output channels
 * 0 and 1, so the same numbers as the Conv case: w' = {3, -2}, b' = {-1, -5}. */
static void test_fold_convtranspose_bn(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int64_t xs[4] = {1, 1, 2, 2}, ws[4] = {1, 2, 1, 1};
    static const float w[2] = {2, -1};
    int x = add_input(g, "x", DT_FLOAT, 4, xs);
    int conv = add_node(g, OP_CONV_TRANSPOSE, "convt", "c", x, const_f(g, "w", 4, ws, w), -2);
    conv_attrs(&g->nodes[conv]);
    mark_output(g, out_of(g, add_bn2(g, out_of(g, conv), "y")));
    assert_true(run_fold(f));
    const Node *n = &g->nodes[conv];
    assert_true(data_f(g, n->in[1])[0] == 3.0f && data_f(g, n->in[1])[1] == -2.0f);
    assert_true(data_f(g, n->in[2])[0] == -1.0f && data_f(g, n->in[2])[1] == -5.0f);
}

/* x[1,3] -> Gemm(B [2,3] transB, rows {1,2,3} and {-1,0,4}, C {1, 0.5}) -> BN -> y:
 * rows scale by s: {1.5, 3, 4.5} and {-2, 0, 8}; C' = {0.5, -4} as for the Conv. */
static void test_fold_gemm_bn(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int64_t xs[2] = {1, 3}, ws[2] = {2, 3};
    static const float w[6] = {1, 2, 3, -1, 0, 4}, c[2] = {1, 0.5f};
    int x = add_input(g, "x", DT_FLOAT, 2, xs);
    int gemm = add_node(g, OP_GEMM, "fc", "h", x, const_f(g, "w", 2, ws, w), vec_f(g, "c", 2, c),
                        -2);
    g->nodes[gemm].a.gemm = (GemmAttr){.alpha = 1, .beta = 1, .trans_b = true};
    mark_output(g, out_of(g, add_bn2(g, out_of(g, gemm), "y")));
    assert_true(run_fold(f));
    const Node *n = &g->nodes[gemm];
    static const float want[6] = {1.5f, 3, 4.5f, -2, 0, 8};
    for (int i = 0; i < 6; i++)
        assert_true(data_f(g, n->in[1])[i] == want[i]);
    assert_true(data_f(g, n->in[2])[0] == 0.5f && data_f(g, n->in[2])[1] == -4.0f);
}

/* Two convs read the same weight: the folded one gets a copy, the other keeps {2, -1}. */
static void test_fold_shared_weight_copied(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int64_t xs[4] = {1, 1, 2, 2}, ws[4] = {2, 1, 1, 1};
    static const float w[2] = {2, -1};
    int x = add_input(g, "x", DT_FLOAT, 4, xs);
    int wt = const_f(g, "w", 4, ws, w);
    int c1 = add_node(g, OP_CONV, "conv1", "c1", x, wt, -2);
    int c2 = add_node(g, OP_CONV, "conv2", "y2", x, wt, -2);
    conv_attrs(&g->nodes[c1]);
    conv_attrs(&g->nodes[c2]);
    mark_output(g, out_of(g, add_bn2(g, out_of(g, c1), "y")));
    mark_output(g, out_of(g, c2));
    assert_true(run_fold(f));
    assert_int_not_equal(g->nodes[c1].in[1], wt);
    assert_int_equal(g->nodes[c2].in[1], wt);
    assert_true(data_f(g, wt)[0] == 2.0f && data_f(g, wt)[1] == -1.0f);
    assert_true(data_f(g, g->nodes[c1].in[1])[0] == 3.0f);
}

/* The conv output is also a graph output: the BN cannot fold and stays. */
static void test_fold_shared_output_stays(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int64_t xs[4] = {1, 1, 2, 2}, ws[4] = {2, 1, 1, 1};
    static const float w[2] = {2, -1};
    int x = add_input(g, "x", DT_FLOAT, 4, xs);
    int conv = add_node(g, OP_CONV, "conv", "c", x, const_f(g, "w", 4, ws, w), -2);
    conv_attrs(&g->nodes[conv]);
    mark_output(g, out_of(g, add_bn2(g, out_of(g, conv), "y")));
    mark_output(g, out_of(g, conv));
    assert_true(run_fold(f));
    assert_int_equal(live_count(g, OP_BATCHNORM), 1);
    assert_true(data_f(g, g->nodes[conv].in[1])[0] == 2.0f);
}

/* ---- weight scales ---- */

/* Rows {-4, 1}, {0, 0}, {0.5, 0.125}: scales 4/127, 1 (all zero), 0.5/127; quantized
 * -4 -> -127, 1*127/4 = 31.75 -> 32, zeros -> 0, 0.5 -> 127, 0.125*127/0.5 = 31.75 -> 32.
 * Per tensor: one scale 4/127; 0.5*127/4 = 15.875 -> 16, 0.125*127/4 = 3.97 -> 4. */
static void test_weight_scales(void **state) {
    (void)state;
    static const float w[6] = {-4, 1, 0, 0, 0.5f, 0.125f};
    float s[3];
    int8_t q[6];
    weight_scales(w, 3, 2, false, s);
    assert_true(s[0] == 4.0f / 127.0f && s[1] == 1.0f && s[2] == 0.5f / 127.0f);
    weight_quantize(w, 3, 2, false, s, q);
    static const int8_t want[6] = {-127, 32, 0, 0, 127, 32};
    assert_memory_equal(q, want, sizeof want);
    weight_scales(w, 3, 2, true, s);
    assert_true(s[0] == 4.0f / 127.0f);
    weight_quantize(w, 3, 2, true, s, q);
    static const int8_t want_t[6] = {-127, 32, 0, 0, 16, 4};
    assert_memory_equal(q, want_t, sizeof want_t);
    /* channel along the last axis ([K=2][N=3], Gemm without transB): columns {-4, 0},
     * {1, 0.5}, {0, 0.125} -> scales 4/127, 1/127, 0.125/127 */
    static const float wk[6] = {-4, 1, 0, 0, 0.5f, 0.125f};
    weight_scales_axis(wk, 2, 3, 1, false, s);
    assert_true(s[0] == 4.0f / 127.0f && s[1] == 1.0f / 127.0f && s[2] == 0.125f / 127.0f);
    float zero[4] = {0, 0, 0, 0};
    weight_scales(zero, 1, 4, true, s);
    assert_true(s[0] == 1.0f);
}

/* ---- activation parameters ---- */

/* [-0.5, 2]: scale 2.5/255, zp round(0.5/(2.5/255)) = round(51) = 51; int8 zp 51-128 = -77.
 * [1, 3] widens to [0, 3]: zp 0 (int8 -128). [-2, -1] widens to [-2, 0]: zp 255 (int8 127).
 * [0, 0]: scale 1, zp 0. */
static void test_act_quant_from_range(void **state) {
    (void)state;
    ActQuant a = act_quant_from_range(-0.5f, 2.0f, DT_UINT8);
    assert_true(a.set && a.dtype == DT_UINT8);
    assert_true(fabsf(a.scale - 2.5f / 255.0f) < 1e-9f);
    assert_int_equal(a.zero_point, 51);
    a = act_quant_from_range(-0.5f, 2.0f, DT_INT8);
    assert_true(a.dtype == DT_INT8 && fabsf(a.scale - 2.5f / 255.0f) < 1e-9f);
    assert_int_equal(a.zero_point, -77);
    a = act_quant_from_range(1.0f, 3.0f, DT_UINT8);
    assert_true(fabsf(a.scale - 3.0f / 255.0f) < 1e-9f);
    assert_int_equal(a.zero_point, 0);
    assert_int_equal(act_quant_from_range(1.0f, 3.0f, DT_INT8).zero_point, -128);
    a = act_quant_from_range(-2.0f, -1.0f, DT_UINT8);
    assert_int_equal(a.zero_point, 255);
    assert_int_equal(act_quant_from_range(-2.0f, -1.0f, DT_INT8).zero_point, 127);
    a = act_quant_from_range(0.0f, 0.0f, DT_UINT8);
    assert_true(a.set && a.scale == 1.0f && a.zero_point == 0);
}

/* ---- quantize_graph ---- */

/* x[1,1,2,2] -> Flatten -> Gemm(B [3,4] transB, C {1, 2, -1}) -> Relu -> y, plan by hand:
 * x scale 0.5 zp 0, y (the Relu output) scale 0.25 zp 0, uint8. */
static void build_fc(Graph *g) {
    int64_t xs[4] = {1, 1, 2, 2}, ws[2] = {3, 4};
    static const float w[12] = {1, -0.5f, 0.25f, 0, 0, 0, 0, 0, -2, 1, 0, 0};
    static const float c[3] = {1, 2, -1};
    int x = add_input(g, "x", DT_FLOAT, 4, xs);
    int fl = add_node(g, OP_FLATTEN, "flat", "xf", x, -2);
    g->nodes[fl].a.axis.axis = 1;
    int gemm = add_node(g, OP_GEMM, "fc", "h", out_of(g, fl), const_f(g, "w", 2, ws, w),
                        vec_f(g, "c", 3, c), -2);
    g->nodes[gemm].a.gemm = (GemmAttr){.alpha = 1, .beta = 1, .trans_b = true};
    int relu = add_node(g, OP_RELU, "relu", "y", out_of(g, gemm), -2);
    mark_output(g, out_of(g, relu));
}

static void plan_fc(Graph *g, QuantPlan *p) {
    quant_plan_init(g, p, DT_UINT8);
    p->act[graph_find_tensor(g, "x")] = (ActQuant){true, 0.5f, 0, DT_UINT8};
    p->act[graph_find_tensor(g, "y")] = (ActQuant){true, 0.25f, 0, DT_UINT8};
}

/* The QDQ graph: Q/DQ on x (readers move to its DQ output), none on the Flatten output
 * (data movement keeps x's parameters) nor on the Gemm output (the Relu is fused: one Q
 * after it); weights int8 per row: row 0 max 1 -> s 1/127, q {127, -64 (63.5 half even),
 * 32 (31.75), 0}; row 1 all zero -> s 1, q 0; row 2 max 2 -> s 2/127, q {-127, 64 (63.5),
 * 0, 0}. Bias int32 at sx*sw: 1/(0.5/127) = 254, 2/(0.5*1) = 4, -1/(0.5*2/127) = -127. */
static void test_quantize_graph_structure(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    build_fc(g);
    assert_true(quant_prepare(g, &f->cap.d));
    QuantPlan p;
    plan_fc(g, &p);
    assert_true(quantize_graph(g, &p, &f->cap.d));
    assert_int_equal(live_count(g, OP_QUANTIZE), 2);
    assert_int_equal(live_count(g, OP_DEQUANTIZE), 4); /* x, y, weight, bias */
    int gi = find_live(g, OP_GEMM);
    const Node *gemm = &g->nodes[gi];
    const Node *wdq = &g->nodes[graph_producer(g, gemm->in[1])];
    assert_int_equal(wdq->op, OP_DEQUANTIZE);
    assert_int_equal(wdq->a.axis.axis, 0);
    const Tensor *wq = &g->tensors[wdq->in[0]];
    assert_int_equal(wq->dtype, DT_INT8);
    static const int8_t want_w[12] = {127, -64, 32, 0, 0, 0, 0, 0, -127, 64, 0, 0};
    assert_memory_equal(wq->data, want_w, sizeof want_w);
    const float *ws = g->tensors[wdq->in[1]].data;
    assert_true(ws[0] == 1.0f / 127.0f && ws[1] == 1.0f && ws[2] == 2.0f / 127.0f);
    const Node *bdq = &g->nodes[graph_producer(g, gemm->in[2])];
    assert_int_equal(bdq->op, OP_DEQUANTIZE);
    const Tensor *bq = &g->tensors[bdq->in[0]];
    assert_int_equal(bq->dtype, DT_INT32);
    static const int32_t want_b[3] = {254, 4, -127};
    assert_memory_equal(bq->data, want_b, sizeof want_b);
    /* the Flatten reads x's DQ output, the Relu feeds the Q whose DQ writes y */
    int fl = find_live(g, OP_FLATTEN);
    assert_int_equal(g->nodes[graph_producer(g, g->nodes[fl].in[0])].op, OP_DEQUANTIZE);
    int y = graph_find_tensor(g, "y");
    assert_int_equal(g->nodes[graph_producer(g, y)].op, OP_DEQUANTIZE);
    assert_true(g->tensors[y].flags & T_OUTPUT);

    /* Lowered by the pipeline: Q(x), the Flatten on uint8, one integer Gemm with the Relu in
     * its clamp, DQ(y); nothing float left but the two boundary conversions. */
    assert_true(pipeline_run(g, &f->po, &f->cap.d));
    gi = find_live(g, OP_GEMM);
    assert_true(node_is_quantized(g, &g->nodes[gi]));
    assert_int_equal(g->nodes[gi].q.act_min, 0);
    assert_int_equal(live_count(g, OP_RELU), 0);
    for (int i = 0; i < g->nnodes; i++)
        assert_false(g->nodes[i].float_fallback);
    assert_int_equal(live_count(g, OP_QUANTIZE) + live_count(g, OP_DEQUANTIZE), 2);
}

/* Scales given by the plan (a QAT checkpoint's) replace max|w|/127 and allow the full
 * [-128, 127]: s {1/128, 1, 1/64}; row 0 {1, -0.5, 0.25, 0}*128 = {128 -> 127, -64, 32, 0},
 * row 2 {-2, 1, 0, 0}*64 = {-128, 64, 0, 0}; bias 1/(0.5/128) = 256, 2/0.5 = 4,
 * -1/(0.5/64) = -128. */
static void test_quantize_graph_given_weight_scales(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    build_fc(g);
    assert_true(quant_prepare(g, &f->cap.d));
    QuantPlan p;
    plan_fc(g, &p);
    static const float given[3] = {1.0f / 128, 1.0f, 1.0f / 64};
    p.weight_scale = arena_calloc(g->arena, (size_t)p.ntensors, sizeof *p.weight_scale);
    p.weight_scale[graph_find_tensor(g, "w")] = given;
    assert_true(quantize_graph(g, &p, &f->cap.d));
    const Node *gemm = &g->nodes[find_live(g, OP_GEMM)];
    const Node *wdq = &g->nodes[graph_producer(g, gemm->in[1])];
    static const int8_t want_w[12] = {127, -64, 32, 0, 0, 0, 0, 0, -128, 64, 0, 0};
    assert_memory_equal(g->tensors[wdq->in[0]].data, want_w, sizeof want_w);
    assert_memory_equal(g->tensors[wdq->in[1]].data, given, sizeof given);
    const Node *bdq = &g->nodes[graph_producer(g, gemm->in[2])];
    static const int32_t want_b[3] = {256, 4, -128};
    assert_memory_equal(g->tensors[bdq->in[0]].data, want_b, sizeof want_b);
}

/* --skip fc: the Gemm keeps its float weight and is not lowered; an unknown name is an
 * error naming it. */
static void test_quantize_graph_skip(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    build_fc(g);
    assert_true(quant_prepare(g, &f->cap.d));
    QuantPlan p;
    plan_fc(g, &p);
    const char *skip[1] = {"fc"};
    p.skip = skip;
    p.nskip = 1;
    assert_true(quantize_graph(g, &p, &f->cap.d));
    int gi = find_live(g, OP_GEMM);
    assert_true(tensor_is_const(&g->tensors[g->nodes[gi].in[1]]));
    assert_int_equal(g->tensors[g->nodes[gi].in[1]].dtype, DT_FLOAT);
    assert_true(pipeline_run(g, &f->po, &f->cap.d));
    assert_false(node_is_quantized(g, &g->nodes[find_live(g, OP_GEMM)]));

    const char *bad[1] = {"nope"};
    p.skip = bad;
    assert_false(quantize_graph(g, &p, &f->cap.d));
    assert_non_null(strstr(diag_text(f), "no node named 'nope'"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
        T(test_fold_conv_bn),
        T(test_fold_conv_bn_no_bias),
        T(test_fold_convtranspose_bn),
        T(test_fold_gemm_bn),
        T(test_fold_shared_weight_copied),
        T(test_fold_shared_output_stays),
        T(test_weight_scales),
        T(test_act_quant_from_range),
        T(test_quantize_graph_structure),
        T(test_quantize_graph_given_weight_scales),
        T(test_quantize_graph_skip),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
