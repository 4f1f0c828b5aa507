/* calibrate.c: activation ranges from calibration samples. (Stub: being written.) */
#include "quantize.h"

#include <string.h>

void calib_options_default(CalibOptions *o) {
    *o = (CalibOptions){.method = CALIB_MINMAX, .percentile = 99.999, .bins = 2048,
                        .start = 0.3, .end = 1.7, .step = 0.01, .ema_decay = 0.99};
}

bool calib_method_parse(const char *s, CalibMethod *m) {
    static const char *const names[] = {"minmax", "ema", "percentile", "kl", "symkl", "js"};
    for (int i = 0; i < 6; i++)
        if (strcmp(s, names[i]) == 0) {
            *m = (CalibMethod)i;
            return true;
        }
    return false;
}

bool calibrate_plan(Graph *g, const SampleSet *s, const CalibOptions *o, QuantPlan *p,
                    Diag *d) {
    (void)g, (void)s, (void)o, (void)p;
    return diag_error(d, "calibration is not implemented yet");
}
