/* cgen.h: what the C backend's files share. target_c.c writes the file frame (header, weights,
 * arena, run functions) and, for every node, the comment and signature of one
 * `static void` function; a kernel emitter writes only that function's body.
 *
 * Inside a node function: non-constant input k is the parameter `x<k>` (const T *), output k
 * is `y<k>` (T *), both dense row-major in the tensor's ONNX shape; a constant input is the
 * global array returned by cg_in(). Loop bounds are literal constants. */
#ifndef QCC_CGEN_H
#define QCC_CGEN_H

#include "../codegen.h"

typedef struct CGen {
    const Graph *g;             /* the lowered, planned graph */
    const CodegenOptions *o;    /* name, requant mode */
    StrBuf *sb;                 /* model.c text being written */
    Diag *d;                    /* for "unsupported" errors */
    bool need_math;             /* a kernel used <math.h> (expf, tanhf...) */
    bool *const_used;           /* per tensor: cg_const_name() asked for it (emit it) */
    unsigned *arrays_used;      /* per node: CG_ARR_* bits cg_node_array() handed out */
    StrBuf *helpers;            /* file-scope text placed before the node functions (the
                                 * fast kernels' packed weights and tile functions); NULL
                                 * when the frame offers none */
    bool fast_rt;               /* qfast_rt.c's shared helpers are already in helpers */
} CGen;

/* Bits of CGen.arrays_used: which per-node quant arrays target_c.c must emit. */
enum {
    CG_ARR_C3 = 1u << 0,        /* n<i>_c3: int32 c3[nbias] */
    CG_ARR_LUT = 1u << 1,       /* n<i>_lut: 256 bytes of the output type */
    CG_ARR_M0 = 1u << 2,        /* n<i>_m0_<k>: bit CG_ARR_M0 << k, k < 3 */
    CG_ARR_SHIFT = 1u << 5,     /* n<i>_shift_<k>: bit CG_ARR_SHIFT << k */
    CG_ARR_F = 1u << 8,         /* n<i>_f_<k>: bit CG_ARR_F << k */
};

/* C expression naming input k / output k of node n inside its function ("x0", "t12"). */
const char *cg_in(CGen *cg, const Node *n, int k);
const char *cg_out(CGen *cg, const Node *n, int k);
/* Global array name of a constant tensor ("t12"), and of a node's quant arrays
 * ("n7_c3", "n7_m0_0", "n7_shift_0", "n7_f_0", "n7_lut"): target_c.c emits those arrays. */
const char *cg_const_name(CGen *cg, int tensor);
const char *cg_node_array(CGen *cg, const Node *n, const char *what);

/* Kernel emitters: write the body of node n's function (without braces) into cg->sb.
 * Return false after a diagnostic if the node's form is not supported. */
typedef bool (*KernelFn)(CGen *cg, const Node *n);

/* Quantized (integer) kernels: qkernels_*.c. NULL when the op has no integer kernel. */
KernelFn cg_quant_kernel(Op op);
/* Float kernels (and int64/int32 plumbing): fkernels_*.c. */
KernelFn cg_float_kernel(Op op);
/* dtype-generic data movement (Concat, Reshape, Transpose, Pad, Resize nearest, Squeeze,
 * Unsqueeze, Flatten, Identity, MaxPool/GlobalMaxPool on integers...): movement.c. */
KernelFn cg_movement_kernel(Op op);

/* Small text helpers */
const Tensor *cg_tensor(const CGen *cg, int id);
/* Append "+ term * stride" to a flat index expression in buf (stride 0 adds nothing, stride 1
 * no multiplication; a term with spaces is parenthesised). */
