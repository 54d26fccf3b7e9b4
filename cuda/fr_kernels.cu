// Fr vector kernels of the CuPy backend (zkdl/field/gpu.py). Arrays are (n,4) uint64 Montgomery limbs, row-major,
// exactly the CPU backend's layout. Every kernel is a thin wrapper around a __host__ __device__ body in
// fr.cuh / fr_ops.cuh. The host harness compiles this very file for the CPU (ZK_EMULATE, see kernel_env.cuh) and
// the tests run these kernels, launch geometry and block reductions included, through an emulated launch.
//
// Launch conventions: 1-D grid; elementwise kernels take any grid with >= n threads in total. Reduction kernels
// must be launched with blockDim.x == ZK_RED_THREADS and write one partial result per block (partial[blockIdx.x]);
// the caller reduces the partials again (fr_sum_kernel) until one is left.
#include "fr_ops.cuh"
#include "kernel_env.cuh"

#define ZK_RED_THREADS 128

struct FrAdd {
    ZK_HD fr_t operator()(const fr_t &a, const fr_t &b) const { return fr_add(a, b); }
};

ZK_KERNEL fr_add_kernel(const u64 *a, const u64 *b, u64 *out, long long n) {
    long long i = zk_tid();
    if (i < n) fr_store(out, i, fr_add(fr_load(a, i), fr_load(b, i)));
}

ZK_KERNEL fr_sub_kernel(const u64 *a, const u64 *b, u64 *out, long long n) {
    long long i = zk_tid();
    if (i < n) fr_store(out, i, fr_sub(fr_load(a, i), fr_load(b, i)));
}

ZK_KERNEL fr_mul_kernel(const u64 *a, const u64 *b, u64 *out, long long n) {
    long long i = zk_tid();
    if (i < n) fr_store(out, i, fr_mul(fr_load(a, i), fr_load(b, i)));
}

ZK_KERNEL fr_neg_kernel(const u64 *a, u64 *out, long long n) {
    long long i = zk_tid();
    if (i < n) fr_store(out, i, fr_neg(fr_load(a, i)));
}

// out[i] = c * a[i]; c is one Montgomery element passed by value (FR_PARAM: four 64-bit parameters).
ZK_KERNEL fr_scalar_mul_kernel(const u64 *a, FR_PARAM(c), u64 *out, long long n) {
    long long i = zk_tid();
    if (i < n) fr_store(out, i, fr_mul(FR_ARG(c), fr_load(a, i)));
}

// out[i] = c for i < n
ZK_KERNEL fr_fill_kernel(u64 *out, FR_PARAM(c), long long n) {
    long long i = zk_tid();
    if (i < n) fr_store(out, i, FR_ARG(c));
}

// out[i] = a[i] + c
ZK_KERNEL fr_add_scalar_kernel(const u64 *a, FR_PARAM(c), u64 *out, long long n) {
    long long i = zk_tid();
    if (i < n) fr_store(out, i, fr_add(fr_load(a, i), FR_ARG(c)));
}

// out[i] = a[i] + c * b[i]  (axpy)
ZK_KERNEL fr_axpy_kernel(const u64 *a, FR_PARAM(c), const u64 *b, u64 *out, long long n) {
    long long i = zk_tid();
    if (i < n) fr_store(out, i, fr_add(fr_load(a, i), fr_mul(FR_ARG(c), fr_load(b, i))));
}

ZK_KERNEL fr_fold_kernel(const u64 *t, FR_PARAM(c), u64 *out, long long half) {
    long long i = zk_tid();
    if (i < half) fr_fold_at(i, t, FR_ARG(c), out, half);
}

ZK_KERNEL fr_eq_step_kernel(u64 *T, FR_PARAM(u), long long half) {
    long long i = zk_tid();
    if (i < half) fr_eq_step_at(i, T, FR_ARG(u), half);
}

ZK_KERNEL fr_to_mont_kernel(const u64 *a, u64 *out, long long n) {
    long long i = zk_tid();
    if (i < n) fr_store(out, i, fr_to_mont(fr_load(a, i)));
}

ZK_KERNEL fr_from_mont_kernel(const u64 *a, u64 *out, long long n) {
    long long i = zk_tid();
    if (i < n) fr_store(out, i, fr_from_mont(fr_load(a, i)));
}

ZK_KERNEL fr_from_int64_kernel(const long long *v, u64 *out, long long n) {
    long long i = zk_tid();
    if (i < n) fr_store(out, i, fr_from_int64(v[i]));
}

// Batch inversion by `nthreads` threads: thread t inverts the rows t, t + nthreads, ... (coalesced); zeros map to
// zero. The grid may have more threads than nthreads (they return).
ZK_KERNEL fr_batch_inv_kernel(const u64 *a, u64 *out, long long n, long long nthreads) {
    long long t = zk_tid();
    if (t < nthreads) fr_batch_inv_strided(t, nthreads, n, a, out);
}

