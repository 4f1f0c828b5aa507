/* bench/harness.c: times one generated model single-threaded for bench/run.
 * Links with the generated model.c and a small glue file bench/run writes per model
 * (bench_setup fills the inputs, bench_call runs model_run once). Prints one line of
 * key=value pairs; never checks results (the golden suite does that). */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void bench_setup(void);     /* glue: deterministic inputs */
int bench_call(void);       /* glue: one model_run */

static double bench_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int bench_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Usage: harness [--once] [--rounds R] [--round-ms MS] [--batch-us US]
 * Warm-up for ~round-ms, then R rounds; a round takes ~round-ms of batches (each batch runs
 * enough calls to last >= batch-us, so clock overhead stays below 1% even for 1 us models)
 * and yields the median per-call time of its batches. Reported: the median and the minimum
 * of the round medians (rounds expose drift on a shared machine; the median is the figure). */
int main(int argc, char **argv) {
    int rounds = 5, once = 0;
    double round_ms = 200.0, batch_us = 100.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--once")) once = 1;
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--round-ms") && i + 1 < argc) round_ms = atof(argv[++i]);
        else if (!strcmp(argv[i], "--batch-us") && i + 1 < argc) batch_us = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--once] [--rounds R] [--round-ms MS] [--batch-us US]\n",
                    argv[0]);
            return 2;
        }
    }
    if (rounds < 1) rounds = 1;
    bench_setup();
    if (once) /* for callgrind: exactly one model_run */
        return bench_call() == 0 ? 0 : 1;

    /* warm-up (caches, page faults on the arena and weights, CPU clock ramp) */
    double t0 = bench_now_us(), one = 0.0;
    int warm = 0;
    do {
        double a = bench_now_us();
        if (bench_call() != 0) {
            fprintf(stderr, "harness: model_run returned non-zero\n");
            return 1;
        }
        one = bench_now_us() - a;
        warm++;
    } while (warm < 3 || bench_now_us() - t0 < round_ms * 0.5);

    long per_batch = one > 0.0 ? (long)(batch_us / one) + 1 : 1000;
    if (per_batch < 1) per_batch = 1;
    double est_batch = one * (double)per_batch;
    int batches = (int)(round_ms * 1000.0 / (est_batch > 1.0 ? est_batch : 1.0));
    if (batches < 5) batches = 5;
    if (batches > 2000) batches = 2000;

    double *samples = malloc(sizeof(double) * (size_t)batches);
    double *medians = malloc(sizeof(double) * (size_t)rounds);
    if (!samples || !medians) return 1;
    long calls = 0;
    for (int r = 0; r < rounds; r++) {
        for (int b = 0; b < batches; b++) {
            double a = bench_now_us();
            for (long k = 0; k < per_batch; k++) bench_call();
            samples[b] = (bench_now_us() - a) / (double)per_batch;
            calls += per_batch;
        }
        medians[r] = bench_median(samples, batches);
    }
    double best = medians[0];
    for (int r = 1; r < rounds; r++)
        if (medians[r] < best) best = medians[r];
    printf("median_us=%.3f min_round_us=%.3f rounds=%d calls=%ld per_batch=%ld\n",
           bench_median(medians, rounds), best, rounds, calls, per_batch);
    free(samples);
    free(medians);
    return 0;
}
