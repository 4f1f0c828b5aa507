/* diag.c: user diagnostics ("model.onnx: error: ...") and the internal-error path.
 * The library never calls exit(): errors are counted and callers return false. */
#include "ir.h"

#include <stdarg.h>
#include <stdlib.h>

_Noreturn void qcc_internal_error(const char *file, int line, const char *what) {
    fflush(stdout);
    fprintf(stderr, "qcc: internal error at %s:%d: %s\n", file, line, what);
    abort();
}

void diag_init(Diag *d, const char *file, FILE *out) {
    d->file = file;
    d->out = out;
    d->errors = 0;
    d->quiet_notes = false;
}

static void vreport(Diag *d, const char *kind, const char *fmt, va_list ap) {
    if (!d->out)
        return;
    fprintf(d->out, "%s: %s: ", d->file ? d->file : "qcc", kind);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
}

bool diag_error(Diag *d, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(d, "error", fmt, ap);
    va_end(ap);
    d->errors++;
    return false;
}

void diag_warning(Diag *d, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(d, "warning", fmt, ap);
    va_end(ap);
}

void diag_note(Diag *d, const char *fmt, ...) {
    if (d->quiet_notes)
        return;
    va_list ap;
    va_start(ap, fmt);
    vreport(d, "note", fmt, ap);
    va_end(ap);
}
