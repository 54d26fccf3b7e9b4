"""The verifier touches each group element once: every group equation of a zero-knowledge proof is checked in one
final random-linear-combination MSM (``zkdl.commit.batch.MsmBatch``) and the points' subgroup checks run in
helper processes (``zkdl.serialize.subgroup.SubgroupChecks``). Attacks: one tampered product proof, opening or
point is still rejected, by the check that names it; a point outside the prime-order subgroup is rejected by the
decoder's subgroup check (``ProofFormatError`` at its offset), whatever the equations say."""

from __future__ import annotations

import numpy as np
import pytest
from py_arkworks_bls12381 import G1Point, Scalar
from training_instances import make_instance

from zkdl.commit import batch as batch_mod
from zkdl.commit import sigma
from zkdl.commit.batch import MsmBatch
from zkdl.commit.generators import PublicParams
from zkdl.errors import ProofFormatError, VerificationError
from zkdl.field import MODULUS as R
from zkdl.field import Fr
from zkdl.protocol import training
from zkdl.serialize import Reader, SubgroupChecks, Writer, section_sizes
from zkdl.serialize import subgroup as sg
from zkdl.serialize.container import parse_header


@pytest.fixture(scope="module")
def pp() -> PublicParams:
    return PublicParams.ephemeral(4096)


def _off_subgroup_point_bytes() -> bytes:
    """A canonical compressed encoding of a curve point outside the prime-order subgroup."""
    for x in range(1, 1000):
        b = bytes([0x80]) + x.to_bytes(47, "big")
        try:
            G1Point.from_compressed_bytes_unchecked(b)
        except BaseException:
            continue
        try:
            G1Point.from_compressed_bytes(b)
        except BaseException:
            return b
    raise AssertionError("no point off the subgroup found")


# ------------------------------------------------------------------------------------------ MsmBatch
def test_batch_accepts_true_equations_and_names_the_one_false_equation(pp):
    g, h = pp.g_v, pp.h
    p = g * Scalar(5)
    b = MsmBatch(pp)
    for i in range(20):
        b.add(f"equation {i}", [p, g], [1, -5])  # 5·g − 5·g = O
    b.add("the vector one", [p], [-1], gens=Fr.from_ints([0, 0]), rows=[g], row_coeffs=Fr.from_ints([5]))
    b.verify()
    bad = MsmBatch(pp)
    for i in range(20):
        bad.add(f"equation {i}", [p, g, h], [1, -5, 1 if i == 13 else 0])
    with pytest.raises(VerificationError, match="^equation 13$"):
        bad.verify()


def test_batch_rejects_with_the_single_msm_even_without_the_diagnosis(pp, monkeypatch):
    monkeypatch.setattr(MsmBatch, "diagnose", lambda self: None)
    b = MsmBatch(pp)
    b.add("true", [pp.g_v], [0])
    b.add("false", [pp.g_v, pp.h], [1, 1])
    with pytest.raises(VerificationError, match="batched check of 2 group equations failed"):
        b.verify()


def test_batch_merges_points_so_each_enters_the_msm_once(pp):
    b = MsmBatch(pp)
    g, h = pp.g_v, pp.h
    for _ in range(10):
        b.add("x", [g, h], [3, -3])
    b.add("v", [g], [1], gens=Fr.from_ints([1, 2, 3, 4]))
    b.add("w", [h], [1], gens=Fr.from_ints([1, 2]))
    pts, _ = b.combined_terms()
    assert len(pts) == 2 + 4  # g_v, h, g_0..g_3


def test_batch_is_used_once(pp):
    b = MsmBatch(pp)
    b.add("true", [pp.g_v], [0])
    b.verify()
    with pytest.raises(RuntimeError):
        b.verify()
    with pytest.raises(RuntimeError):
        b.add("late", [pp.g_v], [0])


