/* qgemm_fast.c: quantized GEMM / MATMUL with a constant B (fully connected layers) as
 * row-by-row GEMV over B packed at compile time, with c3 bias, requantization and clamp fused
 * into the store. Two bodies, one compiled: AVX-512 VNNI (B as [block of 16 columns][k/4]
 * [16][4], eight blocks accumulated at once so eight vpdpbusd chains overlap) and portable C
 * (B transposed to [column][k]: four contiguous u8 x s8 dot products per pass, the loop shape
 * gcc -O3 vectorises into vpdpbusd or vpmaddwd by itself).
 * Arithmetic as qconv_fast.c: int8 A is read as a ^ 0x80 and c3p = c3 - 128 * sum_k B[k][n];
 * acc + c3p equals the portable kernel's acc + c3, so outputs are bit-identical.
 * Bound: K <= 2^16 (checked by the passes), |u8 * s8| <= 255 * 128: int32 is exact. */
#include "qfast_int.h"
#include "qneon.h"

#include <string.h>

typedef struct GemmGeo {
    int idx;                    /* node index (names n<idx>_*) */
    int m, k, n;                /* rows of A (all batch dims folded), depth, columns */
    int k4, kt;                 /* groups of 4 along k (rounded up), k % 4 */
    int blocks, lanes;          /* column blocks of 16, blocks * 16 */
    bool s8;                    /* int8 A read as uint8 */
    const char *at, *yt;        /* element types of A and of the output */
    FastQuant fq;               /* requant arrays */
} GemmGeo;

enum { GEMM_BLOCKS = 8 };       /* column blocks accumulated together (VNNI) */

static void emit_tables(CGen *cg, const Node *n, const GemmGeo *q, bool trans_b) {
    const Tensor *b = cg_tin(cg, n, 1);
    const int8_t *bd = b->data;
    Arena *a = cg->g->arena;
    int64_t nv = (int64_t)q->blocks * q->k4 * 64, np = (int64_t)q->lanes * q->k;
    int8_t *bv = arena_alloc(a, (size_t)nv);
    int8_t *bp = arena_alloc(a, (size_t)np);
    int32_t *c3p = arena_calloc(a, (size_t)q->lanes, sizeof(int32_t));
    for (int col = 0; col < q->n; col++) {
        int64_t sum = 0;
        for (int k = 0; k < q->k; k++) {
            int8_t v = bd[trans_b ? (int64_t)col * q->k + k : (int64_t)k * q->n + col];
            sum += v;
            bv[(((int64_t)(col / 16) * q->k4 + k / 4) * 16 + col % 16) * 4 + k % 4] = v;
            bp[(int64_t)col * q->k + k] = v;
        }
        int32_t c3 = n->q.nbias > 0 ? n->q.c3[n->q.nbias > 1 ? col : 0] : 0;
        c3p[col] = (int32_t)(c3 - (q->s8 ? 128 * sum : 0));
    }
    sb_printf(cg->helpers, "/* node %d: B packed for the fast GEMM; c3p = c3%s */\n", q->idx,
              q->s8 ? " - 128*sum_k B (int8 A read as a+128)" : "");
    bool neon = cg->o->simd == CG_SIMD_NEON; /* NEON (qneon.c): SDOT needs weight sums */
    fastk_packed(cg, q->idx, "b", bv, nv, bp, np);
    cg_i32_array(cg, cg->helpers, cg_fmt(cg, "n%d_c3p", q->idx), c3p, q->lanes);
    if (neon) /* NEON: 128 * sum_k B restores sum(u*B) from SDOT's sum((u-128)*B) */
        neon_gemm_bsum(cg, q->idx, bv, q->blocks, q->k4);
}

/* The requant+stores of accumulators a0.. a<nblk-1> (blocks b0..) with form fq. */
static void gemv_vnni_stores(CGen *cg, int ind, const GemmGeo *q, const FastQuant *fq, int b0,
                             int nblk) {
    for (int j = 0; j < nblk; j++) {
        int valid = q->n - (b0 + j) * 16;
        fastk_vnni_store16(cg, ind, fq, cg_fmt(cg, "a%d", j), cg_fmt(cg, "n%d_c3p", q->idx),
                           cg_fmt(cg, "%d", (b0 + j) * 16), cg_fmt(cg, "yr + %d", (b0 + j) * 16),
                           valid > 16 ? 16 : valid);
    }
}

