"""External review 3: a proof's own tables in ``Layout.for_proof_table`` (commit 5136a36) and the transcript rule
that a derived commitment is not absorbed (commit 6ae684a, ``docs/transcript.md`` rule 5).

Rule 5 is sound only while every point a ZK sumcheck's claim or a zero check's ``Z_i`` depends on was absorbed
before the next challenge: a point the verifier reads without absorbing can be chosen after the zero check's
``γ`` and cancels any false zero check (the negative controls below are accepted). The review found no call site
that does so; the tests here would catch one:

* every point of a claim handed to ``verify_zk`` and of every item, product and dot product of the verifier's
  ``ZeroAccumulator`` was absorbed before the next challenge, and every point and field element read from the
  proof was absorbed, over whole training and evaluation verifications (with a control that a forgotten absorb
  is detected);
* the adaptive cheaters that exploit an unabsorbed point are rejected by the final MSM, naming the zero check,
  and accepted when the point is not absorbed (on both sides);
* a claim or zero check the verifier derives, changed after the fact, is rejected by the final MSM's zero check
  (the transcript does not see it: only the zero check binds it).

Layouts: any other layout of a proof's own table (range tensors, multiplicities, the cross-entropy lookup's
multiplicities; training and evaluation) is a format error before any generator beyond the statement's need is
read, and ``generators_needed`` covers every proof table. The simulator does not know the cross-entropy loss's
proof table (a finding, not a soundness hole; fixed: the test now checks the simulation).
"""

from __future__ import annotations

import dataclasses
import functools
import random

import numpy as np
import pytest
from py_arkworks_bls12381 import G1Point
from test_review_attacks import _Forgetful, _Permissive
from training_instances import make_instance

from zkdl.commit import generators as G
from zkdl.commit.pedersen import Commitment, Layout
from zkdl.commit.sigma import PRODUCT_CHUNK, PScalar, VScalar, ZeroAccumulator
from zkdl.errors import ProofFormatError, VerificationError
from zkdl.field import MODULUS as R
from zkdl.field import Fr
from zkdl.gadgets.range_check import make_range_backend
from zkdl.piop import sumcheck as sc
from zkdl.piop import zk_sumcheck as zsc
from zkdl.protocol import evaluation, simulator, training
from zkdl.protocol.eval_witness import EvalPublic, commit_test_data
from zkdl.protocol.evaluation_statement import EvalStatement, array_sha256
from zkdl.protocol.relations import loss as loss_mod
from zkdl.protocol.statement import Statement
from zkdl.protocol.witness import range_layout
from zkdl.protocol.zk_channel import ZkProverChannel, ZkVerifierChannel
from zkdl.quant import BatchSchedule, FixedPointParams, init_model, predict_int, quantize_model, train_quantized
from zkdl.serialize import Reader, Writer
from zkdl.serialize.container import ContainerWriter
from zkdl.serialize.encoding import g1_to_bytes
from zkdl.transcript import Transcript

P = FixedPointParams()


# =========================================================================================================
# instances
# =========================================================================================================
@pytest.fixture(scope="module")
def pp():
    return G.PublicParams.ephemeral(4096)


def _fake_commitment(n: int) -> Commitment:
    """A well-formed commitment of ``n`` entries in the canonical layout (identity rows): for checks that never
    reach an opening."""
    lay = Layout.for_length(n)
    return Commitment(lay, tuple(G1Point.identity() for _ in range(lay.rows)))


def _statement(widths, B, T, n, *, backend="lookup", loss="mse", commitments=False) -> Statement:
    st = Statement(
        widths=widths,
        has_bias=[True] * (len(widths) - 1),
        params=P.to_dict(),
        batch_size=B,
        steps=T,
        n_rows=n,
        schedule_seed=None,
        range_backend=backend,
        generators_digest=G.GENERATORS_DIGEST.hex(),
        loss=loss,
    )
    if commitments:
        st = dataclasses.replace(st, commitments={k: _fake_commitment(v) for k, v in st.expected_tables().items()})
    return st


