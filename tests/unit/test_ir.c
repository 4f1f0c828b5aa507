/* test_ir.c: the IR core: arena, graph construction, toposort, verify (diagnostic text
 * captured through open_memstream), the printer against hand-written text, and sb_float's
 * exact round trip. */
#include <math.h>

#include "fixture.h"

static uint64_t rng_state = 0x853C49E6748FEA9Bull;

static uint64_t rng_next(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

/* ---- arena ------------------------------------------------------------------------------- */

static void test_arena_alignment_zeroing(void **state) {
    (void)state;
    Arena a;
    arena_init(&a);
    size_t total = 0;
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)(rng_next() % 3000);
        unsigned char *p = arena_alloc(&a, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        for (size_t k = 0; k < n; k++)
            if (p[k] != 0)
                fail_msg("allocation %d byte %zu not zeroed", i, k);
        memset(p, 0xA5, n); /* dirty it: the next allocation must still come back zeroed */
        total += n;
    }
    assert_true(a.used >= total);
    arena_free(&a);
    assert_null(a.head);
    assert_int_equal(a.used, 0);
}

static void test_arena_big_blocks(void **state) {
    (void)state;
    Arena a;
    arena_init(&a);
    char *small = arena_alloc(&a, 100);
    memset(small, 'x', 100);
    size_t big = (size_t)3 << 20; /* larger than a block: gets its own */
    unsigned char *p = arena_alloc(&a, big);
    assert_int_equal((uintptr_t)p % 16, 0);
    assert_int_equal(p[0], 0);
    assert_int_equal(p[big - 1], 0);
    memset(p, 0xFF, big);
    char *after = arena_alloc(&a, 64); /* small ones keep working, zeroed */
    for (int i = 0; i < 64; i++)
        assert_int_equal(after[i], 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(small[i], 'x'); /* nothing moved or was overwritten */
    int64_t *arr = arena_calloc(&a, 1000, sizeof(int64_t));
    for (int i = 0; i < 1000; i++)
        assert_int_equal(arr[i], 0);
    arena_free(&a);
}

static void test_arena_strings(void **state) {
    (void)state;
    Arena a;
    arena_init(&a);
    const char *src = "conv1/weight";
    char *s = arena_strdup(&a, src);
    assert_string_equal(s, src);
    assert_ptr_not_equal(s, src);
    char *t = arena_strndup(&a, src, 5);
    assert_string_equal(t, "conv1");
    assert_string_equal(arena_strdup(&a, ""), "");
    int v[3] = {1, 2, 3};
    int *w = arena_memdup(&a, v, sizeof v);
    assert_memory_equal(v, w, sizeof v);
    assert_non_null(arena_memdup(&a, NULL, 0));
    arena_free(&a);
}

/* ---- graph ------------------------------------------------------------------------------- */

static void test_graph_building(void **state) {
    (void)state;
    Arena a;
    Graph g;
    arena_init(&a);
    graph_init(&g, &a);
    int x = graph_tensor(&g, "x");
    assert_int_equal(graph_tensor(&g, "x"), x); /* find-or-create */
    assert_int_equal(graph_find_tensor(&g, "nope"), -1);
    int x1 = graph_new_tensor(&g, "x");
    assert_string_equal(g.tensors[x1].name, "x_1");
    int x2 = graph_new_tensor(&g, "x");
    assert_string_equal(g.tensors[x2].name, "x_2");
    assert_int_equal(g.tensors[x].offset, -1);

    int n0 = graph_add_node(&g, OP_RELU, NULL);
    assert_string_equal(g.nodes[n0].name, "Relu_0"); /* generated name */
    node_add_input(&g, n0, x);
    node_add_output(&g, n0, x1);
    int n1 = graph_add_node(&g, OP_ADD, "add");
    node_add_input(&g, n1, x1);
    node_add_input(&g, n1, x1);
    node_add_output(&g, n1, x2);
    g.outputs[g.noutputs++] = x2;
    assert_int_equal(graph_producer(&g, x1), n0);
    assert_int_equal(graph_producer(&g, x), -1);
    assert_int_equal(graph_use_count(&g, x1), 2);
    assert_int_equal(graph_use_count(&g, x2), 1); /* graph output */
    node_merge_sources(&g, n1, n0);
    assert_int_equal(g.nodes[n1].nsources, 2);
    assert_string_equal(g.nodes[n1].sources[0], "Relu_0"); /* graph order kept */
    assert_string_equal(g.nodes[n1].sources[1], "add");

    /* growth past the initial capacity keeps ids and names */
    char name[32];
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof name, "t%d", i);
        assert_int_equal(graph_tensor(&g, name), 3 + i);
    }
    assert_string_equal(g.tensors[x1].name, "x_1");
    assert_string_equal(g.tensors[3 + 499].name, "t499");
    arena_free(&a);
}

