/* weight_scales.c: symmetric int8 quantization of float weights (issue 3 sec. 2):
 * scale[c] = max|w[c]| / 127, zero point 0, values in [-127, 127] so that negating a weight
 * never overflows; per output channel by default, or one scale for the whole tensor. A
 * channel of zeros gets scale 1 (every weight quantizes to 0, and sx*sw stays positive). */
#include "quantize.h"

#include <math.h>

/* Element (o, c, i) of a tensor viewed as [outer][cout][inner]: the channel axis need not be
 * the first (Gemm without transB and MatMul keep output channels in the last axis). */
static int64_t at(int64_t o, int64_t c, int64_t i, int64_t cout, int64_t inner) {
    return (o * cout + c) * inner + i;
}

void weight_scales_axis(const float *w, int64_t outer, int64_t cout, int64_t inner,
                        bool per_tensor, float *scale) {
    float all = 0.0f;
    for (int64_t c = 0; c < cout; c++) {
        float m = 0.0f;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++) {
                float a = fabsf(w[at(o, c, i, cout, inner)]);
                m = a > m ? a : m; /* a NaN weight never wins: the scale stays finite */
            }
        if (!per_tensor)
            scale[c] = m > 0.0f ? m / 127.0f : 1.0f;
        all = m > all ? m : all;
    }
    if (per_tensor)
        scale[0] = all > 0.0f ? all / 127.0f : 1.0f;
    /* max|w| / 127 underflows to 0 only for subnormal weights: treat those as zeros too */
    for (int64_t c = 0; c < (per_tensor ? 1 : cout); c++)
        if (!(scale[c] > 0.0f) || !isfinite(scale[c]))
            scale[c] = 1.0f;
}

void weight_quantize_axis(const float *w, int64_t outer, int64_t cout, int64_t inner,
                          bool per_tensor, const float *scale, int qmin, int8_t *q) {
    float lo = (float)qmin;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < cout; c++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t e = at(o, c, i, cout, inner);
                /* |w| <= max|w| = 127*s, so the quotient is within [-127, 127] up to one
                 * rounding of the division; the clamp covers that, the subnormal case and
                 * scales given from elsewhere (a checkpoint's) */
                float v = nearbyintf(w[e] / scale[per_tensor ? 0 : c]);
                q[e] = (int8_t)(v > 127.0f ? 127 : v < lo ? qmin : v != v ? 0 : (int)v);
            }
}

void weight_scales(const float *w, int64_t cout, int64_t per, bool per_tensor, float *scale) {
    weight_scales_axis(w, 1, cout, per, per_tensor, scale);
}

void weight_quantize(const float *w, int64_t cout, int64_t per, bool per_tensor,
                     const float *scale, int8_t *q) {
    weight_quantize_axis(w, 1, cout, per, per_tensor, scale, -127, q);
}