def _proof_tables(st: Statement) -> dict[str, int]:
    """log2 sizes of the tables a proof of ``st`` commits itself, in the order the verifier reads them."""
    return {
        **make_range_backend(st.range_backend).committed_log_sizes(range_layout(st)[1]),
        **loss_mod.committed_log_sizes(st),
    }


@pytest.fixture(scope="module")
def lookup_proof(pp):
    st, run, X, Y, opens = make_instance(pp, (3, 3, 2), 2, 2, 5)
    proof, _ = training.prove(pp, st, run, X, Y, opens, rng=random.Random(3))
    return st, proof


@pytest.fixture(scope="module")
def bits_proof(pp):
    st, run, X, Y, opens = make_instance(pp, (3, 3, 2), 2, 2, 5, backend="bits")
    proof, _ = training.prove(pp, st, run, X, Y, opens, rng=random.Random(4))
    return st, proof


@pytest.fixture(scope="module")
def ce_proof(pp):
    widths, B, T, n = (4, 3, 3), 3, 2, 7
    rng = np.random.default_rng(0)
    X = np.round(rng.uniform(0, 1, (n, widths[0])) * 2**P.frac_bits).astype(np.int64)
    Y = (np.eye(widths[-1])[rng.integers(0, widths[-1], n)] * 2**P.frac_bits).astype(np.int64)
    model = quantize_model(init_model(widths, seed=1), P)
    run = train_quantized(model, X, Y, P, BatchSchedule(n, B, None), T, loss="ce")
    st0 = _statement(widths, B, T, n, loss="ce")
    w = training.Witness(training.Public.of(st0), run, X, Y)
    coms, opens = training.commit_statement_tensors(pp, w)
    st = dataclasses.replace(st0, commitments=coms)
    proof, _ = training.prove(pp, st, run, X, Y, opens, rng=random.Random(5))
    return st, proof


def _test_rows(st: Statement, run, n_test: int = 5, seed: int = 5):
    """Test rows, their labels and the true count of correct predictions by the run's final model."""
    rng = np.random.default_rng(seed)
    Xt = np.round(rng.uniform(0, 1, (n_test, st.widths[0])) * 2**P.frac_bits).astype(np.int64)
    labels = rng.integers(0, st.widths[-1], n_test).astype(np.int64)
    return Xt, labels, int((np.argmax(predict_int(run.final, Xt, P), axis=1) == labels).sum())


def _eval_common(st: Statement, n_test: int, correct: int) -> dict:
    return dict(
        kind="evaluation",
        training_statement=st.digest().hex(),
        n_rows=n_test,
        correct=correct,
        range_backend=st.range_backend,
        generators_digest=st.generators_digest,
    )


@pytest.fixture(scope="module")
def eval_proof(pp):
    """An evaluation proof on public test rows: (public, proof, run, the final weights' openings)."""
    st, run, _X, _Y, opens = make_instance(pp, (3, 3, 2), 2, 2, 5)
    Xt, labels, correct = _test_rows(st, run)
    est = EvalStatement(
        inputs_sha256=array_sha256(Xt), labels_sha256=array_sha256(labels), **_eval_common(st, len(Xt), correct)
    )
    pub = EvalPublic.of(st, est, Xt, labels=labels)
    wopen = {k: v for k, v in opens.items() if k.startswith(("WT.", "bT."))}
    proof, _ = evaluation.prove(pp, pub, run.final.weights, run.final.biases, wopen, rng=random.Random(6))
    return pub, proof, run, wopen


