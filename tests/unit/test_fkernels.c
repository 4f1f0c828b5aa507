/* test_fkernels.c: the float and data-movement kernel emitters (fkernels_*.c, movement.c).
 * Each test builds a one-node graph by hand, asks the emitter for the function body, wraps it
 * into a tiny C program (constants, the node function, a main printing the outputs), builds
 * it with the system C compiler under -std=c99 -Wall -Wextra -Wpedantic -Werror, runs it and
 * compares with reference loops written here independently (or hand-computed numbers). */
#include <math.h>
#include <unistd.h>

#include "codegen/c/cgen.h"
#include "fixture.h"

#define MAXN 4096 /* elements of any tensor in these tests */

typedef struct Fx {
    Arena arena;        /* owns the graph */
    Graph g;            /* the one-node graph */
    int node;           /* its node id */
} Fx;

static Fx *fx_new(Op op) {
    Fx *fx = calloc(1, sizeof *fx);
    arena_init(&fx->arena);
    graph_init(&fx->g, &fx->arena);
    fx->node = graph_add_node(&fx->g, op, "n");
    return fx;
}

static void fx_free(Fx *fx) {
    arena_free(&fx->arena);
    free(fx);
}

/* A tensor of the node: data != NULL with is_const makes a constant; without, the data is
 * what the harness feeds as the input parameter. Outputs pass data NULL. */
static int fx_tensor(Fx *fx, const char *name, DType dt, int rank, const int64_t *shape,
                     const void *data, bool is_const) {
    int id = add_value(&fx->g, name, dt, rank, shape);
    Tensor *t = &fx->g.tensors[id];
    if (data) {
        size_t bytes = (size_t)tensor_numel(t) * dtype_size(dt);
        t->data = arena_memdup(&fx->arena, data, bytes);
        if (is_const)
            t->flags |= T_CONST;
    }
    return id;
}

static void fx_in(Fx *fx, const char *name, int rank, const int64_t *shape, const float *data,
                  bool is_const) {
    node_add_input(&fx->g, fx->node, fx_tensor(fx, name, DT_FLOAT, rank, shape, data, is_const));
}

static void fx_out(Fx *fx, int rank, const int64_t *shape) {
    node_add_output(&fx->g, fx->node, fx_tensor(fx, "y", DT_FLOAT, rank, shape, NULL, false));
}

static Node *fx_node(Fx *fx) {
    return &fx->g.nodes[fx->node];
}

static void put_values(FILE *f, const Tensor *t) {
    for (int64_t i = 0; i < tensor_numel(t); i++) {
        if (t->dtype == DT_FLOAT)
            fprintf(f, "%.9g,", (double)((const float *)t->data)[i]);
        else
            fprintf(f, "%lld,", (long long)tensor_get_i(t, i));
    }
}

