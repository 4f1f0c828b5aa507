/* fuzz_onnx.c: the fuzz target. One input = one model file's bytes, read from memory and run
 * through the whole pass pipeline (no codegen) with diagnostics thrown away. Any crash,
 * sanitizer report or failed QCC_ASSERT is a bug: hostile models must end in a diagnostic.
 * Built as a libFuzzer target (clang) and linked into fuzz_replay (any compiler). */
#include "frontend/frontend.h"
#include "passes/passes.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Messages are formatted (so their code runs) but go nowhere; opened once because the fuzzer
 * calls us millions of times. */
static FILE *fuzz_null_stream(void) {
    static FILE *null_out;
    if (!null_out)
        null_out = fopen("/dev/null", "w");
    if (!null_out)
        null_out = tmpfile(); /* no /dev/null (odd platforms): a scratch file, still cheap */
    return null_out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *out = fuzz_null_stream();
    if (!out)
        return 0;
    rewind(out); /* keeps the tmpfile fallback from growing without bound */
    Arena arena;
    arena_init(&arena);
    Graph g;
    graph_init(&g, &arena);
    Diag d;
    diag_init(&d, "fuzz.onnx", out);
    d.quiet_notes = true;
    /* name NULL: external data is refused, so an input cannot make us read other files */
    if (onnx_load_memory(&g, NULL, data, size, &d)) {
        PassOptions po = {.requant = REQUANT_FIXED, .dump_out = out};
        pipeline_run(&g, &po, &d);
    }
    arena_free(&arena);
    return 0;
}
