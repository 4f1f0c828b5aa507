/* test_qat.c: QAT checkpoints (frontend/qat.c). Zip files are built in memory with libzip's
 * writer, so the reader meets valid, truncated, corrupt, encrypted, oddly compressed and
 * inconsistent archives; the real lenet5_qat checkpoint of the zoo is read and compared with
 * values printed by Python's own zipfile + pickle modules (written here as literals), and the
 * weight mapping is checked against the zoo's meta.json (float_onnx_to_checkpoint_keys, also
 * copied here as literals). Skipped when ../shared/zoo is absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <zip.h>

#include "ir/ir.h"
#include "frontend/frontend.h"
#include "passes/quantize.h"

/* ---- diagnostics into memory ---- */

typedef struct Run {
    Arena a;                /* checkpoint and graph */
    Diag d;                 /* diagnostics */
    char *text;             /* memstream buffer */
    size_t len;             /* its length */
} Run;

static void run_open(Run *r) {
    arena_init(&r->a);
    r->text = NULL;
    r->len = 0;
    FILE *f = open_memstream(&r->text, &r->len);
    assert_non_null(f);
    diag_init(&r->d, "t.onnx", f);
}

static const char *run_text(Run *r) {
    fflush(r->d.out);
    return r->text ? r->text : "";
}

static void run_close(Run *r) {
    fclose(r->d.out);
    free(r->text);
    arena_free(&r->a);
}

/* ---- pickles and zips ---- */

typedef struct Bytes {
    uint8_t b[4096];        /* contents */
    size_t n;               /* bytes used */
} Bytes;

static void put(Bytes *p, const void *s, size_t n) {
    assert_true(p->n + n <= sizeof p->b);
    memcpy(p->b + p->n, s, n);
    p->n += n;
}

#define ops(p, lit) put((p), (lit), sizeof(lit) - 1)

