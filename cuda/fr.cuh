// BLS12-381 scalar field Fr, r = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001.
//
// Representation: 4 little-endian 64-bit limbs in Montgomery form with R = 2^256, fully reduced (< r).
// This is exactly the CPU backend's `Fr.limbs` row ((N,4) uint64), so limb arrays move between the numba
// backend, this code and the CuPy backend unchanged (see docs/architecture.md, docs/gpu.md).
#pragma once
#include "mont.cuh"

typedef mp<4> fr_t;

struct FrP {
    static const int N = 4;
    static ZK_HD fr_t mod() {
        fr_t m = {{0xffffffff00000001ULL, 0x53bda402fffe5bfeULL, 0x3339d80809a1d805ULL, 0x73eda753299d7d48ULL}};
        return m;
    }
    static ZK_HD fr_t one() {  // R mod r
        fr_t m = {{0x00000001fffffffeULL, 0x5884b7fa00034802ULL, 0x998c4fefecbc4ff5ULL, 0x1824b159acc5056fULL}};
        return m;
    }
    static ZK_HD fr_t r2() {  // R^2 mod r
        fr_t m = {{0xc999e990f3f29c6dULL, 0x2b6cedcb87925c23ULL, 0x05d314967254398fULL, 0x0748d9d99f59ff11ULL}};
        return m;
    }
    static ZK_HD u64 inv() { return 0xfffffffeffffffffULL; }  // -r^{-1} mod 2^64
};

ZK_HD fr_t fr_zero() { return mp_zero<4>(); }
ZK_HD fr_t fr_one() { return FrP::one(); }
ZK_HD fr_t fr_add(const fr_t &a, const fr_t &b) { return mont_add<FrP>(a, b); }
ZK_HD fr_t fr_sub(const fr_t &a, const fr_t &b) { return mont_sub<FrP>(a, b); }
ZK_HD fr_t fr_neg(const fr_t &a) { return mont_neg<FrP>(a); }
ZK_HD fr_t fr_mul(const fr_t &a, const fr_t &b) { return mont_mul<FrP>(a, b); }
ZK_HD fr_t fr_sqr(const fr_t &a) { return mont_mul<FrP>(a, a); }
ZK_HD fr_t fr_to_mont(const fr_t &a) { return mont_to<FrP>(a); }
ZK_HD fr_t fr_from_mont(const fr_t &a) { return mont_from<FrP>(a); }
ZK_HD bool fr_eq(const fr_t &a, const fr_t &b) { return mp_eq<4>(a, b); }
ZK_HD bool fr_is_zero(const fr_t &a) { return mp_is_zero<4>(a); }
ZK_HD bool fr_is_canonical(const fr_t &a) { return mont_is_canonical<FrP>(a); }
ZK_HD fr_t fr_inv(const fr_t &a) { return mont_inv<FrP>(a); }  // inv(0) = 0

// Montgomery form of the signed integer v mod r (v = INT64_MIN included).
ZK_HD fr_t fr_from_int64(long long v) {
    fr_t a = fr_zero();
    if (v >= 0) {
        a.v[0] = (u64)v;
        return fr_to_mont(a);
    }
    a.v[0] = (u64)0 - (u64)v;  // |v| as unsigned, exact also for INT64_MIN
    return fr_neg(fr_to_mont(a));
}

// An element passed to a kernel by value as four 64-bit parameters (no host-to-device copy per call):
// a kernel declares FR_PARAM(c) and reads FR_ARG(c).
#define FR_PARAM(c) u64 c##0, u64 c##1, u64 c##2, u64 c##3
#define FR_ARG(c) fr_make(c##0, c##1, c##2, c##3)
ZK_HD fr_t fr_make(u64 a0, u64 a1, u64 a2, u64 a3) {
    fr_t a = {{a0, a1, a2, a3}};
    return a;
}

// Load / store row i of an (N,4) uint64 array.
ZK_HD fr_t fr_load(const u64 *p, long long i) {
    fr_t a;
#pragma unroll
    for (int k = 0; k < 4; k++) a.v[k] = p[4 * i + k];
    return a;
}

ZK_HD void fr_store(u64 *p, long long i, const fr_t &a) {
#pragma unroll
    for (int k = 0; k < 4; k++) p[4 * i + k] = a.v[k];
}
