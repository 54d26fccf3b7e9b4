"""`dpstream count`: private running counts of numbers / JSON lines, resumable from a SQLite store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from dpstream import counters
from dpstream.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BITS = [int(b) for b in np.random.default_rng(4).integers(0, 2, size=60)]


def _lines(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines() if x.strip()]


def _write(tmp_path, name, rows) -> str:
    p = tmp_path / name
    p.write_text("".join(f"{r}\n" for r in rows))
    return str(p)


def test_count_from_stdin_subprocess_matches_the_library(tmp_path):
    text = "\n".join(str(b) for b in BITS[:30]) + "\n\n"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "dpstream.cli",
            "count",
            "--horizon",
            "60",
            "--rho",
            "0.5",
            "--seed",
            "9",
            "--checkpoint-every",
            "7",
        ],
        input=text,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=ROOT),
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    rows = _lines(r.stdout)
    want = counters.make("binary-tree", horizon=60, privacy=counters.zCDP(0.5), seed=9).update_many(BITS[:30])
    assert [row["t"] for row in rows] == list(range(1, 31))
    np.testing.assert_array_equal([row["count"] for row in rows], want)


def test_state_resumes_where_it_stopped(tmp_path, capsys):
    key = tmp_path / "key"
    key.write_bytes(os.urandom(32))
    db = str(tmp_path / "c.db")
    first = _write(tmp_path, "a.txt", BITS[:25])
    second = _write(tmp_path, "b.txt", [json.dumps({"v": b}) for b in BITS[25:]])
    assert (
        main(
            [
                "count",
                first,
                "--horizon",
                "60",
                "--rho",
                "0.5",
                "--seed",
                "3",
                "--state",
                db,
                "--key-file",
                str(key),
                "--checkpoint-every",
                "10",
            ]
        )
        == 0
    )
    assert main(["count", second, "--state", db, "--key-file", str(key), "--field", "v"]) == 0
    rows = _lines(capsys.readouterr().out)
    want = counters.make("binary-tree", horizon=60, privacy=counters.zCDP(0.5), seed=3).update_many(BITS)
    assert [row["t"] for row in rows] == list(range(1, 61))
    np.testing.assert_array_equal([row["count"] for row in rows], want)
    s = counters.open(db, key=key.read_bytes())
    assert s.t == 60 and s.answers() == [row["count"] for row in rows]
    s.close()


def test_release_every_prints_only_block_ends(tmp_path, capsys):
    f = _write(tmp_path, "a.txt", BITS[:25])
    assert main(["count", f, "--horizon", "60", "--rho", "0.5", "--release-every", "10", "--seed", "1"]) == 0
    rows = _lines(capsys.readouterr().out)
    assert [r["t"] for r in rows] == [10, 20, 25]
    ref = counters.make("binary-tree", horizon=60, privacy=counters.zCDP(0.5), seed=1, release_every=10)
    want = list(ref.update_many(BITS[:25])) + list(ref.finish())
    np.testing.assert_array_equal([r["count"] for r in rows], want)


@pytest.mark.parametrize(
    "rows,args,code,msg",
    [
        (["1", "abc"], ["--horizon", "10", "--rho", "1"], 2, "line 2: 'abc' is neither a number nor JSON"),
        (["1", "true"], ["--horizon", "10", "--rho", "1"], 2, "line 2: expected a number"),
        (['{"x": 1}'], ["--horizon", "10", "--rho", "1", "--field", "v"], 2, "no field 'v'"),
        (["1", "2"], ["--horizon", "10", "--rho", "1"], 2, "outside bounds"),
        (["1"] * 3, ["--horizon", "2", "--rho", "1"], 2, "larger horizon"),
        (["1"], ["--rho", "1"], 2, "give --horizon"),
        (["1"], ["--horizon", "10", "--rho", "1", "--epsilon", "1"], 2, "one of --rho and --epsilon"),
    ],
)
def test_typed_one_line_errors(tmp_path, capsys, rows, args, code, msg):
    f = _write(tmp_path, "in.txt", rows)
    assert main(["count", f, *args]) == code
    err = capsys.readouterr().err
    assert msg in err and err.startswith("dpstream: error:") and err.count("\n") == 1 and "Traceback" not in err


def test_state_errors(tmp_path, capsys):
    key = tmp_path / "key"
    key.write_bytes(os.urandom(32))
    db = str(tmp_path / "c.db")
    f = _write(tmp_path, "in.txt", ["1", "0"])
    assert main(["count", f, "--state", db]) == 2  # a new store needs its parameters
    assert "does not exist yet" in capsys.readouterr().err
    assert main(["count", f, "--state", db, "--horizon", "10", "--rho", "1", "--key-file", str(key)]) == 0
    capsys.readouterr()
    assert main(["count", f, "--state", db]) == 2  # keyed store, no key
    assert "created with a key" in capsys.readouterr().err
    assert main(["count", f, "--state", db, "--key-file", str(key), "--horizon", "20", "--rho", "1"]) == 2
    assert "exists with parameters" in capsys.readouterr().err
    assert main(["count", str(tmp_path / "missing.txt"), "--horizon", "10", "--rho", "1"]) == 1  # I/O: exit 1
    assert "missing.txt" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["count", f, "--checkpoint-every", "0"])
    assert e.value.code == 2
