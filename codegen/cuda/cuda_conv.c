/* cuda_conv.c: the CUDA backend's parallel int8 kernels for CONV, GEMM and MATMUL (implicit
 * GEMM on __dp4a with shared-memory tiles) and depthwise CONV (one thread per output).
 * Integer results equal the C backend's (codegen/c/qkernels_conv.c) bit for bit: the same
 * int32 sum, the same c3, the same requant expression (cg_requant). Layout NCHW, as the IR.
 *
 * Implicit GEMM: rows m are output pixels (batch folded in), columns are output channels,
 * K = Cin*KH*KW (conv) or the inner dimension (gemm). __dp4a multiplies signed bytes, so
 * both operands are moved into int8 at load time: x' = x - xs, w' = w - ws with xs, ws = 128
 * for uint8 tensors, else 0. Expanding sum (x'+xs)(w'+ws) - zw*sum x + c3:
 *   acc = sum x'w' + (ws - zw[c]) * sum x' + corr[c],
 *   corr[c] = c3[c] + xs*sum_k w'[c] + K*xs*ws - zw[c]*K*xs   (compile time, int64 -> int32)
 * Bounds: |x'|, |w'| <= 128, so |sum x'w'| <= 2^14 K < 2^30 for K <= 2^16 (the passes check
 * K); the epilogue adds in int64 and the result is the C backend's acc, which fits int32. */
#include "cudagen.h"

#include <string.h>

#define TILE_M 64   /* output pixels per block */
#define TILE_N 64   /* output channels per block */
#define TILE_K 32   /* K per shared-memory stage (8 words of 4 bytes) */

typedef struct Gemm {
    int64_t m, n, k;            /* GEMM view of the node */
    int64_t kpad;               /* k rounded up to TILE_K */
    int xs, ws;                 /* 128 for uint8 operands (moved to int8), else 0 */
    bool conv;                  /* gather x through im2col (else A is row-major [m][k]) */
} Gemm;

static int shift_of(DType t) { return t == DT_UINT8 ? 128 : 0; }

static bool is8(DType t) { return t == DT_INT8 || t == DT_UINT8; }

/* Weight element w[n][k] of node n in the GEMM view. */
static int32_t weight_at(const Node *nd, const Tensor *w, const Gemm *gm, int64_t col,
                         int64_t k) {
    if (gm->conv)
        return (int32_t)tensor_get_i(w, col * gm->k + k);
    bool trans_b = nd->op == OP_GEMM && nd->a.gemm.trans_b;
    return (int32_t)tensor_get_i(w, trans_b ? col * gm->k + k : k * gm->n + col);
}

static int32_t zp_at(const Tensor *w, int64_t col) {
    return w->q.n > 1 ? w->q.zero_point[col] : w->q.n == 1 ? w->q.zero_point[0] : 0;
}

/* Can the dp4a kernel take n? Fills gm. */
static bool gemm_view(const CuGen *cu, const Node *nd, Gemm *gm) {
    const Graph *g = cu->cg->g;
    if (!node_is_quantized(g, nd) || nd->nin < 2 || nd->in[1] < 0)
        return false;
    const Tensor *x = &g->tensors[nd->in[0]], *w = &g->tensors[nd->in[1]];
    const Tensor *y = &g->tensors[nd->out[0]];
    if (!tensor_is_const(w) || !is8(x->dtype) || !is8(w->dtype) ||
        !(is8(y->dtype) || y->dtype == DT_INT32))
        return false;
    memset(gm, 0, sizeof *gm);
    if (nd->op == OP_CONV) {
        const ConvAttr *a = &nd->a.conv;
        if (x->rank != 4 || w->rank != 4 || y->rank != 4 || (a->group > 1))
            return false;
        gm->conv = true;
        gm->m = y->shape[0] * y->shape[2] * y->shape[3];
        gm->n = y->shape[1];
        gm->k = w->shape[1] * w->shape[2] * w->shape[3];
        if (nd->q.nbias > 1 && nd->q.nbias != gm->n)
            return false;
    } else if (nd->op == OP_GEMM || nd->op == OP_MATMUL) {
        if (nd->op == OP_GEMM && nd->a.gemm.trans_a)
            return false;
        if (x->rank < 2 || w->rank != 2 || nd->q.nbias == 0)
            return false;
        bool trans_b = nd->op == OP_GEMM && nd->a.gemm.trans_b;
        gm->k = x->shape[x->rank - 1];
        gm->n = trans_b ? w->shape[0] : w->shape[1];
        gm->m = tensor_numel(x) / (gm->k > 0 ? gm->k : 1);
        if ((trans_b ? w->shape[1] : w->shape[0]) != gm->k || nd->q.nbias > gm->n ||
            (nd->q.nbias > 1 && nd->q.nbias != gm->n) || tensor_numel(y) != gm->m * gm->n)
            return false;
    } else {
        return false;
    }
    if (w->q.n > 1 && w->q.n != gm->n)
        return false;
    if (gm->m <= 0 || gm->n <= 0 || gm->k <= 0 || gm->k > 65536)
        return false;
    gm->kpad = (gm->k + TILE_K - 1) / TILE_K * TILE_K;
    gm->xs = shift_of(x->dtype);
    gm->ws = shift_of(w->dtype);
    /* corr must fit int32 */
    for (int64_t col = 0; col < gm->n; col++) {
        int64_t sw = 0, zw = zp_at(w, col);
        for (int64_t k = 0; k < gm->k; k++)
            sw += weight_at(nd, w, gm, col, k) - gm->ws;
        int64_t c3 = nd->q.nbias > 1 ? nd->q.c3[col] : nd->q.nbias == 1 ? nd->q.c3[0] : 0;
        int64_t corr = c3 + gm->xs * sw + gm->k * gm->xs * gm->ws - zw * gm->k * gm->xs;
        if (corr > INT32_MAX || corr < INT32_MIN)
            return false;
    }
    return true;
}

