"""Range-check gadget: layout and public MLEs, honest proofs of both back-ends (with true returned claims),
and rejection of out-of-range entries, wrong multiplicities, forged tables and tampered proofs."""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest

from zkdl.errors import ProofFormatError, QuantizationOverflow, VerificationError, ZkdlError
from zkdl.field import MODULUS as R
from zkdl.field import Fr
from zkdl.gadgets import range_check as rc
from zkdl.gadgets.range_check import (
    TABLE_LOG,
    TABLE_SIZE,
    BitsBackend,
    RangeLayout,
    RangeLayouts,
    fraction_layers,
    make_range_backend,
    mask_mle,
    multiplicities,
    table_mle,
    table_values,
)
from zkdl.piop.claims import Claim
from zkdl.protocol.channel import SECTIONS, ProverChannel, VerifierChannel
from zkdl.serialize import Reader
from zkdl.transcript import Transcript

REJECT = (VerificationError, ProofFormatError)

WIDTHS = [("w0", 4, 0), ("w1", 5, 1), ("w5", 6, 5), ("w16", 7, 16)]
TINY = [("x", 0, 3)]
BIG = [("small", 4, 1), ("big", 17, 8)]  # 2^17 + 16 entries: n = 18 > 17


def _rand_point(rng, n):
    return [int.from_bytes(rng.bytes(32), "little") % R for _ in range(n)]


def _honest_L(layout, seed=0):
    rng = np.random.default_rng(seed)
    vals = {s.name: rng.integers(0, 1 << s.bits, 1 << s.log_size) for s in layout.segments}
    return layout.assemble(vals)


def _commit_stub(transcript, tables):
    """Stand-in for absorbing the commitments: a digest of every committed table."""
    for name in sorted(tables):
        arr = np.ascontiguousarray(np.asarray(tables[name]).astype(np.int64))
        transcript.absorb_bytes("test/commit/" + name, hashlib.blake2b(arr.tobytes()).digest())


def _open(tables, claims):
    """Stand-in for the commitment openings: a false claim is a verification failure."""
    for c in claims:
        t = Fr.from_int64(np.asarray(tables[c.tensor]).astype(np.int64))
        if t.evaluate(c.point) != c.value:
            raise VerificationError(f"opening of {c.tensor} fails")


def _prove(backend, layout, L, tables):
    """Prover side of the flow: range proof, then one claim on L (at a random point) translated. Returns the
    message bytes (what the channel wrote), the range claims, the L claim and the translated claims."""
    t = Transcript("test-range")
    _commit_stub(t, tables)
    ch = ProverChannel(t)
    claims = backend.prove(layout, L, ch, tables=tables)
    rho = t.challenge_frs("test/L-point", layout.n)
    lclaim = Claim("L", rho, Fr.from_int64(layout._as_L(L)).evaluate(rho))
    tclaims = backend.prove_translate(layout, [lclaim], ch, L_values=L, tables=tables)
    return ch.writers["SUMC"].getvalue(), claims, lclaim, tclaims


def _verify(backend, layout, data, tables, lvalue):
    """Verifier side: verify, translate the L claim (value supplied by the 'rest of the protocol'), and open
    every claim on the committed tables."""
    t = Transcript("test-range")
    _commit_stub(t, tables)
    readers = {s: Reader(b"") for s in SECTIONS}
    readers["SUMC"] = Reader(data)
    ch = VerifierChannel(t, readers)
    claims = backend.verify(layout, ch)
    rho = t.challenge_frs("test/L-point", layout.n)
    tclaims = backend.verify_translate(layout, [Claim("L", rho, lvalue)], ch)
    readers["SUMC"].finish()
    _open(tables, claims + tclaims)
    return claims, tclaims


def _roundtrip(name, layout, L, tables=None):
    be = make_range_backend(name)
    if tables is None:
        tables = be.committed_tables(layout, L, strict=False)
    data, claims, lclaim, tclaims = _prove(be, layout, L, tables)
    return _verify(be, layout, data, tables, lclaim.value), (claims, tclaims)


def _fr_offsets(data):
    """Byte offsets of every field element in a payload made of write_frs blocks."""
    out, pos = [], 0
    while pos < len(data):
        (count,) = struct.unpack_from("<Q", data, pos)
        out += [pos + 8 + 32 * i for i in range(count)]
        pos += 8 + 32 * count
    assert pos == len(data)
    return out


def _lookup_proof_elements(value_logs, table_log=TABLE_LOG):
    """Field elements of a clear lookup proof: layer 1 of every tree, one batched sumcheck per depth."""
    depths = [*value_logs, table_log]
    total = 4 * len(depths)
    for k in range(1, max(depths)):
        total += 4 * k + sum(2 if (j < len(value_logs) and d == k + 1) else 4 for j, d in enumerate(depths) if d > k)
    return total


def _tamper(data, off):
    v = int.from_bytes(data[off : off + 32], "little")
    return data[:off] + ((v + 1) % R).to_bytes(32, "little") + data[off + 32 :]


# =============================================================================================== layout


