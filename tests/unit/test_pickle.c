/* test_pickle.c: the pickle-subset reader (frontend/pickle.c) on hand-assembled pickles:
 * the opcodes torch.save's state_dicts use decode to the right values, and malformed or
 * hostile streams (unknown opcodes, forbidden globals, deep nesting, huge lengths, memo and
 * stack abuse, truncation, cycles, bad tensor layouts) end in a clear error, never a crash.
 * Expected values are written out by hand from the pickle format, not taken from qcc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ir/ir.h"
#include "frontend/pickle.h"

/* ---- a byte builder for pickles ---- */

typedef struct Bytes {
    uint8_t b[8192];        /* the pickle */
    size_t n;               /* bytes used */
} Bytes;

static void put(Bytes *p, const void *s, size_t n) {
    assert_true(p->n + n <= sizeof p->b);
    memcpy(p->b + p->n, s, n);
    p->n += n;
}

static void op(Bytes *p, uint8_t o) {
    put(p, &o, 1);
}

/* A string literal of opcodes, embedded NULs included. */
#define ops(p, lit) put((p), (lit), sizeof(lit) - 1)

/* BINUNICODE: 4-byte little-endian length, then the bytes. */
static void str(Bytes *p, const char *s) {
    uint32_t n = (uint32_t)strlen(s);
    uint8_t len[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    op(p, 'X');
    put(p, len, 4);
    put(p, s, n);
}

static void int1(Bytes *p, uint8_t v) {
    op(p, 'K');
    op(p, v);
}

/* ---- decoding with captured diagnostics ---- */

typedef struct Run {
    Arena a;                /* values */
    Diag d;                 /* errors, into text */
    char *text;             /* memstream buffer */
    size_t len;             /* its length */
    PkValue *v;             /* the result (NULL on error) */
} Run;

static void run(Run *r, const Bytes *p) {
    arena_init(&r->a);
    r->text = NULL;
    r->len = 0;
    FILE *f = open_memstream(&r->text, &r->len);
    assert_non_null(f);
    diag_init(&r->d, "ck.pt", f);
    /* A copy of exactly n bytes on the heap, so ASan sees any read past the end. */
    uint8_t *copy = malloc(p->n ? p->n : 1);
    memcpy(copy, p->b, p->n);
    r->v = pickle_load(&r->a, copy, p->n, "ck.pt: data.pkl", &r->d);
    free(copy);
    fflush(f);
}

static void done(Run *r) {
    fclose(r->d.out);
    free(r->text);
    arena_free(&r->a);
}

/* The pickle must be refused with a message containing want. */
static void expect_error(const Bytes *p, const char *want) {
    Run r;
    run(&r, p);
    if (r.v || !strstr(r.text ? r.text : "", want))
        fail_msg("want error containing '%s', got %s: %s", want, r.v ? "a value" : "error",
                 r.text ? r.text : "");
    assert_true(r.d.errors > 0);
    done(&r);
}

/* The state_dict torch.save writes for {"w": float tensor (2, 3)} in storage key "0" with
 * numel elements, the given offset and stride, in protocol 2 as torch emits it. */
static void torch_pickle(Bytes *p, int numel, int offset, int s0, int s1) {
    ops(p, "\x80\x02");
    ops(p, "ccollections\nOrderedDict\nq\x00)Rq\x01(");
    str(p, "w");
    ops(p, "ctorch._utils\n_rebuild_tensor_v2\nq\x02((");
    str(p, "storage");
    ops(p, "ctorch\nFloatStorage\nq\x03");
    str(p, "0");
    str(p, "cpu");
    int1(p, (uint8_t)numel);
    ops(p, "tQ");
    int1(p, (uint8_t)offset);
    int1(p, 2);
    int1(p, 3);
    op(p, 0x86);
    int1(p, (uint8_t)s0);
    int1(p, (uint8_t)s1);
    op(p, 0x86);
    op(p, 0x89);
    ops(p, "h\x00)RtRu");       /* hooks = OrderedDict(), TUPLE, REDUCE, SETITEMS */
    /* _metadata as torch writes it: BUILD with {'_metadata': OrderedDict()} */
    op(p, '}');
    str(p, "_metadata");
    ops(p, "h\x00)Rsb.");
}

static void test_state_dict_tensor(void **state) {
    (void)state;
    Bytes p = {.n = 0};
    torch_pickle(&p, 6, 0, 3, 1);
    Run r;
    run(&r, &p);
    assert_non_null(r.v);
    assert_int_equal(r.v->kind, PK_DICT);
    assert_int_equal(r.v->n, 2);
    PkValue *w = pickle_dict_get(r.v, "w");
    assert_non_null(w);
    assert_int_equal(w->kind, PK_TENSOR);
    assert_string_equal(w->tensor->storage->key, "0");
    assert_int_equal(w->tensor->storage->dtype, DT_FLOAT);
    assert_int_equal(w->tensor->storage->numel, 6);
    assert_int_equal(w->tensor->rank, 2);
    assert_int_equal(w->tensor->shape[0], 2);
    assert_int_equal(w->tensor->shape[1], 3);
    assert_int_equal(w->tensor->numel, 6);
    assert_null(pickle_dict_get(r.v, "x"));
    done(&r);
}

/* Scalars: ints of every width (with sign), floats, strings, bools, None, tuples, lists. */
static void test_scalars(void **state) {
    (void)state;
    Bytes p = {.n = 0};
    ops(&p, "\x80\x04");
    op(&p, ']');                            /* EMPTY_LIST */
    op(&p, 0x94);                           /* MEMOIZE -> memo[0] */
    op(&p, '(');
    ops(&p, "J\xfe\xff\xff\xff");           /* BININT -2 */
    ops(&p, "M\x34\x12");                   /* BININT2 0x1234 */
    ops(&p, "\x8a\x02\x00\x80");            /* LONG1 2 bytes: -32768 */
    ops(&p, "\x8a\x00");                    /* LONG1 0 bytes: 0 */
    ops(&p, "G\x3f\xf8");                   /* BINFLOAT 1.5 (big-endian) */
    put(&p, "\0\0\0\0\0\0", 6);
    ops(&p, "\x8c\x02hi");                  /* SHORT_BINUNICODE */
    ops(&p, "\x8d\x01");                    /* BINUNICODE8 "z" */
    put(&p, "\0\0\0\0\0\0\0z", 8);
    op(&p, 0x88);                           /* NEWTRUE */
    op(&p, 'N');                            /* NONE */
    ops(&p, "K\x07K\x08\x86");              /* TUPLE2 (7, 8) */
    op(&p, 'e');                            /* APPENDS */
    ops(&p, ".");
    Run r;
    run(&r, &p);
    assert_non_null(r.v);
    assert_int_equal(r.v->kind, PK_LIST);
    assert_int_equal(r.v->n, 10);
    PkValue **it = r.v->items;
    assert_int_equal(it[0]->i, -2);
    assert_int_equal(it[1]->i, 0x1234);
    assert_int_equal(it[2]->i, -32768);
    assert_int_equal(it[3]->i, 0);
    assert_true(it[4]->kind == PK_FLOAT && it[4]->f == 1.5);
    assert_string_equal(it[5]->s, "hi");
    assert_string_equal(it[6]->s, "z");
    assert_true(it[7]->kind == PK_BOOL && it[7]->i == 1);
    assert_int_equal(it[8]->kind, PK_NONE);
    assert_true(it[9]->kind == PK_TUPLE && it[9]->n == 2 && it[9]->items[1]->i == 8);
    done(&r);
}

/* STACK_GLOBAL and FRAME (protocol 4) reach the same OrderedDict. */
static void test_stack_global_frame(void **state) {
    (void)state;
    Bytes p = {.n = 0};
    ops(&p, "\x80\x04\x95\x1e");
    put(&p, "\0\0\0\0\0\0\0", 7);
    ops(&p, "\x8c\x0b" "collections" "\x8c\x0b" "OrderedDict" "\x93)R.");
    Run r;
    run(&r, &p);
    assert_non_null(r.v);
    assert_int_equal(r.v->kind, PK_DICT);
    done(&r);
}

static void test_unknown_opcode(void **state) {
    (void)state;
    Bytes p = {.n = 0};
    ops(&p, "\x80\x02}(I1\n.");     /* INT (text protocol 0) is outside the subset */
    expect_error(&p, "unsupported pickle opcode 0x49 ('I')");
    Bytes q = {.n = 0};
    ops(&q, "\x80\x02\xff.");
    expect_error(&q, "byte 2: unsupported pickle opcode 0xff");
}

static void test_forbidden_globals(void **state) {
    (void)state;
    Bytes p = {.n = 0};
    ops(&p, "\x80\x02\x63os\nsystem\nq\x00X\x02\x00\x00\x00lsR.");
    expect_error(&p, "global 'os.system' is not allowed");
    Bytes q = {.n = 0};
    ops(&q, "\x80\x04\x8c\x08" "builtins" "\x8c\x04" "eval" "\x93.");
    expect_error(&q, "global 'builtins.eval' is not allowed");
    Bytes s = {.n = 0};     /* REDUCE on a storage class: not callable */
    ops(&s, "\x80\x02\x63torch\nFloatStorage\n)R.");
    expect_error(&s, "not an allowed callable");
    Bytes t = {.n = 0};     /* GLOBAL without the newlines */
    ops(&t, "\x80\x02\x63os");
    expect_error(&t, "GLOBAL without");
}

static void test_nesting_limits(void **state) {
    (void)state;
    Bytes p = {.n = 0};
    ops(&p, "\x80\x02");
    for (int i = 0; i < 100; i++)
        op(&p, ']');
    for (int i = 0; i < 99; i++)
        op(&p, 'a');
    op(&p, '.');
    expect_error(&p, "nested deeper than 64");
    Bytes q = {.n = 0};
    ops(&q, "\x80\x02");
    for (int i = 0; i < 2000; i++)
        op(&q, '(');
    expect_error(&q, "more than 1024 nested MARKs");
    Bytes t = {.n = 0};     /* tuples nest too */
    ops(&t, "\x80\x02)");
    for (int i = 0; i < 80; i++)
        op(&t, 0x85);
    op(&t, '.');
    expect_error(&t, "nested deeper than 64");
}

static void test_huge_sizes(void **state) {
    (void)state;
    Bytes p = {.n = 0};
    ops(&p, "\x80\x02X\xf0\xff\xff\xff");
    expect_error(&p, "is too long");
    Bytes q = {.n = 0};
    ops(&q, "\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\xff");
    expect_error(&q, "is too long");
    Bytes s = {.n = 0};     /* a string longer than the data */
    ops(&s, "\x80\x02X\x00\x10\x00\x00" "abc");
    expect_error(&s, "truncated");
    Bytes t = {.n = 0};
    ops(&t, "\x80\x02\x95\xff\xff\xff\xff\xff\xff\xff\x7f}.");
    expect_error(&t, "FRAME longer");
    Bytes u = {.n = 0};
    ops(&u, "\x80\x02\x8a\x09\x01\x01\x01\x01\x01\x01\x01\x01\x01.");
    expect_error(&u, "does not fit in 64 bits");
}

static void test_memo_and_stack(void **state) {
    (void)state;
    Bytes p = {.n = 0};
    ops(&p, "\x80\x02h\x05.");
    expect_error(&p, "memo index 5 was never stored");
    Bytes q = {.n = 0};
    ops(&q, "\x80\x02}r\xff\xff\xff\x7f.");
    expect_error(&q, "memo index 2147483647 out of range");
    Bytes s = {.n = 0};
    ops(&s, "\x80\x02s.");
    expect_error(&s, "stack underflow");
    Bytes t = {.n = 0};
    ops(&t, "\x80\x02t.");
    expect_error(&t, "no MARK");
    Bytes u = {.n = 0};     /* items above a MARK cannot reach below it */
    ops(&u, "\x80\x02}(K\x01s.");
    expect_error(&u, "stack underflow");
    Bytes v = {.n = 0};
    ops(&v, "\x80\x02K\x01K\x02.");
    expect_error(&v, "want exactly one");
    Bytes w = {.n = 0};     /* SETITEM on a list */
    ops(&w, "\x80\x02]K\x01K\x02s.");
    expect_error(&w, "SETITEM on a value of the wrong type");
    Bytes x = {.n = 0};
    ops(&x, "\x80\x09.");
    expect_error(&x, "protocol 9");
}

/* A list appended into itself, or mutated after it went into another container: refused,
 * so no cyclic value can reach a walker. */
static void test_cycles(void **state) {
    (void)state;
    Bytes p = {.n = 0};
    ops(&p, "\x80\x02]q\x00h\x00" "a.");
    expect_error(&p, "inserted into itself");
    Bytes q = {.n = 0};     /* a = [], b = [a], a.append(b) */
    ops(&q, "\x80\x02]q\x00]q\x01h\x00" "ah\x00h\x01" "a.");
    expect_error(&q, "already inside another");
}

static void test_tensor_layouts(void **state) {
    (void)state;
    Bytes p = {.n = 0};
    torch_pickle(&p, 4, 0, 3, 1);       /* storage of 4 elements, shape (2, 3) */
    expect_error(&p, "exceeds its storage of 4 elements");
    Bytes q = {.n = 0};
    torch_pickle(&q, 6, 1, 3, 1);       /* offset 1 + 6 elements > 6 */
    expect_error(&q, "exceeds its storage");
    Bytes s = {.n = 0};
    torch_pickle(&s, 6, 0, 1, 2);       /* transposed view */
    expect_error(&s, "not contiguous");
    Bytes t = {.n = 0};                 /* persistent id that is not a storage */
    ops(&t, "\x80\x02K\x01Q.");
    expect_error(&t, "persistent id is not");
}

/* Every prefix of a valid pickle is an error (no STOP, or an operand cut short). */
static void test_truncation(void **state) {
    (void)state;
    Bytes full = {.n = 0};
    torch_pickle(&full, 6, 0, 3, 1);
    for (size_t n = 0; n < full.n; n++) {
        Bytes p = full;
        p.n = n;
        Run r;
        run(&r, &p);
        assert_null(r.v);
        assert_true(r.d.errors > 0);
        assert_non_null(strstr(r.text, "ck.pt: data.pkl: byte"));
        done(&r);
    }
}

/* Every single-byte corruption of a valid pickle either decodes or fails cleanly; under
 * ASan/UBSan this is a small exhaustive fuzz of the machine. */
static void test_mutations(void **state) {
    (void)state;
    Bytes full = {.n = 0};
    torch_pickle(&full, 6, 0, 3, 1);
    static const uint8_t vals[] = {0x00, 0x01, 0x7f, 0x80, 0xff, '(', ')', 't', 'h', 'Q', 'R',
                                   'u', 's', 'b', 'a', ']', '}', '.', 0x85, 0x93, 0x94};
    int failed = 0, total = 0;
    for (size_t i = 0; i < full.n; i++) {
        for (size_t k = 0; k < sizeof vals; k++) {
            Bytes p = full;
            p.b[i] = vals[k];
            Run r;
            run(&r, &p);
            assert_true((r.v != NULL) == (r.d.errors == 0));
            failed += r.v == NULL;
            total++;
            done(&r);
        }
    }
    assert_true(failed > 0 && failed < total);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_dict_tensor),
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_stack_global_frame),
        cmocka_unit_test(test_unknown_opcode),
        cmocka_unit_test(test_forbidden_globals),
        cmocka_unit_test(test_nesting_limits),
        cmocka_unit_test(test_huge_sizes),
        cmocka_unit_test(test_memo_and_stack),
        cmocka_unit_test(test_cycles),
        cmocka_unit_test(test_tensor_layouts),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
