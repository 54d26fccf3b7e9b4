// Per-index bodies of the Fr kernels in fr_kernels.cu. They are __host__ __device__ so that the host harness
// (cuda/host/harness.cu) runs exactly the code a GPU thread runs, looping over the thread index on the CPU.
#pragma once
#include "fr.cuh"

// Sumcheck fold, binding the most significant variable x_1 to c:
//   out[i] = t[i] + c * (t[i + half] - t[i]),  0 <= i < half.
ZK_HD void fr_fold_at(long long i, const u64 *t, const fr_t &c, u64 *out, long long half) {
    fr_t lo = fr_load(t, i);
    fr_t hi = fr_load(t, i + half);
    fr_store(out, i, fr_add(lo, fr_mul(c, fr_sub(hi, lo))));
}

// One in-place step of the eq-table construction. With the table T holding eq(u_{j+1..n}) on `half` entries,
// this makes u_j the new most significant variable:  T[i + half] = T[i] u_j,  T[i] = T[i] (1 - u_j).
// Applying it for j = n, n-1, ..., 1 (half = 1, 2, 4, ...) starting from T = [1] gives
//   eq[i] = prod_j (u_j if bit_j(i) else 1 - u_j)  with x_1 the most significant bit (big-endian order).
ZK_HD void fr_eq_step_at(long long i, u64 *T, const fr_t &u, long long half) {
    fr_t a = fr_load(T, i);
    fr_t hi = fr_mul(a, u);
    fr_store(T, i + half, hi);
    fr_store(T, i, fr_sub(a, hi));
}

// Round polynomial of a sumcheck over prod_{j<k} t_j (k = 1, 2 or 3 tables of 2*half entries), at index i:
//   e[t] = prod_j (lo_j + t (hi_j - lo_j))  for t = 0, 1, 2, 3, where lo_j = t_j[i], hi_j = t_j[i + half].
ZK_HD void fr_roundsum_at(long long i, long long half, int k, const u64 *t0, const u64 *t1, const u64 *t2,
                          fr_t e[4]) {
    const u64 *tabs[3] = {t0, t1, t2};
    // the first table initialises the products (k >= 1): no multiplications by one
    for (int j = 0; j < k; j++) {
        fr_t lo = fr_load(tabs[j], i);
        fr_t hi = fr_load(tabs[j], i + half);
        fr_t d = fr_sub(hi, lo);
        fr_t v2 = fr_add(hi, d);
        fr_t v3 = fr_add(v2, d);
        if (j == 0) {
            e[0] = lo;
            e[1] = hi;
            e[2] = v2;
            e[3] = v3;
        } else {
            e[0] = fr_mul(e[0], lo);
            e[1] = fr_mul(e[1], hi);
            e[2] = fr_mul(e[2], v2);
            e[3] = fr_mul(e[3], v3);
        }
    }
}

// Grid-stride partial sums of one thread (thread `tid` of `nthreads`).
ZK_HD fr_t fr_sum_thread(long long tid, long long nthreads, const u64 *a, long long n) {
    fr_t acc = fr_zero();
    for (long long i = tid; i < n; i += nthreads) acc = fr_add(acc, fr_load(a, i));
    return acc;
}

ZK_HD fr_t fr_inner_thread(long long tid, long long nthreads, const u64 *a, const u64 *b, long long n) {
    fr_t acc = fr_zero();
    for (long long i = tid; i < n; i += nthreads) acc = fr_add(acc, fr_mul(fr_load(a, i), fr_load(b, i)));
    return acc;
}

ZK_HD void fr_roundsum_thread(long long tid, long long nthreads, long long half, int k, const u64 *t0,
                              const u64 *t1, const u64 *t2, fr_t acc[4]) {
#pragma unroll
    for (int t = 0; t < 4; t++) acc[t] = fr_zero();
    fr_t e[4];
    for (long long i = tid; i < half; i += nthreads) {
        fr_roundsum_at(i, half, k, t0, t1, t2, e);
#pragma unroll
        for (int t = 0; t < 4; t++) acc[t] = fr_add(acc[t], e[t]);
    }
}

// Montgomery's batch inversion on the strided set {t, t + T, t + 2T, ...} ∩ [0, n) of thread t of T:
// out[i] = a[i]^{-1}, and 0 for a[i] = 0. One Fermat inversion per thread. Neighbouring threads touch
// neighbouring rows at every step (coalesced). `out` must not alias `a`.
ZK_HD void fr_batch_inv_strided(long long t, long long T, long long n, const u64 *a, u64 *out) {
    if (t >= n) return;
    fr_t acc = fr_one();
    long long last = t;
    for (long long i = t; i < n; i += T) {
        last = i;
        fr_t x = fr_load(a, i);
        if (fr_is_zero(x)) continue;
        fr_store(out, i, acc);  // product of the non-zero earlier entries of this thread
        acc = fr_mul(acc, x);
    }
    fr_t inv = fr_inv(acc);  // (product of all non-zero entries of this thread)^{-1}
    for (long long i = last; i >= t; i -= T) {
        fr_t x = fr_load(a, i);
        if (fr_is_zero(x)) {
            fr_store(out, i, fr_zero());
            continue;
        }
        fr_t prefix = fr_load(out, i);
        fr_store(out, i, fr_mul(inv, prefix));
        inv = fr_mul(inv, x);
    }
}

