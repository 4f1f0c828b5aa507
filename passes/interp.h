/* interp.h: a float reference interpreter for the IR before lowering: the prepared float graph
 * (calibration statistics) and the QDQ graph quantize_graph makes (the --report error table).
 * Plain loops, float32 like ONNX Runtime's CPU kernels, no claim to speed; it never rewrites
 * the graph it runs. */
#ifndef QCC_INTERP_H
#define QCC_INTERP_H

#include "../ir/ir.h"

/* Values of every tensor are kept as float after a run: integer tensors (QuantizeLinear
 * outputs, int32 bias, int64 shapes) hold their integer values, exact up to 2^24 in
 * magnitude, which covers every 8-bit activation and the bias values of the models we target
 * (a report only ever reads the float tensors). */
typedef struct Interp {
    const Graph *g;         /* the graph run (not owned, not modified) */
    Arena arena;            /* owns val[] and its buffers */
    float **val;            /* per tensor id: its values of the last run (constants: at init) */
    int runs;               /* completed runs (0: val[] of non-constants is zero) */
} Interp;

/* Total float elements interp_init may allocate over all tensors (1 GiB of floats). */
#define INTERP_MAX_ELEMS ((int64_t)1 << 28)

/* Check every live node is supported and every shape known, allocate the buffers and
 * convert the constants. Errors name the node; interp_free is needed in either case. */
bool interp_init(Interp *ip, const Graph *g, Diag *d);
/* Run once: inputs[j] is graph input j (float data, its shape equal to the input's).
 * Afterwards interp_value(ip, t) gives each tensor's values. */
bool interp_run(Interp *ip, const Tensor *inputs, Diag *d);
const float *interp_value(const Interp *ip, int tensor);
void interp_free(Interp *ip);

/* interp_ops.c: one node, buffers of its inputs and outputs given (val by tensor id). */
bool interp_node(const Graph *g, const Node *n, float *const *val, Diag *d);
/* Is op n evaluated by interp_node? (init checks every node before the first run) */
bool interp_supports(const Graph *g, const Node *n);

#endif
