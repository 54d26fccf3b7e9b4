"""The streaming interface shared by every dpstream mechanism, and its typed errors.

A mechanism reads a stream ``x_1 .. x_T`` one item (or one batch of items) at a time and publishes an answer after
every item.  Every mechanism exposes

* ``update(x) -> answer``            one item,
* ``update_many(xs) -> answers``     a batch (first axis = time), identical to calling ``update`` in a loop,
* ``guarantee``                      the privacy guarantee as data (:class:`dpstream.accounting.Guarantee`),
* ``error_bound(beta)``              a bound that holds for all steps at once with probability >= 1 - beta,
* ``state_dict()`` / ``from_state_dict(state)``   JSON-able persistence (raw, trusted: inside one program), in
                                     the one envelope of :func:`pack_state` (format, version, mechanism),
* ``save_state(key)``                an authenticated, restore-once envelope of the state (:mod:`dpstream.state`),
* ``stream(iterable)``               a generator of answers over any iterator of items (backpressure).

Errors raised on bad input all derive from :class:`DPError`; each message says what to change.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

__all__ = [
    "DPError",
    "InvalidParameter",
    "InvalidInput",
    "HorizonExceeded",
    "BudgetExceeded",
    "DimensionMismatch",
    "StateError",
    "Mechanism",
    "check_positive",
    "check_horizon",
    "check_probability",
    "STATE_FORMAT",
    "pack_state",
    "unpack_state",
    "state_mechanism",
    "upgrade_legacy_state",
]


class DPError(Exception):
    """Base class of every error raised by dpstream."""


class InvalidParameter(DPError, ValueError):
    """A constructor or method argument is out of its domain (rho <= 0, horizon < 1, beta not in (0, 1), ...)."""


class InvalidInput(DPError, ValueError):
    """A stream item is not acceptable (NaN / infinite, outside the declared bounds, wrong dtype)."""


class DimensionMismatch(InvalidInput):
    """A stream item does not have the mechanism's dimension ``d``."""


class HorizonExceeded(DPError):
    """More items than the horizon ``T`` the mechanism was calibrated for (its privacy proof covers T items)."""


class BudgetExceeded(DPError):
    """The mechanism (or an accountant) would spend more privacy budget than it was given."""


class StateError(DPError, ValueError):
    """A ``state_dict`` cannot be restored (wrong mechanism, wrong version, inconsistent or tampered fields)."""


def check_positive(name: str, value: Any, *, allow_inf: bool = False) -> float:
    """Return ``float(value)`` or raise :class:`InvalidParameter` unless it is a finite number > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidParameter(f"{name} must be a positive number, got {value!r}") from None
    if math.isnan(v) or v <= 0 or (math.isinf(v) and not allow_inf):
        raise InvalidParameter(f"{name} must be a finite number > 0, got {value!r}; pass e.g. {name}=1.0")
    return v


def check_probability(name: str, value: Any) -> float:
    """Return ``float(value)`` or raise :class:`InvalidParameter` unless 0 < value < 1."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidParameter(f"{name} must be a probability in (0, 1), got {value!r}") from None
    if not (0.0 < v < 1.0):
        raise InvalidParameter(f"{name} must be in the open interval (0, 1), got {value!r}; e.g. {name}=0.05")
    return v


