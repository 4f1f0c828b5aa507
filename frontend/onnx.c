/* onnx.c: (stub, being written) */
#include "frontend.h"

bool onnx_load(Graph *g, const char *path, Diag *d) {
    (void)g;
    return diag_error(d, "cannot read %s: ONNX reader not written yet", path);
}

bool onnx_load_tensor(Arena *a, const char *path, Tensor *t, Diag *d) {
    (void)a;
    (void)t;
    return diag_error(d, "cannot read %s", path);
}
