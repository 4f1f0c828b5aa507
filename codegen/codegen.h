/* codegen.h: from a lowered, planned IR graph to source text (model.c + model.h).
 * A backend only reads the IR; it never parses ONNX and never changes the graph.
 *
 * The IR a backend receives (after passes/pipeline.c), node by node:
 *
 * Float ops (every tensor float, or int64/int32 for shape plumbing): the ONNX semantics of
 * the op with normalised attributes in n->a (pads resolved, axes non-negative, Clip bounds
 * in a.act.lo/hi, Pad pads in a.pad.pads, Resize scales in a.resize.scales). Such a node
 * inside a quantized model has n->float_fallback set and is marked in the comments.
 *   QUANTIZE   in[0] float -> out[0] int8/uint8 (out's QParams, per tensor or per axis):
 *              round half to even, add zero point, saturate.
 *   DEQUANTIZE in[0] int (its QParams) -> out[0] float: scale * (q - zp).
 *   QUANTIZE / DEQUANTIZE with nin > 1: the parameters are inputs, not QParams, because the
 *              scale or zero point is computed at run time (DynamicQuantizeLinear's expanded
 *              body) or the node is blocked (a.axis.block_size > 0). in[1] float scale, in[2]
 *              absent or the zero point (its type; one element serves every scale), each a
 *              run-time tensor or a constant. Scale per tensor (one element), per axis (1-d
 *              along a.axis) or blocked (x's shape with ceil(dim / block_size) entries along
 *              a.axis). lower_qop attaches no QParams for it (a QUANTIZE's int output is
 *              a plain tensor), same arithmetic as above, never a _run_q boundary.
 *   DYNAMIC_QUANTIZE in[0] float -> out[0] uint8, out[1] float scale [], out[2] uint8 zp [].
 *
 * Quantized ops (node_is_quantized(): out[0] int8/uint8 with QParams, or int32 for
 * ConvInteger/MatMulInteger which have no requant). Arithmetic lives in n->q:
 *   CONV       in[0] x (q), in[1] w (const, q per tensor or per out channel, zp may be
 *              non-zero), in[2] absent or the int32 bias (already inside c3: ignore it).
 *              acc[c] = sum x*w over the receptive field (padding reads zx, the input zero
 *              point) - zw[c]*sum(x) + c3[c]; then requant with mul[0] (n 1 or Cout), add
 *              the output zero point, clamp to [act_min, act_max]. int32 output: store acc.
 *   GEMM / MATMUL  in[0] A (q), in[1] B (q; const B has c3[N]; trans_b in a.gemm).
 *              A non-const B has nbias 0: subtract both zero points in the loop instead.
 *              acc[m][n] = sum_k A*B - zb[n]*sum_k A + c3[n]; requant as CONV. When a 2-d
 *              output's bias varies along rows (QGemm C [M,1] or [M,N]), nbias == M*N and
 *              c3 is indexed [m*N + n].
 *   ADD / SUB  in[0] a (q), in[1] b (q), numpy broadcast. mul[0] a, mul[1] b, mul[2] out;
 *              fixed: xa = (a-za) << left_shift, xa = mulhi(xa, mul[0]); same for b;
 *              y = mulhi(xa +/- xb, mul[2]) + zy (TFLite); float: y = round((a-za)*f0 +/-
 *              (b-zb)*f1) + zy with f0 = sa/sy, f1 = sb/sy (ONNX Runtime). Clamp.
 *   MUL        mul[0] = sa*sb/sy applied to (a-za)*(b-zb). Clamp.
 *   CONV_INTEGER / MATMUL_INTEGER (left unlowered: a zero point input is computed at run
 *              time, e.g. by DYNAMIC_QUANTIZE): ONNX semantics, inputs x, w, [xz], [wz]
 *              (each may be a run-time tensor), int32 output sum (x-xz)(w-wz), no QParams.
 *   AVG_POOL   acc = sum(x - zx) over the window (count = valid or full per attrs);
 *              mul[0].n == count_max, entry count-1 holds sx/(sy*count). Clamp.
 *   GLOBAL_AVG_POOL  mul[0].n == 1 holding sx/(sy*HW). Clamp.
 *   LUT        in[0] 8-bit -> out[0] 8-bit: y = q.lut[(uint8_t)x].
 *   SOFTMAX    (QLinearSoftmax) dequantize, float softmax, quantize (marked float).
 *   MAX_POOL, GLOBAL_MAX_POOL, CONCAT, RESHAPE, FLATTEN, SQUEEZE, UNSQUEEZE, TRANSPOSE,
 *   PAD (constant value = output zero point), RESIZE (nearest), CLIP, RELU: data movement
 *              on the integer type; input and output QParams are equal (the lowering pass
 *              inserted LUT nodes where they were not). CLIP/RELU quantized use act_min/max.
 *
 * Memory: every tensor that is neither constant nor a graph port has t->offset into one
 * arena of g->arena_size bytes. Graph inputs/outputs are the caller's pointers. */
#ifndef QCC_CODEGEN_H
#define QCC_CODEGEN_H

#include "../ir/ir.h"
#include "../passes/passes.h"

/* Which SIMD intrinsics a kernel emitter may put in the generated C, behind #if guards and
 * always beside the portable loop (-DQCC_NO_SIMD forces the latter). */
typedef enum CgSimd {
    CG_SIMD_X86,             /* target c: AVX-512 VNNI / AVX2 paths (immintrin.h) */
    CG_SIMD_NEON,            /* target neon: aarch64 NEON paths (arm_neon.h), SDOT if dotprod */
} CgSimd;

typedef struct CodegenOptions {
    const char *name;        /* symbol prefix: <name>_run, <NAME>_ARENA_SIZE */
    const char *header_name; /* file name model.c includes ("model.h") */
    const char *source_name; /* file name of the source itself, for its banner ("model.c") */
    RequantMode requant;     /* which multiplier form to emit */
    bool arena_caller;       /* --arena=caller: _run takes the arena pointer */
    const char *cuda_arch;   /* --cuda-arch ("sm_75"): what the cuda target may assume */
    CgSimd simd;             /* intrinsics family: set by the target (neon), default x86 */
} CodegenOptions;

/* A backend is a struct of function pointers (design sec. 7): c, later neon and cuda. */
typedef struct Target {
    const char *name;        /* "c" */
    const char *source_ext;  /* ".c" */
    bool (*emit)(const Graph *g, const CodegenOptions *o, StrBuf *source, StrBuf *header,
                 Diag *d);
    bool channels_last;      /* wants NHWC convs/pools (PassOptions.channels_last) */
    bool planar_convs;       /* has NCHW depthwise and pointwise kernels (PassOptions.planar_convs) */
} Target;

extern const Target target_c;    /* codegen/c/target_c.c */
extern const Target target_neon; /* codegen/c/target_neon.c: target_c with NEON paths */
extern const Target target_cuda; /* codegen/cuda/target_cuda.c */
const Target *target_find(const char *name);

/* The runtime helper header (runtime_min/qcc_rt.h) embedded at build time. */
extern const char qcc_rt_h_text[];
/* runtime_min/qcc_cuda_emu.h, embedded too: qcc test --target=cuda builds with it. */
extern const char qcc_cuda_emu_h_text[];

#endif
