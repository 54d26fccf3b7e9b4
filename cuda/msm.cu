// Pippenger multi-scalar multiplication in BLS12-381 G1 (and the 0/1-scalar subset sum), for the CuPy backend.
// The pipeline (driven from Python, zkdl/field/gpu.py):
//   1. g1_affine_to_mont_kernel: arkworks xy bytes (standard form) -> Montgomery affine points (once per basis).
//   2. msm_keys_full_kernel / msm_keys_small_kernel: (key, value) per (point, window), see msm_core.cuh.
//   3. sort the pairs by key (cupy.argsort), then msm_bucket_kernel: one thread per bucket sums its run.
//   4. msm_segment_kernel: one thread per (window, segment) turns bucket sums into sum_d d * B_d.
//   5. msm_combine_kernel (one thread): Horner over the windows. Output: one Jacobian point (18 limbs, Montgomery).
// 0/1 scalars skip the buckets: g1_sum_selected_kernel then g1_sum_jac_kernel (block tree reductions).
// Correctness first: one thread per bucket has no load balancing for skewed digit distributions.
#include "msm_core.cuh"
#include "kernel_env.cuh"

#define ZK_G1_RED_THREADS 64

struct G1Add {
    ZK_HD g1_jac operator()(const g1_jac &a, const g1_jac &b) const { return g1_add(a, b); }
};

ZK_KERNEL g1_affine_to_mont_kernel(const u64 *xy, u64 *out, long long n) {
    long long i = zk_tid();
    if (i < n) g1_aff_store(out, i, g1_aff_std_to_mont(g1_aff_load(xy, i)));
}

ZK_KERNEL msm_keys_full_kernel(const u64 *scal, long long n, int c, int W, u32 *keys, u32 *vals) {
    long long i = zk_tid();
    if (i < n) msm_keys_full_at(i, n, scal, c, W, keys, vals);
}

ZK_KERNEL msm_keys_small_kernel(const long long *s, long long n, int c, int W, u32 *keys, u32 *vals) {
    long long i = zk_tid();
    if (i < n) msm_keys_small_at(i, n, s, c, W, keys, vals);
}

// buckets: (nbuckets, 18) Jacobian, nbuckets = W << c.
ZK_KERNEL msm_bucket_kernel(const u64 *points, const u32 *keys, const u32 *vals, long long len,
                                  long long nbuckets, u64 *buckets) {
    long long b = zk_tid();
    if (b < nbuckets) g1_jac_store(buckets, b, msm_bucket_at((u32)b, points, keys, vals, len));
}

// segs: (W * nseg, 18) Jacobian, nseg = ceil((2^c - 1) / seg_len).
ZK_KERNEL msm_segment_kernel(const u64 *buckets, int c, int W, int nseg, int seg_len, u64 *segs) {
    long long t = zk_tid();
    if (t < (long long)W * nseg) g1_jac_store(segs, t, msm_segment_at((int)(t / nseg), (int)(t % nseg), buckets, c, seg_len));
}

ZK_KERNEL msm_combine_kernel(const u64 *segs, int W, int nseg, int c, u64 *out) {
    if (zk_tid() == 0) g1_jac_store(out, 0, msm_combine(segs, W, nseg, c));
}


// partial[blockIdx.x] = sum of the selected points of this block's grid-stride share. blockDim = 64.
ZK_KERNEL g1_sum_selected_kernel(const u64 *points, const unsigned char *bits, long long n, u64 *partial) {
    ZK_SHARED g1_jac sh[ZK_G1_RED_THREADS];
    sh[threadIdx.x] = g1_sum_selected_thread(zk_tid(), zk_nthreads(), points, bits, n);
    zk_block_reduce<ZK_G1_RED_THREADS>(sh, 1, G1Add());
    if (threadIdx.x == 0) g1_jac_store(partial, blockIdx.x, sh[0]);
}

// partial[blockIdx.x] = sum of this block's share of n Jacobian points. blockDim = 64.
ZK_KERNEL g1_sum_jac_kernel(const u64 *pts, long long n, u64 *partial) {
    ZK_SHARED g1_jac sh[ZK_G1_RED_THREADS];
    sh[threadIdx.x] = g1_sum_jac_thread(zk_tid(), zk_nthreads(), pts, n);
    zk_block_reduce<ZK_G1_RED_THREADS>(sh, 1, G1Add());
    if (threadIdx.x == 0) g1_jac_store(partial, blockIdx.x, sh[0]);
}