/* A tile word: pixel/row m, bytes k .. k+3 (x - xs; padding reads zx, K padding 0). */
static void put_gather(CuGen *cu, const Node *nd, const Gemm *gm) {
    CGen *cg = cu->cg;
    const Tensor *x = cg_tin(cg, nd, 0), *y = cg_tout(cg, nd, 0);
    if (gm->conv) {
        const ConvAttr *a = &nd->a.conv;
        int64_t oh = y->shape[2], ow = y->shape[3], h = x->shape[2], wd = x->shape[3];
        int64_t kh = cg_tin(cg, nd, 1)->shape[2], kw = cg_tin(cg, nd, 1)->shape[3];
        cg_line(cg, 4, "const int batch = m / %lld, pix = m %% %lld;", (long long)(oh * ow),
                (long long)(oh * ow));
        cg_line(cg, 4, "const int out_y = pix / %lld, out_x = pix %% %lld;", (long long)ow,
                (long long)ow);
        cg_line(cg, 4, "for (int byte = 0; byte < 4; byte++) {");
        cg_line(cg, 5, "const int k = k0 + kk * 4 + byte;");
        cg_line(cg, 5, "if (k >= %lld)", (long long)gm->k);
        cg_line(cg, 6, "break;");
        cg_line(cg, 5, "const int in_c = k / %lld, k_y = k / %lld %% %lld, k_x = k %% %lld;",
                (long long)(kh * kw), (long long)kw, (long long)kh, (long long)kw);
        cg_line(cg, 5, "const int in_y = out_y * %lld - %lld + k_y * %lld;",
                (long long)(a->stride[0] > 0 ? a->stride[0] : 1), (long long)a->pad[0],
                (long long)(a->dilation[0] > 0 ? a->dilation[0] : 1));
        cg_line(cg, 5, "const int in_x = out_x * %lld - %lld + k_x * %lld;",
                (long long)(a->stride[1] > 0 ? a->stride[1] : 1), (long long)a->pad[1],
                (long long)(a->dilation[1] > 0 ? a->dilation[1] : 1));
        cg_line(cg, 5, "const int v = (in_y >= 0 && in_y < %lld && in_x >= 0 && in_x < %lld ? "
                "(int)x0[batch * %lld + in_c * %lld + in_y * %lld + in_x] : %ld) - %d;",
                (long long)h, (long long)wd, (long long)(x->shape[1] * h * wd),
                (long long)(h * wd), (long long)wd, (long)cg_zp(x), gm->xs);
    } else {
        cg_line(cg, 4, "for (int byte = 0; byte < 4; byte++) {");
        cg_line(cg, 5, "const int k = k0 + kk * 4 + byte;");
        cg_line(cg, 5, "if (k >= %lld)", (long long)gm->k);
        cg_line(cg, 6, "break;");
        cg_line(cg, 5, "const int v = (int)x0[(long long)m * %lld + k] - %d;", (long long)gm->k,
                gm->xs);
    }
    cg_line(cg, 5, "packed |= (unsigned)(unsigned char)(signed char)v << (8 * byte);");
    cg_line(cg, 4, "}");
}

