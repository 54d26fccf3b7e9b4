"""Evaluation on committed (never revealed) test data, and regression evaluation (the sum of squared errors).

Honest proofs verify; each cheat is rejected by the check that catches it (the stage spy of
``test_evaluation.py``): a count one row off, other weights, a commitment to other data, labels that are not
one-hot, an SSE one unit off, tampered statement fields.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from test_evaluation import N_TEST, WIDTHS, cheating_limbs, cheating_zero_checks, rejection, trained_instance

from zkdl import api
from zkdl.commit.pedersen import commit_int
from zkdl.errors import StatementFormatError, StatementMismatch, VerificationError
from zkdl.protocol import evaluation
from zkdl.protocol.eval_witness import EvalPublic, EvalWitness, commit_test_data
from zkdl.protocol.evaluation_statement import EvalStatement, array_sha256
from zkdl.protocol.relations.sse import sse_int
from zkdl.quant import FixedPointParams, predict_int

P = FixedPointParams()


@pytest.fixture(scope="module")
def pp():
    return api.public_params(1 << 8)


@pytest.fixture(scope="module")
def trained(pp):
    return trained_instance(pp)


def _common(st, **kw) -> dict:
    return dict(
        kind="evaluation",
        training_statement=st.digest().hex(),
        n_rows=N_TEST,
        range_backend=st.range_backend,
        generators_digest=st.generators_digest,
        **kw,
    )


def committed(pp, st, Xt, ys, *, regression=False, metric=None, coms_of=None):
    """An evaluation statement on data committed at evaluation time; ``coms_of``: commit these rows instead (the
    prover still proves with ``Xt``, ``ys``). Returns (public, data, openings)."""
    cx, cy = coms_of if coms_of is not None else (Xt, ys)
    coms, opened = commit_test_data(pp, st.widths, cx, cy, regression=regression)
    est = EvalStatement(
        inputs_sha256=None,
        test_data="committed",
        inputs_commitment=coms["X"].to_bytes().hex(),
        labels_commitment=coms["Y"].to_bytes().hex(),
        **metric,
        **_common(st),
    )
    return EvalPublic.of(st, est), {"X": Xt, "labels": ys}, {"TX": opened["X"], "TY": opened["Y"]}


def count(model, Xt, labels) -> int:
    return int((np.argmax(predict_int(model, Xt, P), axis=1) == labels).sum())


def prove(pp, pub, model, wopen, data, dopen, **kw):
    return evaluation.prove(pp, pub, model.weights, model.biases, wopen, data=data, data_openings=dopen, **kw)[0]


# ------------------------------------------------------------------------------------------------ honest proofs
@pytest.mark.parametrize("zk", [False, True])
def test_committed_evaluation_verifies_and_the_proof_holds_no_row(pp, trained, zk):
    st, run, Xt, labels, _, wopen = trained
    pub, data, dopen = committed(pp, st, Xt, labels, metric={"correct": count(run.final, Xt, labels)})
    assert pub.X is None and pub.labels is None  # the verifier's side knows no row
    proof = prove(pp, pub, run.final, wopen, data, dopen, zk=zk)
    evaluation.verify(pp, pub, proof)
    text = pub.est.to_json()
    assert json.loads(text)["inputs_sha256"] is None and json.loads(text)["labels_sha256"] is None
    assert EvalStatement.from_json(text) == pub.est


def test_evaluation_against_the_training_statements_split_without_revealing_it(pp, trained):
    st, run, Xt, labels, _, wopen = trained
    ts, opened = commit_test_data(pp, st.widths, Xt, labels)
    st_split = dataclasses.replace(st, test_split=ts)
    c = count(run.final, Xt, labels)
    est = EvalStatement(inputs_sha256=None, test_data="training-split-committed", correct=c, **_common(st_split))
    pub = EvalPublic.of(st_split, est)
    assert pub.data_commitments == {"TX": ts["X"], "TY": ts["Y"]}
    dopen = {"TX": opened["X"], "TY": opened["Y"]}
    proof = prove(pp, pub, run.final, wopen, {"X": Xt, "labels": labels}, dopen, zk=False)
    evaluation.verify(pp, pub, proof)
    # other labels proven against the split's commitment: the opening of TY fails
    other = labels.copy()
    other[0] = (other[0] + 1) % WIDTHS[-1]
    pub2 = EvalPublic.of(st_split, dataclasses.replace(est, correct=count(run.final, Xt, other)))
    proof2 = prove(pp, pub2, run.final, wopen, {"X": Xt, "labels": other}, dopen, zk=False)
    err, phase = rejection(pp, pub2, proof2)
    assert isinstance(err, VerificationError) and phase == "openings" and "opening of TY" in str(err), (phase, err)
    with pytest.raises(StatementMismatch, match="commits no test split"):
        EvalPublic.of(st, dataclasses.replace(est, training_statement=st.digest().hex()))


@pytest.mark.parametrize("mode", ["public", "committed"])
def test_regression_evaluation_proves_the_sum_of_squared_errors(pp, trained, mode):
    st, run, Xt, _, targets, wopen = trained
    s = sse_int(predict_int(run.final, Xt, P), targets)
    assert s > 0
    if mode == "committed":
        pub, data, dopen = committed(pp, st, Xt, targets, regression=True, metric={"sse": s})
    else:
        est = EvalStatement(inputs_sha256=array_sha256(Xt), labels_sha256=array_sha256(targets), sse=s, **_common(st))
        pub, data, dopen = EvalPublic.of(st, est, Xt, labels=targets), None, None
    assert evaluation.stages_of(pub.est) is evaluation.REGRESSION_STAGES
    proof = prove(pp, pub, run.final, wopen, data, dopen, zk=False)
    evaluation.verify(pp, pub, proof)


def test_sse_reference_is_exact_beyond_int64():
    O = np.array([[3 << 31, 0]], dtype=np.int64)
    Y = np.array([[-(3 << 31), 5]], dtype=np.int64)
    assert sse_int(O, Y) == (6 << 31) ** 2 + 25


# ------------------------------------------------------------------------------------------------ attacks
@pytest.mark.parametrize("delta", [+1, -1])
def test_committed_count_one_row_off_is_rejected_by_the_argmax_check(pp, trained, delta):
    st, run, Xt, labels, _, wopen = trained
    wrong = count(run.final, Xt, labels) + delta
    if not 0 <= wrong <= N_TEST:
        pytest.skip("the base run's count is at the boundary")
    pub, data, dopen = committed(pp, st, Xt, labels, metric={"correct": wrong})
    proof = prove(pp, pub, run.final, wopen, data, dopen, zk=False)
    err, phase = rejection(pp, pub, proof)
    assert isinstance(err, VerificationError) and phase == "argmax", (phase, err)


@pytest.mark.slow  # two zero-knowledge proofs: > 10 s on 2 shared cores
def test_committed_count_one_row_off_is_rejected_in_zero_knowledge_mode(pp, trained):
    st, run, Xt, labels, _, wopen = trained
    c = count(run.final, Xt, labels)
    pub, data, dopen = committed(pp, st, Xt, labels, metric={"correct": c + 1 if c < N_TEST else c - 1})
    with cheating_zero_checks():
        proof = prove(pp, pub, run.final, wopen, data, dopen)
    with pytest.raises(VerificationError):
        evaluation.verify(pp, pub, proof)


def test_committed_evaluation_with_other_weights_is_rejected_at_the_weight_openings(pp, trained):
    st, run, Xt, labels, _, wopen = trained
    other = run.initial
    pub, data, dopen = committed(pp, st, Xt, labels, metric={"correct": count(other, Xt, labels)})
    proof = prove(pp, pub, other, wopen, data, dopen, zk=False)
    err, phase = rejection(pp, pub, proof)
    assert isinstance(err, VerificationError) and phase == "openings" and "opening of WT" in str(err), (phase, err)


@pytest.mark.parametrize("swapped", ["inputs", "labels"])
def test_a_commitment_to_other_data_in_the_statement_is_rejected_at_its_opening(pp, trained, swapped):
    """The statement commits other rows than the prover evaluates on (chosen to make the count better): the
    claims on TX / TY do not open the statement's commitment."""
    st, run, Xt, labels, _, wopen = trained
    other_X, other_labels = Xt.copy(), labels.copy()
    if swapped == "inputs":
        other_X[0, 0] += 1
    else:
        other_labels[0] = (other_labels[0] + 1) % WIDTHS[-1]
    c = count(run.final, Xt, labels)
    pub, data, dopen = committed(pp, st, Xt, labels, metric={"correct": c}, coms_of=(other_X, other_labels))
    proof = prove(pp, pub, run.final, wopen, data, dopen, zk=False)
    err, phase = rejection(pp, pub, proof)
    name = "TX" if swapped == "inputs" else "TY"
    assert isinstance(err, VerificationError) and phase == "openings" and f"opening of {name}" in str(err), (
        phase,
        err,
    )


