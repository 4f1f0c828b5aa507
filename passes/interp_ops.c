/* interp_ops.c: the float reference interpreter's kernels, one plain loop nest per op family,
 * ONNX semantics on the normalised attributes shape inference leaves behind (pads resolved,
 * axes non-negative, Clip bounds in the attribute). Sums run in double, so the result is the
 * exact sum rounded once: within 1e-4 of ONNX Runtime's float kernels on our models. */
#include "interp.h"
#include "passes.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define T(id) (&g->tensors[(id)])

/* Offsets into an input broadcast (numpy rules) to the output's shape: st[i] is the input's
 * stride along output axis i, 0 where the input has no such axis or size 1. */
static void bcast_strides(const Tensor *in, const Tensor *out, int64_t *st) {
    int64_t s = 1;
    for (int i = out->rank - 1, j = in->rank - 1; i >= 0; i--, j--) {
        if (j < 0 || in->shape[j] == 1) {
            st[i] = 0;
        } else {
            st[i] = s;
        }
        if (j >= 0)
            s *= in->shape[j];
    }
}

/* Input offset of output element e through strides st (output shape sh, rank r). */
static int64_t bcast_offset(int64_t e, const int64_t *sh, const int64_t *st, int r) {
    int64_t off = 0;
    for (int i = r - 1; i >= 0; i--) {
        int64_t c = e % sh[i];
        e /= sh[i];
        off += c * st[i];
    }
    return off;
}

static float binop(Op op, float a, float b) {
    switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_DIV: return a / b;
    case OP_MAX: return a > b || isnan(a) ? a : b;
    case OP_MIN: return a < b || isnan(a) ? a : b;
    default: qcc_unreachable();
    }
}

/* Binary and variadic element-wise ops: y = in0, then y = f(y, in_k) for k = 1.. */
static void run_eltwise(const Graph *g, const Node *n, float *const *val) {
    const Tensor *y = T(n->out[0]);
    int64_t ne = tensor_numel(y), st[QCC_MAX_RANK];
    float *out = val[n->out[0]];
    for (int k = 0; k < n->nin; k++) {
        const float *x = val[n->in[k]];
        bcast_strides(T(n->in[k]), y, st);
        for (int64_t e = 0; e < ne; e++) {
            float v = x[bcast_offset(e, y->shape, st, y->rank)];
            out[e] = k == 0 ? v : binop(n->op, out[e], v);
        }
    }
}