void cg_idx_add(char *buf, size_t cap, const char *term, int64_t stride);
/* A float as an exact C literal ("0.0625f"), in arena memory. */
const char *cg_float_lit(CGen *cg, float v);
/* Loop-index names of n (1-3) spatial axes: {x}, {y, x}, {z, y, x}. */
const char *const *cg_spatial_names(int n);
void cg_line(CGen *cg, int indent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* printf into a fresh string in the graph arena (names, index expressions). */
const char *cg_fmt(CGen *cg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Tensor of input / output k of n. */
const Tensor *cg_tin(CGen *cg, const Node *n, int k);
const Tensor *cg_tout(CGen *cg, const Node *n, int k);
/* Zero point of a tensor (per-tensor entry 0; 0 when not quantized). */
int32_t cg_zp(const Tensor *t);
/* C expression requantizing int32 `acc` with n->q.mul[k] (entry `idx`, a C expression, used
 * when the multiplier has more than one entry) to the output: zero point of out[0], clamp
 * [act_min, act_max]; fixed or float form per cg->o->requant. */
const char *cg_requant(CGen *cg, const Node *n, int k, const char *acc, const char *idx);
/* An int32 literal that is valid C even for INT32_MIN. */
const char *cg_i32(CGen *cg, int32_t v);
/* "static const [u]int8_t NAME[n] QCC_ALIGN = ...;" for an 8-bit constant array: numbers below
 * 4096 elements, one string literal of \xNN escapes from there on (C compilers parse it ~28x
 * faster than a brace list; see target_c.c). */
void cg_byte_array(StrBuf *sb, const char *name, const void *data, int64_t n, bool is_signed);
/* "static const int32_t NAME[n] QCC_ALIGN = {...};" (INT32_MIN spelled validly). */
void cg_i32_array(CGen *cg, StrBuf *sb, const char *name, const int32_t *v, int n);

/* ---- the C backend's frame (target_c.c), reused by other backends (cuda) ---- */
typedef struct CFrame {
    CGen cg;                    /* shared with the kernel emitters */
    const Graph *g;             /* the graph being emitted */
    const char *name;           /* symbol prefix ("model") */
    const char *uname;          /* upper-case prefix ("MODEL") */
    const char **port;          /* per tensor: C parameter name of a graph port, or NULL */
    const char **fname;         /* per node: its function name */
    int *qnode;                 /* per graph input: boundary QUANTIZE node, or -1 */
    int *dqnode;                /* per graph output: boundary DEQUANTIZE node, or -1 */
    bool *boundary;             /* per node: runs only in <name>_run, not in _run_q */
    bool *bt;                   /* per tensor: integer side of a boundary node */
} CFrame;

/* Fill f for graph g: boundary Q/DQ nodes, C names of the graph ports. */
void cframe_init(CFrame *f, const Graph *g, const CodegenOptions *o, Diag *d);
/* The C kernel emitter of n (integer, float or data movement), NULL if none. */
KernelFn cframe_pick_kernel(const Graph *g, const Node *n);
/* The comment block above node idx's function (op, sources, tensors, attrs, requant). */
void cframe_node_comment(CFrame *f, StrBuf *sb, int idx);
/* True if identifier id occurs as a whole token in s. */
bool cframe_uses_ident(const char *s, const char *id);
/* ONNX name -> C identifier of at most max characters (arena memory). */
const char *cframe_sanitize(Arena *a, const char *s, size_t max);
/* `static const T t<id>[] = {...}` with its comment; the quant arrays of node idx that the
 * kernels asked for (cg.arrays_used). */
void cframe_constant(CFrame *f, StrBuf *sb, int id);
void cframe_node_arrays(CFrame *f, StrBuf *sb, int idx);
/* Prototype of <name>_run (q false) or <name>_run_q, without ';'. */
void cframe_proto(CFrame *f, StrBuf *sb, bool q);
/* File banner (version, sha256, requant mode); the #defines of graph port k; the memory
 * plan comment. */
void cframe_banner(CFrame *f, StrBuf *sb, const char *what);
void cframe_port_defines(CFrame *f, StrBuf *sb, bool input, int k);
void cframe_plan(CFrame *f, StrBuf *sb);

#endif