# ------------------------------------------------------------------------------------------ subgroup checks
@pytest.mark.parametrize("helpers", [0, 1])
def test_subgroup_checks_name_the_first_point_off_the_subgroup(helpers):
    g = G1Point()
    good = [g * Scalar(i + 2) for i in range(40)]
    bad = G1Point.from_compressed_bytes_unchecked(_off_subgroup_point_bytes())
    with SubgroupChecks(helpers=helpers, chunk=8) as ok:
        for i, p in enumerate(good):
            ok.add(p, lambda i=i: ProofFormatError(f"point {i}"))
        ok.finish()
    pts = good[:21] + [bad] + good[21:] + [bad]
    with SubgroupChecks(helpers=helpers, chunk=8) as chk:
        for i, p in enumerate(pts):
            chk.add(p, lambda i=i: ProofFormatError(f"point {i}"))
        with pytest.raises(ProofFormatError, match="^point 21$"):
            chk.finish()


def test_reader_with_deferred_checks_decodes_without_the_subgroup_check(monkeypatch):
    """The reader's own work is the square root only; the subgroup test runs in SubgroupChecks."""
    blob = b"".join(bytes((G1Point() * Scalar(i + 3)).to_compressed_bytes()) for i in range(5))
    calls = []
    real = sg.in_subgroup
    monkeypatch.setattr(sg, "in_subgroup", lambda xy: calls.append(1) or real(xy))
    with SubgroupChecks(helpers=0) as chk:
        pts = [Reader(blob, subgroup=chk).read_g1(allow_identity=False) for _ in range(1)]
        r = Reader(blob, subgroup=chk)
        pts = [r.read_g1(allow_identity=False) for _ in range(5)]
        assert calls == []  # nothing checked yet: deferred
        chk.finish()
    assert len(calls) == 6
    assert [bytes(p.to_compressed_bytes()) for p in pts] == [blob[i * 48 : (i + 1) * 48] for i in range(5)]


def test_reader_with_deferred_checks_rejects_off_curve_at_once():
    with SubgroupChecks(helpers=0) as chk:
        b = bytes([0x80]) + (3).to_bytes(47, "big")  # x = 3: no point on the curve
        with pytest.raises(ProofFormatError, match="not on the curve"):
            Reader(b, subgroup=chk).read_g1(allow_identity=False)


# ------------------------------------------------------------------------------------------ full proofs
@pytest.fixture(scope="module")
def instance(pp):
    st, run, X, Y, opens = make_instance(pp, [5, 4, 3], 3, 2, 7, seed=3, commit_rng=np.random.default_rng(5))
    proof, _ = training.prove(pp, st, run, X, Y, opens, zk=True, rng=np.random.default_rng(7))
    return st, run, X, Y, opens, proof


def _open_section(proof: bytes) -> tuple[int, int]:
    """(start, end) byte offsets of the OPEN section's payload."""
    info = next(s for s in parse_header(proof).sections if s.tag == "OPEN")
    return info.offset, info.offset + info.length


def test_honest_proof_verifies_with_one_final_msm(pp, instance, monkeypatch):
    """Every product proof, opening and the zero proof: one final MSM (in parts, each term in exactly one), and no
    other multi-scalar multiplication on the verifier's side."""
    st, *_, proof = instance
    calls: list[int] = []
    terms: list[int] = []
    real_msm, real_exp = batch_mod.msm, batch_mod._multiexp
    real_final = MsmBatch._final_msm

    def final(self):
        terms.append(len(self.combined_terms()[0]))
        calls.clear()
        return real_final(self)

    monkeypatch.setattr(batch_mod, "msm", lambda pts, sc, **kw: calls.append(len(pts)) or real_msm(pts, sc, **kw))
    monkeypatch.setattr(batch_mod, "_multiexp", lambda pts, sc: calls.append(len(pts)) or real_exp(pts, sc))
    real_async = batch_mod.msm_async
    monkeypatch.setattr(batch_mod, "msm_async", lambda pts, sc: calls.append(len(pts)) or real_async(pts, sc))
    monkeypatch.setattr(MsmBatch, "_final_msm", final)
    monkeypatch.setattr(sigma, "msm", lambda *a, **kw: pytest.fail("an MSM outside the final batch"))
    training.verify(pp, st, proof)
    assert len(terms) == 1 and sum(calls) == terms[0]


