"""`dpstream` CLI: exit codes, messages without tracebacks, the quick demo end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dpstream.cli import main


@pytest.mark.slow
def test_demo_lower_bound_quick(tmp_path, capsys):
    rc = main(["demo", "lower-bound", "--out", str(tmp_path / "o"), "--quick", "--seed", "1"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "fitted log-log slope" in out and "BrokenPerColumnTreeMaxSum" in out
    assert "error vs T" in err  # progress goes to stderr
    assert (tmp_path / "o" / "error_vs_T.png").exists() and (tmp_path / "o" / "summary.json").exists()


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["demo"],
        ["demo", "lower-bound"],
        ["demo", "lower-bound", "--out", "x", "--rho", "-1"],
        ["demo", "lower-bound", "--out", "x", "--rho", "abc"],
        ["demo", "nope"],
        ["audit", "tracing", "nope"],
        ["demo", "lower-bound", "--out", "x", "--seed", "-3"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err


def test_library_errors_become_messages(capsys):
    rc = main(["audit", "tracing", "maxsum-tree", "--n", "1", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "need n >= 2" in err and "Traceback" not in err


def test_unwritable_output_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc = main(["demo", "lower-bound", "--out", str(blocker / "sub"), "--quick", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and "error" in err and "Traceback" not in err


@pytest.mark.slow
def test_audit_tracing_flags_broken_and_passes_correct(capsys):
    rc_bad = main(["audit", "tracing", "broken-tree-per-column", "--seed", "2", "--json", "--quiet"])
    bad = json.loads(capsys.readouterr().out)
    rc_good = main(["audit", "tracing", "maxsum-tree", "--seed", "2", "--json", "--quiet"])
    good = json.loads(capsys.readouterr().out)
    assert rc_bad == 3 and bad["flagged"]
    assert rc_good == 0 and not good["flagged"]


def test_console_script_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "dpstream.cli", "demo", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "lower-bound" in r.stdout
