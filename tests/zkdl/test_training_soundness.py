"""Soundness of the training proof: corrupted proofs, changed statements and cheating provers are rejected.

Every case must raise one of the typed errors (``VerificationError``, ``ProofFormatError``, ``StatementMismatch``)
— ``pytest.raises`` with exactly these lets anything else (an ``IndexError`` from a parser, a ``ValueError`` from a
gadget) escape and fail the test. Where the cheat targets one relation, the test also asserts *which* verifier
phase rejected it (a spy wraps the verifier's per-relation functions), so each test fails if that check is
removed or weakened rather than passing on some unrelated failure.

Cheating provers use ``training.prove(..., tamper=...)``: the hook edits the witness (``w.ints``), calls
``w.refresh(check=False)``, and the prover then follows the protocol honestly on the false witness. The
statement of a cheating run is committed from the tampered witness too (so a cheat that changes the final
weights commits to its own, false, ``W_T`` — the strongest position for the cheater).
"""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager

import numpy as np
import pytest

from zkdl.commit.generators import PublicParams
from zkdl.commit.pedersen import commit_int
from zkdl.errors import ProofFormatError, StatementMismatch, VerificationError
from zkdl.protocol import shapes as shapes_mod
from zkdl.protocol import training
from zkdl.protocol.statement import Statement
from zkdl.quant import BatchSchedule, FixedPointParams, init_model, quantize_model, train_quantized
from zkdl.serialize import parse_header

TYPED = (VerificationError, ProofFormatError, StatementMismatch)
P = FixedPointParams()
F, S_SHIFT = P.frac_bits, P.lr_shift

# base run: widths, batch, steps and rows all off powers of two
WIDTHS, B, T, N = (5, 3, 2), 3, 3, 11


# =========================================================================================================
# building runs and proofs
# =========================================================================================================
@dataclasses.dataclass
class Run:
    st: Statement
    run: object
    X: np.ndarray
    Y: np.ndarray
    opens: dict
    proof: bytes | None = None


def make_data(widths, n, data_seed):
    rng = np.random.default_rng(data_seed)
    X = np.round(rng.uniform(0, 1, (n, widths[0])) * 2**F).astype(np.int64)
    Y = (np.eye(widths[-1])[rng.integers(0, widths[-1], n)] * 2**F).astype(np.int64)
    return X, Y


def statement0(pp, widths, b, t, n, *, backend="lookup", seed=None, bias=True):
    return Statement(
        widths=widths,
        has_bias=[bias] * (len(widths) - 1),
        params=P.to_dict(),
        batch_size=b,
        steps=t,
        n_rows=n,
        schedule_seed=seed,
        range_backend=backend,
        generators_digest=pp.digest.hex(),
    )


def train(widths, b, t, X, Y, *, model_seed=1, seed=None):
    m = quantize_model(init_model(widths, seed=model_seed), P)
    return train_quantized(m, X, Y, P, BatchSchedule(X.shape[0], b, seed), t)


def prove_run(pp, st0, run, X, Y, tamper=None, *, zk=True) -> Run:
    """Commit the statement tensors of the (tampered) witness, then prove with the same tamper hook."""
    w = training.Witness(training.Public.of(st0), run, X, Y)
    if tamper is not None:
        tamper(w)
    coms, opens = training.commit_statement_tensors(pp, w)
    st = dataclasses.replace(st0, commitments=coms)
    proof, _ = training.prove(pp, st, run, X, Y, opens, tamper=tamper, zk=zk)
    return Run(st, run, X, Y, opens, proof)


@pytest.fixture(scope="module")
def pp() -> PublicParams:
    return PublicParams.ephemeral(4096)


@pytest.fixture(scope="module")
def base_data():
    X, Y = make_data(WIDTHS, N, 0)
    return X, Y, train(WIDTHS, B, T, X, Y)


@pytest.fixture(scope="module")
def honest(pp, base_data) -> Run:
    X, Y, run = base_data
    r = prove_run(pp, statement0(pp, WIDTHS, B, T, N), run, X, Y)
    training.verify(pp, r.st, r.proof)  # the baseline every rejection below is measured against
    return r


def cheat(pp, base_data, tamper, *, run=None, zk=False) -> Run:
    """A cheating proof. Transparent by default: there every check fails where its relation is checked, so the
    tests can assert which check rejected (in zero-knowledge mode the stated values are committed and the zero
    checks are batched into one proof at the end); ``test_cheats_in_zero_knowledge_mode`` repeats
    representative cheats in the default zero-knowledge mode."""
    X, Y, honest_run = base_data
    return prove_run(pp, statement0(pp, WIDTHS, B, T, N), run or honest_run, X, Y, tamper, zk=zk)


