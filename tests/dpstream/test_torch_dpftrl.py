"""dpstream.torch.DPFTRL: per-example clipping through torch.func, noise and accounting, checkpoints, and a run
killed with SIGKILL and resumed that releases no step with two different noises."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from dpstream.base import InvalidInput, InvalidParameter, StateError  # noqa: E402
from dpstream.torch import DPFTRL, clipped_grad_sum  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))


def _data(n=40, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g) * 3, torch.randint(0, 3, (n,), generator=g)


def test_clipped_grad_sum_equals_a_per_example_loop():
    model = _model()
    x, y = _data(8)
    loss = torch.nn.functional.cross_entropy
    got = clipped_grad_sum(model, loss, x, y, clip_norm=0.7)
    want = [torch.zeros_like(p) for p in model.parameters()]
    for i in range(8):
        model.zero_grad()
        loss(model(x[i : i + 1]), y[i : i + 1]).backward()
        gs = [p.grad.clone() for p in model.parameters()]
        norm = torch.sqrt(sum((g**2).sum() for g in gs))
        assert norm > 0.7  # the data are scaled so that clipping is active
        for w, g in zip(want, gs):
            w += g * min(1.0, 0.7 / float(norm))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("mech", ["blt", "tree", "honaker"])
def test_step_adds_the_plans_noise_and_reports_epsilon(mech):
    model = _model()
    x, y = _data()
    opt = DPFTRL(
        model.parameters(),
        lr=0.1,
        mechanism=mech,
        target_epsilon=4.0,
        delta=1e-5,
        clip_norm=1.0,
        epochs=2,
        batch_size=10,
        dataset_size=40,
        seed=3,
    )
    assert opt.steps == 8 and opt.privacy_report()["epsilon_spent"] == 0.0
    before = [p.detach().clone() for p in model.parameters()]
    idx = opt.batch_indices()
    sums = clipped_grad_sum(model, torch.nn.functional.cross_entropy, x[idx], y[idx], 1.0)
    noise = opt.step_with_grad_sum(sums)
    flat_upd = torch.cat([(b - p.detach()).reshape(-1) for b, p in zip(before, model.parameters())])
    flat_sum = torch.cat([s.reshape(-1) for s in sums])
    torch.testing.assert_close(flat_upd, 0.1 * (flat_sum + noise) / 10, rtol=1e-5, atol=1e-6)  # plain SGD
    eps = []
    for _ in range(7):
        idx = opt.batch_indices()
        opt.private_step(model, torch.nn.functional.cross_entropy, x[idx], y[idx])
        eps.append(opt.privacy_report()["epsilon_spent"])
    assert all(a <= b for a, b in zip(eps, eps[1:])) and eps[-1] == pytest.approx(4.0, rel=1e-9)
    assert "participations" in opt.privacy_report()["unit"]
    assert opt.guarantee.mu == pytest.approx(1 / opt.noise_multiplier)


def test_typed_errors():
    model = _model()
    kw = dict(lr=0.1, noise_multiplier=1.0, epochs=1, batch_size=10, dataset_size=40)
    with pytest.raises(InvalidParameter):
        DPFTRL(model.parameters(), base="lbfgs", **kw)
    with pytest.raises(InvalidParameter):
        DPFTRL(model.parameters(), mechanism="dpsgd", **kw)
    with pytest.raises(InvalidParameter):
        DPFTRL([], **kw)
    opt = DPFTRL(model.parameters(), **kw)
    x, y = _data(9)
    with pytest.raises(InvalidInput):
        opt.private_step(model, torch.nn.functional.cross_entropy, x, y)  # not batch_size examples
    with pytest.raises(InvalidParameter):
        opt.private_step(_model(1), torch.nn.functional.cross_entropy, *_data(10))  # another model's parameters
    other = DPFTRL(_model().parameters(), lr=0.1, noise_multiplier=1.0, epochs=1, batch_size=5, dataset_size=40)
    with pytest.raises(StateError):
        other.load_state_dict(opt.state_dict())
    for change in (dict(mechanism="tree"), dict(epochs=2), dict(clip_norm=2.0)):
        mismatched = DPFTRL(model.parameters(), **{**kw, **change})
        with pytest.raises(StateError):
            mismatched.load_state_dict(opt.state_dict())


def test_import_dpstream_does_not_import_torch():
    code = "import sys, dpstream, dpstream.training, dpstream.counters.gradient_noise; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.stdout.strip() == "False"


CHILD = textwrap.dedent(
    """
    import hashlib, os, secrets, sys, time
    import torch
    from dpstream.torch import DPFTRL
    workdir, mode, stop_after = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    g = torch.Generator().manual_seed(1)
    X, Y = torch.randn(40, 6, generator=g) * 3, torch.randint(0, 3, (40,), generator=g)
    opt = DPFTRL(model.parameters(), lr=0.2, base="momentum", mechanism=os.environ["MECH"], target_epsilon=2.0,
                 clip_norm=1.0, epochs=4, batch_size=10, dataset_size=40)          # OS randomness: no seed
    ckpt = os.path.join(workdir, "ckpt.pt")
    if mode != "fresh":
        state = torch.load(ckpt)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        if mode == "naive":  # what a resume that re-keys the noise would do (negative control)
            opt.plan._entropy = opt.plan._gen._entropy = secrets.randbits(128)
    log = open(os.path.join(workdir, "releases.log"), "a")
    while opt.step_count < opt.steps:
        idx = opt.batch_indices()
        noise = opt.private_step(model, torch.nn.functional.cross_entropy, X[idx], Y[idx])
        flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        h = hashlib.sha256(noise.numpy().tobytes()).hexdigest()[:16]
        m = hashlib.sha256(flat.numpy().tobytes()).hexdigest()[:16]
        log.write(f"{opt.step_count} {h} {m}\\n"); log.flush(); os.fsync(log.fileno())
        if opt.step_count % 3 == 0:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, ckpt + ".tmp")
            os.replace(ckpt + ".tmp", ckpt)
        if opt.step_count == stop_after:
            while True:
                time.sleep(1)   # killed here, after steps past the last checkpoint were released
    """
)


def _releases(path):
    seen = {}
    for line in path.read_text().split("\n"):
        if line:
            t, h, m = line.split()
            seen.setdefault(int(t), set()).add((h, m))
    return seen


def _run_killed_then_resumed(tmp_path, mech, resume_mode):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MECH": mech}
    log = tmp_path / "releases.log"
    child = subprocess.Popen([sys.executable, str(script), str(tmp_path), "fresh", "8"], env=env)
    deadline = time.time() + 120
    while time.time() < deadline and (not log.exists() or len(log.read_text().split("\n")) <= 8):
        assert child.poll() is None, "child exited early"
        time.sleep(0.1)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    subprocess.run([sys.executable, str(script), str(tmp_path), resume_mode, "-1"], env=env, check=True, timeout=120)
    return _releases(log)


@pytest.mark.slow  # a SIGKILLed child and a resume in a new process (~10 s); CI runs the slow set
@pytest.mark.parametrize("mech", ["blt", "tree"])
def test_sigkill_and_resume_releases_no_noise_twice(tmp_path, mech):
    seen = _run_killed_then_resumed(tmp_path, mech, "resume")
    assert sorted(seen) == list(range(1, 17))  # every step released
    # steps 7 and 8 came after the last checkpoint (step 6): released by both runs, with identical noise and model
    assert all(len(v) == 1 for v in seen.values()), {t: v for t, v in seen.items() if len(v) > 1}


@pytest.mark.slow
def test_sigkill_check_catches_a_resume_that_redraws_noise(tmp_path):
    seen = _run_killed_then_resumed(tmp_path, "blt", "naive")
    assert {t for t, v in seen.items() if len(v) > 1} == {7, 8}  # two different noises for the same steps
