/* ir.h: the one IR of qcc (tensors, nodes, graph) and the small services every stage uses
 * (arena, string buffer, diagnostics). Sectioned by the file that implements each part.
 * Stages only meet here: a frontend never emits code, a backend never parses ONNX. */
#ifndef QCC_IR_H
#define QCC_IR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define QCC_VERSION "0.1.0"

/* ---------------------------------------------------------------------------------------
 * diag.c: diagnostics and internal invariants
 * ------------------------------------------------------------------------------------- */

/* Internal bugs: always on, also in release builds. */
#define QCC_ASSERT(c) ((c) ? (void)0 : qcc_internal_error(__FILE__, __LINE__, #c))
#define qcc_unreachable() qcc_internal_error(__FILE__, __LINE__, "unreachable")
_Noreturn void qcc_internal_error(const char *file, int line, const char *what);

typedef struct Diag {
    const char *file;   /* the input file named in every message */
    FILE *out;          /* where messages go (stderr; tests may redirect) */
    int errors;         /* number of errors reported so far */
    bool quiet_notes;   /* suppress note: lines (tests) */
} Diag;

void diag_init(Diag *d, const char *file, FILE *out);
/* "FILE: error: MSG"; returns false so callers can `return diag_error(...)`. */
bool diag_error(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag_warning(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag_note(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------------------------------
 * arena.c: one bump allocator per compilation, freed once
 * ------------------------------------------------------------------------------------- */

typedef struct ArenaBlock ArenaBlock;
typedef struct Arena {
    ArenaBlock *head;   /* newest block; older blocks chained behind it */
    size_t used;        /* total bytes handed out (statistics) */
} Arena;

void arena_init(Arena *a);
void arena_free(Arena *a);
/* Zeroed, 16-byte aligned memory. Aborts (internal error) only if the system is out of
 * memory; callers bound sizes from untrusted input before asking. */
void *arena_alloc(Arena *a, size_t size);
void *arena_calloc(Arena *a, size_t n, size_t size); /* checks n*size for overflow */
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
void *arena_memdup(Arena *a, const void *p, size_t size);
/* printf into arena memory, any length. */
char *arena_printf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(Arena *a, const char *fmt, va_list ap);

/* ---------------------------------------------------------------------------------------
 * strbuf.c: growable text buffer (the emitter and printers write into it)
 * ------------------------------------------------------------------------------------- */

typedef struct StrBuf {
    char *data;         /* NUL-terminated contents (heap; owned) */
    size_t len;         /* bytes used, excluding the NUL */
    size_t cap;         /* bytes allocated */
} StrBuf;

void sb_init(StrBuf *sb);
void sb_free(StrBuf *sb);
void sb_putc(StrBuf *sb, char c);
void sb_puts(StrBuf *sb, const char *s);
void sb_printf(StrBuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(StrBuf *sb, const char *fmt, va_list ap);
/* Append a float so that parsing it back gives the same bits: %a is exact but unreadable,
 * so we print the shortest %.9g that round-trips. */
void sb_float(StrBuf *sb, float v);

/* ---------------------------------------------------------------------------------------
 * sha256.c: the model hash printed in generated headers (FIPS 180-4)
 * ------------------------------------------------------------------------------------- */

void sha256(const void *data, size_t len, uint8_t out[32]);

/* ---------------------------------------------------------------------------------------
 * ops.def / graph.c: operations and element types
 * ------------------------------------------------------------------------------------- */

typedef enum Op {
#define OP(e, onnx, dom, doc) OP_##e,
#include "ops.def"
#undef OP
    OP_COUNT
} Op;

const char *op_name(Op op);           /* "Conv", or the internal name for qcc-only ops */
/* Look up an ONNX op_type in a domain ("" or "ai.onnx" or "com.microsoft"). */
bool op_from_onnx(const char *domain, const char *op_type, Op *out);

/* Element types; values equal ONNX TensorProto.DataType so the frontend can cast. */
typedef enum DType {
    DT_UNDEF = 0,   /* unknown yet (before shape inference) */
    DT_FLOAT = 1,   /* float32 */
    DT_UINT8 = 2,   /* uint8: asymmetric activations */
    DT_INT8 = 3,    /* int8: weights, or activations */
    DT_UINT16 = 4,  /* uint16 (read only) */
    DT_INT16 = 5,   /* int16 (read only) */
    DT_INT32 = 6,   /* int32: bias, accumulators */
    DT_INT64 = 7,   /* int64: shapes and indices */
    DT_BOOL = 9,    /* bool, one byte */
    DT_FLOAT16 = 10,/* half (read only: converted to float on import) */
    DT_DOUBLE = 11, /* double (read only: converted to float on import) */
} DType;

const char *dtype_name(DType t);      /* "uint8" */
const char *dtype_ctype(DType t);     /* "uint8_t" */
size_t dtype_size(DType t);           /* bytes per element; 0 for DT_UNDEF */
bool dtype_is_int8ish(DType t);       /* uint8 or int8: the quantized activation types */
int32_t dtype_qmin(DType t);          /* representable range of an integer type */
int32_t dtype_qmax(DType t);

/* ---------------------------------------------------------------------------------------
 * graph.c: tensors, nodes, the graph
 * ------------------------------------------------------------------------------------- */

#define QCC_MAX_RANK 8      /* ONNX allows more; no model we target needs it */
#define QCC_MAX_IO 16       /* inputs of one node (QLinearConcat needs 2+3k) */
#define QCC_MAX_SPATIAL 3   /* 1-d, 2-d and 3-d convolution and pooling */

/* Affine quantization: real = scale * (q - zero_point). */
typedef struct QParams {
    int n;                  /* number of scales: 0 = not quantized, 1 = per tensor */
    int axis;               /* channel axis when n > 1 */
    float *scale;           /* n scales, all > 0 and finite */
    int32_t *zero_point;    /* n zero points, within the dtype's range */
} QParams;

enum {
    T_INPUT = 1 << 0,   /* graph input (fed by the caller) */
    T_OUTPUT = 1 << 1,  /* graph output (returned to the caller) */
    T_CONST = 1 << 2,   /* constant: data is set */
};

typedef struct Tensor {
    const char *name;       /* ONNX value name (unique within the graph) */
    DType dtype;            /* element type */
    int rank;               /* number of dims; 0 = scalar */
    int64_t shape[QCC_MAX_RANK]; /* dims; known after shape inference (all >= 0) */
    unsigned flags;         /* T_INPUT | T_OUTPUT | T_CONST */
    void *data;             /* constant contents, dense row-major, dtype elements */
    QParams q;              /* quantization of an integer tensor (q.n == 0 if none) */
    int64_t offset;         /* arena offset from passes/memplan.c; -1 = not in the arena */
    bool shape_known;       /* shape inference has set rank/shape */
} Tensor;

/* Normalised attributes: onnx_ops.c fills these from ONNX spellings; nobody else knows
 * those spellings. One member of the union is live, chosen by the op. */
typedef struct ConvAttr {       /* CONV, CONV_TRANSPOSE, MAX_POOL, AVG_POOL */
    int nspatial;               /* 1, 2 or 3 (set by shape inference if not given) */
    int64_t kernel[QCC_MAX_SPATIAL];  /* kernel extent per spatial dim */
    int64_t stride[QCC_MAX_SPATIAL];  /* strides (default 1) */
    int64_t dilation[QCC_MAX_SPATIAL];/* dilations (default 1) */
    int64_t pad[2 * QCC_MAX_SPATIAL]; /* begin pads then end pads, ONNX order */
    int64_t out_pad[QCC_MAX_SPATIAL]; /* ConvTranspose output_padding */
    int64_t out_shape[QCC_MAX_SPATIAL];/* ConvTranspose output_shape (0 = not given) */
    int64_t group;              /* groups (default 1) */
    int auto_pad;               /* AUTO_PAD_*: resolved into pad[] by shape inference */
    bool ceil_mode;             /* pooling output size rounds up */
    bool count_include_pad;     /* AveragePool: padding counts in the divisor */
    int storage_order;          /* MaxPool Indices output: 0 row major, 1 column major */
} ConvAttr;

enum { AUTO_PAD_NOTSET, AUTO_PAD_SAME_UPPER, AUTO_PAD_SAME_LOWER, AUTO_PAD_VALID };

typedef struct GemmAttr {       /* GEMM, QGEMM */
    float alpha, beta;          /* scale of A*B and of C */
    bool trans_a, trans_b;      /* transpose A / B before multiplying */
} GemmAttr;

typedef struct AxisAttr {       /* CONCAT, SOFTMAX, FLATTEN, GATHER, QUANTIZE... */
    int64_t axis;               /* may be negative until shape inference normalises it */
    int64_t block_size;         /* Q/DQ blocked quantization (opset 21+; 0 = none) */
    bool legacy_softmax;        /* Softmax opset < 13: coerce to 2-d around axis */
    bool saturate;              /* QuantizeLinear float8 flag (unused for int types) */
} AxisAttr;

typedef struct AxesAttr {       /* SQUEEZE, UNSQUEEZE, TRANSPOSE, REDUCE_*, RESHAPE */
    int naxes;                  /* -1 = attribute absent (e.g. Transpose reverses) */
    int64_t axes[QCC_MAX_RANK]; /* axes or perm */
    bool keepdims;              /* reductions */
    bool allowzero;             /* Reshape: 0 means literal zero */
} AxesAttr;

typedef struct ActAttr {        /* RELU, CLIP, LEAKY_RELU, HARD_SIGMOID, ... */
    float alpha, beta;          /* LeakyRelu alpha; HardSigmoid alpha/beta */
    float lo, hi;               /* Clip bounds (from attributes or constant inputs) */
} ActAttr;

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };
typedef struct PadAttr {        /* PAD */
    int mode;                   /* PAD_* */
    int64_t pads[2 * QCC_MAX_RANK]; /* begins then ends (from attribute or input) */
    bool have_pads;             /* pads came from the attribute (opset < 11) */
    float value;                /* constant value (attribute form) */
} PadAttr;

enum { RESIZE_NEAREST, RESIZE_LINEAR, RESIZE_CUBIC };
enum { CT_HALF_PIXEL, CT_ASYMMETRIC, CT_ALIGN_CORNERS, CT_PYTORCH_HALF_PIXEL,
       CT_TF_CROP_AND_RESIZE, CT_TF_HALF_PIXEL_FOR_NN };
enum { NEAREST_ROUND_PREFER_FLOOR, NEAREST_ROUND_PREFER_CEIL, NEAREST_FLOOR, NEAREST_CEIL };
typedef struct ResizeAttr {     /* RESIZE */
    int mode;                   /* RESIZE_* */
    int coord;                  /* CT_*: coordinate_transformation_mode */
    int nearest;                /* NEAREST_*: nearest_mode */
    float scales[QCC_MAX_RANK]; /* per-axis scale, filled by shape inference */
    float cubic_a;              /* cubic_coeff_a (ONNX default -0.75) */
    bool exclude_outside;       /* cubic: taps outside the input weigh 0, rest renormalised */
    float extrapolation;        /* tf_crop_and_resize: value of samples outside the input */
    float roi_start[QCC_MAX_RANK]; /* tf_crop_and_resize: crop box per axis (normalised */
    float roi_end[QCC_MAX_RANK];   /* coordinates), filled by shape inference; 0 and 1 else */
    int naxes;                  /* opset 18 axes attribute entries (0: scales cover all axes) */
    int64_t axes[QCC_MAX_RANK]; /* the axes scales/sizes/roi describe, as written (maybe < 0) */
} ResizeAttr;

typedef struct SliceAttr {      /* SLICE: normalised by shape inference */
    int64_t start[QCC_MAX_RANK];/* first index per axis (every axis, clamped) */
    int64_t step[QCC_MAX_RANK]; /* step per axis (1 where not sliced; may be negative) */
    bool have_attrs;            /* opset < 10: starts/ends/axes came as attributes */
    int nattr;                  /* entries in the attribute arrays below */
    int64_t attr_starts[QCC_MAX_RANK], attr_ends[QCC_MAX_RANK], attr_axes[QCC_MAX_RANK];
} SliceAttr;

typedef struct CastAttr {       /* CAST, CONSTANT_OF_SHAPE */
    DType to;                   /* Cast target type */
} CastAttr;

typedef struct BnAttr {         /* BATCHNORM */
    float epsilon;              /* added to the variance before the square root (1e-5) */
} BnAttr;

typedef union Attr {
    ConvAttr conv;
    GemmAttr gemm;
    AxisAttr axis;
    AxesAttr axes;
    ActAttr act;
    PadAttr pad;
    ResizeAttr resize;
    CastAttr cast;
    BnAttr bn;
    SliceAttr slice;
} Attr;

/* Integer arithmetic of a quantized node, filled by passes/bias_c3.c and passes/requant.c.
 * A multiplier M (real) is kept in both forms; codegen emits the one --requant asks for:
 *   fixed: M = m0 * 2^(shift - 31), m0 in [2^30, 2^31) (Q31), or m0 = 0 for M = 0;
 *   float: M as float, computed with ONNX Runtime's expression for that op. */
typedef struct Multiplier {
    int n;                  /* entries (1 = per tensor, else per output channel) */
    int32_t *m0;            /* Q31 mantissas */
    int32_t *shift;         /* exponents: > 0 shifts left, < 0 right */
    float *f;               /* float multipliers */
} Multiplier;

typedef struct NodeQuant {
    int nbias;              /* entries of c3 (output channels), 0 = none */
    int32_t *c3;            /* bias - zx*sum(w) + K*zx*zw per channel (design sec. 3) */
    int nmul;               /* multipliers in use (conv 1; add 3: a, b, out) */
    Multiplier mul[3];      /* see above */
    int32_t act_min;        /* clamp low in the output's integer domain (fused act.) */
    int32_t act_max;        /* clamp high */
    int left_shift;         /* add/sub: inputs scaled by 2^left_shift first (TFLite) */
    uint8_t *lut;           /* LUT op: 256 output bytes indexed by (uint8)input */
} NodeQuant;

typedef struct Node {
    Op op;                  /* what it does */
    const char *name;       /* ONNX node name, or a generated one ("Conv_3") if empty */
    const char **sources;   /* every ONNX node folded into this one, graph order */
    int nsources;           /* entries of sources */
    int in[QCC_MAX_IO];     /* input tensor ids; -1 = optional input left out */
    int nin;                /* number of inputs */
    int out[QCC_MAX_IO];    /* output tensor ids */
    int nout;               /* number of outputs */
    Attr a;                 /* normalised attributes */
    NodeQuant q;            /* integer arithmetic (quantized nodes only) */
    bool float_fallback;    /* stays float inside a quantized model (mixed precision) */
    bool nhwc;              /* passes/layout.c: 4-d activations channels-last (codegen.h) */
    bool dead;              /* removed; compact_graph() drops dead nodes */
} Node;

typedef struct Graph {
    Arena *arena;           /* owns every allocation of the graph */
    const char *name;       /* graph name from the model */
    const char *source;     /* model file path (diagnostics only; never emitted) */
    uint8_t sha256[32];     /* hash of the model file bytes (emitted in the header) */
    int opset;              /* ai.onnx opset version */
    Tensor *tensors;        /* all tensors; ids index this array (reallocated on growth:
                             * never keep a Tensor * across graph_add_tensor) */
    int ntensors, captensors;
    Node *nodes;            /* nodes in topological order after graph_toposort */
    int nnodes, capnodes;
    int inputs[QCC_MAX_IO * 4];  /* graph input tensor ids in ONNX order (not initializers) */
    int ninputs;
    int outputs[QCC_MAX_IO * 4]; /* graph output tensor ids in ONNX order */
    int noutputs;
    int64_t arena_size;     /* bytes of the activation arena (memplan) */
    int64_t arena_lower_bound; /* max over nodes of live bytes (memplan) */
} Graph;

void graph_init(Graph *g, Arena *a);
/* Find or create the tensor called name; returns its id. */
int graph_tensor(Graph *g, const char *name);
int graph_find_tensor(const Graph *g, const char *name); /* -1 if absent */
/* A fresh tensor with a unique name derived from base; returns its id. */
int graph_new_tensor(Graph *g, const char *base);
/* Append a node; returns its id (never keep a Node * across this call). */
int graph_add_node(Graph *g, Op op, const char *name);
void node_add_input(Graph *g, int node, int tensor);   /* tensor -1 = absent */
void node_add_output(Graph *g, int node, int tensor);
/* Record that node `into` now also stands for `from` (fusion keeps every source name). */
void node_merge_sources(Graph *g, int into, int from);
/* Sort nodes topologically (stable: keeps file order where free). False on a cycle. */
bool graph_toposort(Graph *g, Diag *d);
/* Drop dead nodes and tensors no node or graph port refers to; renumbers ids. */
void graph_compact(Graph *g);
/* Producer node of a tensor, or -1 (inputs, constants). Linear scan: analyses are recomputed
 * rather than kept in sync. */
int graph_producer(const Graph *g, int tensor);
/* Number of live nodes reading the tensor, plus one if it is a graph output. */
int graph_use_count(const Graph *g, int tensor);

int64_t tensor_numel(const Tensor *t);
int64_t tensor_bytes(const Tensor *t);
bool tensor_is_const(const Tensor *t);
bool tensor_is_quantized(const Tensor *t);       /* integer dtype with QParams */
/* Read element i of a constant tensor as double / int64 whatever its dtype. */
double tensor_get_f(const Tensor *t, int64_t i);
int64_t tensor_get_i(const Tensor *t, int64_t i);
/* Make t a constant of the given dtype and shape with zeroed data; returns the data. */
void *tensor_set_const(Graph *g, int tensor, DType dt, int rank, const int64_t *shape);
/* True if node is an integer (quantized) op: its first output is quantized. */
bool node_is_quantized(const Graph *g, const Node *n);

/* ---------------------------------------------------------------------------------------
 * Quantization plan of a float model (issue 3): what the QAT checkpoint reader
 * (frontend/qat.c) or calibration (passes/calibrate.c) decides, and what passes/quantize.c
 * turns into QuantizeLinear/DequantizeLinear pairs. Indexed by tensor id of the prepared
 * float graph (after quant_prepare; no compaction may happen between plan and quantize).
 * ------------------------------------------------------------------------------------- */

typedef struct ActQuant {
    bool set;               /* a range was chosen for this tensor */
    float scale;            /* > 0 and finite */
    int32_t zero_point;     /* within dtype's range */
    DType dtype;            /* DT_UINT8 or DT_INT8 */
} ActQuant;

typedef struct QuantPlan {
    int ntensors;           /* entries of act (g->ntensors when the plan was made) */
    ActQuant *act;          /* chosen quantization per float activation tensor */
    DType act_dtype;        /* --act-dtype: DT_UINT8 (default) or DT_INT8 */
    bool weights_per_tensor;/* --weights=per-tensor (default per output channel) */
    const char **skip;      /* --skip NODE: node names kept in float (mixed precision) */
    int nskip;              /* entries of skip */
    const float **weight_scale; /* NULL, or ntensors entries: for a float weight tensor, its
                             * per-output-channel scales to use instead of max|w|/127 (QAT:
                             * the checkpoint's fake-quant scales, zero point 0; PyTorch's
                             * convert then quantizes to [-128, 127]); NULL entry = recompute */
} QuantPlan;

/* Input samples of a float model (calibration, --report): sample k's input j is
 * t[k * ninputs + j], a float tensor with data, in graph input order. */
typedef struct SampleSet {
    int n;                  /* number of samples */
    int ninputs;            /* graph inputs per sample */
    Tensor *t;              /* n * ninputs tensors (arena) */
} SampleSet;

/* ---------------------------------------------------------------------------------------
 * verify.c: structural invariants, checked after every pass
 * ------------------------------------------------------------------------------------- */

/* Internal consistency only (ids in range, single producer, topological order, known
 * shapes after inference, quant params well-formed). A failure is a qcc bug: it reports
 * through d with the pass name and returns false. */
bool graph_verify(const Graph *g, Diag *d, const char *after_pass);

/* ---------------------------------------------------------------------------------------
 * print.c: the IR as stable text (--dump-after, pass tests)
 * ------------------------------------------------------------------------------------- */

void graph_print(const Graph *g, StrBuf *sb);
/* The node's attributes as " name=value..." (rank: of its first input), shared by the IR
 * dump and the comments of generated code. */
void node_print_attrs(const Node *n, int rank, StrBuf *sb);

#endif