def test_an_honest_proof_presented_with_another_commitment_is_for_another_statement(pp, trained):
    st, run, Xt, labels, _, wopen = trained
    c = count(run.final, Xt, labels)
    pub, data, dopen = committed(pp, st, Xt, labels, metric={"correct": c})
    proof = prove(pp, pub, run.final, wopen, data, dopen, zk=False)
    other = labels.copy()
    other[1] = (other[1] + 1) % WIDTHS[-1]
    coms, _ = commit_test_data(pp, st.widths, Xt, other)
    swapped = dataclasses.replace(pub.est, labels_commitment=coms["Y"].to_bytes().hex())
    with pytest.raises(StatementMismatch, match="different training or evaluation statement"):
        evaluation.verify(pp, EvalPublic.of(st, swapped), proof)


def _labels_cheat(pp, st, run, Xt, labels, wopen, edit):
    """Commit a label table that is not one-hot on the real classes (``edit`` changes it) and claim the count it
    gives; the proof is otherwise honest."""
    from zkdl.protocol.eval_witness import test_data_tables

    tabs = test_data_tables(st.widths, Xt, labels)
    Y = tabs["Y"].copy()
    edit(Y)
    pred = np.argmax(predict_int(run.final, Xt, P), axis=1)
    cheat_count = int(Y[np.arange(N_TEST), pred].sum())
    cx, ox = commit_int(pp, tabs["X"].reshape(-1))
    cy, oy = commit_int(pp, Y.reshape(-1))
    est = EvalStatement(
        inputs_sha256=None,
        test_data="committed",
        inputs_commitment=cx.to_bytes().hex(),
        labels_commitment=cy.to_bytes().hex(),
        correct=min(cheat_count, N_TEST),
        **_common(st),
    )
    pub = EvalPublic.of(st, est)

    def tamper(w):
        w.ints["TY"] = w.ints["YC"] = Y
        w.refresh()

    proof = prove(pp, pub, run.final, wopen, {"X": Xt, "labels": labels}, {"TX": ox, "TY": oy}, zk=False, tamper=tamper)
    return pub, proof, pred