def test_layout_placement_and_public_mles():
    lay = RangeLayout([("a", 3, 2), ("b", 10, 5), ("c", 3, 16), ("d", 0, 0)])
    assert [s.name for s in lay.segments] == ["b", "a", "c", "d"]  # size descending, stable
    assert [s.offset for s in lay.segments] == [0, 1024, 1032, 1040]
    assert all(s.offset % (1 << s.log_size) == 0 for s in lay.segments)
    assert lay.n == TABLE_LOG and lay.size == 1 << 17
    assert RangeLayout([("x", 18, 1), ("y", 0, 1)]).n == 19
    rng = np.random.default_rng(1)
    pt = _rand_point(rng, lay.n)
    tags = lay.tags()
    assert tags[1024:1032].tolist() == [2] * 8 and tags[1040] == 0 and tags[1041:].sum() == 0
    assert Fr.from_int64(tags).evaluate(pt) == lay.tag_mle(pt)
    # point_for: the segment's MLE at u equals L~ at layout.point_for(name, u)
    L = _honest_L(lay)
    u = _rand_point(rng, 3)
    seg = Fr.from_int64(L[lay.slice("c")])
    assert Fr.from_int64(L).evaluate(lay.point_for("c", u)) == seg.evaluate(u)
    assert Fr.from_int64(L).evaluate(lay.point_for("d", [])) == int(L[1040]) % R
    mask = BitsBackend._mask(lay)
    pt4 = _rand_point(rng, lay.n + 4)
    assert Fr.from_int64(mask).evaluate(pt4) == mask_mle(lay, pt4)


@pytest.mark.parametrize("bad", [[("a", 3, 17)], [("a", -1, 1)], [("a", 2, 1), ("a", 3, 1)], [("", 1, 1)]])
def test_layout_rejects_bad_segments(bad):
    with pytest.raises(ValueError):
        RangeLayout(bad)


def test_assemble_and_strict_tables():
    lay = RangeLayout(WIDTHS)
    with pytest.raises(ValueError):
        lay.assemble({"w0": [0]})
    with pytest.raises(ValueError):
        lay.assemble({"w0": [0] * 17, "w1": [0], "w5": [0], "w16": [0]})
    L = _honest_L(lay)
    L[lay.slice("w5").start] = 32
    for name in ("lookup", "bits"):
        with pytest.raises(QuantizationOverflow, match="w5"):
            make_range_backend(name).committed_tables(lay, L)
    with pytest.raises(ValueError):
        make_range_backend("nope")


def test_table_mle_and_values():
    v, k = table_values()
    j = np.arange(TABLE_SIZE)
    assert k[0] == 17 and v[0] == 0
    assert np.all((np.int64(1) << k[1:]) + v[1:] == j[1:]) and np.all(v[1:] < (np.int64(1) << k[1:]))
    rng = np.random.default_rng(2)
    beta, pt = _rand_point(rng, 1)[0], _rand_point(rng, TABLE_LOG)
    V = Fr.from_int64(k).axpy(beta, Fr.from_int64(v))
    assert V.evaluate(pt) == table_mle(pt, beta)


def test_multiplicities_count_leaves():
    lay = RangeLayout(TINY)
    L = lay.assemble({"x": [5]})
    m = multiplicities(lay, L)
    assert m.sum() == lay.size and m[(1 << 3) + 5] == 1 and m[1] == lay.size - 1


def test_fraction_layers_root_is_the_sum():
    rng = np.random.default_rng(3)
    p, q = Fr.random(8, rng=rng), Fr.random(8, rng=rng)
    layers = fraction_layers(p, q)
    assert [len(x[0]) for x in layers] == [1, 2, 4, 8]
    p0, q0 = layers[0][0][0], layers[0][1][0]
    expect = sum(a * pow(b, -1, R) for a, b in zip(p.to_ints(), q.to_ints())) % R
    assert p0 * pow(q0, -1, R) % R == expect


# =============================================================================================== honest


@pytest.mark.parametrize("name", ["lookup", "bits"])
@pytest.mark.parametrize(
    "segs", [TINY, WIDTHS, pytest.param(BIG, marks=pytest.mark.slow)], ids=["tiny", "widths", "n18"]
)
def test_honest_accept_and_true_claims(name, segs):
    lay = RangeLayout(segs)
    L = _honest_L(lay, seed=len(segs))
    be = make_range_backend(name)
    tables = be.committed_tables(lay, L)  # strict: honest values pass
    assert set(tables) == set(be.committed_log_sizes(lay))
    assert all(
        np.asarray(t).size == 1 << s
        for (n, t), s in zip(sorted(tables.items()), [be.committed_log_sizes(lay)[n] for n in sorted(tables)])
    )
    (vclaims, vtclaims), (pclaims, ptclaims) = _roundtrip(name, lay, L, tables)
    assert vclaims == pclaims and vtclaims == ptclaims
    names = {"lookup": ["L", "m"], "bits": ["B"]}[name]
    assert [c.tensor for c in vclaims] == names
    assert all(c.tensor == names[0] for c in vtclaims)
    for c in vclaims + vtclaims:  # true evaluations of the prover's tables
        assert Fr.from_int64(np.asarray(tables[c.tensor]).astype(np.int64)).evaluate(c.point) == c.value
    if name == "lookup":
        assert vtclaims[0].tensor == "L" and len(vclaims[1].point) == TABLE_LOG


# =============================================================================================== rejections


def _bad_entries(lay):
    """(description, segment, value) of single out-of-range entries."""
    return [
        ("2^bits", "w5", 32),
        ("minus one", "w5", -1),
        ("minus one, 16 bits", "w16", -1),
        ("2^16 in 1-bit (carry into the tag)", "w1", 1 << 16),
        ("in range of a wider segment", "w1", 3),
        ("nonzero in 0-bit", "w0", 1),
        ("2^16 in 16-bit", "w16", 1 << 16),
    ]


CASES = [c[0] for c in _bad_entries(None)]


@pytest.mark.parametrize("name", ["lookup", "bits"])
@pytest.mark.parametrize("case", CASES)
def test_one_entry_out_of_range_rejected(name, case):
    lay = RangeLayout(WIDTHS)
    _, seg, value = next(c for c in _bad_entries(lay) if c[0] == case)
    L = _honest_L(lay)
    L[lay.slice(seg).start + 3] = value
    with pytest.raises(REJECT):
        _roundtrip(name, lay, L)


