// Generic Montgomery arithmetic on N little-endian 64-bit limbs (R = 2^(64 N)).
//
// Every function is __host__ __device__: the device build uses __umul64hi, the host build (the test harness
// compiled by nvcc, see cuda/host/harness.cu) uses unsigned __int128. No standard header is included so that
// the same text also compiles under NVRTC.
//
// A parameter class P provides:
//   static const int N;                         number of limbs
//   static __host__ __device__ mp<N> mod();     the modulus m (odd, m < 2^(64 N - 1))
//   static __host__ __device__ mp<N> one();     R mod m (Montgomery form of 1)
//   static __host__ __device__ mp<N> r2();      R^2 mod m
//   static __host__ __device__ u64 inv();       -m^{-1} mod 2^64
// All values handled here are fully reduced (< m); every function returns a fully reduced value.
#pragma once

#ifndef ZK_HD
#define ZK_HD __host__ __device__ __forceinline__
#endif

typedef unsigned long long u64;
typedef unsigned int u32;

template <int N>
struct mp {
    u64 v[N];
};

// lo(a*b + c + carry); carry <- hi(...). Never overflows: (2^64-1)^2 + 2(2^64-1) = 2^128 - 1.
ZK_HD u64 mac(u64 a, u64 b, u64 c, u64 &carry) {
#ifdef __CUDA_ARCH__
    u64 lo = a * b;
    u64 hi = __umul64hi(a, b);
    lo += c;
    hi += (lo < c);
    lo += carry;
    hi += (lo < carry);
    carry = hi;
    return lo;
#else
    unsigned __int128 t = (unsigned __int128)a * b + c + carry;
    carry = (u64)(t >> 64);
    return (u64)t;
#endif
}

// a + b + carry (carry in {0,1}); carry <- carry out.
ZK_HD u64 adc(u64 a, u64 b, u64 &carry) {
    u64 s = a + b;
    u64 c1 = (s < a);
    u64 s2 = s + carry;
    u64 c2 = (s2 < s);
    carry = c1 | c2;
    return s2;
}

// a - b - borrow (borrow in {0,1}); borrow <- borrow out.
ZK_HD u64 sbb(u64 a, u64 b, u64 &borrow) {
    u64 d = a - b;
    u64 b1 = (a < b);
    u64 d2 = d - borrow;
    u64 b2 = (d < borrow);
    borrow = b1 | b2;
    return d2;
}

template <int N>
ZK_HD bool mp_is_zero(const mp<N> &a) {
    u64 acc = 0;
#pragma unroll
    for (int i = 0; i < N; i++) acc |= a.v[i];
    return acc == 0;
}

template <int N>
ZK_HD bool mp_eq(const mp<N> &a, const mp<N> &b) {
    u64 acc = 0;
#pragma unroll
    for (int i = 0; i < N; i++) acc |= a.v[i] ^ b.v[i];
    return acc == 0;
}

template <int N>
ZK_HD mp<N> mp_zero() {
    mp<N> z;
#pragma unroll
    for (int i = 0; i < N; i++) z.v[i] = 0;
    return z;
}

// (t, hi) - m if that does not borrow, else t. Requires (hi:t) < 2m.
template <class P>
ZK_HD mp<P::N> mont_reduce_once(const mp<P::N> &t, u64 hi) {
    const mp<P::N> m = P::mod();
    mp<P::N> d;
    u64 borrow = 0;
#pragma unroll
    for (int i = 0; i < P::N; i++) d.v[i] = sbb(t.v[i], m.v[i], borrow);
    sbb(hi, 0, borrow);
    return borrow ? t : d;
}

template <class P>
ZK_HD mp<P::N> mont_add(const mp<P::N> &a, const mp<P::N> &b) {
    mp<P::N> t;
    u64 carry = 0;
#pragma unroll
    for (int i = 0; i < P::N; i++) t.v[i] = adc(a.v[i], b.v[i], carry);
    return mont_reduce_once<P>(t, carry);
}

