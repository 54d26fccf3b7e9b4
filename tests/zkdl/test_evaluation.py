"""Proven evaluation (test accuracy) and proven inference with the committed final weights of a training run.

Honest proofs verify and report the reference's count; cheats are rejected by the check that catches them (the
stage spy hooks ``evaluation.STAGES`` like the training soundness tests hook ``training.STAGES``): a count off by
one row, a proof made with other weights, a tampered argmax, tampered outputs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from training_instances import make_instance

from zkdl import api
from zkdl.cli import main
from zkdl.commit.pedersen import commit_int
from zkdl.errors import ProofFormatError, StatementFormatError, StatementMismatch, VerificationError
from zkdl.protocol import evaluation
from zkdl.protocol import shapes as shapes_mod
from zkdl.protocol.eval_witness import EvalPublic, argmax_tables, commit_test_data
from zkdl.protocol.evaluation_statement import EvalStatement, array_sha256
from zkdl.protocol.statement import Statement
from zkdl.quant import FixedPointParams, QuantizedModel, predict_int

TYPED = (VerificationError, ProofFormatError, StatementMismatch)
P = FixedPointParams()
WIDTHS, N_TEST = (5, 6, 3), 7


@pytest.fixture(scope="module")
def pp():
    return api.public_params(1 << 8)


def trained_instance(pp):
    """A small trained run (WIDTHS, 2 steps) and N_TEST test rows: ``(st, run, Xt, labels, targets, wopen)``
    (``targets``: regression targets; ``wopen``: the final weights' openings). Shared with
    test_evaluation_committed."""
    st, run, _X, _Y, opens = make_instance(pp, WIDTHS, 3, 2, 11)
    rng = np.random.default_rng(5)
    Xt = np.round(rng.uniform(0, 1, (N_TEST, WIDTHS[0])) * 2**P.frac_bits).astype(np.int64)
    labels = rng.integers(0, WIDTHS[-1], N_TEST).astype(np.int64)
    targets = rng.integers(-(2**P.frac_bits), 2**P.frac_bits, (N_TEST, WIDTHS[-1])).astype(np.int64)
    wopen = {k: v for k, v in opens.items() if k.startswith(("WT.", "bT."))}
    return st, run, Xt, labels, targets, wopen


@pytest.fixture(scope="module")
def trained(pp):
    st, run, Xt, labels, _targets, wopen = trained_instance(pp)
    return st, run, Xt, labels, wopen


def eval_public(st, Xt, labels, correct) -> EvalPublic:
    est = EvalStatement(
        kind="evaluation",
        training_statement=st.digest().hex(),
        n_rows=len(labels),
        inputs_sha256=array_sha256(Xt),
        labels_sha256=array_sha256(labels),
        correct=correct,
        range_backend=st.range_backend,
        generators_digest=st.generators_digest,
    )
    return EvalPublic.of(st, est, Xt, labels=labels)


def infer_public(st, Xt, outputs) -> EvalPublic:
    est = EvalStatement(
        kind="inference",
        training_statement=st.digest().hex(),
        n_rows=Xt.shape[0],
        inputs_sha256=array_sha256(Xt),
        outputs_sha256=array_sha256(outputs),
        range_backend=st.range_backend,
        generators_digest=st.generators_digest,
    )
    return EvalPublic.of(st, est, Xt, outputs=outputs)


def true_count(run, Xt, labels) -> int:
    return int((np.argmax(predict_int(run.final, Xt, P), axis=1) == labels).sum())


def rejection(pp, pub, proof) -> tuple[Exception, str]:
    """Verify expecting a typed rejection; returns (error, the stage whose verifier raised | 'openings' | 'start')."""
    state = {"failed": None, "entered": False, "all_done": False}
    last = evaluation.STAGES[-1].name

    def wrap(stage):
        def verify(ch, pub_, reg, virt, instance):
            label = stage.name if instance is None else f"{stage.name}({instance})"
            state["entered"] = True
            try:
                stage.verify(ch, pub_, reg, virt, instance)
            except BaseException:
                if state["failed"] is None:
                    state["failed"] = label
                raise
            if stage.name == last:
                state["all_done"] = True

        return dataclasses.replace(stage, verify=verify)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(evaluation, "STAGES", tuple(wrap(s) for s in evaluation.STAGES))
        mp.setattr(evaluation, "INFERENCE_STAGES", tuple(wrap(s) for s in evaluation.INFERENCE_STAGES))
        mp.setattr(evaluation, "REGRESSION_STAGES", tuple(wrap(s) for s in evaluation.REGRESSION_STAGES))
        with pytest.raises(TYPED) as ei:
            evaluation.verify(pp, pub, proof)
    if state["failed"] is not None:
        return ei.value, state["failed"]
    return ei.value, "openings" if state["all_done"] else "start"


@contextmanager
def cheating_limbs():
    """The honest prover refuses to split an out-of-range value into limbs; a cheater splits anyway."""
    orig = shapes_mod.LimbSpec.limbs
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(shapes_mod.LimbSpec, "limbs", lambda self, values, check=True: orig(self, values, check=False))
        yield


@contextmanager
def cheating_zero_checks():
    """The zero-knowledge prover refuses a false zero check (a wiring guard); a cheater skips the guard."""
    from zkdl.commit import sigma

    def add(self, item, what=""):
        self._kind = type(item)
        self._items.append(item)
        self._what.append(what)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sigma.ZeroAccumulator, "add", add)
        yield


# ---------------------------------------------------------------------------------------------- honest proofs
@pytest.mark.parametrize("zk", [True, False])
def test_honest_evaluation_verifies_with_the_reference_count(pp, trained, zk):
    st, run, Xt, labels, wopen = trained
    correct = true_count(run, Xt, labels)
    pub = eval_public(st, Xt, labels, correct)
    proof, _ = evaluation.prove(pp, pub, run.final.weights, run.final.biases, wopen, zk=zk)
    evaluation.verify(pp, pub, proof)


@pytest.mark.slow  # several zero-knowledge proofs (or a training run): > 10 s on 2 shared cores
def test_honest_inference_verifies(pp, trained):
    st, run, Xt, _labels, wopen = trained
    O = predict_int(run.final, Xt, P)
    pub = infer_public(st, Xt, O)
    proof, _ = evaluation.prove(pp, pub, run.final.weights, run.final.biases, wopen)
    evaluation.verify(pp, pub, proof)


def test_argmax_ties_go_to_the_first_maximal_class():
    O = np.array([[3, 7, 7, 0], [5, 5, 5, 9], [0, 0, 0, 0]], dtype=np.int64)
    Pm, D = argmax_tables(O, 3)  # column 3 is padding
    assert Pm.argmax(axis=1).tolist() == [1, 0, 0] == np.argmax(O[:, :3], axis=1).tolist()
    assert (D >= 0).all() and (D[:, 3] == 0).all()
    assert D[0].tolist() == [4 - 1, 0, 0, 0]  # j < argmax: strictly smaller, so D = m − O − 1


# ---------------------------------------------------------------------------------------------- attacks
@pytest.mark.parametrize("delta", [+1, -1])
def test_count_off_by_one_row_is_rejected_by_the_argmax_check(pp, trained, delta):
    st, run, Xt, labels, wopen = trained
    correct = true_count(run, Xt, labels) + delta
    if not 0 <= correct <= N_TEST:
        pytest.skip("the base run's count is at the boundary")
    pub = eval_public(st, Xt, labels, correct)
    proof, _ = evaluation.prove(pp, pub, run.final.weights, run.final.biases, wopen, zk=False)
    err, phase = rejection(pp, pub, proof)
    assert isinstance(err, VerificationError) and phase == "argmax", (phase, err)


@pytest.mark.slow  # several zero-knowledge proofs (or a training run): > 10 s on 2 shared cores
def test_count_off_by_one_row_is_rejected_in_zero_knowledge_mode(pp, trained):
    st, run, Xt, labels, wopen = trained
    correct = true_count(run, Xt, labels)
    wrong = correct + 1 if correct < N_TEST else correct - 1
    pub = eval_public(st, Xt, labels, wrong)
    with cheating_zero_checks():
        proof, _ = evaluation.prove(pp, pub, run.final.weights, run.final.biases, wopen)
    with pytest.raises(VerificationError):
        evaluation.verify(pp, pub, proof)
    # the honest proof, presented with a count one row off, was made for another statement
    honest_pub = eval_public(st, Xt, labels, correct)
    honest, _ = evaluation.prove(pp, honest_pub, run.final.weights, run.final.biases, wopen)
    with pytest.raises(StatementMismatch):
        evaluation.verify(pp, pub, honest)


@pytest.mark.slow  # several zero-knowledge proofs (or a training run): > 10 s on 2 shared cores
def test_proof_with_other_weights_is_rejected_at_the_weight_openings(pp, trained):
    """The initial weights of the run, with the count they really give, against the final weight commitments."""
    st, run, Xt, labels, wopen = trained
    other = run.initial
    correct = int((np.argmax(predict_int(other, Xt, P), axis=1) == labels).sum())
    pub = eval_public(st, Xt, labels, correct)
    proof, _ = evaluation.prove(pp, pub, other.weights, other.biases, wopen, zk=False)
    err, phase = rejection(pp, pub, proof)
    assert isinstance(err, VerificationError) and phase == "openings" and "opening of WT" in str(err), (phase, err)
    proof_zk, _ = evaluation.prove(pp, pub, other.weights, other.biases, wopen)
    err, phase = rejection(pp, pub, proof_zk)
    assert isinstance(err, VerificationError) and phase == "openings", (phase, err)


def _other_class(w, row):
    P_ = w.ints["P"]
    c = int(P_[row].argmax())
    new = (c + 1) % WIDTHS[-1]
    P_[row] = 0
    P_[row, new] = 1
    return c, new


def test_tampered_argmax_with_consistent_differences_fails_the_range_check(pp, trained):
    """Claim another class for row 0 and recompute D for it: some difference is negative (the class is not the
    first maximal output), so D leaves its range."""
    st, run, Xt, labels, wopen = trained
    O = predict_int(run.final, Xt, P)
    pred = np.argmax(O, axis=1)
    new = (int(pred[0]) + 1) % WIDTHS[-1]
    pred_cheat = pred.copy()
    pred_cheat[0] = new
    pub = eval_public(st, Xt, labels, int((pred_cheat == labels).sum()))

    def tamper(w):
        _other_class(w, 0)
        Om = w.ints["O"]
        cls = w.ints["P"].argmax(axis=1)
        m = Om[np.arange(Om.shape[0]), cls]
        j = np.arange(Om.shape[1])[None, :]
        w.ints["D"] = (j < WIDTHS[-1]) * (m[:, None] - Om - (j < cls[:, None]))
        assert w.ints["D"].min() < 0
        w.refresh(check=False)

    with cheating_limbs():
        proof, _ = evaluation.prove(pp, pub, run.final.weights, run.final.biases, wopen, zk=False, tamper=tamper)
    err, phase = rejection(pp, pub, proof)
    assert isinstance(err, VerificationError) and phase == "start" and "range check" in str(err), (phase, err)


def test_tampered_argmax_with_honest_differences_fails_the_argmax_check(pp, trained):
    st, run, Xt, labels, wopen = trained
    O = predict_int(run.final, Xt, P)
    pred = np.argmax(O, axis=1)
    pred[0] = (pred[0] + 1) % WIDTHS[-1]
    pub = eval_public(st, Xt, labels, int((pred == labels).sum()))

    def tamper(w):
        _other_class(w, 0)
        w.refresh()

    proof, _ = evaluation.prove(pp, pub, run.final.weights, run.final.biases, wopen, zk=False, tamper=tamper)
    err, phase = rejection(pp, pub, proof)
    assert isinstance(err, VerificationError) and phase == "argmax", (phase, err)


@pytest.mark.slow  # several zero-knowledge proofs (or a training run): > 10 s on 2 shared cores
def test_tampered_inference_outputs_are_rejected(pp, trained):
    st, run, Xt, _labels, wopen = trained
    O = predict_int(run.final, Xt, P)
    forged = O.copy()
    forged[0, 0] += 1
    pub = infer_public(st, Xt, forged)
    proof, _ = evaluation.prove(pp, pub, run.final.weights, run.final.biases, wopen, zk=False)
    err, phase = rejection(pp, pub, proof)
    assert isinstance(err, VerificationError) and phase == f"forward({len(WIDTHS) - 1})", (phase, err)
    honest, _ = evaluation.prove(pp, infer_public(st, Xt, O), run.final.weights, run.final.biases, wopen)
    with pytest.raises(StatementMismatch):  # the forged outputs do not hash to the statement's
        EvalPublic.of(st, infer_public(st, Xt, O).est, Xt, outputs=forged)
    with pytest.raises(StatementMismatch):  # a proof made for the honest outputs does not prove the forged ones
        evaluation.verify(pp, pub, honest)


def test_bound_to_its_training_statement(pp, trained):
    st, run, Xt, labels, wopen = trained
    pub = eval_public(st, Xt, labels, true_count(run, Xt, labels))
    other_st, *_ = make_instance(pp, WIDTHS, 3, 2, 11, data_seed=9)
    with pytest.raises(StatementMismatch, match="bound to training statement"):
        EvalPublic.of(other_st, pub.est, Xt, labels=labels)


# ---------------------------------------------------------------------------------------------- the schema
def _est_dict(trained):
    st, run, Xt, labels, _ = trained
    return eval_public(st, Xt, labels, true_count(run, Xt, labels)).est.to_dict()


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(claimed_f1=0.9),
        lambda d: d.pop("correct"),
        lambda d: d.update(correct=True),
        lambda d: d.update(correct=2.0),
        lambda d: d.update(correct=d["n_rows"] + 1),
        lambda d: d.update(kind="training"),
        lambda d: d.update(outputs_sha256=d["inputs_sha256"]),
        lambda d: d.update(training_statement="AB" * 32),
    ],
)
def test_evaluation_statement_is_parsed_strictly(trained, edit):
    d = _est_dict(trained)
    EvalStatement.from_dict(dict(d))
    edit(d)
    with pytest.raises(StatementFormatError):
        EvalStatement.from_json(json.dumps(d))


def test_duplicate_keys_are_rejected(trained):
    text = json.dumps(_est_dict(trained))
    with pytest.raises(StatementFormatError, match="duplicate"):
        EvalStatement.from_json(text[:-1] + ', "correct": 0}')


# ---------------------------------------------------------------------------------------------- api and cli
@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("iris") / "run"
    api.prove_training(widths=[4, 8, 3], data="iris", steps=2, batch_size=8, out_dir=out, verify_after=False)
    return out


@pytest.mark.slow  # several zero-knowledge proofs (or a training run): > 10 s on 2 shared cores
def test_cli_evaluate_and_verify(iris_run, tmp_path, capsys):
    ev = tmp_path / "eval"
    assert main(["evaluate", str(iris_run), "--out", str(ev), "--quiet"]) == 0
    summary = json.loads((iris_run / "summary.json").read_text())
    out = capsys.readouterr().out
    assert "held-out split" in out
    assert main(["verify", str(ev), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["valid"] and res["kind"] == "evaluation" and res["n_rows"] == 30
    assert res["accuracy"] == pytest.approx(summary["quantized_accuracy_final"], abs=1e-4)
    assert res["training_statement_digest"] == summary["statement_digest"]
    # the trusted training statement given explicitly
    assert main(["verify", str(ev), "--statement", str(iris_run / "statement.json")]) == 0
    assert "verified accuracy" in capsys.readouterr().out

    # a claimed accuracy one row off: exit 1, naming why
    bad = tmp_path / "bad"
    shutil.copytree(ev, bad)
    d = json.loads((bad / "evaluation.json").read_text())
    d["correct"] = d["correct"] + 1 if d["correct"] < d["n_rows"] else d["correct"] - 1
    (bad / "evaluation.json").write_text(json.dumps(d))
    assert main(["verify", str(bad), "--json"]) == 1
    res = json.loads(capsys.readouterr().out)
    assert not res["valid"] and res["error_type"] == "StatementMismatch"

    # verified against another training statement: exit 1
    other = tmp_path / "other_statement.json"
    st = json.loads((iris_run / "statement.json").read_text())
    st["steps"] += 1
    other.write_text(json.dumps(st))
    assert main(["verify", str(ev), "--statement", str(other)]) == 1
    assert "bound to training statement" in capsys.readouterr().out

    # verifying an evaluation imports none of the training packages
    code = (
        "import sys, zkdl; r = zkdl.verify_evaluation(sys.argv[1]); "
        "print(r.valid, [m for m in ('torch', 'sklearn', 'matplotlib') if m in sys.modules])"
    )
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run(
        [sys.executable, "-c", code, str(ev)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert r.stdout.split() == ["True", "[]"], r.stderr


@pytest.mark.slow  # several zero-knowledge proofs (or a training run): > 10 s on 2 shared cores
def test_api_infer_and_verify(iris_run, tmp_path):
    X = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]])
    np.save(tmp_path / "x.npy", X)
    bundle = api.infer(iris_run, str(tmp_path / "x.npy"), out_dir=tmp_path / "inf")
    res = api.verify_inference(tmp_path / "inf")
    assert res.valid and res.predictions is not None
    assert res.predictions.tolist() == bundle.predictions.tolist()
    assert main(["verify", str(tmp_path / "inf")]) == 0
    with pytest.raises(StatementFormatError, match="not an evaluation"):
        api.verify_evaluation(tmp_path / "inf")
    # a forged output in the directory: the statement's hash no longer matches
    O = np.load(tmp_path / "inf" / "outputs.npy")
    O[0, 0] += 1
    np.save(tmp_path / "inf" / "outputs.npy", O)
    res = api.verify_inference(tmp_path / "inf")
    assert not res.valid and res.error_type == "StatementMismatch"


@pytest.mark.slow  # several zero-knowledge proofs (or a training run): > 10 s on 2 shared cores
def test_quantized_model_of_the_run_matches_its_summary(iris_run):
    """The evaluation's reference count comes from private/final_model.npz (the committed final model)."""
    z = np.load(iris_run / "private" / "final_model.npz")
    m = QuantizedModel((z["W1"], z["W2"]), (z["b1"], z["b2"]))
    assert m.widths == (4, 8, 3)


# ------------------------------------------------------------------------------------------ the committed test split
@pytest.fixture(scope="module")
def split_trained(pp, trained):
    """The base run's statement with the held-out rows committed in its test_split field."""
    st, run, Xt, labels, wopen = trained
    ts, opened = commit_test_data(pp, st.widths, Xt, labels)
    st_split = dataclasses.replace(st, test_split=ts)
    return st_split, {k: list(op.blinds) for k, op in opened.items()}


def _split_public(st, Xt, labels, correct, blinds) -> EvalPublic:
    est = dataclasses.replace(eval_public(st, Xt, labels, correct).est, test_data="training-split")
    return EvalPublic.of(st, est, Xt, labels=labels, split_blinds=blinds)


def test_statement_with_a_test_split_round_trips_and_one_without_is_unchanged(split_trained, trained):
    st_split, _ = split_trained
    st = trained[0]
    assert "test_split" not in st.to_dict()
    again = Statement.from_json(st_split.to_json())
    assert again.canonical_bytes() == st_split.canonical_bytes() and again.digest() != st.digest()
    d = json.loads(st_split.to_json())
    d["test_split"]["claimed_accuracy"] = 0.99
    with pytest.raises(StatementFormatError, match="test_split"):
        Statement.from_dict(d)


@pytest.mark.slow  # two proofs: > 10 s on 2 shared cores
def test_evaluation_on_the_committed_split_verifies_and_other_rows_do_not_open_it(pp, trained, split_trained):
    _st, run, Xt, labels, wopen = trained
    st_split, blinds = split_trained
    pub = _split_public(st_split, Xt, labels, true_count(run, Xt, labels), blinds)
    proof, _ = evaluation.prove(pp, pub, run.final.weights, run.final.biases, wopen, zk=False)
    evaluation.verify(pp, pub, proof)
    # other labels (chosen after training) presented as the committed split: their hash matches a new statement,
    # but they do not open the training statement's commitment
    other = labels.copy()
    other[0] = (other[0] + 1) % WIDTHS[-1]
    pub2 = _split_public(st_split, Xt, other, true_count(run, Xt, other), blinds)
    proof2, _ = evaluation.prove(pp, pub2, run.final.weights, run.final.biases, wopen, zk=False)
    with pytest.raises(StatementMismatch, match="not the split committed in the training statement"):
        evaluation.verify(pp, pub2, proof2)
    with pytest.raises(StatementMismatch, match="commits no test split"):
        _split_public(trained[0], Xt, labels, 0, blinds)


@pytest.mark.slow  # two training runs and two zero-knowledge evaluations: > 10 s
def test_cli_test_split_evaluation_says_where_its_data_came_from(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(
            [
                "prove",
                "--data",
                "iris",
                "--widths",
                "4,8,3",
                "--steps",
                "2",
                "--batch",
                "8",
                "--test-split",
                "--no-verify",
                "--out",
                str(run),
                "--quiet",
            ]
        )
        == 0
    )
    assert "test split" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--out", str(tmp_path / "e1"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "e1"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["valid"] and "committed in the training statement before training" in res["test_data"]
    assert main(["evaluate", str(run), "--data", "iris", "--out", str(tmp_path / "e2"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "e2"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["valid"] and "committed after training" in res["test_data"]


@pytest.mark.slow  # a zero-knowledge evaluation proof on the iris run: > 10 s
def test_unusable_runs_and_inputs_are_typed_errors(iris_run, tmp_path):
    from zkdl.errors import DatasetError, ModelFormatError, ZkdlError

    with pytest.raises(DatasetError, match="features"):
        api.infer(iris_run, np.zeros((2, 5)))
    with pytest.raises(DatasetError, match="finite numeric"):
        api.infer(iris_run, np.full((2, 4), np.nan))
    with pytest.raises(ZkdlError, match="not a training run directory"):
        api.evaluate(tmp_path / "nothing")
    broken = tmp_path / "broken"
    shutil.copytree(iris_run, broken)
    (broken / "private" / "openings.json").write_text("{}")
    with pytest.raises(ModelFormatError, match="do not match its statement"):
        api.evaluate(broken)
    # final weights that are not the committed ones: the fresh proof does not verify, and the error says why
    other = tmp_path / "other"
    shutil.copytree(iris_run, other)
    z = dict(np.load(other / "private" / "final_model.npz"))
    z["W1"] = z["W1"] + 1
    np.savez(other / "private" / "final_model.npz", **z)
    with pytest.raises(VerificationError, match="private artifacts"):
        api.evaluate(other)


def _honest_differences(w):
    """D recomputed from a (tampered) P exactly as the relation defines it: cm(j)·(Σ_j' P·O − O − Suf)."""
    Om, Pm = w.ints["O"], w.ints["P"]
    m = (Pm * Om).sum(axis=1)
    suf = np.cumsum(Pm[:, ::-1], axis=1)[:, ::-1] - Pm  # Σ_{j' > j} P[i, j']
    cm = (np.arange(Om.shape[1]) < WIDTHS[-1])[None, :]
    w.ints["D"] = cm * (m[:, None] - Om - suf)
    assert w.ints["D"].min() >= 0  # in range: only the one-hot checks can catch the cheat
    w.refresh()


def test_a_row_without_a_predicted_class_fails_the_row_sum_check(pp, trained):
    """The padded row (all outputs zero) gets no class at all: D stays zero and in range, so only the check that
    every row of P sums to one catches it."""
    st, run, Xt, labels, wopen = trained
    pub = eval_public(st, Xt, labels, true_count(run, Xt, labels))

    def tamper(w):
        assert w.ints["P"].shape[0] > N_TEST and not w.ints["O"][N_TEST:].any()
        w.ints["P"][N_TEST] = 0
        _honest_differences(w)

    proof, _ = evaluation.prove(pp, pub, run.final.weights, run.final.biases, wopen, zk=False, tamper=tamper)
    err, phase = rejection(pp, pub, proof)
    assert isinstance(err, VerificationError) and phase == "argmax", (phase, err)


def test_a_padding_column_as_the_predicted_class_fails_the_padding_check(pp, trained):
    """A model whose outputs are all negative: a padded output column (always 0) would be the maximum. Predicting it
    keeps D in range and every row sum at one; only the check that P is zero on padding columns catches it."""
    st, run, Xt, labels, wopen = trained
    L = len(WIDTHS) - 1
    biases = list(run.final.biases)
    biases[L - 1] = biases[L - 1] - (1 << (P.frac_bits + 3))  # outputs about −8: all negative
    model = QuantizedModel(tuple(run.final.weights), tuple(biases))
    assert predict_int(model, Xt, P).max() < 0
    coms, opens = dict(st.commitments), {}
    padded = 1 << (WIDTHS[-1] - 1).bit_length()
    for l, (W, b) in enumerate(zip(model.weights, model.biases), start=1):
        Wp = np.zeros((1 << (W.shape[0] - 1).bit_length(), 1 << (W.shape[1] - 1).bit_length()), dtype=np.int64)
        Wp[: W.shape[0], : W.shape[1]] = W
        coms[f"WT.{l}"], opens[f"WT.{l}"] = commit_int(pp, Wp.reshape(-1))
        bp = np.zeros(Wp.shape[1], dtype=np.int64)
        bp[: b.shape[0]] = b
        coms[f"bT.{l}"], opens[f"bT.{l}"] = commit_int(pp, bp)
    assert padded > WIDTHS[-1]
    st2 = dataclasses.replace(st, commitments=coms)
    honest_count = int((np.argmax(predict_int(model, Xt, P), axis=1) == labels).sum())
    row = int(np.argmax(np.argmax(predict_int(model, Xt, P), axis=1) == labels))  # a correctly predicted row
    pub = eval_public(st2, Xt, labels, honest_count - 1)

    def tamper(w):
        w.ints["P"][row] = 0
        w.ints["P"][row, WIDTHS[-1]] = 1  # the first padding column
        _honest_differences(w)

    assert honest_count >= 1
    honest_pub = eval_public(st2, Xt, labels, honest_count)
    honest, _ = evaluation.prove(pp, honest_pub, model.weights, model.biases, opens, zk=False)
    evaluation.verify(pp, honest_pub, honest)  # the model itself is fine
    proof, _ = evaluation.prove(pp, pub, model.weights, model.biases, opens, zk=False, tamper=tamper)
    err, phase = rejection(pp, pub, proof)
    assert isinstance(err, VerificationError) and phase == "argmax", (phase, err)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"kind": "inference"}'])
def test_cli_verify_of_a_malformed_evaluation_directory_is_unusable_input(tmp_path, capsys, text):
    (tmp_path / "evaluation.json").write_text(text)
    assert main(["verify", str(tmp_path), "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["error_type"] == "StatementFormatError"


# ---------------------------------------------------------------------------------------------- zero knowledge
def _windows(data: bytes, start: int) -> set[bytes]:
    return {data[i : i + 32] for i in range(start, len(data) - 31)}


@pytest.mark.slow  # a zero-knowledge and a transparent evaluation proof with recording: > 10 s
def test_no_witness_value_appears_in_a_zero_knowledge_evaluation_proof(pp, trained):
    """Leak detector (as for the training proof): no 32-byte window after the public HEAD encodes a weight, an
    intermediate of the forward pass, the outputs, the predicted classes, the differences, or any value the prover
    committed to; the same detector fires on the transparent mode."""
    from zkdl.commit import sigma
    from zkdl.field import MODULUS as R
    from zkdl.protocol.channel import ProverChannel
    from zkdl.protocol.eval_witness import EvalWitness
    from zkdl.serialize import parse_header

    st, run, Xt, labels, wopen = trained
    pub = eval_public(st, Xt, labels, true_count(run, Xt, labels))
    committed: list[int] = []
    orig = sigma.PScalar.__post_init__

    def record(self):
        orig(self)
        committed.append(self.value)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sigma.PScalar, "__post_init__", record)
        proof, _ = evaluation.prove(pp, pub, run.final.weights, run.final.biases, wopen)
    evaluation.verify(pp, pub, proof)
    w = EvalWitness(pub, run.final.weights, run.final.biases)
    private = [k for k in w.ints if k != "X"]  # the inputs are public
    secrets_ = {(int(v) % R).to_bytes(32, "little") for k in private for v in w.ints[k].reshape(-1)}
    secrets_ |= {(int(v) % R).to_bytes(32, "little") for v in committed}
    head = next(s for s in parse_header(proof).sections if s.tag == "HEAD")
    assert len(committed) > 20
    assert not _windows(proof, head.offset + head.length) & secrets_

    stated: list[int] = []
    orig_values = ProverChannel.values

    def values(self, label, vals, section="SUMC"):
        out = orig_values(self, label, vals, section)
        stated.extend(out)
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ProverChannel, "values", values)
        clear, _ = evaluation.prove(pp, pub, run.final.weights, run.final.biases, wopen, zk=False)
    head = next(s for s in parse_header(clear).sections if s.tag == "HEAD")
    assert _windows(clear, head.offset + head.length) & {(int(v) % R).to_bytes(32, "little") for v in stated}


def test_final_weights_with_nonzero_padding_fail_the_padding_check(pp, trained):
    """A statement whose final weights carry values outside their true shapes (a hidden unit the architecture does
    not have, feeding the output): proven honestly for those weights, rejected by the evaluation's own padding
    check."""
    from zkdl.protocol.eval_witness import EvalWitness
    from zkdl.protocol.shapes import pad_to

    st, run, Xt, labels, _ = trained
    W1 = pad_to(run.final.weights[0], (8, 8))
    W2 = pad_to(run.final.weights[1], (8, 4))
    W1[0, 6] = 1 << P.frac_bits
    W2[6, 0] = 1 << P.frac_bits
    b1, b2 = pad_to(run.final.biases[0], (8,)), pad_to(run.final.biases[1], (4,))
    coms, opens = dict(st.commitments), {}
    for name, arr in (("WT.1", W1), ("WT.2", W2), ("bT.1", b1), ("bT.2", b2)):
        coms[name], opens[name] = commit_int(pp, arr.reshape(-1))
    st2 = dataclasses.replace(st, commitments=coms)
    probe = EvalWitness(eval_public(st2, Xt, labels, 0), (W1, W2), (b1, b2))
    count = int((probe.ints["P"][:N_TEST].argmax(axis=1) == labels).sum())
    pub = eval_public(st2, Xt, labels, count)
    proof, _ = evaluation.prove(pp, pub, (W1, W2), (b1, b2), opens, zk=False)
    err, phase = rejection(pp, pub, proof)
    assert isinstance(err, VerificationError) and phase == "padding", (phase, err)


def test_evaluation_verifier_defers_subgroup_checks_and_batches_its_group_equations(pp, trained, monkeypatch):
    """The evaluation verifier runs like the training verifier (``zk_channel.run_verifier``): the proof's points
    are decoded without the subgroup test, which runs in ``SubgroupChecks``, and every group equation goes into one
    final MSM; a point outside the prime-order subgroup is still rejected, naming its section and offset."""
    from test_batched_verifier import _off_subgroup_point_bytes, _open_section

    from zkdl.commit import batch as batch_mod
    from zkdl.serialize import subgroup as sg

    st, run, Xt, labels, wopen = trained
    pub = eval_public(st, Xt, labels, true_count(run, Xt, labels))
    proof, _ = evaluation.prove(pp, pub, run.final.weights, run.final.biases, wopen)
    monkeypatch.setattr(sg, "default_helpers", lambda: 0)  # checks in this process, so they can be counted
    checked, msms = [], []
    real_check, real_msm = sg.in_subgroup, batch_mod.msm
    monkeypatch.setattr(sg, "in_subgroup", lambda xy: checked.append(1) or real_check(xy))
    monkeypatch.setattr(batch_mod, "msm", lambda pts, sc, **kw: msms.append(len(pts)) or real_msm(pts, sc, **kw))
    evaluation.verify(pp, pub, proof)
    assert len(checked) > 100 and len(msms) == 1
    start, end = _open_section(proof)
    off = end - 80
    forged = proof[:off] + _off_subgroup_point_bytes() + proof[off + 48 :]
    with pytest.raises(ProofFormatError, match=f"section 'OPEN' at offset {off - start} .*not in the prime-order"):
        evaluation.verify(pp, pub, forged)
