/* qcc_cuda_emu.h: runs qcc's CUDA output (model.cu) on the CPU, for testing and for debugging
 * on a machine without a GPU:
 *     g++ -std=c++17 -x c++ -include qcc_cuda_emu.h model.cu main.cpp
 * Every kernel launch runs its blocks one after another; the threads of a block run as
 * cooperative fibers (ucontext) that switch only at __syncthreads(), so a kernel that reads
 * shared memory another thread has not yet written (a missing barrier) computes wrong
 * results here too, as it may on a GPU. Device memory is host memory.
 * Limits (what qcc's generated code needs, nothing more):
 *   - __shared__ variables are function statics: shared by the threads of a block (right),
 *     but they keep their contents from the previous block (a GPU gives garbage; a kernel
 *     that reads shared memory before writing it is not caught). No dynamic shared memory.
 *   - One fiber stack of QCC_EMU_STACK bytes per thread (default 64 KiB), blockDim <= 1024.
 *   - Streams are ordered and synchronous (every call completes before returning); events,
 *     warps (__shfl*, warp votes), atomics, texture and unified memory are not emulated.
 *   - A thread that returns while others wait at a barrier releases them (a GPU hangs or
 *     is undefined); barriers inside divergent code are not diagnosed.
 *   - Single host thread: do not launch from two host threads at once.
 * The launch syntax kernel<<<grid, block, shmem, stream>>>(args) is not C++: qcc's code
 * launches through QCC_LAUNCH(kernel, grid, block, shmem, stream, args...), which this
 * header defines as qcc_emu_launch(). Not for nvcc (it has the real thing). */
#ifndef QCC_CUDA_EMU_H
#define QCC_CUDA_EMU_H

#if defined(__CUDACC__)
#error "qcc_cuda_emu.h replaces CUDA for host compilers; do not use it with nvcc"
#endif
#ifndef __cplusplus
#error "qcc_cuda_emu.h needs C++ (compile model.cu with g++ -x c++ or clang++ -x c++)"
#endif

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <ucontext.h>

#define __global__
#define __device__
#define __host__
#define __constant__
#define __shared__ static
#define __forceinline__ inline
#define __align__(n) __attribute__((aligned(n)))
#define __restrict__ __restrict

#ifndef QCC_EMU_STACK
#define QCC_EMU_STACK (64 * 1024)
#endif
#define QCC_EMU_MAX_THREADS 1024

struct dim3 {
    unsigned x, y, z; /* extents (or indices) per axis */
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};
typedef dim3 uint3;

/* The built-in variables: set by the scheduler before it resumes a thread's fiber. */
inline dim3 gridDim, blockDim, blockIdx, threadIdx;

typedef enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorLaunchFailure = 719
} cudaError_t;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
};

struct CUstream_st {
    int unused; /* streams are synchronous here: nothing to keep */
};
typedef struct CUstream_st *cudaStream_t;

inline cudaError_t qcc_emu_error = cudaSuccess; /* sticky until cudaGetLastError */

inline const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    default: return "unspecified launch failure";
    }
}

inline cudaError_t cudaGetLastError(void) {
    cudaError_t e = qcc_emu_error;
    qcc_emu_error = cudaSuccess;
    return e;
}
inline cudaError_t cudaPeekAtLastError(void) { return qcc_emu_error; }

