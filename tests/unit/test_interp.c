/* test_interp.c: the float reference interpreter (passes/interp*.c). Tiny graphs with answers
 * worked out by hand in the comments, a selection of the ONNX backend node tests (reference
 * outputs from ONNX), then the zoo's float networks against ONNX Runtime's outputs
 * (../shared/zoo/<net>/float/test_data_set_*, within 1e-4). Data that is absent: SKIP. */
#include <math.h>
#include <sys/stat.h>

#include "fixture.h"
#include "frontend/frontend.h"
#include "passes/interp.h"

/* Shape inference (which also normalises attributes), then one run on the given inputs. */
static void run_graph(Fixture *f, const float *const *inputs, Interp *ip) {
    assert_true(pass_infer_shapes(&f->g, &f->po, &f->cap.d));
    Tensor in[4];
    for (int j = 0; j < f->g.ninputs; j++) {
        in[j] = f->g.tensors[f->g.inputs[j]];
        in[j].data = (void *)inputs[j];
    }
    assert_true(interp_init(ip, &f->g, &f->cap.d));
    assert_true(interp_run(ip, in, &f->cap.d));
}

static void expect(const float *got, const float *want, int n, float tol) {
    for (int i = 0; i < n; i++) {
        if (fabsf(got[i] - want[i]) > tol)
            fail_msg("element %d: got %.7g, want %.7g", i, got[i], want[i]);
    }
}

/* x = 1..9 as 3x3, w = [[1, 0], [0, -1]], bias 1, pads 1, stride 2: each output is
 * x[top-left tap] - x[bottom-right tap] + 1 with taps outside x reading 0:
 *   (0,0): rows/cols -1..0: 0 - x00 + 1 = 0      (0,1): cols 1..2: 0 - x02 + 1 = -2
 *   (1,0): rows 1..2: 0 - x20 + 1 = -6           (1,1): x11 - x22 + 1 = 5 - 9 + 1 = -3 */
