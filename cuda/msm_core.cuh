// Per-index bodies of the Pippenger MSM kernels in msm.cu, __host__ __device__ so that the host harness runs
// the same code (a host-side bucket method with the same key layout, chunked bucket sums, segment reduction and
// window combination).
//
// Layout. Scalars are split into W windows of c bits (digit d_w of window w). Every (point i, window w) pair
// with d_w != 0 gets the key (w << c) | d_w (never 0) and the value i (bit 31 set when the point is to be
// negated, for signed small scalars); pairs with d_w = 0 get the key MSM_NO_KEY = 0. The pairs are sorted by key
// (on the GPU with cupy.argsort on the narrowest unsigned type that holds W << c, on the host with std::sort);
// the MSM_NO_KEY pairs come first and are dropped, so that bucket b = (w << c) | d owns a contiguous run.
//
// Bucket sums with load balancing. A bucket's run can be long (quantized data: 30 % of the scalars are ±1, so
// one bucket of 2^20 points holds ~315k of them), so no thread owns a bucket. Instead the sorted pairs are cut
// into fixed chunks of `chunk` entries, one thread per chunk; each thread sums every run of equal keys inside
// its chunk and writes one (key, partial sum) per run. Output slots come from an inclusive prefix sum `pos` of
// run-start flags (msm_run_flag_at), so the output is again sorted by key, and a bucket cut by chunk borders
// appears once per chunk it touches. The same chunk step is applied to the (key, Jacobian point) list until
// every key appears once (a run of L pairs needs about log_chunk L steps); the survivors are scattered into the
// bucket array. The depth per step is `chunk` point additions whatever the digit distribution. Odd steps shift
// the chunk borders by off = chunk/2: a step merges nothing only when every run left has two entries that
// straddle a border, and the shifted borders then merge all of them, so two steps always make progress.
#pragma once
#include "g1.cuh"

#define MSM_NO_KEY 0u

// c-bit digit of a 256-bit standard-form scalar (4 limbs) starting at bit `pos` (c <= 32).
ZK_HD u32 msm_digit_limbs(const u64 *k, int pos, int c) {
    if (pos >= 256) return 0;
    int li = pos >> 6, sh = pos & 63;
    u64 d = k[li] >> sh;
    if (sh + c > 64 && li + 1 < 4) d |= k[li + 1] << (64 - sh);
    return (u32)(d & ((1ull << c) - 1));
}

// Keys for full scalars: row i of an (n,4) standard-form limb array.
ZK_HD void msm_keys_full_at(long long i, long long n, const u64 *scal, int c, int W, u32 *keys, u32 *vals) {
    for (int w = 0; w < W; w++) {
        u32 d = msm_digit_limbs(scal + 4 * i, w * c, c);
        keys[w * n + i] = d ? (((u32)w << c) | d) : MSM_NO_KEY;
        vals[w * n + i] = (u32)i;
    }
}

// Keys for signed small scalars s[i] (|s[i]| < 2^(c W)): digits of |s|, sign in bit 31 of the value.
ZK_HD void msm_keys_small_at(long long i, long long n, const long long *s, int c, int W, u32 *keys, u32 *vals) {
    long long v = s[i];
    u32 neg = v < 0 ? 1u : 0u;
    u64 mag = neg ? (u64)0 - (u64)v : (u64)v;
    for (int w = 0; w < W; w++) {
        u32 d = (w * c < 64) ? (u32)((mag >> (w * c)) & ((1ull << c) - 1)) : 0u;
        keys[w * n + i] = d ? (((u32)w << c) | d) : MSM_NO_KEY;
        vals[w * n + i] = (u32)i | (neg << 31);
    }
}

// 1 where an output run starts: j is the first index of a chunk (chunk t = [t*chunk - off, (t+1)*chunk - off)),
// or its key differs from the previous one.
ZK_HD u32 msm_run_flag_at(long long j, const u32 *keys, long long chunk, long long off) {
    return (j == 0 || (j + off) % chunk == 0 || keys[j] != keys[j - 1]) ? 1u : 0u;
}