def test_final_msm_in_parts_equals_one_msm_over_every_term(pp):
    """The parts (generators on the pool, decoded points here, pending rows once the helpers decoded them) sum to
    the one MSM over :meth:`MsmBatch.combined_terms`: checked on false equations, whose sum is not the identity."""
    rng = np.random.default_rng(9)
    pts = [pp.gens(64)[i] * Scalar(int(rng.integers(1, 2**62))) for i in range(40)]
    with SubgroupChecks(helpers=1, chunk=4) as chk:
        pending = chk.decode_later([bytes(p.to_compressed_bytes()) for p in pts[20:30]], [ProofFormatError] * 10)
        b = MsmBatch(pp)
        b.add("points", pts[:20], [int(v) for v in rng.integers(1, 2**62, 20)])
        b.add("gens", [pts[30]], [5], gens=Fr.from_ints([int(v) for v in rng.integers(0, 2**62, 3000)]))
        b.add("rows", [], [], rows=pending, row_coeffs=Fr.from_ints(list(range(3, 13))), row_scale=7)
        b.add("rows2", [pts[31]], [1], rows=tuple(pts[32:40]), row_coeffs=Fr.from_ints(list(range(8))))
        whole = batch_mod.msm(*b.combined_terms())
        assert whole != G1Point.identity()
        assert b._final_msm() == whole
        chk.finish()


def test_verifier_never_materializes_a_derived_commitment(pp, instance, monkeypatch):
    """Claims of the ZK sumchecks and the zero check's W are derived from points and challenges the transcript
    already holds: they are neither absorbed nor computed as points (docs/transcript.md, rule 5); every group
    operation on them happens inside the final MSM."""
    st, *_, proof = instance
    made = []
    real = sigma.VScalar.commitment
    monkeypatch.setattr(sigma.VScalar, "commitment", lambda self, params: made.append(self) or real(self, params))
    training.verify(pp, st, proof)
    assert made == []


def test_one_tampered_product_proof_is_rejected(pp, instance, monkeypatch):
    """The last response τ̂ of the batched proof of product + 1: every product of the proof is proven there, so one
    changed response fails the product equation."""
    st, *_, proof = instance
    start, _ = _open_section(proof)
    zero_off, zero = _zero_proof(pp, st, proof, monkeypatch)
    (pb,) = zero.products
    w = Writer()
    pb.write(w)
    off = start + zero_off + len(w) - 32
    tau = (int.from_bytes(proof[off : off + 32], "little") + 1) % R
    assert tau - 1 == pb.blinds[-1] % R or tau == 0
    forged = proof[:off] + tau.to_bytes(32, "little") + proof[off + 32 :]
    with pytest.raises(VerificationError, match="^proof of product failed$"):
        training.verify(pp, st, forged)
    monkeypatch.setattr(MsmBatch, "diagnose", lambda self: None)  # the single MSM alone rejects it too
    with pytest.raises(VerificationError, match="batched check of .* group equations failed"):
        training.verify(pp, st, forged)


def _zero_proof(pp, st, proof, monkeypatch):
    """Where, in the OPEN section, the final deferred-check proof (product batches, mask batches, Schnorr)
    starts, and that proof as the verifier parsed it."""
    seen = []
    real = sigma.ZeroProof.read.__func__

    def read(cls, r, *args):
        off = r.offset
        out = real(cls, r, *args)
        seen.append((off, out))
        return out

    monkeypatch.setattr(sigma.ZeroProof, "read", classmethod(read))
    training.verify(pp, st, proof)
    monkeypatch.undo()
    (found,) = seen
    return found


def test_one_tampered_opening_is_rejected(pp, instance, monkeypatch):
    """The final scalar z* of the last opening's inner-product argument + 1 (the 32 bytes before the final
    deferred-check proof), then the last R_j of that opening replaced by another subgroup point."""
    st, *_, proof = instance
    start, _ = _open_section(proof)
    off = start + _zero_proof(pp, st, proof, monkeypatch)[0] - 32
    zf = (int.from_bytes(proof[off : off + 32], "little") + 1) % R
    forged = proof[:off] + zf.to_bytes(32, "little") + proof[off + 32 :]
    with pytest.raises(VerificationError, match="^ZK evaluation proof: inner-product argument check failed$"):
        training.verify(pp, st, forged)
    off -= 48  # R_{b-1}
    r_last = G1Point.from_compressed_bytes(proof[off : off + 48])
    forged = proof[:off] + (r_last + pp.h).to_compressed_bytes() + proof[off + 48 :]
    with pytest.raises(VerificationError, match="^ZK evaluation proof: inner-product argument check failed$"):
        training.verify(pp, st, forged)


