/* target_c.c: (stub, being written) */
#include "../codegen.h"

static bool emit_c(const Graph *g, const CodegenOptions *o, StrBuf *src, StrBuf *hdr, Diag *d) {
    (void)g; (void)o; (void)src; (void)hdr;
    return diag_error(d, "C backend not written yet");
}

const Target target_c = {"c", ".c", emit_c};
