/* test_calibrate.c: range selection (passes/calibrate.c) on synthetic data with answers worked
 * out by hand, calibrate_plan on a two-node graph, and the sample loader (frontend/calib.c)
 * on .npy files written here, good and malformed. */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "frontend/frontend.h"
#include "passes/calibrate.h"

static CalibOptions opts(CalibMethod m) {
    CalibOptions o;
    calib_options_default(&o);
    o.method = m;
    return o;
}

/* Uniform values on [-1, 3] (a ramp of 4001 points): minmax gives exactly the bounds. */
static void test_minmax_uniform(void **state) {
    (void)state;
    static float x[4001];
    for (int i = 0; i < 4001; i++)
        x[i] = -1.0f + (float)i / 1000.0f;
    CalibOptions o = opts(CALIB_MINMAX);
    float lo, hi;
    calib_range_samples(x, 1, 4001, &o, &lo, &hi);
    assert_true(lo == -1.0f && hi == 3.0f);
}

/* ema, decay 0.9, two samples: sample 1 has min 0 max 1, sample 2 min -1 max 3.
 * lo = 0.9 * 0 + 0.1 * -1 = -0.1, hi = 0.9 * 1 + 0.1 * 3 = 1.2. */
static void test_ema_two_samples(void **state) {
    (void)state;
    static const float x[4] = {0, 1, 3, -1};
    CalibOptions o = opts(CALIB_EMA);
    o.ema_decay = 0.9;
    float lo, hi;
    calib_range_samples(x, 2, 2, &o, &lo, &hi);
    assert_float_equal(lo, -0.1, 1e-6);
    assert_float_equal(hi, 1.2, 1e-6);
}

/* Percentile 99 of the ramp 0..999 given in a scrambled order (i * 7 mod 1000, a permutation
 * since gcd(7, 1000) = 1): k = ceil(0.01 * 1000) = 10, so hi is the 10th largest value, 990,
 * and lo the 10th smallest, 9. Over two samples of 500 the answer is the same. */
static void test_percentile_ramp(void **state) {
    (void)state;
    static float x[1000];
    for (int i = 0; i < 1000; i++)
        x[i] = (float)((i * 7) % 1000);
    assert_int_equal(calib_percentile_k(1000, 99.0), 10);
    assert_int_equal(calib_percentile_k(1000, 100.0), 1);
    assert_int_equal(calib_percentile_k(1000, 99.95), 1);   /* ceil(0.5) */
    assert_int_equal(calib_percentile_k(100000, 99.999), 1);
    assert_int_equal(calib_percentile_k(1000000, 99.999), 10);
    CalibOptions o = opts(CALIB_PERCENTILE);
    o.percentile = 99.0;
    float lo, hi;
    calib_range_samples(x, 1, 1000, &o, &lo, &hi);
    assert_true(lo == 9.0f && hi == 990.0f);
    calib_range_samples(x, 2, 500, &o, &lo, &hi);
    assert_true(lo == 9.0f && hi == 990.0f);
}

/* Deterministic N(0, 1) by Box-Muller on a 64-bit LCG. */
static uint64_t lcg = 12345;
static double unif(void) {
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(lcg >> 11) + 0.5) / 9007199254740992.0;
}

/* 100000 Gaussian values plus 5 outliers at 50 (and one at -50): minmax keeps +-50, while
 * KL, symmetric KL and JS clip: folding 6 values into the last bin costs almost nothing,
 * a quantization grid 3x coarser over the bulk costs a lot, so the clip lands near the low
 * end of the search, 0.3 * 50 = 15, well below 50 and well above the bulk (|x| < 5). */
static void test_gaussian_outliers(void **state) {
    (void)state;
    enum { N = 100006 };
    static float x[N];
    for (int i = 0; i < N - 6; i++)
        x[i] = (float)(sqrt(-2.0 * log(unif())) * cos(6.283185307179586 * unif()));
    for (int i = N - 6; i < N - 1; i++)
        x[i] = 50.0f;
    x[N - 1] = -50.0f;
    float lo, hi;
    CalibOptions o = opts(CALIB_MINMAX);
    calib_range_samples(x, 1, N, &o, &lo, &hi);
    assert_true(lo == -50.0f && hi == 50.0f);
    static const CalibMethod ms[3] = {CALIB_KL, CALIB_SYMKL, CALIB_JS};
    for (int m = 0; m < 3; m++) {
        o = opts(ms[m]);
        calib_range_samples(x, 1, N, &o, &lo, &hi);
        if (!(hi < 25.0f && hi > 5.0f && lo > -25.0f && lo < -5.0f))
            fail_msg("method %d: range [%g, %g]", m, lo, hi);
    }
    /* percentile 99.99: k = ceil(1e-4 * 100006) = 11 > 5 outliers: hi is a Gaussian value */
    o = opts(CALIB_PERCENTILE);
    o.percentile = 99.99;
    calib_range_samples(x, 1, N, &o, &lo, &hi);
    assert_true(hi < 6.0f && hi > 2.0f && lo > -6.0f && lo < -2.0f);
}

/* A flat histogram has nothing to clip: any t < max folds a spike into the last bin (KL > 0),
 * while for t >= max every level's non-zero bins are equal, Q = P and KL = 0; the smallest such
 * clip, t = max (s = 1.0, i = bins), wins the tie. */
static void test_hist_flat(void **state) {
    (void)state;
    static double h[1000];
    for (int i = 0; i < 1000; i++)
        h[i] = 3.0;
    for (int m = CALIB_KL; m <= CALIB_JS; m++) {
        double t = calib_hist_clip(h, 1000, 0.01, 128, (CalibMethod)m, 0.3, 1.7, 0.01);
        assert_float_equal(t, 10.0, 1e-9);
    }
}

