"""dpstream's command line follows zkdl's conventions: --version, --json errors on stdout, -v; checked through a
real subprocess (exit codes, stdout/stderr split, no traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def dpstream(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "dpstream.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_version():
    from dpstream import __version__

    r = dpstream("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"dpstream {__version__}"


def test_library_error_with_json_is_json_on_stdout():
    r = dpstream("audit", "tracing", "maxsum-tree", "--n", "1", "--json", "-v")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] is False and "need n >= 2" in out["message"] and out["error_type"]
    assert "dpstream: error:" in r.stderr


def test_usage_error_with_json_is_json_on_stdout():
    r = dpstream("demo", "lower-bound", "--out", "x", "--rho", "-1", "--json")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert json.loads(r.stdout)["ok"] is False
