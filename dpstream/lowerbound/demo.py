"""`dpstream demo lower-bound`: error-vs-T plots, the reduction and the tracing attack, as files in a folder."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict

import numpy as np

from dpstream.lowerbound.broken import (
    BrokenPerColumnTreeMaxSum,
    BrokenPerColumnTreeSumSelect,
    BrokenReusedNoiseSVTMaxSum,
)
from dpstream.lowerbound.experiments import error_vs_d, error_vs_T, summarize
from dpstream.lowerbound.reduction import marginals_via_maxsum, marginals_via_sumselect
from dpstream.lowerbound.tracing import tracing_attack
from dpstream.problems import MaxSumSVT, MaxSumTree, SumSelectTree


class _DemoConfig(TypedDict):
    Ts: list[int]
    dims: list[int]
    reps: int
    T_d: int
    d_sweep: list[int]
    tree: tuple[int, int, int]
    svt: tuple[int, int, int]
    sumselect: tuple[int, int, int]


CONFIGS: dict[str, _DemoConfig] = {
    # Ts, tree dims, reps | d-sweep T, dims | tracing: (n, d', trials) for tree / svt / sumselect families
    "full": _DemoConfig(
        Ts=[2**k for k in range(8, 17, 2)],
        dims=[1, 16, 256],
        reps=3,
        T_d=2**12,
        d_sweep=[1, 4, 16, 64, 256, 1024],
        tree=(40, 400, 8),
        svt=(300, 6000, 3),
        sumselect=(40, 400, 6),
    ),
    "quick": _DemoConfig(
        Ts=[2**k for k in range(8, 13, 2)],
        dims=[1, 16],
        reps=2,
        T_d=2**10,
        d_sweep=[1, 8, 64],
        tree=(40, 200, 3),
        svt=(150, 3000, 2),
        sumselect=(40, 200, 3),
    ),
}


def _tracing_rows(rho: float, cfg: _DemoConfig, seed: int, say: Callable[[str], None]) -> list[dict]:
    fams = [
        ("tree", "MaxSum", False, MaxSumTree, cfg["tree"]),
        ("tree", "MaxSum", True, BrokenPerColumnTreeMaxSum, cfg["tree"]),
        ("svt", "MaxSum", False, MaxSumSVT, cfg["svt"]),
        ("svt", "MaxSum", True, BrokenReusedNoiseSVTMaxSum, cfg["svt"]),
        ("tree", "SumSelect", False, SumSelectTree, cfg["sumselect"]),
        ("tree", "SumSelect", True, BrokenPerColumnTreeSumSelect, cfg["sumselect"]),
    ]
    rows = []
    for fam, problem, broken, cls, (n, d, trials) in fams:
        t0 = time.perf_counter()
        counter = [0]

        def est(D, cls=cls, problem=problem, counter=counter):
            counter[0] += 1
            s = seed * 1000 + counter[0]
            mk = lambda T, dd: cls(horizon=T, dim=dd, rho=rho, seed=s)  # noqa: E731
            if problem == "MaxSum":
                return marginals_via_maxsum(D, mk).counts
            return marginals_via_sumselect(D, mk).counts

        res = tracing_attack(est, n=n, d=d, trials=trials, seed=seed, kind="counts" if problem == "MaxSum" else "bits")
        se = max(res.auc_se, res.auc_se_bootstrap) if res.auc_se_bootstrap == res.auc_se_bootstrap else res.auc_se
        lo = res.auc - 3 * se
        verdict = "caught (AUC > 0.5 at 3 s.e.)" if lo > 0.5 else "not distinguishable from 0.5"
        row = {
            "mechanism": cls.__name__,
            "problem": problem,
            "family": fam,
            "broken": broken,
            "claimed_rho": rho,
            "n": n,
            "d_prime": d,
            "trials": trials,
            "stream_length": (n + 2 * n * d) if problem == "MaxSum" else (n + n // 2 + 2 * n * d),
            "auc": res.auc,
            "auc_se": se,
            "auc_se_hanley_mcneil": res.auc_se,
            "auc_se_bootstrap_trials": res.auc_se_bootstrap,
            "marginal_error": res.max_abs_error,
            "marginal_error_unit": "max |ĉ_j - c_j| (counts)"
            if problem == "MaxSum"
            else "fraction of wrong bits [c_j > n/2]",
            "verdict": verdict,
            "seconds": round(time.perf_counter() - t0, 2),
        }
        rows.append(row)
        say(f"tracing {cls.__name__}: AUC {res.auc:.3f} ± {res.auc_se:.3f} -> {verdict}")
    return rows


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)


LOWER_BOUND_D = 10**6  # the fixed large d at which the lower-bound curve is drawn


def lower_bound_curve(T: np.ndarray, rho: float, d: int = LOWER_BOUND_D) -> np.ndarray:
    """min{T^(1/3) / eps^(2/3), sqrt(d) / eps, T} with eps = sqrt(2 rho) (the Omega~ of the continual-release
    lower bound for MaxSum, constants and log factors omitted)."""
    eps = np.sqrt(2.0 * rho)
    T = np.asarray(T, dtype=float)
    return np.minimum(np.minimum(T ** (1 / 3) / eps ** (2 / 3), np.sqrt(d) / eps), T)


def _colours(names) -> dict:
    """One colour per series name, the same in every figure."""
    cycle = [
        "tab:blue",
        "tab:orange",
        "tab:green",
        "tab:red",
        "tab:purple",
        "tab:brown",
        "tab:pink",
        "tab:olive",
        "tab:cyan",
        "tab:gray",
    ]
    return {n: cycle[i % len(cycle)] for i, n in enumerate(sorted(set(names)))}


def _plots(out: Path, rows_T, rows_d, summary, tracing, quick: bool = False) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    tag = " [quick mode: small sizes]" if quick else ""
    colour = _colours(
        [r["series"] for r in rows_T] + [r["series"] for r in rows_d] + list(summary["ratio_continual_over_batch"])
    )
    names = sorted({r["series"] for r in rows_T}, key=lambda s: (s != "svt", s != "batch", s))
    fig, ax = plt.subplots(figsize=(7, 5))
    for n in names:
        rs = sorted((r for r in rows_T if r["series"] == n), key=lambda r: r["T"])
        T = np.array([r["T"] for r in rs])
        y = np.array([r["median_error"] for r in rs])
        (line,) = ax.loglog(T, y, "o-", color=colour[n], label=f"{n} (slope {summary['slope_in_T'][n]:.2f})")
        if n != "batch":  # band: min..max over the runs
            ax.fill_between(
                T, [r["min_error"] for r in rs], [r["max_error"] for r in rs], color=line.get_color(), alpha=0.15
            )
            ax.loglog(T, [r["bound"] for r in rs], ":", color=line.get_color())
    svt = sorted((r for r in rows_T if r["series"] == "svt"), key=lambda r: r["T"])
    T0, y0 = svt[-1]["T"], svt[-1]["median_error"]
    Tg = np.array([svt[0]["T"], T0], float)
    ax.loglog(Tg, y0 * (Tg / T0) ** (1 / 3), "k--", lw=1, label="slope 1/3 (through the last svt point)")
    Tall = np.array(sorted({r["T"] for r in rows_T}), float)
    ax.loglog(
        Tall,
        lower_bound_curve(Tall, rows_T[0]["rho"]),
        "k-.",
        lw=1.2,
        label="lower bound min{T^1/3/ε^2/3, √d/ε, T}, d = 10^6 (no constants/logs)",
    )
    ax.set_xlabel("stream length T")
    ax.set_ylabel("max_t |y_t − MaxSum_t|  (median over runs)")
    ax.set_title(f"MaxSum error vs T, ρ = {rows_T[0]['rho']} (dotted: stated bounds, β = 0.05){tag}", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "error_vs_T.png", dpi=120)
    plt.close(fig)
    files.append("error_vs_T.png")

    fig, ax = plt.subplots(figsize=(7, 5))
    for n, ratios in summary["ratio_continual_over_batch"].items():
        Ts = sorted(int(t) for t in ratios)
        ax.loglog(Ts, [ratios[str(t)] for t in Ts], "o-", color=colour[n], label=n)
    ax.set_xlabel("stream length T")
    ax.set_ylabel("continual error / batch error")
    ax.set_title(f"Measured continual / batch error ratio (MaxSum, these mechanisms){tag}", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "ratio_vs_T.png", dpi=120)
    plt.close(fig)
    files.append("ratio_vs_T.png")

    fig, ax = plt.subplots(figsize=(7, 5))
    for n in sorted({r["series"] for r in rows_d}):
        rs = sorted((r for r in rows_d if r["series"] == n), key=lambda r: r["d"])
        ax.loglog(
            [r["d"] for r in rs],
            [r["median_error"] for r in rs],
            "o-",
            color=colour[n],
            label=f"{n} (slope {summary['slope_in_d'][n]:.2f})",
        )
    ax.set_xlabel("dimension d")
    ax.set_ylabel("max_t |y_t − MaxSum_t|  (median over runs)")
    ax.set_title(f"MaxSum error vs d at T = {rows_d[0]['T']}{tag}", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "error_vs_d.png", dpi=120)
    plt.close(fig)
    files.append("error_vs_d.png")

    fig, ax = plt.subplots(figsize=(8, 4.5))
    labels = [r["mechanism"].replace("Broken", "BROKEN ") for r in tracing]
    colors = ["tab:red" if r["broken"] else "tab:blue" for r in tracing]
    ax.barh(labels, [r["auc"] for r in tracing], xerr=[3 * r["auc_se"] for r in tracing], color=colors)
    ax.axvline(0.5, color="k", lw=1)
    ax.set_xlim(0.3, 1.0)
    ax.set_xlabel("tracing-attack AUC (bars: ±3 s.e., the larger of bootstrap-over-trials and Hanley–McNeil)")
    ax.set_title(f"Tracing attack on marginals read out through the reduction{tag}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "tracing_auc.png", dpi=120)
    plt.close(fig)
    files.append("tracing_auc.png")
    return files


def run_lower_bound_demo(
    out_dir, *, quick: bool = False, rho: float = 0.5, seed: int = 0, progress: Callable[[str], None] | None = None
) -> dict:
    """Run every experiment, write PNG/CSV/JSON into ``out_dir`` and return the summary dictionary."""
    say = progress or (lambda s: None)
    cfg = CONFIGS["quick" if quick else "full"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    say("error vs T ...")
    rows_T = error_vs_T(cfg["Ts"], cfg["dims"], rho=rho, reps=cfg["reps"], seed=seed, progress=say)
    say("error vs d ...")
    rows_d = error_vs_d(cfg["T_d"], cfg["d_sweep"], rho=rho, reps=cfg["reps"], seed=seed, progress=say)
    summary = summarize(rows_T, rows_d)
    say("reduction + tracing attack ...")
    tracing = _tracing_rows(rho, cfg, seed, say)
    _write_csv(out / "error_vs_T.csv", rows_T)
    _write_csv(out / "error_vs_d.csv", rows_d)
    _write_csv(out / "tracing.csv", tracing)
    files = _plots(out, rows_T, rows_d, summary, tracing, quick=quick)
    result = {
        "mode": "quick" if quick else "full",
        "rho": rho,
        "seed": seed,
        "note": "seeded run: a reproducible demo, not a private release",
        **summary,
        "tracing": tracing,
        "points": {"error_vs_T": rows_T, "error_vs_d": rows_d},
        "files": files + ["error_vs_T.csv", "error_vs_d.csv", "tracing.csv", "summary.json"],
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / "summary.json").write_text(json.dumps(result, indent=2))
    return result


def format_summary(res: dict) -> str:
    lines = [
        f"dpstream lower-bound demo ({res['mode']}, rho={res['rho']}, {res['seconds']} s)",
        "fitted log-log slope of error in T:",
    ]
    for n, s in res["slope_in_T"].items():
        lines.append(f"  {n:12s} {s:+.3f}")
    lines.append(
        "fitted slope in d (tree ~ 1/2, svt ~ 0): " + ", ".join(f"{n} {s:+.3f}" for n, s in res["slope_in_d"].items())
    )
    Tmax = max(int(t) for t in res["ratio_continual_over_batch"]["svt"])
    lines.append(
        f"continual/batch error ratio at T={Tmax}: "
        + ", ".join(f"{n} {r[str(Tmax)]:.0f}" for n, r in res["ratio_continual_over_batch"].items())
    )
    lines.append("tracing attack on the reduction (AUC ± s.e.):")
    for r in res["tracing"]:
        tag = "BROKEN " if r["broken"] else "correct"
        lines.append(f"  [{tag}] {r['mechanism']:30s} AUC {r['auc']:.3f} ± {r['auc_se']:.3f}  {r['verdict']}")
    lines.append("files: " + ", ".join(res["files"]))
    return "\n".join(lines)
