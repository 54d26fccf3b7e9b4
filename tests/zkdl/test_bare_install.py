"""`pip install zkdl` without extras verifies a proof: a fresh virtual environment (downloads numpy, numba,
llvmlite and the curve libraries, so it is slow and needs the package index), no torch in it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bare_install_verifies_and_has_no_torch(tmp_path):
    import zkdl

    rng = np.random.default_rng(0)
    data = (rng.uniform(0, 1, (20, 3)), rng.integers(0, 2, 20))
    zkdl.prove_training(data=data, widths=[3, 4, 2], steps=1, batch_size=4, out_dir=tmp_path / "run")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(ROOT)], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr[-2000:]
    listed = subprocess.run([str(venv / "bin" / "pip"), "list"], capture_output=True, text=True).stdout.lower()
    for pkg in ("torch", "scikit-learn", "scipy", "matplotlib"):
        assert f"\n{pkg} " not in listed, f"{pkg} was installed by the bare install"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run(
        [
            str(venv / "bin" / "zkdl"),
            "verify",
            str(tmp_path / "run" / "proof.zkdl"),
            "--statement",
            str(tmp_path / "run" / "statement.json"),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=900,
    )
    assert r.returncode == 0 and '"valid": true' in r.stdout, r.stderr[-2000:]
