// BLS12-381 base field Fp (6 little-endian 64-bit limbs, Montgomery form, R = 2^384) and the group G1
// (y^2 = x^3 + 4 over Fp) in Jacobian coordinates: (X, Y, Z) represents (X/Z^2, Y/Z^3); Z = 0 is the identity.
//
// Affine input points use the layout of arkworks' `G1Point.to_xy_bytes_le()`: 96 bytes, x then y, each 48
// bytes little-endian in standard form; the identity is all zeros ((0,0) is not on the curve). As uint64 this
// is a row of 12 limbs: x.v[0..5], y.v[0..5]. On the device, points are kept with x, y in Montgomery form
// (converted once by g1_affine_to_mont_kernel), identity still (0,0).
#pragma once
#include "mont.cuh"

// Point operations are large: keep them out of line on the device so each kernel holds one copy.
#ifndef ZK_HD_NOINLINE
#define ZK_HD_NOINLINE __host__ __device__ __noinline__
#endif

typedef mp<6> fp_t;

struct FpP {
    static const int N = 6;
    static ZK_HD fp_t mod() {
        fp_t m = {{0xb9feffffffffaaabULL, 0x1eabfffeb153ffffULL, 0x6730d2a0f6b0f624ULL, 0x64774b84f38512bfULL,
                   0x4b1ba7b6434bacd7ULL, 0x1a0111ea397fe69aULL}};
        return m;
    }
    static ZK_HD fp_t one() {
        fp_t m = {{0x760900000002fffdULL, 0xebf4000bc40c0002ULL, 0x5f48985753c758baULL, 0x77ce585370525745ULL,
                   0x5c071a97a256ec6dULL, 0x15f65ec3fa80e493ULL}};
        return m;
    }
    static ZK_HD fp_t r2() {
        fp_t m = {{0xf4df1f341c341746ULL, 0x0a76e6a609d104f1ULL, 0x8de5476c4c95b6d5ULL, 0x67eb88a9939d83c0ULL,
                   0x9a793e85b519952dULL, 0x11988fe592cae3aaULL}};
        return m;
    }
    static ZK_HD u64 inv() { return 0x89f3fffcfffcfffdULL; }
};

ZK_HD fp_t fp_zero() { return mp_zero<6>(); }
ZK_HD fp_t fp_one() { return FpP::one(); }
ZK_HD fp_t fp_add(const fp_t &a, const fp_t &b) { return mont_add<FpP>(a, b); }
ZK_HD fp_t fp_sub(const fp_t &a, const fp_t &b) { return mont_sub<FpP>(a, b); }
ZK_HD fp_t fp_neg(const fp_t &a) { return mont_neg<FpP>(a); }
ZK_HD fp_t fp_mul(const fp_t &a, const fp_t &b) { return mont_mul<FpP>(a, b); }
ZK_HD fp_t fp_sqr(const fp_t &a) { return mont_mul<FpP>(a, a); }
ZK_HD fp_t fp_dbl(const fp_t &a) { return mont_add<FpP>(a, a); }
ZK_HD fp_t fp_to_mont(const fp_t &a) { return mont_to<FpP>(a); }
ZK_HD fp_t fp_from_mont(const fp_t &a) { return mont_from<FpP>(a); }
ZK_HD fp_t fp_inv(const fp_t &a) { return mont_inv<FpP>(a); }
ZK_HD bool fp_is_zero(const fp_t &a) { return mp_is_zero<6>(a); }
ZK_HD bool fp_eq(const fp_t &a, const fp_t &b) { return mp_eq<6>(a, b); }

struct g1_aff {  // Montgomery coordinates; (0,0) = identity
    fp_t x, y;
};

struct g1_jac {  // Montgomery coordinates; Z = 0 = identity
    fp_t X, Y, Z;
};

ZK_HD bool g1_aff_is_inf(const g1_aff &p) { return fp_is_zero(p.x) && fp_is_zero(p.y); }
ZK_HD bool g1_is_inf(const g1_jac &p) { return fp_is_zero(p.Z); }

