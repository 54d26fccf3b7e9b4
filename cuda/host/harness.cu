// Host test harness: the __host__ __device__ cores of cuda/*.cuh compiled for the CPU by nvcc and exposed with a
// C ABI (shared library, loaded by tests/cuda with ctypes). Each entry point loops over the "thread index" and
// calls the same per-index body a GPU kernel calls, so the arithmetic, indexing and algorithms (reductions,
// eq construction, batch inversion, Pippenger bucket method) are checked on a machine without a GPU.
// The kernels of fr_kernels.cu and msm.cu are also compiled in (ZK_EMULATE) and can be launched one thread at a
// time through zk_emu_set; tests/cuda/fake_cupy.py uses that to run zkdl/field/gpu.py on the CPU.
// What this does not check: real concurrency (races, __syncthreads placement), the CuPy sort, memory limits, and
// device code generation (__umul64hi instead of unsigned __int128): the GPU tests (marker gpu) cover those.
//
// All G1 inputs/outputs of the harness are standard-form affine rows of 12 limbs (arkworks to_xy_bytes_le
// layout) unless the name says jac (18 limbs, Jacobian, Montgomery form: the GPU MSM's output format).
#include <algorithm>
#include <vector>

#define ZK_EMULATE 1
#include "../fr_ops.cuh"
#include "../msm_core.cuh"
// The kernels themselves, compiled as host functions with the same names (see kernel_env.cuh).
#include "../fr_kernels.cu"
#include "../msm.cu"

#define ZK_API extern "C" __attribute__((visibility("default")))

zk_emu_dim zk_emu_blockIdx, zk_emu_threadIdx, zk_emu_blockDim, zk_emu_gridDim;

ZK_API int zk_abi_version() { return 3; }

// Emulated launch: set the launch geometry and the current (block, thread) before calling a kernel function.
// Run the threads of a block in decreasing thread order (thread 0 last), see kernel_env.cuh.
ZK_API void zk_emu_set(unsigned int grid, unsigned int block, unsigned int bx, unsigned int tx) {
    zk_emu_gridDim = {grid, 1, 1};
    zk_emu_blockDim = {block, 1, 1};
    zk_emu_blockIdx = {bx, 0, 0};
    zk_emu_threadIdx = {tx, 0, 0};
}

// ---------------------------------------------------------------- Fr
// op: 0 add, 1 sub, 2 mul
ZK_API void zk_fr_binop(int op, const u64 *a, const u64 *b, u64 *out, long long n) {
    for (long long i = 0; i < n; i++) {
        fr_t x = fr_load(a, i), y = fr_load(b, i), r;
        if (op == 0)
            r = fr_add(x, y);
        else if (op == 1)
            r = fr_sub(x, y);
        else
            r = fr_mul(x, y);
        fr_store(out, i, r);
    }
}

// op: 0 neg, 1 to_mont, 2 from_mont, 3 inv (Fermat, inv(0) = 0), 4 sqr
ZK_API void zk_fr_unop(int op, const u64 *a, u64 *out, long long n) {
    for (long long i = 0; i < n; i++) {
        fr_t x = fr_load(a, i), r;
        switch (op) {
            case 0: r = fr_neg(x); break;
            case 1: r = fr_to_mont(x); break;
            case 2: r = fr_from_mont(x); break;
            case 3: r = fr_inv(x); break;
            default: r = fr_sqr(x); break;
        }
        fr_store(out, i, r);
    }
}

// out[i] = 1 if the standard-form row a[i] is < r
ZK_API void zk_fr_is_canonical(const u64 *a, unsigned char *out, long long n) {
    for (long long i = 0; i < n; i++) out[i] = fr_is_canonical(fr_load(a, i)) ? 1 : 0;
}

ZK_API void zk_fr_eq_elem(const u64 *a, const u64 *b, unsigned char *out, long long n) {
    for (long long i = 0; i < n; i++) out[i] = fr_eq(fr_load(a, i), fr_load(b, i)) ? 1 : 0;
}