# =========================================================================================================
# the verifier-phase spy
# =========================================================================================================
def rejection(pp, st, proof) -> tuple[Exception, str]:
    """Verify, expecting a typed rejection. Returns (error, phase): the stage instance whose verifier raised,
    e.g. ``relations(1)``, ``relu(1)``, ``schedule(X)``, ``history(1)`` (``training.STAGES``, hooked through
    ``Stage.verify``); ``openings`` after every stage passed; ``start`` before the first stage (statement and
    header checks, commitments, the range-check argument)."""
    state = {"failed": None, "entered": False, "all_done": False}
    last = training.STAGES[-1].name

    def wrap(stage):
        def verify(ch, pub, reg, virt, instance):
            label = stage.name if instance is None else f"{stage.name}({instance})"
            state["entered"] = True
            try:
                stage.verify(ch, pub, reg, virt, instance)
            except BaseException:
                if state["failed"] is None:
                    state["failed"] = label
                raise
            if stage.name == last:
                state["all_done"] = True

        return dataclasses.replace(stage, verify=verify)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training, "STAGES", tuple(wrap(s) for s in training.STAGES))
        with pytest.raises(TYPED) as ei:
            training.verify(pp, st, proof)
    if state["failed"] is not None:
        phase = state["failed"]
    elif state["all_done"]:
        phase = "openings"
    else:
        assert not state["entered"]
        phase = "start"
    return ei.value, phase


def assert_range_rejection(pp, r: Run):
    err, phase = rejection(pp, r.st, r.proof)
    assert isinstance(err, VerificationError), err
    assert phase == "start" and "range check" in str(err), (phase, err)


def assert_relation_rejection(pp, r: Run, expected_phase: str):
    err, phase = rejection(pp, r.st, r.proof)
    assert isinstance(err, VerificationError), err
    assert phase == expected_phase, (phase, err)


@contextmanager
def cheating_limbs(overrides=None):
    """The honest prover refuses to split an out-of-range value into limbs (``relations.limbs.prove_limb_claims`` calls
    ``LimbSpec.limbs`` with its range check on, raising ``ValueError``), so cheats that put an out-of-range value
    into a multi-limb tensor cannot be expressed by the tamper hook alone. A cheating prover simply splits
    anyway: this patches the prover-side split to skip the check (the verifier only uses ``recompose``), and
    optionally rewrites a tensor's limbs (``overrides[name](limbs) -> limbs``) in both the range tensor and the
    limb values sent for claims, so the cheater stays self-consistent."""
    orig = shapes_mod.LimbSpec.limbs

    def limbs(self, values, *, check=True):
        out = orig(self, values, check=False)
        if overrides and self.name in overrides:
            out = overrides[self.name]([a.copy() for a in out])
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(shapes_mod.LimbSpec, "limbs", limbs)
        yield


@contextmanager
def cheating_zero_checks():
    """In zero-knowledge mode the prover's ``ZeroAccumulator.add`` refuses a committed value that is not zero
    (``ValueError``, a wiring guard), so a false witness never reaches the verifier through the hook alone. A
    cheating prover skips the guard and runs the batched Schnorr proof anyway (it cannot know the discrete log it
    would need): this patches ``add`` to accept the value unchecked."""
    from zkdl.commit import sigma

    def add(self, item, what=""):
        self._kind = type(item)
        self._items.append(item)
        self._what.append(what)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sigma.ZeroAccumulator, "add", add)
        yield


def real(l):
    """Index tuples (t, b, j) of the real (unpadded) entries of an activation-shaped tensor of layer l."""
    return [tuple(int(i) for i in ix) for ix in np.argwhere(np.ones((T, B, WIDTHS[l]), dtype=bool))]


def _entry(w, cond, l=1, *, last_step=False):
    """First real entry (t, b, j) of layer l's activations with cond(Z'), optionally at the last step."""
    zp = w.ints[f"Zp{l}"]
    for ix in real(l):
        if (not last_step or ix[0] == T - 1) and cond(int(zp[ix])):
            return ix
    raise AssertionError("the base run has no suitable entry; change the model seed")


# =========================================================================================================
# 1. the proof bytes
# =========================================================================================================
SECTIONS = ("HEAD", "COMM", "SUMC", "OPEN")


def _flip(data: bytes, pos: int, mask: int = 0x01) -> bytes:
    b = bytearray(data)
    b[pos] ^= mask
    return bytes(b)


@pytest.mark.parametrize("section", SECTIONS)
@pytest.mark.parametrize("where", [0.0, 0.37, 0.71, 1.0])
@pytest.mark.parametrize("mask", [0x01, 0x80])
def test_byte_flip_in_section(pp, honest, section, where, mask):
    hdr = parse_header(honest.proof)
    info = next(s for s in hdr.sections if s.tag == section)
    pos = info.offset + min(info.length - 1, int(where * info.length))
    err, phase = rejection(pp, honest.st, _flip(honest.proof, pos, mask))
    if section == "HEAD":
        # the statement digest: the proof now claims another statement
        assert isinstance(err, StatementMismatch), err
    else:
        # a malformed encoding (non-canonical field element, point off the curve, bad length) or a failed check
        assert isinstance(err, VerificationError | ProofFormatError), err