ZK_HD g1_jac g1_inf() {
    g1_jac r;
    r.X = fp_one();
    r.Y = fp_one();
    r.Z = fp_zero();
    return r;
}

ZK_HD g1_jac g1_from_aff(const g1_aff &p) {
    if (g1_aff_is_inf(p)) return g1_inf();
    g1_jac r;
    r.X = p.x;
    r.Y = p.y;
    r.Z = fp_one();
    return r;
}

ZK_HD g1_aff g1_aff_neg(const g1_aff &p) {
    g1_aff r = p;
    r.y = fp_neg(p.y);  // neg(0) = 0 keeps the identity encoding
    return r;
}

ZK_HD g1_jac g1_neg(const g1_jac &p) {
    g1_jac r = p;
    r.Y = fp_neg(p.Y);
    return r;
}

// Doubling for a = 0 ("dbl-2009-l", 2M + 5S).
ZK_HD_NOINLINE g1_jac g1_dbl(const g1_jac &p) {
    if (g1_is_inf(p)) return p;
    fp_t A = fp_sqr(p.X);
    fp_t B = fp_sqr(p.Y);
    fp_t C = fp_sqr(B);
    fp_t D = fp_dbl(fp_sub(fp_sub(fp_sqr(fp_add(p.X, B)), A), C));
    fp_t E = fp_add(fp_dbl(A), A);
    fp_t F = fp_sqr(E);
    g1_jac r;
    r.X = fp_sub(F, fp_dbl(D));
    fp_t C8 = fp_dbl(fp_dbl(fp_dbl(C)));
    r.Y = fp_sub(fp_mul(E, fp_sub(D, r.X)), C8);
    r.Z = fp_dbl(fp_mul(p.Y, p.Z));
    return r;
}

// General addition ("add-2007-bl"), complete by case distinction (identity, P = Q, P = -Q).
ZK_HD_NOINLINE g1_jac g1_add(const g1_jac &p, const g1_jac &q) {
    if (g1_is_inf(p)) return q;
    if (g1_is_inf(q)) return p;
    fp_t Z1Z1 = fp_sqr(p.Z);
    fp_t Z2Z2 = fp_sqr(q.Z);
    fp_t U1 = fp_mul(p.X, Z2Z2);
    fp_t U2 = fp_mul(q.X, Z1Z1);
    fp_t S1 = fp_mul(fp_mul(p.Y, q.Z), Z2Z2);
    fp_t S2 = fp_mul(fp_mul(q.Y, p.Z), Z1Z1);
    fp_t H = fp_sub(U2, U1);
    fp_t rr = fp_sub(S2, S1);
    if (fp_is_zero(H)) {
        if (fp_is_zero(rr)) return g1_dbl(p);
        return g1_inf();
    }
    rr = fp_dbl(rr);
    fp_t I = fp_sqr(fp_dbl(H));
    fp_t J = fp_mul(H, I);
    fp_t V = fp_mul(U1, I);
    g1_jac r;
    r.X = fp_sub(fp_sub(fp_sqr(rr), J), fp_dbl(V));
    r.Y = fp_sub(fp_mul(rr, fp_sub(V, r.X)), fp_dbl(fp_mul(S1, J)));
    r.Z = fp_mul(fp_sub(fp_sub(fp_sqr(fp_add(p.Z, q.Z)), Z1Z1), Z2Z2), H);
    return r;
}

