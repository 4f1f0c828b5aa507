/* quantreport.c: --report for a float model (issue 3, sec. 5): how much each quantized layer
 * loses. The float model is loaded and prepared again on its own (the reference), both it and
 * the QDQ graph quantize_graph produced run in the float interpreter on the samples, and each
 * layer is compared by output tensor name: SQNR = 10 log10(sum f^2 / sum (f - q)^2) over all
 * samples, plus the top-1 agreement of the first graph output. The int8 side is the QDQ graph
 * simulated in float with ONNX Runtime's QuantizeLinear rounding, not the generated integer
 * code (which differs from it by at most a rounding step per requantization). */
#include "driver.h"
#include "../frontend/frontend.h"
#include "../passes/interp.h"

#include <math.h>
#include <string.h>

typedef struct Layer {
    int node;               /* node of the float graph */
    int ref;                /* its output tensor */
    int cmp;                /* the tensor of the same name in the QDQ graph */
    bool requantized;       /* cmp is a DequantizeLinear output: the layer's int8 result */
    double sig, err;        /* sum f^2, sum (f - q)^2 over all samples */
} Layer;

static int64_t argmax(const float *v, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* The float model again, prepared like the flow did (QAT weights applied first). */
static bool load_reference(Graph *fg, const char *model_path, const CompileOptions *o, Diag *d) {
    if (!onnx_load(fg, model_path, d))
        return false;
    if (o->qat) {
        QatCheckpoint *ck = qat_load(fg->arena, o->qat, d);
        if (!ck || !qat_apply_weights(fg, ck, d))
            return false;
    }
    return quant_prepare(fg, d);
}

bool qcc_quant_report(const char *model_path, const CompileOptions *o, const Graph *qdq,
                      FILE *f, Diag *d) {
    const char *dir = o->samples ? o->samples : o->calibrate;
    if (!dir)
        return diag_error(d, "--report on a float model compares against the float model on "
                          "samples: give --samples DIR (or --calibrate DIR)");
    Arena arena;
    arena_init(&arena);
    Graph fg;
    graph_init(&fg, &arena);
    SampleSet s;
    Interp fi, qi;
    bool fi_used = false, qi_used = false; /* interp_free is due once init was called */
    bool ok = load_reference(&fg, model_path, o, d) && calib_load_samples(&fg, dir, &s, d);
    ok = ok && (fi_used = true) && interp_init(&fi, &fg, d);
    ok = ok && (qi_used = true) && interp_init(&qi, qdq, d);
    /* quantize_graph keeps every float tensor's name on the value readers see: a planned
     * activation's name moves to its DequantizeLinear output (the producer writes
     * "<name>_prequant"), so matching by name compares each layer's int8 result where there is
     * one, and its float result computed from int8 inputs where the activation was fused */
    Layer *ly = arena_calloc(&arena, (size_t)fg.nnodes + 1, sizeof *ly);
    int nl = 0;
    for (int i = 0; ok && i < fg.nnodes; i++) {
        const Node *n = &fg.nodes[i];
        if (n->dead || n->nout < 1 || n->out[0] < 0)
            continue;
        const Tensor *y = &fg.tensors[n->out[0]];
        int cmp = graph_find_tensor(qdq, y->name);
        if (cmp < 0 || y->dtype != DT_FLOAT || qdq->tensors[cmp].dtype != DT_FLOAT ||
            tensor_numel(&qdq->tensors[cmp]) != tensor_numel(y))
            continue;
        int prod = graph_producer(qdq, cmp);
        ly[nl++] = (Layer){.node = i, .ref = n->out[0], .cmp = cmp,
                           .requantized = prod >= 0 && qdq->nodes[prod].op == OP_DEQUANTIZE};
    }
    int agree = 0, out_ref = ok && fg.noutputs ? fg.outputs[0] : -1;
    int out_q = out_ref >= 0 ? graph_find_tensor(qdq, fg.tensors[out_ref].name) : -1;
    for (int k = 0; ok && k < s.n; k++) {
        const Tensor *in = &s.t[(size_t)k * s.ninputs];
        ok = interp_run(&fi, in, d) && interp_run(&qi, in, d);
        for (int l = 0; ok && l < nl; l++) {
            const float *fv = interp_value(&fi, ly[l].ref), *qv = interp_value(&qi, ly[l].cmp);
            int64_t ne = tensor_numel(&fg.tensors[ly[l].ref]);
            for (int64_t e = 0; e < ne; e++) {
                ly[l].sig += (double)fv[e] * fv[e];
                ly[l].err += ((double)fv[e] - qv[e]) * ((double)fv[e] - qv[e]);
            }
        }
        if (ok && out_q >= 0) {
            int64_t ne = tensor_numel(&fg.tensors[out_ref]);
            agree += argmax(interp_value(&fi, out_ref), ne) ==
                     argmax(interp_value(&qi, out_q), ne);
        }
    }
    if (ok) {
        fprintf(f, "# quantization error per layer, %d samples from %s\n", s.n, dir);
        fprintf(f, "# int8 side: the QDQ graph simulated in float with ONNX Runtime's rounding "
                   "(round half to even, saturate), not the generated integer code\n");
        fprintf(f, "# SQNR = 10 log10(sum f^2 / sum (f - q)^2) against the float model\n");
        fprintf(f, "%-32s %-20s %10s  %s\n", "node", "op", "SQNR dB", "output");
        for (int l = 0; l < nl; l++) {
            const Node *n = &fg.nodes[ly[l].node];
            char db[32];
            if (ly[l].err == 0.0)
                snprintf(db, sizeof db, "exact");
            else
                snprintf(db, sizeof db, "%.2f", 10.0 * log10(ly[l].sig / ly[l].err));
            fprintf(f, "%-32s %-20s %10s  %s\n", n->name, op_name(n->op), db,
                    ly[l].requantized ? "int8" : "float, from int8 inputs");
        }
        if (out_q >= 0)
            fprintf(f, "top-1 agreement with the float model on '%s': %d/%d (%.2f%%)\n",
                    fg.tensors[out_ref].name, agree, s.n, 100.0 * agree / (s.n ? s.n : 1));
    }
    if (fi_used)
        interp_free(&fi);
    if (qi_used)
        interp_free(&qi);
    arena_free(&arena);
    return ok;
}