def test_nonzero_tail_rejected():
    lay = RangeLayout(WIDTHS)
    L = _honest_L(lay)
    L[-1] = 1
    for name in ("lookup", "bits"):
        with pytest.raises(REJECT):
            _roundtrip(name, lay, L)


@pytest.mark.parametrize(
    "seg, value, as_k, as_v",
    [
        ("w1", 3, 5, 3),  # count a 1-bit entry of 3 as the 5-bit pair (5, 3)
        ("w1", 1 << 16, 2, 0),  # with tag·2^16 encoding, 2^16 + 1·2^16 = (2, 0)·2^16: β stops it
        ("w0", 2, 1, 0),  # 0-bit entry 2 as (1, 0): 2 + 0·β vs 0 + 1·β
    ],
)
def test_forged_multiplicities_for_out_of_range_entry_rejected(seg, value, as_k, as_v):
    lay = RangeLayout(WIDTHS)
    L = _honest_L(lay)
    L[lay.slice(seg).start] = value
    m = multiplicities(lay, L)  # does not count the bad entry
    m[(1 << as_k) + as_v] += 1  # the cheater counts it at another table entry
    assert m.sum() == lay.size
    with pytest.raises(REJECT):
        _roundtrip("lookup", lay, L, {"L": L, "m": m})


@pytest.mark.parametrize("change", ["plus-one", "move", "unused-entry"])
def test_wrong_multiplicities_rejected(change):
    lay = RangeLayout(WIDTHS)
    L = _honest_L(lay)
    m = multiplicities(lay, L)
    if change == "plus-one":
        m[(1 << 5) + 7] += 1
    elif change == "move":
        j = int(np.nonzero(m)[0][-1])
        m[j] -= 1
        m[j - 1] += 1
    else:
        m[0] += 1
        m[1] -= 1
    with pytest.raises(REJECT):
        _roundtrip("lookup", lay, L, {"L": L, "m": m})


def test_bits_nonbinary_plane_rejected():
    """B with a 2 in plane 0 of a 1-bit entry recomposes 2 (out of range): the binary check catches it."""
    lay = RangeLayout(WIDTHS)
    L = _honest_L(lay)
    i = lay.slice("w1").start
    L[i] = 2
    B = BitsBackend().committed_tables(lay, L, strict=False)["B"].astype(np.int64)
    B[16 * i : 16 * i + 16] = 0
    B[16 * i] = 2
    with pytest.raises(REJECT):
        _roundtrip("bits", lay, L, {"B": B})


def test_bits_forged_planes_rejected_at_opening():
    """An entry of 2^16 has no 16-bit decomposition: planes forged to recompose the claim are false on B."""
    lay = RangeLayout(WIDTHS)
    L = _honest_L(lay)
    L[lay.slice("w16").start] = 1 << 16
    be = BitsBackend()
    tables = be.committed_tables(lay, L, strict=False)
    data, _, lclaim, _ = _prove(be, lay, L, tables)
    with pytest.raises(VerificationError, match="recompose"):
        _verify(be, lay, data, tables, lclaim.value)
    # forge the planes (the last message: 16 field elements) so that they recompose the claimed value
    offs = _fr_offsets(data)[-16:]
    planes = [int.from_bytes(data[o : o + 32], "little") for o in offs]
    planes[0] = (planes[0] + lclaim.value - sum(b << k for k, b in enumerate(planes))) % R
    forged = data[: offs[0]] + b"".join(v.to_bytes(32, "little") for v in planes)
    with pytest.raises(VerificationError, match="opening of B"):
        _verify(be, lay, forged, tables, lclaim.value)


@pytest.mark.parametrize("name", ["lookup", "bits"])
def test_tampered_proof_values_rejected(name):
    lay = RangeLayout(WIDTHS)
    L = _honest_L(lay)
    be = make_range_backend(name)
    tables = be.committed_tables(lay, L)
    data, _, lclaim, _ = _prove(be, lay, L, tables)
    _verify(be, lay, data, tables, lclaim.value)
    offs = _fr_offsets(data)
    rng = np.random.default_rng(4)
    # the first and last elements (layer 1 / leaf values / planes) always, plus a random sample
    pick = sorted(set(offs[:6] + offs[-18:] + list(rng.choice(offs, size=min(30, len(offs)), replace=False))))
    for off in pick:
        with pytest.raises(REJECT):
            _verify(be, lay, _tamper(data, int(off)), tables, lclaim.value)
    with pytest.raises(ProofFormatError):
        _verify(be, lay, data[:-1], tables, lclaim.value)
    with pytest.raises(ProofFormatError):
        _verify(be, lay, data + b"\0", tables, lclaim.value)
    # a wrong L claim value from the rest of the protocol is caught
    with pytest.raises(REJECT):
        _verify(be, lay, data, tables, (lclaim.value + 1) % R)


def test_proof_sizes_and_errors_are_typed():
    lay = RangeLayout(WIDTHS)
    n = lay.n
    lk, bt = make_range_backend("lookup"), make_range_backend("bits")
    L = _honest_L(lay)
    p = _prove(lk, lay, L, lk.committed_tables(lay, L))[0]
    # two roots' layer 1, then ONE batched sumcheck per depth k (k rounds of 4 evaluations) with the finals of
    # every tree that reaches layer k + 1 (4 tables; the value tree's p = 1 leaf layer: 2); the leaf values are
    # derived, not sent
    assert len(_fr_offsets(p)) == _lookup_proof_elements([n], TABLE_LOG) == 678
    q = _prove(bt, lay, L, bt.committed_tables(lay, L))[0]
    assert len(_fr_offsets(q)) == 4 * (n + 4) + 2 + 16  # the zero check, then one claim's 16 planes
    with pytest.raises(ZkdlError):
        _verify(lk, lay, q, lk.committed_tables(lay, L), 0)
    with pytest.raises(ZkdlError):
        _verify(bt, lay, p, bt.committed_tables(lay, L), 0)