static void test_graph_toposort(void **state) {
    (void)state;
    Arena a;
    Graph g;
    Capture c;
    arena_init(&a);
    graph_init(&g, &a);
    capture_open(&c);
    /* file order: c (needs b's output), a, b (needs a's output), d (free) */
    int t0 = graph_tensor(&g, "in"), t1 = graph_tensor(&g, "ta"), t2 = graph_tensor(&g, "tb");
    int t3 = graph_tensor(&g, "tc"), t4 = graph_tensor(&g, "td");
    int nc = graph_add_node(&g, OP_RELU, "c");
    node_add_input(&g, nc, t2);
    node_add_output(&g, nc, t3);
    int na = graph_add_node(&g, OP_RELU, "a");
    node_add_input(&g, na, t0);
    node_add_output(&g, na, t1);
    int nb = graph_add_node(&g, OP_RELU, "b");
    node_add_input(&g, nb, t1);
    node_add_output(&g, nb, t2);
    int nd = graph_add_node(&g, OP_RELU, "d");
    node_add_input(&g, nd, t0);
    node_add_output(&g, nd, t4);
    assert_true(graph_toposort(&g, &c.d));
    const char *want[] = {"a", "b", "d", "c"}; /* stable sweeps: a, b (a is done), d; then c */
    for (int i = 0; i < 4; i++)
        assert_string_equal(g.nodes[i].name, want[i]);
    assert_true(graph_verify(&g, &c.d, "toposort"));
    assert_string_equal(capture_text(&c), "");

    /* a cycle: e reads f's output and f reads e's */
    int te = graph_tensor(&g, "te"), tf = graph_tensor(&g, "tf");
    int ne = graph_add_node(&g, OP_RELU, "e");
    node_add_input(&g, ne, tf);
    node_add_output(&g, ne, te);
    int nf = graph_add_node(&g, OP_SIGMOID, "f");
    node_add_input(&g, nf, te);
    node_add_output(&g, nf, tf);
    assert_false(graph_toposort(&g, &c.d));
    assert_int_equal(c.d.errors, 1);
    assert_string_equal(capture_text(&c),
                        "t.onnx: error: node 'e' (Relu): graph has a cycle through this node\n");
    capture_close(&c);
    arena_free(&a);
}

static void test_graph_verify(void **state) {
    (void)state;
    Arena a;
    Graph g;
    Capture c;
    arena_init(&a);
    graph_init(&g, &a);
    capture_open(&c);
    int x = graph_tensor(&g, "x"), y = graph_tensor(&g, "y");
    int n0 = graph_add_node(&g, OP_RELU, "r0");
    node_add_input(&g, n0, x);
    node_add_output(&g, n0, y);
    int n1 = graph_add_node(&g, OP_TANH, "r1");
    node_add_input(&g, n1, x);
    node_add_output(&g, n1, y); /* second producer of y */
    assert_false(graph_verify(&g, &c.d, "lower_qdq"));
    assert_non_null(strstr(capture_text(&c), "t.onnx: error: internal: IR invalid after "
                                             "lower_qdq: node 'r1' (Tanh): tensor has two "
                                             "producers"));
    capture_close(&c);

    capture_open(&c);
    g.nodes[n1].out[0] = graph_tensor(&g, "z");
    assert_true(graph_verify(&g, &c.d, "fixed"));
    g.nodes[n1].in[0] = 42; /* out of range */
    assert_false(graph_verify(&g, &c.d, "fold_constants"));
    assert_string_equal(capture_text(&c), "t.onnx: error: internal: IR invalid after "
                                          "fold_constants: node 'r1' (Tanh): input id out of "
                                          "range\n");
    capture_close(&c);

    capture_open(&c);
    g.nodes[n1].in[0] = x;
    g.outputs[g.noutputs++] = 7;
    assert_false(graph_verify(&g, &c.d, "memplan"));
    assert_non_null(strstr(capture_text(&c), "graph output id out of range"));
    capture_close(&c);
    arena_free(&a);
}

/* ---- printer ------------------------------------------------------------------------------ */

static void set_q(Graph *g, int t, int n, float scale, int32_t zp) {
    QParams *q = &g->tensors[t].q;
    q->n = n;
    q->axis = 0;
    q->scale = arena_calloc(g->arena, (size_t)n, sizeof(float));
    q->zero_point = arena_calloc(g->arena, (size_t)n, sizeof(int32_t));
    for (int i = 0; i < n; i++) {
        q->scale[i] = scale;
        q->zero_point[i] = zp;
    }
}

static void set_shape(Graph *g, int t, DType dt, int rank, const int64_t *shape) {
    Tensor *tt = &g->tensors[t];
    tt->dtype = dt;
    tt->rank = rank;
    memcpy(tt->shape, shape, (size_t)rank * sizeof(int64_t));
    tt->shape_known = true;
}

