// Launch environment of the kernels in cuda/*.cu.
//
// Normally (nvcc -ptx, NVRTC) the macros below are the CUDA keywords. With ZK_EMULATE defined (the host harness,
// cuda/host/harness.cu) the very same kernel text compiles to plain host functions: blockIdx/threadIdx/blockDim/
// gridDim become globals set by the emulator before each "thread" runs, shared arrays become static, and the
// block reductions (zk_block_reduce_* in the kernels) run their whole tree in thread 0. The emulator runs the
// threads of a block one after another with thread 0 last, so by then every other thread has stored its value.
#pragma once

#ifdef ZK_EMULATE
struct zk_emu_dim {
    unsigned int x, y, z;
};
extern zk_emu_dim zk_emu_blockIdx, zk_emu_threadIdx, zk_emu_blockDim, zk_emu_gridDim;
#define blockIdx zk_emu_blockIdx
#define threadIdx zk_emu_threadIdx
#define blockDim zk_emu_blockDim
#define gridDim zk_emu_gridDim
#define ZK_KERNEL extern "C" __attribute__((visibility("default"))) void
#define ZK_SHARED static
#define ZK_DEVICE static inline
#else
#define ZK_KERNEL extern "C" __global__ void
#define ZK_SHARED __shared__
#define ZK_DEVICE __device__ __forceinline__
#endif

ZK_DEVICE long long zk_tid() { return (long long)blockIdx.x * blockDim.x + threadIdx.x; }
ZK_DEVICE long long zk_nthreads() { return (long long)gridDim.x * blockDim.x; }

// In-place tree sum over sh[j * B + t] for t < B, j < k, with add(T, T); sh[j * B] holds the sums afterwards
// (visible to thread 0). B (a power of two) must equal blockDim.x. Every thread must have stored its values and
// must call this.
template <int B, class T, class Add>
ZK_DEVICE void zk_block_reduce(T *sh, int k, Add add) {
#ifdef ZK_EMULATE
    if (threadIdx.x != 0) return;  // threads run in reverse order; thread 0 (last) reduces for the block
    for (int s = B / 2; s > 0; s >>= 1)
        for (int t = 0; t < s; t++)
            for (int j = 0; j < k; j++) sh[j * B + t] = add(sh[j * B + t], sh[j * B + t + s]);
#else
    __syncthreads();
    for (int s = B / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s)
            for (int j = 0; j < k; j++) sh[j * B + threadIdx.x] = add(sh[j * B + threadIdx.x], sh[j * B + threadIdx.x + s]);
        __syncthreads();
    }
#endif
}