static bool emit_gemm_dp4a(CuGen *cu, const Node *nd) {
    CGen *cg = cu->cg;
    Gemm gm;
    if (!gemm_view(cu, nd, &gm))
        qcc_unreachable();
    const Tensor *w = cg_tin(cg, nd, 1), *y = cg_tout(cg, nd, 0);
    Arena *a = cg->g->arena;
    /* pack w' as words [kpad/4][n], 4 consecutive k per word (byte 0 = lowest k) */
    int64_t nwords = gm.kpad / 4 * gm.n;
    int32_t *pack = arena_calloc(a, (size_t)nwords, sizeof(int32_t));
    int32_t *corr = arena_calloc(a, (size_t)gm.n, sizeof(int32_t));
    int32_t *zc = arena_calloc(a, (size_t)gm.n, sizeof(int32_t));
    bool need_sum = false;
    for (int64_t col = 0; col < gm.n; col++) {
        int64_t sw = 0, zw = zp_at(w, col);
        for (int64_t k = 0; k < gm.k; k++) {
            int32_t v = weight_at(nd, w, &gm, col, k) - gm.ws;
            sw += v;
            uint32_t byte = (uint32_t)(uint8_t)(int8_t)v << (8 * (k % 4));
            pack[(k / 4) * gm.n + col] = (int32_t)((uint32_t)pack[(k / 4) * gm.n + col] | byte);
        }
        int64_t c3 = nd->q.nbias > 1 ? nd->q.c3[col] : nd->q.nbias == 1 ? nd->q.c3[0] : 0;
        corr[col] = (int32_t)(c3 + gm.xs * sw + gm.k * gm.xs * gm.ws - zw * gm.k * gm.xs);
        zc[col] = (int32_t)(gm.ws - zw);
        need_sum = need_sum || zc[col] != 0;
    }
    const char *wp = cu_extra(cu, nd, "wpack", pack, nwords);
    const char *cn = cu_extra(cu, nd, "corr", corr, gm.n);
    const char *zn = need_sum ? cu_extra(cu, nd, "zc", zc, gm.n) : NULL;
    cu->grid = cg_fmt(cg, "dim3(%lld, %lld)", (long long)((gm.m + TILE_M - 1) / TILE_M),
                      (long long)((gm.n + TILE_N - 1) / TILE_N));
    cu->block = "dim3(256)";

    cg_line(cg, 1, "/* implicit GEMM on __dp4a: M = %lld %s, N = %lld, K = %lld (padded to %lld);",
            (long long)gm.m, gm.conv ? "output pixels" : "rows", (long long)gm.n,
            (long long)gm.k, (long long)gm.kpad);
    cg_line(cg, 1, " * block tile %dx%d, K stage %d, 256 threads x 4x4 outputs; x' = x - %d, "
            "w' = w - %d (int8) */", TILE_M, TILE_N, TILE_K, gm.xs, gm.ws);
    cg_line(cg, 1, "__shared__ int a_tile[%d][%d]; /* [k word][pixel] */", TILE_K / 4, TILE_M);
    cg_line(cg, 1, "__shared__ int b_tile[%d][%d]; /* [k word][channel] */", TILE_K / 4, TILE_N);
    cg_line(cg, 1, "const int tid = threadIdx.x, tx = tid %% 16, ty = tid / 16;");
    cg_line(cg, 1, "const int m0 = blockIdx.x * %d, n0 = blockIdx.y * %d;", TILE_M, TILE_N);
    cg_line(cg, 1, need_sum ? "int acc[4][4], sum_x[4];" : "int acc[4][4];");
    cg_line(cg, 1, "for (int i = 0; i < 4; i++) {");
    if (need_sum)
        cg_line(cg, 2, "sum_x[i] = 0;");
    cg_line(cg, 2, "for (int j = 0; j < 4; j++)");
    cg_line(cg, 3, "acc[i][j] = 0;");
    cg_line(cg, 1, "}");
    cg_line(cg, 1, "for (int k0 = 0; k0 < %lld; k0 += %d) {", (long long)gm.kpad, TILE_K);
    cg_line(cg, 2, "for (int r = 0; r < %d; r++) { /* each thread loads 2 words of A and B */",
            TILE_K / 4 * TILE_M / 256);
    cg_line(cg, 3, "const int word = tid + 256 * r, kk = word / %d, mi = word %% %d;", TILE_M,
            TILE_M);
    cg_line(cg, 3, "const int m = m0 + mi, col = n0 + mi;");
    cg_line(cg, 3, "unsigned packed = 0;");
    cg_line(cg, 3, "if (m < %lld) {", (long long)gm.m);
    put_gather(cu, nd, &gm);
    cg_line(cg, 3, "}");
    cg_line(cg, 3, "a_tile[kk][mi] = (int)packed;");
    cg_line(cg, 3, "b_tile[kk][mi] = col < %lld ? %s[(k0 / 4 + kk) * %lld + col] : 0;",
            (long long)gm.n, wp, (long long)gm.n);
    cg_line(cg, 2, "}");
    cg_line(cg, 2, "__syncthreads(); /* tiles complete before anyone reads them */");
    cg_line(cg, 2, "for (int kk = 0; kk < %d; kk++) {", TILE_K / 4);
    cg_line(cg, 3, "int a[4], b[4];");
    cg_line(cg, 3, "for (int i = 0; i < 4; i++) {");
    cg_line(cg, 4, "a[i] = a_tile[kk][ty + 16 * i];");
    cg_line(cg, 4, "b[i] = b_tile[kk][tx + 16 * i];");
    cg_line(cg, 3, "}");
    cg_line(cg, 3, "for (int i = 0; i < 4; i++) {");
    if (need_sum)
        cg_line(cg, 4, "sum_x[i] = __dp4a(a[i], 0x01010101, sum_x[i]);");
    cg_line(cg, 4, "for (int j = 0; j < 4; j++)");
    cg_line(cg, 5, "acc[i][j] = __dp4a(a[i], b[j], acc[i][j]);");
    cg_line(cg, 3, "}");
    cg_line(cg, 2, "}");
    cg_line(cg, 2, "__syncthreads(); /* everyone done before the next stage overwrites */");
    cg_line(cg, 1, "}");
    cg_line(cg, 1, "for (int i = 0; i < 4; i++) {");
    cg_line(cg, 2, "const int m = m0 + ty + 16 * i;");
    cg_line(cg, 2, "if (m >= %lld)", (long long)gm.m);
    cg_line(cg, 3, "continue;");
    int64_t ohw = gm.conv ? y->shape[2] * y->shape[3] : 1;
    if (gm.conv)
        cg_line(cg, 2, "const long long base = (long long)(m / %lld) * %lld + m %% %lld;",
                (long long)ohw, (long long)(gm.n * ohw), (long long)ohw);
    else
        cg_line(cg, 2, "const long long base = (long long)m * %lld;", (long long)gm.n);
    cg_line(cg, 2, "for (int j = 0; j < 4; j++) {");
    cg_line(cg, 3, "const int col = n0 + tx + 16 * j;");
    cg_line(cg, 3, "if (col >= %lld)", (long long)gm.n);
    cg_line(cg, 4, "continue;");
    cg_line(cg, 3, "const int32_t sum = (int32_t)((long long)acc[i][j] + %s%s[col]);",
            zn ? cg_fmt(cg, "(long long)%s[col] * sum_x[i] + ", zn) : "", cn);
    const char *dst = cg_fmt(cg, "y0[base + (long long)col * %lld]", (long long)ohw);
    if (y->dtype == DT_INT32)
        cg_line(cg, 3, "%s = sum;", dst);
    else
        cg_line(cg, 3, "%s = (%s)%s;", dst, dtype_ctype(y->dtype),
                cg_requant(cg, nd, 0, "sum", "col"));
    cg_line(cg, 2, "}");
    cg_line(cg, 1, "}");
    return true;
}