static void str(Bytes *p, const char *s) {
    uint32_t n = (uint32_t)strlen(s);
    uint8_t len[5] = {'X', (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    put(p, len, 5);
    put(p, s, n);
}

/* OrderedDict {"w": FloatStorage "0" of 6 elements viewed as (2, 3)}, as torch writes it;
 * nested under {"epoch": 7, "state_dict": ...} when nested. */
static void sd_pickle(Bytes *p, bool nested) {
    ops(p, "\x80\x02");
    if (nested) {
        ops(p, "}(");
        str(p, "epoch");
        ops(p, "K\x07");
        str(p, "state_dict");
    }
    ops(p, "ccollections\nOrderedDict\nq\x00)R(");
    str(p, "w");
    ops(p, "ctorch._utils\n_rebuild_tensor_v2\n((");
    str(p, "storage");
    ops(p, "ctorch\nFloatStorage\n");
    str(p, "0");
    str(p, "cpu");
    ops(p, "K\x06tQK\x00K\x02K\x03\x86K\x03K\x01\x86\x89h\x00)RtRu");
    if (nested)
        ops(p, "u");
    ops(p, ".");
}

typedef struct Entry {
    const char *name;       /* path in the zip */
    const void *data;       /* contents */
    size_t len;             /* bytes */
    int comp;               /* ZIP_CM_* */
    bool encrypt;           /* AES-256 with a password */
} Entry;

/* A zip holding the entries, written by libzip into memory; *len its size (malloc'd). */
static uint8_t *make_zip(const Entry *e, int n, size_t *len) {
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    assert_non_null(src);
    zip_source_keep(src);
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    assert_non_null(za);
    for (int i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(za, e[i].data, e[i].len, 0);
        zip_int64_t idx = zip_file_add(za, e[i].name, s, ZIP_FL_ENC_UTF_8);
        assert_true(idx >= 0);
        if (zip_set_file_compression(za, (zip_uint64_t)idx, e[i].comp, 0) != 0) {
            zip_discard(za);
            zip_source_free(src);
            return NULL;    /* this libzip cannot write that method: caller skips */
        }
        if (e[i].encrypt && zip_file_set_encryption(za, (zip_uint64_t)idx, ZIP_EM_AES_256,
                                                    "secret") != 0) {
            zip_discard(za);
            zip_source_free(src);
            return NULL;
        }
    }
    assert_int_equal(zip_close(za), 0);
    assert_int_equal(zip_source_open(src), 0);
    assert_int_equal(zip_source_seek(src, 0, SEEK_END), 0);
    zip_int64_t size = zip_source_tell(src);
    assert_true(size > 0);
    assert_int_equal(zip_source_seek(src, 0, SEEK_SET), 0);
    uint8_t *buf = malloc((size_t)size);
    assert_int_equal(zip_source_read(src, buf, (zip_uint64_t)size), size);
    zip_source_close(src);
    zip_source_free(src);
    *len = (size_t)size;
    return buf;
}

static const float w6[6] = {0.5f, -1.0f, 2.0f, 3.25f, 4.0f, -5.5f};

/* The standard archive: data.pkl, one storage, version; storage bytes and method given. */
static uint8_t *std_zip(const Bytes *pkl, const void *st, size_t stlen, int comp, size_t *len) {
    Entry e[] = {
        {"ck/data.pkl", pkl->b, pkl->n, ZIP_CM_STORE, false},
        {"ck/data/0", st, stlen, comp, false},
        {"ck/version", "3\n", 2, ZIP_CM_STORE, false},
    };
    return make_zip(e, 3, len);
}

/* Load from memory; expect success (want NULL) or an error containing want. */
static QatCheckpoint *load(Run *r, const uint8_t *zip, size_t len, const char *want) {
    uint8_t *copy = malloc(len ? len : 1);  /* exact size: ASan sees overreads */
    memcpy(copy, zip, len);
    QatCheckpoint *c = qat_load_memory(&r->a, "ck.pt", copy, len, &r->d);
    free(copy);
    if (want) {
        if (c || !strstr(run_text(r), want))
            fail_msg("want error '%s', got: %s", want, run_text(r));
        assert_non_null(strstr(run_text(r), "ck.pt"));
    } else if (!c) {
        fail_msg("load failed: %s", run_text(r));
    }
    return c;
}

static void check_w(const QatCheckpoint *c) {
    const Tensor *t = qat_find(c, "w");
    assert_non_null(t);
    assert_int_equal(t->dtype, DT_FLOAT);
    assert_int_equal(t->rank, 2);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->shape[1], 3);
    assert_memory_equal(t->data, w6, sizeof w6);
}

static void test_valid(void **state) {
    (void)state;
    for (int nested = 0; nested < 2; nested++)
        for (int deflate = 0; deflate < 2; deflate++) {
            Bytes p = {.n = 0};
            sd_pickle(&p, nested);
            size_t len;
            uint8_t *zip = std_zip(&p, w6, sizeof w6, deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE,
                                   &len);
            Run r;
            run_open(&r);
            QatCheckpoint *c = load(&r, zip, len, NULL);
            assert_int_equal(qat_count(c), 1);
            check_w(c);
            run_close(&r);
            free(zip);
        }
}

static void test_bad_zips(void **state) {
    (void)state;
    Bytes p = {.n = 0};
    sd_pickle(&p, false);
    size_t len;
    uint8_t *zip = std_zip(&p, w6, sizeof w6, ZIP_CM_STORE, &len);
    Run r;
    run_open(&r);
    load(&r, (const uint8_t *)"hello, not a zip", 16, "not a readable zip");
    run_close(&r);
    /* Every truncation of the archive: an error, never a crash. */
    for (size_t n = 0; n < len; n += 7) {
        run_open(&r);
        load(&r, zip, n, "ck.pt");
        run_close(&r);
    }
    /* A flipped byte inside the stored storage: the CRC catches it. */
    uint8_t *bad = malloc(len);
    memcpy(bad, zip, len);
    uint8_t *hit = NULL;
    for (size_t i = 0; i + sizeof w6 <= len && !hit; i++)
        if (memcmp(bad + i, w6, sizeof w6) == 0)
            hit = bad + i;
    assert_non_null(hit);
    hit[3] ^= 0x40;
    run_open(&r);
    load(&r, bad, len, "CRC");
    run_close(&r);
    free(bad);
    free(zip);
}

static void test_inconsistent(void **state) {
    (void)state;
    Bytes p = {.n = 0};
    sd_pickle(&p, false);
    size_t len;
    Run r;
    /* Storage shorter than the 6 floats the pickle declares. */
    uint8_t *zip = std_zip(&p, w6, 8, ZIP_CM_STORE, &len);
    run_open(&r);
    load(&r, zip, len, "less than the 6 float elements");
    run_close(&r);
    free(zip);
    /* Storage entry missing; no data.pkl at all. */
    Entry e1[] = {{"ck/data.pkl", p.b, p.n, ZIP_CM_STORE, false}};
    zip = make_zip(e1, 1, &len);
    run_open(&r);
    load(&r, zip, len, "'ck/data/0' is missing");
    run_close(&r);
    free(zip);
    Entry e2[] = {{"ck/data/0", w6, sizeof w6, ZIP_CM_STORE, false}};
    zip = make_zip(e2, 1, &len);
    run_open(&r);
    load(&r, zip, len, "no data.pkl");
    run_close(&r);
    free(zip);
    /* A hostile pickle inside a valid zip: the pickle reader's error comes through. */
    Bytes evil = {.n = 0};
    ops(&evil, "\x80\x02\x63os\nsystem\n.");
    zip = std_zip(&evil, w6, sizeof w6, ZIP_CM_STORE, &len);
    run_open(&r);
    load(&r, zip, len, "ck.pt: data.pkl: byte 2: global 'os.system' is not allowed");
    run_close(&r);
    free(zip);
}

static void test_methods(void **state) {
    (void)state;
    Bytes p = {.n = 0};
    sd_pickle(&p, false);
    size_t len;
    Run r;
    uint8_t *zip = std_zip(&p, w6, sizeof w6, ZIP_CM_BZIP2, &len);
    if (zip) {
        run_open(&r);
        load(&r, zip, len, "compression method 12");
        run_close(&r);
        free(zip);
    }
    Entry e[] = {
        {"ck/data.pkl", p.b, p.n, ZIP_CM_STORE, false},
        {"ck/data/0", w6, sizeof w6, ZIP_CM_STORE, true},
    };
    zip = make_zip(e, 2, &len);
    if (zip) {
        run_open(&r);
        load(&r, zip, len, "encrypted");
        run_close(&r);
        free(zip);
    }
}

/* ---- the zoo's real checkpoints ---- */

static const char *zoo(Run *r, const char *rel) {
    const char *root = getenv("QCC_SOURCE_ROOT");
    const char *path = arena_printf(&r->a, "%s/../shared/zoo/%s", root ? root : ".", rel);
    return access(path, R_OK) == 0 ? path : NULL;
}

/* Values printed by Python (zipfile + pickle.Unpickler + numpy.frombuffer, no torch). */
static void test_lenet_values(void **state) {
    (void)state;
    Run r;
    run_open(&r);
    const char *path = zoo(&r, "lenet5_qat/qat/qat_state_dict.pt");
    if (!path) {
        run_close(&r);
        skip();
    }
    QatCheckpoint *c = qat_load(&r.a, path, &r.d);
    assert_non_null(c);
    assert_int_equal(qat_count(c), 97);
    const Tensor *t = qat_find(c, "conv1.weight");
    assert_non_null(t);
    assert_int_equal(t->rank, 4);
    assert_int_equal(t->shape[0], 6);
    assert_int_equal(t->shape[3], 5);
    assert_float_equal(((const float *)t->data)[0], -0.08942199498414993, 0);
    assert_float_equal(((const float *)t->data)[149], -0.12230726331472397, 0);
    t = qat_find(c, "conv1.bn.running_var");
    assert_float_equal(((const float *)t->data)[5], 0.11056388169527054, 0);
    t = qat_find(c, "fc1.weight");
    assert_true(t->rank == 2 && t->shape[0] == 120 && t->shape[1] == 400);
    assert_float_equal(((const float *)t->data)[3], 0.05197567865252495, 0);
    t = qat_find(c, "quant.activation_post_process.scale");
    assert_float_equal(((const float *)t->data)[0], 0.007838590070605278, 0);
    t = qat_find(c, "quant.activation_post_process.zero_point");
    assert_true(t->dtype == DT_INT32 && ((const int32_t *)t->data)[0] == 128);
    t = qat_find(c, "conv1.bn.num_batches_tracked");
    assert_true(t->dtype == DT_INT64 && t->rank == 0 && ((const int64_t *)t->data)[0] == 817);
    t = qat_find(c, "conv1.activation_post_process.fake_quant_enabled");
    assert_true(t->dtype == DT_UINT8 && t->rank == 1 && ((const uint8_t *)t->data)[0] == 1);
    assert_null(qat_find(c, "bn1.weight"));
    run_close(&r);
}

/* meta.json -> float_onnx_to_checkpoint_keys (num_batches_tracked left out: BN has no such
 * input in ONNX). */
static const char *const map_lenet5[][2] = {
    {"conv1.weight", "conv1.weight"}, {"conv1.bias", "conv1.bias"},
    {"bn1.weight", "conv1.bn.weight"}, {"bn1.bias", "conv1.bn.bias"},
    {"bn1.running_mean", "conv1.bn.running_mean"}, {"bn1.running_var", "conv1.bn.running_var"},
    {"conv2.weight", "conv2.weight"}, {"conv2.bias", "conv2.bias"},
    {"bn2.weight", "conv2.bn.weight"}, {"bn2.bias", "conv2.bn.bias"},
    {"bn2.running_mean", "conv2.bn.running_mean"}, {"bn2.running_var", "conv2.bn.running_var"},
    {"fc1.weight", "fc1.weight"}, {"fc1.bias", "fc1.bias"}, {"fc2.weight", "fc2.weight"},
    {"fc2.bias", "fc2.bias"}, {"fc3.weight", "fc3.weight"}, {"fc3.bias", "fc3.bias"},
};
static const char *const map_resnet[][2] = {
    {"conv1.weight", "conv1.weight"}, {"bn1.weight", "conv1.bn.weight"},
    {"bn1.bias", "conv1.bn.bias"}, {"bn1.running_mean", "conv1.bn.running_mean"},
    {"bn1.running_var", "conv1.bn.running_var"}, {"layer1.conv1.weight", "layer1.conv1.weight"},
    {"layer1.bn1.weight", "layer1.conv1.bn.weight"}, {"layer1.bn1.bias", "layer1.conv1.bn.bias"},
    {"layer1.bn1.running_mean", "layer1.conv1.bn.running_mean"},
    {"layer1.bn1.running_var", "layer1.conv1.bn.running_var"},
    {"layer1.conv2.weight", "layer1.conv2.weight"},
    {"layer1.bn2.weight", "layer1.conv2.bn.weight"}, {"layer1.bn2.bias", "layer1.conv2.bn.bias"},
    {"layer1.bn2.running_mean", "layer1.conv2.bn.running_mean"},
    {"layer1.bn2.running_var", "layer1.conv2.bn.running_var"},
    {"layer2.conv1.weight", "layer2.conv1.weight"},
    {"layer2.bn1.weight", "layer2.conv1.bn.weight"}, {"layer2.bn1.bias", "layer2.conv1.bn.bias"},
    {"layer2.bn1.running_mean", "layer2.conv1.bn.running_mean"},
    {"layer2.bn1.running_var", "layer2.conv1.bn.running_var"},
    {"layer2.conv2.weight", "layer2.conv2.weight"},
    {"layer2.bn2.weight", "layer2.conv2.bn.weight"}, {"layer2.bn2.bias", "layer2.conv2.bn.bias"},
    {"layer2.bn2.running_mean", "layer2.conv2.bn.running_mean"},
    {"layer2.bn2.running_var", "layer2.conv2.bn.running_var"},
    {"layer2.downsample.0.weight", "layer2.downsample.0.weight"},
    {"layer2.downsample.1.weight", "layer2.downsample.0.bn.weight"},
    {"layer2.downsample.1.bias", "layer2.downsample.0.bn.bias"},
    {"layer2.downsample.1.running_mean", "layer2.downsample.0.bn.running_mean"},
    {"layer2.downsample.1.running_var", "layer2.downsample.0.bn.running_var"},
    {"layer3.conv1.weight", "layer3.conv1.weight"},
    {"layer3.bn1.weight", "layer3.conv1.bn.weight"}, {"layer3.bn1.bias", "layer3.conv1.bn.bias"},
    {"layer3.bn1.running_mean", "layer3.conv1.bn.running_mean"},
    {"layer3.bn1.running_var", "layer3.conv1.bn.running_var"},
    {"layer3.conv2.weight", "layer3.conv2.weight"},
    {"layer3.bn2.weight", "layer3.conv2.bn.weight"}, {"layer3.bn2.bias", "layer3.conv2.bn.bias"},
    {"layer3.bn2.running_mean", "layer3.conv2.bn.running_mean"},
    {"layer3.bn2.running_var", "layer3.conv2.bn.running_var"},
    {"layer3.downsample.0.weight", "layer3.downsample.0.weight"},
    {"layer3.downsample.1.weight", "layer3.downsample.0.bn.weight"},
    {"layer3.downsample.1.bias", "layer3.downsample.0.bn.bias"},
    {"layer3.downsample.1.running_mean", "layer3.downsample.0.bn.running_mean"},
    {"layer3.downsample.1.running_var", "layer3.downsample.0.bn.running_var"},
    {"fc.weight", "fc.weight"}, {"fc.bias", "fc.bias"},
};
static const char *const map_mobilenet[][2] = {
    {"stem.weight", "stem.weight"}, {"stem_bn.weight", "stem.bn.weight"},
    {"stem_bn.bias", "stem.bn.bias"}, {"stem_bn.running_mean", "stem.bn.running_mean"},
    {"stem_bn.running_var", "stem.bn.running_var"}, {"blocks.0.dw.weight", "blocks.0.dw.weight"},
    {"blocks.0.dw_bn.weight", "blocks.0.dw.bn.weight"},
    {"blocks.0.dw_bn.bias", "blocks.0.dw.bn.bias"},
    {"blocks.0.dw_bn.running_mean", "blocks.0.dw.bn.running_mean"},
    {"blocks.0.dw_bn.running_var", "blocks.0.dw.bn.running_var"},
    {"blocks.0.pwl.weight", "blocks.0.pwl.weight"},
    {"blocks.0.pwl_bn.weight", "blocks.0.pwl.bn.weight"},
    {"blocks.0.pwl_bn.bias", "blocks.0.pwl.bn.bias"},
    {"blocks.0.pwl_bn.running_mean", "blocks.0.pwl.bn.running_mean"},
    {"blocks.0.pwl_bn.running_var", "blocks.0.pwl.bn.running_var"},
    {"blocks.1.pw.weight", "blocks.1.pw.weight"},
    {"blocks.1.pw_bn.weight", "blocks.1.pw.bn.weight"},
    {"blocks.1.pw_bn.bias", "blocks.1.pw.bn.bias"},
    {"blocks.1.pw_bn.running_mean", "blocks.1.pw.bn.running_mean"},
    {"blocks.1.pw_bn.running_var", "blocks.1.pw.bn.running_var"},
    {"blocks.1.dw.weight", "blocks.1.dw.weight"},
    {"blocks.1.dw_bn.weight", "blocks.1.dw.bn.weight"},
    {"blocks.1.dw_bn.bias", "blocks.1.dw.bn.bias"},
    {"blocks.1.dw_bn.running_mean", "blocks.1.dw.bn.running_mean"},
    {"blocks.1.dw_bn.running_var", "blocks.1.dw.bn.running_var"},
    {"blocks.1.pwl.weight", "blocks.1.pwl.weight"},
    {"blocks.1.pwl_bn.weight", "blocks.1.pwl.bn.weight"},
    {"blocks.1.pwl_bn.bias", "blocks.1.pwl.bn.bias"},
    {"blocks.1.pwl_bn.running_mean", "blocks.1.pwl.bn.running_mean"},
    {"blocks.1.pwl_bn.running_var", "blocks.1.pwl.bn.running_var"},
    {"blocks.2.pw.weight", "blocks.2.pw.weight"},
    {"blocks.2.pw_bn.weight", "blocks.2.pw.bn.weight"},
    {"blocks.2.pw_bn.bias", "blocks.2.pw.bn.bias"},
    {"blocks.2.pw_bn.running_mean", "blocks.2.pw.bn.running_mean"},
    {"blocks.2.pw_bn.running_var", "blocks.2.pw.bn.running_var"},
    {"blocks.2.dw.weight", "blocks.2.dw.weight"},
    {"blocks.2.dw_bn.weight", "blocks.2.dw.bn.weight"},
    {"blocks.2.dw_bn.bias", "blocks.2.dw.bn.bias"},
    {"blocks.2.dw_bn.running_mean", "blocks.2.dw.bn.running_mean"},
    {"blocks.2.dw_bn.running_var", "blocks.2.dw.bn.running_var"},
    {"blocks.2.pwl.weight", "blocks.2.pwl.weight"},
    {"blocks.2.pwl_bn.weight", "blocks.2.pwl.bn.weight"},
    {"blocks.2.pwl_bn.bias", "blocks.2.pwl.bn.bias"},
    {"blocks.2.pwl_bn.running_mean", "blocks.2.pwl.bn.running_mean"},
    {"blocks.2.pwl_bn.running_var", "blocks.2.pwl.bn.running_var"},
    {"blocks.3.pw.weight", "blocks.3.pw.weight"},
    {"blocks.3.pw_bn.weight", "blocks.3.pw.bn.weight"},
    {"blocks.3.pw_bn.bias", "blocks.3.pw.bn.bias"},
    {"blocks.3.pw_bn.running_mean", "blocks.3.pw.bn.running_mean"},
    {"blocks.3.pw_bn.running_var", "blocks.3.pw.bn.running_var"},
    {"blocks.3.dw.weight", "blocks.3.dw.weight"},
    {"blocks.3.dw_bn.weight", "blocks.3.dw.bn.weight"},
    {"blocks.3.dw_bn.bias", "blocks.3.dw.bn.bias"},
    {"blocks.3.dw_bn.running_mean", "blocks.3.dw.bn.running_mean"},
    {"blocks.3.dw_bn.running_var", "blocks.3.dw.bn.running_var"},
    {"blocks.3.pwl.weight", "blocks.3.pwl.weight"},
    {"blocks.3.pwl_bn.weight", "blocks.3.pwl.bn.weight"},
    {"blocks.3.pwl_bn.bias", "blocks.3.pwl.bn.bias"},
    {"blocks.3.pwl_bn.running_mean", "blocks.3.pwl.bn.running_mean"},
    {"blocks.3.pwl_bn.running_var", "blocks.3.pwl.bn.running_var"},
    {"blocks.4.pw.weight", "blocks.4.pw.weight"},
    {"blocks.4.pw_bn.weight", "blocks.4.pw.bn.weight"},
    {"blocks.4.pw_bn.bias", "blocks.4.pw.bn.bias"},
    {"blocks.4.pw_bn.running_mean", "blocks.4.pw.bn.running_mean"},
    {"blocks.4.pw_bn.running_var", "blocks.4.pw.bn.running_var"},
    {"blocks.4.dw.weight", "blocks.4.dw.weight"},
    {"blocks.4.dw_bn.weight", "blocks.4.dw.bn.weight"},
    {"blocks.4.dw_bn.bias", "blocks.4.dw.bn.bias"},
    {"blocks.4.dw_bn.running_mean", "blocks.4.dw.bn.running_mean"},
    {"blocks.4.dw_bn.running_var", "blocks.4.dw.bn.running_var"},
    {"blocks.4.pwl.weight", "blocks.4.pwl.weight"},
    {"blocks.4.pwl_bn.weight", "blocks.4.pwl.bn.weight"},
    {"blocks.4.pwl_bn.bias", "blocks.4.pwl.bn.bias"},
    {"blocks.4.pwl_bn.running_mean", "blocks.4.pwl.bn.running_mean"},
    {"blocks.4.pwl_bn.running_var", "blocks.4.pwl.bn.running_var"}, {"head.weight", "head.weight"},
    {"head_bn.weight", "head.bn.weight"}, {"head_bn.bias", "head.bn.bias"},
    {"head_bn.running_mean", "head.bn.running_mean"},
    {"head_bn.running_var", "head.bn.running_var"}, {"fc.weight", "fc.weight"},
    {"fc.bias", "fc.bias"},
};

/* After qat_apply_weights every mapped initializer holds the checkpoint's bytes. */
static void check_mapping(const char *net, const char *const (*map)[2], size_t n) {
    Run r;
    run_open(&r);
    const char *onnx = zoo(&r, arena_printf(&r.a, "%s/qat/float.onnx", net));
    const char *pt = zoo(&r, arena_printf(&r.a, "%s/qat/qat_state_dict.pt", net));
    if (!onnx || !pt) {
        run_close(&r);
        skip();
    }
    Graph g;
    graph_init(&g, &r.a);
    r.d.quiet_notes = true;
    assert_true(onnx_load(&g, onnx, &r.d));
    QatCheckpoint *c = qat_load(&r.a, pt, &r.d);
    assert_non_null(c);
    assert_true(qat_apply_weights(&g, c, &r.d));
    for (size_t i = 0; i < n; i++) {
        int tid = graph_find_tensor(&g, map[i][0]);
        const Tensor *want = qat_find(c, map[i][1]);
        assert_true(tid >= 0 && want);
        const Tensor *t = &g.tensors[tid];
        assert_int_equal(tensor_numel(t), tensor_numel(want));
        if (memcmp(t->data, want->data, (size_t)tensor_bytes(want)) != 0)
            fail_msg("%s: '%s' does not hold checkpoint '%s'", net, map[i][0], map[i][1]);
    }
    run_close(&r);
}

static void test_mapping_lenet(void **state) {
    (void)state;
    check_mapping("lenet5_qat", map_lenet5, sizeof map_lenet5 / sizeof map_lenet5[0]);
}

static void test_mapping_resnet(void **state) {
    (void)state;
    check_mapping("resnet_tiny", map_resnet, sizeof map_resnet / sizeof map_resnet[0]);
}

static void test_mapping_mobilenet(void **state) {
    (void)state;
    check_mapping("mobilenet_tiny", map_mobilenet, sizeof map_mobilenet / sizeof map_mobilenet[0]);
}

/* The plan on the prepared lenet graph: activation (scale, zero point) where the zoo's qdq
 * export (PyTorch's own convert) puts them: input, ReLU outputs, pooled/flattened copies,
 * logits. int8 activations shift the zero point by -128. */
static void check_plan(DType dt) {
    Run r;
    run_open(&r);
    const char *onnx = zoo(&r, "lenet5_qat/qat/float.onnx");
    const char *pt = zoo(&r, "lenet5_qat/qat/qat_state_dict.pt");
    if (!onnx || !pt) {
        run_close(&r);
        skip();
    }
    Graph g;
    graph_init(&g, &r.a);
    r.d.quiet_notes = true;
    assert_true(onnx_load(&g, onnx, &r.d));
    QatCheckpoint *c = qat_load(&r.a, pt, &r.d);
    assert_true(c && qat_apply_weights(&g, c, &r.d));
    assert_true(quant_prepare(&g, &r.d));
    QuantPlan p;
    memset(&p, 0, sizeof p);
    quant_plan_init(&g, &p, dt);
    assert_true(qat_plan(&g, c, &p, &r.d));
    assert_null(strstr(run_text(&r), "matched nothing"));
    static const struct { const char *t; float scale; int zp; } want[] = {
        {"x", 0.00783859f, 128},
        {"/relu1/Relu_output_0", 0.016708743f, 0},
        {"/pool1/MaxPool_output_0", 0.016708743f, 0},
        {"/relu2/Relu_output_0", 0.02272851f, 0},
        {"/flatten/Flatten_output_0", 0.02272851f, 0},
        {"/relu3/Relu_output_0", 0.0454701f, 0},
        {"/relu4/Relu_output_0", 0.058982853f, 0},
        {"logits", 0.12017523f, 123},
    };
    int shift = dt == DT_INT8 ? -128 : 0;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int tid = graph_find_tensor(&g, want[i].t);
        assert_true(tid >= 0 && tid < p.ntensors);
        const ActQuant *a = &p.act[tid];
        if (!a->set)
            fail_msg("'%s' has no range", want[i].t);
        assert_float_equal(a->scale, want[i].scale, want[i].scale * 1e-6);
        assert_int_equal(a->zero_point, want[i].zp + shift);
        assert_int_equal(a->dtype, dt);
    }
    /* conv1's folded weight carries the checkpoint's fake-quant scales. */
    assert_non_null(p.weight_scale);
    int found = 0;
    for (int i = 0; i < g.nnodes; i++) {
        const Node *n = &g.nodes[i];
        bool is_conv1 = !n->dead && n->op == OP_CONV && strcmp(n->name, "/conv1/Conv") == 0;
        for (int k = 0; k < n->nsources && !is_conv1; k++)
            is_conv1 = !n->dead && n->op == OP_CONV && strcmp(n->sources[k], "/conv1/Conv") == 0;
        if (!is_conv1)
            continue;
        const float *ws = p.weight_scale[n->in[1]];
        assert_non_null(ws);
        assert_float_equal(ws[0], 0.016745606437325478, 0);
        assert_float_equal(ws[5], 0.004797027911990881, 0);
        found++;
    }
    assert_int_equal(found, 1);
    run_close(&r);
}

static void test_plan_uint8(void **state) {
    (void)state;
    check_plan(DT_UINT8);
}

static void test_plan_int8(void **state) {
    (void)state;
    check_plan(DT_INT8);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_bad_zips),
        cmocka_unit_test(test_inconsistent),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_lenet_values),
        cmocka_unit_test(test_mapping_lenet),
        cmocka_unit_test(test_mapping_resnet),
        cmocka_unit_test(test_mapping_mobilenet),
        cmocka_unit_test(test_plan_uint8),
        cmocka_unit_test(test_plan_int8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