ZK_API void zk_fr_from_int64(const long long *v, u64 *out, long long n) {
    for (long long i = 0; i < n; i++) fr_store(out, i, fr_from_int64(v[i]));
}

ZK_API void zk_fr_scalar_mul(const u64 *a, const u64 *c, u64 *out, long long n) {
    for (long long i = 0; i < n; i++) fr_store(out, i, fr_mul(fr_load(c, 0), fr_load(a, i)));
}

ZK_API void zk_fr_fold(const u64 *t, const u64 *c, u64 *out, long long half) {
    fr_t cc = fr_load(c, 0);
    for (long long i = 0; i < half; i++) fr_fold_at(i, t, cc, out, half);
}

// eq table of u (nvars rows, Montgomery) into out (2^nvars rows), with the kernel's step sequence.
ZK_API void zk_fr_eq_table(const u64 *u, int nvars, u64 *out) {
    fr_store(out, 0, fr_one());
    long long half = 1;
    for (int j = nvars - 1; j >= 0; j--, half <<= 1) {
        fr_t uj = fr_load(u, j);
        for (long long i = 0; i < half; i++) fr_eq_step_at(i, out, uj, half);
    }
}

// Reductions, emulating `nthreads` GPU threads (grid-stride) and then summing the per-thread results.
ZK_API void zk_fr_sum(const u64 *a, u64 *out, long long n, long long nthreads) {
    fr_t acc = fr_zero();
    for (long long t = 0; t < nthreads; t++) acc = fr_add(acc, fr_sum_thread(t, nthreads, a, n));
    fr_store(out, 0, acc);
}

ZK_API void zk_fr_inner(const u64 *a, const u64 *b, u64 *out, long long n, long long nthreads) {
    fr_t acc = fr_zero();
    for (long long t = 0; t < nthreads; t++) acc = fr_add(acc, fr_inner_thread(t, nthreads, a, b, n));
    fr_store(out, 0, acc);
}

// out: 4 rows, the round polynomial of prod_{j<k} t_j at 0, 1, 2, 3.
ZK_API void zk_fr_roundsum(const u64 *t0, const u64 *t1, const u64 *t2, int k, u64 *out, long long half,
                           long long nthreads) {
    fr_t tot[4] = {fr_zero(), fr_zero(), fr_zero(), fr_zero()};
    fr_t acc[4];
    for (long long t = 0; t < nthreads; t++) {
        fr_roundsum_thread(t, nthreads, half, k, t0, t1, t2, acc);
        for (int e = 0; e < 4; e++) tot[e] = fr_add(tot[e], acc[e]);
    }
    for (int e = 0; e < 4; e++) fr_store(out, e, tot[e]);
}

ZK_API void zk_fr_batch_inv(const u64 *a, u64 *out, long long n, long long nthreads) {
    for (long long t = 0; t < nthreads; t++) fr_batch_inv_strided(t, nthreads, n, a, out);
}

ZK_API void zk_fr_fold_pair(const u64 *a, const u64 *b, const u64 *c, u64 *out, long long n) {
    fr_t cc = fr_load(c, 0);
    for (long long i = 0; i < n; i++) fr_fold_pair_at(i, a, b, cc, out);
}

ZK_API void zk_fr_powers(const u64 *x, u64 *out, long long n, long long nthreads) {
    for (long long t = 0; t < nthreads; t++) fr_powers_strided(t, nthreads, n, fr_load(x, 0), out);
}

ZK_API void zk_fr_to_int64(const u64 *a, long long *out, unsigned char *bad, long long n) {
    for (long long i = 0; i < n; i++) out[i] = fr_to_int64(fr_load(a, i), bad + i);
}

// ---------------------------------------------------------------- G1
static g1_jac load_std(const u64 *p, long long i) { return g1_from_aff(g1_aff_std_to_mont(g1_aff_load(p, i))); }

