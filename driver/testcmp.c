/* testcmp.c: how `qcc test` judges one output: integers exactly (or within --int-tol), floats
 * that came out of a DequantizeLinear in steps of its scale (--tol-steps), other floats with
 * atol + rtol*|want|; NaN equals NaN. Also the top-1 (argmax over the last dim) agreement. */
#include "testcase.h"

#include <math.h>
#include <string.h>

static bool cmp_is_float(DType t) {
    return t == DT_FLOAT || t == DT_DOUBLE || t == DT_FLOAT16;
}

/* Element i of the harness output, whose layout is the generated API's (dtype elements). */
static double cmp_got_f(DType t, const void *p, int64_t i) {
    const unsigned char *b = p;
    switch (t) {
    case DT_FLOAT: {
        float v;
        memcpy(&v, b + (size_t)i * sizeof v, sizeof v);
        return v;
    }
    case DT_DOUBLE: {
        double v;
        memcpy(&v, b + (size_t)i * sizeof v, sizeof v);
        return v;
    }
    default: {
        Tensor t1;
        memset(&t1, 0, sizeof t1);
        t1.dtype = t;
        t1.data = (void *)p;
        return tensor_get_f(&t1, i);
    }
    }
}

static int64_t cmp_got_i(DType t, const void *p, int64_t i) {
    Tensor t1;
    memset(&t1, 0, sizeof t1);
    t1.dtype = t;
    t1.data = (void *)p;
    return tensor_get_i(&t1, i);
}

/* The step (scale) that applies to element i of an output of the given shape. */
static double cmp_step(const OutSpec *spec, const Tensor *want, int64_t i) {
    if (spec->nscale <= 1 || spec->axis < 0 || spec->axis >= want->rank)
        return spec->scale[0];
    int64_t inner = 1;
    for (int d = spec->axis + 1; d < want->rank; d++)
        inner *= want->shape[d];
    int64_t c = want->shape[spec->axis] ? (i / (inner ? inner : 1)) % want->shape[spec->axis]
                                        : 0;
    return c < spec->nscale ? spec->scale[c] : spec->scale[0];
}

/* Argmax agreement over rows of the last dim (first maximum wins, NaN never does). */
static void cmp_top1(const OutSpec *spec, const void *got, const Tensor *want, OutStats *st) {
    if (want->rank < 1 || want->shape[want->rank - 1] <= 1)
        return;
    int64_t last = want->shape[want->rank - 1], rows = tensor_numel(want) / last;
    for (int64_t r = 0; r < rows; r++) {
        int64_t bg = r * last, bw = r * last;
        for (int64_t j = r * last + 1; j < (r + 1) * last; j++) {
            if (cmp_got_f(spec->dtype, got, j) > cmp_got_f(spec->dtype, got, bg))
                bg = j;
            if (tensor_get_f(want, j) > tensor_get_f(want, bw))
                bw = j;
        }
        st->top1_ok += bg == bw;
        st->top1_n++;
    }
}

bool tc_compare(const TestOptions *o, const OutSpec *spec, int set, int k, const void *got,
                int64_t n_got, const Tensor *want, OutStats *st) {
    int64_t n_want = tensor_numel(want);
    if (n_got != n_want) {
        if (!st->first[0])
            snprintf(st->first, sizeof st->first,
                     "set %d output %d (%s): got %lld elements, want %lld", set, k, spec->name,
                     (long long)n_got, (long long)n_want);
        st->bad++;
        return false;
    }
    bool ok = true;
    bool fl = cmp_is_float(spec->dtype) || cmp_is_float(want->dtype);
    for (int64_t i = 0; i < n_want; i++) {
        bool el_ok;
        double diff, steps = 0, g, w;
        if (fl) {
            g = cmp_got_f(spec->dtype, got, i);
            w = tensor_get_f(want, i);
            if (isnan(g) || isnan(w))
                diff = isnan(g) && isnan(w) ? 0 : INFINITY;
            else if (isinf(g) || isinf(w))
                diff = g == w ? 0 : INFINITY;
            else
                diff = fabs(g - w);
            if (spec->nscale > 0) {
                double s = cmp_step(spec, want, i);
                steps = diff / s;
                el_ok = diff <= o->tol_steps * s + 1e-6;
                if (steps > st->max_steps)
                    st->max_steps = steps;
            } else {
                el_ok = diff <= o->atol + o->rtol * fabs(w);
            }
        } else {
            int64_t gi = cmp_got_i(spec->dtype, got, i), wi = tensor_get_i(want, i);
            g = (double)gi;
            w = (double)wi;
            diff = fabs(g - w);
            el_ok = diff <= (double)o->int_tol;
        }
        if (diff > st->max_diff)
            st->max_diff = diff;
        if (el_ok)
            continue;
        ok = false;
        st->bad++;
        if (st->first[0])
            continue;
        int n = snprintf(st->first, sizeof st->first, "set %d output %d (%s) element %lld: "
                         "got %.9g want %.9g", set, k, spec->name, (long long)i, g, w);
        if (spec->nscale > 0 && n > 0 && (size_t)n < sizeof st->first)
            snprintf(st->first + n, sizeof st->first - (size_t)n, " (%.2f steps)", steps);
    }
    cmp_top1(spec, got, want, st);
    return ok;
}

void tc_describe(const OutSpec *spec, const OutStats *st, char *buf, size_t size) {
    int n;
    if (spec->nscale > 0)
        n = snprintf(buf, size, "max diff %.2f steps (%s)", st->max_steps, spec->name);
    else if (cmp_is_float(spec->dtype))
        n = snprintf(buf, size, "max diff %.3g (%s)", st->max_diff, spec->name);
    else
        n = snprintf(buf, size, "max diff %.0f (%s)", st->max_diff, spec->name);
    if (n > 0 && (size_t)n < size && st->top1_n > 0)
        n += snprintf(buf + n, size - (size_t)n, ", top-1 %lld/%lld", (long long)st->top1_ok,
                      (long long)st->top1_n);
    if (n > 0 && (size_t)n < size && st->bad > 0)
        snprintf(buf + n, size - (size_t)n, ", %lld elements off", (long long)st->bad);
}
