/* lower_qdq.c: (stub, being written) */
#include "passes.h"

bool pass_lower_qdq(Graph *g, const PassOptions *o, Diag *d) {
    (void)g;
    (void)o;
    (void)d;
    return true;
}