def test_one_tampered_point_is_rejected(pp, instance):
    """The Schnorr commitment A of the zero proof replaced by A + g_v (a valid subgroup point)."""
    st, *_, proof = instance
    _, end = _open_section(proof)
    off = end - 80
    a = G1Point.from_compressed_bytes(proof[off : off + 48]) + pp.g_v
    forged = proof[:off] + bytes(a.to_compressed_bytes()) + proof[off + 48 :]
    with pytest.raises(VerificationError, match="zero checks failed"):
        training.verify(pp, st, forged)


@pytest.mark.parametrize("helpers", [0, 1])
def test_point_off_the_subgroup_is_rejected_at_decode(pp, instance, monkeypatch, helpers):
    """Whatever the equations say, a point outside the subgroup is reported by the decoder's check."""
    st, *_, proof = instance
    monkeypatch.setattr(sg, "CHUNK", 16)  # many chunks: the helper processes do the checks
    monkeypatch.setattr(sg, "default_helpers", lambda: helpers)
    training.verify(pp, st, proof)  # the honest proof passes this way too
    start, end = _open_section(proof)
    off = end - 80
    forged = proof[:off] + _off_subgroup_point_bytes() + proof[off + 48 :]
    with pytest.raises(ProofFormatError, match=f"section 'OPEN' at offset {off - start} .*not in the prime-order"):
        training.verify(pp, st, forged)
    assert section_sizes(forged) == section_sizes(proof)


# ------------------------------------------------------------------------------------------ statement points
def _with_row_replaced(d: dict, name: str, point: bytes) -> dict:
    """The statement ``d`` with the first row commitment of ``name`` replaced by the 48 bytes ``point``."""
    raw = bytes.fromhex(d["commitments"][name])
    row = 8 + 1 + 1 + 8  # n_entries, log_rows, log_cols, row count: then the rows
    return {**d, "commitments": {**d["commitments"], name: (raw[:row] + point + raw[row + 48 :]).hex()}}


@pytest.mark.parametrize("helpers", [0, 1])
def test_statement_points_are_subgroup_checked_with_the_proofs(pp, instance, monkeypatch, helpers):
    """``api.verify`` decodes the statement's points without the subgroup test (the checked decoder is never
    called) and checks them with the proof's points; a statement row outside the subgroup still raises
    ``StatementFormatError`` naming it, whether the proof is rejected inside the verifier or before it."""
    from zkdl import api
    from zkdl.errors import StatementFormatError
    from zkdl.serialize import container

    st, *_, proof = instance
    monkeypatch.setattr(sg, "CHUNK", 4)  # several chunks: the helper processes do the checks
    monkeypatch.setattr(sg, "default_helpers", lambda: helpers)
    checked = []
    real_decode, real_test = container.g1_from_bytes, sg.in_subgroup
    monkeypatch.setattr(container, "g1_from_bytes", lambda b, **kw: checked.append(1) or real_decode(b, **kw))
    tested = []
    monkeypatch.setattr(sg, "in_subgroup", lambda xy: tested.append(1) or real_test(xy))
    d = st.to_dict()
    res = api.verify(proof, d, params=pp)
    assert res.valid, res.reason
    assert checked == []  # no point of the statement or the proof went through the checked decoder
    n_rows = sum(len(c.rows) for c in st.commitments.values())
    if helpers == 0:  # every statement row and proof point went through the deferred test in this process
        assert len(tested) >= n_rows
    name = sorted(d["commitments"])[1]
    forged = _with_row_replaced(d, name, _off_subgroup_point_bytes())
    msg = "malformed statement: a commitment does not decode: commitment at offset 18 .*not in the prime-order"
    with pytest.raises(StatementFormatError, match=msg):
        api.verify(proof, forged, params=pp)  # rejected inside the verifier (the statement digest differs)
    with pytest.raises(StatementFormatError, match=msg):
        api.verify(proof, {**forged, "generators_digest": "0" * 64}, params=pp)  # rejected before the verifier
    with pytest.raises(StatementFormatError, match=msg):
        api.verify(proof[:-1], forged, params=pp)  # a malformed proof too
    # a proof point outside the subgroup (honest statement): a verdict, not a raised statement error
    start, end = _open_section(proof)
    bad_proof = proof[: end - 80] + _off_subgroup_point_bytes() + proof[end - 80 + 48 :]
    res = api.verify(bad_proof, d, params=pp)
    assert not res.valid and res.error_type == "ProofFormatError" and "not in the prime-order" in res.reason
    # a valid subgroup point in its place: an ordinary rejection (the proof was made for another statement)
    other = _with_row_replaced(d, name, bytes((G1Point() * Scalar(7)).to_compressed_bytes()))
    res = api.verify(proof, other, params=pp)
    assert not res.valid and res.error_type == "StatementMismatch"


