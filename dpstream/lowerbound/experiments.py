"""Error-versus-T experiments: sparse-vector MaxSum, tree MaxSum at several d, and the batch baseline.

Stream: every record is the all-ones vector, so MaxSum_t = t. This is the worst case for the sparse-vector
mechanism (the answer moves at full speed, using the most rounds) and for the tree mechanism (all d columns
tie, so the max over d noisy columns has the largest upward bias). Error = max_t |y_t - MaxSum_t|,
measured over `reps` seeded runs (median reported, plus min/max), next to each mechanism's stated bound.
The batch baseline answers MaxSum once, at time T, with Gaussian noise of variance 1/(2ρ) (sensitivity 1,
ρ-zCDP); its error is |noise|, reported as the median over many draws. The tree curves use the counters'
opt-in `sampler="float"` (floating-point Gaussian node noise) for speed; the privacy demos (tracing) use the
exact default.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from dpstream.problems import MaxSumSVT, MaxSumTree


def _median_max_error(make, T: int, d: int, reps: int, seed: int) -> tuple[np.ndarray, float]:
    errs = []
    truth = np.arange(1, T + 1, dtype=np.float64)
    for r in range(reps):
        m = make(T, d, seed + r)
        if hasattr(m, "_process_queries"):  # q_t = t: feed MaxSum directly (identical outputs, O(T))
            y = m._process_queries(np.arange(1, T + 1, dtype=np.int64))
        else:
            y = np.concatenate(
                [m.update_many(np.ones((b, d), dtype=np.int64)) for b in _batches(T, max(1, 2**22 // d))]
            )
        errs.append(np.abs(y - truth).max())
        bound = m.error_bound(0.05)
    return np.array(errs), bound


def _batches(T: int, size: int):
    for s in range(0, T, size):
        yield min(size, T - s)


def fit_slope(xs, ys) -> float:
    """Least-squares slope of log y against log x."""
    lx, ly = np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float))
    return float(np.polyfit(lx, ly, 1)[0])


def error_vs_T(
    Ts,
    tree_dims,
    *,
    rho: float,
    reps: int,
    seed: int,
    beta: float = 0.05,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """One row per (series, T): measured errors and the stated bound at β."""
    rows = []
    series: list[tuple[str, int, Callable[[int, int, int], MaxSumSVT | MaxSumTree]]]
    series = [("svt", 1, lambda T, d, s: MaxSumSVT(horizon=T, dim=d, rho=rho, beta=beta, seed=s))]
    series += [
        (f"tree_d{d}", d, lambda T, d, s: MaxSumTree(horizon=T, dim=d, rho=rho, seed=s, sampler="float"))
        for d in tree_dims
    ]
    for name, d, make in series:
        for T in Ts:
            errs, bound = _median_max_error(make, int(T), d, reps, seed)
            rows.append(
                {
                    "series": name,
                    "T": int(T),
                    "d": d,
                    "rho": rho,
                    "reps": reps,
                    "median_error": float(np.median(errs)),
                    "min_error": float(errs.min()),
                    "max_error": float(errs.max()),
                    "bound": float(bound),
                }
            )
            if progress:
                progress(f"{name} T={T}: median max-error {np.median(errs):.1f} (bound {bound:.1f})")
    rng = np.random.default_rng(seed)
    sigma = 1.0 / math.sqrt(2.0 * rho)
    for T in Ts:  # batch: Gaussian on the final answer (TODO(core): discrete Gaussian sampler)
        errs = np.abs(rng.normal(0.0, sigma, size=2001))
        rows.append(
            {
                "series": "batch",
                "T": int(T),
                "d": 1,
                "rho": rho,
                "reps": errs.size,
                "median_error": float(np.median(errs)),
                "min_error": float(errs.min()),
                "max_error": float(errs.max()),
                "bound": float(sigma * math.sqrt(2 * math.log(2 / beta))),
            }
        )
    return rows


def error_vs_d(
    T: int, dims, *, rho: float, reps: int, seed: int, progress: Callable[[str], None] | None = None
) -> list[dict]:
    rows = []
    for name, make in (
        ("tree", lambda T, d, s: MaxSumTree(horizon=T, dim=d, rho=rho, seed=s, sampler="float")),
        ("svt", lambda T, d, s: MaxSumSVT(horizon=T, dim=d, rho=rho, seed=s)),
    ):
        for d in dims:
            errs, bound = _median_max_error(make, T, int(d), reps, seed)
            rows.append(
                {
                    "series": name,
                    "T": T,
                    "d": int(d),
                    "rho": rho,
                    "reps": reps,
                    "median_error": float(np.median(errs)),
                    "min_error": float(errs.min()),
                    "max_error": float(errs.max()),
                    "bound": float(bound),
                }
            )
            if progress:
                progress(f"{name} d={d} T={T}: median max-error {np.median(errs):.1f}")
    return rows


def summarize(rows_T: list[dict], rows_d: list[dict]) -> dict:
    """Fitted log-log slopes (in T and in d) and the continual/batch ratio per T."""
    out: dict = {"slope_in_T": {}, "slope_in_d": {}, "ratio_continual_over_batch": {}}
    names = sorted({r["series"] for r in rows_T})
    by = {n: sorted((r for r in rows_T if r["series"] == n), key=lambda r: r["T"]) for n in names}
    for n, rs in by.items():
        out["slope_in_T"][n] = fit_slope([r["T"] for r in rs], [r["median_error"] for r in rs])
    batch = {r["T"]: r["median_error"] for r in by["batch"]}
    for n, rs in by.items():
        if n != "batch":
            out["ratio_continual_over_batch"][n] = {str(r["T"]): r["median_error"] / batch[r["T"]] for r in rs}
    best = {}
    for T in batch:
        cont = [r["median_error"] for n, rs in by.items() if n != "batch" for r in rs if r["T"] == T]
        best[str(T)] = min(cont) / batch[T]
    out["ratio_best_continual_over_batch"] = best
    for n in sorted({r["series"] for r in rows_d}):
        rs = sorted((r for r in rows_d if r["series"] == n), key=lambda r: r["d"])
        out["slope_in_d"][n] = fit_slope([r["d"] for r in rs], [r["median_error"] for r in rs])
    return out
