/* calibrate.h: the range-selection methods of calibrate.c on plain arrays and histograms, so
 * that tests can check them on synthetic distributions without building graphs. One
 * CalibStat gathers one tensor's statistics over all samples; calibrate_plan keeps one per
 * float activation. */
#ifndef QCC_CALIBRATE_H
#define QCC_CALIBRATE_H

#include "quantize.h"

/* Most values a percentile tail cache keeps (per tail, per tensor): 256 KiB. Past it the cut
 * is the cap-th extreme value, i.e. a little less clipping than asked for. */
#define CALIB_TOPK_MAX ((int64_t)1 << 16)

/* The k most extreme values seen (largest, or smallest), as a binary heap whose root is the
 * k-th most extreme: O(k) memory, O(log k) per value that enters. */
typedef struct CalibTopK {
    float *v;               /* heap storage, k entries (arena) */
    int64_t k;              /* capacity */
    int64_t n;              /* entries in use (< k until k values were seen) */
    bool largest;           /* keep the largest (true) or the smallest values */
} CalibTopK;

void calib_topk_init(CalibTopK *t, Arena *a, int64_t k, bool largest);
void calib_topk_push(CalibTopK *t, float x);
/* The k-th largest (smallest) value pushed, or the least extreme kept if fewer than k. */
float calib_topk_kth(const CalibTopK *t);
/* k for the percentile p (in (0, 100]) of total values: ceil((100 - p) / 100 * total), at
 * least 1, at most CALIB_TOPK_MAX; the cut is then the k-th largest (smallest) value. */
int64_t calib_percentile_k(int64_t total, double p);

typedef struct CalibStat {
    float min, max;         /* over every finite value seen (pass 1) */
    double ema_lo, ema_hi;  /* moving average of the per-sample min / max */
    int nsamples;           /* samples seen in pass 1 */
    CalibTopK top, bottom;  /* percentile tails (method percentile only) */
    double *hist;           /* histogram methods: counts of |x| or x (pass 2) */
    int bins;               /* entries of hist */
    bool hist_abs;          /* hist holds |x| (tensor has negative values), else x >= 0 */
    double width;           /* bin width: hist covers [0, bins * width) */
} CalibStat;

/* total: the tensor's elements summed over all samples (sizes the percentile caches). */
void calib_stat_init(CalibStat *s, Arena *a, const CalibOptions *o, int64_t total);
/* Pass 1, one sample of n values: min/max, ema, percentile tails. */
void calib_stat_sample(CalibStat *s, const float *x, int64_t n, const CalibOptions *o);
/* Histogram methods need the range of pass 1 before binning: true if a second pass over the
 * same samples must feed calib_stat_hist. */
bool calib_stat_needs_hist(const CalibOptions *o);
void calib_stat_hist_begin(CalibStat *s, Arena *a, const CalibOptions *o);
void calib_stat_hist(CalibStat *s, const float *x, int64_t n);
/* The chosen float range [lo, hi] (before widening to contain 0). */
void calib_stat_range(const CalibStat *s, const CalibOptions *o, float *lo, float *hi);

/* The histogram search of kl / symkl / js: hist[bins] of bin width `width`, levels
 * quantization levels; returns the clip value t (a bin edge). Definition in calibrate.c. */
double calib_hist_clip(const double *hist, int bins, double width, int levels, CalibMethod m,
                       double start, double end, double step);

/* Everything above on nsamples samples of per values each, stored one after another in x:
 * the range calibrate_plan would choose for a tensor with these values. */
void calib_range_samples(const float *x, int nsamples, int64_t per, const CalibOptions *o,
                         float *lo, float *hi);

#endif
