/* test_eltwise_fast.c: the vectorised quantized Add/Sub/Mul (codegen/c/qeltwise_fast.c)
 * against the contract. Each case builds a one-node graph with random scales and zero points
 * (and some chosen to produce exact rounding ties), emits model.c, and builds it three times:
 * -march=native (AVX-512 where the machine has it), -march=native -mno-avx512f (AVX2) and
 * -DQCC_NO_SIMD (portable). The program runs every (a, b) byte pair plus a random tail and
 * compares each output with the reference computed in its main() from the qcc_rt.h helpers
 * (qcc_mul_q31, qcc_requant_q31: the fixed-mode contract, unit-tested in test_runtime.c).
 * Float mode has no separate reference here (its formula is ONNX Runtime's, checked by the
 * golden suite): the SIMD builds must print the same checksum as the portable one, whose
 * float-mode loop is the scalar form itself. */
#include <math.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "fixture.h"

enum { PAIRS = 65536, COUNT = PAIRS + 93 };

typedef struct EwCase {
    Op op;              /* OP_ADD, OP_SUB, OP_MUL */
    DType da, db, dy;   /* operand and output types */
    bool bscalar;       /* b is one element */
    bool ascalar;       /* a is one element */
    bool relu;          /* act_min = zy */
    double sa, sb, sy;  /* scales */
    int32_t za, zb, zy; /* zero points */
} EwCase;

static uint32_t rng_state = 12345u;

