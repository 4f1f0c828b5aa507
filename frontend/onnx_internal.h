/* onnx_internal.h: what onnx.c (protobuf decoding, graph building) and onnx_ops.c (ONNX
 * attribute spellings) share. Private to frontend/, except for driver/testfreeze.c, the one
 * tool that rewrites a model and so needs the decoded messages themselves. */
#ifndef QCC_ONNX_INTERNAL_H
#define QCC_ONNX_INTERNAL_H

#include "frontend.h"
#include "onnx.pb-c.h"

/* Decode a ModelProto / TensorProto into arena memory, refusing messages nested deeper than
 * protobuf-c's recursion can survive; NULL if the bytes are not a valid message. */
Onnx__ModelProto *onnx_unpack_model(Arena *a, const void *data, size_t len);
Onnx__TensorProto *onnx_unpack_tensor(Arena *a, const void *data, size_t len);

/* Decode a TensorProto into *t: dtype (float16/double become float), rank, shape, dense
 * little-endian data in the arena; shape_known and T_CONST set. External data is read from
 * `dir` (the model's directory with a trailing '/', or ""; NULL = the model was read
 * from memory and external data is refused). Errors name the tensor with
 * `what` ("initializer", "Constant node 'c1'", ...). */
bool onnx_tensor_read(Arena *a, const Onnx__TensorProto *tp, const char *dir, Tensor *t,
                      const char *what, Diag *d);

/* Fill g->nodes[node].a from the NodeProto's attributes for the node's op at the model's
 * ai.onnx opset; tensor attributes read external data from dir like onnx_tensor_read. May
 * append inputs (ConstantOfShape's value becomes input 1). Reports attributes qcc cannot
 * honour and returns false. */
bool onnx_read_attrs(Graph *g, int node, const Onnx__NodeProto *np, int opset,
                     const char *dir, Diag *d);

#endif
