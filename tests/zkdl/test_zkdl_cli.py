"""The zkdl command line: exit codes (0 valid, 1 invalid, 2 unusable input), outputs, no tracebacks, and no
earlier run overwritten by accident."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from zkdl.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    np.savez(d / "data.npz", X=rng.uniform(0, 1, (20, 4)), y=rng.integers(0, 3, 20))
    out = d / "run"
    err, stdout = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(stdout):
        rc = main(
            [
                "prove",
                "--data",
                str(d / "data.npz"),
                "--widths",
                "4,3,3",
                "--steps",
                "2",
                "--batch",
                "5",
                "--out",
                str(out),
            ]
        )
    assert rc == 0
    # stderr is not a terminal and --progress was not given: nothing there; a text summary on stdout
    assert err.getvalue() == "" and "VALID" in stdout.getvalue() and "statement digest" in stdout.getvalue()
    return d, out


def test_prove_writes_the_public_and_private_outputs(run_dir):
    _, out = run_dir
    assert (out / "proof.zkdl").stat().st_size > 1000
    st = json.loads((out / "statement.json").read_text())
    assert st["widths"] == [4, 3, 3] and st["steps"] == 2
    assert (out / "private" / "final_model.npz").exists() and (out / "private" / "openings.json").exists()
    with np.load(out / "private" / "final_model.npz") as z:
        assert int(z["frac_bits"]) == st["params"]["frac_bits"]  # the scale travels with the weights
    assert (out / "private" / "final_model.pt").exists()  # the float torch state dict (tests/zkdl/test_export.py)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["verified"] is True and summary["zero_knowledge"] is True


def test_verify_exit_codes(run_dir, tmp_path, capsys):
    _, out = run_dir
    proof, st = str(out / "proof.zkdl"), str(out / "statement.json")
    assert main(["verify", proof, "--statement", st]) == 0
    assert "VALID" in capsys.readouterr().out
    bad = bytearray((out / "proof.zkdl").read_bytes())
    bad[len(bad) // 2] ^= 0x01
    (tmp_path / "bad.zkdl").write_bytes(bytes(bad))
    assert main(["verify", str(tmp_path / "bad.zkdl"), "--statement", st, "--json"]) == 1
    res = json.loads(capsys.readouterr().out)
    assert res["valid"] is False and res["error_type"] in ("VerificationError", "ProofFormatError")
    assert main(["verify", str(tmp_path / "missing.zkdl"), "--statement", st]) == 2
    (tmp_path / "st.json").write_text("{not json")
    assert main(["verify", proof, "--statement", str(tmp_path / "st.json")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error" in err


def test_inspect_lists_sections(run_dir, capsys):
    _, out = run_dir
    assert main(["inspect", str(out / "proof.zkdl"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [s["tag"] for s in info["sections"]] == ["HEAD", "COMM", "SUMC", "OPEN"]
    assert main(["inspect", str(out / "proof.zkdl")]) == 0
    assert "mode  zero-knowledge" in capsys.readouterr().out


def test_an_earlier_run_is_not_overwritten(run_dir, capsys):
    d, out = run_dir
    before = (out / "proof.zkdl").read_bytes()
    args = [
        "prove",
        "--data",
        str(d / "data.npz"),
        "--widths",
        "4,3,3",
        "--steps",
        "2",
        "--batch",
        "5",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 2
    assert "already holds a proof run" in capsys.readouterr().err
    assert (out / "proof.zkdl").read_bytes() == before


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["prove", "--widths", "4,x"])
    assert e.value.code == 2
    assert main(["prove", "--data", "no-such-dataset", "--quiet", "--out", "/nonexistent/x"]) == 2
