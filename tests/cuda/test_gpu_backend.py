"""The GPU backend (zkdl/field/gpu.py) and the GPU MSM (zkdl/commit/gpu_msm.py) against the CPU backend and arkworks.

Each test runs twice:
- ``emulated``: CuPy replaced by tests/cuda/cuda_emulation.py, which runs the real kernels of cuda/*.cu compiled
  for the CPU (needs nvcc only). This checks the Python driver, argument passing, launch geometry and layouts.
- ``cuda`` (marker gpu): real CuPy on a real GPU; skipped cleanly without CuPy, a driver or a device.
Results must be bit-identical to the CPU backend (the limb representation is shared and fully reduced).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from zkdl.errors import BackendUnavailable
from zkdl.field import Fr, get_backend, gpu_build
from zkdl.field import gpu as gpu_mod
from zkdl.field.constants import MODULUS as R_MOD
from zkdl.field.constants import MONT_R

RM = 1 << 256
RNG = np.random.default_rng(77)
CPU = get_backend("cpu")


def limbs(vals) -> np.ndarray:
    return (
        np.frombuffer(b"".join(int(v).to_bytes(32, "little") for v in vals), dtype="<u8")
        .astype(np.uint64)
        .reshape(-1, 4)
    )


def rand_ints(n: int) -> list[int]:
    raw = RNG.integers(0, 2**63, size=(n, 8), dtype=np.int64)
    return [int.from_bytes(r.tobytes(), "little") % R_MOD for r in raw]


EDGE = [0, 1, 2, R_MOD - 1, R_MOD - 2, (R_MOD - 1) // 2, 2**64 - 1, 2**128, 2**254, MONT_R]


def mont(vals) -> np.ndarray:
    return limbs([v * RM % R_MOD for v in vals])


def rand_mont(n: int) -> np.ndarray:
    vals = rand_ints(n)
    vals[: min(n, len(EDGE))] = EDGE[: min(n, len(EDGE))]
    return mont(vals)


def test_without_cupy_the_gpu_backend_is_unavailable_and_auto_is_cpu(monkeypatch):
    from zkdl.field import backend as backend_mod

    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    monkeypatch.setattr(gpu_mod, "_MODULES", {})
    monkeypatch.setattr(backend_mod, "_BACKENDS", {k: v for k, v in backend_mod._BACKENDS.items() if k != "gpu"})
    with pytest.raises(BackendUnavailable, match="CuPy"):
        gpu_mod.GpuBackend()
    with pytest.raises(BackendUnavailable):
        get_backend("gpu")
    assert get_backend("auto").name == "cpu"


def cuda_device_present() -> str | None:
    """None when CuPy imports and sees a device; otherwise why not (the only reasons to skip a GPU test)."""
    try:
        import cupy
    except Exception as exc:
        return f"CuPy is not importable: {exc}"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return f"no usable CUDA driver: {exc}"
    return None if n > 0 else "no CUDA device"


@pytest.fixture(scope="module", params=["emulated", pytest.param("cuda", marks=pytest.mark.gpu)])
def env(request):
    """(backend, cupy module, kind). The GPU variant skips only without CuPy or a device: a kernel that does not
    build or load on a present GPU is an error, not a skip."""
    if request.param == "cuda":
        why = cuda_device_present()
        if why is not None:
            pytest.skip(f"no usable GPU: {why}")
        be = gpu_mod.GpuBackend()  # BackendUnavailable here = a shipped kernel does not build or load: fail
        yield be, be.cp, "cuda"
        return
    harness = request.getfixturevalue("harness")
    request.getfixturevalue("ptx_files")
    from cuda_emulation import make_fake_cupy

    def ptx_only(*args, **kwargs):
        raise BackendUnavailable("the CPU emulation reads PTX (kernel list and parameter widths), not fatbins")

    fake = make_fake_cupy(harness.lib)
    saved_modules = dict(gpu_mod._MODULES)
    from zkdl.field import backend as backend_mod

    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "cupy", fake)
        mp.setattr(gpu_build, "compile_fatbin", ptx_only)
        # get_backend("gpu") inside the tests (bench steps) builds an emulated backend: forget it afterwards
        mp.setattr(backend_mod, "_BACKENDS", dict(backend_mod._BACKENDS))
        gpu_mod._MODULES.clear()
        be = gpu_mod.GpuBackend(arch="sm_90")
        yield be, fake, "emulated"
        gpu_mod._MODULES.clear()
        gpu_mod._MODULES.update(saved_modules)


def test_a_kernel_that_does_not_build_is_an_error_not_a_skip(harness, nvcc, tmp_path, monkeypatch):
    """With CuPy and a device present (the emulated stand-in), a shipped kernel that nvcc rejects must surface as
    an error naming nvcc: the `cuda` fixture only skips when cuda_device_present() says no device."""
    import shutil

    from cuda_emulation import make_fake_cupy

    src = tmp_path / "cuda"
    shutil.copytree(gpu_build.cuda_dir(), src, ignore=shutil.ignore_patterns("build"))
    (src / "fr_kernels.cu").write_text((src / "fr_kernels.cu").read_text() + "\n#error deliberately broken\n")
    monkeypatch.setenv("ZKDL_CUDA_DIR", str(src))
    monkeypatch.setenv("ZKDL_CUDA_BUILD", str(tmp_path / "build"))
    monkeypatch.setitem(sys.modules, "cupy", make_fake_cupy(harness.lib))
    monkeypatch.setattr(gpu_mod, "_MODULES", {})
    assert cuda_device_present() is None  # so the `cuda` fixture would not skip
    with pytest.raises(BackendUnavailable, match="nvcc failed"):
        gpu_mod.GpuBackend(arch="sm_90")


def same(env, got, ref) -> bool:
    be, cp, _ = env
    host = cp.asnumpy(got) if not isinstance(got, np.ndarray) else got
    return host.dtype == np.uint64 and np.array_equal(host, ref)


SIZES = [1, 5, 300, 1500]  # 1500: more than 1024 elements, not a multiple of the block size


@pytest.mark.parametrize("n", SIZES)
def test_elementwise_ops_match_cpu(env, n):
    be = env[0]
    a, b = rand_mont(n), mont(rand_ints(n))
    s = mont(rand_ints(1))[0]
    A, B = be.asarray(a), be.asarray(b)
    assert np.array_equal(be.to_host(A), a)
    for name in ("add", "sub", "mul"):
        assert same(env, getattr(be, name)(A, B), getattr(CPU, name)(a, b)), name
    assert same(env, be.neg(A), CPU.neg(a))
    assert same(env, be.add_scalar(A, s), CPU.add_scalar(a, s))
    assert same(env, be.mul_scalar(A, s), CPU.mul_scalar(a, s))
    assert same(env, be.axpy(s, A, B), CPU.axpy(s, a, b))
    assert same(env, be.fold_pair(A, B, s), CPU.fold_pair(a, b, s))
    with pytest.raises(ValueError):
        be.add(A, be.asarray(b[:-1]) if n > 1 else be.zeros(2))


@pytest.mark.parametrize("n", [2, 64, 1024])
def test_fold_and_round_sums_match_cpu(env, n):
    be = env[0]
    tabs = [rand_mont(n) for _ in range(3)]
    c = mont(rand_ints(1))[0]
    assert same(env, be.fold(be.asarray(tabs[0]), c), CPU.fold(tabs[0], c))
    for k in (1, 2, 3):
        got = be.round_sums([be.asarray(t) for t in tabs[:k]])
        assert isinstance(got, np.ndarray) and got.shape == (k + 1, 4)
        assert np.array_equal(got, CPU.round_sums(tabs[:k])), k


@pytest.mark.parametrize("shape", [(1, 1, 1), (4, 8, 2), (1, 16, 8), (8, 4, 1), (3, 0, 2)])
def test_contract_matches_cpu(env, shape):
    be = env[0]
    P, Q, Rr = shape
    a, v = rand_mont(P * Q * Rr), rand_mont(Q)
    assert same(env, be.contract(be.asarray(a), shape, be.asarray(v)), CPU.contract(a, shape, v))
    with pytest.raises(ValueError):
        be.contract(be.asarray(a), (P, Q + 1, Rr), be.asarray(v))


@pytest.mark.parametrize("n", [0, 1, 17, 1000, 3001])
def test_reductions_match_cpu(env, n):
    be = env[0]
    a, b = rand_mont(n), rand_mont(n)
    got = be.sum(be.asarray(a))
    assert isinstance(got, np.ndarray) and np.array_equal(got, CPU.sum(a))
    assert np.array_equal(be.inner(be.asarray(a), be.asarray(b)), CPU.inner(a, b))


@pytest.mark.parametrize("nv", [0, 1, 3, 9])
def test_eq_table_and_powers_match_cpu(env, nv):
    be = env[0]
    u = mont(rand_ints(nv)) if nv else np.zeros((0, 4), np.uint64)
    assert same(env, be.eq_table(u), CPU.eq_table(u))
    x = mont(rand_ints(1))[0]
    for n in (0, 1, 255, 257, 600):
        assert same(env, be.powers(x, n), CPU.powers(x, n))


def test_reductions_with_several_passes_match_cpu(env, monkeypatch):
    """A grid cap of 3 blocks forces every reduction (sum, inner, round sums) through several passes."""
    be = env[0]
    monkeypatch.setattr(gpu_mod, "_MAX_RED_BLOCKS", 3)
    a, b = rand_mont(2049), rand_mont(2049)
    assert np.array_equal(be.sum(be.asarray(a)), CPU.sum(a))
    assert np.array_equal(be.inner(be.asarray(a), be.asarray(b)), CPU.inner(a, b))
    tabs = [rand_mont(2048) for _ in range(3)]
    assert np.array_equal(be.round_sums([be.asarray(t) for t in tabs]), CPU.round_sums(tabs))


def test_batch_inverse_and_powers_above_one_chunk_match_cpu(env):
    be = env[0]
    a = mont(rand_ints(2100))  # 9 threads of the strided (coalesced) batch inversion, the last ones shorter
    inv, zeros = be.batch_inverse(be.asarray(a))
    ref, ref_zeros = CPU.batch_inverse(a)
    assert zeros == ref_zeros == 0 and same(env, inv, ref)
    a[[0, 700, 2099]] = 0  # zeros count and map to zero (the CPU leaves them undefined); the rest is unchanged
    inv, zeros = be.batch_inverse(be.asarray(a))
    host = env[1].asnumpy(inv)
    assert zeros == 3 and not host[[0, 700, 2099]].any()
    keep = np.ones(2100, bool)
    keep[[0, 700, 2099]] = False
    assert np.array_equal(host[keep], ref[keep])
    x = mont(rand_ints(1))[0]
    assert same(env, be.powers(x, 2100), CPU.powers(x, 2100))


def test_batch_inverse_and_conversions_match_cpu(env):
    be = env[0]
    a = rand_mont(700)
    a[0] = 0
    inv, zeros = be.batch_inverse(be.asarray(a[1:]))
    ref, ref_zeros = CPU.batch_inverse(a[1:])
    assert zeros == ref_zeros == 0 and same(env, inv, ref)
    assert be.batch_inverse(be.asarray(a))[1] == 1
    std = limbs(EDGE + [R_MOD, R_MOD + 5, RM - 1, 2**255])
    assert be.count_noncanonical(be.asarray(std)) == CPU.count_noncanonical(std) == 4
    ok = std[: len(EDGE)]
    assert same(env, be.to_mont(be.asarray(ok)), CPU.to_mont(ok))
    assert same(env, be.from_mont(be.asarray(a)), CPU.from_mont(a))
    v = np.concatenate(
        [
            np.array([0, 1, -1, 2**63 - 1, -(2**63)], np.int64),
            RNG.integers(-(2**63), 2**63 - 1, size=300, dtype=np.int64),
        ]
    )
    m = be.from_int64(v)
    assert same(env, m, CPU.from_int64(v))
    back, bad = be.to_int64(m)
    assert bad == 0 and np.array_equal(env[1].asnumpy(back), v)
    wide = mont([2**63, R_MOD - 2**63 - 1, 5])
    assert be.to_int64(be.asarray(wide))[1] == CPU.to_int64(wide)[1] == 2


def test_fr_vectors_and_sumcheck_proofs_are_byte_identical(env):
    from zkdl.piop import sumcheck as sc
    from zkdl.serialize import Writer
    from zkdl.transcript import Transcript

    be = env[0]
    rel = sc.Relation(3, ((5, (0, 1)), (R_MOD - 1, (2,)), (7, (1, 2))), eq_weighted=True)
    n = 6
    rng = np.random.default_rng(5)
    cpu_tabs = [Fr.random(1 << n, rng=rng, backend="cpu") for _ in range(3)]
    gpu_tabs = [Fr(be.asarray(t.limbs), be) for t in cpu_tabs]
    assert (gpu_tabs[0] * gpu_tabs[1] + 3).to_ints() == (cpu_tabs[0] * cpu_tabs[1] + 3).to_ints()
    u = [int(x) for x in rng.integers(0, 2**62, n)]
    out = []
    for tabs in (cpu_tabs, gpu_tabs):
        tr = Transcript("test/gpu-sumcheck")
        proof, res = sc.prove(tabs, rel, tr, eq_point=u)
        w = Writer()
        proof.write(w)
        out.append((w.getvalue(), res, tr.challenge_fr("after")))
    assert out[0] == out[1]


# ------------------------------------------------------------------------------------- fused sumcheck kernels


@pytest.mark.parametrize("n", [4, 64, 1024])
def test_fused_kernels_match_cpu(env, n, monkeypatch):
    """The GPU twins of the CPU backend's FusedKernels (GKR layer sums, plain and with the coefficients in the
    tables, in-place folds, the claim reduction's fold + round sums, in-place axpy, eq tables stored or added in
    place, range-check leaves and the layer above them) give the CPU's limbs."""
    be = env[0]
    assert be.fused() is be and CPU.fused() is CPU
    if n == 1024:
        monkeypatch.setattr(gpu_mod, "_MAX_RED_BLOCKS", 3)  # reductions through several passes
    tabs = [rand_mont(n) for _ in range(4)]
    e = rand_mont(n // 2)
    c = mont(rand_ints(1))[0]
    for k in (4, 2):
        got = be.gkr_sums([be.asarray(t) for t in tabs[:k]], be.asarray(e))
        assert isinstance(got, np.ndarray) and np.array_equal(got, CPU.gkr_sums(tabs[:k], e)), k
        got = be.gkr_cross_sums([be.asarray(t) for t in tabs[:k]], be.asarray(e), c)
        assert isinstance(got, np.ndarray) and np.array_equal(got, CPU.gkr_cross_sums(tabs[:k], e, c)), k
    dev = [be.asarray(t.copy()) for t in tabs[:3]]
    ref = CPU.fold_many_inplace([t.copy() for t in tabs[:3]], c)
    for got, want in zip(be.fold_many_inplace(dev, c), ref):
        assert same(env, got, want)
    assert same(env, be.halve_sum_inplace(be.asarray(tabs[3].copy())), CPU.halve_sum_inplace(tabs[3].copy()))
    sums, f, g = be.fold2_round_sums(be.asarray(tabs[0].copy()), be.asarray(tabs[1].copy()), c)
    ref_sums, ref_f, ref_g = CPU.fold2_round_sums(tabs[0].copy(), tabs[1].copy(), c)
    assert np.array_equal(sums, ref_sums) and same(env, f, ref_f) and same(env, g, ref_g)
    g_in, out = be.asarray(tabs[1].copy()), be.asarray(np.zeros((n // 2, 4), dtype=np.uint64))
    sums, f, g = be.fold2_round_sums(be.asarray(tabs[0].copy()), g_in, c, out)
    assert g is out and np.array_equal(sums, ref_sums) and same(env, f, ref_f) and same(env, g, ref_g)
    assert same(env, g_in, tabs[1])
    y = be.asarray(tabs[2].copy())
    assert be.axpy_inplace(c, be.asarray(tabs[3]), y) is y
    assert same(env, y, CPU.axpy(c, tabs[3], tabs[2]))
    nv = n.bit_length() - 1
    u = rand_mont(nv)
    for add in (False, True):
        out = be.asarray(tabs[1].copy())
        assert be.eq_into(u, c, out, add) is out
        assert same(env, out, CPU.eq_into(u, c, tabs[1].copy(), add))
    for p in (tabs[0], None):
        got = be.fraction_layer(None if p is None else be.asarray(p), be.asarray(tabs[1]))
        want = CPU.fraction_layer(p, tabs[1])
        assert same(env, got[0], want[0]) and same(env, got[1], want[1])
    x = RNG.integers(-(2**40), 2**40, size=n, dtype=np.int64)
    x[:2] = [-(2**63), 2**63 - 1]
    tag = RNG.integers(0, 5, size=n, dtype=np.int64)
    consts = rand_mont(5)
    assert same(env, be.leaves_from_small(x, tag, consts), CPU.leaves_from_small(x, tag, consts))
    got, want = be.unit_layer_from_small(x, tag, consts), CPU.unit_layer_from_small(x, tag, consts)
    assert same(env, got[0], want[0]) and same(env, got[1], want[1])
    with pytest.raises(ValueError):
        be.leaves_from_small(x, tag + 5, consts)
    with pytest.raises(ValueError):
        be.fold2_round_sums(be.asarray(tabs[0][:2].copy()), be.asarray(tabs[1][:2].copy()), c)


@pytest.mark.parametrize("unit", [False, True], ids=["layers", "layer-and-unit-layer"])
def test_fused_gkr_layer_and_claim_reduction_proofs_are_byte_identical(env, unit):
    """The range check's batched eq-factored layer engine (two trees: 4 tables, then 4 or the 2 leaf halves of a
    p = 1 tree) and the claim reduction's engine on the GPU twins send the CPU's bytes (the same proof whichever
    backend runs the prover), and keep the same fold for the opening."""
    from zkdl.gadgets import range_check as rc
    from zkdl.piop.claims import Claim, prove_reduction_keeping_fold
    from zkdl.protocol.channel import ProverChannel
    from zkdl.transcript import Transcript

    be = env[0]
    n = 6
    rng = np.random.default_rng(11)
    cpu_trees = [[Fr.random(1 << n, rng=rng, backend="cpu") for _ in range(k)] for k in (4, 2 if unit else 4)]
    point = [int(x) for x in rng.integers(0, 2**62, n)]
    lam = int(rng.integers(1, 2**62))
    coefs = rc._batch_coefficients(lam, 2)
    rel = rc._batched_relation(coefs, [False, unit])
    table = Fr.random(1 << (n + 2), rng=rng, backend="cpu")
    r = [int(x) for x in rng.integers(0, 2**62, n + 2)]
    pts = [[0, 1, *r[2:]], [1, 1, *r[2:]], r]
    out = []
    for backend in (CPU, be):
        trees = [[Fr(backend.asarray(t.limbs.copy()), backend) for t in tabs] for tabs in cpu_trees]
        ch = ProverChannel(Transcript("test/gpu-fused"))
        flat = [t for tabs in trees for t in tabs]
        claim = 0
        for c, ix in rel.terms:
            prod = flat[ix[0]] if len(ix) == 1 else flat[ix[0]] * flat[ix[1]]
            claim += c * prod.inner(Fr.eq_table(point, backend=backend))
        engine = rc._FusedLayerEngine(trees, coefs, point, claim % R_MOD, own=True)
        layer = ch.sumcheck(flat, rel, claim, eq_point=point, engine=engine)
        t = Fr(backend.asarray(table.limbs), backend)
        claims = [Claim("T", p, t.evaluate(p)) for p in pts]
        reduced, kept = prove_reduction_keeping_fold(t, claims, ch, 3)
        assert kept is not None
        out.append((ch.writers["SUMC"].getvalue(), layer, reduced, kept.to_ints(), ch.transcript.challenge_fr("end")))
    assert out[0] == out[1]


# ------------------------------------------------------------------------------------------------------- MSM


@pytest.fixture(scope="module")
def msm_env(env):
    from py_arkworks_bls12381 import G1Point, Scalar

    from zkdl.commit.gpu_msm import GpuMsm, points_to_limbs

    g = G1Point()
    pts = [g * Scalar(k) for k in rand_ints(120)]
    pts[3] = G1Point.identity()
    return GpuMsm(points_to_limbs(pts), arch="sm_90" if env[2] == "emulated" else None), pts


def ark(pts, ks):
    from py_arkworks_bls12381 import G1Point, Scalar

    return G1Point.multiexp_unchecked(pts[: len(ks)], [Scalar(int(k) % R_MOD) for k in ks])


def test_gpu_msm_small_signed(msm_env):
    msm, pts = msm_env
    s = RNG.integers(-(2**15), 2**15, size=120, dtype=np.int64)
    s[:4] = [0, -1, 2**15 - 1, -(2**15)]
    assert msm.msm_small(s, bits=16) == ark(pts, s)
    assert msm.msm_small(s, bits=16, c=10) == ark(pts, s)  # 1023 buckets per window: 16 segments to reduce
    assert msm.msm_small(s[:50]) == ark(pts, s[:50])  # width inferred from the values
    ext = np.array([2**63 - 1, -(2**63), 5], np.int64)
    assert msm.msm_small(ext) == ark(pts, ext)
    with pytest.raises(ValueError):
        msm.msm_small(s, bits=15)


@pytest.fixture(scope="module")
def msm_big(env):
    """A basis of 1100 points (more than 1024) for the size and skew tests."""
    from py_arkworks_bls12381 import G1Point, Scalar

    from zkdl.commit.gpu_msm import GpuMsm, points_to_limbs

    pts = [G1Point() * Scalar(k) for k in rand_ints(1100)]
    return GpuMsm(points_to_limbs(pts), arch="sm_90" if env[2] == "emulated" else None), pts


@pytest.mark.parametrize("chunk", [4, 32])
def test_gpu_msm_skewed_digits(env, msm_big, chunk):
    """Quantized data: 30 % of the scalars ±1. The one-bucket-per-thread design serialised those; the chunked
    bucket sums spread them and merge partial sums over several steps (checked in the emulated launch log)."""
    msm, pts = msm_big
    msm.chunk = chunk
    try:
        s = RNG.integers(-(2**15), 2**15, size=1100, dtype=np.int64)
        skew = RNG.random(1100) < 0.3
        s[skew] = RNG.choice(np.array([-1, 1], np.int64), size=int(skew.sum()))
        before = len(getattr(env[1], "launches", []))
        assert msm.msm_small(s, bits=16) == ark(pts, s)
        if env[2] == "emulated":
            steps = [n for n, _, _ in env[1].launches[before:] if n == "msm_chunk_jac_kernel"]
            assert len(steps) >= (3 if chunk == 4 else 1)  # ~165 pairs in bucket 1: merged over several steps
        ones = np.ones(1100, np.int64)
        assert msm.msm_small(ones, bits=1) == ark(pts, ones)
        assert msm.msm_bits(np.ones(1100, np.uint8)) == ark(pts, ones)
    finally:
        msm.chunk = 32


def test_gpu_msm_chunk_steps_end_when_a_pair_straddles_a_chunk_border(msm_env):
    msm, pts = msm_env
    msm.chunk = 4
    try:
        s = np.array([1, 2, 3, 5, 5], np.int64)  # sorted keys 1, 2, 3, 5 | 5
        assert msm.msm_small(s, bits=8) == ark(pts, s)
    finally:
        msm.chunk = 32


def test_gpu_msm_full_and_bits(msm_env):
    msm, pts = msm_env
    ks = rand_ints(120)
    ks[:3] = [0, 1, R_MOD - 1]
    assert msm.msm_full(limbs(ks)) == ark(pts, ks)
    b = RNG.integers(0, 2, size=120).astype(np.uint8)
    assert msm.msm_bits(b) == ark(pts, b)
    with pytest.raises(ValueError):
        msm.msm_bits(np.ones(121, np.uint8))


def test_gpu_bench_script_runs(env):
    """bench/gpu_bench.py (run by bench/gpu_check.sh) at a tiny size: its checks must pass."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "gpu_bench.py"
    spec = importlib.util.spec_from_file_location("gpu_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    field = bench.bench_field(env[0], 7, 1)
    assert field["ops"] and all(v["identical"] for v in field["ops"].values())
    msm = bench.bench_msm(5, 1)
    assert all(v["matches_arkworks"] for k, v in msm.items() if k != "n") and len(msm) == 4


def test_gpu_check_bench_steps_run(env):
    """The measuring steps of bench/gpu_check.sh (bench/gpu_bench.py --step ...) at tiny sizes: every check in
    them passes, so a device call is not lost to a bug in the Python around the kernels."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "gpu_bench.py"
    spec = importlib.util.spec_from_file_location("gpu_bench_steps", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    load = bench.step_load()
    assert load["fr_kernels"]["format"] in ("fatbin", "ptx", "nvrtc") and load["msm"]["seconds"] >= 0
    m = bench.step_msm20(1, log_n=8)
    assert m["uniform16"]["matches_arkworks"] and m["skewed16"]["matches_arkworks"]
    big = bench.step_big(1, n=1027)
    assert big["add"]["sample_identical"] and big["mul"]["sample_identical"] and big["sum"]["identical"]
    sweep = bench.step_sweep(1, lo=5, hi=6)
    assert len(sweep) == 6 and all(v["matches_arkworks"] for v in sweep.values())
    assert all(bench.step_sanitize().values())
    assert bench.card_name(env[1])


def test_gpu_bench_cli_writes_merged_json(env, tmp_path, monkeypatch):
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "gpu_bench.py"
    spec = importlib.util.spec_from_file_location("gpu_bench_cli", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "check.json"
    for step in ("sanitize", "load"):
        monkeypatch.setattr(sys, "argv", ["gpu_bench.py", "--step", step, "--out", str(out)])
        assert bench.main() == 0
    data = json.loads(out.read_text())
    assert data["device"] and all(data["sanitize"].values()) and "msm" in data["load"]


# ------------------------------------------------------------------------------- commit() through the GPU MSM


@pytest.fixture
def gpu_commit(env, monkeypatch):
    """zkdl.commit.pedersen with every row routed through the (emulated or real) GPU MSM when `on` is set."""
    from zkdl.commit import pedersen

    monkeypatch.setattr(pedersen, "GPU_MIN_COLS", 1)
    monkeypatch.setattr(pedersen, "_GPU_MSMS", {})
    used: list[str] = []
    real = pedersen._commit_rows_gpu

    def spy(params, lay, kind, rows, blinds):
        used.append(kind)
        return real(params, lay, kind, rows, blinds)

    monkeypatch.setattr(pedersen, "_commit_rows_gpu", spy)

    def route(on: bool) -> None:
        monkeypatch.setattr(pedersen, "_use_gpu_msm", lambda: on)

    return route, used


def test_use_gpu_msm_follows_the_default_backend(env):
    from zkdl.commit import pedersen
    from zkdl.field import set_default_backend

    try:
        set_default_backend("cpu")
        assert not pedersen._use_gpu_msm()
        set_default_backend(env[0])  # the (emulated or real) GPU backend instance
        assert pedersen._use_gpu_msm()
    finally:
        set_default_backend(None)


def test_commitments_and_openings_on_the_gpu_msm_are_byte_identical(env, gpu_commit):
    import random

    from zkdl.commit import PublicParams, commit, commit_fr, prove_eval, verify_eval

    route, used = gpu_commit
    pp = PublicParams.ephemeral(64)
    rng = np.random.default_rng(3)
    ints = rng.integers(-(2**15), 2**15, size=200).astype(np.int64)
    ints[rng.random(200) < 0.3] = 1  # skewed
    tables = [
        ints,
        rng.integers(0, 2, size=77).astype(bool),
        np.array([2**64 - 1, 0, 5, 2**63], np.uint64),
        Fr.random(50, rng=rng, backend="cpu"),
    ]
    point = [int(x) for x in rng.integers(0, 2**62, 8)]
    out = []
    for on in (False, True):
        route(on)
        res = []
        for i, t in enumerate(tables):
            com, _ = (commit_fr if isinstance(t, Fr) else commit)(pp, t, rng=random.Random(i))
            res.append(com.to_bytes())
        com, op = commit(pp, ints, rng=random.Random(9))
        v, proof = prove_eval(pp, com, op, ints, point)
        assert verify_eval(pp, com, point, proof) == v  # the CPU verifier accepts the GPU-made commitment
        out.append(res)
    assert sorted(set(used)) == ["bits", "full", "small"]
    assert out[0] == out[1]


@pytest.mark.slow
def test_training_proof_with_the_gpu_msm_is_byte_identical(env, gpu_commit, monkeypatch):
    """A whole (tiny) training proof with every commitment row on the GPU MSM: same statement, same bytes."""
    import random
    from pathlib import Path

    from zkdl.commit import PublicParams
    from zkdl.protocol import training

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "zkdl"))
    from training_instances import make_instance

    route, used = gpu_commit
    pp = PublicParams.ephemeral(4096)
    out = []
    for on in (False, True):
        route(on)
        st, run, X, Y, opens = make_instance(pp, (4, 3, 2), 2, 1, 4, backend="bits", commit_rng=random.Random(1))
        proof, _ = training.prove(pp, st, run, X, Y, opens, rng=random.Random(2))
        out.append((st, proof))
    assert used
    assert out[0][0] == out[1][0] and out[0][1] == out[1][1]
    training.verify(pp, out[1][0], out[1][1])  # raises VerificationError if a check fails
