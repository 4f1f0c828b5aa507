/* target_neon.c: the `--target=neon` backend. The same frame and kernels as target_c (one
 * model.c for every machine), emitted with CodegenOptions.simd = CG_SIMD_NEON so the kernel
 * emitters write aarch64 NEON paths (SDOT under __ARM_FEATURE_DOTPROD, vmull/vpadal
 * otherwise) instead of the x86 ones, always beside the portable loop. All paths compute the
 * same exact integer sums and the same requantization, so the outputs are bit-identical. */
#include "cgen.h"

#include <string.h>

/* Goes right after model.c's `#include "model.h"`: every NEON block in the kernels is
 * guarded by QCC_NEON, so the file still builds (portable C) on any other compiler. */
static const char *const neon_prelude[] = {
    "\n/* target neon: aarch64 NEON intrinsics where the compiler targets them (SDOT with\n"
    " * -march=armv8.2-a+dotprod or later, vmull/vpadal otherwise); the portable C loops\n"
    " * otherwise, or with -DQCC_NO_SIMD. Both give identical integers. */\n"
    "#if defined(__ARM_NEON) && defined(__aarch64__) && !defined(QCC_NO_SIMD)\n"
    "#define QCC_NEON 1\n"
    "#include <arm_neon.h>\n",
    "/* four bytes at p (any alignment) in every 32-bit lane */\n"
    "static inline __attribute__((unused)) int8x16_t qcc_n_dup4(const int8_t *p) {\n"
    "    const uint8_t *b = (const uint8_t *)p;\n"
    "    return vreinterpretq_s8_u32(vdupq_n_u32((uint32_t)b[0] | (uint32_t)b[1] << 8 |\n"
    "                                            (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24));\n"
    "}\n",
    "/* the first n (< 4) bytes at p in every 32-bit lane, zero above */\n"
    "static inline __attribute__((unused)) int8x16_t qcc_n_dupn(const int8_t *p, int n) {\n"
    "    uint32_t v = 0;\n"
    "    for (int i = 0; i < n; i++)\n"
    "        v |= (uint32_t)(uint8_t)p[i] << (8 * i);\n"
    "    return vreinterpretq_s8_u32(vdupq_n_u32(v));\n"
    "}\n",
    "/* uint8 x as int8 x - 128: the SDOT operand of a uint8 activation */\n"
    "static inline __attribute__((unused)) int8x16_t qcc_n_flip(int8x16_t v) {\n"
    "    return veorq_s8(v, vdupq_n_s8(-128));\n"
    "}\n",
    "/* qcc_requant_q31 on 4 lanes (per-lane m0, shift): |acc*m0| rounded half to even at\n"
    " * bit s = 31 - shift as (|p| + 2^(s-1) - 1 + bit_s(|p|)) >> s, qcc_mul_q31's rule; the\n"
    " * magnitude is capped at 2^20 instead of saturating at INT32_MAX: the same after the\n"
    " * clamp to [lo, hi] since |zp| <= 255. |acc*m0| < 2^62, so the sums cannot overflow. */\n"
    "static inline __attribute__((unused)) int64x2_t qcc_n_round2(int64x2_t p, int64x2_t s) {\n"
    "    const uint64x2_t one = vdupq_n_u64(1);\n"
    "    const uint64x2_t mag = vreinterpretq_u64_s64(vabsq_s64(p));\n"
    "    const int64x2_t neg_s = vnegq_s64(s);\n"
    "    const uint64x2_t odd = vandq_u64(vshlq_u64(mag, neg_s), one);\n"
    "    const uint64x2_t half = vsubq_u64(vshlq_u64(one, vsubq_s64(s, vdupq_n_s64(1))), one);\n"
    "    uint64x2_t q = vshlq_u64(vaddq_u64(vaddq_u64(mag, half), odd), neg_s);\n"
    "    const uint64x2_t cap = vdupq_n_u64((uint64_t)1 << 20);\n"
    "    q = vbslq_u64(vcgtq_u64(q, cap), cap, q);\n"
    "    const int64x2_t sign = vshrq_n_s64(p, 63); /* 0 or -1 */\n"
    "    return vsubq_s64(veorq_s64(vreinterpretq_s64_u64(q), sign), sign);\n"
    "}\n",
    "static inline __attribute__((unused)) int32x4_t qcc_n_requant_q31(int32x4_t acc,\n"
    "        const int32_t *m0, const int32_t *sh, int32_t zp, int32_t lo, int32_t hi) {\n"
    "    const int32x4_t m = vld1q_s32(m0);\n"
    "    const int32x4_t s = vsubq_s32(vdupq_n_s32(31), vld1q_s32(sh));\n"
    "    const int64x2_t r0 = qcc_n_round2(vmull_s32(vget_low_s32(acc), vget_low_s32(m)),\n"
    "                                      vmovl_s32(vget_low_s32(s)));\n"
    "    const int64x2_t r1 = qcc_n_round2(vmull_high_s32(acc, m), vmovl_high_s32(s));\n"
    "    const int32x4_t r = vaddq_s32(vcombine_s32(vmovn_s64(r0), vmovn_s64(r1)), vdupq_n_s32(zp));\n"
    "    return vminq_s32(vmaxq_s32(r, vdupq_n_s32(lo)), vdupq_n_s32(hi));\n"
    "}\n",
    "/* qcc_requant_f on 4 lanes: the same float multiply and clamp; vcvtnq rounds half to\n"
    " * even like qcc_rint */\n"
    "static inline __attribute__((unused)) int32x4_t qcc_n_requant_f(int32x4_t acc,\n"
    "        const float *f, int32_t zp, int32_t lo, int32_t hi) {\n"
    "    float32x4_t v = vmulq_f32(vcvtq_f32_s32(acc), vld1q_f32(f));\n"
    "    v = vmaxq_f32(v, vdupq_n_f32((float)(lo - zp)));\n"
    "    v = vminq_f32(v, vdupq_n_f32((float)(hi - zp)));\n"
    "    return vaddq_s32(vcvtnq_s32_f32(v), vdupq_n_s32(zp));\n"
    "}\n",
    "/* 16 requantized lanes (already inside the output type's range) to n <= 16 bytes */\n"
    "static inline __attribute__((unused)) void qcc_n_store_u8(uint8_t *y, int32x4_t r0,\n"
    "        int32x4_t r1, int32x4_t r2, int32x4_t r3, int n) {\n"
    "    const uint8x16_t v = vcombine_u8(vqmovun_s16(vcombine_s16(vqmovn_s32(r0), vqmovn_s32(r1))),\n"
    "                                     vqmovun_s16(vcombine_s16(vqmovn_s32(r2), vqmovn_s32(r3))));\n"
    "    uint8_t t[16];\n"
    "    if (n == 16) {\n"
    "        vst1q_u8(y, v);\n"
    "        return;\n"
    "    }\n"
    "    vst1q_u8(t, v);\n"
    "    for (int i = 0; i < n; i++)\n"
    "        y[i] = t[i];\n"
    "}\n",
    "static inline __attribute__((unused)) void qcc_n_store_s8(int8_t *y, int32x4_t r0,\n"
    "        int32x4_t r1, int32x4_t r2, int32x4_t r3, int n) {\n"
    "    const int8x16_t v = vcombine_s8(vqmovn_s16(vcombine_s16(vqmovn_s32(r0), vqmovn_s32(r1))),\n"
    "                                    vqmovn_s16(vcombine_s16(vqmovn_s32(r2), vqmovn_s32(r3))));\n"
    "    int8_t t[16];\n"
    "    if (n == 16) {\n"
    "        vst1q_s8(y, v);\n"
    "        return;\n"
    "    }\n"
    "    vst1q_s8(t, v);\n"
    "    for (int i = 0; i < n; i++)\n"
    "        y[i] = t[i];\n"
    "}\n",
    "#endif\n",
};

static bool emit_neon(const Graph *g, const CodegenOptions *o, StrBuf *src, StrBuf *hdr,
                      Diag *d) {
    CodegenOptions no = *o;
    no.simd = CG_SIMD_NEON;
    StrBuf body;
    sb_init(&body);
    bool ok = target_c.emit(g, &no, &body, hdr, d);
    if (ok) {
        /* Splice the prelude in after the first line that includes the header. */
        const char *inc = strstr(body.data ? body.data : "", "#include \"");
        const char *eol = inc ? strchr(inc, '\n') : NULL;
        QCC_ASSERT(eol != NULL); /* target_c always includes its header */
        size_t head = (size_t)(eol + 1 - body.data);
        char *first = arena_strndup(g->arena, body.data, head);
        sb_puts(src, first);
        for (size_t i = 0; i < sizeof neon_prelude / sizeof neon_prelude[0]; i++)
            sb_puts(src, neon_prelude[i]);
        sb_puts(src, body.data + head);
    }
    sb_free(&body);
    return ok;
}

const Target target_neon = {"neon", ".c", emit_neon, true, false};
