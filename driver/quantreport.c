/* quantreport.c: --report for float models. (Stub: being written.) */
#include "driver.h"

bool qcc_quant_report(const char *model_path, const CompileOptions *o, const Graph *qdq,
                      FILE *f, Diag *d) {
    (void)model_path, (void)o, (void)qdq, (void)f, (void)d;
    return true;
}
