"""Chunked runs (zkdl.runs): the statement's step offset, the chain checks of verify_run (every attack: a missing,
duplicated, reordered, truncated or foreign chunk, a broken link), resume, and Ray (a killed worker)."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from run_instances import WIDTHS, chunked_run, data, write_run
from test_training_soundness import rejection  # the verifier-phase spy (which stage rejected)

from zkdl import api
from zkdl.cli import main
from zkdl.errors import RunFormatError, StatementFormatError, VerificationError, ZkdlError
from zkdl.protocol import training
from zkdl.protocol.statement import STATEMENT_KEYS, Statement
from zkdl.quant import BatchSchedule, init_model, quantize_model, train_quantized
from zkdl.runs.manifest import MANIFEST_FILE, RunManifest, check_chain
from zkdl.runs.prover import load_generators

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------- the statement
def test_unchunked_statement_has_no_offset_key_and_offset_is_strict():
    cr = chunked_run(2, 1)
    st0, st1 = list(t.statement for t in cr.tasks())
    assert st0.step_offset == 0 and set(st0.to_dict()) == set(STATEMENT_KEYS)  # today's bytes: no new key
    assert st1.step_offset == 1 and st1.to_dict()["step_offset"] == 1
    assert Statement.from_json(st1.to_json()) == st1
    assert st1.digest() != dataclasses.replace(st1, step_offset=0).digest()
    with pytest.raises(StatementFormatError, match="step_offset"):  # 0 is written by leaving the key out
        Statement.from_dict({**st0.to_dict(), "step_offset": 0})
    with pytest.raises(StatementFormatError, match="step_offset"):
        Statement.from_dict({**st0.to_dict(), "step_offset": True})


def test_chunks_share_data_and_link_weights_byte_for_byte():
    cr = chunked_run(3, 1)
    sts = [t.statement for t in cr.tasks()]
    assert [s.step_offset for s in sts] == [0, 1, 2]
    for a, b in zip(sts, sts[1:]):
        for name in ("X", "Y"):
            assert a.commitments[name].to_bytes() == b.commitments[name].to_bytes()
        for l in (1, 2):
            assert b.commitments[f"W0.{l}"].to_bytes() == a.commitments[f"WT.{l}"].to_bytes()
            assert b.commitments[f"b0.{l}"].to_bytes() == a.commitments[f"bT.{l}"].to_bytes()


def test_training_chunk_by_chunk_is_training_at_once():
    p, X, Y = data()
    q0 = quantize_model(init_model(WIDTHS, seed=1, bias=True), p)
    sched = BatchSchedule(X.shape[0], 3, None)
    whole = train_quantized(q0, X, Y, p, sched, 3)
    first = train_quantized(q0, X, Y, p, sched, 2)
    rest = train_quantized(first.final, X, Y, p, sched, 1, start_step=2)
    assert rest.traces[0].step == 2 and np.array_equal(rest.traces[0].rows, whole.traces[2].rows)
    for a, b in zip(rest.final.weights, whole.final.weights):
        assert np.array_equal(a, b)


# ------------------------------------------------------------------------------------------- chain attacks
def _manifest(root: Path) -> dict:
    return json.loads((root / MANIFEST_FILE).read_text())


def _write_manifest(root: Path, d: dict) -> None:
    (root / MANIFEST_FILE).write_text(json.dumps(d))


def _swap(a: Path, b: Path) -> None:
    tmp = a.with_name("swap")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)


@pytest.fixture(scope="module")
def statements_only_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run") / "run"
    write_run(root, steps=3, chunk_steps=1)
    return root


@pytest.fixture(scope="module")
def foreign_run(tmp_path_factory):
    """Another run with the same shapes and the same arguments (only its blinding factors differ)."""
    root = tmp_path_factory.mktemp("foreign") / "run"
    write_run(root, steps=3, chunk_steps=1)
    return root


def _missing(root, other):
    shutil.rmtree(root / "chunks/0001")


def _duplicated(root, other):
    shutil.rmtree(root / "chunks/0002")
    shutil.copytree(root / "chunks/0001", root / "chunks/0002")


def _reordered(root, other):
    _swap(root / "chunks/0001", root / "chunks/0002")


def _reordered_with_manifest(root, other):
    _swap(root / "chunks/0001", root / "chunks/0002")
    m = _manifest(root)
    d = m["statement_digests"]
    d[1], d[2] = d[2], d[1]
    _write_manifest(root, m)


def _truncated_run(root, other):
    shutil.rmtree(root / "chunks/0002")
    m = _manifest(root)
    m["chunks"], m["statement_digests"] = m["chunks"][:2], m["statement_digests"][:2]
    _write_manifest(root, m)


def _foreign(root, other):
    shutil.rmtree(root / "chunks/0001")
    shutil.copytree(other / "chunks/0001", root / "chunks/0001")


def _foreign_with_manifest(root, other):
    _foreign(root, other)
    m = _manifest(root)
    m["statement_digests"][1] = _manifest(other)["statement_digests"][1]
    _write_manifest(root, m)


def _extra_chunk(root, other):
    shutil.copytree(root / "chunks/0002", root / "chunks/0003")


def _gap_in_manifest(root, other):
    m = _manifest(root)
    m["chunks"][1] = [2, 2]
    _write_manifest(root, m)


ATTACKS = {
    # name: (tamper, the chunk the reason names, words of the reason)
    "missing": (_missing, 1, "missing"),
    "duplicated": (_duplicated, 2, "foreign, reordered or replaced"),
    "reordered": (_reordered, 1, "foreign, reordered or replaced"),
    "reordered-with-manifest": (_reordered_with_manifest, 1, "reordered or duplicated"),
    "truncated": (_truncated_run, None, "truncated"),
    "foreign": (_foreign, 1, "foreign, reordered or replaced"),
    "foreign-with-manifest": (_foreign_with_manifest, 1, "another dataset"),
    "extra-chunk": (_extra_chunk, 3, "unexpected chunk"),
    "gap": (_gap_in_manifest, 1, "gap or an overlap"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_chain_attack_is_rejected_naming_the_chunk(attack, statements_only_run, foreign_run, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(statements_only_run, root)
    tamper, chunk, words = ATTACKS[attack]
    tamper(root, foreign_run)
    res = api.verify_run(root, workers=1)
    assert not res.valid and res.error_type == "ChainError"
    assert res.chunk == chunk and words in res.reason, res.reason
    if chunk is not None:
        assert f"chunk {chunk}" in res.reason or f"chunks/{chunk:04d}" in res.reason
    assert main(["verify", str(root), "--workers", "1"]) == 1


def test_broken_link_is_rejected():
    """Chunk 1 starts from weights other than chunk 0's final ones (its digest listed in the manifest)."""
    cr = chunked_run(3, 1)
    sts = [t.statement for t in cr.tasks()]
    coms = dict(sts[1].commitments)
    coms["W0.2"] = sts[0].commitments["W0.2"]  # a valid commitment, but not chunk 0's final W2
    sts[1] = dataclasses.replace(sts[1], commitments=coms)
    m = RunManifest.of(sts, zero_knowledge=True)
    with pytest.raises(VerificationError, match=r"chunk 1: its initial W0.2 is not chunk 0's final WT.2"):
        check_chain(m, sts)
    honest = RunManifest.of(cr.statements, zero_knowledge=True)
    check_chain(honest, cr.statements)
    final = dataclasses.replace(honest, final={**honest.final, "WT.1": honest.initial["W0.1"]})
    with pytest.raises(VerificationError, match="chunk 2: its final weights are not the run's"):
        check_chain(final, cr.statements)


