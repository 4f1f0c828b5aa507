/* bias_c3.c: (stub, being written) */
#include "passes.h"

bool pass_bias_c3(Graph *g, const PassOptions *o, Diag *d) {
    (void)g;
    (void)o;
    (void)d;
    return true;
}