@pytest.fixture(scope="module")
def committed_eval_proof(pp, eval_proof):
    """An evaluation proof on test rows committed in the evaluation statement (its claims open commitments that
    only the evaluation statement's bytes carry)."""
    pub0, _, run, wopen = eval_proof
    st = pub0.st
    Xt, labels, correct = _test_rows(st, run, seed=7)
    coms, opened = commit_test_data(pp, st.widths, Xt, labels)
    est = EvalStatement(
        inputs_sha256=None,
        test_data="committed",
        inputs_commitment=coms["X"].to_bytes().hex(),
        labels_commitment=coms["Y"].to_bytes().hex(),
        **_eval_common(st, len(Xt), correct),
    )
    pub = EvalPublic.of(st, est)
    data, dopen = {"X": Xt, "labels": labels}, {"TX": opened["X"], "TY": opened["Y"]}
    proof, _ = evaluation.prove(
        pp, pub, run.final.weights, run.final.biases, wopen, data=data, data_openings=dopen, rng=random.Random(8)
    )
    return pub, proof


# =========================================================================================================
# 5136a36: the layout of a proof's own tables
# =========================================================================================================
@pytest.mark.parametrize("backend", ["lookup", "bits"])
@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize(
    "shape",
    [((3, 3, 2), 2, 2, 5), ((4, 3, 3), 3, 2, 7), ((16, 8, 4), 8, 4, 64), ((64, 64, 10), 32, 16, 1000)],
    ids=["tiny", "small", "medium", "large"],
)
def test_generators_needed_covers_every_proof_table(shape, loss, backend):
    """The statement's generator need (what ``api.verify`` loads) is at least every proof table's row width, so
    a proof in the accepted layouts never reads a generator beyond the public parameters (a setup error instead
    of INVALID)."""
    widths, B, T, n = shape
    st = _statement(widths, B, T, n, backend=backend, loss=loss)
    need = training.generators_needed(st)
    tables = _proof_tables(st)
    assert tables and (loss == "mse") == ("mexp" not in tables)
    for name, k in tables.items():
        assert Layout.for_proof_table(1 << k).cols <= need, (name, k, need)


def _forged_training_proof(st: Statement, layouts: dict[str, Layout]) -> bytes:
    """A container for ``st`` whose COMM section holds the proof tables in ``layouts`` (identity rows) and whose
    other sections are empty: the verifier reads and checks the layouts before anything else."""
    head, comm = Writer(), Writer()
    head.write_raw(st.digest())
    for lay in layouts.values():
        Commitment(lay, tuple(G1Point.identity() for _ in range(lay.rows))).write(comm)
    cw = ContainerWriter(training.PROTOCOL_ID, flags=0)
    for sec, w in (("HEAD", head), ("COMM", comm), ("SUMC", Writer()), ("OPEN", Writer())):
        cw.add_section(sec, w)
    return cw.to_bytes()


def _other_layouts(k: int) -> dict[str, Layout]:
    """Layouts of a table of 2^k entries other than ``for_proof_table``: the canonical one (if it differs), one
    column variable more and one fewer, and the same shape with one entry less."""
    right = Layout.for_proof_table(1 << k)
    out = {"canonical": Layout.for_length(1 << k)}
    if right.log_cols < k:
        out["wider"] = Layout.for_length(1 << k, right.log_cols + 1)
    if right.log_cols > 0:
        out["narrower"] = Layout.for_length(1 << k, right.log_cols - 1)
    if k >= 2:
        out["fewer-entries"] = Layout((1 << k) - 1, right.log_rows, right.log_cols)
    return {kind: lay for kind, lay in out.items() if lay != right}


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_any_other_layout_of_a_proof_table_is_a_format_error(loss):
    """For every table a training proof commits itself (range tensor, m and, for cross-entropy, the exponential
    lookup's multiplicities ``mexp``, which test_layouts does not reach), every other layout is a
    ``ProofFormatError`` naming that table, with parameters holding exactly the statement's need: never a setup
    error. Control: with every table in ``for_proof_table`` the verifier passes the layouts and stops later."""
    st = _statement((4, 3, 3), 3, 2, 7, loss=loss, commitments=True)
    params = G.PublicParams.ephemeral(training.generators_needed(st))
    tables = _proof_tables(st)
    right = {name: Layout.for_proof_table(1 << k) for name, k in tables.items()}
    with pytest.raises(ProofFormatError) as ei:
        training.verify(params, st, _forged_training_proof(st, right))
    assert "layout of a proof's table" not in str(ei.value)  # past the layouts: the empty SUMC section
    tried = 0
    for name, k in tables.items():
        for _kind, lay in _other_layouts(k).items():
            with pytest.raises(ProofFormatError, match=f"commitment to {name} .*layout of a proof's table"):
                training.verify(params, st, _forged_training_proof(st, {**right, name: lay}))
            tried += 1
    assert tried >= 3 * len(tables) and (loss == "mse") == ("mexp" not in tables)


