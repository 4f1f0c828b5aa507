/* calib.c: calibration samples from a directory. (Stub: being written.) */
#include "frontend.h"

bool calib_load_samples(Graph *g, const char *dir, SampleSet *s, Diag *d) {
    (void)g, (void)s;
    return diag_error(d, "'%s': calibration samples are not supported yet", dir);
}
