"""The zkdl command line as a user's shell sees it (real subprocesses): exit codes, what goes to stdout and what
to stderr, one-line errors and never a traceback, --json errors on stdout, --version, progress, provenance."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def zkdl(*args, cwd=None, env_extra=None, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.setdefault("ZKDL_HOME", os.environ.get("ZKDL_HOME", str(Path.home() / ".cache" / "zkdl")))
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "zkdl.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def one_line_error(r, code=2, contains=""):
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    lines = [line for line in r.stderr.splitlines() if line.startswith("zkdl: error:")]
    assert len(lines) == 1, r.stderr
    assert contains in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("clic")
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (40, 3))
    y = np.round(100 + 50 * X[:, 0] + rng.normal(0, 5, 40))  # a float target with many whole values
    np.savez(d / "reg.npz", X=X, y=y)
    np.save(d / "table.npy", np.c_[X, np.arange(40) % 2])
    (d / "text.npz").write_text("a,b\n1,2\n")
    (d / "afile").write_text("x")
    return d


def test_version():
    from zkdl import __version__

    r = zkdl("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"zkdl {__version__}"


def test_npy_without_target_is_one_line_and_json_on_stdout(files):
    r = zkdl("prove", "--data", files / "table.npy", "--out", files / "o1")
    one_line_error(r, contains="--target COLUMN")
    assert r.stdout == ""
    r = zkdl("prove", "--data", files / "table.npy", "--out", files / "o1", "--json")
    one_line_error(r)
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["error_type"] == "DatasetError" and "--target" in out["message"]


@pytest.mark.parametrize(
    "args,contains",
    [
        (["--data", "{d}/text.npz"], "not a numpy .npz archive"),
        (["--data", "{d}"], "is a directory"),
        (["--data", "{d}/reg.npz"], "ambiguous"),
        (["--data", "{d}/reg.npz", "--model", "{d}", "--task", "regression"], "is a directory"),
        (["--data", "{d}/reg.npz", "--model", "{d}/m.pt", "--no-bias"], "--no-bias applies to a fresh model"),
        (  # a chunked run is refused by the same check
            ["--data", "{d}/reg.npz", "--model", "{d}/m.pt", "--no-bias", "--chunk-steps", "auto"],
            "--no-bias applies to a fresh model",
        ),
        (["--data", "{d}/reg.npz", "--task", "regression", "--widths", "3,4,1"], "pass --standardize"),
        (["--data", "{d}/reg.npz", "--task", "regression", "--standardize", "--batch", "64"], "--allow-repeat"),
        (["--data", "{d}/reg.npz", "--out", "{d}/afile/sub"], "is a file"),
        (["--data", "{d}/reg.npz", "--out", "{d}/afile"], "is a file, not a directory"),
    ],
)
def test_bad_inputs_are_refused_in_one_line(files, args, contains):
    args = [a.format(d=files) for a in args]
    if "--out" not in args:
        args += ["--out", str(files / "never")]
    r = zkdl("prove", *args)
    msg = one_line_error(r, contains=contains)
    assert "allow_pickle" not in msg
    assert not (files / "never").exists()


def test_usage_error_with_json_is_json_on_stdout():
    r = zkdl("prove", "--widths", "4,x", "--json")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert json.loads(r.stdout)["ok"] is False


def test_verify_json_error_when_input_unusable(files):
    r = zkdl("verify", files / "missing.zkdl", "--statement", files / "missing.json", "--json")
    one_line_error(r)
    out = json.loads(r.stdout)
    assert out == {"ok": False, "error_type": out["error_type"], "message": out["message"]}


@pytest.fixture(scope="module")
def regression_run(files):
    out = files / "reg-run"
    r = zkdl(
        "prove",
        "--data",
        files / "reg.npz",
        "--task",
        "regression",
        "--standardize",
        "--widths",
        "3,4,1",
        "--steps",
        "3",
        "--batch",
        "8",
        "--lr",
        "0.05",
        "--out",
        out,
        "--json",
        "--progress",
        "-v",
    )
    assert r.returncode == 0, r.stderr
    return out, r


def test_regression_reports_mse_and_the_learning_rate_used(regression_run):
    _, r = regression_run
    s = json.loads(r.stdout)
    assert s["ok"] is True and s["task"] == "regression"
    assert s["quantized_mse_final"] > 0 and s["quantized_mse_initial"] > 0
    assert s["learning_rate_requested"] == 0.05 and s["learning_rate"] == 8 / 2 ** s["lr_shift"]
    assert s["lr_shift"] == 7


def test_progress_bar_on_request(regression_run):
    _, r = regression_run
    err = r.stderr.replace("\r", "\n")
    assert "%|" in err and "training step 3/3" in err and "openings" in err
    # -v: the phases as log lines too, with the learning-rate mapping
    assert "[zkdl]" in err and "committing the range tensor" in err and "learning rate 0.05 -> 0.0625" in err


def test_provenance_in_output_and_summary(regression_run, files):
    out, r = regression_run
    s = json.loads(r.stdout)
    on_disk = json.loads((out / "summary.json").read_text())
    from zkdl.protocol.statement import Statement

    st = Statement.from_json((out / "statement.json").read_bytes())
    for rec in (s, on_disk):
        assert rec["statement_digest"] == st.digest().hex()
        assert rec["data_sha256"] == hashlib.sha256((files / "reg.npz").read_bytes()).hexdigest()
        assert rec["data_source"] == str((files / "reg.npz").resolve())
        assert rec["command_line"][:2] == ["zkdl", "prove"] and "--standardize" in rec["command_line"]
        assert rec["seed"] == 0 and rec["schedule_seed"] is None and rec["model_source"] == "fresh"
        assert rec["zkdl_version"]
    pre = json.loads((out / "private" / "preprocessing.json").read_text())
    assert pre["features"]["method"] == "standardize" and len(pre["targets"]["mean"]) == 1


def test_verify_params_never_creates_a_file(regression_run, files):
    out, _ = regression_run
    params = files / "missing-params.bin"
    r = zkdl("verify", out / "proof.zkdl", "--statement", out / "statement.json", "--params", params, "--json")
    one_line_error(r, contains="zkdl setup")
    assert json.loads(r.stdout)["error_type"] == "SetupError" and not params.exists()


def test_setup_says_what_it_does_to_the_cache(files):
    path = files / "gens.bin"
    r = zkdl("setup", "--n", "4", "--path", path)
    assert r.returncode == 0 and "creating the generator cache" in r.stderr and "created" in r.stdout
    r = zkdl("setup", "--n", "2", "--path", path, "--json")
    out = json.loads(r.stdout)
    assert out["action"] == "unchanged" and out["generators"] >= 4 and "nothing to do" in r.stderr
    # the cache grows by whole chunks of the canonical set: ask for one generator more than it holds
    r = zkdl("setup", "--n", str(out["generators"] + 1), "--path", path, "--json")
    assert json.loads(r.stdout)["action"] == "extended" and "extending" in r.stderr


OPTIONAL = ("torch", "sklearn", "scipy", "matplotlib")


@pytest.fixture
def blocked(tmp_path):
    """A PYTHONPATH entry that shadows the optional packages: importing one records the attempt and fails, as
    if it were not installed."""
    root = tmp_path / "blocked"
    log = tmp_path / "imports.log"
    for name in OPTIONAL:
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_text(
            f"import os\nopen(os.environ['BLOCKED_LOG'], 'a').write('{name}\\n')\n"
            f"raise ModuleNotFoundError('blocked by the test', name='{name}')\n"
        )
    env = {"PYTHONPATH": os.pathsep.join([str(root), str(ROOT)]), "BLOCKED_LOG": str(log)}
    log.write_text("")
    return env, log


def test_verify_needs_no_training_packages(regression_run, blocked):
    out, _ = regression_run
    env, log = blocked
    # as if torch, scikit-learn, scipy and matplotlib were not installed: verify still works
    r = zkdl("verify", out / "proof.zkdl", "--statement", out / "statement.json", env_extra=env)
    assert r.returncode == 0 and r.stdout.startswith("VALID"), r.stderr
    # the only attempt is numba's own optional probe of scipy (numba/__init__.py), which tolerates its absence
    assert set(log.read_text().split()) <= {"scipy"}
    # with everything installed, the verifier still imports none of them (numba imports scipy's top-level package
    # when it is installed; nothing of zkdl's touches it)
    code = (
        "import sys, zkdl, zkdl.cli, zkdl.api; v = zkdl.verify(sys.argv[1], sys.argv[2]); "
        "print(v.valid, [m for m in ('torch', 'sklearn', 'matplotlib') if m in sys.modules])"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(out / "proof.zkdl"), str(out / "statement.json")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert r.stdout.split() == ["True", "[]"], r.stderr


def test_prove_without_the_train_extra_names_it(files, blocked):
    env, _ = blocked
    r = zkdl("prove", "--data", "digits", "--out", files / "never2", env_extra=env)
    one_line_error(r, contains='pip install "zkdl[train]"')
