"""A data owner confirms that a statement's commitment is to their data (``zkdl check-commitment``, #13 item 5)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zkdl import api
from zkdl.cli import main
from zkdl.errors import DatasetError, StatementMismatch


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("owner")
    rng = np.random.default_rng(3)
    np.savez(d / "data.npz", X=rng.uniform(0, 1, (20, 4)), y=rng.integers(0, 3, 20))
    api.prove_training(data=d / "data.npz", widths=[4, 3, 3], steps=2, batch_size=5, out_dir=d / "run")
    return d


def test_owner_confirms_the_dataset_from_the_raw_file(run):
    res = api.check_commitment(run / "run/statement.json", "X", run / "data.npz", run / "run/private/openings.json")
    assert res.matches and res.tensor == "X"
    res = api.check_commitment(run / "run/statement.json", "Y", run / "data.npz", run / "run/private/openings.json")
    assert res.matches


def test_another_dataset_or_opening_does_not_match(run, tmp_path):
    with np.load(run / "data.npz") as z:
        X, y = z["X"].copy(), z["y"].copy()
    X[0, 0] += 0.25  # one feature of one row changed
    np.savez(tmp_path / "other.npz", X=X, y=y)
    st, op = run / "run/statement.json", run / "run/private/openings.json"
    assert not api.check_commitment(st, "X", tmp_path / "other.npz", op).matches
    wrong = json.loads(op.read_text())
    wrong["X"] = list(reversed(wrong["X"]))  # the right data, other blinding factors
    assert not api.check_commitment(st, "X", run / "data.npz", wrong).matches


def test_final_weights_checked_from_their_integer_values(run, tmp_path):
    with np.load(run / "run/private/final_model.npz") as z:
        W1, b2 = z["W1"], z["b2"]
    np.save(tmp_path / "W1.npy", W1)
    np.save(tmp_path / "b2.npy", b2)
    st, op = run / "run/statement.json", run / "run/private/openings.json"
    assert api.check_commitment(st, "WT.1", tmp_path / "W1.npy", op).matches
    assert api.check_commitment(st, "bT.2", tmp_path / "b2.npy", op).matches
    assert not api.check_commitment(st, "W0.1", tmp_path / "W1.npy", op).matches  # final ≠ initial weights
    W1[0, 0] += 1
    assert not api.check_commitment(st, "WT.1", W1, op).matches


def test_cli_exit_codes(run, capsys):
    st, op = str(run / "run/statement.json"), str(run / "run/private/openings.json")
    base = ["check-commitment", "--statement", st, "--opening", op]
    assert main([*base, "--tensor", "X", "--data", str(run / "data.npz")]) == 0
    assert "MATCHES" in capsys.readouterr().out
    assert main([*base, "--tensor", "X", "--data", str(run / "data.npz"), "--seed", "1"]) == 1  # another split
    assert "DOES NOT MATCH" in capsys.readouterr().out
    assert main([*base, "--tensor", "Q.1", "--data", str(run / "data.npz")]) == 2
    with pytest.raises(StatementMismatch):
        api.check_commitment(st, "Q.1", run / "data.npz", op)
    with pytest.raises(DatasetError):
        api.check_commitment(st, "W0.1", run / "data.npz", op)  # weights need their integer values
