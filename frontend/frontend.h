/* frontend.h: readers that turn model files into the IR. They only build the graph and
 * diagnose malformed input; they never emit code and never run passes. */
#ifndef QCC_FRONTEND_H
#define QCC_FRONTEND_H

#include "../ir/ir.h"

/* Read an ONNX model (protobuf) into g: tensors (initializers as constants, Constant nodes
 * folded into constants), nodes in file order with normalised attributes, graph inputs and
 * outputs. Every error names the file and, where there is one, the node. */
bool onnx_load(Graph *g, const char *path, Diag *d);

/* The same from len bytes at data (not referenced after the call). name is the file the
 * bytes came from: it resolves external data and goes into g->source; NULL means "(memory)"
 * and refuses external data (fuzzing, embedded models). */
bool onnx_load_memory(Graph *g, const char *name, const void *data, size_t len, Diag *d);

/* Read one serialized ONNX TensorProto (the test-case layout's input_K.pb / output_K.pb)
 * into *t, data in the arena. float16/double are converted to float. */
bool onnx_load_tensor(Arena *a, const char *path, Tensor *t, Diag *d);

#endif