static float unop(const Node *n, float x) {
    const ActAttr *a = &n->a.act;
    switch (n->op) {
    case OP_RELU: return x > 0.0f ? x : 0.0f;
    case OP_CLIP: return x < a->lo ? a->lo : x > a->hi ? a->hi : x;
    case OP_LEAKY_RELU: return x >= 0.0f ? x : a->alpha * x;
    case OP_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case OP_TANH: return tanhf(x);
    case OP_ROUND: return nearbyintf(x);
    case OP_HARD_SIGMOID: {
        float v = a->alpha * x + a->beta;
        return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
    case OP_HARD_SWISH: {
        float v = x / 6.0f + 0.5f;
        return x * (v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v);
    }
    default: qcc_unreachable();
    }
}

/* Spatial geometry of a window op padded out to 3 dims (missing dims: size 1, no padding). */
typedef struct Win {
    int64_t in[3], out[3];      /* spatial extents */
    int64_t k[3], st[3], dl[3]; /* kernel, stride, dilation */
    int64_t pb[3], pe[3];       /* begin / end pads */
    int64_t in_sp, out_sp;      /* products of in[] / out[] */
} Win;

static void win_init(const ConvAttr *a, const Tensor *x, const Tensor *y, Win *w) {
    int ns = x->rank - 2;
    for (int i = 0; i < 3; i++) {
        int s = i - (3 - ns); /* right-aligned: a 2-d op uses w->*[1..2] */
        bool have = s >= 0;
        w->in[i] = have ? x->shape[2 + s] : 1;
        w->out[i] = have ? y->shape[2 + s] : 1;
        w->k[i] = have && a->kernel[s] ? a->kernel[s] : 1;
        w->st[i] = have && a->stride[s] ? a->stride[s] : 1;
        w->dl[i] = have && a->dilation[s] ? a->dilation[s] : 1;
        w->pb[i] = have ? a->pad[s] : 0;
        w->pe[i] = have ? a->pad[ns + s] : 0;
    }
    w->in_sp = w->in[0] * w->in[1] * w->in[2];
    w->out_sp = w->out[0] * w->out[1] * w->out[2];
}

/* Conv: y[b][m][o] = bias[m] + sum over the group's input channels and the kernel taps of
 * x[b][c][o*stride - pad + k*dilation] * w[m][c - group base][k], taps outside x read 0. */
static void run_conv(const Graph *g, const Node *n, float *const *val) {
    const Tensor *x = T(n->in[0]), *wt = T(n->in[1]), *y = T(n->out[0]);
    const float *xv = val[n->in[0]], *wv = val[n->in[1]];
    const float *bv = n->nin > 2 && n->in[2] >= 0 ? val[n->in[2]] : NULL;
    float *yv = val[n->out[0]];
    Win w;
    win_init(&n->a.conv, x, y, &w);
    int64_t batch = x->shape[0], cin = x->shape[1], cout = y->shape[1];
    int64_t groups = n->a.conv.group > 0 ? n->a.conv.group : 1;
    int64_t cin_g = wt->shape[1], cout_g = cout / groups, ksz = w.k[0] * w.k[1] * w.k[2];
    (void)cin;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t m = 0; m < cout; m++) {
            int64_t c0 = (m / cout_g) * cin_g;
            for (int64_t oz = 0; oz < w.out[0]; oz++)
                for (int64_t oy = 0; oy < w.out[1]; oy++)
                    for (int64_t ox = 0; ox < w.out[2]; ox++) {
                        double acc = bv ? bv[m] : 0.0;
                        for (int64_t ic = 0; ic < cin_g; ic++) {
                            const float *xc = xv + (b * x->shape[1] + c0 + ic) * w.in_sp;
                            const float *wc = wv + (m * cin_g + ic) * ksz;
                            for (int64_t kz = 0; kz < w.k[0]; kz++) {
                                int64_t iz = oz * w.st[0] - w.pb[0] + kz * w.dl[0];
                                if (iz < 0 || iz >= w.in[0])
                                    continue;
                                for (int64_t ky = 0; ky < w.k[1]; ky++) {
                                    int64_t iy = oy * w.st[1] - w.pb[1] + ky * w.dl[1];
                                    if (iy < 0 || iy >= w.in[1])
                                        continue;
                                    const float *xr = xc + (iz * w.in[1] + iy) * w.in[2];
                                    const float *wr = wc + (kz * w.k[1] + ky) * w.k[2];
                                    for (int64_t kx = 0; kx < w.k[2]; kx++) {
                                        int64_t ix = ox * w.st[2] - w.pb[2] + kx * w.dl[2];
                                        if (ix >= 0 && ix < w.in[2])
                                            acc += (double)xr[ix] * wr[kx];
                                    }
                                }
                            }
                        }
                        yv[((b * cout + m) * w.out[0] + oz) * w.out[1] * w.out[2] +
                           oy * w.out[2] + ox] = (float)acc;
                    }
        }
}

/* ConvTranspose as the scatter dual of Conv: every input element adds x * w[c][m][k] at
 * output position i*stride - pad + k*dilation (weights [Cin][Cout/group][k...]). */
static void run_conv_transpose(const Graph *g, const Node *n, float *const *val) {
    const Tensor *x = T(n->in[0]), *wt = T(n->in[1]), *y = T(n->out[0]);
    const float *xv = val[n->in[0]], *wv = val[n->in[1]];
    const float *bv = n->nin > 2 && n->in[2] >= 0 ? val[n->in[2]] : NULL;
    Win w;
    win_init(&n->a.conv, x, y, &w);
    int64_t batch = x->shape[0], cin = x->shape[1], cout = y->shape[1];
    int64_t groups = n->a.conv.group > 0 ? n->a.conv.group : 1;
    int64_t cin_g = cin / groups, cout_g = wt->shape[1], ksz = w.k[0] * w.k[1] * w.k[2];
    int64_t ny = tensor_numel(y);
    float *acc = val[n->out[0]]; /* accumulated in place: float sums, like ORT's col2im */
    for (int64_t e = 0; e < ny; e++)
        acc[e] = bv ? bv[e / w.out_sp % cout] : 0.0f;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t c = 0; c < cin; c++) {
            int64_t m0 = (c / cin_g) * cout_g;
            for (int64_t i = 0; i < w.in_sp; i++) {
                int64_t iz = i / (w.in[1] * w.in[2]), iy = i / w.in[2] % w.in[1];
                int64_t ix = i % w.in[2];
                float xval = xv[(b * cin + c) * w.in_sp + i];
                for (int64_t om = 0; om < cout_g; om++)
                    for (int64_t k = 0; k < ksz; k++) {
                        int64_t kz = k / (w.k[1] * w.k[2]), ky = k / w.k[2] % w.k[1];
                        int64_t kx = k % w.k[2];
                        int64_t oz = iz * w.st[0] - w.pb[0] + kz * w.dl[0];
                        int64_t oy = iy * w.st[1] - w.pb[1] + ky * w.dl[1];
                        int64_t ox = ix * w.st[2] - w.pb[2] + kx * w.dl[2];
                        if (oz < 0 || oz >= w.out[0] || oy < 0 || oy >= w.out[1] || ox < 0 ||
                            ox >= w.out[2])
                            continue;
                        acc[((b * cout + m0 + om) * w.out[0] + oz) * w.out[1] * w.out[2] +
                            oy * w.out[2] + ox] += xval * wv[(c * cout_g + om) * ksz + k];
                    }
            }
        }
}