inline cudaError_t cudaMalloc(void **p, size_t bytes) {
    if (!p)
        return cudaErrorInvalidValue;
    /* 256-byte aligned like cudaMalloc; never NULL for 0 bytes */
    *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
template <class T> inline cudaError_t cudaMalloc(T **p, size_t bytes) {
    return cudaMalloc(reinterpret_cast<void **>(p), bytes);
}
inline cudaError_t cudaFree(void *p) {
    std::free(p);
    return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind) {
    if (bytes && (!dst || !src))
        return cudaErrorInvalidValue;
    if (bytes)
        std::memmove(dst, src, bytes);
    return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind k,
                                   cudaStream_t = 0) {
    return cudaMemcpy(dst, src, bytes, k);
}
inline cudaError_t cudaMemset(void *dst, int v, size_t bytes) {
    if (bytes && !dst)
        return cudaErrorInvalidValue;
    if (bytes)
        std::memset(dst, v, bytes);
    return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void *dst, int v, size_t bytes, cudaStream_t = 0) {
    return cudaMemset(dst, v, bytes);
}
inline cudaError_t cudaStreamCreate(cudaStream_t *s) {
    *s = new CUstream_st();
    return cudaSuccess;
}
inline cudaError_t cudaStreamDestroy(cudaStream_t s) {
    delete s;
    return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return qcc_emu_error; }
inline cudaError_t cudaDeviceSynchronize(void) { return qcc_emu_error; }

/* 4-way byte dot product with 32-bit accumulate (wraps like the hardware). */
inline int __dp4a(int a, int b, int c) {
    uint32_t acc = (uint32_t)c;
    for (int i = 0; i < 4; i++)
        acc += (uint32_t)((int32_t)(int8_t)(a >> (8 * i)) * (int32_t)(int8_t)(b >> (8 * i)));
    return (int)acc;
}
inline unsigned __dp4a(unsigned a, unsigned b, unsigned c) {
    for (int i = 0; i < 4; i++)
        c += ((a >> (8 * i)) & 0xffu) * ((b >> (8 * i)) & 0xffu);
    return c;
}

/* ---- the scheduler ------------------------------------------------------------------------ */

struct QccEmuBlock {
    ucontext_t sched;                  /* the launcher's context */
    ucontext_t fiber[QCC_EMU_MAX_THREADS]; /* one per thread of the block */
    unsigned char *stacks;             /* nthreads * QCC_EMU_STACK bytes */
    int state[QCC_EMU_MAX_THREADS];    /* 0 runnable, 1 waiting at a barrier, 2 done */
    int current;                       /* thread whose fiber runs now */
    int nthreads;                      /* threads per block of the launch */
    void (*body)(void *);              /* runs the kernel for the current thread */
    void *arg;                         /* its argument (the bound kernel call) */
};
inline QccEmuBlock *qcc_emu_block = nullptr; /* the block being run, for __syncthreads */
inline QccEmuBlock qcc_emu_blk;                /* large: static, not on the caller's stack */
inline unsigned char *qcc_emu_stacks = nullptr; /* fiber stacks, grown to the largest block */
inline unsigned qcc_emu_nstacks = 0;           /* threads qcc_emu_stacks has room for */

inline void qcc_emu_set_thread(int t) {
    threadIdx = dim3((unsigned)t % blockDim.x, (unsigned)t / blockDim.x % blockDim.y,
                     (unsigned)t / (blockDim.x * blockDim.y));
}

inline void qcc_emu_fiber_main(void) {
    QccEmuBlock *b = qcc_emu_block;
    b->body(b->arg);
    b->state[b->current] = 2;
    swapcontext(&b->fiber[b->current], &b->sched);
}

/* The barrier: park this fiber; the scheduler resumes it once every thread got here. */
inline void __syncthreads(void) {
    QccEmuBlock *b = qcc_emu_block;
    if (!b || b->nthreads == 1)
        return;
    b->state[b->current] = 1;
    swapcontext(&b->fiber[b->current], &b->sched);
}

/* Run every thread of the current block to completion, one barrier phase at a time. */
inline void qcc_emu_run_block(QccEmuBlock *b) {
    for (int t = 0; t < b->nthreads; t++) {
        getcontext(&b->fiber[t]);
        b->fiber[t].uc_stack.ss_sp = b->stacks + (size_t)t * QCC_EMU_STACK;
        b->fiber[t].uc_stack.ss_size = QCC_EMU_STACK;
        b->fiber[t].uc_link = nullptr;
        makecontext(&b->fiber[t], qcc_emu_fiber_main, 0);
        b->state[t] = 0;
    }
    for (;;) {
        int ran = 0;
        for (int t = 0; t < b->nthreads; t++) {
            if (b->state[t] != 0)
                continue;
            b->current = t;
            qcc_emu_set_thread(t);
            swapcontext(&b->sched, &b->fiber[t]);
            ran++;
        }
        int waiting = 0;
        for (int t = 0; t < b->nthreads; t++)
            if (b->state[t] == 1) {
                b->state[t] = 0; /* everyone arrived (or finished): release the barrier */
                waiting++;
            }
        if (!waiting)
            return;
    }
}

template <class F> inline void qcc_emu_call(void *f) { (*static_cast<F *>(f))(); }

/* kernel<<<grid, block, shmem, stream>>>(args...) */
template <class... P, class... A>
inline void qcc_emu_launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t shmem,
                           cudaStream_t stream, A... args) {
    (void)stream;
    unsigned threads = block.x * block.y * block.z;
    if (shmem != 0 || threads == 0 || threads > QCC_EMU_MAX_THREADS || grid.x == 0 ||
        grid.y == 0 || grid.z == 0) {
        qcc_emu_error = cudaErrorInvalidConfiguration;
        return;
    }
    std::tuple<P...> bound(static_cast<P>(args)...);
    auto call = [&]() { std::apply(kernel, bound); };
    QccEmuBlock &blk = qcc_emu_blk; /* one for every kernel: launches never nest */
    if (qcc_emu_nstacks < threads) {
        std::free(qcc_emu_stacks);
        qcc_emu_stacks =
            static_cast<unsigned char *>(std::malloc((size_t)threads * QCC_EMU_STACK));
        qcc_emu_nstacks = qcc_emu_stacks ? threads : 0;
        if (!qcc_emu_stacks) {
            qcc_emu_error = cudaErrorMemoryAllocation;
            return;
        }
    }
    QccEmuBlock *saved = qcc_emu_block;
    blk.stacks = qcc_emu_stacks;
    blk.nthreads = (int)threads;
    blk.body = qcc_emu_call<decltype(call)>;
    blk.arg = &call;
    qcc_emu_block = &blk;
    gridDim = grid;
    blockDim = block;
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++) {
                blockIdx = dim3(bx, by, bz);
                qcc_emu_run_block(&blk);
            }
    qcc_emu_block = saved;
}

#define QCC_LAUNCH(kernel, grid, block, shmem, stream, ...)                                      \
    qcc_emu_launch(kernel, grid, block, shmem, stream, __VA_ARGS__)

#endif
