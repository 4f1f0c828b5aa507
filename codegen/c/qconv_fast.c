/* qconv_fast.c: register-blocked dense convolution and GEMM kernels over pre-packed weights.
 * (Stub: being written; returns "not handled" so the portable kernels run.) */
#include "qfast.h"

bool cg_qconv_dense_nhwc(CGen *cg, const Node *n) {
    (void)cg, (void)n;
    return false;
}

bool cg_qgemm_fast(CGen *cg, const Node *n) {
    (void)cg, (void)n;
    return false;
}
