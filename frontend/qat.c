/* qat.c: PyTorch QAT checkpoints. (Stub: being written.) */
#include "frontend.h"

QatCheckpoint *qat_load(Arena *a, const char *path, Diag *d) {
    (void)a;
    diag_error(d, "'%s': QAT checkpoints are not supported yet", path);
    return NULL;
}

bool qat_apply_weights(Graph *g, QatCheckpoint *c, Diag *d) {
    (void)g, (void)c, (void)d;
    return false;
}

bool qat_plan(Graph *g, QatCheckpoint *c, QuantPlan *p, Diag *d) {
    (void)g, (void)c, (void)p, (void)d;
    return false;
}
