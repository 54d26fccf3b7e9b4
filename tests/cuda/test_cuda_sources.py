"""CUDA sources: every .cu compiles to PTX for sm_90, and the __host__ __device__ cores (run on the CPU through
the host harness, cuda/host/harness.cu) agree with Python-int arithmetic, the CPU backend, arkworks and py_ecc.

Skipped as a whole, with the reason, where nvcc is absent. No GPU is needed.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from zkdl.field import get_backend, gpu_build
from zkdl.field.constants import MODULUS as R_MOD


def ark():
    """arkworks' (G1Point, Scalar), imported by the tests that compare with it, so that collecting this file
    never needs arkworks."""
    mod = pytest.importorskip("py_arkworks_bls12381")
    return mod.G1Point, mod.Scalar


def gpu_msm():
    """zkdl.commit.gpu_msm (its package imports arkworks)."""
    pytest.importorskip("py_arkworks_bls12381")
    from zkdl.commit import gpu_msm as mod

    return mod


RM = 1 << 256
R_INV = pow(RM, -1, R_MOD)
RNG = np.random.default_rng(20240611)


def rand_ints(n: int, mod: int = R_MOD) -> list[int]:
    raw = RNG.integers(0, 2**63, size=(n, 8), dtype=np.int64)
    return [int.from_bytes(r.tobytes(), "little") % mod for r in raw]


def limbs(vals: list[int], nl: int = 4) -> np.ndarray:
    return (
        np.frombuffer(b"".join(v.to_bytes(8 * nl, "little") for v in vals), dtype="<u8")
        .astype(np.uint64)
        .reshape(-1, nl)
    )


def ints(a: np.ndarray) -> list[int]:
    a = np.ascontiguousarray(a, dtype="<u8")
    nl = a.shape[-1]
    return [int.from_bytes(row.tobytes(), "little") for row in a.reshape(-1, nl)]


def mont(vals: list[int]) -> np.ndarray:
    return limbs([v * RM % R_MOD for v in vals])


def unmont(a: np.ndarray) -> list[int]:
    return [v * R_INV % R_MOD for v in ints(a)]


# edge values of Fr: 0, 1, 2, r-1, r-2, (r-1)/2, limb boundaries, R mod r, and the largest values below 2^255
EDGE = sorted(
    {
        0,
        1,
        2,
        R_MOD - 1,
        R_MOD - 2,
        (R_MOD - 1) // 2,
        (R_MOD + 1) // 2,
        2**64 - 1,
        2**64,
        2**128 - 1,
        2**128,
        2**192 - 1,
        2**192,
        RM % R_MOD,
        R_MOD - (RM % R_MOD),
        2**254,
        2**254 + 1,
        R_MOD - 2**64,
    }
)


def pairs(n_rand: int = 200) -> tuple[list[int], list[int]]:
    xs = [a for a in EDGE for _ in EDGE] + rand_ints(n_rand)
    ys = [b for _ in EDGE for b in EDGE] + rand_ints(n_rand)
    return xs, ys


# ---------------------------------------------------------------------------------------------------- PTX


def test_every_cu_compiles_to_ptx_for_sm90(ptx_files):
    sources = gpu_build.kernel_sources()
    assert {s.stem for s in sources} == set(ptx_files) == {"fr_kernels", "msm"}
    for stem, path in ptx_files.items():
        text = path.read_text()
        assert re.search(r"^\.target sm_90\b", text, re.M), stem
        src = (gpu_build.cuda_dir() / f"{stem}.cu").read_text()
        declared = set(re.findall(r"^ZK_KERNEL (\w+)\(", src, re.M))
        entries = set(re.findall(r"^\.visible \.entry (\w+)\(", text, re.M))
        assert declared and declared == entries, (stem, declared ^ entries)


def test_build_is_cached_by_source_hash(ptx_files):
    mtimes = {k: p.stat().st_mtime_ns for k, p in ptx_files.items()}
    again = gpu_build.compile_all_ptx(gpu_build.DEFAULT_ARCH)
    assert again == ptx_files
    assert {k: p.stat().st_mtime_ns for k, p in again.items()} == mtimes  # not recompiled
    for stem, p in again.items():
        assert p == gpu_build.ptx_path(f"{stem}.cu") and gpu_build.sources_digest() != ""
    assert gpu_build.main(["--no-harness", "--no-fatbin"]) == 0


# ---------------------------------------------------------------------------------------------------- Fr


@pytest.mark.parametrize("op,fn", [(0, lambda a, b: a + b), (1, lambda a, b: a - b), (2, lambda a, b: a * b)])
def test_fr_binops_match_python_ints_and_cpu_backend(harness, op, fn):
    xs, ys = pairs()
    out = harness.binop(op, mont(xs), mont(ys))
    assert unmont(out) == [fn(a, b) % R_MOD for a, b in zip(xs, ys, strict=True)]
    cpu = get_backend("cpu")
    ref = [cpu.add, cpu.sub, cpu.mul][op](mont(xs), mont(ys))
    assert np.array_equal(out, ref)  # same limbs: the representation is shared


def test_fr_results_are_fully_reduced(harness):
    xs, ys = pairs(50)
    for op in range(3):
        assert all(v < R_MOD for v in ints(harness.binop(op, mont(xs), mont(ys))))


def test_fr_unops(harness):
    xs = EDGE + rand_ints(200)
    assert unmont(harness.unop(0, mont(xs))) == [(-x) % R_MOD for x in xs]
    assert ints(harness.unop(1, limbs(xs))) == [x * RM % R_MOD for x in xs]  # to Montgomery
    assert ints(harness.unop(2, mont(xs))) == xs  # from Montgomery
    assert unmont(harness.unop(3, mont(xs))) == [pow(x, -1, R_MOD) if x else 0 for x in xs]
    assert unmont(harness.unop(4, mont(xs))) == [x * x % R_MOD for x in xs]


def test_fr_canonical_and_equality(harness):
    vals = [0, 1, R_MOD - 1, R_MOD, R_MOD + 1, 2**255 - 1, 2**255, 2**255 + 1, RM - 1]
    assert harness.is_canonical(limbs(vals)).tolist() == [int(v < R_MOD) for v in vals]
    xs, ys = pairs(20)
    assert harness.eq_elem(mont(xs), mont(ys)).tolist() == [int(a == b) for a, b in zip(xs, ys, strict=True)]


def test_fr_int64_conversions(harness):
    vals = np.array(
        [0, 1, -1, 2, -2, 2**31, -(2**31), 2**63 - 1, -(2**63), -(2**63) + 1]
        + RNG.integers(-(2**63), 2**63 - 1, size=100).tolist(),
        dtype=np.int64,
    )
    out = harness.from_int64(vals)
    assert unmont(out) == [int(v) % R_MOD for v in vals]
    assert np.array_equal(out, get_backend("cpu").from_int64(vals))
    back, bad = harness.to_int64(out)
    assert np.array_equal(back, vals) and not bad.any()
    outside = [2**63, R_MOD - 2**63 - 1, R_MOD // 2, 2**128]
    inside = [2**63 - 1, R_MOD - 2**63]
    back, bad = harness.to_int64(mont(outside + inside))
    assert bad.tolist() == [1] * 4 + [0] * 2
    assert back.tolist() == [0] * 4 + [2**63 - 1, -(2**63)]


def test_fr_scalar_mul_fold_fold_pair(harness):
    n = 64
    t = rand_ints(2 * n)
    b = rand_ints(n)
    for c in (0, 1, R_MOD - 1, rand_ints(1)[0]):
        cl = mont([c])
        assert unmont(harness.scalar_mul(mont(b), cl)) == [c * x % R_MOD for x in b]
        folded = harness.fold(mont(t), cl)
        assert unmont(folded) == [(t[i] + c * (t[i + n] - t[i])) % R_MOD for i in range(n)]
        assert np.array_equal(folded, get_backend("cpu").fold(mont(t), cl[0]))
        assert unmont(harness.fold_pair(mont(t[:n]), mont(b), cl)) == [
            (t[i] + c * (b[i] - t[i])) % R_MOD for i in range(n)
        ]


def test_fr_powers(harness):
    x = rand_ints(1)[0]
    for n, nthreads in ((0, 4), (1, 4), (37, 1), (37, 5), (300, 256), (300, 7), (5, 64)):
        assert unmont(harness.powers(mont([x]), n, nthreads)) == [pow(x, i, R_MOD) for i in range(n)]


def eq_ref(u: list[int]) -> list[int]:
    n = len(u)
    out = []
    for i in range(1 << n):
        v = 1
        for j in range(n):  # u[0] is the most significant bit
            bit = (i >> (n - 1 - j)) & 1
            v = v * (u[j] if bit else 1 - u[j]) % R_MOD
        out.append(v)
    return out


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_fr_eq_table_big_endian(harness, n):
    u = rand_ints(n)
    table = harness.eq_table(mont(u))
    assert unmont(table) == eq_ref(u)
    assert np.array_equal(table, get_backend("cpu").eq_table(mont(u)))
    if n:  # <t, eq(u)> is the MLE evaluation
        t = rand_ints(1 << n)
        assert (
            unmont(harness.inner(mont(t), table, 3))[0] == sum(a * b for a, b in zip(t, eq_ref(u), strict=True)) % R_MOD
        )


@pytest.mark.parametrize("nthreads", [1, 7, 128, 1000])
def test_fr_sum_and_inner_reductions(harness, nthreads):
    a, b = rand_ints(300), rand_ints(300)
    a[: len(EDGE)] = EDGE
    assert unmont(harness.sum(mont(a), nthreads)) == [sum(a) % R_MOD]
    assert unmont(harness.inner(mont(a), mont(b), nthreads)) == [sum(x * y for x, y in zip(a, b, strict=True)) % R_MOD]
    assert unmont(harness.sum(np.zeros((0, 4), np.uint64), nthreads)) == [0]


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("nthreads", [1, 5, 64])
def test_fr_sumcheck_round_sums(harness, k, nthreads):
    n = 64
    tabs = [rand_ints(2 * n) for _ in range(k)]
    out = unmont(harness.roundsum([mont(t) for t in tabs], nthreads))
    ref = []
    for x in range(4):
        s = 0
        for i in range(n):
            p = 1
            for t in tabs:
                p = p * (t[i] + x * (t[i + n] - t[i])) % R_MOD
            s += p
        ref.append(s % R_MOD)
    assert out == ref
    cpu = get_backend("cpu").round_sums([mont(t) for t in tabs])
    assert np.array_equal(mont(out[: k + 1]), cpu)


@pytest.mark.parametrize("nthreads", [1, 3, 256, 1000])
def test_fr_batch_inverse(harness, nthreads):
    xs = EDGE + rand_ints(100)
    xs[5] = 0
    out = unmont(harness.batch_inv(mont(xs), nthreads))
    assert out == [pow(x, -1, R_MOD) if x else 0 for x in xs]
    nz = [x for x in xs if x]
    cpu, zeros = get_backend("cpu").batch_inverse(mont(nz))
    assert zeros == 0 and np.array_equal(harness.batch_inv(mont(nz), nthreads), cpu)


# ---------------------------------------------------------------------------------------------------- Fp


def test_fp_arithmetic(harness):
    P_MOD = gpu_msm().FP_MODULUS
    edge = [0, 1, 2, P_MOD - 1, P_MOD - 2, (P_MOD - 1) // 2, 2**64 - 1, 2**320, 2**380, (1 << 384) % P_MOD]
    xs = [a for a in edge for _ in edge] + rand_ints(100, P_MOD)
    ys = [b for _ in edge for b in edge] + rand_ints(100, P_MOD)
    X, Y = limbs(xs, 6), limbs(ys, 6)
    assert ints(harness.fp_op(0, X, Y)) == [(a + b) % P_MOD for a, b in zip(xs, ys, strict=True)]
    assert ints(harness.fp_op(1, X, Y)) == [(a - b) % P_MOD for a, b in zip(xs, ys, strict=True)]
    assert ints(harness.fp_op(2, X, Y)) == [a * b % P_MOD for a, b in zip(xs, ys, strict=True)]
    assert ints(harness.fp_op(3, X, Y)) == [pow(a, -1, P_MOD) if a else 0 for a in xs]


# ---------------------------------------------------------------------------------------------------- G1


def rand_points(n: int) -> list:
    G1Point, Scalar = ark()
    g = G1Point()
    return [g * Scalar(k) for k in rand_ints(n)]


def as_limbs(points) -> np.ndarray:
    return gpu_msm().points_to_limbs(list(points))


def test_g1_add_double_neg_match_arkworks(harness):
    G1Point, Scalar = ark()
    ps, qs = rand_points(20), rand_points(20)
    inf = G1Point.identity()
    # special cases: P + P, P + (-P), O + P, P + O, O + O
    ps += [ps[0], ps[1], inf, ps[2], inf]
    qs += [ps[0], -ps[1], qs[0], inf, inf]
    P, Q = as_limbs(ps), as_limbs(qs)
    expect = as_limbs(p + q for p, q in zip(ps, qs, strict=True))
    assert np.array_equal(harness.g1_op(0, P, Q), expect)  # Jacobian + Jacobian
    assert np.array_equal(harness.g1_op(1, P, Q), expect)  # mixed
    assert np.array_equal(harness.g1_op(2, P, Q), as_limbs(p + p for p in ps))
    assert np.array_equal(harness.g1_op(3, P, Q), as_limbs(-p for p in ps))


def test_g1_matches_py_ecc(harness):
    G1Point, Scalar = ark()
    from py_ecc.optimized_bls12_381 import G1, add, multiply, normalize

    k1, k2 = rand_ints(2)
    a, b = multiply(G1, k1), multiply(G1, k2)
    s = normalize(add(a, b))
    P = as_limbs([G1Point() * Scalar(k1)])
    Q = as_limbs([G1Point() * Scalar(k2)])
    got = ints(harness.g1_op(0, P, Q).reshape(2, 6))
    assert got == [int(s[0].n), int(s[1].n)]
    k3 = rand_ints(1)[0]
    m = normalize(multiply(G1, k3))
    got = ints(harness.g1_mul(as_limbs([G1Point()]), limbs([k3])).reshape(2, 6))
    assert got == [int(m[0].n), int(m[1].n)]


def test_g1_scalar_mul_matches_arkworks(harness):
    G1Point, Scalar = ark()
    ps = rand_points(6) + [G1Point.identity()]
    ks = [0, 1, R_MOD - 1, 2**64, *rand_ints(3)]
    out = harness.g1_mul(as_limbs(ps), limbs(ks))
    assert np.array_equal(out, as_limbs(p * Scalar(k) for p, k in zip(ps, ks, strict=True)))


def test_affine_to_montgomery_and_jacobian_conversion(harness):
    G1Point, Scalar = ark()
    P_MOD = gpu_msm().FP_MODULUS
    ps = rand_points(3) + [G1Point.identity()]
    m = harness.g1_aff_to_mont(as_limbs(ps))
    for p, row in zip(ps, m, strict=True):
        jac = np.concatenate([row, limbs([(1 << 384) % P_MOD if p != G1Point.identity() else 0], 6)[0]])
        assert gpu_msm().jac_mont_to_point(jac) == p
    assert gpu_msm().jac_mont_to_xy(np.zeros(18, np.uint64)) is None


# ---------------------------------------------------------------------------------------------------- MSM

N_MSM = 300


@pytest.fixture(scope="module")
def basis():
    G1Point, Scalar = ark()
    pts = rand_points(N_MSM)
    pts[7] = G1Point.identity()  # the identity is a legal basis point
    return pts, as_limbs(pts)


def ark_msm(points, scalars: list[int]):
    G1Point, Scalar = ark()
    return G1Point.multiexp_unchecked(points, [Scalar(k % R_MOD) for k in scalars])


@pytest.mark.parametrize("c,seg_len", [(8, 16), (13, 4096)])
def test_msm_full_scalars(harness, basis, c, seg_len):
    pts, L = basis
    ks = rand_ints(N_MSM)
    ks[:4] = [0, 1, R_MOD - 1, 2**254]
    ks[10] = ks[11]  # repeated digits land in the same buckets
    got = gpu_msm().jac_mont_to_point(harness.msm_full(L, limbs(ks), c, seg_len))
    assert got == ark_msm(pts, ks)


@pytest.mark.parametrize("c,W,seg_len", [(4, 4, 3), (8, 2, 16), (16, 1, 64), (6, 11, 7)])
def test_msm_small_signed_scalars(harness, basis, c, W, seg_len):
    pts, L = basis
    lim = min(2 ** (c * W), 2**63)
    s = RNG.integers(-lim + 1, lim, size=N_MSM, dtype=np.int64)
    s[:5] = [0, 1, -1, lim - 1, -(lim - 1)]
    if c * W >= 64:
        s[5:7] = [-(2**63), 2**63 - 1]
    got = gpu_msm().jac_mont_to_point(harness.msm_small(L, s, c, W, seg_len))
    assert got == ark_msm(pts, [int(v) for v in s])


@pytest.mark.parametrize("nthreads", [1, 13, 64])
def test_msm_bits(harness, basis, nthreads):
    G1Point, Scalar = ark()
    pts, L = basis
    b = RNG.integers(0, 2, size=N_MSM).astype(np.uint8)
    got = gpu_msm().jac_mont_to_point(harness.msm_bits(L, b, nthreads))
    assert got == ark_msm(pts, [int(v) for v in b])
    assert gpu_msm().jac_mont_to_point(harness.msm_bits(L, np.zeros(N_MSM, np.uint8), nthreads)) == G1Point.identity()


@pytest.mark.parametrize("chunk", [2, 3, 32])
def test_msm_skewed_digits_chunked_bucket_sums(harness, basis, chunk):
    """30 % of the scalars ±1 (one huge bucket per sign-folded digit), the rest uniform: the chunked bucket sums
    (several merge steps when chunk is small) must give the same point as arkworks."""
    G1Point, Scalar = ark()
    pts, L = basis
    s = RNG.integers(-(2**15), 2**15, size=N_MSM, dtype=np.int64)
    skew = RNG.random(N_MSM) < 0.3
    s[skew] = RNG.choice(np.array([-1, 1], np.int64), size=int(skew.sum()))
    got = gpu_msm().jac_mont_to_point(harness.msm_small(L, s, 4, 4, 5, chunk))
    assert got == ark_msm(pts, [int(v) for v in s])
    ones = np.ones(N_MSM, np.int64)  # every pair in one bucket
    assert gpu_msm().jac_mont_to_point(harness.msm_small(L, ones, 8, 2, 16, chunk)) == ark_msm(pts, [1] * N_MSM)
    ks = [1] * N_MSM
    ks[::7] = rand_ints(len(ks[::7]))
    assert gpu_msm().jac_mont_to_point(harness.msm_full(L, limbs(ks), 8, 16, chunk)) == ark_msm(pts, ks)


def test_msm_chunk_steps_end_when_a_pair_straddles_a_chunk_border(harness, basis):
    """Sorted keys 1, 2, 3, 5 | 5 with chunk 4: the pair of 5s straddles the border, a step with fixed borders
    merges nothing (the earlier design looped forever); the shifted borders of the next step merge it."""
    pts, L = basis
    s = np.array([1, 2, 3, 5, 5], np.int64)
    got = gpu_msm().jac_mont_to_point(harness.msm_small(L[:5], s, 8, 1, 16, 4))
    assert got == ark_msm(pts[:5], [int(v) for v in s])