def test_byte_flip_in_container_framing(pp, honest):
    hdr = parse_header(honest.proof)
    first = hdr.sections[0].offset
    for pos in range(first):  # magic, version, flags, protocol id, section count, the first tag and length
        # (bit 0 of the flags is FLAG_TRANSPARENT, a known flag: see test_transparent_flag_is_bound; flip bit 1)
        mask = 0x02 if pos == FLAGS_POS else 0x01
        with pytest.raises(ProofFormatError):
            training.verify(pp, honest.st, _flip(honest.proof, pos, mask))
    # the framing of the later sections (tag and u64 length right before each payload)
    for s in hdr.sections[1:]:
        for pos in (s.offset - 12, s.offset - 8, s.offset - 1):
            with pytest.raises(ProofFormatError):
                training.verify(pp, honest.st, _flip(honest.proof, pos))


FLAGS_POS = 10  # magic (8 bytes), version (u16), then the flags (u16, little-endian)


def test_transparent_flag_flipped(pp, honest, clear):
    """FLAG_TRANSPARENT selects how the verifier reads the proof: a zero-knowledge proof relabelled transparent,
    and a transparent proof relabelled zero-knowledge, must both be rejected."""
    assert not parse_header(honest.proof).transparent
    flipped = _flip(honest.proof, FLAGS_POS, 0x01)
    assert parse_header(flipped).transparent
    err, _ = rejection(pp, honest.st, flipped)
    assert isinstance(err, VerificationError | ProofFormatError), err
    assert parse_header(clear.proof).transparent
    training.verify(pp, clear.st, clear.proof)
    err, _ = rejection(pp, clear.st, _flip(clear.proof, FLAGS_POS, 0x01))
    assert isinstance(err, VerificationError | ProofFormatError), err


