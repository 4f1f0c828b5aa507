/* qfast.h: the fast integer kernels of the C backend (issue 4) and how the rest of the backend
 * reaches them. passes/layout.c puts 2-d quantized convolutions and pools in channels-last
 * (NHWC) form; qkernels_conv.c dispatches a channels-last CONV with group == 1 (dense, 1x1
 * and strided included) to cg_qconv_dense_nhwc, and GEMM/MATMUL with a constant B to
 * cg_qgemm_fast. Each returns false WITHOUT a diagnostic when it does not handle the node's
 * form, so the caller falls back to its portable loop; a real error sets cg->d->errors.
 * The generated code keeps a portable C path always; SIMD paths sit behind
 * #if defined(__AVX512VNNI__) / defined(__AVX2__) (x86) or __ARM_NEON (neon target), and
 * -DQCC_NO_SIMD forces the portable path. All paths give identical integers. */
#ifndef QCC_QFAST_H
#define QCC_QFAST_H

#include "cgen.h"

bool cg_qconv_dense_nhwc(CGen *cg, const Node *n);
bool cg_qgemm_fast(CGen *cg, const Node *n);
/* qconv_pw.c: a pointwise CONV that passes/layout.c left NCHW (layout_planar_pointwise). */
bool cg_qconv_pointwise_planar(CGen *cg, const Node *n);

#endif