def test_a_label_row_with_every_class_fails_the_label_row_sum_check(pp, trained):
    """A row labelled with every class counts as correct whatever the prediction; the check that each real row of
    TY sums to one rejects it (and only that one: TY stays bits, the count matches the table)."""
    st, run, Xt, labels, _, wopen = trained
    pred = np.argmax(predict_int(run.final, Xt, P), axis=1)
    wrong_row = int(np.argmax(pred != labels))
    assert pred[wrong_row] != labels[wrong_row]

    def edit(Y):
        Y[wrong_row, : WIDTHS[-1]] = 1

    pub, proof, _ = _labels_cheat(pp, st, run, Xt, labels, wopen, edit)
    err, phase = rejection(pp, pub, proof)
    assert isinstance(err, VerificationError) and phase == "argmax", (phase, err)


def test_a_label_on_a_padding_column_fails_the_label_padding_check(pp, trained):
    st, run, Xt, labels, _, wopen = trained

    def on_padding_column(Y):  # row 0's label moved to a padding column: row sums stay one
        Y[0] = 0
        Y[0, WIDTHS[-1]] = 1

    pub, proof, _ = _labels_cheat(pp, st, run, Xt, labels, wopen, on_padding_column)
    err, phase = rejection(pp, pub, proof)
    assert isinstance(err, VerificationError) and phase == "argmax", (phase, err)


def test_committed_inputs_outside_the_input_range_fail_the_data_range_check(pp, trained):
    """The committed inputs are the forward pass's first operand; outside the declared input range its integer
    reading (no wrap-around) is lost. A cheater commits an out-of-range input but puts an in-range value into the
    range tensor's XC limbs: the data stage's claim ties XC to TX, so the range tensor's opening fails."""
    st, run, Xt, labels, _, wopen = trained
    Xbad = Xt.copy()
    Xbad[0, 0] = 1 << P.input_bits  # the declared range is [−2^input_bits, 2^input_bits)
    with cheating_limbs():
        pub, data, dopen = committed(pp, st, Xbad, labels, metric={"correct": 0})
        probe = EvalWitness(pub, run.final.weights, run.final.biases, data)
        c = int((probe.ints["P"][:N_TEST].argmax(axis=1) == labels).sum())
        pub, data, dopen = committed(pp, st, Xbad, labels, metric={"correct": c})

        def tamper(w):
            w.ints["XC"] = np.minimum(w.ints["TX"], (1 << P.input_bits) - 1)  # in range: the range check passes
            w.refresh()

        proof = prove(pp, pub, run.final, wopen, data, dopen, zk=False, tamper=tamper)
    err, phase = rejection(pp, pub, proof)
    assert isinstance(err, VerificationError) and phase == "openings" and "opening of L" in str(err), (phase, err)