/* Emit, build, run; output 0's values (as float) into out[]. Returns the element count. */
static int fx_run(Fx *fx, float *out) {
    const Graph *g = &fx->g;
    const Node *n = &g->nodes[fx->node];
    CodegenOptions o = {.name = "model", .header_name = "model.h", .requant = REQUANT_FIXED};
    StrBuf body;
    sb_init(&body);
    Diag d;
    diag_init(&d, "t.onnx", stderr);
    CGen cg = {.g = g, .o = &o, .sb = &body, .d = &d};
    KernelFn fn = cg_float_kernel(n->op);
    if (!fn)
        fn = cg_movement_kernel(n->op);
    assert_non_null(fn);
    assert_true(fn(&cg, n));

    char dir[] = "/tmp/qcc-fk-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], cmd[1024];
    snprintf(path, sizeof path, "%s/k.c", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#include <stdint.h>\n#include <stdio.h>\n%s\n",
            cg.need_math ? "#include <math.h>" : "");
    fputs(qcc_rt_h_text, f);
    for (int k = 0; k < n->nin; k++) {
        const Tensor *t = &g->tensors[n->in[k]];
        if (!tensor_is_const(t))
            continue;
        fprintf(f, "static const %s t%d[] = {", dtype_ctype(t->dtype), n->in[k]);
        put_values(f, t);
        fprintf(f, "};\n");
    }
    fprintf(f, "static void node(");
    int np = 0;
    for (int k = 0; k < n->nin; k++)
        if (!tensor_is_const(&g->tensors[n->in[k]]))
            fprintf(f, "%sconst %s *x%d", np++ ? ", " : "",
                    dtype_ctype(g->tensors[n->in[k]].dtype), k);
    fprintf(f, "%s%s *y0) {\n", np ? ", " : "", dtype_ctype(g->tensors[n->out[0]].dtype));
    for (int k = 0; k < n->nin; k++)
        if (!tensor_is_const(&g->tensors[n->in[k]]))
            fprintf(f, "    (void)x%d;\n", k);
    fprintf(f, "%s}\n\nint main(void) {\n", body.data ? body.data : "");
    for (int k = 0; k < n->nin; k++) {
        const Tensor *t = &g->tensors[n->in[k]];
        if (tensor_is_const(t))
            continue;
        fprintf(f, "    static const %s x%d[] = {", dtype_ctype(t->dtype), k);
        put_values(f, t);
        fprintf(f, "};\n");
    }
    const Tensor *y = &g->tensors[n->out[0]];
    int count = (int)tensor_numel(y);
    fprintf(f, "    static %s y0[%d];\n    node(", dtype_ctype(y->dtype), count);
    np = 0;
    for (int k = 0; k < n->nin; k++)
        if (!tensor_is_const(&g->tensors[n->in[k]]))
            fprintf(f, "%sx%d", np++ ? ", " : "", k);
    fprintf(f, "%sy0);\n", np ? ", " : "");
    fprintf(f, "    for (int i = 0; i < %d; i++)\n        printf(\"%%.9g\\n\", (double)y0[i]);\n"
               "    return 0;\n}\n", count);
    fclose(f);
    sb_free(&body);

    const char *ccs = getenv("CC") ? getenv("CC") : "cc";
    snprintf(cmd, sizeof cmd,
             "%s -std=c99 -O1 -Wall -Wextra -Wpedantic -Werror -o %s/k %s -lm && %s/k", ccs,
             dir, path, dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    int got = 0;
    double v;
    while (got < MAXN && fscanf(p, "%lf", &v) == 1)
        out[got++] = (float)v;
    int rc = pclose(p);
    if (rc != 0 || got != count)
        fprintf(stderr, "generated program %s failed (rc %d, %d of %d values)\n", path, rc,
                got, count);
    assert_int_equal(rc, 0);
    assert_int_equal(got, count);
    if (getenv("QCC_KEEP_TMP")) /* to read the generated program */
        return count;
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return count;
}

static void expect_close(const float *got, const float *want, int count) {
    for (int i = 0; i < count; i++) {
        double tol = 1e-5 + 1e-4 * fabs((double)want[i]);
        if (fabs((double)got[i] - (double)want[i]) > tol) {
            fprintf(stderr, "element %d: got %.9g want %.9g\n", i, (double)got[i],
                    (double)want[i]);
            fail();
        }
    }
}

static float frand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) % 2001) / 1000.0f - 1.0f;
}

static void fill(float *v, int count, unsigned seed) {
    for (int i = 0; i < count; i++)
        v[i] = frand(&seed);
}

/* ---- Conv ---------------------------------------------------------------------------- */

/* 2-d grouped conv with asymmetric pads, stride and dilation, and a bias. */
static void test_conv2d(void **state) {
    (void)state;
    enum { N = 2, C = 4, H = 7, W = 6, M = 6, G = 2, KH = 3, KW = 2 };
    const int sh = 2, sw = 1, dh = 1, dw = 2, pt = 1, pl = 2, pb = 0, pr = 1;
    const int OH = (H + pt + pb - ((KH - 1) * dh + 1)) / sh + 1;
    const int OW = (W + pl + pr - ((KW - 1) * dw + 1)) / sw + 1;
    static float x[N * C * H * W], w[M * (C / G) * KH * KW], b[M], want[MAXN], got[MAXN];
    fill(x, N * C * H * W, 1);
    fill(w, M * (C / G) * KH * KW, 2);
    fill(b, M, 3);
    Fx *fx = fx_new(OP_CONV);
    fx_in(fx, "x", 4, (int64_t[]){N, C, H, W}, x, false);
    fx_in(fx, "w", 4, (int64_t[]){M, C / G, KH, KW}, w, true);
    fx_in(fx, "b", 1, (int64_t[]){M}, b, true);
    fx_out(fx, 4, (int64_t[]){N, M, OH, OW});
    ConvAttr *a = &fx_node(fx)->a.conv;
    *a = (ConvAttr){.nspatial = 2, .kernel = {KH, KW}, .stride = {sh, sw},
                    .dilation = {dh, dw}, .pad = {pt, pl, pb, pr}, .group = G};
    int count = fx_run(fx, got);
    int i = 0;
    for (int bn = 0; bn < N; bn++)
        for (int m = 0; m < M; m++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++, i++) {
                    float acc = b[m];
                    int g = m / (M / G);
                    for (int c = 0; c < C / G; c++)
                        for (int ky = 0; ky < KH; ky++)
                            for (int kx = 0; kx < KW; kx++) {
                                int iy = oy * sh - pt + ky * dh, ix = ox * sw - pl + kx * dw;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                    continue;
                                acc += x[((bn * C + g * (C / G) + c) * H + iy) * W + ix] *
                                       w[((m * (C / G) + c) * KH + ky) * KW + kx];
                            }
                    want[i] = acc;
                }
    assert_int_equal(count, i);
    expect_close(got, want, count);
    fx_free(fx);
}