// out[i] = a[i] + c * (b[i] - a[i])
ZK_HD void fr_fold_pair_at(long long i, const u64 *a, const u64 *b, const fr_t &c, u64 *out) {
    fr_t lo = fr_load(a, i);
    fr_store(out, i, fr_add(lo, fr_mul(c, fr_sub(fr_load(b, i), lo))));
}

// x^e for a small exponent e (Montgomery base).
ZK_HD fr_t fr_pow_u64(const fr_t &x, u64 e) {
    fr_t acc = fr_one();
    for (int bit = 63; bit >= 0; bit--) {
        acc = fr_sqr(acc);
        if ((e >> bit) & 1) acc = fr_mul(acc, x);
    }
    return acc;
}

// out[i] = x^i for i = t, t + T, t + 2T, ... < n (thread t of T, coalesced): x^t, then steps of x^T.
ZK_HD void fr_powers_strided(long long t, long long T, long long n, const fr_t &x, u64 *out) {
    if (t >= n) return;
    fr_t p = fr_pow_u64(x, (u64)t);
    fr_t step = fr_pow_u64(x, (u64)T);
    for (long long i = t; i < n; i += T) {
        fr_store(out, i, p);
        p = fr_mul(p, step);
    }
}

// Signed value of a Montgomery element: s if s < 2^63, -(r - s) if r - s <= 2^63; otherwise *bad = 1, 0.
ZK_HD long long fr_to_int64(const fr_t &a, unsigned char *bad) {
    fr_t s = fr_from_mont(a);
    const u64 half = 0x8000000000000000ULL;
    *bad = 0;
    if (s.v[1] == 0 && s.v[2] == 0 && s.v[3] == 0 && s.v[0] < half) return (long long)s.v[0];
    fr_t m = fr_neg(s);  // r - s
    if (m.v[1] == 0 && m.v[2] == 0 && m.v[3] == 0 && m.v[0] <= half) return (long long)((u64)0 - m.v[0]);
    *bad = 1;
    return 0;
}

// Contraction of the middle index of a row-major (P, Q, R) tensor with v (Q entries), output index o = p*R + r:
//   out[o] = sum_q a[(p*Q + q)*R + r] * v[q].
ZK_HD void fr_contract_at(long long o, const u64 *a, long long Q, long long R, const u64 *v, u64 *out) {
    long long p = o / R, r = o % R;
    fr_t acc = fr_zero();
    for (long long q = 0; q < Q; q++) acc = fr_add(acc, fr_mul(fr_load(a, (p * Q + q) * R + r), fr_load(v, q)));
    fr_store(out, o, acc);
}

// ---------------------------------------------------------------------------------------------------------
// Fused sumcheck kernels (the backend's FusedKernels capability; CPU twins in zkdl/field/cpu_kernels.py)
// ---------------------------------------------------------------------------------------------------------

// In-place fold of row i: t[i] += c * (t[i + half] - t[i]) (reads i and i + half, writes only i: race-free).
ZK_HD fr_t fr_fold_inplace_at(long long i, u64 *t, const fr_t &c, long long half) {
    fr_t lo = fr_load(t, i);
    fr_t v = fr_add(lo, fr_mul(c, fr_sub(fr_load(t, i + half), lo)));
    fr_store(t, i, v);
    return v;
}

// Eq-factored GKR layer pieces at index i of the halves (tables of 2h entries, e of h), accumulated into
// acc[0..3] = sum e*X(0), sum e*Y(0), sum e*X(inf), sum e*Y(inf) (inf: the t^2 coefficient), with
// X = a*d + b*c, Y = c*d for the tables (a, b, c, d) = (p_lo, p_hi, q_lo, q_hi), or, with a == nullptr,
// X = c + d, Y = c*d (p = 1: X(inf) = 0).
ZK_HD void fr_gkr_sums_thread(long long tid, long long nthreads, long long h, const u64 *a, const u64 *b,
                              const u64 *c, const u64 *d, const u64 *e, fr_t acc[4]) {
#pragma unroll
    for (int t = 0; t < 4; t++) acc[t] = fr_zero();
    for (long long i = tid; i < h; i += nthreads) {
        long long j = i + h;
        fr_t ei = fr_load(e, i);
        fr_t c0 = fr_load(c, i), d0 = fr_load(d, i);
        fr_t c1 = fr_sub(fr_load(c, j), c0), d1 = fr_sub(fr_load(d, j), d0);
        acc[1] = fr_add(acc[1], fr_mul(fr_mul(c0, d0), ei));
        acc[3] = fr_add(acc[3], fr_mul(fr_mul(c1, d1), ei));
        if (a == nullptr) {
            acc[0] = fr_add(acc[0], fr_mul(fr_add(c0, d0), ei));
        } else {
            fr_t a0 = fr_load(a, i), b0 = fr_load(b, i);
            fr_t a1 = fr_sub(fr_load(a, j), a0), b1 = fr_sub(fr_load(b, j), b0);
            acc[0] = fr_add(acc[0], fr_mul(fr_add(fr_mul(a0, d0), fr_mul(b0, c0)), ei));
            acc[2] = fr_add(acc[2], fr_mul(fr_add(fr_mul(a1, d1), fr_mul(b1, c1)), ei));
        }
    }
}

