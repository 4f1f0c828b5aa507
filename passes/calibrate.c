/* calibrate.c: activation ranges from calibration samples. The float interpreter (interp.c)
 * runs the prepared float graph on every sample; each float activation (graph inputs and node
 * outputs, not constants) gets a CalibStat, and --calib-method turns it into a range:
 *   minmax      min and max over all samples;
 *   ema         r_1 = m_1, r_k = decay * r_(k-1) + (1 - decay) * m_k, for the per-sample
 *               min and max separately (decay = --ema-decay; PyTorch's moving-average
 *               observer with averaging constant 1 - decay);
 *   percentile  each tail cut at p: hi = the k-th largest value, lo = the k-th smallest,
 *               k = ceil((100 - p) / 100 * N) over all N values (top-k caches, O(k) memory);
 *   kl, symkl, js  a histogram search (calib_hist_clip below), on a second pass once the
 *               range of the first is known.
 * It never changes the graph; it only fills the plan. */
#include "calibrate.h"
#include "interp.h"

#include <math.h>
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

/* ---- top-k caches ---- */

void calib_topk_init(CalibTopK *t, Arena *a, int64_t k, bool largest) {
    QCC_ASSERT(k >= 1 && k <= CALIB_TOPK_MAX);
    t->v = arena_calloc(a, (size_t)k, sizeof *t->v);
    t->k = k;
    t->n = 0;
    t->largest = largest;
}

/* Heap order: the root is the least extreme kept (min-heap for largest values). */
static bool topk_before(const CalibTopK *t, float a, float b) {
    return t->largest ? a < b : a > b;
}

static void topk_sift_down(CalibTopK *t, int64_t i) {
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->n && topk_before(t, t->v[l], t->v[m]))
            m = l;
        if (r < t->n && topk_before(t, t->v[r], t->v[m]))
            m = r;
        if (m == i)
            return;
        float tmp = t->v[i];
        t->v[i] = t->v[m];
        t->v[m] = tmp;
        i = m;
    }
}

void calib_topk_push(CalibTopK *t, float x) {
    if (t->n < t->k) {
        int64_t i = t->n++;
        t->v[i] = x;
        while (i > 0 && topk_before(t, t->v[i], t->v[(i - 1) / 2])) {
            float tmp = t->v[i];
            t->v[i] = t->v[(i - 1) / 2];
            t->v[(i - 1) / 2] = tmp;
            i = (i - 1) / 2;
        }
    } else if (topk_before(t, t->v[0], x)) {
        t->v[0] = x;
        topk_sift_down(t, 0);
    }
}

float calib_topk_kth(const CalibTopK *t) {
    return t->n ? t->v[0] : 0.0f;
}

int64_t calib_percentile_k(int64_t total, double p) {
    /* the small epsilon keeps k = 10 for p = 99 over 1000 values (0.01 * 1000 is 10.000002
     * in binary floating point) */
    double k = ceil((100.0 - p) / 100.0 * (double)total - 1e-6);
    if (k < 1)
        return 1;
    return k > (double)CALIB_TOPK_MAX ? CALIB_TOPK_MAX : (int64_t)k;
}

/* ---- statistics of one tensor ---- */

void calib_stat_init(CalibStat *s, Arena *a, const CalibOptions *o, int64_t total) {
    memset(s, 0, sizeof *s);
    s->min = INFINITY;
    s->max = -INFINITY;
    if (o->method == CALIB_PERCENTILE) {
        int64_t k = calib_percentile_k(total, o->percentile);
        calib_topk_init(&s->top, a, k, true);
        calib_topk_init(&s->bottom, a, k, false);
    }
}

void calib_stat_sample(CalibStat *s, const float *x, int64_t n, const CalibOptions *o) {
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
        if (o->method == CALIB_PERCENTILE) {
            calib_topk_push(&s->top, x[i]);
            calib_topk_push(&s->bottom, x[i]);
        }
    }
    if (lo > hi)
        return; /* nothing finite in this sample */
    s->min = lo < s->min ? lo : s->min;
    s->max = hi > s->max ? hi : s->max;
    if (s->nsamples++ == 0) {
        s->ema_lo = lo;
        s->ema_hi = hi;
    } else {
        s->ema_lo = o->ema_decay * s->ema_lo + (1.0 - o->ema_decay) * lo;
        s->ema_hi = o->ema_decay * s->ema_hi + (1.0 - o->ema_decay) * hi;
    }
}

bool calib_stat_needs_hist(const CalibOptions *o) {
    return o->method == CALIB_KL || o->method == CALIB_SYMKL || o->method == CALIB_JS;
}

void calib_stat_hist_begin(CalibStat *s, Arena *a, const CalibOptions *o) {
    s->bins = o->bins;
    s->hist = arena_calloc(a, (size_t)s->bins, sizeof *s->hist);
    s->hist_abs = s->min < 0.0f;
    double top = s->nsamples ? (s->hist_abs ? fmax(-s->min, s->max) : s->max) : 0.0;
    s->width = top > 0.0 ? top / s->bins : 1.0;
}