ZK_KERNEL fr_fold_pair_kernel(const u64 *a, const u64 *b, FR_PARAM(c), u64 *out, long long n) {
    long long i = zk_tid();
    if (i < n) fr_fold_pair_at(i, a, b, FR_ARG(c), out);
}

// out[i] = x^i by `nthreads` threads: thread t fills the rows t, t + nthreads, ... (coalesced).
ZK_KERNEL fr_powers_kernel(FR_PARAM(x), u64 *out, long long n, long long nthreads) {
    long long t = zk_tid();
    if (t < nthreads) fr_powers_strided(t, nthreads, n, FR_ARG(x), out);
}

// bad[i] = 1 if the standard-form row a[i] is >= r
ZK_KERNEL fr_noncanonical_kernel(const u64 *a, unsigned char *bad, long long n) {
    long long i = zk_tid();
    if (i < n) bad[i] = fr_is_canonical(fr_load(a, i)) ? 0 : 1;
}

// Signed int64 values; bad[i] = 1 (and out[i] = 0) when the element is outside [-2^63, 2^63).
ZK_KERNEL fr_to_int64_kernel(const u64 *a, long long *out, unsigned char *bad, long long n) {
    long long i = zk_tid();
    if (i < n) out[i] = fr_to_int64(fr_load(a, i), bad + i);
}

// out[p*R + r] = sum_q a[p, q, r] v[q] for a row-major (P, Q, R) tensor a; one thread per output entry.
ZK_KERNEL fr_contract_kernel(const u64 *a, long long P, long long Q, long long R, const u64 *v, u64 *out) {
    long long o = zk_tid();
    if (o < P * R) fr_contract_at(o, a, Q, R, v, out);
}

// partial[blockIdx.x] = sum of this block's grid-stride share of a[0..n).
ZK_KERNEL fr_sum_kernel(const u64 *a, u64 *partial, long long n) {
    ZK_SHARED fr_t sh[ZK_RED_THREADS];
    sh[threadIdx.x] = fr_sum_thread(zk_tid(), zk_nthreads(), a, n);
    zk_block_reduce<ZK_RED_THREADS>(sh, 1, FrAdd());
    if (threadIdx.x == 0) fr_store(partial, blockIdx.x, sh[0]);
}

// partial[blockIdx.x] = this block's share of <a, b>.
ZK_KERNEL fr_inner_kernel(const u64 *a, const u64 *b, u64 *partial, long long n) {
    ZK_SHARED fr_t sh[ZK_RED_THREADS];
    sh[threadIdx.x] = fr_inner_thread(zk_tid(), zk_nthreads(), a, b, n);
    zk_block_reduce<ZK_RED_THREADS>(sh, 1, FrAdd());
    if (threadIdx.x == 0) fr_store(partial, blockIdx.x, sh[0]);
}

// Sumcheck round sums of prod_{j<k} t_j at t = 0..3: partial is (4, gridDim.x, 4 limbs):
// partial[t * gridDim.x + blockIdx.x] = this block's share of sum_i e_t(i). Only t0..t(k-1) are read.
ZK_KERNEL fr_roundsum_kernel(const u64 *t0, const u64 *t1, const u64 *t2, int k, u64 *partial,
                                   long long half) {
    ZK_SHARED fr_t sh[4 * ZK_RED_THREADS];
    fr_t acc[4];
    fr_roundsum_thread(zk_tid(), zk_nthreads(), half, k, t0, t1, t2, acc);
    for (int t = 0; t < 4; t++) sh[t * ZK_RED_THREADS + threadIdx.x] = acc[t];
    zk_block_reduce<ZK_RED_THREADS>(sh, 4, FrAdd());
    if (threadIdx.x == 0)
        for (int t = 0; t < 4; t++) fr_store(partial, (long long)t * gridDim.x + blockIdx.x, sh[t * ZK_RED_THREADS]);
}


// ---- fused sumcheck kernels (FusedKernels in zkdl/field/gpu.py) ----------------------------------------------

// t[i] += c * (t[i + half] - t[i]) for i < half, in place (the upper half becomes scratch).
ZK_KERNEL fr_fold_inplace_kernel(u64 *t, FR_PARAM(c), long long half) {
    long long i = zk_tid();
    if (i < half) fr_fold_inplace_at(i, t, FR_ARG(c), half);
}

// a[i] += a[i + half] for i < half, in place.
ZK_KERNEL fr_halve_sum_kernel(u64 *a, long long half) {
    long long i = zk_tid();
    if (i < half) fr_store(a, i, fr_add(fr_load(a, i), fr_load(a, i + half)));
}

