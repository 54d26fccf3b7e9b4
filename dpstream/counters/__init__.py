"""Continual counters: a private running sum released after every item of a stream.

    from dpstream import counters
    c = counters.make("binary-tree", horizon=2**20, privacy=counters.zCDP(rho=0.5))
    y = c.update(1)              # private running sum after this item
    ys = c.update_many(bits)     # a batch, identical to calling update in a loop
    c.guarantee                  # Guarantee(rho=..., ...); c.guarantee.approx_dp(1e-6) -> epsilon
    c.error_bound(beta=0.05)     # holds for all steps and coordinates at once with prob >= 0.95
    env = c.save_state(key)      # sealed: HMAC under key, restore-once; counters.from_state_dict(env, key=key)
    d = counters.open("c.db", "binary-tree", horizon=2**20, privacy=counters.zCDP(rho=0.5))  # durable (SQLite)

Mechanisms (``names()``): ``binary-tree``, ``honaker``, ``smooth-binary``, ``square-root``, ``blt``, ``hybrid``.
"""

from __future__ import annotations

from typing import Any

from ..accounting import EpsDP, Guarantee, zCDP
from ..base import InvalidParameter, StateError, check_int, state_mechanism
from ..state import restore_state
from ._blocks import BLOCK_MECHANISM, BlockCounter
from ._core import LinearCounter, NoiseProcess, noiseless
from ._factor import BLT, FactorCounter, SquareRoot, fit_blt, sqrt_coefficients
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
    release_every: int = 1,
    **options: Any,
) -> LinearCounter | BlockCounter:
    """Create a counter.

    * ``horizon``: the stream length T the counter is calibrated for (``None`` only for ``"hybrid"``);
    * ``privacy``: ``zCDP(rho=...)`` (Gaussian noise) or ``EpsDP(epsilon=...)`` (Laplace noise; tree counters);
    * ``dim``: length of one item (vectors in {0,1}^dim or clipped reals), ``bounds``: the range of every
      coordinate, ``clip``: clip out-of-range values instead of raising;
    * ``seed``: None (OS randomness, the default) or an int for reproducible tests and demos (the guarantee then
      says ``seeded=True``);
    * options: ``granularity`` (tree counters: the lattice inputs are rounded to, a power of two),
      ``buffers`` (blt), ``block`` (noise block length);
    * ``release_every``: publish only the running sum after every k-th item: a :class:`BlockCounter`, i.e. the
      counter over ceil(T/k) block sums, with the noise of ceil(T/k) releases instead of T.
    """
    k = check_int("release_every", release_every)
    try:
        cls = _REGISTRY[name]
    except (KeyError, TypeError):
        raise InvalidParameter(f"unknown counter {name!r}; choose one of {names()}") from None
    if privacy is None:
        raise InvalidParameter("privacy is required: pass privacy=zCDP(rho=...) or privacy=EpsDP(epsilon=...)")
    if horizon is None and name != "hybrid":
        raise InvalidParameter(f"{name} needs horizon=T (the stream length); for an unknown T use 'hybrid'")
    if k == 1:
        return cls(horizon, privacy, dim=dim, seed=seed, bounds=bounds, clip=clip, **options)
    if issubclass(cls, FactorCounter):
        # the lattice factorization rounds and bounds its encoder for items within ``bounds``; block sums of k
        # items are not such items (their float-error bound and item lattice would have to be redone)
        raise InvalidParameter(
            f"release_every > 1 is not supported for {name!r} yet; use a tree counter ('binary-tree', 'honaker', "
            "'smooth-binary', 'hybrid') for releases every k items"
        )
    inner = cls(
        BlockCounter.inner_horizon(horizon, k), privacy, dim=dim, seed=seed, bounds=bounds, clip=clip, **options
    )
    return BlockCounter(inner, k, horizon)


def _restore_raw(state: dict) -> LinearCounter | BlockCounter:
    mechanism = state_mechanism(state, "counter")
    if mechanism == BLOCK_MECHANISM:
        return BlockCounter.from_state_dict(state)
    cls = _REGISTRY.get(mechanism)
    if cls is None:
        raise StateError(f"state is for mechanism {mechanism!r}, which is not a counter; counters: {names()}")
    obj = cls.from_state_dict(state)
    _check_carry_shape(obj, state.get("carry"))
    return obj


_CARRY_CHECK_BLOCKS = 64


def _skeleton(v: Any) -> Any:
    """The shape of a JSON value: containers, lengths and which entries are null, not the numbers."""
    if isinstance(v, (list, tuple)):
        return [_skeleton(x) for x in v]
    if isinstance(v, dict):
        return {k: _skeleton(x) for k, x in sorted(v.items())}
    return None if v is None else type(v) is not bool and isinstance(v, (int, float)) and "n"


def _check_carry_shape(obj: LinearCounter, carry: Any) -> None:
    """A restored carry must have the shape the noise process itself has at that position.

    The reference is the same process under another key, run block by block to the state's block (the shape of
    a carry depends on the position only); skipped past ``_CARRY_CHECK_BLOCKS`` blocks to bound the cost.  Its
    values are not checked: only a sealed state authenticates them.
    """
    if obj._blk > _CARRY_CHECK_BLOCKS:
        return
    ref = type(obj)(
        obj.horizon, obj.privacy, dim=obj.dim, bounds=obj.bounds, clip=obj.clip, _entropy=1, **obj._process_kwargs
    )
    while ref._blk < obj._blk:
        ref._next_block()
    if _skeleton(ref.state_dict().get("carry")) != _skeleton(carry):  # the carry as this counter serializes it
        raise StateError(f"state 'carry' does not have the shape of a {obj.name} carry at block {obj._blk}")


def from_state_dict(
    state: dict, key: bytes | None = None, *, ledger: Any = None, trusted: bool = False
) -> LinearCounter | BlockCounter:
    """Restore a counter.

    * a sealed state (``counter.save_state(key)``) with the same ``key``: authenticated (HMAC-SHA256), every
      field validated, restored at most once and never to an older generation (``ledger``: a
      :class:`dpstream.state.Ledger`, default the process's); any failure is a :class:`StateError`;
    * a raw ``state_dict()`` only with ``trusted=True`` (a dict that never left this program): validated the
      same way, but neither authenticated nor restore-once.
    """
    return restore_state(state, "counter", _restore_raw, key, ledger=ledger, trusted=trusted)


def open(path: Any, mechanism: str | None = None, **kwargs: Any) -> Any:  # noqa: A001 (the module's verb)
    """A durable counter kept in the SQLite database at ``path``: see :func:`dpstream.store.open_counter`."""
    from ..store import open_counter  # the store layer sits above the counters

    return open_counter(path, mechanism, **kwargs)


__all__ = [
    "make",
    "open",
    "BlockCounter",
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