void calib_stat_hist(CalibStat *s, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        double v = s->hist_abs ? fabs(x[i]) : (x[i] > 0.0f ? x[i] : 0.0);
        int64_t b = (int64_t)(v / s->width);
        s->hist[b < s->bins ? b : s->bins - 1] += 1.0;
    }
}

/* ---- the histogram search ----
 * hist[j] counts values in [j*width, (j+1)*width); bins past the end count 0. A candidate clip
 * t = s * bins * width, s = start, start + step, ... <= end, keeps i = round(s * bins) bins
 * (TensorRT's entropy calibrator, as MXNet and ONNX Runtime's quantizer re-implement it):
 *   P = hist[0..i-1], with everything at or past bin i added to P[i-1] (outliers clipped to t);
 *   Q = hist[0..i-1] quantized: bins [floor(l*i/L), floor((l+1)*i/L)) form level l
 *       (L = levels); the level's count, without the outliers, is spread evenly over its bins
 *       where P > 0, and Q = 0 where P = 0;
 *   both smoothed (eps = 1e-4 counts added to each zero bin and taken evenly from the others,
 *   so that the clipped outlier mass, absent from Q, costs a finite amount), then normalised
 *   to sum 1, and compared:
 *   kl     KL(P||Q) = sum p log(p/q)
 *   symkl  KL(P||Q) + KL(Q||P)
 *   js     (KL(P||M) + KL(Q||M)) / 2, M = (P + Q) / 2.
 * Candidates with i < L are skipped (Q would equal P); the smallest divergence wins, the
 * smaller clip on ties; with no candidate the clip is the histogram's end (no clipping). */
static double kl_term(double p, double q) {
    return p > 0.0 ? p * log(p / q) : 0.0;
}

/* The smoothing above, in place on h[0..n-1]; returns the (unchanged) total. */
static double hist_smooth(double *h, int64_t n) {
    const double eps = 1e-4;
    int64_t zeros = 0;
    double total = 0.0;
    for (int64_t j = 0; j < n; j++) {
        zeros += h[j] == 0.0;
        total += h[j];
    }
    if (zeros == 0 || zeros == n)
        return total;
    double take = eps * (double)zeros / (double)(n - zeros);
    for (int64_t j = 0; j < n; j++)
        h[j] = h[j] == 0.0 ? eps : h[j] - take;
    return total;
}

double calib_hist_clip(const double *hist, int bins, double width, int levels, CalibMethod m,
                       double start, double end, double step) {
    int64_t maxi = (int64_t)ceil(end * bins) + 1;
    double total = 0.0;
    for (int j = 0; j < bins; j++)
        total += hist[j];
    double best_t = bins * width, best = INFINITY;
    if (total <= 0.0 || step <= 0.0 || end < start)
        return best_t;
    /* scratch: P and Q for the widest candidate; heap memory (freed below) because the
     * search is called from tests without an arena */
    Arena scratch;
    arena_init(&scratch);
    double *p = arena_calloc(&scratch, (size_t)maxi + 1, sizeof *p);
    double *q = arena_calloc(&scratch, (size_t)maxi + 1, sizeof *q);
    int64_t nsteps = (int64_t)floor((end - start) / step + 1e-9) + 1;
    for (int64_t c = 0; c < nsteps; c++) {
        double s = start + (double)c * step;
        int64_t i = (int64_t)llround(s * bins);
        if (i < levels || i > maxi)
            continue;
        double tail = 0.0;
        for (int64_t j = 0; j < bins; j++)
            if (j >= i)
                tail += hist[j];
        for (int64_t j = 0; j < i; j++)
            p[j] = j < bins ? hist[j] : 0.0;
        p[i - 1] += tail;
        for (int l = 0; l < levels; l++) {
            int64_t lo = (int64_t)l * i / levels, hi = (int64_t)(l + 1) * i / levels;
            double sum = 0.0;
            int64_t nz = 0;
            for (int64_t j = lo; j < hi; j++) {
                sum += j < bins ? hist[j] : 0.0;
                nz += p[j] > 0.0;
            }
            for (int64_t j = lo; j < hi; j++)
                q[j] = p[j] > 0.0 ? sum / (double)nz : 0.0;
        }
        double psum = hist_smooth(p, i), qsum = hist_smooth(q, i);
        double div = 0.0;
        for (int64_t j = 0; j < i; j++) {
            double pj = p[j] / psum, qj = q[j] / qsum, mj = 0.5 * (pj + qj);
            if (m == CALIB_KL)
                div += kl_term(pj, qj);
            else if (m == CALIB_SYMKL)
                div += kl_term(pj, qj) + kl_term(qj, pj);
            else
                div += 0.5 * (kl_term(pj, mj) + kl_term(qj, mj));
        }
        if (div < best - 1e-12) {
            best = div;
            best_t = (double)i * width;
        }
    }
    arena_free(&scratch);
    return best_t;
}