def test_truncated_proof(pp, honest):
    hdr = parse_header(honest.proof)
    cuts = {0, 1, 7, hdr.sections[0].offset, len(honest.proof) - 1}
    for s in hdr.sections:
        cuts |= {s.offset, s.offset + s.length // 2}
    for n in sorted(cuts):
        with pytest.raises(ProofFormatError):
            training.verify(pp, honest.st, honest.proof[:n])


@pytest.mark.parametrize("extra", [b"\x00", b"\x00" * 32, b"zkdl"])
def test_trailing_bytes(pp, honest, extra):
    with pytest.raises(ProofFormatError):
        training.verify(pp, honest.st, honest.proof + extra)


def test_section_payload_moved_between_sections(pp, honest):
    """Same bytes, other framing: move the first 32 bytes of OPEN to the end of SUMC (both sections' own
    lengths updated). The total is unchanged, so only the section-by-section reading can catch it."""
    from zkdl.serialize import ContainerWriter

    hdr = parse_header(honest.proof)
    pay = {s.tag: honest.proof[s.offset : s.offset + s.length] for s in hdr.sections}
    pay["SUMC"], pay["OPEN"] = pay["SUMC"] + pay["OPEN"][:32], pay["OPEN"][32:]
    cw = ContainerWriter(training.PROTOCOL_ID)
    for tag in SECTIONS:
        cw.add_section(tag, pay[tag])
    with pytest.raises(ProofFormatError):
        training.verify(pp, honest.st, cw.to_bytes())


# =========================================================================================================
# 2. the statement
# =========================================================================================================
def _fresh_commitment(pp, com, salt):
    """Another commitment covering the same number of entries (to a different table)."""
    n = com.layout.n_entries
    new, _ = commit_int(pp, np.arange(n, dtype=np.int64) * 7 + 1000 + salt)
    assert new.layout.n_entries == n and new != com
    return new


def _statement_mutations():
    """(id, fn(statement, pp) -> changed statement)."""
    R = dataclasses.replace
    muts = [
        ("widths-d0+1", lambda s, pp: R(s, widths=(6, 3, 2))),  # same padded shapes: commitments still fit
        ("widths-d1+1", lambda s, pp: R(s, widths=(5, 4, 2))),
        ("widths-d1-1", lambda s, pp: R(s, widths=(5, 2, 2))),  # padded 3→4 vs 2→2: commitments no longer fit
        ("widths-extra-layer", lambda s, pp: R(s, widths=(5, 3, 2, 2), has_bias=(True, True, True))),
        ("has_bias-1-off", lambda s, pp: R(s, has_bias=(False, True))),
        (
            "has_bias-1-off-commitments-dropped",
            lambda s, pp: R(
                s,
                has_bias=(False, True),
                commitments={k: v for k, v in s.commitments.items() if k not in ("b0.1", "bT.1")},
            ),
        ),
        (
            "has_bias-2-off-commitments-dropped",
            lambda s, pp: R(
                s,
                has_bias=(True, False),
                commitments={k: v for k, v in s.commitments.items() if k not in ("b0.2", "bT.2")},
            ),
        ),
        ("batch_size+1", lambda s, pp: R(s, batch_size=B + 1)),
        ("batch_size-1", lambda s, pp: R(s, batch_size=B - 1)),
        ("steps+1", lambda s, pp: R(s, steps=T + 1)),
        ("steps-1", lambda s, pp: R(s, steps=T - 1)),
        ("n_rows+1", lambda s, pp: R(s, n_rows=N + 1)),
        ("n_rows-1", lambda s, pp: R(s, n_rows=N - 1)),
        ("schedule_seed-0", lambda s, pp: R(s, schedule_seed=0)),
        ("schedule_seed-7", lambda s, pp: R(s, schedule_seed=7)),
        ("range_backend-bits", lambda s, pp: R(s, range_backend="bits")),
        ("generators_digest", lambda s, pp: R(s, generators_digest=bytes(32).hex())),
    ]
    for key in P.to_dict():
        for d in (1, -1):
            muts.append(
                (
                    f"params-{key}{d:+d}",
                    lambda s, pp, key=key, d=d: R(s, params={**s.params.to_dict(), key: getattr(s.params, key) + d}),
                )
            )
    names = ["X", "Y", "W0.1", "WT.1", "b0.1", "bT.1", "W0.2", "WT.2", "b0.2", "bT.2"]
    for i, name in enumerate(names):
        muts.append(
            (
                f"commitment-{name}-other",
                lambda s, pp, name=name, i=i: R(
                    s, commitments={**s.commitments, name: _fresh_commitment(pp, s.commitments[name], i)}
                ),
            )
        )
    for a, b in (("W0.1", "WT.1"), ("b0.1", "bT.1"), ("W0.2", "WT.2"), ("b0.2", "bT.2")):
        muts.append(
            (
                f"commitment-swap-{a}-{b}",
                lambda s, pp, a=a, b=b: R(s, commitments={**s.commitments, a: s.commitments[b], b: s.commitments[a]}),
            )
        )
    return muts


MUTATIONS = _statement_mutations()


def _forge_head(proof: bytes, digest: bytes) -> bytes:
    head = parse_header(proof).sections[0]
    assert head.tag == "HEAD" and head.length == len(digest) == 32
    return proof[: head.offset] + digest + proof[head.offset + 32 :]


@pytest.mark.parametrize("mutate", [m[1] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS])
def test_statement_field_changed(pp, honest, mutate):
    with pytest.raises(StatementMismatch):
        # an unusable field (e.g. a declared range out of bounds) is refused when the statement is built
        st = mutate(honest.st, pp)
        assert st.digest() != honest.st.digest()
        training.verify(pp, st, honest.proof)


@pytest.mark.parametrize("mutate", [m[1] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS])
def test_statement_field_changed_with_forged_head(pp, honest, mutate):
    """The cheater also rewrites HEAD to the changed statement's digest, so the early digest comparison passes:
    the statement's binding into the transcript (and the shapes it implies) must still reject the proof."""
    st = mutate(honest.st, pp)
    forged = _forge_head(honest.proof, st.digest())
    err, phase = rejection(pp, st, forged)
    if isinstance(err, StatementMismatch):
        # only checks that precede the proof's content may say "mismatch": the commitments' sizes against the
        # architecture and the generators digest
        assert "commitment" in str(err) or "generator" in str(err), err
    else:
        assert isinstance(err, VerificationError | ProofFormatError), err


def test_has_bias_needs_one_flag_per_layer(pp, honest):
    with pytest.raises(StatementMismatch):
        dataclasses.replace(honest.st, has_bias=(True,))


def test_proof_for_another_run(pp, honest):
    X2, Y2 = make_data(WIDTHS, N, 1)
    other = prove_run(pp, statement0(pp, WIDTHS, B, T, N), train(WIDTHS, B, T, X2, Y2, model_seed=2), X2, Y2)
    training.verify(pp, other.st, other.proof)
    with pytest.raises(StatementMismatch):
        training.verify(pp, other.st, honest.proof)
    with pytest.raises(StatementMismatch):
        training.verify(pp, honest.st, other.proof)
    # and with HEAD rewritten to the other statement's digest: the transcript (statement absorbed first) and the
    # openings of the other commitments reject it
    err, _ = rejection(pp, other.st, _forge_head(honest.proof, other.st.digest()))
    assert isinstance(err, VerificationError), err


def test_honest_proof_against_wrong_final_weight_statement(pp, honest):
    """The statement's W_T.1 is a commitment to the true W_T with one entry changed."""
    w = training.Witness(training.Public.of(honest.st), honest.run, honest.X, honest.Y)
    wt = w.ints["WT.1"].copy()
    wt[0, 0] += 1
    com, _ = commit_int(pp, wt.reshape(-1))
    st = dataclasses.replace(honest.st, commitments={**honest.st.commitments, "WT.1": com})
    with pytest.raises(StatementMismatch):
        training.verify(pp, st, honest.proof)
    err, phase = rejection(pp, st, _forge_head(honest.proof, st.digest()))
    assert isinstance(err, VerificationError), err


@pytest.fixture(scope="module")
def bits_run(pp):
    X, Y = make_data((3, 3, 2), 5, 3)
    r = prove_run(pp, statement0(pp, (3, 3, 2), 2, 2, 5, backend="bits"), train((3, 3, 2), 2, 2, X, Y), X, Y)
    training.verify(pp, r.st, r.proof)
    return r


def test_lookup_proof_against_bits_statement(pp, honest):
    st = dataclasses.replace(honest.st, range_backend="bits")
    with pytest.raises(StatementMismatch):
        training.verify(pp, st, honest.proof)
    err, phase = rejection(pp, st, _forge_head(honest.proof, st.digest()))
    assert isinstance(err, VerificationError | ProofFormatError), err
    assert phase == "start", phase  # the range tensor's commitments / range argument do not parse or check


def test_bits_proof_against_lookup_statement(pp, bits_run):
    st = dataclasses.replace(bits_run.st, range_backend="lookup")
    with pytest.raises(StatementMismatch):
        training.verify(pp, st, bits_run.proof)
    err, phase = rejection(pp, st, _forge_head(bits_run.proof, st.digest()))
    assert isinstance(err, VerificationError | ProofFormatError), err
    assert phase == "start", phase


# =========================================================================================================
# 3. cheating provers
# =========================================================================================================
@pytest.fixture(scope="module")
def clear(pp, base_data) -> Run:
    """A transparent proof made through the tamper path without any change."""
    return cheat(pp, base_data, lambda w: w.refresh(check=False))


def test_tampered_witness_without_change_still_verifies(pp, clear):
    """Control: the tamper path itself (refresh without range check, non-strict tables, transparent mode) is
    complete, so every rejection below is caused by the cheat, not by the hook."""
    assert parse_header(clear.proof).transparent
    training.verify(pp, clear.st, clear.proof)


def test_cheat_gradient_entry_layer1(pp, base_data):
    """One entry of G_Z1 (the hidden layer's output gradient): the weight-gradient matmul of layer 1 uses it."""

    def tamper(w):
        w.ints["GZ1"][1, 2, 0] += 1
        w.refresh(check=False)

    assert_relation_rejection(pp, cheat(pp, base_data, tamper), "relations(1)")


def test_cheat_gradient_entry_layer2(pp, base_data):
    """One entry of G_Z2 = O − Y (the loss gradient): first used by layer 2's backward matmul."""

    def tamper(w):
        w.ints["GZ2"][0, 1, 1] += 3
        w.refresh(check=False)

    assert_relation_rejection(pp, cheat(pp, base_data, tamper), "relations(2)")


def test_cheat_rounding_remainder_breaks_identity(pp, base_data):
    """RZ1 + 1 (still in range): 2^F·Z' + R no longer equals the forward matmul."""

    def tamper(w):
        w.ints["RZ1"][0, 0, 0] += 1
        w.refresh(check=False)

    assert_relation_rejection(pp, cheat(pp, base_data, tamper), "relations(1)")


def test_cheat_rounding_remainder_out_of_range(pp, base_data):
    """Round the other way: Z' − 1 with R + 2^F, so 2^F·Z' + R still equals Z exactly. At a negative Z' (S = 1,
    A = 0, G_Z = 0) the only other change is M = −Z' − 1 → +1, so every relation holds; only R's range check
    ([−2^(F−1), 2^(F−1))) can reject."""

    def tamper(w):
        ix = _entry(w, lambda z: z < -1)
        w.ints["Zp1"][ix] -= 1
        w.ints["RZ1"][ix] += 1 << F
        w.ints["M1"][ix] += 1
        w.refresh(check=False)

    assert_range_rejection(pp, cheat(pp, base_data, tamper))


def test_cheat_weight_gradient_remainder(pp, base_data):
    """RDW1 + 1 (in range): 2^(F+s)·ΔW + R no longer equals Aᵀ·G_Z."""

    def tamper(w):
        w.ints["RDW1"][1, 2, 1] += 1
        w.refresh(check=False)

    assert_relation_rejection(pp, cheat(pp, base_data, tamper), "relations(1)")


def test_cheat_sign_bit_with_magnitude(pp, base_data):
    """Flip S1 at a positive Z' and set M = (1 − 2S)·Z' − S = −Z' − 1, so Z' = (1 − 2S)·M − S still holds: M is
    negative (its top limb wraps around r), and M's range check rejects it."""

    def tamper(w):
        ix = _entry(w, lambda z: z > 0)
        w.ints["S1"][ix] = 1
        w.ints["M1"][ix] = -int(w.ints["Zp1"][ix]) - 1
        w.refresh(check=False)

    with cheating_limbs():
        r = cheat(pp, base_data, tamper)
    assert_range_rejection(pp, r)


def test_cheat_sign_bit_alone(pp, base_data):
    """Flip S1 at a positive Z' and keep M (in range): the ReLU relation Z' = (1 − 2S)·M − S breaks."""

    def tamper(w):
        ix = _entry(w, lambda z: z > 0)
        w.ints["S1"][ix] = 1
        w.refresh(check=False)

    assert_relation_rejection(pp, cheat(pp, base_data, tamper), "relu(1)")


def test_cheat_batch_row_changed(pp, base_data):
    """One batch row of A0 = X_t changed: the layer-1 forward matmul no longer matches Z'."""

    def tamper(w):
        w.ints["A0"][1, 0, :5] += 17
        w.refresh(check=False)

    assert_relation_rejection(pp, cheat(pp, base_data, tamper), "relations(1)")


@pytest.mark.parametrize("which", ["X", "Y"])
def test_cheat_trained_on_another_row(pp, base_data, which):
    """A self-consistent run on a different row (one dataset row's features or label replaced before training)
    with the statement committing the true dataset: every relation holds, only the batch schedule (the selection
    of committed dataset rows) rejects it."""
    X, Y, _ = base_data
    X2, Y2 = X.copy(), Y.copy()
    if which == "X":
        X2[4] = X2[4][::-1] + 5
    else:
        Y2[4] = Y2[4][::-1]
        assert not np.array_equal(Y2[4], Y[4])
    run2 = train(WIDTHS, B, T, X2, Y2)

    def tamper(w):  # restore the true dataset in the witness (what the statement commits)
        w.ints["X"][:N, : WIDTHS[0]] = X
        w.ints["Y"][:N, : WIDTHS[-1]] = Y
        w.refresh(check=False)

    r = prove_run(pp, statement0(pp, WIDTHS, B, T, N), run2, X2, Y2, tamper, zk=False)
    assert_relation_rejection(pp, r, f"schedule({which})")


def _swap_steps(w, a, b):
    """Swap steps a and b in every step-stacked tensor. Several names alias one array (O is Zp_L, XS is A0, ...):
    each array is swapped once, into a fresh array that all its names then share."""
    skip = {id(w.ints[n]) for n in w.ints if n in ("X", "Y") or "." in n}
    fresh: dict[int, np.ndarray] = {}
    for name, arr in list(w.ints.items()):
        if id(arr) in skip:
            continue
        if id(arr) not in fresh:
            assert arr.shape[0] == w.pub.sh.steps, name
            new = arr.copy()
            new[[a, b]] = arr[[b, a]]
            fresh[id(arr)] = new
        w.ints[name] = fresh[id(arr)]
    w.refresh(check=False)


def test_cheat_step_order_swapped(pp, base_data):
    """Steps 0 and 1 swapped consistently in every stacked tensor: each step's relations still hold, but step 0
    now uses step 1's batch (schedule) and weights (history)."""
    assert_relation_rejection(pp, cheat(pp, base_data, lambda w: _swap_steps(w, 0, 1)), "schedule(X)")


def test_cheat_step_order_swapped_same_batches(pp):
    """With n = B every step uses the same rows, so the schedule cannot see the order: the weight history
    W_t = W_0 − Σ_{t'<t} ΔW_{t'} must reject the swap."""
    X, Y = make_data(WIDTHS, B, 5)
    run = train(WIDTHS, B, T, X, Y)
    st0 = statement0(pp, WIDTHS, B, T, B)
    honest_r = prove_run(pp, st0, run, X, Y)
    training.verify(pp, honest_r.st, honest_r.proof)
    r = prove_run(pp, st0, run, X, Y, lambda w: _swap_steps(w, 0, 2), zk=False)
    assert_relation_rejection(pp, r, "history(1)")


@pytest.mark.parametrize("delta", [1, -1])
def test_cheat_weight_update(pp, base_data, delta):
    """One entry of ΔW1 ± 1 (in range): the weight-gradient relation 2^(F+s)·ΔW + R = Aᵀ·G_Z breaks."""

    def tamper(w):
        w.ints["DW1"][0, 1, 2] += delta
        w.refresh(check=False)

    assert_relation_rejection(pp, cheat(pp, base_data, tamper), "relations(1)")


def test_cheat_wrong_final_weight(pp, base_data):
    """The cheater commits (in its statement) to W_T.1 with one entry changed; the history
    W_T = W_0 − Σ_t ΔW_t rejects it."""

    def tamper(w):
        w.ints["WT.1"][2, 1] += 1
        w.refresh(check=False)

    assert_relation_rejection(pp, cheat(pp, base_data, tamper), "history(1)")


def test_cheat_final_weight_justified_by_wrapped_remainder(pp, base_data):
    """A false final weight made fully consistent: in the last step ΔW1 + 1 and R_ΔW1 − 2^(F+s), so
    2^(F+s)·ΔW + R still equals Aᵀ·G_Z; W_T (and the padded steps' W_t) − 1, so the history holds. The remainder
    is now below its range: its top limb is negative, i.e. r − k in the field. Only the range check rejects."""

    def tamper(w):
        t, k, j = T - 1, 3, 1
        w.ints["DW1"][t, k, j] += 1
        w.ints["RDW1"][t, k, j] -= 1 << (F + S_SHIFT)
        w.ints["W1"][T:, k, j] -= 1
        w.ints["WT.1"][k, j] -= 1
        w.refresh(check=False)

    with cheating_limbs():
        r = cheat(pp, base_data, tamper)
    assert_range_rejection(pp, r)


def test_cheat_limb_wrapped_around_r(pp, base_data):
    """M1 (two 16-bit limbs) written as (l0 − 2^16, l1 + 1): the same integer, so every relation (and the limb
    recomposition) holds, but the low limb's field value is r − (2^16 − l0). Only the range check rejects."""

    def split(limbs):
        lo, hi = limbs
        lo[0] -= 1 << 16  # first entry of the layer-1 magnitudes (a real entry: t = b = j = 0)
        hi[0] += 1
        return [lo, hi]

    def tamper(w):
        w.refresh(check=False)

    with cheating_limbs({"M1": split}):
        r = cheat(pp, base_data, tamper)
    assert_range_rejection(pp, r)


def test_cheat_remainder_wrapped_below_range(pp, base_data):
    """Round the other way again, downwards: R − 2^F with Z' + 1 (and M − 1 at a negative Z' < −1, S = 1), so
    2^F·Z' + R = Z and the ReLU relation hold. R's single limb R + 2^(F−1) is now negative, i.e. r − k in the
    field; only the range check rejects."""

    def tamper(w):
        ix = _entry(w, lambda z: z < -1)
        w.ints["RZ1"][ix] -= 1 << F
        w.ints["Zp1"][ix] += 1
        w.ints["M1"][ix] -= 1
        w.refresh(check=False)

    assert_range_rejection(pp, cheat(pp, base_data, tamper))


def test_cheat_limb_set_to_minus_one(pp, base_data):
    """The low limb of one M1 entry set to −1 (field value r − 1) in the range tensor, and the limb values sent
    for claims on M1 computed from the same limbs."""

    def low_to_minus_one(limbs):
        limbs[0][0] = -1
        return limbs

    with cheating_limbs({"M1": low_to_minus_one}):
        r = cheat(pp, base_data, lambda w: w.refresh(check=False))
    assert_range_rejection(pp, r)


def test_cheat_magnitude_two_to_the_40(pp, base_data):
    """An M entry set to 2^40 with a matching fake Z' = A = 2^40 (S = 0) and R adjusted so that 2^F·Z' + R = Z:
    M's top limb is 2^24 and R wraps below its range; the range check rejects."""

    def tamper(w):
        ix = _entry(w, lambda z: z >= 0)
        big = 1 << 40
        w.ints["RZ1"][ix] += (int(w.ints["Zp1"][ix]) - big) << F
        w.ints["Zp1"][ix] = big
        w.ints["M1"][ix] = big
        w.ints["A1"][ix] = big
        w.refresh(check=False)

    with cheating_limbs():
        r = cheat(pp, base_data, tamper)
    assert_range_rejection(pp, r)


def test_cheat_ghost_sample_in_batch_padding(pp, base_data):
    """B = 3 pads to 4: a fake sample in the padded batch slot (A0 row 3 of step 0), the real rows unchanged.
    Either the forward matmul (Z' of that slot is still 0) or the schedule (padded slots select no dataset row,
    so A0 must be zero there) rejects it."""

    def tamper(w):
        w.ints["A0"][0, 3, :5] = w.ints["A0"][0, 0, :5]
        w.refresh(check=False)

    r = cheat(pp, base_data, tamper)
    err, phase = rejection(pp, r.st, r.proof)
    assert isinstance(err, VerificationError), err
    assert phase in ("relations(1)", "schedule(X)"), phase


def _zk_gradient(w):
    w.ints["GZ1"][1, 2, 0] += 1
    w.refresh(check=False)


def _zk_wrapped_remainder(w):
    t, k, j = T - 1, 3, 1
    w.ints["DW1"][t, k, j] += 1
    w.ints["RDW1"][t, k, j] -= 1 << (F + S_SHIFT)
    w.ints["W1"][T:, k, j] -= 1
    w.ints["WT.1"][k, j] -= 1
    w.refresh(check=False)


def _zk_sign(w):
    ix = _entry(w, lambda z: z > 0)
    w.ints["S1"][ix] = 1
    w.ints["M1"][ix] = -int(w.ints["Zp1"][ix]) - 1
    w.refresh(check=False)


def _zk_final_weight(w):
    w.ints["WT.1"][2, 1] += 1
    w.refresh(check=False)


@pytest.mark.parametrize(
    "tamper",
    [_zk_gradient, _zk_wrapped_remainder, _zk_sign, _zk_final_weight, lambda w: _swap_steps(w, 0, 1)],
    ids=["gradient", "wrapped-remainder", "sign-bit", "final-weight", "step-swap"],
)
def test_cheats_in_zero_knowledge_mode(pp, base_data, tamper):
    """Representative cheats in the default (zero-knowledge) mode: rejected with VerificationError."""
    with cheating_limbs(), cheating_zero_checks():
        r = cheat(pp, base_data, tamper, zk=True)
    assert not parse_header(r.proof).transparent
    err, _ = rejection(pp, r.st, r.proof)
    assert isinstance(err, VerificationError), err


def test_cheat_wrapped_remainder_bits_backend(pp):
    """The wrapped-remainder cheat under the bit-decomposition back-end."""
    X, Y = make_data(WIDTHS, N, 0)
    run = train(WIDTHS, B, T, X, Y)

    def tamper(w):
        t, k, j = T - 1, 3, 1
        w.ints["DW1"][t, k, j] += 1
        w.ints["RDW1"][t, k, j] -= 1 << (F + S_SHIFT)
        w.ints["W1"][T:, k, j] -= 1
        w.ints["WT.1"][k, j] -= 1
        w.refresh(check=False)

    with cheating_limbs():
        r = prove_run(pp, statement0(pp, WIDTHS, B, T, N, backend="bits"), run, X, Y, tamper, zk=False)
    err, phase = rejection(pp, r.st, r.proof)
    assert isinstance(err, VerificationError), err
    # the negative top limb's two's-complement bits lie above its 8-bit tag: the bits back-end's zero check
    # (B·(1 − B − μ·mask) = 0) fails, before any relation is checked
    assert phase == "start", (phase, err)


# =========================================================================================================
# runs the int64 reference rejects (QuantizationOverflow) never produce a verifying proof
# =========================================================================================================
@contextmanager
def reference_without_checks(skip):
    """The reference step with some of its range checks removed (``skip(tensor, step) -> bool``), so that it
    produces the trace of a run that ``train_quantized`` rejects."""
    from zkdl.quant import model as model_mod
    from zkdl.quant import train as train_mod

    def patched(orig):
        def check(x, rng, *, tensor, layer=None, step=None):
            if not skip(tensor, step):
                orig(x, rng, tensor=tensor, layer=layer, step=step)

        return check

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train_mod, "check_range", patched(train_mod.check_range))
        mp.setattr(model_mod, "check_range", patched(model_mod.check_range))
        yield