def test_unreadable_manifest_is_unusable_input(statements_only_run, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(statements_only_run, root)
    m = _manifest(root)
    _write_manifest(root, {**m, "claimed_accuracy": 0.99})
    with pytest.raises(RunFormatError, match="unknown"):
        api.verify_run(root, workers=1)
    assert main(["verify", str(root / MANIFEST_FILE)]) == 2
    _write_manifest(root, {**m, "widths": ["5", 4, 3]})
    with pytest.raises(RunFormatError, match="widths"):
        api.verify_run(root)


# ------------------------------------------------------------------------------------------- Ray is optional
def test_workers_without_ray_fail_at_once_naming_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    argv = ["prove", "--data", "iris", "--widths", "4,4,3", "--steps", "2", "--chunk-steps", "1", "--workers", "2"]
    assert main([*argv, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install "zkdl[cluster]"' in err[0]
    assert not (tmp_path / "r").exists()


def test_resume_refuses_other_arguments(tmp_path):
    """The stored blinding factors are reused only for the same inputs (else two commitments would differ by a
    commitment to the difference of the values with blind zero)."""
    from zkdl.runs.executor import RunDirectory

    RunDirectory(tmp_path).write_blinds({"X": [1, 2]}, "0" * 64)
    with pytest.raises(ZkdlError, match="other arguments"):
        api.prove_run(
            data="iris", widths=[4, 4, 3], batch_size=4, steps=2, chunk_steps=1, workers=1, resume=True,
            out_dir=tmp_path,
        )  # fmt: skip


# ------------------------------------------------------------------------------------------- with proofs
@pytest.mark.slow
def test_offset_cheating_prover_is_rejected_by_the_schedule():
    """Chunk 1's statement says it starts at step 1; a prover that proves step 0's batch under it is caught (the
    verifier derives the batch rows from the offset)."""
    cr = chunked_run(2, 1)
    tasks = list(cr.tasks())
    task = tasks[1]
    st = task.statement
    p, X, Y = data()
    wrong = train_quantized(tasks[0].run.final, X, Y, p, BatchSchedule(X.shape[0], 3, None), 1, start_step=0)
    assert not np.array_equal(wrong.traces[0].rows, task.run.traces[0].rows)
    pp = load_generators(st, task.params_path)
    # the cheater's weights differ, so its final weights do not open WT: give it a statement with its own WT
    from zkdl.commit.pedersen import commit_int
    from zkdl.protocol.shapes import pad_to

    coms, opens = dict(st.commitments), dict(task.openings)
    sh = st.shapes
    for l in (1, 2):
        coms[f"WT.{l}"], opens[f"WT.{l}"] = commit_int(pp, pad_to(wrong.final.weights[l - 1], sh.weight(l)[1:]))
        coms[f"bT.{l}"], opens[f"bT.{l}"] = commit_int(pp, pad_to(wrong.final.biases[l - 1], sh.bias(l)[1:]))
    st = dataclasses.replace(st, commitments=coms)
    proof, _ = training.prove(pp, st, wrong, X, Y, opens, zk=False)  # the ZK prover refuses a false claim itself
    err, phase = rejection(pp, st, proof)
    assert isinstance(err, VerificationError) and phase.startswith("schedule("), (phase, err)


@pytest.fixture(scope="module")
def proven_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("proven") / "run"
    write_run(root, steps=2, chunk_steps=1, prove=True)
    return root


@pytest.mark.slow
def test_run_verifies_and_a_truncated_chunk_proof_is_rejected(proven_run, tmp_path):
    res = api.verify_run(proven_run, workers=1)
    assert res.valid, res.reason
    assert (res.steps, res.chunks, res.widths) == (2, 2, WIDTHS)
    assert main(["verify", str(proven_run / MANIFEST_FILE), "--workers", "1"]) == 0
    # a chunk directory alone is today's one-proof layout: a valid proof of its own steps
    one = api.verify_run(proven_run / "chunks/0001", workers=1)
    assert one.valid and (one.steps, one.chunks) == (1, 1)
    root = tmp_path / "run"
    shutil.copytree(proven_run, root)
    proof = root / "chunks/0001/proof.zkdl"
    proof.write_bytes(proof.read_bytes()[:-100])
    res = api.verify_run(root, workers=1)
    assert not res.valid and res.chunk == 1 and res.error_type == "ProofFormatError"
    assert res.reason.startswith("chunk 1:")


@pytest.mark.slow
def test_chunk_proof_under_a_swapped_statement_is_rejected(proven_run, tmp_path):
    """Swapping only the proofs (statements and manifest in place) fails the proofs' statement binding."""
    root = tmp_path / "run"
    shutil.copytree(proven_run, root)
    _swap(root / "chunks/0000/proof.zkdl", root / "chunks/0001/proof.zkdl")
    res = api.verify_run(root, workers=1)
    assert not res.valid and res.chunk == 0 and res.error_type == "StatementMismatch"


# ------------------------------------------------------------------------------------------- resume, Ray (slow)
IRIS = ["--data", "iris", "--widths", "4,4,3", "--batch", "4", "--quiet", "--json"]


def _zkdl(*args, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "zkdl.cli", *map(str, args)], env=env, **kw)


@pytest.mark.slow
def test_sigkill_then_resume_keeps_the_chunks_already_proven(tmp_path):
    out = tmp_path / "run"
    argv = ["prove", *IRIS, "--steps", "4", "--chunk-steps", "1", "--workers", "1", "--out", out]
    proc = _zkdl(*argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not (out / "chunks/0001/proof.zkdl").exists():
        assert proc.poll() is None and time.time() < deadline, "the prover ended before chunk 1 was written"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / MANIFEST_FILE).exists()
    done = sorted(p.name for p in (out / "chunks").iterdir())
    stamps = {d: (out / "chunks" / d / "proof.zkdl").stat().st_mtime_ns for d in done}
    again = _zkdl(*argv, "--resume", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = again.communicate(timeout=600)
    assert again.returncode == 0, stderr.decode()
    summary = json.loads(stdout)
    assert summary["chunks_resumed"] == [int(d) for d in done]
    assert sorted(summary["chunks_proven"] + summary["chunks_resumed"]) == [0, 1, 2, 3]
    for d, stamp in stamps.items():  # not rewritten
        assert (out / "chunks" / d / "proof.zkdl").stat().st_mtime_ns == stamp
    assert api.verify_run(out, workers=1).valid


@pytest.mark.slow
def test_resume_reproves_a_corrupted_and_a_missing_chunk(tmp_path):
    kw = dict(data="iris", widths=[4, 4, 3], batch_size=4, steps=3, chunk_steps=1, workers=1, verify_after=False)
    first = api.prove_run(out_dir=tmp_path, **kw)
    shutil.rmtree(tmp_path / "chunks/0002")
    proof = tmp_path / "chunks/0001/proof.zkdl"
    proof.write_bytes(proof.read_bytes()[:-1] + b"\0")
    again = api.prove_run(out_dir=tmp_path, resume=True, **kw)
    assert again.summary["chunks_resumed"] == [0] and again.summary["chunks_proven"] == [1, 2]
    assert again.manifest == first.manifest  # same commitments: the blinds were carried over
    assert api.verify_run(tmp_path, workers=1).valid


def _descends_from_this_test(pid: int) -> bool:
    """Whether ``pid`` is a descendant of this process (the embedded Ray's workers are; another user's are not)."""
    me = os.getpid()
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # ppid
        if pid == me:
            return True
    return False


def _kill_one_ray_prover(killed: list, stop: threading.Event) -> None:
    """SIGKILL the first worker of this test's own Ray seen proving a chunk (process title ``ray::prove_chunk``)."""
    while not stop.is_set() and not killed:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"ray::prove_chunk") and _descends_from_this_test(int(pid)):
                time.sleep(1.0)  # let it get into the proof
                try:
                    os.kill(int(pid), signal.SIGKILL)
                    killed.append(int(pid))
                except ProcessLookupError:
                    continue
                return
        time.sleep(0.1)


@pytest.mark.slow
def test_ray_worker_killed_while_proving_is_retried(tmp_path):
    pytest.importorskip("ray")
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_one_ray_prover, args=(killed, stop), daemon=True)
    killer.start()
    try:
        run = api.prove_run(
            data="iris", widths=[4, 4, 3], batch_size=4, steps=3, chunk_steps=1, workers=2, out_dir=tmp_path,
            verify_after=False,
        )  # fmt: skip
    finally:
        stop.set()
        killer.join()
    assert killed, "no Ray worker was seen proving"
    assert sorted(run.summary["chunks_proven"]) == [0, 1, 2]
    assert all(v["pid"] not in killed for v in run.summary["chunk_prove"].values())
    assert api.verify_run(tmp_path, workers=2).valid


def test_a_chunk_task_survives_pickling():
    """Ray ships a task to another process or machine by pickling it (commitments travel as their bytes)."""
    import pickle

    task = next(iter(chunked_run(2, 1).tasks()))
    back = pickle.loads(pickle.dumps(task))
    assert back.statement == task.statement and back.statement.digest() == task.statement.digest()
    assert back.openings == task.openings and np.array_equal(back.X, task.X)


def _sh(*cmd, check=True, timeout=180, **kw):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({p.returncode}): {p.stderr[-3000:]}")
    return p


@pytest.fixture
def two_node_cluster():
    """A 2-node Ray cluster on this machine only: two network namespaces this test creates, joined by a veth pair
    with addresses it picks (10.213.x.1 and .2); the head and the second node each run in one. Torn down
    afterwards (the processes in each namespace are killed by pid, the namespaces deleted with their veth)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 (ip netns)")
    pytest.importorskip("ray")
    tag = f"zk{os.getpid() % 100000}"
    ns = (f"{tag}h", f"{tag}w")
    x = os.getpid() % 250 + 1
    ips = (f"10.213.{x}.1", f"10.213.{x}.2")
    ray_bin = Path(sys.executable).parent / "ray"
    # token authentication with a token of this test's own (never a file in the home directory)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}
    env["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)  # the loopback-only setting refuses a second node
    tmp = Path(tempfile.mkdtemp(prefix="zr", dir="/tmp"))  # short: Ray's unix socket paths are limited
    try:
        for n in ns:
            _sh("ip", "netns", "add", n)
        _sh("ip", "link", "add", f"{tag}a", "type", "veth", "peer", "name", f"{tag}b")
        for n, dev, ip in zip(ns, (f"{tag}a", f"{tag}b"), ips):
            _sh("ip", "link", "set", dev, "netns", n)
            _sh("ip", "-n", n, "addr", "add", f"{ip}/24", "dev", dev)
            _sh("ip", "-n", n, "link", "set", dev, "up")
            _sh("ip", "-n", n, "link", "set", "lo", "up")
        common = ["--num-cpus", "1", "--disable-usage-stats"]
        _sh("ip", "netns", "exec", ns[0], ray_bin, "start", "--head", "--node-ip-address", ips[0], "--port", "6379",
            "--include-dashboard", "false", "--temp-dir", tmp / "h", *common, env=env)  # fmt: skip
        _sh("ip", "netns", "exec", ns[1], ray_bin, "start", "--address", f"{ips[0]}:6379", "--node-ip-address",
            ips[1], "--temp-dir", tmp / "w", *common, env=env)  # fmt: skip
        yield ns[0], f"{ips[0]}:6379", env
    finally:
        for n in reversed(ns):
            pids = _sh("ip", "netns", "pids", n, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _sh("ip", "netns", "del", n, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.slow
def test_two_node_ray_cluster_proves_one_chunk_per_node(two_node_cluster, tmp_path):
    ns_head, address, env = two_node_cluster
    out = tmp_path / "run"
    argv = ["prove", *IRIS, "--steps", "2", "--chunk-steps", "1", "--ray-address", address, "--no-verify"]
    cmd = ["ip", "netns", "exec", ns_head, sys.executable, "-m", "zkdl.cli", *argv, "--out", out]
    p = _sh(*cmd, env=env, check=False, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    summary = json.loads(p.stdout)
    nodes = {v["node"] for v in summary["chunk_prove"].values()}
    assert len(nodes) == 2 and None not in nodes, summary["chunk_prove"]  # each node proved one chunk
    assert api.verify_run(out, workers=1).valid