void calib_stat_range(const CalibStat *s, const CalibOptions *o, float *lo, float *hi) {
    if (s->nsamples == 0) {
        *lo = *hi = 0.0f;
        return;
    }
    *lo = s->min;
    *hi = s->max;
    switch (o->method) {
    case CALIB_MINMAX:
        break;
    case CALIB_EMA:
        *lo = (float)s->ema_lo;
        *hi = (float)s->ema_hi;
        break;
    case CALIB_PERCENTILE:
        *lo = calib_topk_kth(&s->bottom);
        *hi = calib_topk_kth(&s->top);
        break;
    case CALIB_KL: case CALIB_SYMKL: case CALIB_JS: {
        QCC_ASSERT(s->hist);
        /* |x| (signed tensors) is quantized with about 128 levels a side; x >= 0 uses all
         * 255 steps of 8 bits */
        int levels = s->hist_abs ? 128 : 255;
        double t = calib_hist_clip(s->hist, s->bins, s->width, levels, o->method, o->start,
                                   o->end, o->step);
        if (s->hist_abs) {
            *lo = (float)fmax(s->min, -t);
            *hi = (float)fmin(s->max, t);
        } else {
            *hi = (float)fmin(s->max, t);
        }
        break;
    }
    }
}

void calib_range_samples(const float *x, int nsamples, int64_t per, const CalibOptions *o,
                         float *lo, float *hi) {
    Arena a;
    arena_init(&a);
    CalibStat s;
    calib_stat_init(&s, &a, o, (int64_t)nsamples * per);
    for (int k = 0; k < nsamples; k++)
        calib_stat_sample(&s, x + k * per, per, o);
    if (calib_stat_needs_hist(o)) {
        calib_stat_hist_begin(&s, &a, o);
        for (int k = 0; k < nsamples; k++)
            calib_stat_hist(&s, x + k * per, per);
    }
    calib_stat_range(&s, o, lo, hi);
    arena_free(&a);
}

/* ---- the graph ---- */

/* A bar on stderr (the driver asks for it when stderr is a terminal), for more than 8
 * samples: below that calibration is instant. */
static void progress(const CalibOptions *o, int nsamples, int done, int total) {
    if (!o->progress || nsamples <= 8)
        return;
    int w = 30, fill = total ? done * w / total : w;
    fprintf(stderr, "\rqcc: calibrating [%.*s%*s] %d/%d", fill,
            "##############################", w - fill, "", done, total);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

bool calibrate_plan(Graph *g, const SampleSet *s, const CalibOptions *o, QuantPlan *p,
                    Diag *d) {
    if (s->n <= 0)
        return diag_error(d, "no calibration samples");
    if (s->ninputs != g->ninputs)
        return diag_error(d, "calibration samples have %d inputs, the graph %d", s->ninputs,
                          g->ninputs);
    Interp ip;
    bool ok = interp_init(&ip, g, d);
    /* the float activations: graph inputs and node outputs with float values */
    CalibStat *st = arena_calloc(&ip.arena, (size_t)g->ntensors + 1, sizeof *st);
    bool *act = arena_calloc(&ip.arena, (size_t)g->ntensors + 1, sizeof *act);
    for (int t = 0; ok && t < g->ntensors && t < p->ntensors; t++) {
        const Tensor *x = &g->tensors[t];
        act[t] = ip.val[t] && x->dtype == DT_FLOAT && !tensor_is_const(x);
        if (act[t])
            calib_stat_init(&st[t], &ip.arena, o, tensor_numel(x) * s->n);
    }
    bool hist = calib_stat_needs_hist(o);
    int steps = s->n * (hist ? 2 : 1);
    for (int pass = 0; ok && pass < (hist ? 2 : 1); pass++) {
        for (int t = 0; pass == 1 && t < g->ntensors; t++)
            if (act[t])
                calib_stat_hist_begin(&st[t], &ip.arena, o);
        for (int k = 0; ok && k < s->n; k++) {
            ok = interp_run(&ip, &s->t[(size_t)k * s->ninputs], d);
            for (int t = 0; ok && t < g->ntensors; t++) {
                if (!act[t])
                    continue;
                int64_t n = tensor_numel(&g->tensors[t]);
                if (pass == 0)
                    calib_stat_sample(&st[t], ip.val[t], n, o);
                else
                    calib_stat_hist(&st[t], ip.val[t], n);
            }
            progress(o, s->n, pass * s->n + k + 1, steps);
        }
    }
    for (int t = 0; ok && t < g->ntensors; t++) {
        if (!act[t])
            continue;
        float lo, hi;
        calib_stat_range(&st[t], o, &lo, &hi);
        p->act[t] = act_quant_from_range(lo, hi, p->act_dtype);
    }
    interp_free(&ip);
    return ok;
}