def test_sse_one_unit_off_is_rejected_by_the_sse_check(pp, trained):
    st, run, Xt, _, targets, wopen = trained
    s = sse_int(predict_int(run.final, Xt, P), targets) + 1
    pub, data, dopen = committed(pp, st, Xt, targets, regression=True, metric={"sse": s})
    proof = prove(pp, pub, run.final, wopen, data, dopen, zk=False)
    err, phase = rejection(pp, pub, proof)
    assert isinstance(err, VerificationError) and phase == "sse", (phase, err)
    est = EvalStatement(inputs_sha256=array_sha256(Xt), labels_sha256=array_sha256(targets), sse=s, **_common(st))
    pub = EvalPublic.of(st, est, Xt, labels=targets)
    proof = prove(pp, pub, run.final, wopen, None, None, zk=False)
    err, phase = rejection(pp, pub, proof)
    assert isinstance(err, VerificationError) and phase == "sse", (phase, err)


@pytest.mark.slow  # a zero-knowledge proof with a cheating prover: > 10 s on 2 shared cores
def test_sse_one_unit_off_is_rejected_in_zero_knowledge_mode(pp, trained):
    st, run, Xt, _, targets, wopen = trained
    s = sse_int(predict_int(run.final, Xt, P), targets) + 1
    pub, data, dopen = committed(pp, st, Xt, targets, regression=True, metric={"sse": s})
    with cheating_zero_checks():
        proof = prove(pp, pub, run.final, wopen, data, dopen)
    with pytest.raises(VerificationError):
        evaluation.verify(pp, pub, proof)


# ------------------------------------------------------------------------------------------------ the schema
def _committed_dict(pp, trained) -> dict:
    st, run, Xt, labels, _, _ = trained
    pub, _, _ = committed(pp, st, Xt, labels, metric={"correct": 3})
    return pub.est.to_dict()


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(inputs_sha256="ab" * 32),  # a hash of the rows next to their commitment
        lambda d: d.update(labels_sha256="ab" * 32),
        lambda d: d.pop("labels_commitment"),
        lambda d: d.update(labels_commitment=None),  # optional keys are absent, never null
        lambda d: d.update(inputs_commitment="00" * 8),  # not a commitment
        lambda d: d.update(test_data="public"),  # public data needs its hashes
        lambda d: d.update(test_data="training-split-committed"),  # the split's commitments are the training's
        lambda d: d.update(sse=5),  # both correct and sse
        lambda d: d.update(kind="inference", correct=None, outputs_sha256="ab" * 32),
    ],
)
def test_committed_evaluation_statement_is_parsed_strictly(pp, trained, edit):
    d = _committed_dict(pp, trained)
    EvalStatement.from_dict(dict(d))
    edit(d)
    with pytest.raises(StatementFormatError):
        EvalStatement.from_json(json.dumps(d))


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(correct=None),  # neither correct nor sse
        lambda d: d.update(correct=None, sse=-1),
        lambda d: d.update(correct=None, sse=1.5),
        lambda d: d.update(correct=None, sse=True),
    ],
)
def test_regression_statement_fields_are_parsed_strictly(trained, edit):
    st, run, Xt, labels, _, _ = trained
    d = EvalStatement(
        inputs_sha256=array_sha256(Xt), labels_sha256=array_sha256(labels), correct=1, **_common(st)
    ).to_dict()
    edit(d)
    with pytest.raises(StatementFormatError):
        EvalStatement.from_json(json.dumps(d))


def test_public_statements_keep_their_bytes(trained):
    """Optional keys are written only when used: a public classification statement has none of them."""
    st, run, Xt, labels, _, _ = trained
    est = EvalStatement(inputs_sha256=array_sha256(Xt), labels_sha256=array_sha256(labels), correct=1, **_common(st))
    assert not {"sse", "inputs_commitment", "labels_commitment"} & set(json.loads(est.to_json()))