def test_evaluation_proof_table_in_another_layout_is_a_format_error(pp, eval_proof, monkeypatch):
    """An evaluation proof whose range tensor L is committed in the canonical (narrower) layout: a format error
    naming L, checked with parameters holding exactly ``eval_generators_needed`` (not a setup error)."""
    pub, honest, run, wopen = eval_proof
    k = evaluation.make_range_backend(pub.est.range_backend).committed_log_sizes(pub.layout)["L"]
    assert Layout.for_length(1 << k) != Layout.for_proof_table(1 << k)  # the cheat changes the layout
    real_commit = evaluation.commit

    def canonical_commit(params, values, **kw):
        if np.asarray(values).size == 1 << k:
            kw.pop("log_cols")
        return real_commit(params, values, **kw)

    monkeypatch.setattr(evaluation, "commit", canonical_commit)  # the prover's own code, L laid out canonically
    proof, _ = evaluation.prove(pp, pub, run.final.weights, run.final.biases, wopen, rng=random.Random(6))
    monkeypatch.undo()
    exact = G.PublicParams.ephemeral(evaluation.eval_generators_needed(pub))
    evaluation.verify(exact, pub, honest)  # control: the honest proof verifies with these parameters
    with pytest.raises(ProofFormatError, match="commitment to L is not in the layout of a proof's table"):
        evaluation.verify(exact, pub, proof)


def test_simulator_covers_the_cross_entropy_proof_table(pp):
    """Review 3's finding, fixed: the simulator lists the loss's proof tables too (mexp of the ce loss)."""
    st = _statement((4, 3, 3), 3, 2, 7, loss="ce", commitments=True)
    proof, challenges = simulator.simulate(pp, st, rng=random.Random(1))
    simulator.verify_with_challenges(pp, st, proof, challenges)


# =========================================================================================================
# 6ae684a: what rule 5 relies on, over whole verifications
# =========================================================================================================
_UNITS = {"G1 point": 48, "field element": 32, "field elements": 32}