static void test_conv_hand(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int64_t xs[4] = {1, 1, 3, 3}, ws[4] = {1, 1, 2, 2}, bs[1] = {1};
    static const float wv[4] = {1, 0, 0, -1}, bv[1] = {1};
    int x = add_input(g, "x", DT_FLOAT, 4, xs);
    int w = add_floats(g, "w", 4, ws, wv), b = add_floats(g, "b", 1, bs, bv);
    int n = add_node(g, OP_CONV, "conv", "y", x, w, b, -2);
    ConvAttr *a = &g->nodes[n].a.conv;
    a->stride[0] = a->stride[1] = 2;
    for (int i = 0; i < 4; i++)
        a->pad[i] = 1;
    mark_output(g, out_of(g, n));
    static const float xv[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const float *ins[1] = {xv};
    Interp ip;
    run_graph(f, ins, &ip);
    static const float want[4] = {0, -2, -6, -3};
    expect(interp_value(&ip, out_of(g, n)), want, 4, 0);
    interp_free(&ip);
}

/* [2,3] + [3] broadcasts along rows; Sub of [2,1] broadcasts along columns. */
static void test_broadcast(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int64_t s23[2] = {2, 3}, s3[1] = {3}, s21[2] = {2, 1};
    static const float bv[3] = {10, 20, 30}, cv[2] = {1, 2};
    int x = add_input(g, "x", DT_FLOAT, 2, s23);
    int n1 = add_node(g, OP_ADD, "add", "s", x, add_floats(g, "b", 1, s3, bv), -2);
    int n2 = add_node(g, OP_SUB, "sub", "y", out_of(g, n1), add_floats(g, "c", 2, s21, cv),
                      -2);
    mark_output(g, out_of(g, n2));
    static const float xv[6] = {1, 2, 3, 4, 5, 6};
    const float *ins[1] = {xv};
    Interp ip;
    run_graph(f, ins, &ip);
    /* (x + b) - c: row 0 minus 1, row 1 minus 2 */
    static const float want[6] = {10, 21, 32, 12, 23, 34};
    expect(interp_value(&ip, out_of(g, n2)), want, 6, 0);
    interp_free(&ip);
}

/* AveragePool 2x2, stride 1, pads begin 1 end 0, over [[1,2],[3,4]]: the windows hold
 * {1}, {1,2}, {1,3}, {1,2,3,4}; without count_include_pad: 1, 1.5, 2, 2.5; with it every
 * window counts 4 taps: 0.25, 0.75, 1, 2.5. MaxPool on the same windows: 1, 2, 3, 4. */
static void pool_case(Fixture *f, Op op, bool include_pad, const float *want) {
    Graph *g = &f->g;
    int64_t xs[4] = {1, 1, 2, 2};
    int x = add_input(g, "x", DT_FLOAT, 4, xs);
    int n = add_node(g, op, "pool", "y", x, -2);
    ConvAttr *a = &g->nodes[n].a.conv;
    a->kernel[0] = a->kernel[1] = 2;
    a->pad[0] = a->pad[1] = 1;
    a->count_include_pad = include_pad;
    mark_output(g, out_of(g, n));
    static const float xv[4] = {1, 2, 3, 4};
    const float *ins[1] = {xv};
    Interp ip;
    run_graph(f, ins, &ip);
    expect(interp_value(&ip, out_of(g, n)), want, 4, 1e-7f);
    interp_free(&ip);
}

static void test_avgpool(void **state) {
    static const float want[4] = {1, 1.5f, 2, 2.5f};
    pool_case(*state, OP_AVG_POOL, false, want);
}

static void test_avgpool_include_pad(void **state) {
    static const float want[4] = {0.25f, 0.75f, 1, 2.5f};
    pool_case(*state, OP_AVG_POOL, true, want);
}

static void test_maxpool(void **state) {
    static const float want[4] = {1, 2, 3, 4};
    pool_case(*state, OP_MAX_POOL, false, want);
}

/* softmax([0, ln 2, ln 4]) = [1, 2, 4] / 7 */
static void test_softmax(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int64_t s[2] = {1, 3};
    int x = add_input(g, "x", DT_FLOAT, 2, s);
    int n = add_node(g, OP_SOFTMAX, "sm", "y", x, -2);
    g->nodes[n].a.axis.axis = -1;
    mark_output(g, out_of(g, n));
    static const float xv[3] = {0, 0.69314718f, 1.3862944f};
    const float *ins[1] = {xv};
    Interp ip;
    run_graph(f, ins, &ip);
    static const float want[3] = {1.0f / 7, 2.0f / 7, 4.0f / 7};
    expect(interp_value(&ip, out_of(g, n)), want, 3, 1e-6f);
    interp_free(&ip);
}

/* QuantizeLinear per axis 0 to int8, scales [1, 0.5], zero points [0, 1], then back:
 *   row 0: 2.5 -> 2 (half to even), -1.5 -> -2;  row 1: 1.25/0.5 = 2.5 -> 2, +1 = 3;
 *   -100/0.5 = -200, +1 -> saturates at -128.
 * DequantizeLinear: (q - zp) * s = 2, -2, 1, -64.5. */
static void test_qdq_per_axis(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int64_t s22[2] = {2, 2}, s2[1] = {2};
    static const float sv[2] = {1, 0.5f};
    int x = add_input(g, "x", DT_FLOAT, 2, s22);
    int sc = add_floats(g, "s", 1, s2, sv);
    int zp = graph_tensor(g, "zp");
    int8_t *z = tensor_set_const(g, zp, DT_INT8, 1, s2);
    z[0] = 0, z[1] = 1;
    int nq = add_node(g, OP_QUANTIZE, "q", "xq", x, sc, zp, -2);
    g->nodes[nq].a.axis.axis = 0;
    int nd = add_node(g, OP_DEQUANTIZE, "dq", "y", out_of(g, nq), sc, zp, -2);
    g->nodes[nd].a.axis.axis = 0;
    mark_output(g, out_of(g, nd));
    static const float xv[4] = {2.5f, -1.5f, 1.25f, -100};
    const float *ins[1] = {xv};
    Interp ip;
    run_graph(f, ins, &ip);
    static const float wq[4] = {2, -2, 3, -128}, wy[4] = {2, -2, 1, -64.5f};
    expect(interp_value(&ip, out_of(g, nq)), wq, 4, 0);
    expect(interp_value(&ip, out_of(g, nd)), wy, 4, 0);
    interp_free(&ip);
}

/* An op the interpreter does not model is refused at init, naming the node. */
static void test_unsupported(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int64_t s[2] = {2, 2};
    int x = add_input(g, "x", DT_FLOAT, 2, s);
    int n = add_node(g, OP_REDUCE_MAX, "rmax", "y", x, -2);
    g->nodes[n].a.axes.naxes = -1;
    g->nodes[n].a.axes.keepdims = true;
    mark_output(g, out_of(g, n));
    assert_true(pass_infer_shapes(g, &f->po, &f->cap.d));
    Interp ip;
    assert_false(interp_init(&ip, g, &f->cap.d));
    interp_free(&ip);
    assert_non_null(strstr(diag_text(f), "node 'rmax' (ReduceMax): not supported"));
}

/* ---- the zoo against ONNX Runtime ---- */

static const char *shared_dir(void) {
    static char buf[4096];
    const char *root = getenv("QCC_SOURCE_ROOT");
    snprintf(buf, sizeof buf, "%s/../shared/zoo", root ? root : ".");
    struct stat sb;
    return stat(buf, &sb) == 0 ? buf : NULL;
}

static void zoo_case(const char *net) {
    const char *zoo = shared_dir();
    if (!zoo) {
        skip();
        return;
    }
    Arena a;
    arena_init(&a);
    Graph g;
    graph_init(&g, &a);
    Capture cap;
    capture_open(&cap);
    PassOptions po = {0};
    char *model = arena_printf(&a, "%s/%s/float/model.onnx", zoo, net);
    assert_true(onnx_load(&g, model, &cap.d));
    assert_true(pass_fold_constants(&g, &po, &cap.d));
    assert_true(pass_infer_shapes(&g, &po, &cap.d));
    Interp ip;
    assert_true(interp_init(&ip, &g, &cap.d));
    int cases = 0;
    for (int k = 0; k < 16; k++) {
        char *in = arena_printf(&a, "%s/%s/float/test_data_set_%d/input_0.pb", zoo, net, k);
        char *out = arena_printf(&a, "%s/%s/float/test_data_set_%d/output_0.pb", zoo, net, k);
        struct stat sb;
        if (stat(in, &sb) != 0)
            break;
        Tensor x, y;
        assert_true(onnx_load_tensor(&a, in, &x, &cap.d));
        assert_true(onnx_load_tensor(&a, out, &y, &cap.d));
        assert_true(interp_run(&ip, &x, &cap.d));
        const float *got = interp_value(&ip, g.outputs[0]);
        assert_int_equal(tensor_numel(&y), tensor_numel(&g.tensors[g.outputs[0]]));
        expect(got, y.data, (int)tensor_numel(&y), 1e-4f);
        cases++;
    }
    assert_true(cases > 0);
    interp_free(&ip);
    capture_close(&cap);
    arena_free(&a);
}

/* ---- ONNX backend node tests (Debian's libonnx-testdata): reference outputs from ONNX ----
 * Cases whose parameters are initializers or attributes (the interpreter needs static shapes);
 * each must match within 1e-4, relative to 1 + |expected|. */
static const char *const node_cases[] = {
    "conv_with_autopad_same", "conv_with_strides_and_asymmetric_padding",
    "conv_with_strides_padding", "convtranspose", "convtranspose_1d", "convtranspose_3d",
    "convtranspose_autopad_same", "convtranspose_dilations", "convtranspose_output_shape",
    "convtranspose_pads", "averagepool_2d_ceil", "averagepool_2d_pads_count_include_pad",
    "averagepool_2d_precomputed_same_upper", "averagepool_3d_default", "maxpool_2d_ceil",
    "maxpool_2d_dilations", "maxpool_2d_same_lower", "maxpool_1d_default", "globalmaxpool",
    "gemm_all_attributes", "gemm_transposeA", "gemm_default_matrix_bias", "matmul_3d",
    "matmul_4d", "softmax_axis_0", "softmax_large_number", "transpose_all_permutations_4",
    "batchnorm_epsilon", "hardswish", "hardsigmoid", "leakyrelu", "max_example", "sub_bcast",
    "div_bcast", "concat_3d_axis_negative_2", "flatten_axis2", "unsqueeze_axis_3",
};

static void test_node_tests(void **state) {
    (void)state;
    const char *root = "/usr/share/libonnx-testdata/data/node";
    struct stat sb;
    if (stat(root, &sb) != 0) {
        skip();
        return;
    }
    for (size_t c = 0; c < sizeof node_cases / sizeof node_cases[0]; c++) {
        Arena a;
        arena_init(&a);
        Graph g;
        graph_init(&g, &a);
        Capture cap;
        capture_open(&cap);
        PassOptions po = {0};
        const char *dir = arena_printf(&a, "%s/test_%s", root, node_cases[c]);
        if (!onnx_load(&g, arena_printf(&a, "%s/model.onnx", dir), &cap.d) ||
            !pass_fold_constants(&g, &po, &cap.d) || !pass_infer_shapes(&g, &po, &cap.d))
            fail_msg("%s: %s", node_cases[c], capture_text(&cap));
        Interp ip;
        if (!interp_init(&ip, &g, &cap.d))
            fail_msg("%s: %s", node_cases[c], capture_text(&cap));
        Tensor in[QCC_MAX_IO];
        for (int j = 0; j < g.ninputs; j++)
            assert_true(onnx_load_tensor(&a, arena_printf(&a, "%s/test_data_set_0/input_%d.pb",
                                                          dir, j), &in[j], &cap.d));
        assert_true(interp_run(&ip, in, &cap.d));
        for (int j = 0; j < g.noutputs; j++) {
            Tensor y;
            assert_true(onnx_load_tensor(&a, arena_printf(&a, "%s/test_data_set_0/output_%d.pb",
                                                          dir, j), &y, &cap.d));
            const float *v = interp_value(&ip, g.outputs[j]);
            assert_int_equal(tensor_numel(&y), tensor_numel(&g.tensors[g.outputs[j]]));
            for (int64_t e = 0; e < tensor_numel(&y); e++) {
                double want = tensor_get_f(&y, e);
                if (!(fabs(v[e] - want) <= 1e-4 * (1 + fabs(want))))
                    fail_msg("%s: output %d element %lld: got %.7g, want %.7g", node_cases[c],
                             j, (long long)e, v[e], want);
            }
        }
        interp_free(&ip);
        capture_close(&cap);
        arena_free(&a);
    }
}

static void test_zoo_lenet(void **state) { (void)state; zoo_case("lenet5_qat"); }
static void test_zoo_resnet(void **state) { (void)state; zoo_case("resnet_tiny"); }
static void test_zoo_mobilenet(void **state) { (void)state; zoo_case("mobilenet_tiny"); }
static void test_zoo_mlp(void **state) { (void)state; zoo_case("mlp"); }

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(test_conv_hand), T(test_broadcast), T(test_avgpool), T(test_avgpool_include_pad),
        T(test_maxpool), T(test_softmax), T(test_qdq_per_axis), T(test_unsupported),
        cmocka_unit_test(test_node_tests), cmocka_unit_test(test_zoo_lenet),
        cmocka_unit_test(test_zoo_resnet), cmocka_unit_test(test_zoo_mobilenet),
        cmocka_unit_test(test_zoo_mlp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
