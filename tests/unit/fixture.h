/* fixture.h: what the unit tests that build graphs by hand share: a Diag writing into memory
 * (Capture), a per-test Fixture (arena + graph + captured diagnostics + default pass options)
 * with cmocka setup/teardown, and helpers that add inputs, constants, nodes and outputs.
 * Header-only (static inline) so that every test file stays one self-contained executable;
 * include it after nothing but the system headers the test itself needs. */
#ifndef QCC_TEST_FIXTURE_H
#define QCC_TEST_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ir/ir.h"
#include "passes/passes.h"

/* ---- captured diagnostics ---- */

/* A Diag writing into memory, so tests can read what the user would see. */
typedef struct Capture {
    Diag d;             /* the diagnostics under test */
    char *text;         /* open_memstream buffer */
    size_t len;         /* its length */
} Capture;

static inline void capture_open(Capture *c) {
    c->text = NULL;
    c->len = 0;
    FILE *f = open_memstream(&c->text, &c->len);
    assert_non_null(f);
    diag_init(&c->d, "t.onnx", f);
}

/* Flush and return the text; owned by c until capture_close. */
static inline const char *capture_text(Capture *c) {
    fflush(c->d.out);
    return c->text ? c->text : "";
}

static inline void capture_close(Capture *c) {
    fclose(c->d.out);
    free(c->text);
}

/* ---- one graph per test ---- */

/* One graph plus captured diagnostics; cmocka hands it to each test as *state. */
typedef struct Fixture {
    Arena arena;        /* owns the graph */
    Graph g;            /* graph under test */
    Capture cap;        /* diagnostics, captured ("t.onnx: error: ...") */
    PassOptions po;     /* default options (all zero: fixed requant, no dumps, no budget) */
} Fixture;

/* cmocka setup/teardown: cmocka_unit_test_setup_teardown(test, fixture_setup,
 * fixture_teardown). */
static inline int fixture_setup(void **state) {
    Fixture *f = calloc(1, sizeof *f);
    arena_init(&f->arena);
    graph_init(&f->g, &f->arena);
    capture_open(&f->cap);
    *state = f;
    return 0;
}

static inline int fixture_teardown(void **state) {
    Fixture *f = *state;
    capture_close(&f->cap);
    arena_free(&f->arena);
    free(f);
    return 0;
}

/* Everything diagnosed so far in this test. */
static inline const char *diag_text(Fixture *f) {
    return capture_text(&f->cap);
}

/* ---- graph building ---- */

/* A tensor of type dt with a static shape (found by name or created; no data, no flags). */
static inline int add_value(Graph *g, const char *name, DType dt, int rank,
                            const int64_t *shape) {
    int id = graph_tensor(g, name);
    Tensor *t = &g->tensors[id];
    t->dtype = dt;
    t->rank = rank;
    memcpy(t->shape, shape, (size_t)rank * sizeof shape[0]);
    t->shape_known = true;
    return id;
}

/* A graph input of type dt with a static shape. */
static inline int add_input(Graph *g, const char *name, DType dt, int rank,
                            const int64_t *shape) {
    int id = add_value(g, name, dt, rank, shape);
    g->tensors[id].flags |= T_INPUT;
    g->inputs[g->ninputs++] = id;
    return id;
}

/* A constant 1-d int64 tensor [n] (shapes, axes, pads, starts...). */
static inline int add_ints(Graph *g, const char *name, int64_t n, const int64_t *v) {
    int id = graph_tensor(g, name);
    int64_t *p = tensor_set_const(g, id, DT_INT64, 1, &n);
    memcpy(p, v, (size_t)n * sizeof v[0]);
    return id;
}

/* A constant float tensor of the given shape (rank 0: a scalar, shape may be NULL). */
static inline int add_floats(Graph *g, const char *name, int rank, const int64_t *shape,
                             const float *v) {
    int id = graph_tensor(g, name);
    float *p = tensor_set_const(g, id, DT_FLOAT, rank, shape);
    memcpy(p, v, (size_t)tensor_numel(&g->tensors[id]) * sizeof v[0]);
    return id;
}

static inline void mark_output(Graph *g, int id) {
    g->tensors[id].flags |= T_OUTPUT;
    g->outputs[g->noutputs++] = id;
}

/* add_node(g, op, name, out, inputs..., -2): a node reading the listed tensor ids (-1 is an
 * absent optional input, -2 ends the list) and writing one output tensor named `out`
 * (created if new). Returns the node's index. */
static inline int add_node(Graph *g, Op op, const char *name, const char *out, ...) {
    int n = graph_add_node(g, op, name);
    va_list ap;
    va_start(ap, out);
    for (int t = va_arg(ap, int); t != -2; t = va_arg(ap, int))
        node_add_input(g, n, t);
    va_end(ap);
    node_add_output(g, n, graph_tensor(g, out));
    return n;
}

/* The (first) output tensor of node n. */
static inline int out_of(Graph *g, int n) {
    return g->nodes[n].out[0];
}

#endif