def test_forged_root_with_wrong_multiplicities_rejected_later():
    """A prover with wrong m that forges layer 1 to pass the root check is caught by the layer sumchecks."""
    lay = RangeLayout(WIDTHS)
    L = _honest_L(lay)
    m = multiplicities(lay, L)
    m[(1 << 5) + 7] += 1
    be = make_range_backend("lookup")
    tables = {"L": L, "m": m}
    data, _, lclaim, _ = _prove(be, lay, L, tables)
    offs = _fr_offsets(data)[:8]  # layer 1 of both trees is the first message
    vp_lo, vp_hi, vq_lo, vq_hi, p_lo, p_hi, q_lo, q_hi = (int.from_bytes(data[o : o + 32], "little") for o in offs)
    P_v, Q_v = (vp_lo * vq_hi + vp_hi * vq_lo) % R, vq_lo * vq_hi % R
    P_t, Q_t = (p_lo * q_hi + p_hi * q_lo) % R, q_lo * q_hi % R
    assert (P_v * Q_t + P_t * Q_v) % R != 0
    # the table root that would cancel the value root: P_t' = −P_v·Q_t/Q_v, reached through p_hi
    want = -P_v * Q_t * pow(Q_v, -1, R) % R
    forged_hi = (want - p_lo * q_hi) * pow(q_lo, -1, R) % R
    forged = data[: offs[5]] + forged_hi.to_bytes(32, "little") + data[offs[5] + 32 :]
    with pytest.raises(VerificationError, match="sumcheck"):
        _verify(be, lay, forged, tables, lclaim.value)


@pytest.mark.parametrize("segs", [WIDTHS, BIG])
def test_fused_layer_kernels_give_the_generic_proof(segs):
    """The CPU fast path of the layer sumchecks (eq-factored, fused kernels: the backend's optional
    ``FusedKernels`` capability) sends exactly the bytes of the generic sumcheck engine."""
    from zkdl.field.backend import set_default_backend
    from zkdl.field.cpu import CpuBackend

    lay = RangeLayout(segs)
    L = _honest_L(lay, seed=3)
    be = make_range_backend("lookup")
    tables = be.committed_tables(lay, L)
    fast = _prove(be, lay, L, tables)[0]
    set_default_backend(CpuBackend(fused=False))
    try:
        slow = _prove(be, lay, L, tables)[0]
    finally:
        set_default_backend(None)
    assert fast == slow


@pytest.mark.parametrize("n", [16, 1 << 13])  # the serial twin and the parallel kernel
def test_unit_layer_from_small_is_the_layer_above_the_leaves(n):
    """The value tree's layer n − 1 straight from L and the tags equals the unit fraction layer of the stored
    leaves (negative and extreme int64 values included)."""
    from zkdl.field import get_backend

    be = get_backend("cpu")
    rng = np.random.default_rng(n)
    x = rng.integers(-(2**40), 2**40, size=n, dtype=np.int64)
    x[:3] = [-(2**63), 2**63 - 1, 0]
    tag = rng.integers(0, rc.MAX_BITS + 1, size=n, dtype=np.int64)
    consts = rc._leaf_consts(123456789, 987654321)
    p, q = be.unit_layer_from_small(x, tag, consts)
    want = be.fraction_layer(None, be.leaves_from_small(x, tag, consts))
    assert np.array_equal(p, want[0]) and np.array_equal(q, want[1])
    with pytest.raises(ValueError):
        be.unit_layer_from_small(x, tag + rc.MAX_BITS + 1, consts)
    with pytest.raises(ValueError):
        be.unit_layer_from_small(x[:-1], tag[:-1], consts)


@pytest.mark.parametrize("lam", [0, 1, 12345, R - 2])
@pytest.mark.parametrize("kinds", [(4, 2, 4), (2,), (4,)])
@pytest.mark.parametrize("zero_at", [None, 0, 2])
def test_fused_layer_engine_coefficients_in_the_tables_give_the_generic_bytes(lam, kinds, zero_at):
    """The engine folds each tree's batching coefficients into its tables (A = p_lo + κ·q_lo, B = p_hi + κ·q_hi)
    or the kernel (the shift σ of a p = 1 tree) and recovers p_lo, p_hi in the finals; with a zero coefficient
    (λ = 0) it sums X and Y apart. Either way, and with s(1) summed directly at a zero coordinate of the point,
    it sends the generic engine's bytes and leaves the caller's tables alone (``own=False``)."""
    from zkdl.piop import sumcheck as sc

    rng = np.random.default_rng(len(kinds) + lam % 97)
    trees = [[Fr.random(32, rng=rng) for _ in range(k)] for k in kinds]
    before = [[t.to_ints() for t in tabs] for tabs in trees]
    coefs = rc._batch_coefficients(lam, len(kinds))
    rel = rc._batched_relation(coefs, [k == 2 for k in kinds])
    point = _rand_point(rng, 5)
    if zero_at is not None:
        point[zero_at] = 0
    flat = [t for tabs in trees for t in tabs]
    claim = sc._RoundEngine(flat, rel, point).true_claim()
    eng = rc._FusedLayerEngine(trees, coefs, point, claim, own=False)
    assert (eng.shift is None) == (lam == 0 and kinds != (4,))
    fast = sc.prove(flat, rel, Transcript("t"), eq_point=point, claim=claim, engine=eng)
    generic = sc.prove(
        flat, rel, Transcript("t"), eq_point=point, claim=claim, engine=sc._RoundEngine(flat, rel, point)
    )
    assert fast == generic
    assert [[t.to_ints() for t in tabs] for tabs in trees] == before