def test_statement_parsed_with_deferred_checks_is_rejected_only_at_finish():
    """``Statement.from_json(..., subgroup=)`` accepts an off-subgroup point at parse time (it is on the curve)
    and the collector's ``finish`` rejects it as a malformed statement; without a collector the parse rejects it."""
    from zkdl.errors import StatementFormatError
    from zkdl.protocol.statement import Statement

    tiny = PublicParams.ephemeral(64)
    st, *_ = make_instance(tiny, [2, 2], 1, 1, 2, seed=1, commit_rng=np.random.default_rng(1))
    d = st.to_dict()
    forged = _with_row_replaced(d, sorted(d["commitments"])[0], _off_subgroup_point_bytes())
    with pytest.raises(StatementFormatError, match="not in the prime-order subgroup"):
        Statement.from_dict(forged)
    with SubgroupChecks(helpers=0) as chk:
        Statement.from_dict(forged, subgroup=chk)
        with pytest.raises(StatementFormatError, match="not in the prime-order subgroup"):
            chk.finish()
    with SubgroupChecks(helpers=0) as chk:
        Statement.from_dict(d, subgroup=chk)
        assert chk.points == sum(len(c.rows) for c in st.commitments.values())
        chk.finish()
    off_curve = _with_row_replaced(d, sorted(d["commitments"])[0], _off_curve_point_bytes())
    with pytest.raises(StatementFormatError, match="not on the curve"):
        Statement.from_dict(off_curve)
    with SubgroupChecks(helpers=1, chunk=1) as chk:
        Statement.from_dict(off_curve, subgroup=chk)
        with pytest.raises(StatementFormatError, match="a commitment does not decode: .*not on the curve"):
            chk.finish()


def test_batch_accumulates_generator_vectors_of_any_lengths(pp, monkeypatch):
    """Generator coefficient vectors of decreasing and increasing lengths add up entry by entry, and each addition
    runs the field kernel over its own vector's length, not over the longest one met so far."""
    rng = np.random.default_rng(4)
    vecs = [[int(v) for v in rng.integers(0, 2**62, n)] for n in (64, 16, 4, 32, 128, 8)]
    weights = iter(range(3, 100))
    b = MsmBatch(pp, weight=lambda: next(weights))
    lengths = []
    real_axpy = Fr.axpy
    monkeypatch.setattr(Fr, "axpy", lambda self, s, y: lengths.append(len(self)) or real_axpy(self, s, y))
    for i, v in enumerate(vecs):
        b.add(f"v{i}", [], [], gens=Fr.from_ints(v), gens_scale=i + 1)
    expected = [0] * 128
    for i, v in enumerate(vecs):
        for j, x in enumerate(v):
            expected[j] = (expected[j] + (3 + i) * (i + 1) * x) % R
    pts, sc = b.combined_terms()
    assert len(pts) == 128
    assert b._gens is not None and b._gens.to_ints() == expected
    assert lengths == [16, 4, 32, 128, 8]


# ------------------------------------------------------------------------------------------ decoding in the helpers
def _off_curve_point_bytes() -> bytes:
    """A canonical compressed encoding (flags, x < p) whose x is not the coordinate of a curve point."""
    for x in range(1, 1000):
        b = bytes([0x80]) + x.to_bytes(47, "big")
        try:
            G1Point.from_compressed_bytes_unchecked(b)
        except BaseException:
            return b
    raise AssertionError("no x off the curve found")