/* MaxPool / AveragePool; the average divides by the taps inside the input, or with
 * count_include_pad by the taps inside the padded input (ONNX Runtime's rule with ceil_mode:
 * taps past the end padding never count). */
static void run_pool(const Graph *g, const Node *n, float *const *val) {
    const Tensor *x = T(n->in[0]), *y = T(n->out[0]);
    const float *xv = val[n->in[0]];
    float *yv = val[n->out[0]];
    Win w;
    win_init(&n->a.conv, x, y, &w);
    bool is_max = n->op == OP_MAX_POOL;
    int64_t planes = x->shape[0] * x->shape[1];
    for (int64_t p = 0; p < planes; p++)
        for (int64_t o = 0; o < w.out_sp; o++) {
            int64_t oc[3] = {o / (w.out[1] * w.out[2]), o / w.out[2] % w.out[1], o % w.out[2]};
            double sum = 0.0;
            float mx = -INFINITY;
            int64_t inside = 0, padded = 1;
            for (int d = 0; d < 3; d++) {
                int64_t lo = oc[d] * w.st[d] - w.pb[d], cnt = 0;
                for (int64_t k = 0; k < w.k[d]; k++) {
                    int64_t i = lo + k * w.dl[d];
                    cnt += i < w.in[d] + w.pe[d];
                }
                padded *= cnt;
            }
            for (int64_t kz = 0; kz < w.k[0]; kz++) {
                int64_t iz = oc[0] * w.st[0] - w.pb[0] + kz * w.dl[0];
                for (int64_t ky = 0; ky < w.k[1]; ky++) {
                    int64_t iy = oc[1] * w.st[1] - w.pb[1] + ky * w.dl[1];
                    for (int64_t kx = 0; kx < w.k[2]; kx++) {
                        int64_t ix = oc[2] * w.st[2] - w.pb[2] + kx * w.dl[2];
                        if (iz < 0 || iz >= w.in[0] || iy < 0 || iy >= w.in[1] || ix < 0 ||
                            ix >= w.in[2])
                            continue;
                        float v = xv[p * w.in_sp + (iz * w.in[1] + iy) * w.in[2] + ix];
                        sum += v;
                        mx = v > mx ? v : mx;
                        inside++;
                    }
                }
            }
            int64_t div = n->a.conv.count_include_pad ? padded : inside;
            yv[p * w.out_sp + o] = is_max ? mx : div ? (float)(sum / (double)div) : 0.0f;
        }
}

static void run_global_pool(const Graph *g, const Node *n, float *const *val) {
    const Tensor *x = T(n->in[0]);
    int64_t planes = x->shape[0] * x->shape[1], sp = tensor_numel(x) / (planes ? planes : 1);
    const float *xv = val[n->in[0]];
    float *yv = val[n->out[0]];
    for (int64_t p = 0; p < planes; p++) {
        double sum = 0.0;
        float mx = -INFINITY;
        for (int64_t i = 0; i < sp; i++) {
            sum += xv[p * sp + i];
            mx = xv[p * sp + i] > mx ? xv[p * sp + i] : mx;
        }
        yv[p] = n->op == OP_GLOBAL_MAX_POOL ? mx : (float)(sum / (double)sp);
    }
}

