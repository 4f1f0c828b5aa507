/* memplan.c: (stub, being written) */
#include "passes.h"

bool pass_memplan(Graph *g, const PassOptions *o, Diag *d) {
    (void)g;
    (void)o;
    (void)d;
    return true;
}
