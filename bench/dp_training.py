"""Private training on digits: DP-FTRL (tree, Honaker), BLT and Opacus DP-SGD against non-private training, plus the
throughput of the gradient-noise generators.

    python bench/dp_training.py                    # eps in {1,2,4,8}, 3 seeds, noise at d = 1e5, 1e6, 1e7
    python bench/dp_training.py --quick            # smoke run (1 seed, eps 8, small d)
    /tmp/opacus-venv/bin/python bench/dp_training.py   # with Opacus (a bench-only environment: see pyproject [bench])

Setup (the same for every method): sklearn digits scaled to [0, 1], a fixed 80/20 split (random_state=0), MLP
64-256-256-10 (ReLU), batch 64, the same number of epochs, clip norm 1, delta = 1e-5, SGD with momentum 0.9 and the
same learning rate.  DP-FTRL/BLT (dpstream.torch.DPFTRL): a fixed secret batch order repeated every epoch
(E participations exactly b = 1437 // 64 = 22 steps apart), noise multiplier calibrated exactly (mu-GDP) for the
target epsilon.  Opacus: Poisson sampling at rate 64/1437, its RDP accountant (make_private_with_epsilon), the
same steps in expectation.  Test accuracy at the end; wall seconds per epoch.

Noise throughput: steps/s of BLTNoise (6 buffers) and TreeNoise in increment mode at d float32 coordinates; the
baseline in the same run is the time of drawing the d float32 normals alone (numpy PCG64), which bounds any
generator that draws fresh noise each step.  Results: bench/results/dp_training.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from dpstream.counters.gradient_noise import BLTNoise, TreeNoise
from dpstream.torch import DPFTRL

BATCH = 64
CLIP = 1.0
DELTA = 1e-5
LR = 0.1
MOMENTUM = 0.9


def data():
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.2, random_state=0, stratify=y)
    f = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return f(Xtr), torch.tensor(ytr), f(Xte), torch.tensor(yte)


def mlp(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)
    )


def accuracy(model, X, y) -> float:
    with torch.no_grad():
        return float((model(X).argmax(1) == y).float().mean())


def run_nonprivate(seed, epochs, D):
    Xtr, ytr, Xte, yte = D
    model = mlp(seed)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    g = torch.Generator().manual_seed(seed)
    steps = Xtr.shape[0] // BATCH
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(Xtr.shape[0], generator=g)
        for s in range(steps):
            idx = perm[s * BATCH : (s + 1) * BATCH]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(Xtr[idx]), ytr[idx]).backward()
            opt.step()
    return {"accuracy": accuracy(model, Xte, yte), "sec_per_epoch": (time.perf_counter() - t0) / epochs}


def run_dpftrl(mech, eps, seed, epochs, D):
    Xtr, ytr, Xte, yte = D
    model = mlp(seed)
    opt = DPFTRL(
        model.parameters(),
        lr=LR,
        base="momentum",
        momentum=MOMENTUM,
        mechanism=mech,
        target_epsilon=eps,
        delta=DELTA,
        clip_norm=CLIP,
        epochs=epochs,
        batch_size=BATCH,
        dataset_size=Xtr.shape[0],
    )
    loss = torch.nn.functional.cross_entropy
    noise_s = 0.0
    t0 = time.perf_counter()
    while opt.step_count < opt.steps:
        idx = opt.batch_indices()
        opt.private_step(model, loss, Xtr[idx], ytr[idx])
    wall = time.perf_counter() - t0
    # noise share: time the generator alone for the same number of steps at the same d
    plan = type(opt.plan)(
        mech,
        opt.plan.dim,
        steps_per_epoch=opt.plan.steps_per_epoch,
        epochs=epochs,
        clip_norm=CLIP,
        noise_multiplier=opt.noise_multiplier,
    )
    t1 = time.perf_counter()
    for _ in range(plan.steps):
        plan.noise()
    noise_s = time.perf_counter() - t1
    rep = opt.privacy_report()
    return {
        "accuracy": accuracy(model, Xte, yte),
        "sec_per_epoch": wall / epochs,
        "noise_share_of_step": noise_s / wall,
        "epsilon": rep["epsilon_spent"],
        "noise_multiplier": opt.noise_multiplier,
        "noise_std": rep["noise_std"],
    }


def run_opacus(eps, seed, epochs, D):
    from opacus import PrivacyEngine  # noqa: PLC0415  (bench-only dependency)

    Xtr, ytr, Xte, yte = D
    model = mlp(seed)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(Xtr, ytr), batch_size=BATCH, generator=torch.Generator().manual_seed(seed)
    )
    engine = PrivacyEngine(accountant="rdp")
    model, opt, loader = engine.make_private_with_epsilon(
        module=model,
        optimizer=opt,
        data_loader=loader,
        epochs=epochs,
        target_epsilon=eps,
        target_delta=DELTA,
        max_grad_norm=CLIP,
        poisson_sampling=True,
    )
    t0 = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in loader:
            if xb.shape[0] == 0:
                continue
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    wall = time.perf_counter() - t0
    return {
        "accuracy": accuracy(model, Xte, yte),
        "sec_per_epoch": wall / epochs,
        "epsilon": engine.get_epsilon(DELTA),
        "noise_multiplier": opt.noise_multiplier,
    }


def noise_throughput(dims, min_seconds=1.0):
    out = []
    for d in dims:
        row = {"d": d}
        rng = np.random.Generator(np.random.PCG64(1))
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < min_seconds or n < 3:
            rng.standard_normal(d, dtype=np.float32)
            n += 1
        row["normals_only_steps_per_s"] = n / (time.perf_counter() - t0)
        for name, cls in (("blt", BLTNoise), ("tree", TreeNoise)):
            g = cls(d, 10**6, std=1.0)
            g.step()  # allocate buffers / compile outside the timing
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < min_seconds or n < 3:
                g.step()
                n += 1
            row[f"{name}_steps_per_s"] = n / (time.perf_counter() - t0)
            row[f"{name}_vectors_held"] = g.vectors_held()
            del g
        print(json.dumps(row), flush=True)
        out.append(row)
    return out


def main() -> None:
    global LR
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--lr", type=float, default=LR, help="learning rate of every method (default 0.1)")
    ap.add_argument(
        "--noise-only",
        action="store_true",
        help="re-measure only the noise throughput and update it in the existing JSON",
    )
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "dp_training.json"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    LR = a.lr
    if a.noise_only:
        res = json.loads(Path(a.out).read_text()) if Path(a.out).exists() else {}
        res["noise_throughput"] = noise_throughput([10**5, 10**6, 10**7])
        res["noise_throughput_note"] = "re-measured alone (--noise-only), no other job of this bench running"
        Path(a.out).write_text(json.dumps(res, indent=1))
        print("wrote", a.out)
        return
    eps_list = [8.0] if a.quick else [1.0, 2.0, 4.0, 8.0]
    seeds = list(range(1 if a.quick else a.seeds))
    epochs = 3 if a.quick else a.epochs
    try:
        import opacus  # noqa: F401, PLC0415

        have_opacus = True
    except ImportError:
        have_opacus = False
        print("opacus is not installed in this environment: DP-SGD rows are skipped", file=sys.stderr)
    D = data()
    res = {
        "setup": {
            "train": int(D[0].shape[0]),
            "test": int(D[2].shape[0]),
            "batch": BATCH,
            "epochs": epochs,
            "clip": CLIP,
            "delta": DELTA,
            "lr": LR,
            "momentum": MOMENTUM,
            "seeds": seeds,
            "model": "MLP 64-256-256-10",
            "torch_threads": 1,
        },
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
        "opacus": have_opacus,
        "runs": [],
    }
    for seed in seeds:
        r = run_nonprivate(seed, epochs, D)
        res["runs"].append({"method": "non-private", "epsilon_target": None, "seed": seed, **r})
        print(json.dumps(res["runs"][-1]), flush=True)
    for eps in eps_list:
        for seed in seeds:
            for mech in ("tree", "honaker", "blt"):
                r = run_dpftrl(mech, eps, seed, epochs, D)
                res["runs"].append({"method": f"dpftrl-{mech}", "epsilon_target": eps, "seed": seed, **r})
                print(json.dumps(res["runs"][-1]), flush=True)
            if have_opacus:
                r = run_opacus(eps, seed, epochs, D)
                res["runs"].append({"method": "opacus-dpsgd", "epsilon_target": eps, "seed": seed, **r})
                print(json.dumps(res["runs"][-1]), flush=True)
    table = {}
    for r in res["runs"]:
        key = f"{r['method']}@{r['epsilon_target']}"
        table.setdefault(key, []).append(r["accuracy"])
    res["summary"] = {k: {"mean": float(np.mean(v)), "std": float(np.std(v)), "n": len(v)} for k, v in table.items()}
    res["noise_throughput"] = noise_throughput([10**4] if a.quick else [10**5, 10**6, 10**7])
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    for k, v in res["summary"].items():
        print(f"{k:28s} {v['mean']:.4f} ± {v['std']:.4f} (n={v['n']})")
    print("wrote", a.out)


if __name__ == "__main__":
    main()