/* Gemm: y = alpha * A' B' + beta * C, C broadcast to [M, N]. */
static void run_gemm(const Graph *g, const Node *n, float *const *val) {
    const GemmAttr *a = &n->a.gemm;
    const Tensor *at = T(n->in[0]), *y = T(n->out[0]);
    int64_t m = y->shape[0], nn = y->shape[1], k = at->shape[a->trans_a ? 0 : 1];
    const float *av = val[n->in[0]], *bv = val[n->in[1]];
    bool have_c = n->nin > 2 && n->in[2] >= 0;
    int64_t st[QCC_MAX_RANK];
    if (have_c)
        bcast_strides(T(n->in[2]), y, st);
    float *yv = val[n->out[0]];
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < nn; j++) {
            double acc = 0.0;
            for (int64_t p = 0; p < k; p++)
                acc += (double)av[a->trans_a ? p * m + i : i * k + p] *
                       bv[a->trans_b ? j * k + p : p * nn + j];
            double c = have_c ? val[n->in[2]][bcast_offset(i * nn + j, y->shape, st, 2)] : 0.0;
            yv[i * nn + j] = (float)(a->alpha * acc + (have_c ? a->beta * c : 0.0));
        }
}

/* MatMul with numpy semantics: 1-d operands promoted (and the added axis dropped), batch
 * axes broadcast. */
static void run_matmul(const Graph *g, const Node *n, float *const *val) {
    const Tensor *at = T(n->in[0]), *bt = T(n->in[1]), *y = T(n->out[0]);
    int64_t m = at->rank > 1 ? at->shape[at->rank - 2] : 1, k = at->shape[at->rank - 1];
    int64_t nn = bt->rank > 1 ? bt->shape[bt->rank - 1] : 1;
    int nb = y->rank - (at->rank > 1) - (bt->rank > 1);
    int64_t ast[QCC_MAX_RANK] = {0}, bst[QCC_MAX_RANK] = {0}, nbatch = 1;
    int ab = at->rank > 2 ? at->rank - 2 : 0, bb = bt->rank > 2 ? bt->rank - 2 : 0;
    int64_t sa = 1, sb = 1; /* strides in matrices of the operands' batch axes */
    for (int i = nb - 1, ja = ab - 1, jb = bb - 1; i >= 0; i--, ja--, jb--) {
        ast[i] = ja >= 0 && at->shape[ja] != 1 ? sa : 0;
        bst[i] = jb >= 0 && bt->shape[jb] != 1 ? sb : 0;
        sa *= ja >= 0 ? at->shape[ja] : 1;
        sb *= jb >= 0 ? bt->shape[jb] : 1;
        nbatch *= y->shape[i];
    }
    const float *av = val[n->in[0]], *bv = val[n->in[1]];
    float *yv = val[n->out[0]];
    for (int64_t bi = 0; bi < nbatch; bi++) {
        const float *a = av + bcast_offset(bi, y->shape, ast, nb) * m * k;
        const float *b = bv + bcast_offset(bi, y->shape, bst, nb) * k * nn;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < nn; j++) {
                double acc = 0.0;
                for (int64_t p = 0; p < k; p++)
                    acc += (double)a[i * k + p] * b[p * nn + j];
                yv[(bi * m + i) * nn + j] = (float)acc;
            }
    }
}

static void run_batchnorm(const Graph *g, const Node *n, float *const *val) {
    const Tensor *x = T(n->in[0]);
    int64_t ch = x->rank > 1 ? x->shape[1] : 1, ne = tensor_numel(x);
    int64_t inner = 1;
    for (int i = 2; i < x->rank; i++)
        inner *= x->shape[i];
    const float *xv = val[n->in[0]], *sc = val[n->in[1]], *bi = val[n->in[2]];
    const float *mean = val[n->in[3]], *var = val[n->in[4]];
    float *yv = val[n->out[0]];
    for (int64_t e = 0; e < ne; e++) {
        int64_t c = e / inner % ch;
        yv[e] = (xv[e] - mean[c]) / sqrtf(var[c] + n->a.bn.epsilon) * sc[c] + bi[c];
    }
}