static void test_graph_print(void **state) {
    (void)state;
    Arena a;
    Graph g;
    arena_init(&a);
    graph_init(&g, &a);
    g.name = "tiny";
    int x = graph_tensor(&g, "x"), w = graph_tensor(&g, "w"), y = graph_tensor(&g, "y");
    int z = graph_tensor(&g, "z"), unused = graph_tensor(&g, "unused");
    set_shape(&g, x, DT_UINT8, 4, (const int64_t[]){1, 1, 4, 4});
    g.tensors[x].flags |= T_INPUT;
    set_q(&g, x, 1, 0.5f, 128);
    tensor_set_const(&g, w, DT_INT8, 4, (const int64_t[]){2, 1, 3, 3});
    set_q(&g, w, 2, 0.25f, 0);
    set_shape(&g, y, DT_UINT8, 4, (const int64_t[]){1, 2, 4, 4});
    g.tensors[y].flags |= T_OUTPUT;
    set_q(&g, y, 1, 0.125f, 3);
    set_shape(&g, z, DT_FLOAT, 4, (const int64_t[]){1, 2, 4, 4});
    g.tensors[z].offset = 0;
    tensor_set_const(&g, unused, DT_FLOAT, 1, (const int64_t[]){3});
    g.inputs[g.ninputs++] = x;
    g.outputs[g.noutputs++] = y;

    int conv = graph_add_node(&g, OP_CONV, "conv1");
    node_add_input(&g, conv, x);
    node_add_input(&g, conv, w);
    node_add_input(&g, conv, -1);
    node_add_output(&g, conv, z);
    ConvAttr *ca = &g.nodes[conv].a.conv;
    ca->nspatial = 2;
    ca->kernel[0] = ca->kernel[1] = 3;
    ca->stride[0] = ca->stride[1] = 1;
    ca->dilation[0] = ca->dilation[1] = 1;
    ca->pad[0] = ca->pad[1] = ca->pad[2] = ca->pad[3] = 1;
    ca->group = 1;
    int relu = graph_add_node(&g, OP_RELU, "relu1");
    node_add_input(&g, relu, z);
    node_add_output(&g, relu, y);
    node_merge_sources(&g, relu, conv);
    g.arena_size = 128;
    g.arena_lower_bound = 64;

    StrBuf sb;
    sb_init(&sb);
    graph_print(&g, &sb);
    const char *want =
        "graph 'tiny' opset 13: 5 tensors, 2 nodes\n"
        "  input  %0 x: uint8[1,1,4,4] q(s=0.5f zp=128)\n"
        "  const  %1 w: int8[2,1,3,3] q(axis=0 n=2 s0=0.25f zp0=0)\n"
        "  output %2 y: uint8[1,2,4,4] q(s=0.125f zp=3)\n"
        "  value  %3 z: float[1,2,4,4] @0\n"
        "  node 0 'conv1' Conv(%0, %1, -) -> (%3) kernel=3,3 stride=1,1 dilation=1,1 "
        "pad=1,1,1,1\n"
        "  node 1 'relu1' Relu(%3) -> (%2) from=conv1,relu1\n"
        "  arena 128 bytes (lower bound 64)\n";
    assert_string_equal(sb.data, want);
    /* same graph, same bytes */
    StrBuf again;
    sb_init(&again);
    graph_print(&g, &again);
    assert_string_equal(again.data, sb.data);
    sb_free(&again);
    sb_free(&sb);
    arena_free(&a);
}

/* ---- strbuf ------------------------------------------------------------------------------- */

static void test_sb_float_roundtrip(void **state) {
    (void)state;
    StrBuf sb;
    sb_init(&sb);
    sb_puts(&sb, ""); /* allocate, so the loop can reset it in place */
    for (int i = 0; i < 200000; i++) {
        uint32_t bits = (uint32_t)rng_next();
        float v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            continue;
        sb.len = 0;
        sb.data[0] = '\0';
        sb_float(&sb, v);
        /* a C float literal: digits with '.' or an exponent, then 'f' */
        assert_true(sb.len >= 2 && sb.data[sb.len - 1] == 'f');
        assert_non_null(strpbrk(sb.data, ".eE"));
        char *end = NULL;
        float back = strtof(sb.data, &end);
        assert_ptr_equal(end, sb.data + sb.len - 1);
        uint32_t back_bits;
        memcpy(&back_bits, &back, sizeof back);
        if (back_bits != bits)
            fail_msg("sb_float(%a) printed %s, reads back as %a", (double)v, sb.data,
                     (double)back);
    }
    const float fixed[] = {0.0f, -0.0f, 1.0f, 0.1f, 1e-45f, 3.4028235e38f, 16777216.0f, 100.0f};
    const char *want[] = {"0.0f", "-0.0f", "1.0f", "0.1f", "1.4013e-45f", "3.4028235e+38f",
                          "16777216.0f", "100.0f"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        sb.len = 0;
        sb.data[0] = '\0';
        sb_float(&sb, fixed[i]);
        assert_string_equal(sb.data, want[i]);
    }
    sb_free(&sb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_alignment_zeroing),
        cmocka_unit_test(test_arena_big_blocks),
        cmocka_unit_test(test_arena_strings),
        cmocka_unit_test(test_graph_building),
        cmocka_unit_test(test_graph_toposort),
        cmocka_unit_test(test_graph_verify),
        cmocka_unit_test(test_graph_print),
        cmocka_unit_test(test_sb_float_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