// y[i] += s * x[i], in place.
ZK_KERNEL fr_axpy_inplace_kernel(FR_PARAM(s), const u64 *x, u64 *y, long long n) {
    long long i = zk_tid();
    if (i < n) fr_store(y, i, fr_add(fr_load(y, i), fr_mul(FR_ARG(s), fr_load(x, i))));
}

ZK_KERNEL fr_leaves_from_small_kernel(const long long *x, const long long *tag, const u64 *consts, u64 *out,
                                      long long n) {
    long long i = zk_tid();
    if (i < n) fr_leaves_from_small_at(i, x, tag, consts, out);
}

ZK_KERNEL fr_unit_layer_from_small_kernel(const long long *x, const long long *tag, const u64 *consts, u64 *pout,
                                          u64 *qout, long long h) {
    long long i = zk_tid();
    if (i < h) fr_unit_layer_from_small_at(i, h, x, tag, consts, pout, qout);
}

// Eq-factored GKR layer sums; partial is (4, gridDim.x, 4 limbs) as in fr_roundsum_kernel. unit != 0: the
// two-table form (tables c, d; a and b are not read).
ZK_KERNEL fr_gkr_sums_kernel(const u64 *a, const u64 *b, const u64 *c, const u64 *d, const u64 *e, int unit,
                             u64 *partial, long long h) {
    ZK_SHARED fr_t sh[4 * ZK_RED_THREADS];
    fr_t acc[4];
    fr_gkr_sums_thread(zk_tid(), zk_nthreads(), h, unit ? nullptr : a, b, c, d, e, acc);
    for (int t = 0; t < 4; t++) sh[t * ZK_RED_THREADS + threadIdx.x] = acc[t];
    zk_block_reduce<ZK_RED_THREADS>(sh, 4, FrAdd());
    if (threadIdx.x == 0)
        for (int t = 0; t < 4; t++) fr_store(partial, (long long)t * gridDim.x + blockIdx.x, sh[t * ZK_RED_THREADS]);
}

// The range check's layer sums with the batching coefficients in the tables; partial is (2, gridDim.x, 4 limbs).
// unit != 0: Z = (c + s)(d + s) (a and b are not read), else Z = a*d + b*c.
ZK_KERNEL fr_gkr_cross_sums_kernel(const u64 *a, const u64 *b, const u64 *c, const u64 *d, const u64 *e, FR_PARAM(s),
                                   int unit, u64 *partial, long long h) {
    ZK_SHARED fr_t sh[2 * ZK_RED_THREADS];
    fr_t acc[2];
    fr_gkr_cross_sums_thread(zk_tid(), zk_nthreads(), h, unit ? nullptr : a, b, c, d, e, FR_ARG(s), acc);
    for (int t = 0; t < 2; t++) sh[t * ZK_RED_THREADS + threadIdx.x] = acc[t];
    zk_block_reduce<ZK_RED_THREADS>(sh, 2, FrAdd());
    if (threadIdx.x == 0)
        for (int t = 0; t < 2; t++) fr_store(partial, (long long)t * gridDim.x + blockIdx.x, sh[t * ZK_RED_THREADS]);
}

// The claim reduction's fold of f and g (in place) and the next round's sums; partial is (3, gridDim.x, 4 limbs).
ZK_KERNEL fr_fold2_roundsum_kernel(u64 *f, u64 *g, FR_PARAM(c), u64 *partial, long long q, long long h) {
    ZK_SHARED fr_t sh[3 * ZK_RED_THREADS];
    fr_t acc[3];
    fr_fold2_roundsum_thread(zk_tid(), zk_nthreads(), q, h, f, g, FR_ARG(c), acc);
    for (int t = 0; t < 3; t++) sh[t * ZK_RED_THREADS + threadIdx.x] = acc[t];
    zk_block_reduce<ZK_RED_THREADS>(sh, 3, FrAdd());
    if (threadIdx.x == 0)
        for (int t = 0; t < 3; t++) fr_store(partial, (long long)t * gridDim.x + blockIdx.x, sh[t * ZK_RED_THREADS]);
}

// One layer of a fractional-sum tree: pout[i] = p[i] q[i + h] + p[i + h] q[i], qout[i] = q[i] q[i + h]; with
// unit != 0 (p = 1, p not read): pout[i] = q[i] + q[i + h].
ZK_KERNEL fr_fraction_layer_kernel(const u64 *p, const u64 *q, int unit, u64 *pout, u64 *qout, long long h) {
    long long i = zk_tid();
    if (i < h) {
        fr_t lo = fr_load(q, i), hi = fr_load(q, i + h);
        fr_store(qout, i, fr_mul(lo, hi));
        fr_store(pout, i, unit ? fr_add(lo, hi) : fr_add(fr_mul(fr_load(p, i), hi), fr_mul(fr_load(p, i + h), lo)));
    }
}
