/* compile.c: one compilation, shared by `qcc MODEL -o OUT` and `qcc test`: read the model,
 * run the pipeline, emit through the chosen backend, write OUT and its header. */
#include "driver.h"
#include "../frontend/frontend.h"

#include <string.h>

static bool write_file(const char *path, const StrBuf *sb, Diag *d) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return diag_error(d, "cannot write '%s'", path);
    size_t n = sb->len ? fwrite(sb->data, 1, sb->len, f) : 0;
    bool ok = n == sb->len;
    ok = (fclose(f) == 0) && ok;
    return ok ? true : diag_error(d, "cannot write '%s'", path);
}

/* "dir/model.c" -> "dir/model.h" (any extension replaced; none: ".h" appended). */
static char *header_path(Arena *a, const char *out) {
    const char *slash = strrchr(out, '/');
    const char *dot = strrchr(out, '.');
    size_t stem = (dot && (!slash || dot > slash)) ? (size_t)(dot - out) : strlen(out);
    char *h = arena_alloc(a, stem + 3);
    memcpy(h, out, stem);
    memcpy(h + stem, ".h", 3);
    return h;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int qcc_compile(const char *model_path, const char *out_path, const CompileOptions *o) {
    Arena arena;
    arena_init(&arena);
    Diag d;
    diag_init(&d, model_path, stderr);
    Graph g;
    graph_init(&g, &arena);
    int rc = 1;
    const Target *target = target_find(o->target);
    if (!target) {
        fprintf(stderr, "qcc: error: unknown target '%s'\n", o->target);
        goto done;
    }
    if (!onnx_load(&g, model_path, &d))
        goto done;
    bool float_model = o->qat || o->calibrate;
    if (float_model && !float_model_quantize(&g, o, &d))
        goto done;
    if (float_model && o->report && !qcc_quant_report(model_path, o, &g, stdout, &d))
        goto done;
    PassOptions po = {.requant = o->requant, .dump_after = o->dump_after, .dump_out = stdout,
                      .ram_budget = o->ram_budget, .channels_last = target->channels_last,
                      .planar_convs = target->planar_convs};
    if (!pipeline_run(&g, &po, &d))
        goto done;
    if (o->report)
        qcc_report(&g, stdout);
    if (!out_path) {
        rc = 0;
        goto done;
    }
    char *hpath = header_path(&arena, out_path);
    CodegenOptions co = {.name = o->name, .header_name = base_name(hpath),
                         .source_name = base_name(out_path),
                         .requant = o->requant, .arena_caller = o->arena_caller,
                         .cuda_arch = o->cuda_arch};
    StrBuf src, hdr;
    sb_init(&src);
    sb_init(&hdr);
    bool ok = target->emit(&g, &co, &src, &hdr, &d) && write_file(out_path, &src, &d) &&
              write_file(hpath, &hdr, &d);
    sb_free(&src);
    sb_free(&hdr);
    rc = ok ? 0 : 1;
done:
    arena_free(&arena);
    return rc;
}
