"""No silent transparent proofs: verify refuses a transparent proof unless the caller opts in, `prove
--transparent` warns, and the proof mode and container version are bound by the transcript before any challenge."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zkdl import api
from zkdl.cli import main
from zkdl.protocol import training
from zkdl.serialize import FORMAT_VERSION, parse_header


@pytest.fixture(scope="module")
def clear_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("transparent")
    rng = np.random.default_rng(1)
    np.savez(d / "data.npz", X=rng.uniform(0, 1, (12, 3)), y=rng.integers(0, 2, 12))
    return d


def test_prove_transparent_warns_and_verify_refuses_without_opt_in(clear_run, capsys):
    d = clear_run
    out = d / "run"
    rc = main(
        [
            "prove",
            "--data",
            str(d / "data.npz"),
            "--widths",
            "3,2,2",
            "--steps",
            "1",
            "--batch",
            "4",
            "--out",
            str(out),
            "--quiet",
            "--transparent",
        ]
    )
    assert rc == 0
    assert "NOT zero-knowledge" in capsys.readouterr().err
    proof, st = out / "proof.zkdl", out / "statement.json"
    assert parse_header(proof.read_bytes()).transparent

    res = api.verify(proof, st)
    assert not res.valid and res.error_type == "TransparentProofRefused" and res.mode == "transparent"
    assert api.verify(proof, st, allow_transparent=True).valid

    assert main(["verify", str(proof), "--statement", str(st), "--json"]) == 1
    r = json.loads(capsys.readouterr().out)
    assert r["valid"] is False and r["error_type"] == "TransparentProofRefused" and r["mode"] == "transparent"
    assert main(["verify", str(proof), "--statement", str(st), "--allow-transparent"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("VALID") and "transparent" in text


def test_prove_transparent_warning_text(clear_run, capsys):
    d = clear_run
    rc = main(
        [
            "prove",
            "--data",
            str(d / "data.npz"),
            "--widths",
            "3,2,2",
            "--steps",
            "1",
            "--batch",
            "4",
            "--out",
            str(d / "run2"),
            "--quiet",
            "--transparent",
            "--no-verify",
        ]
    )
    assert rc == 0
    err = capsys.readouterr().err
    assert "WARNING" in err and "NOT zero-knowledge" in err and "--allow-transparent" in err


def test_mode_and_format_version_are_absorbed_before_any_challenge():
    from zkdl.protocol.statement import Statement

    st = Statement(
        widths=(2, 2),
        has_bias=(True,),
        params={},
        batch_size=1,
        steps=1,
        n_rows=1,
        schedule_seed=None,
        range_backend="lookup",
        generators_digest="00" * 32,
    )
    zk = training._new_transcript(st, zk=True, format_version=FORMAT_VERSION)
    clear = training._new_transcript(st, zk=False, format_version=FORMAT_VERSION)
    other_version = training._new_transcript(st, zk=True, format_version=FORMAT_VERSION + 1)
    firsts = {t.challenge_fr("probe") for t in (zk, clear, other_version)}
    assert len(firsts) == 3


def test_a_chunked_transparent_run_warns_too(clear_run, capsys):
    """``zkdl prove --transparent --chunk-steps K`` prints the same warning as an unchunked run (both paths build
    their arguments in ``cli._training_arguments``)."""
    d = clear_run
    argv = ["prove", "--data", str(d / "data.npz"), "--widths", "3,2,2", "--steps", "2", "--batch", "4"]
    rc = main([*argv, "--chunk-steps", "1", "--out", str(d / "chunked"), "--quiet", "--transparent", "--no-verify"])
    assert rc == 0
    assert "NOT zero-knowledge" in capsys.readouterr().err