static void store_std(u64 *out, long long i, const g1_jac &p) {
    g1_aff a = g1_to_aff(p);
    a.x = fp_from_mont(a.x);
    a.y = fp_from_mont(a.y);
    g1_aff_store(out, i, a);
}

// Fp: op 0 add, 1 sub, 2 mul, 3 inv; 6-limb standard-form inputs and outputs (converted to/from Montgomery here)
ZK_API void zk_fp_op(int op, const u64 *a, const u64 *b, u64 *out, long long n) {
    for (long long i = 0; i < n; i++) {
        fp_t x, y, r;
        for (int k = 0; k < 6; k++) {
            x.v[k] = a[6 * i + k];
            y.v[k] = b[6 * i + k];
        }
        x = fp_to_mont(x);
        y = fp_to_mont(y);
        if (op == 0)
            r = fp_add(x, y);
        else if (op == 1)
            r = fp_sub(x, y);
        else if (op == 2)
            r = fp_mul(x, y);
        else
            r = fp_inv(x);
        r = fp_from_mont(r);
        for (int k = 0; k < 6; k++) out[6 * i + k] = r.v[k];
    }
}

// op 0: P + Q (Jacobian + Jacobian), 1: P + Q (mixed), 2: 2P, 3: -P; rows of n pairs
ZK_API void zk_g1_op(int op, const u64 *p, const u64 *q, u64 *out, long long n) {
    for (long long i = 0; i < n; i++) {
        g1_jac a = load_std(p, i), r;
        if (op == 0)
            r = g1_add(a, load_std(q, i));
        else if (op == 1)
            r = g1_add_aff(a, g1_aff_std_to_mont(g1_aff_load(q, i)));
        else if (op == 2)
            r = g1_dbl(a);
        else
            r = g1_neg(a);
        store_std(out, i, r);
    }
}

// out[i] = k[i] * p[i], k standard-form 4 limbs
ZK_API void zk_g1_mul(const u64 *p, const u64 *k, u64 *out, long long n) {
    for (long long i = 0; i < n; i++) store_std(out, i, g1_mul_limbs(load_std(p, i), k + 4 * i));
}

// Standard-form affine rows -> Montgomery affine rows (what g1_affine_to_mont_kernel does).
ZK_API void zk_g1_aff_to_mont(const u64 *xy, u64 *out, long long n) {
    for (long long i = 0; i < n; i++) g1_aff_store(out, i, g1_aff_std_to_mont(g1_aff_load(xy, i)));
}

// One chunk step (the bodies of msm_run_flags_kernel + cumsum + msm_chunk_*_kernel): returns the new length.
template <class Load>
static long long host_chunk_step(const std::vector<u32> &keys, long long chunk, long long off, Load load,
                                 std::vector<u32> &out_keys, std::vector<u64> &out_pts) {
    long long len = (long long)keys.size();
    std::vector<long long> pos(len);
    long long run = 0;
    for (long long j = 0; j < len; j++) pos[j] = (run += msm_run_flag_at(j, keys.data(), chunk, off));
    out_keys.assign(run, 0);
    out_pts.assign(18 * run, 0);
    for (long long t = 0; t * chunk < len + off; t++)
        msm_chunk_sums_at(t, len, chunk, off, keys.data(), pos.data(), out_keys.data(), out_pts.data(), load);
    return run;
}

