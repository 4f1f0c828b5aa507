/* testcase.h: what the `qcc test` files share (private to driver/): options, the per-case
 * description, process/file helpers (testrun.c) and output comparison (testcmp.c).
 * testcase.c drives; nothing here is used by `qcc MODEL -o OUT`. */
#ifndef QCC_TESTCASE_H
#define QCC_TESTCASE_H

#include "driver.h"

#include <sys/types.h>

typedef struct TestOptions {
    CompileOptions co;      /* what qcc_compile gets (--requant, --name) */
    const char *model;      /* --model FILE (NULL: found in DIR) */
    const char *cc;         /* --cc / $CC (may hold words: "ccache gcc") */
    const char *cflags;     /* --cflags, appended after ours */
    double tol_steps;       /* --tol-steps: float outputs of quantized models */
    int64_t int_tol;        /* --int-tol: integer outputs */
    double atol, rtol;      /* --atol / --rtol: other float outputs */
    bool keep;              /* --keep: leave the temp dir */
    bool sanitize;          /* --sanitize: UBSan + ASan on the harness */
    bool classify;          /* --classify: "unsupported" compile errors are not failures */
    bool top1;              /* --top1: a top-1 disagreement is a failure */
    bool freeze;            /* --freeze-params: bind parameter inputs (testfreeze.c) */
    int verbose;            /* -v */
    const char *runner;     /* --runner: words run before the harness ("qemu-aarch64 -L ...") */
    const char *save_dir;   /* --save-outputs: copy set N's output K to DIR/set_N_out_K.bin */
} TestOptions;

/* Outcome of one case, also the exit status of the child that ran it. */
enum { TC_PASS = 0, TC_FAIL = 1, TC_UNSUPPORTED = 2, TC_SKIP = 3 };

/* How one graph output is compared. */
typedef struct OutSpec {
    const char *name;       /* ONNX output name (for messages) */
    DType dtype;            /* element type the generated API writes */
    int nscale;             /* 0: not a dequantized output; 1 per tensor; >1 per axis */
    const float *scale;     /* step of the output grid (DequantizeLinear scale) */
    int axis;               /* channel axis when nscale > 1 */
} OutSpec;

/* Running statistics of one output over every test_data_set. */
typedef struct OutStats {
    double max_diff;        /* largest |got - want| */
    double max_steps;       /* same in output steps (quantized outputs) */
    int64_t bad;            /* elements out of tolerance */
    int64_t top1_ok, top1_n;/* argmax agreement over rows of the last dim */
    char first[320];        /* the first failure, already formatted ("" if none) */
} OutStats;

/* testrun.c: temp dirs, files, processes. */
char *tc_join(Arena *a, const char *dir, const char *name);
bool tc_is_dir(const char *path);
bool tc_is_file(const char *path);
/* A fresh directory under $TMPDIR (or /tmp); NULL after printing why. */
char *tc_mkdtemp(Arena *a);
/* Remove the files of a flat directory, then the directory. */
void tc_rmtree(const char *dir);
/* Whole file, NUL-terminated, in the arena; NULL if unreadable. */
char *tc_read_file(Arena *a, const char *path, size_t *len);
bool tc_write_file(const char *path, const void *data, size_t len);
/* Split a command string on blanks into argv entries appended at argv[*n]. */
void tc_split_words(Arena *a, const char *s, const char **argv, int *n, int max);
/* Run argv (PATH lookup) with stdout+stderr into log (NULL: inherited), kill it after
 * timeout_s seconds. Returns the wait status, or -1 if it could not start; *timed_out set. */
int tc_spawn(const char *const *argv, const char *log, int timeout_s, bool *timed_out);
/* Wait for pid, SIGKILL after timeout_s; the wait status (or -1). */
int tc_wait(pid_t pid, int timeout_s, bool *timed_out);
/* "exit 3", "signal 11 (Segmentation fault)", "timeout after 60 s" for messages. */
const char *tc_status_text(Arena *a, int status, bool timed_out, int timeout_s);

/* testfreeze.c: write a copy of model to out_path in which graph inputs that no node reads
 * at slot 0 are initializers with set0's input_K.pb values. runtime_index gets the test-data
 * index K of each input left to the caller (nruntime of them), names the frozen inputs.
 * False if nothing could be frozen. */
bool tc_freeze(Arena *a, const char *model, const char *set0, const char *out_path,
               int *runtime_index, int *nruntime, char *names, size_t names_size);

/* testcmp.c: comparing one output of one data set. */
/* Compare got (n_got elements of spec->dtype) with the expected tensor; updates st. Returns
 * false if anything is out of tolerance (st->first describes the first such element). */
bool tc_compare(const TestOptions *o, const OutSpec *spec, int set, int k, const void *got,
                int64_t n_got, const Tensor *want, OutStats *st);
/* "max diff 0.50 steps (logits), top-1 4/4" into buf. */
void tc_describe(const OutSpec *spec, const OutStats *st, char *buf, size_t size);

#endif