/* 1-d conv, no pads, no bias, weights as a graph input. */
static void test_conv1d(void **state) {
    (void)state;
    enum { C = 3, L = 10, M = 2, K = 3, OL = 8 };
    static float x[C * L], w[M * C * K], want[MAXN], got[MAXN];
    fill(x, C * L, 4);
    fill(w, M * C * K, 5);
    Fx *fx = fx_new(OP_CONV);
    fx_in(fx, "x", 3, (int64_t[]){1, C, L}, x, false);
    fx_in(fx, "w", 3, (int64_t[]){M, C, K}, w, false);
    fx_out(fx, 3, (int64_t[]){1, M, OL});
    fx_node(fx)->a.conv = (ConvAttr){.nspatial = 1, .kernel = {K}, .stride = {1},
                                     .dilation = {1}, .group = 1};
    int count = fx_run(fx, got);
    for (int m = 0; m < M; m++)
        for (int o = 0; o < OL; o++) {
            float acc = 0.0f;
            for (int c = 0; c < C; c++)
                for (int k = 0; k < K; k++)
                    acc += x[c * L + o + k] * w[(m * C + c) * K + k];
            want[m * OL + o] = acc;
        }
    expect_close(got, want, count);
    fx_free(fx);
}

/* ConvTranspose, grouped, stride 2, pads, output_padding, dilation: the gather definition
 * y[o] = sum of x[i] w[k] over i*stride - pad + k*dilation == o. */
static void test_conv_transpose(void **state) {
    (void)state;
    enum { C = 4, H = 3, W = 4, G = 2, MG = 3, M = G * MG, KH = 3, KW = 2 };
    const int s = 2, d = 1, pt = 1, pl = 0, pb = 1, pr = 1, opad = 1;
    const int OH = s * (H - 1) + opad + (KH - 1) * d + 1 - pt - pb;
    const int OW = s * (W - 1) + opad + (KW - 1) * d + 1 - pl - pr;
    static float x[C * H * W], w[C * MG * KH * KW], b[M], want[MAXN], got[MAXN];
    fill(x, C * H * W, 6);
    fill(w, C * MG * KH * KW, 7);
    fill(b, M, 8);
    Fx *fx = fx_new(OP_CONV_TRANSPOSE);
    fx_in(fx, "x", 4, (int64_t[]){1, C, H, W}, x, false);
    fx_in(fx, "w", 4, (int64_t[]){C, MG, KH, KW}, w, true);
    fx_in(fx, "b", 1, (int64_t[]){M}, b, true);
    fx_out(fx, 4, (int64_t[]){1, M, OH, OW});
    fx_node(fx)->a.conv = (ConvAttr){.nspatial = 2, .kernel = {KH, KW}, .stride = {s, s},
                                     .dilation = {d, d}, .pad = {pt, pl, pb, pr},
                                     .out_pad = {opad, opad}, .group = G};
    int count = fx_run(fx, got);
    for (int m = 0; m < M; m++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                float acc = b[m];
                int g = m / MG, mm = m % MG;
                for (int c = g * (C / G); c < (g + 1) * (C / G); c++)
                    for (int ky = 0; ky < KH; ky++)
                        for (int kx = 0; kx < KW; kx++) {
                            int ny = oy + pt - ky * d, nx = ox + pl - kx * d;
                            if (ny < 0 || nx < 0 || ny % s || nx % s || ny / s >= H ||
                                nx / s >= W)
                                continue;
                            acc += x[(c * H + ny / s) * W + nx / s] *
                                   w[((c * MG + mm) * KH + ky) * KW + kx];
                        }
                want[(m * OH + oy) * OW + ox] = acc;
            }
    expect_close(got, want, count);
    fx_free(fx);
}

