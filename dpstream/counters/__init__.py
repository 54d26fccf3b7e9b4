"""Continual counters: a private running sum released after every item of a stream.

    from dpstream import counters
    c = counters.make("binary-tree", horizon=2**20, privacy=counters.zCDP(rho=0.5))
    y = c.update(1)              # private running sum after this item
    ys = c.update_many(bits)     # a batch, identical to calling update in a loop
    c.guarantee                  # Guarantee(rho=..., ...); c.guarantee.approx_dp(1e-6) -> epsilon
    c.error_bound(beta=0.05)     # holds for all steps and coordinates at once with prob >= 0.95
    state = c.state_dict()       # JSON-able (and secret); counters.from_state_dict(state) continues the stream

Mechanisms (``names()``): ``binary-tree``, ``honaker``, ``smooth-binary``, ``square-root``, ``blt``, ``hybrid``.
"""

from __future__ import annotations

from typing import Any

from ..accounting import EpsDP, Guarantee, zCDP
from ..base import InvalidParameter, StateError
from ._core import LinearCounter, NoiseProcess, noiseless
from ._factor import BLT, SquareRoot, fit_blt, sqrt_coefficients
from ._trees import BinaryTree, Honaker, Hybrid, SmoothBinary

_REGISTRY: dict[str, type[LinearCounter]] = {
    cls.name: cls for cls in (BinaryTree, Honaker, SmoothBinary, SquareRoot, BLT, Hybrid)
}


def names() -> list[str]:
    """The registered counter names."""
    return sorted(_REGISTRY)


def make(
    name: str,
    horizon: int | None = None,
    privacy: Any = None,
    dim: int = 1,
    seed: int | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
    clip: bool = False,
    **options: Any,
) -> LinearCounter:
    """Create a counter.

    * ``horizon``: the stream length T the counter is calibrated for (``None`` only for ``"hybrid"``);
    * ``privacy``: ``zCDP(rho=...)`` (Gaussian noise) or ``EpsDP(epsilon=...)`` (Laplace noise; tree counters);
    * ``dim``: length of one item (vectors in {0,1}^dim or clipped reals), ``bounds``: the range of every
      coordinate, ``clip``: clip out-of-range values instead of raising;
    * ``seed``: None (OS randomness, the default) or an int for reproducible tests and demos (the guarantee then
      says ``seeded=True``);
    * options: ``granularity`` (tree counters: the lattice inputs are rounded to, a power of two),
      ``buffers`` (blt), ``block`` (noise block length).
    """
    try:
        cls = _REGISTRY[name]
    except (KeyError, TypeError):
        raise InvalidParameter(f"unknown counter {name!r}; choose one of {names()}") from None
    if privacy is None:
        raise InvalidParameter("privacy is required: pass privacy=zCDP(rho=...) or privacy=EpsDP(epsilon=...)")
    if horizon is None and name != "hybrid":
        raise InvalidParameter(f"{name} needs horizon=T (the stream length); for an unknown T use 'hybrid'")
    return cls(horizon, privacy, dim=dim, seed=seed, bounds=bounds, clip=clip, **options)


def from_state_dict(state: dict) -> LinearCounter:
    """Restore any counter saved with ``state_dict()``."""
    if not isinstance(state, dict):
        raise StateError(f"a counter state is a dict, got {type(state).__name__}")
    cls = _REGISTRY.get(state.get("mechanism"))
    if cls is None:
        raise StateError(f"state names an unknown mechanism {state.get('mechanism')!r}; known: {names()}")
    return cls.from_state_dict(state)


__all__ = [
    "make",
    "from_state_dict",
    "names",
    "zCDP",
    "EpsDP",
    "Guarantee",
    "LinearCounter",
    "NoiseProcess",
    "BinaryTree",
    "Honaker",
    "SmoothBinary",
    "SquareRoot",
    "BLT",
    "Hybrid",
    "noiseless",
    "fit_blt",
    "sqrt_coefficients",
]