def _weights_leave_range(X, Y):
    """A run (model seed 2, learning rate 2^5 times the default, weights declared in ±2^15) whose layer-2 weights
    start inside their declared range and leave it after an update; every other value stays in range."""
    p2 = FixedPointParams(lr_shift=3, weight_bits=15)
    m = quantize_model(init_model(WIDTHS, seed=2), p2)
    with reference_without_checks(
        lambda tensor, step: tensor == "W after update" or (tensor == "W" and step not in (None, 0))
    ):
        run = train_quantized(m, X, Y, p2, BatchSchedule(N, B, None), T)
    lim = 1 << p2.weight_bits
    assert max(int(np.abs(w).max()) for w in run.initial.weights) < lim
    assert int(np.abs(run.traces[-1].layers[1].W).max()) >= lim or int(np.abs(run.final.weights[1]).max()) >= lim
    return p2, m, run


@pytest.mark.parametrize("zk", [False, True])
def test_run_whose_weights_leave_their_range_does_not_verify(pp, base_data, zk):
    """The audit's finding 2: after the first update a weight leaves its declared range, so ``train_quantized``
    raises ``QuantizationOverflow``; the old proof never range-checked W_t (t ≥ 1) and the unmodified prover's
    proof verified. Now the prover refuses to split the out-of-range W_t into limbs, and a prover that splits
    anyway (the rest of the protocol honest) is rejected by the range check."""
    from zkdl.errors import QuantizationOverflow

    X, Y, _ = base_data
    p2, m, run = _weights_leave_range(X, Y)
    with pytest.raises(QuantizationOverflow, match="W after update"):
        train_quantized(m, X, Y, p2, BatchSchedule(N, B, None), T)
    st0 = dataclasses.replace(statement0(pp, WIDTHS, B, T, N), params=p2.to_dict())
    with pytest.raises(ValueError, match="[SF]W2: value outside its declared range"):
        prove_run(pp, st0, run, X, Y, zk=zk)
    with cheating_limbs(), cheating_zero_checks():
        r = prove_run(pp, st0, run, X, Y, lambda w: w.refresh(check=False), zk=zk)
    if zk:  # the range check's zero check is batched into the final Schnorr proof
        err, phase = rejection(pp, r.st, r.proof)
        assert isinstance(err, VerificationError) and phase == "openings" and "zero check" in str(err), (phase, err)
    else:
        assert_range_rejection(pp, r)