@pytest.mark.parametrize("helpers", [0, 1])
def test_rows_decoded_in_the_helpers_equal_the_points_and_fail_at_their_offsets(monkeypatch, helpers):
    """``read_g1s_deferred`` leaves decompression to the collector (the reader's own decoder is not called); the
    points come back equal to the encoded ones, identities included; a point off the curve or off the subgroup is
    rejected when the points are used and by ``finish``, at its offset; a forbidden identity at once."""
    from zkdl.serialize import container
    from zkdl.serialize.container import Writer

    calls = []
    real = container.g1_from_bytes_deferred
    monkeypatch.setattr(container, "g1_from_bytes_deferred", lambda b, **kw: calls.append(1) or real(b, **kw))
    pts = [G1Point() * Scalar(i + 2) for i in range(11)] + [G1Point.identity()]
    w = Writer()
    w.write_g1s(pts)
    blob = w.getvalue()
    with SubgroupChecks(helpers=helpers, chunk=4) as chk:
        got = Reader(blob, subgroup=chk).read_g1s_deferred(allow_identity=True)
        assert len(got) == 12
        assert [bytes(p.to_compressed_bytes()) for p in got] == [bytes(p.to_compressed_bytes()) for p in pts]
        chk.finish()
    assert calls == []
    for bad, reason in ((_off_curve_point_bytes(), "not on the curve"), (_off_subgroup_point_bytes(), "subgroup")):
        forged = blob[: 8 + 5 * 48] + bad + blob[8 + 6 * 48 :]
        with SubgroupChecks(helpers=helpers, chunk=4) as chk:
            got = Reader(forged, name="rows", subgroup=chk).read_g1s_deferred(allow_identity=True)
            with pytest.raises(ProofFormatError, match=f"^rows at offset {8 + 5 * 48} .*{reason}"):
                list(got)
            with pytest.raises(ProofFormatError, match=f"^rows at offset {8 + 5 * 48} .*{reason}"):
                chk.finish()
    with SubgroupChecks(helpers=helpers) as chk:
        with pytest.raises(ProofFormatError, match="identity point not allowed"):
            Reader(blob, subgroup=chk).read_g1s_deferred(allow_identity=False)


@pytest.mark.parametrize("helpers", [0, 1])
def test_commitment_rows_of_the_proof_are_decoded_in_the_helpers(pp, instance, monkeypatch, helpers):
    """The proof's commitments (section COMM) are not decompressed on the verifier's thread; a row off the curve
    or off the subgroup is still rejected at its offset, whatever the rest of the proof."""
    st, *_, proof = instance
    monkeypatch.setattr(sg, "CHUNK", 4)
    monkeypatch.setattr(sg, "default_helpers", lambda: helpers)
    sections = []
    real = Reader.read_g1
    monkeypatch.setattr(Reader, "read_g1", lambda self, **kw: sections.append(self._where(0)) or real(self, **kw))
    training.verify(pp, st, proof)
    assert sections and not any("'COMM'" in s for s in sections)
    info = next(s for s in parse_header(proof).sections if s.tag == "COMM")
    off = 8 + 1 + 1 + 8  # the first row of the first commitment (a proof's small table is one row)
    for bad, reason in ((_off_curve_point_bytes(), "not on the curve"), (_off_subgroup_point_bytes(), "subgroup")):
        forged = proof[: info.offset + off] + bad + proof[info.offset + off + 48 :]
        with pytest.raises(ProofFormatError, match=f"section 'COMM' at offset {off} .*{reason}"):
            training.verify(pp, st, forged)


def test_helper_interpreter_starts_without_site_and_imports_arkworks():
    """The helpers (subgroup checks, the prover's fold) run ``python -I -S``: no ``site`` (its ``.pth`` files cost
    ~20 ms per start), with exactly the directory of ``py_arkworks_bls12381`` on ``sys.path``."""
    proc = sg.start_worker(
        "import sys\nfrom py_arkworks_bls12381 import G1Point\n"
        "sys.stdout.write(f'{sys.flags.no_site} {sys.flags.isolated} {G1Point.identity() == G1Point.identity()}')\n"
    )
    out, _ = proc.communicate(timeout=60)
    assert out == b"1 1 True"