// Mixed addition with an affine point ("madd-2007-bl"), complete by case distinction.
ZK_HD_NOINLINE g1_jac g1_add_aff(const g1_jac &p, const g1_aff &q) {
    if (g1_aff_is_inf(q)) return p;
    if (g1_is_inf(p)) return g1_from_aff(q);
    fp_t Z1Z1 = fp_sqr(p.Z);
    fp_t U2 = fp_mul(q.x, Z1Z1);
    fp_t S2 = fp_mul(fp_mul(q.y, p.Z), Z1Z1);
    fp_t H = fp_sub(U2, p.X);
    fp_t rr = fp_sub(S2, p.Y);
    if (fp_is_zero(H)) {
        if (fp_is_zero(rr)) return g1_dbl(p);
        return g1_inf();
    }
    rr = fp_dbl(rr);
    fp_t HH = fp_sqr(H);
    fp_t I = fp_dbl(fp_dbl(HH));
    fp_t J = fp_mul(H, I);
    fp_t V = fp_mul(p.X, I);
    g1_jac r;
    r.X = fp_sub(fp_sub(fp_sqr(rr), J), fp_dbl(V));
    r.Y = fp_sub(fp_mul(rr, fp_sub(V, r.X)), fp_dbl(fp_mul(p.Y, J)));
    r.Z = fp_sub(fp_sub(fp_sqr(fp_add(p.Z, H)), Z1Z1), HH);
    return r;
}

// k * p for a small non-negative k (double and add, MSB first).
ZK_HD g1_jac g1_mul_u64(const g1_jac &p, u64 k) {
    g1_jac acc = g1_inf();
    int top = 63;
    while (top >= 0 && !((k >> top) & 1)) top--;
    for (int bit = top; bit >= 0; bit--) {
        acc = g1_dbl(acc);
        if ((k >> bit) & 1) acc = g1_add(acc, p);
    }
    return acc;
}

// k * p for a standard-form 256-bit scalar given as 4 little-endian limbs.
ZK_HD g1_jac g1_mul_limbs(const g1_jac &p, const u64 *k) {
    g1_jac acc = g1_inf();
    for (int i = 3; i >= 0; i--)
        for (int bit = 63; bit >= 0; bit--) {
            acc = g1_dbl(acc);
            if ((k[i] >> bit) & 1) acc = g1_add(acc, p);
        }
    return acc;
}

// Affine result (Montgomery coordinates, identity = (0,0)).
ZK_HD g1_aff g1_to_aff(const g1_jac &p) {
    g1_aff r;
    if (g1_is_inf(p)) {
        r.x = fp_zero();
        r.y = fp_zero();
        return r;
    }
    fp_t zi = fp_inv(p.Z);
    fp_t zi2 = fp_sqr(zi);
    r.x = fp_mul(p.X, zi2);
    r.y = fp_mul(p.Y, fp_mul(zi2, zi));
    return r;
}

// Row i of an (N,12) array of affine points (x then y, 6 limbs each).
ZK_HD g1_aff g1_aff_load(const u64 *p, long long i) {
    g1_aff a;
#pragma unroll
    for (int k = 0; k < 6; k++) {
        a.x.v[k] = p[12 * i + k];
        a.y.v[k] = p[12 * i + 6 + k];
    }
    return a;
}

ZK_HD void g1_aff_store(u64 *p, long long i, const g1_aff &a) {
#pragma unroll
    for (int k = 0; k < 6; k++) {
        p[12 * i + k] = a.x.v[k];
        p[12 * i + 6 + k] = a.y.v[k];
    }
}

// Row i of an (N,18) array of Jacobian points (X, Y, Z, 6 limbs each).
ZK_HD g1_jac g1_jac_load(const u64 *p, long long i) {
    g1_jac a;
#pragma unroll
    for (int k = 0; k < 6; k++) {
        a.X.v[k] = p[18 * i + k];
        a.Y.v[k] = p[18 * i + 6 + k];
        a.Z.v[k] = p[18 * i + 12 + k];
    }
    return a;
}

ZK_HD void g1_jac_store(u64 *p, long long i, const g1_jac &a) {
#pragma unroll
    for (int k = 0; k < 6; k++) {
        p[18 * i + k] = a.X.v[k];
        p[18 * i + 6 + k] = a.Y.v[k];
        p[18 * i + 12 + k] = a.Z.v[k];
    }
}

// Standard-form affine row -> Montgomery-form affine row (identity (0,0) maps to itself).
ZK_HD g1_aff g1_aff_std_to_mont(const g1_aff &a) {
    g1_aff r;
    r.x = fp_to_mont(a.x);
    r.y = fp_to_mont(a.y);
    return r;
}