def test_run_whose_output_gradient_leaves_its_range_does_not_verify(pp):
    """``G_Z = O − Y`` of the output layer out of its declared range (grad_bits) while O, Y and every hidden
    gradient are in range: ``train_quantized`` raises, the proof (output gradient range-checked as GO) is rejected
    by the range check."""
    from zkdl.errors import QuantizationOverflow

    X, Y = make_data(WIDTHS, N, 0)
    honest_run = train(WIDTHS, B, T, X, Y)
    go = max(int(np.abs(tr.layers[-1].G_Z).max()) for tr in honest_run.traces)
    ga = max(int(np.abs(tr.layers[0].G_A_rescaled).max()) for tr in honest_run.traces)
    g2 = go.bit_length() - 1  # |O − Y| reaches 2^g2 somewhere; every hidden G'_A must stay below 2^g2
    assert ga < (1 << g2) <= go, (ga, go)
    p2 = FixedPointParams(grad_bits=g2)
    m = quantize_model(init_model(WIDTHS, seed=1), p2)
    sched = BatchSchedule(N, B, None)
    with pytest.raises(QuantizationOverflow, match=r"G_Z \(layer 2"):
        train_quantized(m, X, Y, p2, sched, T)
    with reference_without_checks(lambda tensor, step: tensor == "G_Z"):
        run = train_quantized(m, X, Y, p2, sched, T)
    st0 = dataclasses.replace(statement0(pp, WIDTHS, B, T, N), params=p2.to_dict())
    with pytest.raises(ValueError, match="GO: value outside its declared range"):
        prove_run(pp, st0, run, X, Y, zk=False)
    with cheating_limbs():
        r = prove_run(pp, st0, run, X, Y, lambda w: w.refresh(check=False), zk=False)
    assert_range_rejection(pp, r)
