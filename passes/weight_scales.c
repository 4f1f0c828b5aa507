/* weight_scales.c: symmetric per-channel int8 weight scales. (Stub: being written.) */
#include "quantize.h"

void weight_scales(const float *w, int64_t cout, int64_t per, bool per_tensor, float *scale) {
    (void)w, (void)per;
    for (int64_t c = 0; c < (per_tensor ? 1 : cout); c++)
        scale[c] = 1.0f;
}

void weight_quantize(const float *w, int64_t cout, int64_t per, bool per_tensor,
                     const float *scale, int8_t *q) {
    (void)w, (void)per_tensor, (void)scale;
    for (int64_t i = 0; i < cout * per; i++)
        q[i] = 0;
}
