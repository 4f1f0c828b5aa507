/* pipeline.c: the ordered table of passes, run one after another with the IR verified (and
 * optionally printed) after each. Adding a pass means adding a row here, nothing else. */
#include "passes.h"
#include "quantize.h"

#include <string.h>

typedef struct PassRow {
    const char *name;   /* --dump-after name */
    PassFn run;         /* the pass */
} PassRow;

static const PassRow pipeline[] = {
    {"fold_constants", pass_fold_constants},   /* Constant/Q-DQ/Cast/Shape on constants */
    {"infer_shapes", pass_infer_shapes},       /* shapes, dtypes, resolved pads and axes */
    {"fold_bn", pass_fold_bn},                 /* BatchNorm into the Conv/Gemm before it */
    {"fold_constants2", pass_fold_constants},  /* what became constant once shapes were known */
    {"remove_dead", pass_remove_dead},         /* nodes nothing reads */
    {"lower_qop", pass_lower_qop},             /* QLinear* / *Integer -> integer ops */
    {"lower_qdq", pass_lower_qdq},             /* DQ -> op -> Q -> integer ops */
    {"remove_dead2", pass_remove_dead},        /* the DQ/Q nodes lowering left behind */
    {"fuse_activation", pass_fuse_activation}, /* Relu/Clip into the producer's clamp */
    {"check_support", pass_check_support},     /* every node compilable, or a diagnostic */
    {"bias_c3", pass_bias_c3},                 /* zero-point terms into an int32 bias */
    {"requant", pass_requant},                 /* multipliers, shifts, LUTs */
    {"layout", pass_layout},                   /* channels-last convs/pools (if asked) */
    {"memplan", pass_memplan},                 /* one static arena */
};

const char *const *pipeline_pass_names(void) {
    static const char *names[sizeof pipeline / sizeof pipeline[0] + 1];
    for (size_t i = 0; i < sizeof pipeline / sizeof pipeline[0]; i++)
        names[i] = pipeline[i].name;
    return names;
}

bool pipeline_run(Graph *g, const PassOptions *o, Diag *d) {
    if (!graph_verify(g, d, "frontend"))
        return false;
    for (size_t i = 0; i < sizeof pipeline / sizeof pipeline[0]; i++) {
        const PassRow *p = &pipeline[i];
        if (!p->run(g, o, d) || d->errors)
            return false;
        if (!graph_verify(g, d, p->name))
            return false;
        if (o->dump_after && (strcmp(o->dump_after, "all") == 0 ||
                              strcmp(o->dump_after, p->name) == 0)) {
            StrBuf sb;
            sb_init(&sb);
            sb_printf(&sb, "# after %s\n", p->name);
            graph_print(g, &sb);
            fputs(sb.data, o->dump_out ? o->dump_out : stdout);
            sb_free(&sb);
        }
    }
    return true;
}