/* ---- Gemm, MatMul --------------------------------------------------------------------- */

static void test_gemm(void **state) {
    (void)state;
    enum { M = 3, K = 5, N = 4 };
    static float a[K * M], b[N * K], c[N], want[MAXN], got[MAXN];
    fill(a, K * M, 9);
    fill(b, N * K, 10);
    fill(c, N, 11);
    Fx *fx = fx_new(OP_GEMM);
    fx_in(fx, "a", 2, (int64_t[]){K, M}, a, false);
    fx_in(fx, "b", 2, (int64_t[]){N, K}, b, true);
    fx_in(fx, "c", 1, (int64_t[]){N}, c, true);
    fx_out(fx, 2, (int64_t[]){M, N});
    fx_node(fx)->a.gemm = (GemmAttr){.alpha = 0.5f, .beta = 2.0f, .trans_a = true,
                                     .trans_b = true};
    int count = fx_run(fx, got);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++)
                acc += a[k * M + m] * b[n * K + k];
            want[m * N + n] = 0.5f * acc + 2.0f * c[n];
        }
    expect_close(got, want, count);
    fx_free(fx);
}

/* Batched MatMul: A [2, 1, 3, 4] x B [3, 4, 5] -> [2, 3, 3, 5] (B's batch broadcasts). */
static void test_matmul(void **state) {
    (void)state;
    static float a[2 * 3 * 4], b[3 * 4 * 5], want[MAXN], got[MAXN];
    fill(a, 24, 12);
    fill(b, 60, 13);
    Fx *fx = fx_new(OP_MATMUL);
    fx_in(fx, "a", 4, (int64_t[]){2, 1, 3, 4}, a, false);
    fx_in(fx, "b", 3, (int64_t[]){3, 4, 5}, b, false);
    fx_out(fx, 4, (int64_t[]){2, 3, 3, 5});
    int count = fx_run(fx, got);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int m = 0; m < 3; m++)
                for (int n = 0; n < 5; n++) {
                    float acc = 0.0f;
                    for (int k = 0; k < 4; k++)
                        acc += a[(i * 3 + m) * 4 + k] * b[(j * 4 + k) * 5 + n];
                    want[((i * 3 + j) * 3 + m) * 5 + n] = acc;
                }
    expect_close(got, want, count);
    fx_free(fx);
}

/* ---- element-wise ------------------------------------------------------------------- */

static void test_add_broadcast(void **state) {
    (void)state;
    static float a[2 * 3 * 4], b[3], want[MAXN], got[MAXN];
    fill(a, 24, 14);
    fill(b, 3, 15);
    Fx *fx = fx_new(OP_SUB);
    fx_in(fx, "a", 3, (int64_t[]){2, 3, 4}, a, false);
    fx_in(fx, "b", 2, (int64_t[]){3, 1}, b, true);
    fx_out(fx, 3, (int64_t[]){2, 3, 4});
    int count = fx_run(fx, got);
    for (int i = 0; i < 24; i++)
        want[i] = a[i] - b[(i / 4) % 3];
    expect_close(got, want, count);
    fx_free(fx);
}

/* Variadic Max over three inputs broadcasting to [2, 3]. */
static void test_max_variadic(void **state) {
    (void)state;
    static float a[2], b[3], c[6], want[MAXN], got[MAXN];
    fill(a, 2, 16);
    fill(b, 3, 17);
    fill(c, 6, 18);
    Fx *fx = fx_new(OP_MAX);
    fx_in(fx, "a", 2, (int64_t[]){2, 1}, a, false);
    fx_in(fx, "b", 1, (int64_t[]){3}, b, false);
    fx_in(fx, "c", 2, (int64_t[]){2, 3}, c, false);
    fx_out(fx, 2, (int64_t[]){2, 3});
    int count = fx_run(fx, got);
    for (int i = 0; i < 6; i++) {
        float m = a[i / 3];
        m = b[i % 3] > m ? b[i % 3] : m;
        want[i] = c[i] > m ? c[i] : m;
    }
    expect_close(got, want, count);
    fx_free(fx);
}

