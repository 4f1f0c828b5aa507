/* requant.c: (stub, being written) */
#include "passes.h"

#include <math.h>

void quantize_multiplier(double m, int32_t *m0, int32_t *shift) {
    (void)m;
    *m0 = 0;
    *shift = 0;
}

bool pass_requant(Graph *g, const PassOptions *o, Diag *d) {
    (void)g;
    (void)o;
    (void)d;
    return true;
}