template <class P>
ZK_HD mp<P::N> mont_sub(const mp<P::N> &a, const mp<P::N> &b) {
    const mp<P::N> m = P::mod();
    mp<P::N> t, u;
    u64 borrow = 0;
#pragma unroll
    for (int i = 0; i < P::N; i++) t.v[i] = sbb(a.v[i], b.v[i], borrow);
    u64 carry = 0;
#pragma unroll
    for (int i = 0; i < P::N; i++) u.v[i] = adc(t.v[i], m.v[i], carry);
    return borrow ? u : t;
}

template <class P>
ZK_HD mp<P::N> mont_neg(const mp<P::N> &a) {
    if (mp_is_zero(a)) return a;
    const mp<P::N> m = P::mod();
    mp<P::N> t;
    u64 borrow = 0;
#pragma unroll
    for (int i = 0; i < P::N; i++) t.v[i] = sbb(m.v[i], a.v[i], borrow);
    return t;
}

// Montgomery product a*b*R^{-1} mod m, CIOS (coarsely integrated operand scanning) with two extra words.
template <class P>
ZK_HD mp<P::N> mont_mul(const mp<P::N> &a, const mp<P::N> &b) {
    const int N = P::N;
    const mp<N> m = P::mod();
    const u64 inv = P::inv();
    u64 t[N + 2];
#pragma unroll
    for (int i = 0; i < N + 2; i++) t[i] = 0;
#pragma unroll
    for (int i = 0; i < N; i++) {
        u64 c = 0;
#pragma unroll
        for (int j = 0; j < N; j++) t[j] = mac(a.v[j], b.v[i], t[j], c);
        u64 cc = 0;
        t[N] = adc(t[N], c, cc);
        t[N + 1] = cc;
        u64 q = t[0] * inv;
        c = 0;
        mac(q, m.v[0], t[0], c);  // low word is zero by construction of q
#pragma unroll
        for (int j = 1; j < N; j++) t[j - 1] = mac(q, m.v[j], t[j], c);
        cc = 0;
        t[N - 1] = adc(t[N], c, cc);
        t[N] = t[N + 1] + cc;
    }
    mp<N> r;
#pragma unroll
    for (int i = 0; i < N; i++) r.v[i] = t[i];
    return mont_reduce_once<P>(r, t[N]);
}

template <class P>
ZK_HD mp<P::N> mont_sqr(const mp<P::N> &a) { return mont_mul<P>(a, a); }

// standard -> Montgomery: a * R^2 * R^{-1}
template <class P>
ZK_HD mp<P::N> mont_to(const mp<P::N> &a) { return mont_mul<P>(a, P::r2()); }

// Montgomery -> standard: a * 1 * R^{-1}
template <class P>
ZK_HD mp<P::N> mont_from(const mp<P::N> &a) {
    mp<P::N> one = mp_zero<P::N>();
    one.v[0] = 1;
    return mont_mul<P>(a, one);
}

// true iff the standard-form value a is < m (canonical).
template <class P>
ZK_HD bool mont_is_canonical(const mp<P::N> &a) {
    const mp<P::N> m = P::mod();
    u64 borrow = 0;
#pragma unroll
    for (int i = 0; i < P::N; i++) sbb(a.v[i], m.v[i], borrow);
    return borrow != 0;
}

// a^e for a Montgomery-form base and a standard-form exponent (N limbs), left-to-right square and multiply.
template <class P>
ZK_HD mp<P::N> mont_pow(const mp<P::N> &a, const mp<P::N> &e) {
    mp<P::N> acc = P::one();
    for (int i = P::N - 1; i >= 0; i--) {
        for (int bit = 63; bit >= 0; bit--) {
            acc = mont_sqr<P>(acc);
            if ((e.v[i] >> bit) & 1) acc = mont_mul<P>(acc, a);
        }
    }
    return acc;
}

// a^{-1} = a^{m-2} (Fermat); the inverse of 0 is returned as 0.
template <class P>
ZK_HD mp<P::N> mont_inv(const mp<P::N> &a) {
    mp<P::N> e = P::mod();
    // m is odd and > 2, so m - 2 does not borrow out of limb 0 unless m.v[0] < 2, handled generically:
    u64 borrow = 0;
    e.v[0] = sbb(e.v[0], 2, borrow);
#pragma unroll
    for (int i = 1; i < P::N; i++) e.v[i] = sbb(e.v[i], 0, borrow);
    return mont_pow<P>(a, e);
}