class _Binding:
    """Watches one verification: every point of a claim handed to ``verify_zk``, of an item, product or dot
    product of the ``ZeroAccumulator`` and of a commitment opened must have been absorbed before the next
    challenge (``violations`` otherwise), and every point and field element read from the proof's COMM, SUMC
    and OPEN sections must be absorbed by the end (:meth:`unabsorbed_reads`)."""

    def __init__(self, monkeypatch, params):
        self.absorbed = bytearray()
        self.pending: list[tuple[str, bytes]] = []
        self.violations: list[str] = []
        self.reads: list[bytes] = []
        self.checked = 0
        self.claims = 0
        self.public = {g1_to_bytes(params.h), g1_to_bytes(params.g_v)}
        me = self
        record, squeeze, take = Transcript._record, Transcript._squeeze_seed, Reader._take

        def _record(t, kind, label, count, payload):
            me.absorbed += payload
            return record(t, kind, label, count, payload)

        def _squeeze(t, label, n):
            me.check(f"challenge {label!r}")
            return squeeze(t, label, n)

        def _take(r, n, what):
            mv = take(r, n, what)
            unit = _UNITS.get(what)
            name = r._name
            if unit and name.startswith("section") and "HEAD" not in name:
                b = bytes(mv)
                me.reads += [b[i : i + unit] for i in range(0, len(b), unit)]
            return mv

        monkeypatch.setattr(Transcript, "_record", _record)
        monkeypatch.setattr(Transcript, "_squeeze_seed", _squeeze)
        monkeypatch.setattr(Reader, "_take", _take)

        verify_zk = zsc.verify_zk

        def _verify_zk(params_, proof, relation, num_vars, claim, transcript, **kw):
            me.claims += 1
            me.expect("the claim of a ZK sumcheck", claim)
            return verify_zk(params_, proof, relation, num_vars, claim, transcript, **kw)

        monkeypatch.setattr(zsc, "verify_zk", _verify_zk)
        add, add_product, add_dot = ZeroAccumulator.add, ZeroAccumulator.add_product, ZeroAccumulator.add_dot

        def _add(acc, item, what=""):
            me.expect(f"zero check {what!r}", item)
            return add(acc, item, what)

        def _add_product(acc, x, y, z, what=""):
            for v in (x, y, z):
                me.expect("a deferred product", v)
            return add_product(acc, x, y, z, what)

        def _add_dot(acc, offset, weights, y, vector, blind=None):
            me.expect("a mask value Y", y)
            if isinstance(vector, G1Point):
                me.expect("a mask commitment", VScalar(vector))
            return add_dot(acc, offset, weights, y, vector, blind)

        monkeypatch.setattr(ZeroAccumulator, "add", _add)
        monkeypatch.setattr(ZeroAccumulator, "add_product", _add_product)
        monkeypatch.setattr(ZeroAccumulator, "add_dot", _add_dot)
        open_ = ZkVerifierChannel.open

        def _open(ch, params_, com, claim, what="opening"):
            enc = com.to_bytes()
            if enc not in me.absorbed and enc.hex().encode() not in me.absorbed:
                me.violations.append(f"{what}: the opened commitment was never absorbed (statement or proof)")
            me.expect(f"the value of the {what}", claim.value if isinstance(claim.value, VScalar) else VScalar())
            return open_(ch, params_, com, claim, what)

        monkeypatch.setattr(ZkVerifierChannel, "open", _open)

    def expect(self, what: str, v) -> None:
        if isinstance(v, VScalar):
            for p, _c in v.terms():
                enc = g1_to_bytes(p)
                if enc not in self.public:
                    self.pending.append((what, enc))

    def check(self, when: str) -> None:
        for what, enc in self.pending:
            self.checked += 1
            if enc not in self.absorbed:
                self.violations.append(f"{what} holds a point not absorbed before the {when}")
        self.pending.clear()

    def unabsorbed_reads(self) -> int:
        return sum(1 for b in self.reads if b not in self.absorbed)


def _watched(monkeypatch, params, verify):
    b = _Binding(monkeypatch, params)
    verify()
    b.check("end of verification")
    monkeypatch.undo()
    return b


def _assert_bound(b: _Binding) -> None:
    assert b.violations == []
    assert b.unabsorbed_reads() == 0
    assert b.claims >= 10 and b.checked >= 10 * b.claims and len(b.reads) >= 100  # not vacuous


def test_lookup_training_verifier_binds_every_point_before_the_next_challenge(pp, lookup_proof, monkeypatch):
    st, proof = lookup_proof
    _assert_bound(_watched(monkeypatch, pp, lambda: training.verify(pp, st, proof)))


def test_bits_training_verifier_binds_every_point_before_the_next_challenge(pp, bits_proof, monkeypatch):
    st, proof = bits_proof
    _assert_bound(_watched(monkeypatch, pp, lambda: training.verify(pp, st, proof)))


def test_evaluation_verifier_binds_every_point_before_the_next_challenge(pp, eval_proof, monkeypatch):
    pub, proof, *_ = eval_proof
    _assert_bound(_watched(monkeypatch, pp, lambda: evaluation.verify(pp, pub, proof)))


