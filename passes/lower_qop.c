/* lower_qop.c: (stub, being written) */
#include "passes.h"

bool pass_lower_qop(Graph *g, const PassOptions *o, Diag *d) {
    (void)g;
    (void)o;
    (void)d;
    return true;
}
