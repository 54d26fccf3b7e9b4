"""Algorithm (C): pick, from public parameters only, the mechanism with the smaller stated error bound.

Candidates: the tree-based mechanism (A), the sparse-vector mechanism (B), and the data-independent answer
(t/2 for MaxSum, a fixed index for SumSelect) whose error is at most T/2 (resp. T) and costs no privacy.
The choice depends only on (T, d, privacy, β), so the whole budget goes to the chosen mechanism.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dpstream.accounting import as_privacy
from dpstream.base import InvalidParameter, StateError, check_probability, state_mechanism
from dpstream.problems._common import ProblemMechanism, resolve_privacy
from dpstream.problems.svt import MaxSumSVT, SumSelectSVT
from dpstream.problems.tree import MaxSumTree, SumSelectTree
from dpstream.state import restore_state


class _Trivial(ProblemMechanism):
    kind = "trivial"

    def __init__(self, *, horizon, dim, privacy=None, rho=None, epsilon=None, seed=None, **_):
        super().__init__(
            horizon=horizon, dim=dim, privacy=resolve_privacy(privacy, rho=rho, epsilon=epsilon), seed=seed
        )

    def _process(self, recs):
        ts = np.arange(self.t + 1, self.t + recs.shape[0] + 1)
        return ts / 2.0 if self.problem == "maxsum" else np.zeros(recs.shape[0], dtype=np.int64)

    def error_bound(self, beta: float = 0.05) -> float:
        check_probability("beta", beta)
        return self.horizon / 2.0 if self.problem == "maxsum" else float(self.horizon)

    def state_dict(self) -> dict[str, Any]:
        return self._pack_state()

    @classmethod
    def from_state_dict(cls, state):
        st = cls._unpack_state(state)
        obj = cls(horizon=st["horizon"], dim=st["dim"], privacy=as_privacy(st["privacy"]), seed=st["seed"])
        obj.t = int(st["t"])
        return obj


class MaxSumTrivial(_Trivial):
    """Outputs t/2: error <= T/2, no data used."""

    problem = "maxsum"


class SumSelectTrivial(_Trivial):
    """Always outputs index 0: gap <= T, no data used."""

    problem = "sumselect"


#: the concrete classes (their constructors take rho / epsilon / beta, unlike the abstract base's)
_ProblemClass = (
    type[MaxSumTree]
    | type[MaxSumSVT]
    | type[MaxSumTrivial]
    | type[SumSelectTree]
    | type[SumSelectSVT]
    | type[SumSelectTrivial]
)
_CLASSES: dict[tuple[str, str], _ProblemClass] = {
    ("maxsum", "tree"): MaxSumTree,
    ("maxsum", "svt"): MaxSumSVT,
    ("maxsum", "trivial"): MaxSumTrivial,
    ("sumselect", "tree"): SumSelectTree,
    ("sumselect", "svt"): SumSelectSVT,
    ("sumselect", "trivial"): SumSelectTrivial,
}


def candidate_bounds(
    problem: str, *, horizon: int, dim: int, privacy=None, rho=None, epsilon=None, beta: float = 0.05
) -> dict[str, float]:
    """Stated error bound of each candidate for these public parameters (no randomness used)."""
    if problem not in ("maxsum", "sumselect"):
        raise InvalidParameter(f"problem must be 'maxsum' or 'sumselect', got {problem!r}")
    priv = resolve_privacy(privacy, rho=rho, epsilon=epsilon)
    out = {}
    for method in ("tree", "svt", "trivial"):
        kw = {"beta": beta} if method == "svt" else {}
        m = _CLASSES[(problem, method)](horizon=horizon, dim=dim, privacy=priv, seed=0, **kw)
        out[method] = m.error_bound(beta)
    return out


def make(
    problem: str,
    method: str = "auto",
    *,
    horizon: int,
    dim: int,
    privacy=None,
    rho=None,
    epsilon=None,
    beta: float = 0.05,
    seed: int | None = None,
) -> ProblemMechanism:
    """Build a MaxSum / SumSelect mechanism. method: "tree" (A), "svt" (B), "trivial", or "auto" (C)."""
    if problem not in ("maxsum", "sumselect"):
        raise InvalidParameter(f"problem must be 'maxsum' or 'sumselect', got {problem!r}")
    if method == "auto":
        bounds = candidate_bounds(
            problem, horizon=horizon, dim=dim, privacy=privacy, rho=rho, epsilon=epsilon, beta=beta
        )
        method = min(bounds, key=bounds.__getitem__)
    if (problem, method) not in _CLASSES:
        raise InvalidParameter(f"method must be one of 'auto', 'tree', 'svt', 'trivial'; got {method!r}")
    kw = {"beta": beta} if method == "svt" else {}
    return _CLASSES[(problem, method)](
        horizon=horizon, dim=dim, privacy=privacy, rho=rho, epsilon=epsilon, seed=seed, **kw
    )


def _restore_raw(state: dict[str, Any]) -> ProblemMechanism:
    mechanism = state_mechanism(state, "MaxSum / SumSelect")
    for cls in _CLASSES.values():
        if cls.name == mechanism:
            return cls.from_state_dict(state)
    known = sorted(cls.name for cls in _CLASSES.values())
    raise StateError(f"state is for mechanism {mechanism!r}, which is not a MaxSum / SumSelect one ({known})")


def from_state_dict(
    state: dict[str, Any], key: bytes | None = None, *, ledger: Any = None, trusted: bool = False
) -> ProblemMechanism:
    """Restore a MaxSum / SumSelect mechanism: a sealed state (``m.save_state(key)``) with its key, or a raw
    ``state_dict()`` with ``trusted=True`` (see :func:`dpstream.counters.from_state_dict`)."""
    return restore_state(state, "problem", _restore_raw, key, ledger=ledger, trusted=trusted)


def open(path: Any, problem: str | None = None, method: str = "auto", **kwargs: Any) -> Any:  # noqa: A001
    """A durable MaxSum / SumSelect mechanism kept in the SQLite database at ``path``
    (:func:`dpstream.store.open_problem`)."""
    from dpstream.store import open_problem  # the store layer sits above the problems

    return open_problem(path, problem, method, **kwargs)