// The range check's layer pieces with the batching coefficients in the tables (zkdl/gadgets/range_check.py,
// _FusedLayerEngine): acc[0..1] = sum e*Z(0), sum e*Z(inf) with Z = a*d + b*c, or, with a == nullptr,
// Z = (c + s)*(d + s) for the scalar s.
ZK_HD void fr_gkr_cross_sums_thread(long long tid, long long nthreads, long long h, const u64 *a, const u64 *b,
                                    const u64 *c, const u64 *d, const u64 *e, const fr_t &s, fr_t acc[2]) {
    acc[0] = fr_zero();
    acc[1] = fr_zero();
    for (long long i = tid; i < h; i += nthreads) {
        long long j = i + h;
        fr_t ei = fr_load(e, i);
        fr_t c0 = fr_load(c, i), d0 = fr_load(d, i);
        fr_t c1 = fr_sub(fr_load(c, j), c0), d1 = fr_sub(fr_load(d, j), d0);
        if (a == nullptr) {
            acc[0] = fr_add(acc[0], fr_mul(fr_mul(fr_add(c0, s), fr_add(d0, s)), ei));
            acc[1] = fr_add(acc[1], fr_mul(fr_mul(c1, d1), ei));
        } else {
            fr_t a0 = fr_load(a, i), b0 = fr_load(b, i);
            fr_t a1 = fr_sub(fr_load(a, j), a0), b1 = fr_sub(fr_load(b, j), b0);
            acc[0] = fr_add(acc[0], fr_mul(fr_add(fr_mul(a0, d0), fr_mul(b0, c0)), ei));
            acc[1] = fr_add(acc[1], fr_mul(fr_add(fr_mul(a1, d1), fr_mul(b1, c1)), ei));
        }
    }
}

// The claim reduction's round in one pass (thread share of a grid stride over i < q = h/2, h = len/2): fold f
// and g in place by c at rows i and i + q, then accumulate the next round's sums of the folded f*g at t = 0, 1,
// 2 (pairs i, i + q) into acc[0..2]. Index i reads i, i + q, i + h, i + q + h and writes only i and i + q.
ZK_HD void fr_fold2_roundsum_thread(long long tid, long long nthreads, long long q, long long h, u64 *f, u64 *g,
                                    const fr_t &c, fr_t acc[3]) {
#pragma unroll
    for (int t = 0; t < 3; t++) acc[t] = fr_zero();
    for (long long i = tid; i < q; i += nthreads) {
        fr_t fa = fr_fold_inplace_at(i, f, c, h);
        fr_t fb = fr_fold_inplace_at(i + q, f, c, h);
        fr_t ga = fr_fold_inplace_at(i, g, c, h);
        fr_t gb = fr_fold_inplace_at(i + q, g, c, h);
        acc[0] = fr_add(acc[0], fr_mul(fa, ga));
        acc[1] = fr_add(acc[1], fr_mul(fb, gb));
        fr_t f2 = fr_add(fb, fr_sub(fb, fa)), g2 = fr_add(gb, fr_sub(gb, ga));
        acc[2] = fr_add(acc[2], fr_mul(f2, g2));
    }
}

// out[i] = consts[tag[i]] - x[i] (x: int64 values as fr_from_int64; tag: row indices into consts).
ZK_HD void fr_leaves_from_small_at(long long i, const long long *x, const long long *tag, const u64 *consts,
                                   u64 *out) {
    fr_store(out, i, fr_sub(fr_load(consts, tag[i]), fr_from_int64(x[i])));
}

// The layer above those leaves (p = 1) without storing them: pout[i] = l[i] + l[i + h], qout[i] = l[i]*l[i + h]
// with l[i] = consts[tag[i]] - x[i].
ZK_HD void fr_unit_layer_from_small_at(long long i, long long h, const long long *x, const long long *tag,
                                       const u64 *consts, u64 *pout, u64 *qout) {
    fr_t lo = fr_sub(fr_load(consts, tag[i]), fr_from_int64(x[i]));
    fr_t hi = fr_sub(fr_load(consts, tag[i + h]), fr_from_int64(x[i + h]));
    fr_store(pout, i, fr_add(lo, hi));
    fr_store(qout, i, fr_mul(lo, hi));
}
