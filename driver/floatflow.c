/* floatflow.c: the front half of compiling a float model. The float ONNX graph gives the
 * topology; a QAT checkpoint (--qat) or calibration samples (--calibrate) give the ranges;
 * the result is a QDQ graph that the normal pipeline lowers like any QDQ model. */
#include "driver.h"
#include "../frontend/frontend.h"

#include <string.h>

bool float_model_quantize(Graph *g, const CompileOptions *o, Diag *d) {
    if (o->qat && o->calibrate)
        return diag_error(d, "--qat and --calibrate both choose activation ranges: give one");
    QatCheckpoint *ckpt = NULL;
    if (o->qat) {
        ckpt = qat_load(g->arena, o->qat, d);
        if (!ckpt || !qat_apply_weights(g, ckpt, d))
            return false;
    }
    if (!quant_prepare(g, d))
        return false;
    QuantPlan plan;
    memset(&plan, 0, sizeof plan);
    quant_plan_init(g, &plan, o->act_dtype ? o->act_dtype : DT_UINT8);
    plan.weights_per_tensor = o->weights_per_tensor;
    plan.skip = (const char **)o->skip;
    plan.nskip = o->nskip;
    if (ckpt) {
        if (!qat_plan(g, ckpt, &plan, d))
            return false;
    } else {
        SampleSet s;
        memset(&s, 0, sizeof s);
        if (!calib_load_samples(g, o->calibrate, &s, d) ||
            !calibrate_plan(g, &s, &o->calib, &plan, d))
            return false;
    }
    return quantize_graph(g, &plan, d);
}