// Bucket method shared by the MSM entry points: keys/vals from the key kernels' bodies, sorted (key-0 pairs
// dropped), chunked bucket sums, segment reduction, window combination. Writes the Jacobian Montgomery result
// (18 limbs) to out_jac.
static void host_pippenger(const std::vector<u64> &pts, std::vector<u32> &keys, std::vector<u32> &vals, int c,
                           int W, int seg_len, long long chunk, u64 *out_jac) {
    std::vector<long long> order;
    for (long long j = 0; j < (long long)keys.size(); j++)
        if (keys[j] != MSM_NO_KEY) order.push_back(j);
    std::stable_sort(order.begin(), order.end(), [&](long long x, long long y) { return keys[x] < keys[y]; });
    long long len = (long long)order.size();
    std::vector<u32> sk(len), sv(len);
    long long distinct = 0;
    for (long long j = 0; j < len; j++) {
        sk[j] = keys[order[j]];
        sv[j] = vals[order[j]];
        distinct += (j == 0 || sk[j] != sk[j - 1]) ? 1 : 0;
    }
    long long nb = (long long)W << c;
    std::vector<u64> buckets(18 * nb, 0);  // Z = 0: identity
    if (chunk < 2) chunk = 2;  // a chunk of one entry merges nothing: the steps would never end
    if (len > 0) {
        std::vector<u32> ok;
        std::vector<u64> op;
        MsmAddAffine first = {pts.data(), sv.data()};
        long long m = host_chunk_step(sk, chunk, 0, first, ok, op);
        for (int step = 1; m > distinct; step++) {
            std::vector<u32> k2 = ok;
            std::vector<u64> p2 = op;
            MsmAddJac next = {p2.data()};
            m = host_chunk_step(k2, chunk, (step % 2) * (chunk / 2), next, ok, op);
        }
        for (long long j = 0; j < m; j++)
            for (int k = 0; k < 18; k++) buckets[18 * (long long)ok[j] + k] = op[18 * j + k];
    }
    int nseg = (int)(((1ll << c) - 1 + seg_len - 1) / seg_len);
    std::vector<u64> segs(18 * (long long)W * nseg);
    for (long long t = 0; t < (long long)W * nseg; t++)
        g1_jac_store(segs.data(), t, msm_segment_at((int)(t / nseg), (int)(t % nseg), buckets.data(), c, seg_len));
    g1_jac_store(out_jac, 0, msm_combine(segs.data(), W, nseg, c));
}

static std::vector<u64> mont_points(const u64 *xy, long long n) {
    std::vector<u64> pts(12 * n);
    zk_g1_aff_to_mont(xy, pts.data(), n);
    return pts;
}

// Full scalars: standard-form (n,4) limbs, W = ceil(256 / c) windows.
ZK_API void zk_msm_full(const u64 *xy, const u64 *scal, long long n, int c, int seg_len, long long chunk,
                        u64 *out_jac) {
    std::vector<u64> pts = mont_points(xy, n);
    int W = (256 + c - 1) / c;
    std::vector<u32> keys(W * n), vals(W * n);
    for (long long i = 0; i < n; i++) msm_keys_full_at(i, n, scal, c, W, keys.data(), vals.data());
    host_pippenger(pts, keys, vals, c, W, seg_len, chunk, out_jac);
}

// Signed small scalars (int64, |s| < 2^(c W)).
ZK_API void zk_msm_small(const u64 *xy, const long long *s, long long n, int c, int W, int seg_len,
                         long long chunk, u64 *out_jac) {
    std::vector<u64> pts = mont_points(xy, n);
    std::vector<u32> keys(W * n), vals(W * n);
    for (long long i = 0; i < n; i++) msm_keys_small_at(i, n, s, c, W, keys.data(), vals.data());
    host_pippenger(pts, keys, vals, c, W, seg_len, chunk, out_jac);
}

// 0/1 scalars: per-thread subset sums, then the sum of the per-thread results (as g1_sum_jac_thread).
ZK_API void zk_msm_bits(const u64 *xy, const unsigned char *bits, long long n, long long nthreads, u64 *out_jac) {
    std::vector<u64> pts = mont_points(xy, n);
    std::vector<u64> partial(18 * nthreads);
    for (long long t = 0; t < nthreads; t++)
        g1_jac_store(partial.data(), t, g1_sum_selected_thread(t, nthreads, pts.data(), bits, n));
    g1_jac_store(out_jac, 0, g1_sum_group_thread(0, nthreads, 0, 1, partial.data()));
}