# ------------------------------------------------------------------------------------------------ api and cli
def _zkdl(*args) -> int:
    from zkdl.cli import main

    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def split_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("iris-split") / "run"
    api.prove_training(
        widths=[4, 8, 3], data="iris", steps=2, batch_size=8, out_dir=out, verify_after=False, test_split=True
    )
    return out


def _check(statement, tensor, data, opening) -> int:
    return _zkdl("check-commitment", "--statement", statement, "--tensor", tensor, "--data", data, "--opening", opening)


PUBLIC_ROW_FILES = ("inputs.npy", "labels.npy", "outputs.npy", "test_split_opening.json")


@pytest.mark.slow  # a training run and zero-knowledge evaluations: > 10 s
def test_cli_private_evaluation_of_the_training_split(split_run, tmp_path, capsys):
    ev = tmp_path / "ev"
    assert _zkdl("evaluate", split_run, "--private-data", "--out", ev, "--quiet") == 0
    assert "training-split-committed" in capsys.readouterr().out
    assert not any((ev / f).exists() for f in PUBLIC_ROW_FILES)  # nothing about the rows is public
    d = json.loads((ev / "evaluation.json").read_text())
    assert d["test_data"] == "training-split-committed" and d["inputs_sha256"] is None and d["labels_sha256"] is None
    assert _zkdl("verify", ev, "--json") == 0
    res = json.loads(capsys.readouterr().out)
    summary = json.loads((split_run / "summary.json").read_text())
    assert res["valid"] and res["data_mode"] == "training-split-committed"
    assert "before training" in res["test_data"] and "not revealed" in res["test_data"]
    assert res["accuracy"] == pytest.approx(summary["quantized_accuracy_final"], abs=1e-4)
    assert res["training_statement_digest"] == summary["statement_digest"]
    assert _zkdl("verify", ev) == 0
    text = capsys.readouterr().out
    assert "verified accuracy" in text and summary["statement_digest"] in text and "training-split-committed" in text

    # the data owner confirms the split's commitments with the rows and openings the prover kept
    st, priv = split_run / "statement.json", ev / "private"
    assert _check(st, "test_split.X", priv / "inputs.npy", priv / "openings.json") == 0
    assert _check(st, "test_split.Y", priv / "labels.npy", priv / "openings.json") == 0
    other = np.load(priv / "labels.npy")
    other[0] = (other[0] + 1) % 3
    np.save(tmp_path / "other.npy", other)
    assert _check(st, "test_split.Y", tmp_path / "other.npy", priv / "openings.json") == 1
    capsys.readouterr()

    # a claimed accuracy one row off: exit 1 (the proof was made for the honest statement)
    bad = tmp_path / "bad"
    import shutil

    shutil.copytree(ev, bad)
    d["correct"] = d["correct"] + 1 if d["correct"] < d["n_rows"] else d["correct"] - 1
    (bad / "evaluation.json").write_text(json.dumps(d))
    assert _zkdl("verify", bad, "--json") == 1
    res = json.loads(capsys.readouterr().out)
    assert not res["valid"] and res["error_type"] == "StatementMismatch"


@pytest.mark.slow  # a training run and zero-knowledge evaluations: > 10 s
def test_cli_private_evaluation_of_data_committed_at_evaluation_time(split_run, tmp_path, capsys):
    ev = tmp_path / "ev"
    assert _zkdl("evaluate", split_run, "--data", "iris", "--private-data", "--out", ev, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["data_mode"] == "committed" and out["n_rows"] == 30 and not out["test_data_revealed"]
    assert not any((ev / f).exists() for f in PUBLIC_ROW_FILES)
    assert _zkdl("verify", ev, "--json") == 0
    res = json.loads(capsys.readouterr().out)
    assert res["valid"] and res["data_mode"] == "committed" and "committed at evaluation time" in res["test_data"]
    assert res["correct"] == out["correct"]
    priv, est_path = ev / "private", ev / "evaluation.json"
    assert _check(est_path, "X", priv / "inputs.npy", priv / "openings.json") == 0
    assert _check(est_path, "Y", priv / "labels.npy", priv / "openings.json") == 0
    capsys.readouterr()

    # a commitment to other labels swapped into the statement: the proof was made for another statement
    from zkdl.protocol.eval_witness import commit_test_data as commit_rows

    d = json.loads(est_path.read_text())
    labels = np.load(priv / "labels.npy")
    labels[:5] = (labels[:5] + 1) % 3
    st = api.load_statement(split_run / "statement.json")
    coms, _ = commit_rows(api.public_params(), st.widths, np.load(priv / "inputs.npy"), labels)
    for edit, code, error in (
        ({"labels_commitment": coms["Y"].to_bytes().hex()}, 1, "StatementMismatch"),
        ({"labels_commitment": d["inputs_commitment"]}, 1, "StatementMismatch"),  # not laid out for the labels
        ({"test_data": "public"}, 2, "StatementFormatError"),  # public data needs the rows' hashes
        ({"inputs_sha256": "ab" * 32}, 2, "StatementFormatError"),
        ({"n_rows": 29}, 1, "StatementMismatch"),
    ):
        est_path.write_text(json.dumps({**d, **edit}))
        assert _zkdl("verify", ev, "--json") == code, edit
        res = json.loads(capsys.readouterr().out)
        assert res["error_type"] == error, (edit, res)


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("reg")
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (40, 3))
    y = np.round(100 + 50 * X[:, 0] + rng.normal(0, 5, 40))
    np.savez(d / "reg.npz", X=X, y=y)
    api.prove_training(
        widths=[3, 4, 1],
        data=str(d / "reg.npz"),
        task="regression",
        standardize=True,
        steps=3,
        batch_size=8,
        lr=0.05,
        out_dir=d / "run",
        verify_after=False,
    )
    return d / "run"


