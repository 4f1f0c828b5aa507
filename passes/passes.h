/* passes.h: every transformation of the IR, one per file, and the ordered pipeline.
 * A pass is `bool pass_x(Graph *g, const PassOptions *o, Diag *d)`: no global state,
 * user errors reported through d (false return), IR verified after each one. */
#ifndef QCC_PASSES_H
#define QCC_PASSES_H

#include "../ir/ir.h"

typedef enum RequantMode {
    REQUANT_FIXED, /* Q31 multiplier + shift, integer only (gemmlowp/TFLite) */
    REQUANT_FLOAT, /* float multiply, round half to even (ONNX Runtime) */
} RequantMode;

typedef struct PassOptions {
    RequantMode requant;        /* which arithmetic codegen will emit (passes fill both) */
    const char *dump_after;     /* pass name or "all": print the IR after it (NULL: none) */
    FILE *dump_out;             /* where dumps go */
    int64_t ram_budget;         /* fail if the arena exceeds it (0: no limit) */
    bool channels_last;         /* layout.c: 2-d quantized convs/pools to NHWC (Target) */
    bool planar_convs;          /* layout.c: depthwise and 1x1 convs that read NCHW stay NCHW (Target) */
} PassOptions;

typedef bool (*PassFn)(Graph *g, const PassOptions *o, Diag *d);

bool pass_fold_constants(Graph *g, const PassOptions *o, Diag *d);  /* fold_constants.c */
bool pass_infer_shapes(Graph *g, const PassOptions *o, Diag *d);    /* infer_shapes.c */
bool pass_remove_dead(Graph *g, const PassOptions *o, Diag *d);     /* remove_dead.c */
bool pass_lower_qop(Graph *g, const PassOptions *o, Diag *d);       /* lower_qop.c */
bool pass_lower_qdq(Graph *g, const PassOptions *o, Diag *d);       /* lower_qdq.c */
bool pass_check_support(Graph *g, const PassOptions *o, Diag *d);   /* check_support.c */
bool pass_fuse_activation(Graph *g, const PassOptions *o, Diag *d); /* fuse_activation.c */
bool pass_bias_c3(Graph *g, const PassOptions *o, Diag *d);         /* bias_c3.c */
bool pass_requant(Graph *g, const PassOptions *o, Diag *d);         /* requant.c */
bool pass_layout(Graph *g, const PassOptions *o, Diag *d);          /* layout.c */
bool pass_memplan(Graph *g, const PassOptions *o, Diag *d);         /* memplan.c */
/* layout.c: whether CONV n is a depthwise conv of the shape the C backend's planar (NCHW)
 * VNNI kernel takes (codegen/c/qdwconv.c): one 64-byte row load must hold the taps of 16
 * output pixels, KW <= 4 taps per 32-bit lane, weights minus zero point within int8. */
bool layout_planar_depthwise(const Graph *g, const Node *n);
/* layout.c: whether CONV n is a pointwise conv the C backend's NCHW GEMM kernel takes
 * (codegen/c/qconv_pw.c): 1x1, stride 1, no padding, group 1, int8 weights without zero
 * point, at most 512 input channels (its packed input block lives on the stack). */
bool layout_planar_pointwise(const Graph *g, const Node *n);
/* memplan.c: the graph-boundary conversions <name>_run performs around <name>_run_q (design
 * sec. 7), decided in this one place for memplan and codegen: qnode[k] (ninputs entries) is
 * the QUANTIZE node that is the only reader of graph input k, dqnode[k] (noutputs entries)
 * the DEQUANTIZE node writing graph output k from a computed tensor; -1 where there is none.
 * memplan keeps those integer tensors alive from before the first node to after the last. */
void memplan_boundaries(const Graph *g, int *qnode, int *dqnode);
/* infer_shapes.c: infer (and normalise the attributes of) one node whose inputs have known
 * shapes; fold_constants.c uses it to shape what it folds. False after a diagnostic. */
bool infer_shapes_node(Graph *g, int node, Diag *d);
/* fold_constants.c: fold one node if it can be (its output becomes a constant, the node dead;
 * no compaction). Shape inference calls it as it goes so that Reshape shapes computed from
 * Shape -> Gather -> Concat of intermediate tensors are constant when Reshape is reached. */
bool fold_constants_node(Graph *g, int node, bool *changed, Diag *d);

/* Run the whole pipeline (pipeline.c), verifying and optionally dumping after each pass. */
bool pipeline_run(Graph *g, const PassOptions *o, Diag *d);
/* Names of the passes in order, NULL-terminated (for --help and --dump-after checking). */
const char *const *pipeline_pass_names(void);

/* qmath.c: the arithmetic the passes share, unit-tested on its own. */
/* Split a real multiplier M >= 0 into m0 (Q31, [2^30, 2^31)) and shift with
 * M ~= m0 * 2^(shift-31). M == 0 (or too small to matter) gives m0 = 0, shift = 0. */
void quantize_multiplier(double m, int32_t *m0, int32_t *shift);
/* False when M >= 2^30 (or +inf): quantize_multiplier then saturates to (INT32_MAX, 30) and
 * the caller must report the layer instead of using it. */
bool quantize_multiplier_fits(double m);
/* Round half to even like qcc_rint / nearbyintf, for any float, saturated to int32. */
int32_t round_half_even_f(float v);
/* QuantizeLinear of one value exactly as the generated code computes it (qcc_quantize),
 * e.g. a fused Clip bound in the output's integer domain; lo/hi: the dtype's range. */
int32_t quantize_scalar(float x, float scale, int32_t zp, int32_t lo, int32_t hi);

/* quant_util.c: quantization parameters and tables shared by the lowering passes. */
/* Read a scale (float) and optional zero point (zp_id -1: zero) from constant tensors into q,
 * checking scales are positive and finite and the lengths agree; errors name node n. */
bool qp_read(Graph *g, const Node *n, int scale_id, int zp_id, int axis, QParams *q, Diag *d);
bool qp_equal(const QParams *a, const QParams *b);
/* Give tensor t the parameters q, or check it already has equal ones. */
bool qp_attach(Graph *g, int t, const QParams *q, const Node *n, Diag *d);
/* ONNX QuantizeLinear of one value, as ONNX Runtime computes it (float division, round half
 * to even, saturate to dt). */
int32_t quantize_value(float x, float scale, int32_t zp, DType dt);
/* The 256-entry table of y = Q_out(f(DQ_in(x))) for a unary float op f (node n's op and
 * attributes), indexed by the input's byte; fails if op has no float definition here. */
bool lut_build(Graph *g, const Node *n, int in, int out, uint8_t *table);
/* Append a LUT node that requantizes 8-bit per-tensor tensor `from` into a new tensor of the
 * same type and shape with parameters q; returns the new tensor's id (callers re-sort). */
int lut_insert_requant(Graph *g, int from, const QParams *q, const char *name);
/* Ops that lower to one integer op with a requantizing epilogue, able to take a following
 * Relu/Clip into their output clamp. */
bool op_requantizes(Op op);
/* Is the table a clamp to [lo, hi] of equal input/output parameters? */
bool lut_is_clamp(const Graph *g, int in, int out, const uint8_t *table, int32_t *lo,
                  int32_t *hi);

#endif
