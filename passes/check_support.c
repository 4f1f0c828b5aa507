/* check_support.c: (stub, being written) */
#include "passes.h"

bool pass_check_support(Graph *g, const PassOptions *o, Diag *d) {
    (void)g;
    (void)o;
    (void)d;
    return true;
}