@pytest.mark.slow  # a training run and zero-knowledge evaluations: > 10 s
@pytest.mark.parametrize("private", [False, True])
def test_cli_regression_evaluation_proves_the_sse(regression_run, tmp_path, capsys, private):
    ev = tmp_path / "ev"
    assert _zkdl("evaluate", regression_run, "--out", ev, "--json", *(["--private-data"] if private else [])) == 0
    out = json.loads(capsys.readouterr().out)
    summary = json.loads((regression_run / "summary.json").read_text())
    # the training summary compares with the unquantized targets, the proof with the quantized ones (2^-F apart)
    assert out["mse_user_units"] == pytest.approx(summary["quantized_mse_final"], rel=1e-4)
    assert _zkdl("verify", ev, "--json") == 0
    res = json.loads(capsys.readouterr().out)
    assert res["valid"] and res["sse"] == out["sse"] and res["mse"] == pytest.approx(out["mse"])
    assert res["data_mode"] == ("committed" if private else "public") and "accuracy" not in res
    assert _zkdl("verify", ev) == 0
    assert "verified SSE" in capsys.readouterr().out
    # an SSE one unit off: exit 1
    d = json.loads((ev / "evaluation.json").read_text())
    (ev / "evaluation.json").write_text(json.dumps({**d, "sse": d["sse"] + 1}))
    assert _zkdl("verify", ev, "--json") == 1
    assert json.loads(capsys.readouterr().out)["error_type"] == "StatementMismatch"


# ------------------------------------------------------------------------------------------------ zero knowledge
@pytest.mark.slow  # a zero-knowledge proof with recording: > 10 s
def test_no_row_or_witness_value_appears_in_a_zero_knowledge_committed_evaluation(pp, trained):
    """Leak detector (as for public evaluations): no 32-byte window after the public HEAD encodes a test input, a
    label entry, a weight, an intermediate of the forward pass, or any value the prover committed to."""
    from test_evaluation import _windows

    from zkdl.commit import sigma
    from zkdl.field import MODULUS as R
    from zkdl.serialize import parse_header

    st, run, Xt, labels, _, wopen = trained
    pub, data, dopen = committed(pp, st, Xt, labels, metric={"correct": count(run.final, Xt, labels)})
    recorded: list[int] = []
    orig = sigma.PScalar.__post_init__

    def record(self):
        orig(self)
        recorded.append(self.value)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sigma.PScalar, "__post_init__", record)
        proof = prove(pp, pub, run.final, wopen, data, dopen)
    evaluation.verify(pp, pub, proof)
    w = EvalWitness(pub, run.final.weights, run.final.biases, data)
    assert {"X", "TX", "TY"} <= set(w.ints)
    secrets_ = {(int(v) % R).to_bytes(32, "little") for k in w.ints for v in w.ints[k].reshape(-1)}
    secrets_ |= {(int(v) % R).to_bytes(32, "little") for v in recorded}
    head = next(s for s in parse_header(proof).sections if s.tag == "HEAD")
    assert len(recorded) > 20
    assert not _windows(proof, head.offset + head.length) & secrets_