static void run_softmax(const Graph *g, const Node *n, float *const *val) {
    const Tensor *x = T(n->in[0]);
    int axis = (int)n->a.axis.axis;
    int64_t outer = 1, len = 1, inner = 1;
    for (int d = 0; d < x->rank; d++) {
        if (d < axis)
            outer *= x->shape[d];
        else if (d == axis || n->a.axis.legacy_softmax)
            len *= x->shape[d];
        else
            inner *= x->shape[d];
    }
    const float *xv = val[n->in[0]];
    float *yv = val[n->out[0]];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * len * inner + i;
            float mx = -INFINITY;
            for (int64_t k = 0; k < len; k++)
                mx = xv[base + k * inner] > mx ? xv[base + k * inner] : mx;
            double sum = 0.0;
            for (int64_t k = 0; k < len; k++)
                sum += yv[base + k * inner] = expf(xv[base + k * inner] - mx);
            for (int64_t k = 0; k < len; k++)
                yv[base + k * inner] = (float)(yv[base + k * inner] / sum);
        }
}

static void run_transpose(const Graph *g, const Node *n, float *const *val) {
    const Tensor *x = T(n->in[0]), *y = T(n->out[0]);
    int64_t xst[QCC_MAX_RANK], st[QCC_MAX_RANK], s = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        xst[i] = s;
        s *= x->shape[i];
    }
    for (int i = 0; i < y->rank; i++)
        st[i] = xst[n->a.axes.axes[i]];
    int64_t ne = tensor_numel(y);
    for (int64_t e = 0; e < ne; e++)
        val[n->out[0]][e] = val[n->in[0]][bcast_offset(e, y->shape, st, y->rank)];
}

static void run_concat(const Graph *g, const Node *n, float *const *val) {
    const Tensor *y = T(n->out[0]);
    int axis = (int)n->a.axis.axis;
    int64_t outer = 1, at = 0, row = 1;
    for (int d = 0; d < axis; d++)
        outer *= y->shape[d];
    for (int d = axis; d < y->rank; d++)
        row *= y->shape[d];
    for (int k = 0; k < n->nin; k++) {
        const Tensor *x = T(n->in[k]);
        int64_t part = outer ? tensor_numel(x) / outer : 0;
        for (int64_t o = 0; o < outer; o++)
            memcpy(val[n->out[0]] + o * row + at, val[n->in[k]] + o * part,
                   (size_t)part * sizeof(float));
        at += part;
    }
}

/* Pad: output coordinate o reads input o - pad_begin; outside the input, by mode. */
static void run_pad(const Graph *g, const Node *n, float *const *val) {
    const PadAttr *a = &n->a.pad;
    const Tensor *x = T(n->in[0]), *y = T(n->out[0]);
    int r = y->rank;
    int64_t ne = tensor_numel(y);
    for (int64_t e = 0; e < ne; e++) {
        int64_t rest = e, off = 0, mul = 1;
        bool outside = false;
        for (int i = r - 1; i >= 0; i--) {
            int64_t c = rest % y->shape[i] - a->pads[i], len = x->shape[i];
            rest /= y->shape[i];
            if (c < 0 || c >= len) {
                if (a->mode == PAD_CONSTANT || len == 0) {
                    outside = true;
                } else if (a->mode == PAD_EDGE) {
                    c = c < 0 ? 0 : len - 1;
                } else if (a->mode == PAD_WRAP) {
                    c = ((c % len) + len) % len;
                } else { /* reflect, without repeating the edge, period 2(len-1) */
                    int64_t per = len > 1 ? 2 * (len - 1) : 1;
                    c = ((c % per) + per) % per;
                    c = c >= len ? per - c : c;
                }
            }
            off += c * mul;
            mul *= len;
        }
        val[n->out[0]][e] = outside ? a->value : val[n->in[0]][off];
    }
}

/* QuantizeLinear / DequantizeLinear, per tensor or per axis, ONNX Runtime's arithmetic:
 * q = saturate(round_half_even(x / scale) + zp), x = (q - zp) * scale. */
