"""Authenticated, validated, restore-once mechanism states.

A mechanism's ``state_dict()`` holds its secret noise key and the noise it will release next: restoring it twice,
or restoring an older copy, replays that noise on new data (two restores fed 1 and 0 differ by exactly the
data), and editing it changes the mechanism's guarantee.  This module makes the persistence path explicit:

* :func:`seal` wraps ``state_dict()`` in an *envelope*: the state, the stream's random id, a generation number
  (one more at every seal of that stream), a fresh random restore token, and an HMAC-SHA256 tag under a caller
  key over a canonical JSON encoding of all of it (sorted keys, no whitespace, ASCII, no NaN/inf).
* :func:`unseal` checks the tag (constant-time), the envelope's shape, then restores through the mechanism's own
  ``from_state_dict`` with every failure turned into :class:`~dpstream.base.StateError`, and requires the
  restored mechanism to serialize back to exactly the same canonical state (so a coerced type, an extra or
  ignored field, a non-canonical number is refused, not silently normalized).  Last, a :class:`Ledger`
  consumes the restore token and records the generation: restoring one envelope twice, or any envelope of the
  same stream with a generation not above the last restored one (a rewind), raises :class:`StateError`.

The ledger of a process is in memory by default; pass ``Ledger(path)`` (a small SQLite file) to make the
restore-once rule hold across processes.  The key authenticates, it does not encrypt: the envelope still
contains the noise key in the clear, so store it as secret as the raw data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from .base import InvalidParameter, StateError, upgrade_legacy_state

ENVELOPE_FORMAT = "dpstream.sealed-state"
#: 2: the sealed ``state`` is the one envelope of :func:`dpstream.base.pack_state`; 1 (dpstream 0.1.0): the
#: mechanism's earlier layout, still read (upgraded by :func:`dpstream.base.upgrade_legacy_state` after the tag
#: is checked)
ENVELOPE_VERSION = 2
_READ_VERSIONS = (1, 2)
_ENVELOPE_KEYS = frozenset({"format", "version", "kind", "stream", "generation", "token", "state", "mac"})
_DOMAIN = b"dpstream.sealed-state/v1\x00"
MIN_KEY_BYTES = 16

__all__ = [
    "ENVELOPE_FORMAT",
    "canonical_json",
    "check_key",
    "mac",
    "seal",
    "unseal",
    "restore_checked",
    "restore_state",
    "is_sealed",
    "Ledger",
    "process_ledger",
]


# ------------------------------------------------------------------------------------------------------------------
# canonical JSON
# ------------------------------------------------------------------------------------------------------------------


def _plain(obj: Any, where: str) -> Any:
    """The JSON value of ``obj`` with numpy scalars turned into Python ones; StateError for anything else."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        if not math.isfinite(v):
            raise StateError(f"state field {where} is {v!r}; a state holds only finite numbers")
        return v
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise StateError(f"state field {where} has a non-string key {k!r}")
            out[k] = _plain(v, f"{where}.{k}")
        return out
    if isinstance(obj, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    raise StateError(f"state field {where} has type {type(obj).__name__}, which is not JSON")


def canonical_json(obj: Any) -> bytes:
    """One byte string per JSON value: sorted keys, no whitespace, ASCII, finite numbers only."""
    try:  # the C encoder when the value is plain JSON already (every commit of a durable store goes here)
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError):  # numpy scalars, NaN, odd keys: the checked walk converts or names the field
        text = json.dumps(_plain(obj, "$"), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return text.encode("ascii")


def check_key(key: Any) -> bytes:
    """The caller's HMAC key as bytes (at least 16 of them) or :class:`InvalidParameter`."""
    if isinstance(key, str):
        raise InvalidParameter("the state key must be bytes (e.g. secrets.token_bytes(32)), not str")
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise InvalidParameter(f"the state key must be bytes, got {type(key).__name__}")
    key = bytes(key)
    if len(key) < MIN_KEY_BYTES:
        raise InvalidParameter(
            f"the state key must have at least {MIN_KEY_BYTES} bytes, got {len(key)}; use secrets.token_bytes(32)"
        )
    return key


def mac(key: bytes, domain: bytes, body: Any) -> str:
    """HMAC-SHA256 (hex) of ``domain || canonical_json(body)``."""
    return hmac.new(key, domain + canonical_json(body), hashlib.sha256).hexdigest()


# ------------------------------------------------------------------------------------------------------------------
# restore with validation
# ------------------------------------------------------------------------------------------------------------------


def restore_checked(restore: Callable[[dict], Any], state: Any, *, legacy: bool = False) -> Any:
    """``restore(state)`` with every failure raised as :class:`StateError`, and the round-trip check.

    ``legacy=True`` (a container written by dpstream 0.1.0: a version-1 sealed state or store) first rewrites a
    state of that version's layout into the envelope (:func:`dpstream.base.upgrade_legacy_state`); the round
    trip is then checked against the upgraded state.

    The restored mechanism must serialize back to exactly the canonical form of ``state``: a field that was
    coerced (``"t": "5"``), ignored (an unknown extra key), or re-derived differently (a carry that does not fit
    the position) is refused.  Generic over the mechanisms' ``state_dict`` fields.
    """
    if not isinstance(state, dict):
        raise StateError(f"a mechanism state is a dict, got {type(state).__name__}")
    if legacy:
        state = upgrade_legacy_state(state)
    wanted = canonical_json(state)
    try:
        obj = restore(state)
    except StateError:
        raise
    except Exception as e:  # noqa: BLE001 - a restore boundary: whatever a crafted state breaks deep inside
        raise StateError(f"cannot restore state: {type(e).__name__}: {e}") from e
    try:
        again = canonical_json(obj.state_dict())
    except StateError:
        raise
    except Exception as e:  # noqa: BLE001
        raise StateError(f"restored state does not serialize: {type(e).__name__}: {e}") from e
    if again != wanted:
        raise StateError(
            "state is inconsistent: restoring it does not give back the same state "
            f"(first difference at byte {_first_diff(wanted, again)}); it was edited or corrupted"
        )
    return obj


def _first_diff(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


# ------------------------------------------------------------------------------------------------------------------
# restore-once ledger
# ------------------------------------------------------------------------------------------------------------------


class Ledger:
    """Which restore tokens were consumed, and the last restored generation of every stream.

    In memory by default (one per process: :func:`process_ledger`); with ``path`` a SQLite file shared by
    every process that opens it (each consumption is one transaction).
    """

    def __init__(self, path: str | None = None):
        self.path = path
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self._gens: dict[str, int] = {}
        if path is not None:
            try:
                con = sqlite3.connect(path, timeout=30.0, isolation_level=None)
                con.execute("CREATE TABLE IF NOT EXISTS restored (stream TEXT PRIMARY KEY, generation INTEGER)")
                con.execute("CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY)")
                con.close()
            except sqlite3.Error as e:
                raise StateError(f"cannot open the restore ledger {path}: {e}") from e

    def consume(self, stream: str, generation: int, token: str) -> None:
        """Record a restore; StateError if the token was used or the generation is not newer."""
        with self._lock:
            if self.path is None:
                self._check(token in self._tokens, self._gens.get(stream), stream, generation)
                self._tokens.add(token)
                self._gens[stream] = generation
                return
            try:
                con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
                try:
                    con.execute("BEGIN IMMEDIATE")
                    used = con.execute("SELECT 1 FROM tokens WHERE token=?", (token,)).fetchone() is not None
                    row = con.execute("SELECT generation FROM restored WHERE stream=?", (stream,)).fetchone()
                    try:
                        self._check(used, None if row is None else int(row[0]), stream, generation)
                    except StateError:
                        con.execute("ROLLBACK")
                        raise
                    con.execute("INSERT INTO tokens VALUES (?)", (token,))
                    con.execute("INSERT OR REPLACE INTO restored VALUES (?, ?)", (stream, generation))
                    con.execute("COMMIT")
                finally:
                    con.close()
            except sqlite3.Error as e:
                raise StateError(f"cannot record the restore in the ledger {self.path}: {e}") from e

    @staticmethod
    def _check(used: bool, last: int | None, stream: str, generation: int) -> None:
        if used:
            raise StateError(
                "this state was already restored once; restoring it again would replay its noise "
                "on new data (take a new state_dict from the live mechanism instead)"
            )
        if last is not None and generation <= last:
            raise StateError(
                f"stream {stream[:8]}: generation {generation} is not newer than the last restored "
                f"generation {last}; restoring it would rewind the stream and replay its noise"
            )


_PROCESS_LEDGER = Ledger()


def process_ledger() -> Ledger:
    """The in-memory ledger that :func:`unseal` uses when none is given."""
    return _PROCESS_LEDGER


# ------------------------------------------------------------------------------------------------------------------
# seal / unseal
# ------------------------------------------------------------------------------------------------------------------


def is_sealed(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("format") == ENVELOPE_FORMAT


def seal(mechanism: Any, key: bytes, kind: str) -> dict:
    """The envelope of ``mechanism.state_dict()`` (see the module doc); advances the stream's generation."""
    key = check_key(key)
    lineage = getattr(mechanism, "_lineage", None)
    if lineage is None:
        lineage = (secrets.token_hex(16), 0)
    stream, generation = lineage[0], lineage[1] + 1
    body = {
        "format": ENVELOPE_FORMAT,
        "version": ENVELOPE_VERSION,
        "kind": kind,
        "stream": stream,
        "generation": generation,
        "token": secrets.token_hex(16),
        "state": _plain(mechanism.state_dict(), "$"),
    }
    body["mac"] = mac(key, _DOMAIN, body)
    mechanism._lineage = (stream, generation)
    return body


def unseal(envelope: Any, key: bytes, kind: str, restore: Callable[[dict], Any], ledger: Ledger | None = None):
    """Verify and restore an envelope made by :func:`seal`; every failure is a :class:`StateError`."""
    key = check_key(key)
    if not isinstance(envelope, dict) or not isinstance(envelope.get("mac"), str):
        raise StateError("not a sealed dpstream state (no 'mac'); seal states with mechanism.save_state(key)")
    tag = envelope["mac"]
    body = {k: v for k, v in envelope.items() if k != "mac"}
    if not hmac.compare_digest(mac(key, _DOMAIN, body), tag):
        raise StateError(
            "sealed state failed authentication (HMAC-SHA256 mismatch): it was tampered with, or "
            "the key is not the one it was sealed with"
        )
    # authentic from here on; still check the envelope's own fields strictly
    if not is_sealed(envelope) or set(envelope) != _ENVELOPE_KEYS:
        raise StateError(f"sealed state has format {envelope.get('format')!r} and fields {sorted(envelope)}")
    if type(envelope["version"]) is not int or envelope["version"] not in _READ_VERSIONS:
        raise StateError(
            f"sealed state version {envelope['version']!r} is not supported (this dpstream reads {_READ_VERSIONS})"
        )
    if envelope["kind"] != kind:
        raise StateError(f"sealed state is a {envelope['kind']!r} state, not a {kind!r} state")
    stream, generation, token = envelope["stream"], envelope["generation"], envelope["token"]
    if not (isinstance(stream, str) and len(stream) == 32 and isinstance(token, str) and len(token) == 32):
        raise StateError("sealed state: stream id and token must be 32 hex digits")
    if type(generation) is not int or generation < 1:
        raise StateError(f"sealed state: generation must be an int >= 1, got {generation!r}")
    obj = restore_checked(restore, envelope["state"], legacy=envelope["version"] == 1)
    (process_ledger() if ledger is None else ledger).consume(stream, generation, token)
    obj._lineage = (stream, generation)
    return obj


def restore_state(
    state: Any,
    kind: str,
    restore: Callable[[dict], Any],
    key: bytes | None = None,
    *,
    ledger: Ledger | None = None,
    trusted: bool = False,
) -> Any:
    """The one way a ``kind`` ("counter" / "problem") state comes back: a sealed state with its ``key``
    (:func:`unseal`), or a raw ``state_dict()`` only with ``trusted=True`` (:func:`restore_checked`: validated,
    neither authenticated nor restore-once)."""
    if key is not None:
        return unseal(state, key, kind, restore, ledger)
    if is_sealed(state):
        raise StateError("this state is sealed: pass the key it was sealed with, from_state_dict(s, key=...)")
    if not trusted:
        raise StateError(
            f"refusing an unauthenticated {kind} state: seal it with save_state(key) and restore with "
            "from_state_dict(sealed, key=key), or pass trusted=True for a dict that never left this program "
            "(restoring it twice replays its noise)"
        )
    return restore_checked(restore, state)