/* AVX-512 VNNI: for `nblk` blocks starting at block `b0` (constant), one pass over k. */
static void gemv_vnni_group(CGen *cg, const GemmGeo *q, int b0, int nblk) {
    cg_line(cg, 2, "{");
    for (int j = 0; j < nblk; j++)
        cg_line(cg, 3, "__m512i a%d = _mm512_setzero_si512();", j);
    const char *x0 = q->s8 ? "_mm512_xor_si512(" : "";
    const char *x1 = q->s8 ? ", _mm512_set1_epi32(-2139062144))" : ""; /* 0x80808080 */
    if (q->k / 4 > 0) {
        cg_line(cg, 3, "for (int g = 0; g < %d; g++) {", q->k / 4);
        cg_line(cg, 4, "const __m512i u = %sqcc_v16_bcast4(ar + 4 * g)%s;", x0, x1);
        for (int j = 0; j < nblk; j++)
            cg_line(cg, 4, "QCC_DPBUSD(a%d, u, _mm512_loadu_si512(n%d_bv + (%lld + g) * 64));",
                    j, q->idx, (long long)(b0 + j) * q->k4);
        cg_line(cg, 3, "}");
    }
    if (q->kt) {
        StrBuf e;
        sb_init(&e);
        for (int t = 0; t < q->kt; t++)
            sb_printf(&e, "%s(uint32_t)ar[%d] << %d", t ? " | " : "", q->k / 4 * 4 + t, 8 * t);
        cg_line(cg, 3, "{ /* last %d of k: bytes past them meet zero weights */", q->kt);
        cg_line(cg, 4, "const __m512i u = %s_mm512_set1_epi32((int32_t)(%s))%s;", x0, e.data, x1);
        sb_free(&e);
        for (int j = 0; j < nblk; j++)
            cg_line(cg, 4, "QCC_DPBUSD(a%d, u, _mm512_loadu_si512(n%d_bv + %lld));", j, q->idx,
                    (long long)((b0 + j) * (int64_t)q->k4 + q->k / 4) * 64);
        cg_line(cg, 3, "}");
    }
    bool checked = fastk_vnni_checked_begin(cg, 3, &q->fq);
    gemv_vnni_stores(cg, 3, q, &q->fq, b0, nblk);
    if (checked) { /* a lane near a rounding tie: the exact form again */
        FastQuant exact;
        fastk_vnni_checked_redo(cg, 3, &q->fq, &exact);
        gemv_vnni_stores(cg, 4, q, &exact, b0, nblk);
        cg_line(cg, 3, "}");
    }
    cg_line(cg, 2, "}");
}

static void gemv_portable(CGen *cg, const GemmGeo *q) {
    cg_line(cg, 2, "for (int col = 0; col < %d; col += 4) {", (q->n + 3) / 4 * 4);
    cg_line(cg, 3, "const int8_t *b0 = n%d_bp + col * %d;", q->idx, q->k);
    cg_line(cg, 3, "int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;");
    cg_line(cg, 3, "for (int k = 0; k < %d; k++) {", q->k);
    cg_line(cg, 4, "const int32_t u = (uint8_t)(ar[k]%s);", q->s8 ? " ^ 0x80u" : "");
    cg_line(cg, 4, "a0 += u * b0[k]; a1 += u * b0[k + %d]; a2 += u * b0[k + %d]; "
            "a3 += u * b0[k + %d];", q->k, 2 * q->k, 3 * q->k);
    cg_line(cg, 3, "}");
    for (int j = 0; j < 4; j++) {
        int ind = 3;
        if (q->n % 4) {
            cg_line(cg, 3, "if (col + %d < %d)", j, q->n);
            ind = 4;
        }
        fastk_scalar_store(cg, ind, &q->fq, cg_fmt(cg, "a%d", j), cg_fmt(cg, "n%d_c3p", q->idx),
                           cg_fmt(cg, "col + %d", j), cg_fmt(cg, "yr[col + %d]", j));
    }
    cg_line(cg, 2, "}");
}