def test_committed_data_evaluation_verifier_binds_every_point_and_opened_commitment(
    pp, committed_eval_proof, monkeypatch
):
    """The test data's commitments come from the evaluation statement (absorbed as its bytes): every opened
    commitment and every claim's point is bound."""
    pub, proof = committed_eval_proof
    _assert_bound(_watched(monkeypatch, pp, lambda: evaluation.verify(pp, pub, proof)))


@pytest.mark.slow  # a cross-entropy proof: about 6 s on 2 cores
def test_cross_entropy_training_verifier_binds_every_point_before_the_next_challenge(pp, ce_proof, monkeypatch):
    st, proof = ce_proof
    _assert_bound(_watched(monkeypatch, pp, lambda: training.verify(pp, st, proof)))


def test_binding_watch_detects_a_forgotten_absorb(pp, lookup_proof, monkeypatch):
    """Control: a verifier channel that reads the range check's layer-1 values without absorbing them (on the
    verifier's side only, so the proof is also rejected) is caught before the next challenge, and its reads
    are reported as never absorbed."""
    st, proof = lookup_proof
    values = ZkVerifierChannel.values

    def forgetful(ch, label, count, section="SUMC"):
        if label == "range/layer1":
            return [VScalar(p) for p in ch.readers[section].read_g1s(allow_identity=True, count=count)]
        return values(ch, label, count, section)

    monkeypatch.setattr(ZkVerifierChannel, "values", forgetful)

    def verify():
        with pytest.raises(VerificationError):
            training.verify(pp, st, proof)

    b = _watched(monkeypatch, pp, verify)
    assert any("a deferred product" in v and "'range/gamma'" in v for v in b.violations), b.violations[:3]
    assert b.unabsorbed_reads() >= 8


def test_binding_watch_detects_an_opened_commitment_the_transcript_never_saw(pp, lookup_proof, monkeypatch):
    """Control: a verifier whose transcript drops the statement's bytes opens statement commitments that were
    never absorbed; the watch reports them (the proof is rejected as well: every challenge differs)."""
    st, proof = lookup_proof
    absorb_bytes = Transcript.absorb_bytes

    def no_statement(t, label, data):
        if label != "statement":
            absorb_bytes(t, label, data)

    monkeypatch.setattr(Transcript, "absorb_bytes", no_statement)

    def verify():
        with pytest.raises(VerificationError):
            training.verify(pp, st, proof)

    b = _watched(monkeypatch, pp, verify)
    assert any(v.startswith("opening of W0.1: the opened commitment was never absorbed") for v in b.violations)


# =========================================================================================================
# adaptive cheaters that need an unabsorbed point (negative controls) and a tampered derived check
# =========================================================================================================


@functools.cache
def _small() -> G.PublicParams:
    return G.PublicParams.ephemeral(PRODUCT_CHUNK)


PLABEL = "review3/P"  # the stated value P: the one absorb the negative controls forget (on both sides)


def _transcript(forget_p: bool) -> Transcript:
    return _Forgetful.make({PLABEL}) if forget_p else Transcript("test/review-attacks")


def _readers(sections: dict[str, bytes]) -> dict[str, Reader]:
    return {s: Reader(sections.get(s, b""), name=f"section {s!r}") for s in ("COMM", "SUMC", "OPEN")}


def _learn_gammas(acc: ZeroAccumulator, out: list[int]) -> None:
    """Record the zero check's γ as the accumulator draws them."""
    draw = acc._gammas

    def gammas(transcript):
        out[:] = draw(transcript)
        return out

    acc._gammas = gammas  # type: ignore[method-assign]


def _cheating_channel(forget_p: bool, seed: int) -> tuple[ZkProverChannel, list[int]]:
    """The real prover channel (seeded, so that two runs draw the same blindings and masks) with an accumulator
    that lets false checks through, and the list the zero check's γ will be recorded in."""
    ch = ZkProverChannel(_transcript(forget_p), _small(), rng=random.Random(seed))
    ch.acc = _Permissive(_small(), rng=random.Random(seed + 1))
    gam: list[int] = []
    _learn_gammas(ch.acc, gam)
    return ch, gam


