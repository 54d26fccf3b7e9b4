"""The softmax cross-entropy proof (``relations/loss.py``): honest CE proofs verify in both modes, and cheating
provers whose whole run follows a *wrong* integer softmax (a wrong exponential, quotient, remainder or maximum;
every later tensor computed consistently from it) are rejected by the check that covers that part.

A cheat is made by training with a patched ``zkdl.quant.train.softmax_int`` (so gradients, updates and final
weights all follow the false softmax) and proving honestly from that run; the statement commits the cheater's own
final weights. Transparent proofs, so that each check fails where its relation is checked."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from zkdl.commit.generators import PublicParams
from zkdl.errors import ProofFormatError, StatementFormatError, StatementMismatch, VerificationError
from zkdl.protocol import shapes as shapes_mod
from zkdl.protocol import training
from zkdl.protocol.statement import Statement
from zkdl.quant import BatchSchedule, FixedPointParams, init_model, quantize_model, train_quantized
from zkdl.quant import train as train_mod
from zkdl.quant.fixedpoint import SoftmaxParams

pytestmark = pytest.mark.slow  # each case proves a small run (several seconds each on 2 cores)

TYPED = (VerificationError, ProofFormatError, StatementMismatch)
P = FixedPointParams()
F = P.frac_bits
WIDTHS, B, T, N = (4, 3, 3), 3, 2, 7  # off powers of two: padded steps, rows and classes


@pytest.fixture(scope="module")
def pp() -> PublicParams:
    return PublicParams.ephemeral(4096)


def _data():
    rng = np.random.default_rng(0)
    X = np.round(rng.uniform(0, 1, (N, WIDTHS[0])) * 2**F).astype(np.int64)
    Y = (np.eye(WIDTHS[-1])[rng.integers(0, WIDTHS[-1], N)] * 2**F).astype(np.int64)
    return X, Y


def _prove(pp, run, X, Y, *, zk=False, loss="ce", cheating=False, backend="lookup"):
    """Commit and prove ``run``. ``cheating``: the prover splits out-of-range values into limbs anyway and skips
    its own range guard (a no-op ``tamper`` turns the strict range-tensor check off); the verifier only ever
    recomposes limbs, so this is what a dishonest prover can always do."""
    if cheating:
        with pytest.MonkeyPatch.context() as mp:
            orig = shapes_mod.LimbSpec.limbs
            mp.setattr(shapes_mod.LimbSpec, "limbs", lambda self, v, check=True: orig(self, v, check=False))
            return _prove_inner(pp, run, X, Y, zk=zk, loss=loss, tamper=lambda w: None, backend=backend)
    return _prove_inner(pp, run, X, Y, zk=zk, loss=loss, tamper=None, backend=backend)


def _prove_inner(pp, run, X, Y, *, zk, loss, tamper, backend):
    st0 = Statement(
        widths=WIDTHS,
        has_bias=[True, True],
        params=P.to_dict(),
        batch_size=B,
        steps=T,
        n_rows=N,
        schedule_seed=None,
        range_backend=backend,
        generators_digest=pp.digest.hex(),
        loss=loss,
    )
    w = training.Witness(training.Public.of(st0), run, X, Y)
    coms, opens = training.commit_statement_tensors(pp, w)
    st = dataclasses.replace(st0, commitments=coms)
    proof, _ = training.prove(pp, st, run, X, Y, opens, zk=zk, tamper=tamper)
    return st, proof


def _train(softmax=None):
    X, Y = _data()
    model = quantize_model(init_model(WIDTHS, seed=1), P)
    with pytest.MonkeyPatch.context() as mp:
        if softmax is not None:
            mp.setattr(train_mod, "softmax_int", softmax)
        run = train_quantized(model, X, Y, P, BatchSchedule(N, B, None), T, loss="ce")
    return run, X, Y


def _rejected(pp, st, proof) -> str:
    with pytest.raises(TYPED) as ei:
        training.verify(pp, st, proof)
    return str(ei.value)


def test_honest_ce_proofs_verify_in_both_modes(pp):
    run, X, Y = _train()
    for zk in (False, True):
        st, proof = _prove(pp, run, X, Y, zk=zk)
        training.verify(pp, st, proof)
    assert st.loss == "ce" and Statement.from_json(st.to_json()).loss == "ce"
    # the same proof is refused for the MSE reading of its statement (the loss is part of the statement digest)
    with pytest.raises(StatementMismatch):
        training.verify(pp, dataclasses.replace(st, loss="mse"), proof)
    # a CE run cannot be proven under an MSE statement
    with pytest.raises(Exception, match="loss"):
        _prove(pp, run, X, Y, loss="mse")


def test_ce_proof_with_the_bits_range_backend(pp):
    run, X, Y = _train()
    st, proof = _prove(pp, run, X, Y, backend="bits")
    training.verify(pp, st, proof)


def _patched(edit):
    """A softmax_int that computes the honest trace, then lets ``edit(trace_fields)`` change it."""
    honest = train_mod.softmax_int

    def softmax(O, params, *, step=None):
        tr = honest(O, params, step=step)
        fields = {f.name: getattr(tr, f.name).copy() for f in dataclasses.fields(tr)}
        edit(fields)
        return train_mod.SoftmaxTrace(**fields)

    return softmax


def test_a_wrong_exponential_is_rejected_by_the_lookup(pp):
    """The cheater's exponential table differs from the public one in one entry it uses (and everything else —
    sums, quotients, remainders, gradients — follows its table): only the lookup can tell."""

    def edit(f):
        f["E"][0, 1] += 1
        f["sum"] = f["E"].sum(axis=1)
        num = f["E"] << F
        f["P"] = num // f["sum"][:, None]
        f["Q"] = num - f["P"] * f["sum"][:, None]

    run, X, Y = _train(_patched(edit))
    st, proof = _prove(pp, run, X, Y)
    msg = _rejected(pp, st, proof)
    assert "softmax exponential lookup: the fractional sum is not zero" in msg, msg


def test_a_wrong_quotient_is_rejected_by_the_division_relation(pp):
    """P one too large with the remainder kept: 2^F·E = P·Σ + Q fails (the zero-check of the softmax relations)."""

    def edit(f):
        f["P"][0, 0] += 1

    run, X, Y = _train(_patched(edit))
    st, proof = _prove(pp, run, X, Y)
    msg = _rejected(pp, st, proof)
    assert "softmax relations" in msg, msg


def test_a_quotient_with_an_oversized_remainder_is_rejected_by_the_range_check(pp):
    """P one too small and Q = Q + Σ: the division's equation holds over the integers, but Q ≥ Σ, so the slack
    Σ − 1 − Q is negative: its range check rejects."""

    def edit(f):
        f["P"][0, 0] -= 1
        f["Q"][0, 0] += f["sum"][0]

    run, X, Y = _train(_patched(edit))
    assert run.traces[0].softmax.slack[0, 0] < 0
    st, proof = _prove(pp, run, X, Y, cheating=True)
    msg = _rejected(pp, st, proof)
    assert "range check" in msg, msg


def test_a_wrong_remainder_is_rejected_by_the_division_relation(pp):
    def edit(f):
        f["Q"][1, 2] += 1  # the slack follows (Σ − 1 − Q), so only the division's equation breaks

    run, X, Y = _train(_patched(edit))
    st, proof = _prove(pp, run, X, Y)
    msg = _rejected(pp, st, proof)
    assert "softmax relations" in msg, msg


def test_a_shift_other_than_the_maximum_is_rejected(pp):
    """Subtracting m + 1 instead of the maximum (every D ≥ 1; table lookups, sums and divisions all consistent
    with it): the selected entry has D ≠ 0, so SEL·(2^r·U + R) = 0 fails in the zero-check."""
    sp_r = SoftmaxParams(F, WIDTHS[-1]).shift

    def edit(f):
        f["max"] += 1
        f["D"] += 1
        f["U"], f["R"] = f["D"] >> sp_r, f["D"] & ((1 << sp_r) - 1)
        f["E"] = SoftmaxParams(F, WIDTHS[-1]).table()[f["U"]]
        f["sum"] = f["E"].sum(axis=1)
        num = f["E"] << F
        f["P"] = num // f["sum"][:, None]
        f["Q"] = num - f["P"] * f["sum"][:, None]

    run, X, Y = _train(_patched(edit))
    st, proof = _prove(pp, run, X, Y)
    msg = _rejected(pp, st, proof)
    assert "softmax relations" in msg, msg


def test_statement_loss_field_is_optional_and_strict():
    st = Statement(
        widths=WIDTHS,
        has_bias=[True, True],
        params=P.to_dict(),
        batch_size=B,
        steps=T,
        n_rows=N,
        schedule_seed=None,
        range_backend="lookup",
        generators_digest="00" * 32,
    )
    assert "loss" not in st.to_dict()  # MSE statements encode exactly as before
    d = dataclasses.replace(st, loss="ce").to_dict()
    assert d["loss"] == "ce" and Statement.from_dict(d).loss == "ce"
    for bad in ("mse", "CE", 1, None):
        with pytest.raises(StatementFormatError, match="loss"):
            Statement.from_dict({**d, "loss": bad})


def test_cli_prove_and_verify_with_cross_entropy(tmp_path, capsys):
    import json

    from zkdl.cli import main

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", X=rng.uniform(0, 1, (20, 4)), y=rng.integers(0, 3, 20))
    out = tmp_path / "run"
    args = ["--data", str(tmp_path / "data.npz"), "--widths", "4,3,3", "--steps", "2", "--batch", "5"]
    assert main(["prove", *args, "--loss", "ce", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["verified"] is True and summary["loss"] == "ce"
    st = json.loads((out / "statement.json").read_text())
    assert st["loss"] == "ce"
    assert main(["verify", str(out / "proof.zkdl"), "--statement", str(out / "statement.json")]) == 0
    assert "softmax cross-entropy" in capsys.readouterr().out
    # the proof does not verify against the MSE reading of its statement
    del st["loss"]
    (tmp_path / "mse.json").write_text(json.dumps(st))
    assert main(["verify", str(out / "proof.zkdl"), "--statement", str(tmp_path / "mse.json")]) == 1
