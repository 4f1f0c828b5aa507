/* quantize.h: making a float model int8 (issue 3). The driver's float-model flow
 * (driver/floatflow.c) is:
 *   onnx_load -> [qat_apply_weights] -> quant_prepare -> plan (qat_plan or calibrate_plan)
 *   -> quantize_graph (inserts QDQ) -> pipeline_run, as for any QDQ model.
 * Every function reports user errors through d and returns false. */
#ifndef QCC_QUANTIZE_H
#define QCC_QUANTIZE_H

#include "passes.h"

/* quantize.c: fold_constants, infer_shapes, fold_bn, remove_dead on a float graph, so that
 * tensor ids are final before a plan is made. */
bool quant_prepare(Graph *g, Diag *d);
/* An empty plan for g (every act[].set false), dtype and options from the arguments. */
void quant_plan_init(Graph *g, QuantPlan *p, DType act_dtype);
/* (scale, zero point) for the float range [lo, hi], widened to contain 0 (asymmetric, as
 * ONNX Runtime's quantizer and PyTorch's observers do). */
ActQuant act_quant_from_range(float lo, float hi, DType dt);
/* Turn the float graph into a QDQ graph: per-channel (or per-tensor) int8 weights behind
 * DequantizeLinear, int32 bias with scale sx*sw[c], QuantizeLinear -> DequantizeLinear on
 * every planned activation; nodes named in p->skip stay float. */
bool quantize_graph(Graph *g, const QuantPlan *p, Diag *d);

/* fold_bn.c: Conv/ConvTranspose/Gemm/MatMul -> BatchNormalization folded into the weights
 * and bias (double arithmetic, rounded once to float). Part of the main pipeline too. */
bool pass_fold_bn(Graph *g, const PassOptions *o, Diag *d);

/* weight_scales.c: symmetric int8 weight quantization, [-127, 127], zero point 0.
 * w is [cout][per] row-major; scale gets cout entries (1 if per_tensor). An all-zero channel
 * gets scale 1 (harmless: every weight quantizes to 0). */
void weight_scales(const float *w, int64_t cout, int64_t per, bool per_tensor, float *scale);
/* q[c][i] = round_half_even(w[c][i] / scale[c or 0]) clamped to [-127, 127]. */
void weight_quantize(const float *w, int64_t cout, int64_t per, bool per_tensor,
                     const float *scale, int8_t *q);
/* The same for a tensor viewed as [outer][cout][inner] (channel axis anywhere: Gemm without
 * transB and MatMul keep output channels last, outer = K, inner = 1). */
void weight_scales_axis(const float *w, int64_t outer, int64_t cout, int64_t inner,
                        bool per_tensor, float *scale);
/* qmin: -127 (our symmetric scales) or -128 (scales taken from a QAT checkpoint: PyTorch's
 * convert quantizes to the full [-128, 127]). */
void weight_quantize_axis(const float *w, int64_t outer, int64_t cout, int64_t inner,
                          bool per_tensor, const float *scale, int qmin, int8_t *q);

/* calibrate.c: run the float graph over the samples, collect per-tensor statistics and pick
 * every activation's range with the chosen method. */
typedef enum CalibMethod {
    CALIB_MINMAX, CALIB_EMA, CALIB_PERCENTILE, CALIB_KL, CALIB_SYMKL, CALIB_JS,
} CalibMethod;

typedef struct CalibOptions {
    CalibMethod method;     /* --calib-method */
    double percentile;      /* --calib-percentile (default 99.999) */
    int bins;               /* --calib-bins (default 2048) */
    double start, end, step;/* clip search over [start, end] x max (0.3 / 1.7 / 0.01) */
    double ema_decay;       /* ema: weight of the running value (0.99... see calibrate.c) */
    bool progress;          /* progress bar on stderr (driver sets it if stderr is a tty) */
} CalibOptions;

void calib_options_default(CalibOptions *o);
bool calib_method_parse(const char *s, CalibMethod *m);
bool calibrate_plan(Graph *g, const SampleSet *s, const CalibOptions *o, QuantPlan *p,
                    Diag *d);

#endif
