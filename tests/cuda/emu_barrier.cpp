/* emu_barrier.cpp: proves the CUDA emulation header is not vacuous (issue 5, acceptance 2).
 * A shared-memory tiled matrix product shaped like qcc's dp4a conv kernel (load a tile,
 * barrier, dp4a over it, barrier) is run three times through runtime_min/qcc_cuda_emu.h:
 * as written it must equal a plain CPU product computed here; with the second barrier
 * removed, or with a wrong tile index, it must NOT (the emulator has to catch both).
 * Build: c++ -std=c++17 -include qcc_cuda_emu.h emu_barrier.cpp. Exit 0 = all three held. */
#include <cstdio>

enum { M = 64, N = 48, K = 96, TILE = 16 }; /* K in bytes; tiles of 16x16 outputs */
enum { GOOD = 0, NO_BARRIER = 1, BAD_INDEX = 2 };

static signed char a_host[M][K], b_host[N][K];

/* c[m][n] = sum_k a[m][k] * b[n][k], K/4 words per row, one output per thread. */
__global__ void tiled_dp4a(const int *a, const int *b, int *c, int variant) {
    __shared__ int a_tile[TILE][4]; /* [row][K word of the stage] */
    __shared__ int b_tile[TILE][4]; /* [column][K word of the stage] */
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int m = blockIdx.y * TILE + ty, n = blockIdx.x * TILE + tx;
    int acc = 0;
    for (int w0 = 0; w0 < K / 4; w0 += 4) { /* 4 words (16 bytes of K) per stage */
        if (tx < 4)
            a_tile[ty][tx] = a[m * (K / 4) + w0 + tx];
        if (ty < 4)
            b_tile[tx][ty] = b[n * (K / 4) + w0 + ty];
        __syncthreads();
        for (int w = 0; w < 4; w++) {
            const int row = variant == BAD_INDEX ? (ty + 1) % TILE : ty; /* wrong tile index */
            acc = __dp4a(a_tile[row][w], b_tile[tx][w], acc);
        }
        if (variant != NO_BARRIER)
            __syncthreads(); /* without it, fast threads overwrite tiles still being read */
    }
    c[m * N + n] = acc;
}

static int run(int variant, const int *a, const int *b, int *c) {
    QCC_LAUNCH(tiled_dp4a, dim3(N / TILE, M / TILE), dim3(TILE, TILE), 0, 0, a, b, c, variant);
    return cudaGetLastError() == cudaSuccess ? 0 : 1;
}

int main(void) {
    unsigned seed = 12345;
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++)
            a_host[i][k] = (signed char)((seed = seed * 1103515245u + 12345u) >> 24);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < K; k++)
            b_host[i][k] = (signed char)((seed = seed * 1103515245u + 12345u) >> 24);
    int *a, *b, *c;
    if (cudaMalloc(&a, sizeof a_host) || cudaMalloc(&b, sizeof b_host) ||
        cudaMalloc(&c, sizeof(int) * M * N))
        return 1;
    cudaMemcpy(a, a_host, sizeof a_host, cudaMemcpyHostToDevice);
    cudaMemcpy(b, b_host, sizeof b_host, cudaMemcpyHostToDevice);
    static int want[M][N], got[M * N];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            int s = 0;
            for (int k = 0; k < K; k++)
                s += a_host[i][k] * b_host[j][k];
            want[i][j] = s;
        }
    const char *names[3] = {"as written", "second __syncthreads removed", "wrong tile index"};
    int failures = 0;
    for (int variant = GOOD; variant <= BAD_INDEX; variant++) {
        if (run(variant, a, b, c) != 0) {
            printf("FAIL %s: launch error\n", names[variant]);
            return 1;
        }
        cudaMemcpy(got, c, sizeof got, cudaMemcpyDeviceToHost);
        int wrong = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                wrong += got[i * N + j] != want[i][j];
        bool ok = variant == GOOD ? wrong == 0 : wrong > 0;
        printf("%s %s: %d of %d outputs differ from the CPU product%s\n", ok ? "ok  " : "FAIL",
               names[variant], wrong, M * N, variant == GOOD ? "" : " (must be > 0)");
        failures += !ok;
    }
    cudaFree(a);
    cudaFree(b);
    cudaFree(c);
    return failures ? 1 : 0;
}
