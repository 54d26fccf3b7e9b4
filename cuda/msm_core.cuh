// Per-index bodies of the Pippenger MSM kernels in msm.cu, __host__ __device__ so that the host harness runs
// the same code (a host-side bucket method with the same key layout, bucket sums, segment reduction and
// window combination).
//
// Layout. Scalars are split into W windows of c bits (digit d_w of window w). Every (point i, window w) pair
// with d_w != 0 gets the key (w << c) | d_w and the value i (bit 31 set when the point is to be negated, for
// signed small scalars); pairs with d_w = 0 get the key MSM_NO_KEY. The pairs are sorted by key (on the GPU
// with cupy.argsort, on the host with std::sort), so that bucket b = (w << c) | d owns a contiguous run.
#pragma once
#include "g1.cuh"

#define MSM_NO_KEY 0xffffffffu

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

// First index j in the sorted keys[0..len) with keys[j] >= key.
ZK_HD long long msm_lower_bound(const u32 *keys, long long len, u32 key) {
    long long lo = 0, hi = len;
    while (lo < hi) {
        long long mid = (lo + hi) >> 1;
        if (keys[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

// Sum of the points of bucket b (affine Montgomery points, sorted keys/values).
ZK_HD g1_jac msm_bucket_at(u32 b, const u64 *points, const u32 *keys, const u32 *vals, long long len) {
    long long lo = msm_lower_bound(keys, len, b);
    long long hi = msm_lower_bound(keys, len, b + 1);
    g1_jac acc = g1_inf();
    for (long long j = lo; j < hi; j++) {
        u32 v = vals[j];
        g1_aff p = g1_aff_load(points, (long long)(v & 0x7fffffffu));
        if (v >> 31) p = g1_aff_neg(p);
        acc = g1_add_aff(acc, p);
    }
    return acc;
}

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

// Grid-stride sum of Jacobian points of one thread.
ZK_HD g1_jac g1_sum_jac_thread(long long tid, long long nthreads, const u64 *pts, long long n) {
    g1_jac acc = g1_inf();
    for (long long i = tid; i < n; i += nthreads) acc = g1_add(acc, g1_jac_load(pts, i));
    return acc;
}