static void test_unary(void **state) {
    (void)state;
    static const float x[8] = {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 3.7f, -0.2f};
    static float got[MAXN];
    static const float round_want[8] = {-2, -2, -0, 0, 2, 2, 4, -0};
    Fx *fx = fx_new(OP_ROUND);
    fx_in(fx, "x", 1, (int64_t[]){8}, x, false);
    fx_out(fx, 1, (int64_t[]){8});
    fx_run(fx, got);
    expect_close(got, round_want, 8);
    fx_free(fx);

    fx = fx_new(OP_CLIP);
    fx_in(fx, "x", 1, (int64_t[]){8}, x, false);
    fx_out(fx, 1, (int64_t[]){8});
    fx_node(fx)->a.act = (ActAttr){.lo = -1.0f, .hi = (float)INFINITY};
    fx_run(fx, got);
    for (int i = 0; i < 8; i++)
        assert_true(got[i] == (x[i] < -1.0f ? -1.0f : x[i]));
    fx_free(fx);

    fx = fx_new(OP_SIGMOID);
    fx_in(fx, "x", 1, (int64_t[]){8}, x, false);
    fx_out(fx, 1, (int64_t[]){8});
    fx_run(fx, got);
    float want[8];
    for (int i = 0; i < 8; i++)
        want[i] = 1.0f / (1.0f + expf(-x[i]));
    expect_close(got, want, 8);
    fx_free(fx);
}

/* Cast to float16 on float tensors (half values are widened on import) rounds to the
 * nearest half, ties to even, with subnormals and overflow to infinity; Cast to int32
 * truncates toward zero. */
static void test_cast(void **state) {
    (void)state;
    static const float x[8] = {1.0009765625f, 1.00048828125f, 1.00146484375f, 65519.0f,
                               70000.0f, 1e-8f, 3e-8f, -2.7f};
    static const float half[8] = {1.0009765625f, 1.0f, 1.001953125f, 65504.0f,
                                  (float)INFINITY, 0.0f, 5.9604644775390625e-8f, -2.69921875f};
    static float got[MAXN];
    Fx *fx = fx_new(OP_CAST);
    fx_in(fx, "x", 1, (int64_t[]){8}, x, false);
    fx_out(fx, 1, (int64_t[]){8});
    fx_node(fx)->a.cast.to = DT_FLOAT16;
    fx_run(fx, got);
    for (int i = 0; i < 8; i++)
        assert_true(got[i] == half[i]);
    fx_free(fx);

    fx = fx_new(OP_CAST);
    fx_in(fx, "x", 1, (int64_t[]){8}, x, false);
    node_add_output(&fx->g, fx->node,
                    fx_tensor(fx, "y", DT_INT32, 1, (int64_t[]){8}, NULL, false));
    fx_node(fx)->a.cast.to = DT_INT32;
    fx_run(fx, got);
    for (int i = 0; i < 8; i++)
        assert_true(got[i] == (float)(int32_t)x[i]);
    fx_free(fx);
}

/* Softmax along axis 1 of [2, 3, 4] (opset 13), and the legacy 2-d coercion. */
static void test_softmax(void **state) {
    (void)state;
    static float x[24], want[MAXN], got[MAXN];
    fill(x, 24, 19);
    for (int legacy = 0; legacy < 2; legacy++) {
        Fx *fx = fx_new(OP_SOFTMAX);
        fx_in(fx, "x", 3, (int64_t[]){2, 3, 4}, x, false);
        fx_out(fx, 3, (int64_t[]){2, 3, 4});
        fx_node(fx)->a.axis = (AxisAttr){.axis = 1, .legacy_softmax = legacy};
        int count = fx_run(fx, got);
        int inner = legacy ? 1 : 4, len = legacy ? 12 : 3;
        for (int o = 0; o < 2; o++)
            for (int in = 0; in < inner; in++) {
                double sum = 0;
                for (int k = 0; k < len; k++)
                    sum += exp((double)x[o * 12 + k * inner + in]);
                for (int k = 0; k < len; k++)
                    want[o * 12 + k * inner + in] =
                        (float)(exp((double)x[o * 12 + k * inner + in]) / sum);
            }
        expect_close(got, want, count);
        fx_free(fx);
    }
}