def check_int(name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``int(value)`` or raise :class:`InvalidParameter` unless it is an integer (not a bool) in
    ``[minimum, maximum]`` (no upper limit when ``maximum`` is None)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidParameter(f"{name} must be an integer >= {minimum}, got {value!r}")
    v = int(value)
    if v < minimum or (maximum is not None and v > maximum):
        wanted = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise InvalidParameter(f"{name} must be an integer {wanted}, got {value!r}")
    return v


def check_horizon(horizon: Any) -> int:
    """Return the horizon (the stream length T) as an int in [1, 2**40] or raise :class:`InvalidParameter`."""
    if isinstance(horizon, (int, np.integer)) and not isinstance(horizon, bool) and horizon > 2**40:
        raise InvalidParameter(f"horizon {horizon} is larger than the supported 2**40; split the stream")
    return check_int("horizon (the stream length T)", horizon)


# ------------------------------------------------------------------------------------------------------------------
# the one state envelope
# ------------------------------------------------------------------------------------------------------------------

#: the ``format`` of every state dict in dpstream (counters, problems, noise generators, DP-FTRL plans)
STATE_FORMAT = "dpstream-state"
_HEADER = ("format", "version", "mechanism")


def pack_state(mechanism: str, version: int, fields: dict[str, Any]) -> dict[str, Any]:
    """The envelope every ``state_dict()`` returns: ``{"format": "dpstream-state", "version": version,
    "mechanism": mechanism, **fields}``.  ``version`` numbers the layout of this mechanism's fields."""
    return {"format": STATE_FORMAT, "version": version, "mechanism": mechanism, **fields}


def state_mechanism(state: Any, what: str = "dpstream") -> str:
    """The ``mechanism`` named by an envelope (to pick the class that restores it), or :class:`StateError`
    when ``state`` is not an envelope at all."""
    if not isinstance(state, dict):
        raise StateError(f"a {what} state is a dict, got {type(state).__name__}")
    if state.get("format") != STATE_FORMAT:
        raise StateError(
            f"not a {what} state: format is {state.get('format')!r}, expected {STATE_FORMAT!r} "
            "(take states from state_dict() or save_state(key))"
        )
    mechanism = state.get("mechanism")
    if not isinstance(mechanism, str):
        raise StateError(f"{what} state: field 'mechanism' must be a string, got {mechanism!r}")
    return mechanism


def unpack_state(state: Any, mechanism: str, version: int, fields: Any) -> dict[str, Any]:
    """The fields of an envelope made by :func:`pack_state`, after checking its header and its field names.

    :class:`StateError` (naming what is wrong) for: not a dict or not a dpstream state, another mechanism, a
    version other than ``version`` (also a bool or a string), a missing field, an unknown extra field.  The
    values themselves are the caller's to check (each ``from_state_dict``)."""
    got = state_mechanism(state, f"{mechanism!r}")
    if got != mechanism:
        raise StateError(f"state is for mechanism {got!r}, not {mechanism!r}")
    v = state.get("version")
    if type(v) is not int or v != version:
        raise StateError(
            f"{mechanism!r} state has version {v!r}; this dpstream reads version {version} of that mechanism"
        )
    wanted = set(fields)
    missing = sorted(wanted - set(state))
    if missing:
        raise StateError(f"{mechanism!r} state lacks the field(s) {missing}")
    extra = sorted(set(state) - wanted - set(_HEADER))
    if extra:
        raise StateError(f"{mechanism!r} state has unknown field(s) {extra}")
    return {k: state[k] for k in fields}


#: state layouts written before the envelope (dpstream 0.1.0): their ``format`` -> the envelope's mechanism prefix
_LEGACY_FORMATS = {
    "dpstream.counter": "",
    "dpstream.block-counter": "block-counter",
    "dpstream.gradient_noise": "gradient-noise/",
    "dpstream.dpftrl": "dpftrl-noise",
}


def upgrade_legacy_state(state: Any) -> Any:
    """A state in the layout of dpstream 0.1.0 (persisted in sealed states, SQLite stores and checkpoints)
    rewritten into the envelope; anything else is returned unchanged (the loaders then judge it).

    The fields keep their names and meaning; only the header changes: the counters' ``dpstream.counter``,
    the block counter's ``dpstream.block-counter`` (its inner counter upgraded too), the gradient-noise and
    DP-FTRL plan formats (the plan's generator too), and the problems' ``{"type": ClassName, "version": v}``
    (a tree mechanism's counter too).
    """
    if not isinstance(state, dict) or state.get("format") == STATE_FORMAT:
        return state
    fmt = state.get("format")
    if fmt is None and isinstance(state.get("type"), str):  # a MaxSum / SumSelect state
        rest = {k: v for k, v in state.items() if k not in ("type", "version")}
        if "counter" in rest:  # the tree mechanisms hold a counter state
            rest["counter"] = upgrade_legacy_state(rest["counter"])
        return {"format": STATE_FORMAT, "version": state.get("version"), "mechanism": state["type"], **rest}
    if not isinstance(fmt, str) or fmt not in _LEGACY_FORMATS:
        return state
    out = dict(state)
    out["format"] = STATE_FORMAT
    prefix = _LEGACY_FORMATS[fmt]
    if fmt == "dpstream.counter":
        pass
    elif fmt == "dpstream.block-counter":
        out["mechanism"] = prefix
        out["inner"] = upgrade_legacy_state(out.get("inner"))
    elif fmt == "dpstream.gradient_noise":
        out["mechanism"] = f"{prefix}{state.get('mechanism')}"
    else:  # the DP-FTRL plan: its noise mechanism was stored as 'mechanism'
        out["mechanism"] = prefix
        out["noise"] = state.get("mechanism")
        out["generator"] = upgrade_legacy_state(out.get("generator"))
    return {k: out[k] for k in (*_HEADER, *(k for k in out if k not in _HEADER))}


class Mechanism(ABC):
    """A continual-release mechanism: one answer after every stream item.

    Subclasses implement :meth:`update_many` (the vectorized core), :attr:`guarantee`, :meth:`error_bound`,
    :meth:`state_dict` and the classmethod :meth:`from_state_dict`.  :meth:`update` defaults to a batch of one;
    subclasses override it with a faster scalar path where it matters.
    """

    #: registry name, e.g. ``"binary-tree"``; stored in ``state_dict()['mechanism']``
    name: str = "mechanism"
    #: layout version of this mechanism's state fields (``state_dict()['version']``, see :func:`pack_state`)
    state_version: int = 1
    #: dimension of one stream item (1 = scalar stream)
    dim: int = 1
    #: number of items the mechanism is calibrated for (``None`` = unbounded horizon)
    horizon: int | None = None
    #: number of items consumed so far
    t: int = 0
    #: which registry restores this mechanism's state ("counter": dpstream.counters, "problem": dpstream.problems)
    state_kind: str = "mechanism"
    #: a mechanism that publishes one answer per ``release_every`` items (1: after every item)
    release_every: int = 1

    def update(self, x: Any) -> Any:
        """Consume one item and return the answer after it (a float for ``dim == 1``, else an array)."""
        if self.dim == 1:
            return float(self.update_many(np.asarray([x], dtype=float))[0])
        return self.update_many(np.asarray(x, dtype=float).reshape(1, self.dim))[0]

    @abstractmethod
    def update_many(self, xs: Any) -> np.ndarray:
        """Consume a batch (first axis = time) and return the answers, shape ``(n,)`` or ``(n, dim)``."""

    @property
    @abstractmethod
    def guarantee(self) -> Any:
        """The privacy guarantee as data (:class:`dpstream.accounting.Guarantee`)."""

    @abstractmethod
    def error_bound(self, beta: float = 0.05) -> float:
        """A number ``a`` with Pr[max_t |answer_t - truth_t| > a] <= beta over the mechanism's coins."""

    @abstractmethod
    def state_dict(self) -> dict:
        """JSON-able snapshot.  It contains the noise key: store it as secret as the raw data."""

    @classmethod
    @abstractmethod
    def from_state_dict(cls, state: dict) -> Mechanism:
        """Restore a mechanism saved by :meth:`state_dict`; it continues the same stream."""

    def save_state(self, key: bytes) -> dict:
        """The state sealed for storage outside this process: HMAC-SHA256 under ``key`` (>= 16 bytes) over a
        canonical JSON encoding, with the stream's id, a generation number and a restore-once token.  Restore
        it with ``dpstream.counters.from_state_dict(envelope, key=key)`` (or ``dpstream.problems``): a
        tampered field, a second restore, or an older generation raises :class:`StateError`."""
        from .state import seal  # the envelope module sits on this one (it only needs the errors above)

        return seal(self, key, self.state_kind)

    def stream(self, items: Any, checkpoint_every: int = 1024, release_every: int | None = None) -> Any:
        """A generator of the answers to ``items`` (any iterable: a list, a generator, a file reader).

        Items are pulled ``checkpoint_every`` at a time (backpressure: nothing is read ahead of that), fed as
        one batch to :meth:`update_many`, and the batch's answers are yielded after :meth:`_checkpoint` (a no-op
        in memory, a database commit for a durable mechanism: :func:`dpstream.counters.open`).  A mechanism
        built with ``release_every=k`` yields one answer per k items (the last one after the source ends);
        ``release_every`` here only checks that (the noise is calibrated to the releases when the mechanism is
        created: ``counters.make(..., release_every=k)``).
        """
        n = check_int("checkpoint_every", checkpoint_every)
        if release_every is not None and check_int("release_every", release_every) != self.release_every:
            raise InvalidParameter(
                f"this mechanism releases every {self.release_every} item(s); its noise is calibrated to that "
                f"number of releases, so create it with release_every={release_every} "
                f"(counters.make(..., release_every={release_every}) or counters.open(..., release_every=...))"
            )
        return self._stream(iter(items), n)

    def _stream(self, it: Any, n: int) -> Any:
        import itertools

        while True:
            chunk = list(itertools.islice(it, n))
            if not chunk:
                break
            try:
                out = self._stream_batch(chunk)
                self._checkpoint(out)
            except BaseException:
                self._stream_failed()
                raise
            yield from out.tolist()
            if len(chunk) < n:
                break
        try:
            tail = self._stream_end()
            if len(tail):
                self._checkpoint(tail)
        except BaseException:
            self._stream_failed()
            raise
        yield from tail.tolist()

    def _stream_batch(self, chunk: list) -> np.ndarray:
        """Answers to one chunk of a stream (a list of items)."""
        try:
            arr = np.asarray(chunk)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.dtype.kind not in "iuf":
            # strings, bools, ragged rows, objects: the per-item path says precisely which item is wrong
            outs = [self.update(x) for x in chunk]
            return np.asarray([y for y in outs if y is not None])
        return np.asarray(self.update_many(arr))

    def _stream_end(self) -> np.ndarray:
        """Answers owed when the source ends (a partial block of a ``release_every`` mechanism)."""
        return np.zeros(0)

    def _stream_failed(self) -> None:
        """A chunk of a stream failed before its answers were yielded (in memory: nothing to undo)."""
        return None

    def _checkpoint(self, answers: np.ndarray) -> None:
        """Persist the state reached so far with the answers about to be yielded (in memory: nothing to do)."""
        return None

    @property
    def remaining(self) -> int | None:
        """Items left before the horizon (``None`` for an unbounded horizon)."""
        return None if self.horizon is None else self.horizon - self.t

    def _check_room(self, n: int) -> None:
        if self.horizon is not None and self.t + n > self.horizon:
            raise HorizonExceeded(
                f"{self.name}: {self.t} of {self.horizon} items already consumed, cannot take {n} more; "
                f"create the mechanism with a larger horizon (or use the 'hybrid' counter for an unknown one)"
            )