def _sections(ch: ZkProverChannel) -> dict[str, bytes]:
    return {s: ch.writers[s].getvalue() for s in ("COMM", "SUMC", "OPEN")}


def _cancelling_zero_checks(forget_p: bool) -> dict[str, bytes]:
    """Statement: ``P`` commits to 5 and ``Q`` commits to 7. The cheater's ``Q`` commits to 8. It picks the value
    of ``P`` from the γ of a first run so that ``γ_1·(p − 5) + γ_2·(8 − 7) = 0``, then sends that ``P`` (through
    ``ZkProverChannel.values``, which absorbs it): ``W`` has no ``g_v`` part although both checks are false."""

    def attempt(p: int) -> tuple[dict[str, bytes], list[int]]:
        ch, gam = _cheating_channel(forget_p, 11)
        (p_sc,) = ch.values(PLABEL, [p])
        (q_sc,) = ch.values("review3/Q", [8])
        ch.zero(p_sc - 5, "P is 5")
        ch.zero(q_sc - 7, "Q is 7")
        ch.finish()
        return _sections(ch), gam

    _, (g1, g2) = attempt(5)
    return attempt(5 - g2 * pow(g1, -1, R))[0]


def _verify_zero_checks(sections: dict[str, bytes], forget_p: bool) -> None:
    ch = ZkVerifierChannel(_transcript(forget_p), _readers(sections), _small())
    (p,) = ch.values(PLABEL, 1)
    (q,) = ch.values("review3/Q", 1)
    ch.zero(p - 5, "P is 5")
    ch.zero(q - 7, "Q is 7")
    ch.finish()


def test_zero_check_cancelled_by_a_late_point_is_rejected_by_the_final_msm():
    """The point ``P`` is absorbed (``ZkVerifierChannel.values``) before ``γ``: the value picked for the first
    run's ``γ`` meets other ``γ``, and the final MSM names the zero check."""
    with pytest.raises(VerificationError, match="^zero checks failed"):
        _verify_zero_checks(_cancelling_zero_checks(False), False)


def test_negative_control_zero_check_cancelled_by_an_unabsorbed_point_is_accepted():
    """The same cheater when ``P`` is not absorbed (both sides): accepted with two false zero checks. So a point
    that enters ``W`` must be absorbed before ``γ``: ``W`` itself is not (rule 5)."""
    _verify_zero_checks(_cancelling_zero_checks(True), True)


REL = sc.Relation.product(2)  # table 0 public, table 1 secret: no committed product
N = 3


def _zk_tables():
    rng = np.random.default_rng(21)
    f0, f1 = Fr.random(1 << N, rng=rng), Fr.random(1 << N, rng=rng)
    s_true = sum(a * b for a, b in zip(f0.to_ints(), f1.to_ints())) % R
    return f0, f1, s_true


def _late_claim(forget_p: bool) -> dict[str, bytes]:
    """Statement: the stated ``P`` is ``Σ f0·f1`` (a ZK sumcheck with claim ``P``, f0 public) and ``P`` commits to
    ``v = Σ f0·f1 + 1``: false. The cheater runs the honest sumcheck for the true sum (``prove_zk`` does not
    absorb the claim, rule 5), then picks ``p`` from the first run's ``γ`` with
    ``γ_1·(p − s) + γ_2·(p − v) = 0`` and sends that ``P``."""
    f0, f1, s_true = _zk_tables()
    v = (s_true + 1) % R

    def attempt(p: int) -> tuple[dict[str, bytes], list[int]]:
        ch, gam = _cheating_channel(forget_p, 13)
        (p_sc,) = ch.values(PLABEL, [p])
        ch.sumcheck([f0, f1], REL, PScalar(s_true, p_sc.blind), n_public=1)  # P's blinding, the true sum
        ch.zero(p_sc - v, "P is v")
        ch.finish()
        return _sections(ch), gam

    _, (g1, g2) = attempt(s_true)
    return attempt((g1 * s_true + g2 * v) * pow(g1 + g2, -1, R))[0]


