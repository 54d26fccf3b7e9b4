"""The quick version of bench/fuzz.py: mutated proofs and statements of a small real run are never accepted and
never crash (a traceback, an untyped exception, a CLI exit other than 1/2). One proof mutant costs a good part
of a verification (~0.3 s of CPU), so the default run checks a sample; the 10^3 version is marked slow."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "zkdl_bench_fuzz", Path(__file__).resolve().parents[2] / "bench" / "fuzz.py"
)
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)


def _check(res, n_proofs, n_statements):
    for part, n in (("proofs", n_proofs), ("statements", n_statements)):
        r = res[part]
        assert r["count"] >= n, (part, r["count"])
        assert r["accepted"] == 0, r["accepted_examples"]
        assert r["crashed"] == 0, r["crash_examples"]
    # the statement mutants hit both kinds of rejection: unusable input (exit 2) and a mismatch (exit 1)
    errs = res["statements"]["error_types"]
    assert errs.get("StatementFormatError", 0) > 0 and errs.get("cli-exit-2", 0) > 0, errs


def test_fuzz_quick_sample():
    res = fuzz.campaign(20, 200, seed=1, cli_every=10)  # ~8 s of CPU
    _check(res, 20, 200)


@pytest.mark.slow
def test_fuzz_quick_10e3():
    res = fuzz.campaign(1000, 1000, seed=2, cli_every=5, subprocess_every=250)
    _check(res, 1000, 1000)
