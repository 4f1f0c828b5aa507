/* driver.h: what the two driver files share: compile options and the compile step that both
 * `qcc MODEL -o OUT` and `qcc test DIR` run. */
#ifndef QCC_DRIVER_H
#define QCC_DRIVER_H

#include "../codegen/codegen.h"

typedef struct CompileOptions {
    const char *target;      /* backend name ("c") */
    const char *name;        /* symbol prefix (default "model") */
    RequantMode requant;     /* --requant */
    const char *dump_after;  /* --dump-after */
    bool report;             /* --report: per-node table on stdout */
    bool arena_caller;       /* --arena=caller */
    int64_t ram_budget;      /* --ram-budget */
} CompileOptions;

/* Compile model_path to out_path (+ the header beside it). Returns 0, or 1 after
 * diagnostics. */
int qcc_compile(const char *model_path, const char *out_path, const CompileOptions *o);

/* The --report table of a compiled graph (report.c). */
void qcc_report(const Graph *g, FILE *f);

/* `qcc test DIR...` (testcase.c). */
int qcc_test_main(int argc, char **argv);

#endif