def _verify_late_claim(sections: dict[str, bytes], forget_p: bool) -> None:
    f0, _f1, s_true = _zk_tables()
    ch = ZkVerifierChannel(_transcript(forget_p), _readers(sections), _small())
    (p,) = ch.values(PLABEL, 1)
    ch.sumcheck(N, REL, p, public=[lambda pt: f0.evaluate(list(pt))])
    ch.zero(p - (s_true + 1), "P is v")
    ch.finish()


def test_zk_sumcheck_claim_on_a_late_point_is_rejected_by_the_final_msm():
    """The claim of ``verify_zk`` is not absorbed, but the point it derives from is: the cheater's ``p`` meets
    other ``γ``, and the final MSM names the zero check (every other proof in it is consistent)."""
    with pytest.raises(VerificationError, match="^zero checks failed"):
        _verify_late_claim(_late_claim(False), False)


def test_negative_control_zk_sumcheck_claim_on_an_unabsorbed_point_is_accepted():
    """The same cheater when the claim's point is absorbed nowhere: accepted although ``P`` is neither the sum nor
    ``v``. This is the attack rule 5 leaves open to a call site that hands ``verify_zk`` such a claim."""
    _verify_late_claim(_late_claim(True), True)


def _spread(n: int, k: int = 8) -> list[int]:
    return sorted({0, n - 1, *range(0, n, max(1, n // k))})


def test_tampered_derived_claim_is_rejected_by_the_zero_check(pp, lookup_proof, monkeypatch):
    """The verifier's own claim of a ZK sumcheck plus 1 (first, last and spread call sites): the transcript does
    not see the claim, so every challenge and every other proof is unchanged and only the zero check (in the
    final MSM) rejects. Control: the same wrapper changing nothing accepts."""
    st, proof = lookup_proof
    verify_zk = zsc.verify_zk
    state = {"n": 0, "target": -1}

    def tampered(params_, prf, relation, num_vars, claim, transcript, **kw):
        if state["n"] == state["target"]:
            claim = claim + 1
        state["n"] += 1
        return verify_zk(params_, prf, relation, num_vars, claim, transcript, **kw)

    monkeypatch.setattr(zsc, "verify_zk", tampered)
    training.verify(pp, st, proof)
    calls = state["n"]
    assert calls >= 20
    for target in _spread(calls):
        state.update(n=0, target=target)
        with pytest.raises(VerificationError, match="^zero checks failed"):
            training.verify(pp, st, proof)


def test_tampered_zero_check_is_rejected_by_the_final_msm(pp, lookup_proof, monkeypatch):
    """One verifier-side zero-check item plus 1 (``W`` changes, not the transcript): the final MSM names the zero
    check, for items from the range check, the layer relations, the sumchecks' final checks and the openings'
    reductions alike (spread over the item list)."""
    st, proof = lookup_proof
    add = ZeroAccumulator.add
    state = {"n": 0, "target": -1, "whats": []}

    def tampered(acc, item, what=""):
        if isinstance(item, VScalar):
            if state["n"] == state["target"]:
                item = item + 1
            state["n"] += 1
            state["whats"].append(what)
        return add(acc, item, what)

    monkeypatch.setattr(ZeroAccumulator, "add", tampered)
    training.verify(pp, st, proof)
    items, whats = state["n"], list(state["whats"])
    assert items >= 20 and len(set(whats)) >= 3
    for target in _spread(items):
        state.update(n=0, target=target, whats=[])
        with pytest.raises(VerificationError, match="^zero checks failed") as ei:
            training.verify(pp, st, proof)
        assert f"one of {items} committed values" in str(ei.value), whats[target]