static uint32_t rng(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

static int32_t rand_zp(DType dt) {
    int32_t v = (int32_t)(rng() % 256u);
    return dt == DT_INT8 ? v - 128 : v;
}

static double rand_scale(void) {
    return ldexp(1.0 + (rng() % 1000u) / 1000.0, -(int)(rng() % 8u) - 1);
}

static void set_mul(Arena *a, Multiplier *m, double real) {
    m->n = 1;
    m->m0 = arena_calloc(a, 1, sizeof(int32_t));
    m->shift = arena_calloc(a, 1, sizeof(int32_t));
    m->f = arena_calloc(a, 1, sizeof(float));
    quantize_multiplier(real, &m->m0[0], &m->shift[0]);
}

static QParams qparams(Arena *a, double scale, int32_t zp) {
    QParams q = {1, 0, arena_alloc(a, sizeof(float)), arena_alloc(a, sizeof(int32_t))};
    q.scale[0] = (float)scale;
    q.zero_point[0] = zp;
    return q;
}

/* The graph of case c, multipliers as passes/requant.c sets them. */
static void build(Graph *g, const EwCase *c) {
    Arena *a = g->arena;
    int64_t full[1] = {COUNT}, one[1] = {1};
    int ta = add_input(g, "a", c->da, 1, c->ascalar ? one : full);
    int tb = add_input(g, "b", c->db, 1, c->bscalar ? one : full);
    int ty = add_value(g, "y", c->dy, 1, full);
    g->tensors[ty].offset = -1;
    g->tensors[ta].q = qparams(a, c->sa, c->za);
    g->tensors[tb].q = qparams(a, c->sb, c->zb);
    g->tensors[ty].q = qparams(a, c->sy, c->zy);
    mark_output(g, ty);
    int n = graph_add_node(g, c->op, "ew");
    node_add_input(g, n, ta);
    node_add_input(g, n, tb);
    node_add_output(g, n, ty);
    Node *nd = &g->nodes[n];
    if (c->op == OP_MUL) {
        nd->q.nmul = 1;
        set_mul(a, &nd->q.mul[0], c->sa * c->sb / c->sy);
        nd->q.mul[0].f[0] = (float)(c->sa * c->sb / c->sy);
    } else {
        double twice_max = 2.0 * (c->sa > c->sb ? c->sa : c->sb);
        nd->q.nmul = 3;
        nd->q.left_shift = 20;
        set_mul(a, &nd->q.mul[0], c->sa / twice_max);
        set_mul(a, &nd->q.mul[1], c->sb / twice_max);
        set_mul(a, &nd->q.mul[2], twice_max / ((double)(1 << 20) * c->sy));
        nd->q.mul[0].f[0] = (float)(c->sa / c->sy);
        nd->q.mul[1].f[0] = (float)(c->sb / c->sy);
        nd->q.mul[2].f[0] = (float)(twice_max / ((double)(1 << 20) * c->sy));
    }
    nd->q.act_min = c->relu ? c->zy : dtype_qmin(c->dy);
    nd->q.act_max = dtype_qmax(c->dy);
}

/* main.c: inputs (every byte pair, then a random tail), model_run_q, then per output either
 * the count of differences from the contract (fixed) or a checksum (float). */
static char *main_text(const Graph *g, const EwCase *c, bool fixed) {
    const Node *nd = &g->nodes[0];
    const char *TA = dtype_ctype(c->da), *TB = dtype_ctype(c->db), *TY = dtype_ctype(c->dy);
    char ref[512];
    if (c->op == OP_MUL)
        snprintf(ref, sizeof ref, "qcc_requant_q31((av - %d) * (bv - %d), %ld, %ld, %d, %d, %d)",
                 c->za, c->zb, (long)nd->q.mul[0].m0[0], (long)nd->q.mul[0].shift[0], c->zy,
                 nd->q.act_min, nd->q.act_max);
    else
        snprintf(ref, sizeof ref,
                 "qcc_requant_q31(qcc_mul_q31((av - %d) * 1048576, %ld, %ld) %c "
                 "qcc_mul_q31((bv - %d) * 1048576, %ld, %ld), %ld, %ld, %d, %d, %d)",
                 c->za, (long)nd->q.mul[0].m0[0], (long)nd->q.mul[0].shift[0],
                 c->op == OP_SUB ? '-' : '+', c->zb, (long)nd->q.mul[1].m0[0],
                 (long)nd->q.mul[1].shift[0], (long)nd->q.mul[2].m0[0],
                 (long)nd->q.mul[2].shift[0], c->zy, nd->q.act_min, nd->q.act_max);
    char *text = malloc(4096);
    snprintf(text, 4096,
             "#include <stdio.h>\n#include \"model.h\"\n#include \"qcc_rt.h\"\n"
             "static %s a[%d];\nstatic %s b[%d];\nstatic %s y[%d];\n"
             "int main(void) {\n"
             "    unsigned s = 777u;\n"
             "    for (int i = 0; i < %d; i++) {\n"
             "        s = s * 1664525u + 1013904223u;\n"
             "        a[i] = (%s)(i < %d ? i & 255 : (int)(s >> 24));\n"
             "        b[i] = (%s)(i < %d ? i >> 8 : (int)(s >> 16));\n"
             "    }\n"
             "    if (model_run_q(a, b, y) != 0) return 1;\n"
             "    long bad = 0; unsigned long sum = 0;\n"
             "    for (int i = 0; i < %d; i++) {\n"
             "        const int32_t av = a[%s], bv = b[%s];\n"
             "        sum = sum * 31u + (unsigned char)y[i];\n"
             "        if (%d && y[i] != (%s)%s) {\n"
             "            if (bad < 5) printf(\"i=%%d a=%%d b=%%d got %%d\\n\", i, av, bv, y[i]);\n"
             "            bad++;\n"
             "        }\n"
             "    }\n"
             "    printf(\"%%ld %%lu\\n\", bad, sum);\n"
             "    return 0;\n}\n",
             TA, COUNT, TB, COUNT, TY, COUNT, COUNT, TA, PAIRS, TB, PAIRS, COUNT,
             c->ascalar ? "0" : "i", c->bscalar ? "0" : "i", fixed ? 1 : 0, TY, ref);
    return text;
}

static void write_file(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Build with flags, run, return "bad sum" output (static buffer). */
static const char *run_build(const char *dir, const char *flags) {
    static char out[256];
    char cmd[1024];
    const char *cc = getenv("CC") && getenv("CC")[0] ? getenv("CC") : "cc";
    snprintf(cmd, sizeof cmd,
             "cd %s && %s -std=c99 -Wall -Wextra -Wpedantic -Werror %s model.c main.c -lm -o prog "
             "&& ./prog", dir, cc, flags);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = 0;
    if (pclose(p) != 0)
        fail_msg("build or run failed (%s) in %s", flags, dir);
    return out;
}

static void run_case(const EwCase *c, RequantMode mode) {
    Arena arena;
    arena_init(&arena);
    Graph g;
    graph_init(&g, &arena);
    build(&g, c);
    CodegenOptions o = {.name = "model", .header_name = "model.h", .requant = mode};
    StrBuf src, hdr;
    sb_init(&src);
    sb_init(&hdr);
    Diag d;
    diag_init(&d, "test.onnx", stderr);
    assert_true(target_c.emit(&g, &o, &src, &hdr, &d));
    /* the vector form must be the one under test, not the scalar fallback */
    assert_non_null(strstr(src.data, "qeltwise_fast.c"));
    char dir[] = "/tmp/qcc_ew_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *main_c = main_text(&g, c, mode == REQUANT_FIXED);
    write_file(dir, "model.c", src.data);
    write_file(dir, "model.h", hdr.data);
    write_file(dir, "main.c", main_c);
    write_file(dir, "qcc_rt.h", qcc_rt_h_text);
    static const char *const flags[] = {"-O2 -march=native", "-O2 -march=native -mno-avx512f",
                                        "-O1 -DQCC_NO_SIMD"};
    char first[256] = "";
    for (int f = 0; f < 3; f++) {
        const char *out = run_build(dir, flags[f]);
        if (mode == REQUANT_FIXED && strncmp(out, "0 ", 2) != 0)
            fail_msg("%s (%s, zp %d %d %d): outputs differ from the contract:\n%s",
                     op_name(c->op), flags[f], c->za, c->zb, c->zy, out);
        if (f == 0)
            snprintf(first, sizeof first, "%s", out);
        else if (strcmp(first, out) != 0)
            fail_msg("%s: %s prints %s, -march=native printed %s", op_name(c->op), flags[f], out,
                     first);
    }
    if (!getenv("QCC_KEEP_TMP")) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            fail_msg("cannot remove %s", dir);
    }
    free(main_c);
    sb_free(&src);
    sb_free(&hdr);
    arena_free(&arena);
}

static EwCase random_case(Op op, DType da, DType db, DType dy) {
    EwCase c = {op, da, db, dy, false, false, false, rand_scale(), rand_scale(), rand_scale(),
                rand_zp(da), rand_zp(db), rand_zp(dy)};
    if (op == OP_MUL) /* keep the product's range near the output's */
        c.sy = c.sa * c.sb * (64.0 + rng() % 128u);
    return c;
}

static void test_add_random_fixed(void **state) {
    (void)state;
    static const DType types[4][3] = {{DT_UINT8, DT_UINT8, DT_UINT8}, {DT_INT8, DT_INT8, DT_INT8},
                                      {DT_UINT8, DT_INT8, DT_UINT8}, {DT_INT8, DT_UINT8, DT_INT8}};
    for (int t = 0; t < 4; t++) {
        EwCase c = random_case(t == 1 ? OP_SUB : OP_ADD, types[t][0], types[t][1], types[t][2]);
        c.relu = t == 2;
        run_case(&c, REQUANT_FIXED);
    }
}

/* Power-of-two scale ratios: half the outputs are exact ties of the contract. */
static void test_add_ties_fixed(void **state) {
    (void)state;
    EwCase c = {OP_ADD, DT_UINT8, DT_UINT8, DT_UINT8, false, false, false, 0.02, 0.01, 0.04,
                128, 3, 100};
    run_case(&c, REQUANT_FIXED);
    EwCase s = {OP_SUB, DT_INT8, DT_INT8, DT_INT8, false, false, false, 0.5, 0.25, 1.0, 0, -7, 1};
    run_case(&s, REQUANT_FIXED);
}

static void test_add_scalar_fixed(void **state) {
    (void)state;
    EwCase c = random_case(OP_ADD, DT_UINT8, DT_UINT8, DT_UINT8);
    c.bscalar = true;
    run_case(&c, REQUANT_FIXED);
    EwCase s = random_case(OP_SUB, DT_INT8, DT_INT8, DT_INT8);
    s.ascalar = true;
    run_case(&s, REQUANT_FIXED);
}

static void test_mul_fixed(void **state) {
    (void)state;
    EwCase c = random_case(OP_MUL, DT_UINT8, DT_UINT8, DT_UINT8);
    run_case(&c, REQUANT_FIXED);
    EwCase s = random_case(OP_MUL, DT_INT8, DT_INT8, DT_INT8);
    s.bscalar = true;
    run_case(&s, REQUANT_FIXED);
    EwCase t = {OP_MUL, DT_UINT8, DT_UINT8, DT_UINT8, false, false, true, 0.5, 0.25, 4.0, 1, 2,
                30}; /* M = 2^-5: ties */
    run_case(&t, REQUANT_FIXED);
}

static void test_float_paths_agree(void **state) {
    (void)state;
    EwCase c = random_case(OP_ADD, DT_UINT8, DT_UINT8, DT_UINT8);
    run_case(&c, REQUANT_FLOAT);
    EwCase s = random_case(OP_SUB, DT_INT8, DT_INT8, DT_INT8);
    s.ascalar = true;
    s.relu = true;
    run_case(&s, REQUANT_FLOAT);
    EwCase m = random_case(OP_MUL, DT_UINT8, DT_UINT8, DT_UINT8);
    run_case(&m, REQUANT_FLOAT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_random_fixed),
        cmocka_unit_test(test_add_ties_fixed),
        cmocka_unit_test(test_add_scalar_fixed),
        cmocka_unit_test(test_mul_fixed),
        cmocka_unit_test(test_float_paths_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
