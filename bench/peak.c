/* bench/peak.c: measures this core's int8 multiply-accumulate peak for bench/run's "% of peak".
 * AVX-512 VNNI: a loop of independent vpdpbusd zmm (64 u8 x s8 MACs each) in inline asm, so
 * no compiler can schedule it worse than the hardware allows (gcc 12 does with the intrinsic).
 * Also AVX2 vpmaddubsw+vpmaddwd+vpaddd (32 MACs per triple). Prints key=value lines; a CPU or
 * compiler without them gets "vnni_gmacs=none" and the reason. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>

static double peak_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PEAK_X86 1

/* 12 accumulators: enough independent chains to cover vpdpbusd's latency x throughput. */
__attribute__((target("avx512f,avx512vnni"))) static void peak_vnni_loop(long iters) {
    __asm__ volatile(
        "vpternlogd $0xff, %%zmm12, %%zmm12, %%zmm12\n\t"
        "vpternlogd $0xff, %%zmm13, %%zmm13, %%zmm13\n\t"
        "1:\n\t"
        "vpdpbusd %%zmm13, %%zmm12, %%zmm0\n\t"
        "vpdpbusd %%zmm13, %%zmm12, %%zmm1\n\t"
        "vpdpbusd %%zmm13, %%zmm12, %%zmm2\n\t"
        "vpdpbusd %%zmm13, %%zmm12, %%zmm3\n\t"
        "vpdpbusd %%zmm13, %%zmm12, %%zmm4\n\t"
        "vpdpbusd %%zmm13, %%zmm12, %%zmm5\n\t"
        "vpdpbusd %%zmm13, %%zmm12, %%zmm6\n\t"
        "vpdpbusd %%zmm13, %%zmm12, %%zmm7\n\t"
        "vpdpbusd %%zmm13, %%zmm12, %%zmm8\n\t"
        "vpdpbusd %%zmm13, %%zmm12, %%zmm9\n\t"
        "vpdpbusd %%zmm13, %%zmm12, %%zmm10\n\t"
        "vpdpbusd %%zmm13, %%zmm12, %%zmm11\n\t"
        "dec %0\n\t"
        "jnz 1b\n\t"
        "vzeroupper\n\t"
        : "+r"(iters)
        :
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
          "xmm10", "xmm11", "xmm12", "xmm13", "cc");
}

/* 4 chains of vpmaddubsw (u8 x s8 pairs -> s16) + vpmaddwd (x1 -> s32) + vpaddd. */
__attribute__((target("avx2"))) static void peak_avx2_loop(long iters) {
    __asm__ volatile(
        "vpcmpeqd %%ymm12, %%ymm12, %%ymm12\n\t"
        "vpabsb %%ymm12, %%ymm13\n\t"
        "vpabsw %%ymm12, %%ymm14\n\t"
        "1:\n\t"
        "vpmaddubsw %%ymm13, %%ymm12, %%ymm0\n\t"
        "vpmaddubsw %%ymm13, %%ymm12, %%ymm1\n\t"
        "vpmaddubsw %%ymm13, %%ymm12, %%ymm2\n\t"
        "vpmaddubsw %%ymm13, %%ymm12, %%ymm3\n\t"
        "vpmaddwd %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpmaddwd %%ymm14, %%ymm1, %%ymm1\n\t"
        "vpmaddwd %%ymm14, %%ymm2, %%ymm2\n\t"
        "vpmaddwd %%ymm14, %%ymm3, %%ymm3\n\t"
        "vpaddd %%ymm0, %%ymm4, %%ymm4\n\t"
        "vpaddd %%ymm1, %%ymm5, %%ymm5\n\t"
        "vpaddd %%ymm2, %%ymm6, %%ymm6\n\t"
        "vpaddd %%ymm3, %%ymm7, %%ymm7\n\t"
        "dec %0\n\t"
        "jnz 1b\n\t"
        "vzeroupper\n\t"
        : "+r"(iters)
        :
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm12", "xmm13",
          "xmm14", "cc");
}

/* Best of several ~20 ms measurements, in GMAC/s. */
static double peak_measure(void (*loop)(long), double macs_per_iter) {
    long iters = 100000;
    loop(iters); /* warm-up and clock ramp */
    for (;;) {  /* scale so one measurement lasts about 20 ms */
        double t0 = peak_now_s();
        loop(iters);
        double dt = peak_now_s() - t0;
        if (dt > 0.02 || iters > (1L << 40)) break;
        iters *= 2;
    }
    double best = 0.0;
    for (int r = 0; r < 7; r++) {
        double t0 = peak_now_s();
        loop(iters);
        double g = (double)iters * macs_per_iter / (peak_now_s() - t0) * 1e-9;
        if (g > best) best = g;
    }
    return best;
}
#endif

int main(void) {
#ifdef PEAK_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512f"))
        printf("vnni_gmacs=%.1f\n", peak_measure(peak_vnni_loop, 12.0 * 64.0));
    else
        printf("vnni_gmacs=none\nreason=this CPU has no AVX-512 VNNI (vpdpbusd)\n");
    if (__builtin_cpu_supports("avx2"))
        printf("avx2_gmacs=%.1f\n", peak_measure(peak_avx2_loop, 4.0 * 32.0));
    else
        printf("avx2_gmacs=none\n");
#else
    (void)peak_now_s;
    printf("vnni_gmacs=none\nreason=not an x86-64 machine (the probe is x86 inline asm)\n");
    printf("avx2_gmacs=none\n");
#endif
    return 0;
}