/* ---- pooling ------------------------------------------------------------------------- */

/* AveragePool 3x3 stride 2 pads 1 with ceil mode, both count_include_pad settings, and
 * MaxPool with the same windows. */
static void test_pools(void **state) {
    (void)state;
    enum { H = 6, W = 5, K = 3, S = 2, P = 1 };
    const int OH = 4, OW = 3; /* ceil((6+2-3)/2)+1 = 4; ceil((5+2-3)/2)+1 = 3 */
    static float x[2 * H * W], want[MAXN], got[MAXN];
    fill(x, 2 * H * W, 20);
    for (int mode = 0; mode < 3; mode++) {
        Fx *fx = fx_new(mode == 2 ? OP_MAX_POOL : OP_AVG_POOL);
        fx_in(fx, "x", 4, (int64_t[]){1, 2, H, W}, x, false);
        fx_out(fx, 4, (int64_t[]){1, 2, OH, OW});
        fx_node(fx)->a.conv = (ConvAttr){.nspatial = 2, .kernel = {K, K}, .stride = {S, S},
                                         .dilation = {1, 1}, .pad = {P, P, P, P},
                                         .ceil_mode = true, .count_include_pad = mode == 1};
        int count = fx_run(fx, got);
        int i = 0;
        for (int c = 0; c < 2; c++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++, i++) {
                    /* window clipped to the padded extent, then to the input */
                    int y0 = oy * S - P, x0 = ox * S - P;
                    int y1 = y0 + K < H + P ? y0 + K : H + P, x1 = x0 + K < W + P ? x0 + K : W + P;
                    int padded = (y1 - y0) * (x1 - x0), valid = 0;
                    float sum = 0.0f, max = -1e30f;
                    for (int yy = y0 < 0 ? 0 : y0; yy < (y1 < H ? y1 : H); yy++)
                        for (int xx = x0 < 0 ? 0 : x0; xx < (x1 < W ? x1 : W); xx++) {
                            float v = x[(c * H + yy) * W + xx];
                            sum += v;
                            max = v > max ? v : max;
                            valid++;
                        }
                    want[i] = mode == 2 ? max : sum / (float)(mode == 1 ? padded : valid);
                }
        expect_close(got, want, count);
        fx_free(fx);
    }
}

/* ---- data movement ------------------------------------------------------------------- */

static void test_transpose(void **state) {
    (void)state;
    static float x[24], want[MAXN], got[MAXN];
    fill(x, 24, 21);
    Fx *fx = fx_new(OP_TRANSPOSE);
    fx_in(fx, "x", 3, (int64_t[]){2, 3, 4}, x, false);
    fx_out(fx, 3, (int64_t[]){4, 2, 3});
    fx_node(fx)->a.axes = (AxesAttr){.naxes = 3, .axes = {2, 0, 1}};
    int count = fx_run(fx, got);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 3; k++)
                want[(i * 2 + j) * 3 + k] = x[(j * 3 + k) * 4 + i];
    expect_close(got, want, count);
    fx_free(fx);
}

/* Reflect, edge, wrap and constant pads of a 3x4 matrix, pads (1, 2) before, (2, 1) after,
 * checked against numpy.pad's results computed by hand. */
static void test_pad(void **state) {
    (void)state;
    static const float x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    static float got[MAXN];
    static const int modes[4] = {PAD_REFLECT, PAD_EDGE, PAD_WRAP, PAD_CONSTANT};
    for (int m = 0; m < 4; m++) {
        Fx *fx = fx_new(OP_PAD);
        fx_in(fx, "x", 2, (int64_t[]){3, 4}, x, false);
        fx_out(fx, 2, (int64_t[]){6, 7});
        fx_node(fx)->a.pad = (PadAttr){.mode = modes[m], .pads = {1, 2, 2, 1}, .value = 0.5f};
        int count = fx_run(fx, got);
        assert_int_equal(count, 42);
        for (int r = 0; r < 6; r++)
            for (int c = 0; c < 7; c++) {
                int ir = r - 1, ic = c - 2;
                float want;
                if (modes[m] == PAD_CONSTANT) {
                    want = ir < 0 || ir > 2 || ic < 0 || ic > 3 ? 0.5f : x[ir * 4 + ic];
                } else {
                    if (modes[m] == PAD_REFLECT) {
                        ir = ir < 0 ? -ir : ir > 2 ? 4 - ir : ir;
                        ic = ic < 0 ? -ic : ic > 3 ? 6 - ic : ic;
                    } else if (modes[m] == PAD_EDGE) {
                        ir = ir < 0 ? 0 : ir > 2 ? 2 : ir;
                        ic = ic < 0 ? 0 : ic > 3 ? 3 : ic;
                    } else {
                        ir = (ir + 3) % 3;
                        ic = (ic + 4) % 4;
                    }
                    want = x[ir * 4 + ic];
                }
                assert_true(got[r * 7 + c] == want);
            }
        fx_free(fx);
    }
}

