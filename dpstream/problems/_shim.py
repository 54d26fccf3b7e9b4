"""The few things `dpstream.problems` and `dpstream.lowerbound` need from the core modules.

Everything that should come from `dpstream.base`, `dpstream.noise` and `dpstream.accounting` is imported
here, and only here, so that switching to (or away from) the core implementation is a one-file change.
Where a core symbol is not available, a clearly marked local fallback is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

# --- typed errors (the core's, from dpstream.base) -------------------------------------------------------
try:
    from dpstream.base import (
        DPError,
        HorizonExceeded,
        InvalidInput,
        InvalidParameter,
        Mechanism,
        StateError,
    )
except ImportError:  # pragma: no cover - fallback while the core is absent

    class DPError(Exception):
        """Base class of every dpstream error."""

    class InvalidParameter(DPError, ValueError):
        """A constructor argument is out of range; the message says what to change."""

    class InvalidInput(DPError, ValueError):
        """A stream item has the wrong shape, type or value."""

    class HorizonExceeded(DPError):
        """More items were fed than the horizon the mechanism was calibrated for."""

    class StateError(DPError, ValueError):
        """A state_dict cannot be restored."""

    class Mechanism:  # type: ignore[no-redef]
        """Placeholder of dpstream.base.Mechanism."""


# --- privacy specification ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Privacy:
    """Privacy target of a problem mechanism: ``kind`` is "zcdp" (value ρ) or "pure" (value ε)."""

    kind: str
    value: float

    @property
    def rho(self) -> float:
        """zCDP parameter implied by this target (ε-DP implies ε²/2-zCDP)."""
        return self.value if self.kind == "zcdp" else self.value**2 / 2.0

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value}


def resolve_privacy(
    privacy: Any = None, *, rho: float | None = None, epsilon: float | None = None
) -> Privacy:
    """Accept a core privacy object (with ``rho`` or ``epsilon``), a :class:`Privacy`, or keywords."""
    given = [p is not None for p in (privacy, rho, epsilon)]
    if sum(given) != 1:
        raise InvalidParameter("give exactly one of privacy=, rho= or epsilon=")
    if isinstance(privacy, Privacy):
        kind, value = privacy.kind, privacy.value
    elif privacy is not None:
        r = getattr(privacy, "rho", None)
        e = getattr(privacy, "epsilon", None)
        if r is not None and not callable(r):
            kind, value = "zcdp", r
        elif e is not None and not callable(e):
            kind, value = "pure", e
        else:
            raise InvalidParameter(
                f"privacy={privacy!r} has neither a rho nor an epsilon attribute; pass rho= or epsilon="
            )
        if getattr(privacy, "delta", 0) not in (0, None):
            raise InvalidParameter("(ε, δ) targets are not supported here: pass a zCDP ρ instead")
    elif rho is not None:
        kind, value = "zcdp", rho
    else:
        kind, value = "pure", epsilon
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InvalidParameter(f"privacy parameter must be a number, got {value!r}") from None
    if not math.isfinite(value) or value <= 0:
        name = "rho" if kind == "zcdp" else "epsilon"
        raise InvalidParameter(
            f"{name} must be a finite number > 0, got {value!r}; pass e.g. {name}=0.5"
        )
    return Privacy(kind, value)


# --- randomness ---------------------------------------------------------------------------------------------
def make_rng(seed: int | None) -> np.random.Generator:
    """OS randomness unless a seed is passed (seeds are for tests and reproducible demos only)."""
    if seed is None:
        return np.random.default_rng()
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise InvalidParameter(f"seed must be a non-negative int or None, got {seed!r}")
    return np.random.default_rng(int(seed))


def discrete_laplace(rng: np.random.Generator, scale: float, size: int | tuple[int, ...] | None = None):
    """Discrete Laplace on the integers, P(k) ∝ exp(-|k|/scale).

    Local fallback: the difference of two geometric variables (numpy's sampler, floating point inside).
    TODO(core): switch to the exact sampler of `dpstream.noise` when it offers a vectorized, rng-driven one.
    """
    if not scale > 0:
        raise InvalidParameter(f"discrete Laplace scale must be > 0, got {scale!r}")
    p = -math.expm1(-1.0 / scale)  # success probability 1 - e^{-1/scale}
    shape = () if size is None else ((size,) if isinstance(size, int) else tuple(size))
    g = rng.geometric(p, size=(*shape, 2))  # pairs drawn consecutively: independent of the batching
    return g[..., 0] - g[..., 1]


def discrete_laplace_tail(scale: float, beta: float) -> float:
    """x such that P(|X| > x) <= beta for X ~ discrete Laplace(scale).

    P(|X| >= m) = 2 e^{-m/s} / (1 + e^{-1/s}) <= 2 e^{-m/s}, hence x = s ln(2/beta).
    """
    return scale * math.log(2.0 / beta)


def gumbel(rng: np.random.Generator, scale: float, size: int) -> np.ndarray:
    """Gumbel noise (floating point) for the exponential mechanism via the Gumbel-max trick."""
    return rng.gumbel(0.0, scale, size=size)


# --- exact noise streams (core samplers), independent of how the stream is batched -------------------------
try:
    from dpstream.noise import DiscreteLaplace as _CoreDLap
except ImportError:  # pragma: no cover
    _CoreDLap = None


class LaplaceStream:
    """Discrete Laplace values consumed in order from fixed-size blocks of the core's exact sampler.

    Drawing in fixed blocks makes the values independent of how the consumer batches its requests, so
    ``update`` and ``update_many`` give identical outputs under a seed. Unused values of the current block are
    part of the (secret) state and are never re-drawn.
    """

    def __init__(self, scale: float, rng: np.random.Generator, block: int):
        self.scale, self.rng, self.block = scale, rng, block
        self.buf = np.zeros(0, dtype=np.int64)
        self.pos = 0
        self._sampler = _CoreDLap(scale) if _CoreDLap is not None else None

    def _fill(self) -> np.ndarray:
        if self._sampler is not None:
            return self._sampler.sample(self.rng, self.block).astype(np.int64)
        return discrete_laplace(self.rng, self.scale, size=self.block)  # pragma: no cover

    def take(self, m: int) -> np.ndarray:
        out = np.empty(m, dtype=np.int64)
        got = 0
        while got < m:
            if self.pos >= self.buf.size:
                self.buf, self.pos = self._fill(), 0
            k = min(m - got, self.buf.size - self.pos)
            out[got:got + k] = self.buf[self.pos:self.pos + k]
            self.pos += k
            got += k
        return out

    def state(self, include_rng: bool) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state if include_rng else None,
                "buf": self.buf[self.pos:].tolist() if include_rng else [], "pos": 0}

    def load(self, st: dict[str, Any]) -> None:
        if st["rng"] is not None:
            self.rng.bit_generator.state = st["rng"]
            self.buf, self.pos = np.asarray(st["buf"], dtype=np.int64), 0
