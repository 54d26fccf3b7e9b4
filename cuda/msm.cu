// Pippenger multi-scalar multiplication in BLS12-381 G1 (and the 0/1-scalar subset sum), for the CuPy backend.
// The pipeline (driven from Python, zkdl/commit/gpu_msm.py):
//   1. g1_affine_to_mont_kernel: arkworks xy bytes (standard form) -> Montgomery affine points (once per basis).
//   2. msm_keys_full_kernel / msm_keys_small_kernel: (key, value) per (point, window), see msm_core.cuh.
//   3. sort the pairs by key (cupy.argsort on the narrowest key type), drop the key-0 (digit 0) pairs.
//   4. bucket sums with load balancing: msm_run_flags_kernel + prefix sum (cupy.cumsum), then
//      msm_chunk_affine_kernel (one thread per chunk of sorted pairs), then msm_chunk_jac_kernel on the partial
//      sums until every key appears once, then msm_scatter_kernel into the (zeroed = identity) bucket array.
//   5. msm_segment_kernel: one thread per (window, segment of seg_len buckets) turns bucket sums into
//      sum_d d * B_d; seg_len is chosen so that there are enough threads to fill the GPU.
//   6. g1_sum_groups_kernel: the segments of all windows tree-reduced in one launch per pass (blocks per window).
//   7. msm_combine_kernel (one thread): Horner over the W window sums: W * c doublings, inherently sequential.
// Output: one Jacobian point (18 limbs, Montgomery). 0/1 scalars skip the buckets: g1_sum_selected_kernel then
// g1_sum_groups_kernel.
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

// flags[j] = 1 where an output run of the chunk step starts (len sorted keys).
ZK_KERNEL msm_run_flags_kernel(const u32 *keys, long long len, long long chunk, long long off, u32 *flags) {
    long long j = zk_tid();
    if (j < len) flags[j] = msm_run_flag_at(j, keys, chunk, off);
}

// One thread per chunk of the sorted (key, point index) pairs (ceil((len + off) / chunk) threads); pos = inclusive
// prefix sum of the run flags of the same (chunk, off).
ZK_KERNEL msm_chunk_affine_kernel(const u64 *points, const u32 *keys, const u32 *vals, long long len,
                                  long long chunk, long long off, const long long *pos, u32 *out_keys,
                                  u64 *out_pts) {
    MsmAddAffine load = {points, vals};
    msm_chunk_sums_at(zk_tid(), len, chunk, off, keys, pos, out_keys, out_pts, load);
}

// One thread per chunk of the sorted (key, Jacobian partial sum) list.
ZK_KERNEL msm_chunk_jac_kernel(const u64 *pts, const u32 *keys, long long len, long long chunk, long long off,
                               const long long *pos, u32 *out_keys, u64 *out_pts) {
    MsmAddJac load = {pts};
    msm_chunk_sums_at(zk_tid(), len, chunk, off, keys, pos, out_keys, out_pts, load);
}

// buckets[keys[j]] = pts[j] (keys distinct); buckets must be zeroed (Z = 0: identity) beforehand.
ZK_KERNEL msm_scatter_kernel(const u32 *keys, const u64 *pts, long long len, u64 *buckets) {
    long long j = zk_tid();
    if (j < len)
        for (int k = 0; k < 18; k++) buckets[18 * (long long)keys[j] + k] = pts[18 * j + k];
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

// Groups of `per` consecutive Jacobian points (group g = rows g*per .. g*per+per-1), bpg blocks per group:
// partial[blockIdx.x] = block p = blockIdx.x % bpg's share of group blockIdx.x / bpg. gridDim = ngroups * bpg,
// blockDim = 64. The output is again group-major, `bpg` per group: repeat with per = bpg until bpg = 1.
ZK_KERNEL g1_sum_groups_kernel(const u64 *pts, long long per, int bpg, u64 *partial) {
    ZK_SHARED g1_jac sh[ZK_G1_RED_THREADS];
    long long g = blockIdx.x / bpg, p = blockIdx.x % bpg;
    sh[threadIdx.x] = g1_sum_group_thread(g, per, p * blockDim.x + threadIdx.x, (long long)bpg * blockDim.x, pts);
    zk_block_reduce<ZK_G1_RED_THREADS>(sh, 1, G1Add());
    if (threadIdx.x == 0) g1_jac_store(partial, blockIdx.x, sh[0]);
}
