/* quantize.c: float graph + QuantPlan -> QDQ graph. (Stub: being written.) */
#include "quantize.h"

bool quant_prepare(Graph *g, Diag *d) {
    (void)g;
    return diag_error(d, "quantizing float models is not implemented yet");
}

void quant_plan_init(Graph *g, QuantPlan *p, DType act_dtype) {
    p->ntensors = g->ntensors;
    p->act = arena_calloc(g->arena, (size_t)g->ntensors + 1, sizeof *p->act);
    p->act_dtype = act_dtype;
    p->weights_per_tensor = false;
    p->skip = NULL;
    p->nskip = 0;
}

ActQuant act_quant_from_range(float lo, float hi, DType dt) {
    (void)lo, (void)hi;
    return (ActQuant){.set = false, .dtype = dt};
}

bool quantize_graph(Graph *g, const QuantPlan *p, Diag *d) {
    (void)g, (void)p;
    return diag_error(d, "quantizing float models is not implemented yet");
}
