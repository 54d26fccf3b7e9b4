"""Shared plumbing of the MaxSum / SumSelect mechanisms: input validation, the streaming interface."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dpstream.accounting import EpsDP, Guarantee, as_privacy, zCDP
from dpstream.base import (
    HorizonExceeded,
    InvalidInput,
    InvalidParameter,
    Mechanism,
    check_int,
    check_positive,
    pack_state,
    unpack_state,
)

Privacy = zCDP | EpsDP  # the core's privacy targets (dpstream.accounting)

PROBLEMS = ("maxsum", "sumselect")


def resolve_privacy(privacy: Any = None, *, rho: Any = None, epsilon: Any = None) -> zCDP | EpsDP:
    """The core privacy target from ``privacy=zCDP(...)/EpsDP(...)`` (or its dict form), ``rho=`` or ``epsilon=``."""
    given = [p is not None for p in (privacy, rho, epsilon)]
    if sum(given) != 1:
        raise InvalidParameter("give exactly one of privacy=zCDP(rho=...)/EpsDP(epsilon=...), rho= or epsilon=")
    if privacy is not None:
        return as_privacy(privacy)
    if rho is not None:
        return zCDP(check_positive("rho", rho))
    return EpsDP(check_positive("epsilon", epsilon))


def as_records(xs: Any, dim: int) -> np.ndarray:
    """Validate a batch of records in {0,1}^dim and return it as an int64 array of shape (m, dim)."""
    arr = np.asarray(xs)
    if arr.ndim == 1 and dim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise InvalidInput(f"expected records of dimension {dim} (an array of shape (m, {dim})), got shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InvalidInput(f"records must be numeric 0/1 values, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise InvalidInput("records contain NaN or infinity; every entry must be 0 or 1")
    if arr.size and not np.all((arr == 0) | (arr == 1)):
        raise InvalidInput("records must lie in {0,1}^d: every entry must be 0 or 1")
    return arr.astype(np.int64)


def as_record(x: Any, dim: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim == 0 and dim == 1:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InvalidInput(f"update(x) takes one record of shape ({dim},), got shape {arr.shape}")
    return as_records(arr.reshape(1, -1), dim)


class ProblemMechanism(Mechanism):
    """Streaming interface shared by every MaxSum / SumSelect mechanism.

    Subclasses implement ``_process(records) -> outputs``. MaxSum mechanisms output a float estimate of
    max_j S_t[j]; SumSelect mechanisms output an index in [0, dim).
    """

    kind: str = ""  # method name within the problem: "tree", "svt", "trivial"
    state_kind = "problem"
    problem: str = "maxsum"
    horizon: int  # always bounded (checked in __init__)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__  # registry name, stored as state_dict()["type"]: the class's own name

    def __init__(self, *, horizon: int, dim: int, privacy: Privacy, seed: int | None) -> None:
        self.horizon = check_int("horizon", horizon)
        self.dim = check_int("dim", dim)
        self.privacy = privacy
        self.seed = None if seed is None else check_int("seed (None for OS randomness, or an int)", seed, minimum=0)
        self.t = 0

    # -- the streaming interface ----------------------------------------------------------------------------
    def update(self, x: Any):
        """Feed one record in {0,1}^dim; return the release after it."""
        out = self.update_many(as_record(x, self.dim))
        return out[0].item()

    def update_many(self, xs: Any) -> np.ndarray:
        """Feed a batch of records (shape (m, dim)); return the m releases (vectorized)."""
        recs = as_records(xs, self.dim)
        if self.t + recs.shape[0] > self.horizon:
            raise HorizonExceeded(
                f"this mechanism was calibrated for horizon={self.horizon} items; feeding "
                f"{recs.shape[0]} more after {self.t} would exceed it. "
                "Create a mechanism with a larger horizon."
            )
        if recs.shape[0] == 0:
            return np.zeros(0, dtype=np.int64 if self.problem == "sumselect" else np.float64)
        out = self._process(recs)
        self.t += recs.shape[0]
        return out

    @property
    def guarantee(self) -> Guarantee:
        """The core :class:`~dpstream.accounting.Guarantee` (event level: one record of {0,1}^d replaced)."""
        return self._guarantee()

    def _guarantee(self) -> Guarantee:
        """Default: the privacy target itself (subclasses report what their calibration actually achieves)."""
        return Guarantee(
            rho=self.privacy.implied_rho(),
            epsilon=self.privacy.pure_epsilon,
            seeded=self.seed is not None,
            notes=(f"{type(self).__name__}: event-level, one record of {{0,1}}^d replaced",),
        )

    # -- persistence: every problem's state is the envelope of these fields and its own -----------------------
    _COMMON_FIELDS = ("horizon", "dim", "privacy", "seed", "t")

    def _pack_state(self, **fields: Any) -> dict[str, Any]:
        """This mechanism's state envelope: the fields every problem has, then ``fields``."""
        common = {"horizon": self.horizon, "dim": self.dim, "privacy": self.privacy.to_dict(), "seed": self.seed}
        return pack_state(self.name, self.state_version, {**common, "t": self.t, **fields})

    @classmethod
    def _unpack_state(cls, state: Any, fields: tuple[str, ...] = ()) -> dict[str, Any]:
        """The fields of a state envelope of this mechanism (:func:`dpstream.base.unpack_state`)."""
        return unpack_state(state, cls.name, cls.state_version, cls._COMMON_FIELDS + fields)

    def error_bound(self, beta: float = 0.05) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _process(self, recs: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def trivial_error(horizon: int) -> float:
    """Error of the data-independent answer t/2 (MaxSum) -- always available, costs no privacy."""
    return horizon / 2.0


def fmt_bound(x: float) -> float:
    return float(x) if math.isfinite(x) else math.inf
