/* passes.h: every transformation of the IR, one per file, and the ordered pipeline.
 * A pass is `bool pass_x(Graph *g, const PassOptions *o, Diag *d)`: no global state,
 * user errors reported through d (false return), IR verified after each one. */
#ifndef QCC_PASSES_H
#define QCC_PASSES_H

#include "../ir/ir.h"

typedef enum RequantMode {
    REQUANT_FIXED, /* Q31 multiplier + shift, integer only (gemmlowp/TFLite) */
    REQUANT_FLOAT, /* float multiply, round half to even (ONNX Runtime) */
} RequantMode;

typedef struct PassOptions {
    RequantMode requant;        /* which arithmetic codegen will emit (passes fill both) */
    const char *dump_after;     /* pass name or "all": print the IR after it (NULL: none) */
    FILE *dump_out;             /* where dumps go */
    int64_t ram_budget;         /* fail if the arena exceeds it (0: no limit) */
} PassOptions;

typedef bool (*PassFn)(Graph *g, const PassOptions *o, Diag *d);

bool pass_fold_constants(Graph *g, const PassOptions *o, Diag *d);  /* fold_constants.c */
bool pass_infer_shapes(Graph *g, const PassOptions *o, Diag *d);    /* infer_shapes.c */
bool pass_remove_dead(Graph *g, const PassOptions *o, Diag *d);     /* remove_dead.c */
bool pass_lower_qop(Graph *g, const PassOptions *o, Diag *d);       /* lower_qop.c */
bool pass_lower_qdq(Graph *g, const PassOptions *o, Diag *d);       /* lower_qdq.c */
bool pass_check_support(Graph *g, const PassOptions *o, Diag *d);   /* check_support.c */
bool pass_fuse_activation(Graph *g, const PassOptions *o, Diag *d); /* fuse_activation.c */
bool pass_bias_c3(Graph *g, const PassOptions *o, Diag *d);         /* bias_c3.c */
bool pass_requant(Graph *g, const PassOptions *o, Diag *d);         /* requant.c */
bool pass_memplan(Graph *g, const PassOptions *o, Diag *d);         /* memplan.c */

/* Run the whole pipeline (pipeline.c), verifying and optionally dumping after each pass. */
bool pipeline_run(Graph *g, const PassOptions *o, Diag *d);
/* Names of the passes in order, NULL-terminated (for --help and --dump-after checking). */
const char *const *pipeline_pass_names(void);

/* requant.c: the arithmetic shared with unit tests. */
/* Split a real multiplier M >= 0 into m0 (Q31, [2^30, 2^31)) and shift with
 * M ~= m0 * 2^(shift-31). M == 0 (or too small to matter) gives m0 = 0, shift = 0. */
void quantize_multiplier(double m, int32_t *m0, int32_t *shift);

#endif