// Chunk t of a sorted (key, point) list of length len: for each run of equal keys inside the chunk, the sum of
// its points goes to out_pts[pos[j0] - 1] with its key in out_keys[pos[j0] - 1], j0 = the run's first index in
// the chunk. `load(j)` returns the point of entry j (affine with sign for the first step, Jacobian after).
template <class Load>
ZK_HD void msm_chunk_sums_at(long long t, long long len, long long chunk, long long off, const u32 *keys,
                             const long long *pos, u32 *out_keys, u64 *out_pts, Load load) {
    long long start = t * chunk - off;
    long long end = start + chunk < len ? start + chunk : len;
    if (start < 0) start = 0;
    if (start >= end) return;
    long long j0 = start;
    g1_jac acc = g1_inf();
    for (long long j = start; j < end; j++) {
        if (keys[j] != keys[j0]) {
            out_keys[pos[j0] - 1] = keys[j0];
            g1_jac_store(out_pts, pos[j0] - 1, acc);
            acc = g1_inf();
            j0 = j;
        }
        acc = load(acc, j);
    }
    out_keys[pos[j0] - 1] = keys[j0];
    g1_jac_store(out_pts, pos[j0] - 1, acc);
}

// First step: entries are point indices into the affine Montgomery basis, bit 31 = negate.
struct MsmAddAffine {
    const u64 *points;
    const u32 *vals;
    ZK_HD g1_jac operator()(const g1_jac &acc, long long j) const {
        u32 v = vals[j];
        g1_aff p = g1_aff_load(points, (long long)(v & 0x7fffffffu));
        if (v >> 31) p = g1_aff_neg(p);
        return g1_add_aff(acc, p);
    }
};

// Later steps: entries are Jacobian partial sums (18 limbs each).
struct MsmAddJac {
    const u64 *pts;
    ZK_HD g1_jac operator()(const g1_jac &acc, long long j) const { return g1_add(acc, g1_jac_load(pts, j)); }
};

// Segment s of window w: the buckets d in [lo, hi) with lo = 1 + s*seg_len, hi = min(lo + seg_len, 2^c).
// Returns sum_{d in [lo,hi)} d * B_d, computed as the running-sum sum_d (d - lo + 1) B_d plus (lo - 1) * sum_d B_d.
ZK_HD g1_jac msm_segment_at(int w, int s, const u64 *buckets, int c, int seg_len) {
    long long nd = 1ll << c;
    long long lo = 1 + (long long)s * seg_len;
    long long hi = lo + seg_len < nd ? lo + seg_len : nd;
    g1_jac running = g1_inf(), acc = g1_inf();
    for (long long d = hi - 1; d >= lo; d--) {
        running = g1_add(running, g1_jac_load(buckets, ((long long)w << c) | d));
        acc = g1_add(acc, running);
    }
    if (lo > 1) acc = g1_add(acc, g1_mul_u64(running, (u64)(lo - 1)));
    return acc;
}

// sum_w 2^(c w) sum_s seg[w * nseg + s]  (Horner over the windows, most significant first).
ZK_HD g1_jac msm_combine(const u64 *segs, int W, int nseg, int c) {
    g1_jac acc = g1_inf();
    for (int w = W - 1; w >= 0; w--) {
        for (int k = 0; k < c; k++) acc = g1_dbl(acc);
        for (int s = 0; s < nseg; s++) acc = g1_add(acc, g1_jac_load(segs, (long long)w * nseg + s));
    }
    return acc;
}

// 0/1 scalars: grid-stride sum of the selected affine points of one thread.
ZK_HD g1_jac g1_sum_selected_thread(long long tid, long long nthreads, const u64 *points,
                                    const unsigned char *bits, long long n) {
    g1_jac acc = g1_inf();
    for (long long i = tid; i < n; i += nthreads)
        if (bits[i]) acc = g1_add_aff(acc, g1_aff_load(points, i));
    return acc;
}

// Sum of group g's share of thread `tid` of `nthreads` (grid-stride inside the group): the points
// pts[g * per + i] for i = tid, tid + nthreads, ... < per.
ZK_HD g1_jac g1_sum_group_thread(long long g, long long per, long long tid, long long nthreads, const u64 *pts) {
    g1_jac acc = g1_inf();
    for (long long i = tid; i < per; i += nthreads) acc = g1_add(acc, g1_jac_load(pts, g * per + i));
    return acc;
}