@pytest.mark.parametrize("n", [16, 1 << 13])  # the serial twin and the parallel kernel
def test_gkr_cross_sums_kernels(n):
    """gkr_cross_sums: Σ e·(a·d + b·c) and Σ e·(c + s)(d + s) at t = 0 and their t² coefficients, against
    Python integers."""
    from zkdl.field import get_backend
    from zkdl.field.fr import mont_to_int, scalar_limbs

    be = get_backend("cpu")
    rng = np.random.default_rng(n)
    a, b, c, d = (Fr.random(n, rng=rng) for _ in range(4))
    e = Fr.random(n // 2, rng=rng)
    s = 987654321
    A, B, C, D, E = (x.to_ints() for x in (a, b, c, d, e))
    h = n // 2
    got4 = [mont_to_int(r) for r in be.gkr_cross_sums([a.limbs, b.limbs, c.limbs, d.limbs], e.limbs, None)]
    got2 = [mont_to_int(r) for r in be.gkr_cross_sums([c.limbs, d.limbs], e.limbs, scalar_limbs(s))]
    z0 = sum(E[i] * (A[i] * D[i] + B[i] * C[i]) for i in range(h)) % R
    sl = [[(x[i + h] - x[i]) for i in range(h)] for x in (A, B, C, D)]
    zi = sum(E[i] * (sl[0][i] * sl[3][i] + sl[1][i] * sl[2][i]) for i in range(h)) % R
    assert got4 == [z0, zi]
    w0 = sum(E[i] * (C[i] + s) * (D[i] + s) for i in range(h)) % R
    wi = sum(E[i] * sl[2][i] * sl[3][i] for i in range(h)) % R
    assert got2 == [w0, wi]
    with pytest.raises(ValueError):
        be.gkr_cross_sums([a.limbs, b.limbs, c.limbs], e.limbs, None)
    with pytest.raises(ValueError):
        be.gkr_cross_sums([c.limbs, d.limbs], e.limbs[:-1], scalar_limbs(s))


# =============================================================================================== several range tensors
MULTI = [("a", 9, 16), ("b", 8, 1), ("c", 8, 5), ("d", 7, 0), ("e", 3, 12), ("f", 0, 2)]


def test_pack_fills_every_tensor_but_the_last_and_keeps_segments_whole():
    """Packing powers of two sorted descending into 2^max_log tensors, then the binary decomposition of the rest,
    leaves no gap: every tensor but the last is exactly full, the last is padded to a power of two only."""
    rng = np.random.default_rng(5)
    for _ in range(30):
        segs = [(f"s{i}", int(k), int(rng.integers(0, 17))) for i, k in enumerate(rng.integers(0, 9, 40))]
        lays = RangeLayouts.pack(segs, max_log=7, min_log=2, tail_log=3)
        total = sum(1 << k for _, k, _ in segs)
        sizes = [lay.size for lay in lays.tensors.values()]
        assert lays.used == total and sum(sizes) - total < max(4, total >> 2)
        assert all(lay.used == lay.size for lay in list(lays.tensors.values())[:-1])
        assert sorted(lays.tensors) == sorted(f"L{i}" for i in range(len(lays)))
        for name, k, bits in segs:
            seg = lays.segment(name)
            assert (seg.log_size, seg.bits) == (k, bits) and seg.offset % (1 << k) == 0
            assert seg.offset + (1 << k) <= lays[lays.owner(name)].size
    big = RangeLayouts.pack([("x", 9, 1), ("y", 2, 3)], max_log=4)  # a segment larger than the cap: its own tensor
    assert [lay.n for lay in big.tensors.values()] == [9, 2]  # the rest (4 entries) is a tensor of 4


def _multi(seed=0, max_log=9):
    lays = RangeLayouts.pack(MULTI, max_log=max_log, min_log=4, tail_log=2)
    assert len(lays) >= 3
    rng = np.random.default_rng(seed)
    vals = {n: rng.integers(0, 1 << b, 1 << k) for n, k, b in MULTI}
    return lays, lays.assemble(vals)


def _prove_multi(backend, lays, Ls, tables, claim_on="L1", *, committed=None, channel=ProverChannel):
    """``committed``: the tables the transcript binds when a cheating prover proves about other ones."""
    t = Transcript("test-range")
    _commit_stub(t, tables if committed is None else committed)
    ch = channel(t)
    claims = backend.prove(lays, Ls, ch, tables=tables)
    rho = t.challenge_frs("test/L-point", lays[claim_on].n)
    lclaim = Claim(claim_on, rho, Fr.from_int64(Ls[claim_on]).evaluate(rho))
    tclaims = backend.prove_translate(lays, [lclaim], ch, L_values=Ls, tables=tables)
    return ch.writers["SUMC"].getvalue(), claims, lclaim, tclaims


def _verify_multi(backend, lays, data, tables, lclaim):
    t = Transcript("test-range")
    _commit_stub(t, tables)
    readers = {s: Reader(b"") for s in SECTIONS}
    readers["SUMC"] = Reader(data)
    ch = VerifierChannel(t, readers)
    claims = backend.verify(lays, ch)
    rho = t.challenge_frs("test/L-point", lays[lclaim.tensor].n)
    tclaims = backend.verify_translate(lays, [Claim(lclaim.tensor, rho, lclaim.value)], ch)
    readers["SUMC"].finish()
    _open(tables, claims + tclaims)
    return claims, tclaims


@pytest.mark.parametrize("name", ["lookup", "bits"])
def test_several_range_tensors_honest(name):
    """One batched LogUp (lookup: one m for all tensors) or one zero check per tensor (bits): an honest proof
    verifies and every returned claim is a true evaluation of a committed table."""
    lays, Ls = _multi()
    be = make_range_backend(name)
    tables = be.committed_tables(lays, Ls)
    assert set(tables) == set(be.committed_log_sizes(lays))
    data, pclaims, lclaim, ptclaims = _prove_multi(be, lays, Ls, tables)
    vclaims, vtclaims = _verify_multi(be, lays, data, tables, lclaim)
    assert [(c.tensor, c.point, c.value) for c in vclaims + vtclaims] == [
        (c.tensor, c.point, c.value) for c in pclaims + ptclaims
    ]
    claimed = {c.tensor for c in vclaims}
    assert claimed == set(tables)  # a claim on every range tensor (and m)


@pytest.mark.parametrize("name", ["lookup", "bits"])
def test_several_range_tensors_out_of_range_entry_in_one_tensor_rejected(name):
    """An entry of the last range tensor's 12-bit segment set to 2^12: the honest committer refuses it, and a
    cheating prover's proof (multiplicities counting only the in-range entries) is rejected."""
    lays, Ls = _multi()
    seg = lays.segment("e")
    tensor = lays.owner("e")
    assert tensor != "L0"
    Ls[tensor][seg.offset + 3] = 1 << 12
    be = make_range_backend(name)
    with pytest.raises(QuantizationOverflow, match="'e'"):
        be.committed_tables(lays, Ls)
    tables = be.committed_tables(lays, Ls, strict=False)
    data, _, lclaim, _ = _prove_multi(be, lays, Ls, tables, claim_on=tensor)
    with pytest.raises(REJECT):
        _verify_multi(be, lays, data, tables, lclaim)


def test_several_range_tensors_value_moved_between_tensors_rejected():
    """LogUp over the union: a prover whose m counts an out-of-range value of L1 against the entry of a value
    it left out of L0 (so the multiset union is unchanged in size) is still rejected."""
    lays, Ls = _multi()
    be = make_range_backend("lookup")
    m = multiplicities(lays, Ls)
    seg = lays.segment("b")  # 1-bit segment in L1 (or L0)
    t_b = lays.owner("b")
    old = int(Ls[t_b][seg.offset])
    Ls[t_b][seg.offset] = 2  # out of its 1-bit range; multiplicities(…) no longer counts it ...
    m2 = multiplicities(lays, Ls)
    assert (m - m2).sum() == 1 and m2[(1 << 1) + old] == m[(1 << 1) + old] - 1
    m2[(1 << 2) + 2] += 1  # ... a prover counts it as the 2-bit value 2 instead
    tables = {**{k: v for k, v in Ls.items()}, "m": m2}
    data, _, lclaim, _ = _prove_multi(be, lays, Ls, tables, claim_on=t_b)
    with pytest.raises(REJECT):
        _verify_multi(be, lays, data, tables, lclaim)


def test_claim_on_an_unknown_range_tensor_is_refused():
    lays, _ = _multi()
    be = make_range_backend("lookup")
    with pytest.raises(ValueError, match="range tensors"):
        be.verify_translate(lays, [Claim("L9", (1, 2), 0)], None)


def test_zero_denominator_in_a_later_value_tree_rejected_by_the_nonzero_check():
    """Several range tensors: layer 1 of the *second* value tree forged to p_lo = q_lo = 0. The summed value root
    P_v/Q_v then has Q_v = Π_k Q_k = 0 and P_v = 0, so the root equation holds whatever the other trees and the
    table say; the nonzero check on the product of the denominators rejects it (before any layer sumcheck)."""
    lays, Ls = _multi()
    be = make_range_backend("lookup")
    tables = be.committed_tables(lays, Ls)
    data, _, lclaim, _ = _prove_multi(be, lays, Ls, tables)
    offs = _fr_offsets(data)
    forged = bytearray(data)
    for i in (4, 6):  # the second value tree's p_lo, q_lo
        forged[offs[i] : offs[i] + 32] = bytes(32)
    with pytest.raises(VerificationError, match="zero denominator at the value tree's root"):
        _verify_multi(be, lays, bytes(forged), tables, lclaim)


def test_pack_refuses_absurd_totals_at_once():
    """A statement's shapes can ask for 2^60 range-checked entries: packing refuses (the training proof turns
    this into StatementMismatch, ``test_huge_statement_refused_before_any_work``) instead of looping."""
    with pytest.raises(ValueError, match="range tensors"):
        RangeLayouts.pack([(f"s{i}", 36, 1) for i in range(1 << 14)])  # 2^50 entries


# =============================================================================================== batched GKR
# One sumcheck per depth over every tree that has that depth (value trees of L0, L1 (2^9 each), L2 (2^8), the
# table tree (2^17)): attacks on what batching could let through.


def _opening_failures(tables, claims):
    return [c.tensor for c in claims if Fr.from_int64(np.asarray(tables[c.tensor])).evaluate(c.point) != c.value]


def test_batched_gkr_is_one_sumcheck_per_depth():
    """Rounds: Σ_k k over the deepest tree only (the table tree: k = 1 … 16), every tree's finals at each depth."""
    lays, Ls = _multi()
    assert [lay.n for lay in lays.tensors.values()] == [9, 9, 8]
    be = make_range_backend("lookup")
    tables = be.committed_tables(lays, Ls)
    data = _prove_multi(be, lays, Ls, tables)[0]
    # layer 1 of 4 trees; 16 depths of k rounds (4 evaluations each); finals: the table tree 4 per depth, L0 and L1
    # 4 per depth then 2 (their leaf halves) at depth 8, L2 likewise at depth 7
    finals = 16 * 4 + 2 * (7 * 4 + 2) + (6 * 4 + 2)
    assert len(_fr_offsets(data)) == _lookup_proof_elements([9, 9, 8]) == 16 + 4 * sum(range(17)) + finals


def test_batched_gkr_smallest_tree_of_other_values_rejected_at_its_opening():
    """The committed L2 (the smallest tensor, whose tree ends first, at depth 8) holds 2^12 in a 12-bit segment;
    the prover runs every tree honestly but the smallest from an in-range L2' (and m counting L2'). The batched
    GKR accepts (it proves the trees the prover used); the smallest tree's leaf claim, produced at depth 8's point
    while the other trees go on, is a claim on L2' and its opening against the committed L2 fails — only that one."""
    lays, Ls = _multi()
    seg = lays.segment("e")
    assert lays.owner("e") == "L2" and lays["L2"].n == min(lay.n for lay in lays.tensors.values())
    bad = {k: v.copy() for k, v in Ls.items()}
    bad["L2"][seg.offset + 3] = 1 << 12
    be = make_range_backend("lookup")
    fake = be.committed_tables(lays, Ls)  # what the prover proves about: in range, with its m
    committed = {**bad, "m": fake["m"]}
    data, _, lclaim, _ = _prove_multi(be, lays, Ls, fake, claim_on="L1", committed=committed)
    t = Transcript("test-range")
    _commit_stub(t, committed)
    readers = {s: Reader(b"") for s in SECTIONS}
    readers["SUMC"] = Reader(data)
    claims = be.verify(lays, VerifierChannel(t, readers))  # the GKR part accepts
    assert [len(c.point) for c in claims] == [9, 9, 8, TABLE_LOG]
    assert _opening_failures(committed, claims) == ["L2"]
    with pytest.raises(VerificationError, match="opening of L2 fails"):
        _verify_multi(be, lays, data, committed, lclaim)


class _ForgingChannel(ProverChannel):
    """A cheating prover's channel: ``forge_layer1(values)`` rewrites the layer-1 message; ``forge_finals(depth,
    engine, finals)`` the finals of the batched sumcheck of one depth (before they are absorbed)."""

    forge_layer1 = None
    forge_finals = None

    def values(self, label, values, section="SUMC"):
        if label == "range/layer1" and self.forge_layer1 is not None:
            values = self.forge_layer1([int(v) for v in values])
        return super().values(label, values, section)

    def sumcheck(self, tables, relation, claim, *, n_public=0, eq_point=None, engine=None):
        forge = self.forge_finals
        if forge is not None and isinstance(engine, rc._FusedLayerEngine):
            depth, honest = len(eq_point), engine.finals
            engine.finals = lambda: forge(depth, engine, list(honest()))
        return super().sumcheck(tables, relation, claim, n_public=n_public, eq_point=eq_point, engine=engine)


def _root(quad):
    p_lo, p_hi, q_lo, q_hi = quad
    return (p_lo * q_hi + p_hi * q_lo) % R, q_lo * q_hi % R


def test_batched_gkr_wrong_root_compensated_in_another_trees_root_rejected_at_depth_1():
    """m counts one entry too many, so the honest roots do not sum to zero. The prover moves x between the p_lo of
    L0's and L1's layer 1 (sum over the trees kept) with x chosen so that the roots then sum to zero: the root
    check holds, and a combination blind to which tree a claim belongs to (equal weights per tree) would accept
    (every later message is honest). The depth-1 sumcheck's λ^(2j) weights reject it."""
    lays, Ls = _multi()
    be = make_range_backend("lookup")
    tables = be.committed_tables(lays, Ls)
    tables["m"][(1 << 5) + 7] += 1

    def forge(v):
        quads = [v[i : i + 4] for i in range(0, len(v), 4)]
        fracs = [P * pow(Q, -1, R) for P, Q in map(_root, quads)]
        S = sum(fracs) % R
        assert S != 0  # the honest roots expose the wrong m
        (_, _, _, qh0), (_, _, _, qh1) = quads[0], quads[1]
        Q0, Q1 = _root(quads[0])[1], _root(quads[1])[1]
        x = -S * pow((qh0 * pow(Q0, -1, R) - qh1 * pow(Q1, -1, R)) % R, -1, R) % R
        v[0], v[4] = (v[0] + x) % R, (v[4] - x) % R
        assert sum(P * pow(Q, -1, R) for P, Q in map(_root, [v[i : i + 4] for i in range(0, len(v), 4)])) % R == 0
        return v

    channel = type("C", (_ForgingChannel,), {"forge_layer1": staticmethod(forge)})
    data, _, lclaim, _ = _prove_multi(be, lays, Ls, tables, channel=channel)
    with pytest.raises(VerificationError, match="range check GKR depth 1: sumcheck"):
        _verify_multi(be, lays, data, tables, lclaim)


@pytest.mark.parametrize(
    "depth, expect",
    [(3, "range check GKR depth 4: sumcheck"), (8, "opening of L0 fails")],
    ids=["trees-going-on", "trees-ending-there"],
)
def test_batched_gkr_claim_moved_between_trees_rejected(depth, expect):
    """At one depth the prover moves value between the finals of L0's and L1's trees, keeping that depth's
    λ-weighted final check. Trees going on (depth 3): x from L1's p_lo to L0's and y from L1's p_hi to L0's, so the
    sum over the two trees of every final is kept (a combination with equal weights per tree at the next depth
    would accept); the next depth's sumcheck (fresh λ^(2j) weights) rejects. Trees ending there (depth 8, their
    leaf halves): their leaf claims are false, the openings reject (the GKR part accepts)."""
    lays, Ls = _multi()
    be = make_range_backend("lookup")
    tables = be.committed_tables(lays, Ls)
    moved = []

    def forge(k, engine, f):
        if k != depth:
            return tuple(f)
        (a0, b0), (a1, b1) = engine.coefs[:2]
        delta = 777
        if len(engine.cur[0]) == 2:  # the leaf halves (q_lo, q_hi) of p = 1 trees: X = q_lo + q_hi
            f[0] = (f[0] + delta) % R
            f[2] = (f[2] - delta * (a0 + b0 * f[1]) * pow(a1 + b1 * f[3], -1, R)) % R
        else:  # (p_lo, p_hi, q_lo, q_hi): X = p_lo·q_hi + p_hi·q_lo; keep a0·ΔX_0 + a1·ΔX_1 = 0 with ΔX_1 = −ΔX_0
            y = delta * (a1 * f[7] - a0 * f[3]) * pow((a0 * f[2] - a1 * f[6]) % R, -1, R) % R
            f[0], f[4] = (f[0] + delta) % R, (f[4] - delta) % R
            f[1], f[5] = (f[1] + y) % R, (f[5] - y) % R
        moved.append(k)
        return tuple(f)

    channel = type("C", (_ForgingChannel,), {"forge_finals": staticmethod(forge)})
    data, _, lclaim, _ = _prove_multi(be, lays, Ls, tables, channel=channel)
    assert moved == [depth]
    with pytest.raises(VerificationError, match=expect):
        _verify_multi(be, lays, data, tables, lclaim)
    if depth == 8:  # the GKR part accepts; the leaf claims of both trees are false
        t = Transcript("test-range")
        _commit_stub(t, tables)
        readers = {s: Reader(b"") for s in SECTIONS}
        readers["SUMC"] = Reader(data)
        claims = be.verify(lays, VerifierChannel(t, readers))
        assert _opening_failures(tables, claims) == ["L0", "L1"]


def test_batched_gkr_zero_knowledge_round_trip_with_several_range_tensors():
    """Zero-knowledge channels: trees ending at different depths (the p = 1 leaf layers of L2 at depth 7, of L0
    and L1 at depth 8, beside the table tree's 4-table layers) in one batched sumcheck per depth; the returned
    committed claims are true evaluations of the committed tables."""
    import random

    from zkdl.commit.generators import PublicParams
    from zkdl.protocol.zk_channel import ZkProverChannel, ZkVerifierChannel

    pp = PublicParams.ephemeral(2048)  # the masks' slots (chunks of 2048) and the product batches (≤ 256)
    lays, Ls = _multi()
    be = make_range_backend("lookup")
    tables = be.committed_tables(lays, Ls)
    t = Transcript("test-range-zk")
    _commit_stub(t, tables)
    pch = ZkProverChannel(t, pp, rng=random.Random(5))
    pclaims = be.prove(lays, Ls, pch, tables=tables)
    pch.finish()
    assert _opening_failures(tables, [Claim(c.tensor, c.point, c.value.value) for c in pclaims]) == []
    t2 = Transcript("test-range-zk")
    _commit_stub(t2, tables)
    readers = {s: Reader(pch.writers[s].getvalue()) for s in SECTIONS}
    vch = ZkVerifierChannel(t2, readers, pp)
    vclaims = be.verify(lays, vch)
    vch.finish()
    assert [c.point for c in vclaims] == [c.point for c in pclaims]
    assert [c.value.commitment(pp) for c in pclaims] == [c.value.commitment(pp) for c in vclaims]


def test_batched_fused_layer_engine_gives_the_generic_proof_with_several_trees():
    """Several range tensors (trees of three depths, p = 1 leaf layers beside 4-table layers at one depth): the
    batched fused engine sends the generic engine's bytes; and at a point with a zero coordinate (s(1) cannot
    come from the running claim) its direct sum over the upper halves does too."""
    from zkdl.field.backend import set_default_backend
    from zkdl.field.cpu import CpuBackend

    lays, Ls = _multi(seed=2)
    be = make_range_backend("lookup")
    tables = be.committed_tables(lays, Ls)
    fast = _prove_multi(be, lays, Ls, tables)[0]
    rng = np.random.default_rng(8)
    trees = [[Fr.random(16, rng=rng) for _ in range(k)] for k in (4, 2, 4)]
    coefs = rc._batch_coefficients(12345, 3)
    rel = rc._batched_relation(coefs, [False, True, False])
    point = [0, *_rand_point(rng, 3)]
    flat = [t for tabs in trees for t in tabs]
    from zkdl.piop import sumcheck as sc

    claim = sc._RoundEngine(flat, rel, point).true_claim()
    eng = rc._FusedLayerEngine(trees, coefs, point, claim, own=False)
    direct = sc.prove(flat, rel, Transcript("t"), eq_point=point, claim=claim, engine=eng)
    generic = sc.prove(
        flat, rel, Transcript("t"), eq_point=point, claim=claim, engine=sc._RoundEngine(flat, rel, point)
    )
    set_default_backend(CpuBackend(fused=False))
    try:
        slow = _prove_multi(be, lays, Ls, tables)[0]
    finally:
        set_default_backend(None)
    assert fast == slow
    assert direct == generic