/* Nearest resize of [1, 1, 2, 2] by 2 x 3 (asymmetric, floor) and linear by 2 (half_pixel):
 * the expected values are those of the ONNX test cases. */
static void test_resize(void **state) {
    (void)state;
    static const float x[4] = {1, 2, 3, 4};
    static float got[MAXN];
    Fx *fx = fx_new(OP_RESIZE);
    fx_in(fx, "x", 4, (int64_t[]){1, 1, 2, 2}, x, false);
    fx_out(fx, 4, (int64_t[]){1, 1, 4, 6});
    fx_node(fx)->a.resize = (ResizeAttr){.mode = RESIZE_NEAREST, .coord = CT_ASYMMETRIC,
                                         .nearest = NEAREST_FLOOR, .scales = {1, 1, 2, 3}};
    fx_run(fx, got);
    static const float nearest[24] = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,
                                      3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
    expect_close(got, nearest, 24);
    fx_free(fx);

    fx = fx_new(OP_RESIZE);
    fx_in(fx, "x", 4, (int64_t[]){1, 1, 2, 2}, x, false);
    fx_out(fx, 4, (int64_t[]){1, 1, 4, 4});
    fx_node(fx)->a.resize = (ResizeAttr){.mode = RESIZE_LINEAR, .coord = CT_HALF_PIXEL,
                                         .scales = {1, 1, 2, 2}};
    fx_run(fx, got);
    static const float linear[16] = {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f,
                                     2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4};
    expect_close(got, linear, 16);
    fx_free(fx);
}

static void test_concat_gather(void **state) {
    (void)state;
    static float a[2 * 2 * 3], b[2 * 1 * 3], want[MAXN], got[MAXN];
    fill(a, 12, 22);
    fill(b, 6, 23);
    Fx *fx = fx_new(OP_CONCAT);
    fx_in(fx, "a", 3, (int64_t[]){2, 2, 3}, a, false);
    fx_in(fx, "b", 3, (int64_t[]){2, 1, 3}, b, true);
    fx_out(fx, 3, (int64_t[]){2, 3, 3});
    fx_node(fx)->a.axis.axis = 1;
    int count = fx_run(fx, got);
    for (int o = 0; o < 2; o++)
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++)
                want[(o * 3 + r) * 3 + c] = r < 2 ? a[(o * 2 + r) * 3 + c] : b[o * 3 + c];
    expect_close(got, want, count);
    fx_free(fx);

    /* Gather along axis 1 of [2, 3, 3] with int64 indices [[2, -3], [0, 1]] */
    static const int64_t idx[4] = {2, -3, 0, 1};
    fx = fx_new(OP_GATHER);
    fx_in(fx, "x", 3, (int64_t[]){2, 3, 3}, want, false);
    node_add_input(&fx->g, fx->node,
                   fx_tensor(fx, "i", DT_INT64, 2, (int64_t[]){2, 2}, idx, true));
    fx_out(fx, 4, (int64_t[]){2, 2, 2, 3});
    fx_node(fx)->a.axis.axis = 1;
    count = fx_run(fx, got);
    assert_int_equal(count, 24);
    for (int o = 0; o < 2; o++)
        for (int i = 0; i < 4; i++)
            for (int c = 0; c < 3; c++) {
                int at = (int)(idx[i] < 0 ? idx[i] + 3 : idx[i]);
                assert_true(got[(o * 4 + i) * 3 + c] == want[(o * 3 + at) * 3 + c]);
            }
    fx_free(fx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_conv1d),
        cmocka_unit_test(test_conv_transpose),
        cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_add_broadcast),
        cmocka_unit_test(test_max_variadic),
        cmocka_unit_test(test_unary),
        cmocka_unit_test(test_cast),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_pools),
        cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_pad),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_concat_gather),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
