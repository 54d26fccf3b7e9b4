"""statement.json has one strict schema: exact keys, exact JSON types, no duplicate keys. Anything else is a
StatementFormatError (exit 2 at the CLI), never a statement that verifies while claiming something unchecked."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from zkdl import api
from zkdl.cli import main
from zkdl.errors import StatementFormatError
from zkdl.protocol.statement import PARAM_KEYS, STATEMENT_KEYS, Statement
from zkdl.quant.fixedpoint import FixedPointParams


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("schema")
    rng = np.random.default_rng(0)
    np.savez(d / "data.npz", X=rng.uniform(0, 1, (20, 4)), y=rng.integers(0, 3, 20))
    bundle = api.prove_training(data=d / "data.npz", widths=[4, 3, 3], steps=2, batch_size=5, out_dir=d / "run")
    return d / "run", bundle


def _set(path, value):
    def f(d):
        obj = d
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value

    return f


def _drop(key):
    return lambda d: d.pop(key)


MUTATIONS = {
    "has_bias string": _set(["has_bias"], ["false", "false"]),
    "has_bias int": _set(["has_bias"], [1, 1]),
    "unknown key (accuracy claim)": _set(["claimed_test_accuracy"], 0.99),
    "unknown key (dataset)": _set(["dataset"], "imagenet-1k"),
    "float width": _set(["widths"], [4.0, 3, 3]),
    "bool width": _set(["widths"], [True, 3, 3]),
    "string steps": _set(["steps"], "2"),
    "float batch": _set(["batch_size"], 5.0),
    "negative rows": _set(["n_rows"], -1),
    "float param": _set(["params", "frac_bits"], 16.0),
    "unknown param": _set(["params", "learning_rate"], 1),
    "missing param": lambda d: d["params"].pop("grad_bits"),
    "missing key": _drop("schedule_seed"),
    "bool version": _set(["version"], True),
    "other version": _set(["version"], 2),
    "seed too large": _set(["schedule_seed"], 1 << 64),
    "seed float": _set(["schedule_seed"], 1.5),
    "range backend": _set(["range_backend"], "LOOKUP"),
    "digest upper case": lambda d: d.update(generators_digest=d["generators_digest"].upper()),
    "digest short": lambda d: d.update(generators_digest=d["generators_digest"][:-2]),
    "commitment not hex": lambda d: d["commitments"].update(X="zz"),
    "commitment bytes": lambda d: d["commitments"].update(X="00"),
    "widths not a list": _set(["widths"], "4,3,3"),
    "not an object": lambda d: None,
    # the fixed-point parameters are parsed once, at load, into a typed FixedPointParams
    "frac_bits out of range": _set(["params", "frac_bits"], 31),
    "negative weight bits": _set(["params", "weight_bits"], -3),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutated_statement_is_a_format_error(run, tmp_path, name, capsys):
    out, bundle = run
    d = json.loads((out / "statement.json").read_text())
    d2 = copy.deepcopy(d)
    MUTATIONS[name](d2)
    if name == "not an object":
        d2 = [d]
    with pytest.raises(StatementFormatError):
        api.verify(bundle.proof, d2) if isinstance(d2, dict) else Statement.from_json(json.dumps(d2))
    path = tmp_path / "st.json"
    path.write_text(json.dumps(d2))
    with pytest.raises(StatementFormatError):
        api.verify(out / "proof.zkdl", path)
    assert main(["verify", str(out / "proof.zkdl"), "--statement", str(path)]) == 2
    err = capsys.readouterr().err
    assert "StatementFormatError" in err and "Traceback" not in err


def test_duplicate_keys_and_constants_rejected(run, tmp_path):
    out, bundle = run
    text = (out / "statement.json").read_text()
    dup = text.replace('"steps": 2', '"steps": 2, "steps": 3')
    assert dup != text
    with pytest.raises(StatementFormatError, match="duplicate key 'steps'"):
        Statement.from_json(dup)
    nested = text.replace('"frac_bits": 16', '"frac_bits": 16, "frac_bits": 16')
    with pytest.raises(StatementFormatError, match="duplicate"):
        Statement.from_json(nested)
    with pytest.raises(StatementFormatError):
        Statement.from_json(text.replace('"steps": 2', '"steps": NaN'))
    with pytest.raises(StatementFormatError):
        Statement.from_json(b"\xff\xfe")


def test_honest_statement_parses_and_round_trips(run):
    out, bundle = run
    st = Statement.from_json((out / "statement.json").read_text())
    assert st == bundle.statement and st.to_dict()["has_bias"] == [True, True]
    assert set(st.to_dict()) == set(STATEMENT_KEYS) and set(st.params.to_dict()) == set(PARAM_KEYS)
    assert isinstance(st.params, FixedPointParams) and st.params.frac_bits == bundle.statement.params.frac_bits


def test_verify_says_what_was_verified(run, capsys):
    out, bundle = run
    assert main(["verify", str(out / "proof.zkdl"), "--statement", str(out / "statement.json"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["valid"] is True and res["mode"] == "zero-knowledge" and res["zero_knowledge"] is True
    assert res["widths"] == [4, 3, 3] and res["steps"] == 2 and res["batch_size"] == 5
    assert res["n_rows"] == bundle.statement.n_rows == 16
    assert res["params"] == bundle.statement.params.to_dict() and res["range_backend"] == "lookup"
    assert res["statement_digest"] == bundle.statement.digest().hex()
    assert main(["verify", str(out / "proof.zkdl"), "--statement", str(out / "statement.json")]) == 0
    text = capsys.readouterr().out
    assert text.startswith("VALID") and "zero-knowledge" in text and "[4, 3, 3]" in text
    assert "2 steps, batch 5, 16 dataset rows" in text and bundle.statement.digest().hex() in text
    assert "frac_bits=16" in text