static void run_qdq(const Graph *g, const Node *n, float *const *val) {
    const Tensor *x = T(n->in[0]), *s = T(n->in[1]);
    bool have_zp = n->nin > 2 && n->in[2] >= 0;
    int64_t ne = tensor_numel(x), nch = tensor_numel(s), inner = 1;
    int axis = (int)n->a.axis.axis;
    if (nch > 1)
        for (int d = axis + 1; d < x->rank; d++)
            inner *= x->shape[d];
    DType dt = T(n->out[0])->dtype;
    if (n->op == OP_QUANTIZE && dt == DT_UNDEF)
        dt = have_zp ? T(n->in[2])->dtype : DT_UINT8;
    const float *xv = val[n->in[0]], *sv = val[n->in[1]];
    const float *zv = have_zp ? val[n->in[2]] : NULL;
    float *yv = val[n->out[0]];
    for (int64_t e = 0; e < ne; e++) {
        int64_t c = nch > 1 ? e / inner % nch : 0;
        int32_t zp = zv ? (int32_t)zv[c] : 0;
        if (n->op == OP_QUANTIZE)
            yv[e] = (float)quantize_value(xv[e], sv[c], zp, dt);
        else
            yv[e] = (float)((int64_t)xv[e] - zp) * sv[c];
    }
}

bool interp_supports(const Graph *g, const Node *n) {
    switch (n->op) {
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MAX: case OP_MIN:
    case OP_RELU: case OP_CLIP: case OP_LEAKY_RELU: case OP_SIGMOID: case OP_TANH:
    case OP_ROUND: case OP_HARD_SIGMOID: case OP_HARD_SWISH:
    case OP_CONV: case OP_CONV_TRANSPOSE: case OP_AVG_POOL:
    case OP_GLOBAL_AVG_POOL: case OP_GLOBAL_MAX_POOL: case OP_GEMM: case OP_MATMUL:
    case OP_BATCHNORM: case OP_SOFTMAX: case OP_TRANSPOSE: case OP_CONCAT: case OP_PAD:
    case OP_IDENTITY: case OP_RESHAPE: case OP_FLATTEN: case OP_SQUEEZE: case OP_UNSQUEEZE:
        return n->nin > 0 && n->in[0] >= 0 && T(n->in[0])->rank <= QCC_MAX_RANK &&
               !((n->op == OP_CONV || n->op == OP_CONV_TRANSPOSE || n->op == OP_AVG_POOL) &&
                 T(n->in[0])->rank < 3);
    case OP_MAX_POOL: /* the Indices output is not modelled */
        return T(n->in[0])->rank >= 3 && (n->nout < 2 || n->out[1] < 0);
    case OP_QUANTIZE: case OP_DEQUANTIZE:
        return n->nin >= 2 && n->a.axis.block_size == 0;
    default:
        return false;
    }
}

bool interp_node(const Graph *g, const Node *n, float *const *val, Diag *d) {
    switch (n->op) {
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MAX: case OP_MIN:
        run_eltwise(g, n, val);
        return true;
    case OP_RELU: case OP_CLIP: case OP_LEAKY_RELU: case OP_SIGMOID: case OP_TANH:
    case OP_ROUND: case OP_HARD_SIGMOID: case OP_HARD_SWISH: {
        int64_t ne = tensor_numel(T(n->out[0]));
        for (int64_t e = 0; e < ne; e++)
            val[n->out[0]][e] = unop(n, val[n->in[0]][e]);
        return true;
    }
    case OP_IDENTITY: case OP_RESHAPE: case OP_FLATTEN: case OP_SQUEEZE: case OP_UNSQUEEZE:
        /* row-major data is unchanged; the output's shape says how to read it */
        memcpy(val[n->out[0]], val[n->in[0]],
               (size_t)tensor_numel(T(n->out[0])) * sizeof(float));
        return true;
    case OP_CONV: run_conv(g, n, val); return true;
    case OP_CONV_TRANSPOSE: run_conv_transpose(g, n, val); return true;
    case OP_MAX_POOL: case OP_AVG_POOL: run_pool(g, n, val); return true;
    case OP_GLOBAL_AVG_POOL: case OP_GLOBAL_MAX_POOL: run_global_pool(g, n, val); return true;
    case OP_GEMM: run_gemm(g, n, val); return true;
    case OP_MATMUL: run_matmul(g, n, val); return true;
    case OP_BATCHNORM: run_batchnorm(g, n, val); return true;
    case OP_SOFTMAX: run_softmax(g, n, val); return true;
    case OP_TRANSPOSE: run_transpose(g, n, val); return true;
    case OP_CONCAT: run_concat(g, n, val); return true;
    case OP_PAD: run_pad(g, n, val); return true;
    case OP_QUANTIZE: case OP_DEQUANTIZE: run_qdq(g, n, val); return true;
    default:
        return diag_error(d, "node '%s' (%s): not supported by the float interpreter", n->name,
                          op_name(n->op));
    }
}
