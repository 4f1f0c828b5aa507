/* fuse_activation.c: (stub, being written) */
#include "passes.h"

bool pass_fuse_activation(Graph *g, const PassOptions *o, Diag *d) {
    (void)g;
    (void)o;
    (void)d;
    return true;
}