/* calibrate_plan on x -> Relu -> y with samples [-1, 2] and [0.5, 4], minmax, uint8:
 *   x: [-1, 4], scale 5/255, zero point round(0 - (-1) / (5/255)) = 51;
 *   y: [0, 4], scale 4/255, zero point 0. */
static void test_plan_relu(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int64_t s[1] = {2};
    int x = add_input(g, "x", DT_FLOAT, 1, s);
    int n = add_node(g, OP_RELU, "relu", "y", x, -2);
    int y = out_of(g, n);
    mark_output(g, y);
    assert_true(pass_infer_shapes(g, &f->po, &f->cap.d));
    static const float v0[2] = {-1, 2}, v1[2] = {0.5f, 4};
    Tensor t[2] = {g->tensors[x], g->tensors[x]};
    t[0].data = (void *)v0;
    t[1].data = (void *)v1;
    SampleSet ss = {.n = 2, .ninputs = 1, .t = t};
    QuantPlan p;
    quant_plan_init(g, &p, DT_UINT8);
    CalibOptions o = opts(CALIB_MINMAX);
    assert_true(calibrate_plan(g, &ss, &o, &p, &f->cap.d));
    assert_true(p.act[x].set && p.act[y].set);
    assert_float_equal(p.act[x].scale, 5.0 / 255, 1e-7);
    assert_int_equal(p.act[x].zero_point, 51);
    assert_float_equal(p.act[y].scale, 4.0 / 255, 1e-7);
    assert_int_equal(p.act[y].zero_point, 0);
}

/* ---- the sample loader ---- */

/* Write an .npy v1 file: header dict text as given, padded to a 16-byte boundary. */
static void write_npy(const char *path, const char *dict, const void *data, size_t bytes) {
    char hdr[256];
    int n = snprintf(hdr, sizeof hdr, "%s", dict);
    while ((10 + n + 1) % 16)
        hdr[n++] = ' ';
    hdr[n++] = '\n';
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(n & 0xff),
                             (unsigned char)(n >> 8)};
    fwrite(pre, 1, 10, fp);
    fwrite(hdr, 1, (size_t)n, fp);
    fwrite(data, 1, bytes, fp);
    fclose(fp);
}

static char tmpdir[64];

static void make_dir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/qcc_calib_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
}

static void remove_dir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
}

/* Graph input x [1, 3]. a.npy holds two samples as [2, 3] (float64, converted), b.npy one as
 * [1, 3]: three samples, in file-name order. */
static void test_load_npy(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int64_t s[2] = {1, 3};
    add_input(g, "x", DT_FLOAT, 2, s);
    make_dir();
    char path[128];
    static const double a[6] = {1, 2, 3, 4, 5, 6};
    static const float b[3] = {7, 8, 9};
    snprintf(path, sizeof path, "%s/a.npy", tmpdir);
    write_npy(path, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", a, sizeof a);
    snprintf(path, sizeof path, "%s/b.npy", tmpdir);
    write_npy(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }", b, sizeof b);
    SampleSet ss;
    assert_true(calib_load_samples(g, tmpdir, &ss, &f->cap.d));
    assert_int_equal(ss.n, 3);
    assert_int_equal(ss.ninputs, 1);
    assert_true(((float *)ss.t[1].data)[0] == 4.0f && ((float *)ss.t[2].data)[2] == 9.0f);
    assert_int_equal(tensor_numel(&ss.t[0]), 3);
    /* a shape that fits nothing is refused, naming the file */
    static const float c[4] = {0};
    snprintf(path, sizeof path, "%s/c.npy", tmpdir);
    write_npy(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", c, sizeof c);
    assert_false(calib_load_samples(g, tmpdir, &ss, &f->cap.d));
    assert_non_null(strstr(diag_text(f), "c.npy': shape [4] does not fit graph input 'x' [1,3]"));
    remove_dir();
}

/* Malformed files: wrong dtype, Fortran order, data shorter than the header says. */
static void test_load_npy_bad(void **state) {
    Fixture *f = *state;
    Graph *g = &f->g;
    int64_t s[2] = {1, 3};
    add_input(g, "x", DT_FLOAT, 2, s);
    static const float b[3] = {7, 8, 9};
    static const struct { const char *dict; size_t bytes; const char *msg; } cases[] = {
        {"{'descr': '<i4', 'fortran_order': False, 'shape': (1, 3), }", 12, "must be float32"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (1, 3), }", 12, "Fortran-order"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }", 8,
         "data is 8 bytes, the header says 12"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, x), }", 12, "malformed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        make_dir();
        char path[128];
        snprintf(path, sizeof path, "%s/s.npy", tmpdir);
        write_npy(path, cases[i].dict, b, cases[i].bytes);
        SampleSet ss;
        assert_false(calib_load_samples(g, tmpdir, &ss, &f->cap.d));
        if (!strstr(diag_text(f), cases[i].msg))
            fail_msg("case %zu: '%s' not in: %s", i, cases[i].msg, diag_text(f));
        remove_dir();
    }
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minmax_uniform), cmocka_unit_test(test_ema_two_samples),
        cmocka_unit_test(test_percentile_ramp), cmocka_unit_test(test_gaussian_outliers),
        cmocka_unit_test(test_hist_flat), T(test_plan_relu), T(test_load_npy),
        T(test_load_npy_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