/* Depthwise conv (group == Cin == Cout): one thread per output element, grid-stride, the C
 * backend's loop order and int32 arithmetic. */
static bool dw_view(const CuGen *cu, const Node *nd) {
    const Graph *g = cu->cg->g;
    if (nd->op != OP_CONV || !node_is_quantized(g, nd) || nd->nin < 2)
        return false;
    const Tensor *x = &g->tensors[nd->in[0]], *w = &g->tensors[nd->in[1]];
    const Tensor *y = &g->tensors[nd->out[0]];
    return x->rank == 4 && w->rank == 4 && y->rank == 4 && tensor_is_const(w) && is8(x->dtype) &&
           is8(w->dtype) && is8(y->dtype) && nd->a.conv.group > 1 &&
           nd->a.conv.group == x->shape[1] && y->shape[1] == x->shape[1] && w->shape[1] == 1 &&
           (nd->q.nbias <= 1 || nd->q.nbias == y->shape[1]) &&
           (w->q.n <= 1 || w->q.n == y->shape[1]);
}

static bool emit_depthwise(CuGen *cu, const Node *nd) {
    CGen *cg = cu->cg;
    const Tensor *x = cg_tin(cg, nd, 0), *w = cg_tin(cg, nd, 1), *y = cg_tout(cg, nd, 0);
    const ConvAttr *a = &nd->a.conv;
    int64_t ch = y->shape[1], oh = y->shape[2], ow = y->shape[3], h = x->shape[2];
    int64_t wd = x->shape[3], kh = w->shape[2], kw = w->shape[3], total = tensor_numel(y);
    int64_t blocks = (total + 255) / 256;
    cu->grid = cg_fmt(cg, "dim3(%lld)", (long long)(blocks < 4096 ? blocks : 4096));
    cu->block = "dim3(256)";
    bool any_zw = false;
    int32_t *zw = arena_calloc(cg->g->arena, (size_t)ch, sizeof(int32_t));
    for (int64_t c = 0; c < ch; c++)
        any_zw = any_zw || (zw[c] = zp_at(w, c)) != 0;
    const char *zwn = any_zw ? cu_extra(cu, nd, "zw", zw, ch) : NULL;
    cg_line(cg, 1, "/* depthwise: one thread per output element; acc = sum x*w%s + c3[c], "
            "padding reads zx = %ld */", zwn ? " - zw*sum(x)" : "", (long)cg_zp(x));
    cg_line(cg, 1, "for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; "
            "i < %lld; i += (long long)gridDim.x * blockDim.x) {", (long long)total);
    cg_line(cg, 2, "const int out_x = (int)(i %% %lld), out_y = (int)(i / %lld %% %lld);",
            (long long)ow, (long long)ow, (long long)oh);
    cg_line(cg, 2, "const int c = (int)(i / %lld %% %lld), batch = (int)(i / %lld);",
            (long long)(oh * ow), (long long)ch, (long long)(ch * oh * ow));
    cg_line(cg, 2, "int32_t acc = 0, sum_x = 0;");
    cg_line(cg, 2, "for (int k_y = 0; k_y < %lld; k_y++) {", (long long)kh);
    cg_line(cg, 3, "const int in_y = out_y * %lld - %lld + k_y * %lld;",
            (long long)(a->stride[0] > 0 ? a->stride[0] : 1), (long long)a->pad[0],
            (long long)(a->dilation[0] > 0 ? a->dilation[0] : 1));
    cg_line(cg, 3, "for (int k_x = 0; k_x < %lld; k_x++) {", (long long)kw);
    cg_line(cg, 4, "const int in_x = out_x * %lld - %lld + k_x * %lld;",
            (long long)(a->stride[1] > 0 ? a->stride[1] : 1), (long long)a->pad[1],
            (long long)(a->dilation[1] > 0 ? a->dilation[1] : 1));
    cg_line(cg, 4, "const int32_t xv = in_y >= 0 && in_y < %lld && in_x >= 0 && in_x < %lld ? "
            "(int32_t)x0[(batch * %lld + c) * %lld + in_y * %lld + in_x] : %ld;", (long long)h,
            (long long)wd, (long long)ch, (long long)(h * wd), (long long)wd, (long)cg_zp(x));
    cg_line(cg, 4, "acc += xv * (int32_t)%s[c * %lld + k_y * %lld + k_x];", cg_in(cg, nd, 1),
            (long long)(kh * kw), (long long)kw);
    cg_line(cg, 4, "sum_x += xv;");
    cg_line(cg, 3, "}");
    cg_line(cg, 2, "}");
    if (zwn)
        cg_line(cg, 2, "acc -= %s[c] * sum_x;", zwn);
    else
        cg_line(cg, 2, "(void)sum_x;");
    if (nd->q.nbias > 0)
        cg_line(cg, 2, "acc += %s[%s];", cg_node_array(cg, nd, "c3"), nd->q.nbias > 1 ? "c" : "0");
    cg_line(cg, 2, "y0[i] = (%s)%s;", dtype_ctype(y->dtype), cg_requant(cg, nd, 0, "acc", "c"));
    cg_line(cg, 1, "}");
    return true;
}

CuKernelFn cu_conv_kernel(const CuGen *cu, const Node *n) {
    Gemm gm;
    if (gemm_view(cu, n, &gm))
        return emit_gemm_dp4a;
    if (dw_view(cu, n))
        return emit_depthwise;
    return NULL;
}