bool cg_qgemm_fast(CGen *cg, const Node *n) {
    if ((n->op != OP_GEMM && n->op != OP_MATMUL) || !cg->helpers || n->nin < 2)
        return false;
    const Tensor *ta = cg_tin(cg, n, 0), *tb = cg_tin(cg, n, 1), *ty = cg_tout(cg, n, 0);
    bool trans_a = n->op == OP_GEMM && n->a.gemm.trans_a;
    bool trans_b = n->op == OP_GEMM && n->a.gemm.trans_b;
    if (trans_a || !tensor_is_const(tb) || !tb->data || tb->rank != 2 || tb->dtype != DT_INT8 ||
        ta->rank < 1 || !dtype_is_int8ish(ta->dtype) || !dtype_is_int8ish(ty->dtype) ||
        n->q.nmul < 1 || n->q.nbias < 1 || tensor_is_const(ta))
        return false;
    for (int i = 0; i < tb->q.n; i++)
        if (tb->q.zero_point[i] != 0)
            return false; /* asymmetric B: the portable kernel's sum(A) term */
    GemmGeo q;
    memset(&q, 0, sizeof q);
    q.idx = (int)(n - cg->g->nodes);
    q.k = (int)ta->shape[ta->rank - 1];
    q.n = (int)(trans_b ? tb->shape[0] : tb->shape[1]);
    if ((trans_b ? tb->shape[1] : tb->shape[0]) != q.k || q.k < 1 || q.n < 1)
        return false;
    int64_t m = tensor_numel(ta) / q.k;
    if (m < 1 || m * q.n != tensor_numel(ty))
        return false;
    if (n->q.nbias != 1 && n->q.nbias != q.n)
        return false; /* bias varying along rows */
    if (n->q.mul[0].n != 1 && n->q.mul[0].n != q.n)
        return false;
    q.m = (int)m;
    q.k4 = (q.k + 3) / 4, q.kt = q.k % 4;
    q.blocks = (q.n + 15) / 16, q.lanes = q.blocks * 16;
    q.s8 = ta->dtype == DT_INT8;
    q.at = dtype_ctype(ta->dtype), q.yt = dtype_ctype(ty->dtype);

    fastk_runtime(cg);
    fastk_quant(cg, n, q.lanes, q.n, false, &q.fq);
    emit_tables(cg, n, &q, trans_b);
    cg_line(cg, 1, "/* row-by-row GEMV over packed B (%d x %d), requant fused */", q.k, q.n);
    cg_line(cg, 1, "for (int row = 0; row < %d; row++) {", q.m);
    cg_line(cg, 2, "const uint8_t *ar = (const uint8_t *)%s + row * %d;", cg_in(cg, n, 0), q.k);
    cg_line(cg, 2, "%s *yr = %s + row * %d;", q.yt, cg_out(cg, n, 0), q.n);
    if (cg->o->simd == CG_SIMD_NEON) { /* NEON target: qneon.c's body instead of VNNI */
        NeonGemm ng = {q.idx, q.k, q.n, q.k4, q.kt, q.blocks, q.s8, &q.fq};
        sb_puts(cg->sb, "#if defined(QCC_NEON)\n");
        neon_gemv(cg, &ng);
    } else {
        sb_puts(cg->sb, "#if defined(QCC_FAST_VNNI)\n");
        for (int b0 = 0; b0 < q.blocks; b0 += GEMM_BLOCKS)
            gemv_vnni_group(cg, &q, b0, q.blocks - b0 < GEMM_BLOCKS ? q.blocks - b0 : GEMM_BLOCKS);
    }
    sb_puts(cg->sb, "#else\n");
    gemv_portable(cg, &q);
    sb_puts(cg->sb, "#endif\n");
    cg_line(cg, 1, "}");
    return true;
}
