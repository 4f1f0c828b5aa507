/* driver.h: what the two driver files share: compile options and the compile step that both
 * `qcc MODEL -o OUT` and `qcc test DIR` run. */
#ifndef QCC_DRIVER_H
#define QCC_DRIVER_H

#include "../codegen/codegen.h"
#include "../passes/quantize.h"

typedef struct CompileOptions {
    const char *target;      /* backend name ("c") */
    const char *cuda_arch;   /* --cuda-arch=sm_XX for --target=cuda (NULL: sm_75) */
    const char *name;        /* symbol prefix (default "model") */
    RequantMode requant;     /* --requant */
    const char *dump_after;  /* --dump-after */
    bool report;             /* --report: per-node table on stdout */
    bool arena_caller;       /* --arena=caller */
    int64_t ram_budget;      /* --ram-budget */
    /* float models (issue 3): quantized by qcc itself */
    const char *qat;         /* --qat CHECKPOINT.pt */
    const char *calibrate;   /* --calibrate DIR */
    const char *samples;     /* --samples DIR: inputs for the --report SQNR table */
    CalibOptions calib;      /* --calib-method, --calib-percentile, --calib-bins */
    DType act_dtype;         /* --act-dtype uint8|int8 */
    bool weights_per_tensor; /* --weights=per-tensor */
    const char *skip[64];    /* --skip NODE (repeatable) */
    int nskip;
} CompileOptions;

/* Compile model_path to out_path (+ the header beside it). Returns 0, or 1 after
 * diagnostics. */
int qcc_compile(const char *model_path, const char *out_path, const CompileOptions *o);

/* options.c: one float-model option (--qat, --calibrate, --calib-*, --act-dtype, --weights,
 * --skip, --samples) at argv[*i] into o, shared by qcc and qcc test: 1 if consumed (*i
 * advanced past a separate value), 0 if argv[*i] is no such option, -1 after printing an
 * error prefixed with prog. */
int float_options_parse(int argc, char **argv, int *i, CompileOptions *o, const char *prog);

/* options.c: "--opt=value" or "--opt value": the value (advancing *i), or NULL when argv[*i]
 * is not opt; a missing value prints "PROG: error: ..." and sets *bad. */
const char *option_value(int argc, char **argv, int *i, const char *opt, const char *prog,
                         bool *bad);
/* floatflow.c: a float graph plus --qat or --calibrate becomes a QDQ graph (before
 * pipeline_run). */
bool float_model_quantize(Graph *g, const CompileOptions *o, Diag *d);
/* quantreport.c: --report for a float model: per quantized layer, the SQNR of the int8
 * result against the float interpreter on the samples, and the top-1 agreement. */
bool qcc_quant_report(const char *model_path, const CompileOptions *o, const Graph *qdq,
                      FILE *f, Diag *d);

/* The --report table of a compiled graph (report.c). */
void qcc_report(const Graph *g, FILE *f);

/* `qcc test DIR...` (testcase.c). */
int qcc_test_main(int argc, char **argv);

#endif
