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

/* qat.c: a PyTorch QAT checkpoint (torch.save zip holding a pickled state_dict, read with
 * libzip and our own pickle-subset reader that executes nothing). */
typedef struct QatCheckpoint QatCheckpoint;
/* Read the checkpoint's tensors (float32/int32/int64/uint8 storages) into the arena. */
QatCheckpoint *qat_load(Arena *a, const char *path, Diag *d);
/* The same from len bytes at data (a zip in memory: tests, fuzzing); name is for messages. */
QatCheckpoint *qat_load_memory(Arena *a, const char *name, const void *data, size_t len,
                               Diag *d);
/* The checkpoint's tensors in file order (name = key), and lookup by key (NULL if absent). */
int qat_count(const QatCheckpoint *c);
const Tensor *qat_tensor(const QatCheckpoint *c, int i);
const Tensor *qat_find(const QatCheckpoint *c, const char *key);
/* Replace the float graph's weights and BatchNorm statistics with the checkpoint's (matched
 * through initializer names), before quant_prepare folds BN. */
bool qat_apply_weights(Graph *g, QatCheckpoint *c, Diag *d);
/* Activation ranges from the checkpoint's observers into p (prepared graph); reports every
 * checkpoint entry that matched nothing. */
bool qat_plan(Graph *g, QatCheckpoint *c, QuantPlan *p, Diag *d);

/* calib.c: the samples in dir (ONNX TensorProto .pb or .npy files, sorted by name; one file
 * per sample for single-input graphs), checked against g's inputs (float, shapes). */
bool calib_load_samples(Graph *g, const char *dir, SampleSet *s, Diag *d);

#endif
