"""Durable mechanisms: a counter (or MaxSum / SumSelect) kept in an embedded SQLite database.

    from dpstream import counters
    with counters.open("clicks.db", "binary-tree", horizon=2**20, privacy=counters.zCDP(rho=0.5),
                       key=key) as c:
        y = c.update(1)         # committed (state + this answer) before it is returned
        c.answer(c.releases)    # any released answer, read back from the database

Every ``update`` / ``update_many`` / ``stream`` checkpoint is one SQLite transaction (WAL journal,
``synchronous=FULL`` by default) that writes the mechanism's state and the answers it releases, and only then are
the answers returned.  So after ``kill -9`` (or a power cut, with FULL) the store reopens at the last released
step: an answer is either committed with the state that produced it (the caller reads it back with
:meth:`Durable.answer`, it is never drawn again) or it was never returned.  The database also holds

* an exclusive lock: the connection runs in SQLite's EXCLUSIVE locking mode and takes the write lock at open, so a
  second open (another process, or this one) gets :class:`StoreLocked`; the operating system drops the lock when
  the holder dies, so a killed process never leaves a stale lock;
* a generation number, one more at every commit and every open, bound with the state and the answers under the
  HMAC key (when one is given): a state row from another copy or an older copy of the file fails the check, the
  releases must be contiguous and end where the state says.  A :class:`dpstream.state.Ledger` file (``ledger=``)
  remembers the highest generation seen for every store id: a rewound or forked copy of the file (restored from a
  backup, or copied and opened elsewhere) has a lower generation and is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
from collections.abc import Callable
from typing import Any

import numpy as np

from .accounting import EpsDP, zCDP
from .base import DPError, InvalidParameter, Mechanism, StateError
from .state import Ledger, canonical_json, check_key, mac, restore_checked

STORE_FORMAT = "dpstream.store"
#: 2: the head row's state is the one envelope of :func:`dpstream.base.pack_state`; a version-1 store (dpstream
#: 0.1.0, the mechanisms' earlier state layouts) is still opened, and rewritten to version 2 by that open
STORE_VERSION = 2
_LEGACY_STORE_VERSION = 1
_HEAD_DOMAIN = b"dpstream.store.head/v1\x00"
_ROW_DOMAIN = b"dpstream.store.releases/v1\x00"
_SYNC = {"full": "FULL", "normal": "NORMAL"}

__all__ = ["Durable", "StoreError", "StoreLocked", "open_counter", "open_problem", "open_store"]


class StoreError(DPError):
    """The database cannot be used (I/O error, not a dpstream store, a commit failed)."""


class StoreLocked(StoreError):
    """The store is already open (in another process, or in this one)."""


def _restorer(kind: str) -> Callable[[dict[str, Any]], Mechanism]:
    if kind == "counter":
        from .counters import _restore_raw as restore_counter

        return restore_counter
    from .problems.combined import _restore_raw as restore_problem

    return restore_problem


class _Ledger(Ledger):
    """Highest generation per store id (the ledger's 'restored' table doubles as the high-water mark)."""

    def __init__(self, path: str):
        super().__init__(path)
        self._con = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self._con.execute("PRAGMA journal_mode=WAL")

    def seen(self, store_id: str) -> int | None:
        row = self._con.execute("SELECT generation FROM restored WHERE stream=?", (store_id,)).fetchone()
        return None if row is None else int(row[0])

    def record(self, store_id: str, generation: int) -> None:
        """Raise the high-water mark of ``store_id`` to ``generation`` (never lowers it)."""
        try:
            self._con.execute(
                "INSERT INTO restored VALUES (?, ?) ON CONFLICT(stream) DO UPDATE SET "
                "generation = MAX(generation, excluded.generation)",
                (store_id, generation),
            )
        except sqlite3.Error as e:
            raise StoreError(f"ledger {self.path}: {e}") from e

    def close(self) -> None:
        self._con.close()


class Durable(Mechanism):
    """A mechanism whose every release is committed to SQLite before it is returned (see the module doc)."""

    def __init__(
        self,
        con: sqlite3.Connection,
        path: str,
        kind: str,
        store_id: str,
        mech: Mechanism,
        key: bytes | None,
        generation: int,
        releases: int,
        ledger: _Ledger | None,
    ):
        self._con: sqlite3.Connection | None = con
        self.path, self.kind, self.store_id = path, kind, store_id
        self._mech, self._key, self.generation, self.releases = mech, key, generation, releases
        self._ledger = ledger
        self.state_kind = kind

    # -- the streaming interface (delegated) ----------------------------------------------------------------
    @property
    def mechanism(self) -> Mechanism:
        """The in-memory mechanism (read-only use: feeding it directly bypasses the store)."""
        return self._mech

    @property
    def name(self) -> str:  # type: ignore[override]
        return self._mech.name

    @property
    def dim(self) -> int:  # type: ignore[override]
        return self._mech.dim

    @property
    def horizon(self) -> int | None:  # type: ignore[override]
        return self._mech.horizon

    @property
    def t(self) -> int:  # type: ignore[override]
        return self._mech.t

    @property
    def release_every(self) -> int:  # type: ignore[override]
        return getattr(self._mech, "release_every", 1)

    @property
    def guarantee(self):
        return self._mech.guarantee

    def error_bound(self, beta: float = 0.05) -> float:
        return self._mech.error_bound(beta)

    def update(self, x: Any) -> Any:
        self._check_open()
        try:
            y = self._mech.update(x)
        except BaseException:
            self._reload()  # nothing of this call was released: back to the committed state
            raise
        self._commit(np.zeros(0) if y is None else np.asarray([y]))
        return y

    def update_many(self, xs: Any) -> np.ndarray:
        self._check_open()
        try:
            ys = np.asarray(self._mech.update_many(xs))
        except BaseException:
            self._reload()
            raise
        self._commit(ys)
        return ys

    def finish(self) -> np.ndarray:
        """Release a pending partial block (``release_every`` > 1), committed first."""
        self._check_open()
        fin = getattr(self._mech, "finish", None)
        out = np.zeros(0) if fin is None else np.asarray(fin())
        if len(out):
            self._commit(out)
        return out

    def stream(
        self, items: Any, checkpoint_every: int = 1000, release_every: int | None = None, finish: bool = True
    ) -> Any:
        """Answers to ``items``, committed every ``checkpoint_every`` items before they are yielded.

        A crash loses only the items of the chunk in flight, none of whose answers was yielded; reopen and read
        ``t`` to know where to resume the source.  ``finish=False`` keeps a partial block pending at the end.
        A chunk that fails (a bad item, a failed commit) releases nothing: the store goes back to its last
        commit and the error propagates.
        """
        self._check_open()
        self._finish_at_end = finish
        return Mechanism.stream(self, items, checkpoint_every, release_every)

    def save_state(self, key: bytes) -> dict:
        raise StateError(
            "a durable store's state cannot be exported: a restored copy would fork the stream that "
            "the store's lock and generation keep single; move the database file instead"
        )

    def _stream_failed(self) -> None:
        self._reload()

    def _stream_batch(self, chunk: list) -> np.ndarray:
        return self._mech._stream_batch(chunk)

    def _stream_end(self) -> np.ndarray:
        fin = getattr(self._mech, "finish", None)
        if fin is None or not getattr(self, "_finish_at_end", True):
            return np.zeros(0)
        return np.asarray(fin())

    def _checkpoint(self, answers: np.ndarray) -> None:
        self._commit(np.asarray(answers))

    # -- reading back -----------------------------------------------------------------------------------------
    def answer(self, n: int) -> Any:
        """The n-th released answer (1-based), read from the database."""
        got = self.answers(n, n)
        if not got:
            raise InvalidParameter(f"release {n} does not exist (this store has {self.releases})")
        return got[0]

    def answers(self, first: int = 1, last: int | None = None) -> list:
        """Released answers first..last (1-based, inclusive), as committed."""
        con = self._check_open()
        last = self.releases if last is None else min(last, self.releases)
        if first < 1 or last < first:
            return []
        rows = con.execute(
            "SELECT first, count, generation, dtype, shape, data, mac FROM releases "
            "WHERE first <= ? AND first + count > ? ORDER BY first",
            (last, first),
        ).fetchall()
        out: list = []
        for row in rows:
            vals = self._decode_row(row)
            lo, hi = max(first, row[0]), min(last, row[0] + row[1] - 1)
            out.extend(vals[lo - row[0] : hi - row[0] + 1])
        return out

    # -- lifecycle -----------------------------------------------------------------------------------------
    def close(self) -> None:
        """Release the lock (the state is already committed)."""
        if self._con is None:
            return
        self._con.close()
        self._con = None
        if self._ledger is not None:
            self._ledger.close()

    def __enter__(self) -> Durable:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # a forgotten store must not keep its lock for the life of the process
        con = getattr(self, "_con", None)
        if con is not None:
            con.close()

    def state_dict(self) -> dict:
        return self._mech.state_dict()

    @classmethod
    def from_state_dict(cls, state: dict) -> Mechanism:
        raise StateError("a durable mechanism is restored by opening its database, not from a state dict")

    def __repr__(self) -> str:
        return f"Durable({self.path!r}, {self._mech!r}, generation={self.generation}, releases={self.releases})"

    # -- internals -----------------------------------------------------------------------------------------
    def _check_open(self) -> sqlite3.Connection:
        """The open connection; StoreError once the store is closed."""
        if self._con is None:
            raise StoreError(f"store {self.path} is closed")
        return self._con

    def _commit(self, answers: np.ndarray) -> None:
        gen = self.generation + 1
        n = int(answers.shape[0]) if answers.ndim else 1
        first = self.releases + 1
        try:
            state = canonical_json(self._mech.state_dict()).decode("ascii")
            con = self._check_open()  # (every caller has checked it already)
            con.execute("BEGIN IMMEDIATE")
            try:
                if n:
                    dtype, shape, data = _encode(answers)
                    row_mac = self._row_mac(first, n, gen, dtype, shape, data)
                    con.execute(
                        "INSERT INTO releases VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (first, n, gen, dtype, shape, data, row_mac),
                    )
                head_mac = self._head_mac(gen, self._mech.t, first - 1 + n, state)
                con.execute(
                    "UPDATE head SET generation=?, t=?, releases=?, state=?, mac=? WHERE id=1",
                    (gen, self._mech.t, first - 1 + n, state, head_mac),
                )
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
        except (sqlite3.Error, OSError) as e:
            self._reload()
            raise StoreError(f"store {self.path}: commit failed ({e}); nothing of this call was released") from e
        self.generation = gen
        self.releases = first - 1 + n
        if self._ledger is not None:  # after the commit: the database is never behind the ledger
            self._ledger.record(self.store_id, gen)

    def _reload(self) -> None:
        """Back to the committed state (after a failed update or commit: nothing of it was released)."""
        if self._con is None:
            return
        row = self._con.execute("SELECT generation, t, releases, state, mac FROM head WHERE id=1").fetchone()
        self._mech = _verify_head(self.path, self.kind, self._key, self.store_id, row)
        self.generation, self.releases = int(row[0]), int(row[2])

    def _head_mac(self, gen: int, t: int, releases: int, state: str) -> str | None:
        return _head_tag(self._key, self.store_id, gen, t, releases, state)

    def _row_mac(self, first: int, n: int, gen: int, dtype: str, shape: str, data: bytes) -> str | None:
        if self._key is None:
            return None
        return mac(
            self._key, _ROW_DOMAIN, [self.store_id, first, n, gen, dtype, shape, hashlib.sha256(data).hexdigest()]
        )

    def _decode_row(self, row) -> list:
        first, n, gen, dtype, shape, data, tag = row
        if self._key is not None and not _eq(self._row_mac(first, n, gen, dtype, shape, data), tag):
            raise StateError(
                f"store {self.path}: the releases from {first} failed authentication (tampered, or another key)"
            )
        try:
            dims = json.loads(shape)
            arr = np.frombuffer(data, dtype=np.dtype(dtype)).reshape([n, *dims])
        except (ValueError, TypeError) as e:
            raise StateError(f"store {self.path}: release row {first} is corrupt ({e})") from e
        return arr.tolist()


def _eq(a: str | None, b: Any) -> bool:
    import hmac

    return isinstance(b, str) and a is not None and hmac.compare_digest(a, b)


def _encode(answers: np.ndarray) -> tuple[str, str, bytes]:
    a = np.ascontiguousarray(answers)
    if a.dtype.kind == "b" or a.dtype.kind in "iu":
        a = a.astype("<i8")
    else:
        a = a.astype("<f8")
    return a.dtype.str, json.dumps(list(a.shape[1:])), a.tobytes()


def _head_tag(key: bytes | None, store_id: str, gen: int, t: int, releases: int, state: str) -> str | None:
    """The head row's MAC (None for an unkeyed store)."""
    if key is None:
        return None
    return mac(key, _HEAD_DOMAIN, [store_id, gen, t, releases, hashlib.sha256(state.encode("ascii")).hexdigest()])


def _verify_head(path: str, kind: str, key: bytes | None, store_id: str, row, legacy: bool = False) -> Mechanism:
    if row is None:
        raise StateError(f"store {path} has no state row")
    gen, t, releases, state, tag = row
    if key is not None and not _eq(_head_tag(key, store_id, int(gen), int(t), int(releases), state), tag):
        raise StateError(
            f"store {path}: the state failed authentication (HMAC-SHA256): it was edited, "
            f"copied from another store, or the key is wrong"
        )
    if key is None and tag is not None:
        raise StateError(f"store {path} was created with a key: pass key=... to open it")
    try:
        payload = json.loads(state)
    except ValueError as e:
        raise StateError(f"store {path}: the state row is not JSON ({e})") from e
    mech = restore_checked(_restorer(kind), payload, legacy=legacy)
    if mech.t != t:
        raise StateError(f"store {path}: state row says t={t}, its state t={mech.t}")
    return mech


def open_store(
    path: Any,
    kind: str,
    build: Any,
    *,
    key: bytes | None = None,
    synchronous: str = "full",
    ledger: str | None = None,
    spec: dict | None = None,
) -> Durable:
    """Open (or create with ``build()``) the store at ``path``; see :func:`open_counter`."""
    path = os.fspath(path)
    if key is not None:
        key = check_key(key)
    sync = _SYNC.get(str(synchronous).lower())
    if sync is None:
        raise InvalidParameter(f"synchronous must be 'full' or 'normal', got {synchronous!r}")
    led = _Ledger(ledger) if ledger is not None else None
    existed = os.path.exists(path)
    try:
        con = sqlite3.connect(path, timeout=0.0, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as e:
        raise StoreError(f"cannot open store {path}: {e}") from e
    try:
        try:
            con.execute("PRAGMA locking_mode=EXCLUSIVE")
            con.execute("BEGIN EXCLUSIVE")  # the lock, held until close (EXCLUSIVE locking mode)
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise StoreLocked(
                    f"store {path} is already open (another process, or this one, holds its lock); close it first"
                ) from None
            raise
        con.execute("COMMIT")
        if con.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
            raise StoreError(f"store {path}: cannot switch the journal to WAL")
        con.execute(f"PRAGMA synchronous={sync}")
        con.execute("BEGIN IMMEDIATE")
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            store = _create(con, path, kind, build, key, spec)
        else:
            store = _reopen(con, path, kind, key, spec, tables)
        if led is not None:
            seen = led.seen(store.store_id)
            if seen is not None and store.generation < seen:
                raise StateError(
                    f"store {path} is at generation {store.generation} but the ledger {ledger} saw "
                    f"generation {seen}: this file is an older or forked copy (continuing it would "
                    f"release steps again with the noise already published)"
                )
        # an open is a commit too: the generation moves, so a copy taken before this open is older
        store.generation += 1
        con.execute(
            "UPDATE head SET generation=?, mac=? WHERE id=1",
            (
                store.generation,
                store._head_mac(
                    store.generation,
                    store._mech.t,
                    store.releases,
                    con.execute("SELECT state FROM head WHERE id=1").fetchone()[0],
                ),
            ),
        )
        con.execute("COMMIT")
        store._ledger = led
        if led is not None:
            led.record(store.store_id, store.generation)
        return store
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        con.close()
        if led is not None:
            led.close()
        if not existed:  # a store that failed to be created leaves no empty file behind
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
        raise


def _create(con, path, kind, build, key, spec) -> Durable:
    if build is None:
        raise InvalidParameter(
            f"store {path} does not exist yet: give the mechanism and its parameters (e.g. horizon=..., privacy=...)"
        )
    mech = build()
    store_id = secrets.token_hex(16)
    con.execute("CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
    con.execute(
        "CREATE TABLE head (id INTEGER PRIMARY KEY CHECK (id = 1), generation INTEGER NOT NULL, "
        "t INTEGER NOT NULL, releases INTEGER NOT NULL, state TEXT NOT NULL, mac TEXT)"
    )
    con.execute(
        "CREATE TABLE releases (first INTEGER PRIMARY KEY, count INTEGER NOT NULL, "
        "generation INTEGER NOT NULL, dtype TEXT NOT NULL, shape TEXT NOT NULL, data BLOB NOT NULL, "
        "mac TEXT)"
    )
    meta = {
        "format": STORE_FORMAT,
        "version": str(STORE_VERSION),
        "kind": kind,
        "id": store_id,
        "spec": canonical_json(spec or {}).decode("ascii"),
        "keyed": "1" if key is not None else "0",
    }
    con.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
    state = canonical_json(mech.state_dict()).decode("ascii")
    store = Durable(con, path, kind, store_id, mech, key, 0, 0, None)
    con.execute("INSERT INTO head VALUES (1, 0, ?, 0, ?, ?)", (mech.t, state, store._head_mac(0, mech.t, 0, state)))
    return store


def _reopen(con, path, kind, key, spec, tables) -> Durable:
    if not {"meta", "head", "releases"} <= tables:
        raise StoreError(f"{path} is an SQLite database but not a dpstream store (tables {sorted(tables)})")
    meta = dict(con.execute("SELECT k, v FROM meta").fetchall())
    if meta.get("format") != STORE_FORMAT:
        raise StoreError(f"{path} is not a dpstream store (meta format {meta.get('format')!r})")
    legacy = meta.get("version") == str(_LEGACY_STORE_VERSION)
    if meta.get("version") != str(STORE_VERSION) and not legacy:
        raise StoreError(
            f"{path} is a dpstream store of version {meta.get('version')!r}; this dpstream reads versions "
            f"{_LEGACY_STORE_VERSION} and {STORE_VERSION}"
        )
    if meta.get("kind") != kind:
        raise StateError(f"store {path} holds a {meta.get('kind')!r} mechanism, not a {kind!r}")
    if meta.get("keyed") == "1" and key is None:
        raise StateError(f"store {path} was created with a key: pass key=... to open it")
    if meta.get("keyed") != "1" and key is not None:
        raise StateError(f"store {path} was created without a key; open it without key=")
    if spec and canonical_json(spec).decode("ascii") != meta.get("spec"):
        raise InvalidParameter(
            f"store {path} exists with parameters {meta.get('spec')}; reopen it with no "
            f"mechanism parameters, or the same ones"
        )
    store_id = meta.get("id", "")
    row = con.execute("SELECT generation, t, releases, state, mac FROM head WHERE id=1").fetchone()
    store = Durable(
        con, path, kind, store_id, _verify_head(path, kind, key, store_id, row, legacy=legacy), key, 0, 0, None
    )
    store.generation, store.releases = int(row[0]), int(row[2])
    if legacy:  # rewrite the state in the envelope, in this open's transaction (open_store re-tags the head row)
        state = canonical_json(store._mech.state_dict()).decode("ascii")
        con.execute("UPDATE head SET state=? WHERE id=1", (state,))
        con.execute("UPDATE meta SET v=? WHERE k='version'", (str(STORE_VERSION),))
    # the releases are contiguous 1..releases, none from the future of the state
    agg = con.execute(
        "SELECT COALESCE(SUM(count), 0), COALESCE(MAX(first + count - 1), 0), "
        "COALESCE(MAX(generation), 0), COUNT(*) FROM releases"
    ).fetchone()
    if int(agg[0]) != store.releases or int(agg[1]) != store.releases or int(agg[2]) > store.generation:
        raise StateError(
            f"store {path}: the releases table ({agg[0]} answers up to {agg[1]}, generation "
            f"{agg[2]}) does not match the state ({store.releases} answers, generation "
            f"{store.generation}): rows were added, removed or copied from another file"
        )
    if int(agg[3]):
        gaps = con.execute(
            "SELECT COUNT(*) FROM releases a WHERE a.first > 1 AND NOT EXISTS "
            "(SELECT 1 FROM releases b WHERE b.first + b.count = a.first)"
        ).fetchone()[0]
        if gaps:
            raise StateError(f"store {path}: the released answers are not contiguous")
    return store


def _spec(**kw: Any) -> dict:
    out = {}
    for k, v in kw.items():
        if v is None:
            continue
        if isinstance(v, (zCDP, EpsDP)):
            v = v.to_dict()
        elif isinstance(v, tuple):
            v = list(v)
        out[k] = v
    return out


def open_counter(
    path: Any,
    mechanism: str | None = None,
    *,
    key: bytes | None = None,
    synchronous: str = "full",
    ledger: str | None = None,
    **params: Any,
) -> Durable:
    """Open the durable counter at ``path``, creating it as ``counters.make(mechanism, **params)`` if missing.

    * ``key``: HMAC key (bytes, >= 16) that authenticates the state and every release row; required to reopen
      a store created with one;
    * ``synchronous``: ``"full"`` (default: an fsync per commit, survives power loss) or ``"normal"`` (WAL
      without fsync per commit: survives ``kill -9`` of the process, not an OS crash);
    * ``ledger``: path of a :class:`dpstream.state.Ledger` file that remembers every store's generation, so a
      rewound or forked copy of the database is refused;
    * reopening an existing store needs no parameters; if given they must be the ones it was created with.
    """
    from . import counters

    spec = _spec(mechanism=mechanism, **params) if (mechanism is not None or params) else None
    if spec is not None and "seed" in params and params["seed"] is None:
        spec.pop("seed", None)

    def build():
        if mechanism is None:
            raise InvalidParameter(f"store {path} does not exist yet: name the counter, e.g. 'binary-tree'")
        return counters.make(mechanism, **params)

    return open_store(path, "counter", build, key=key, synchronous=synchronous, ledger=ledger, spec=spec)


def open_problem(
    path: Any,
    problem: str | None = None,
    method: str = "auto",
    *,
    key: bytes | None = None,
    synchronous: str = "full",
    ledger: str | None = None,
    **params: Any,
) -> Durable:
    """Open the durable MaxSum / SumSelect mechanism at ``path``, creating it as
    ``problems.make(problem, method, **params)`` if missing (options as :func:`open_counter`)."""
    from . import problems

    spec = _spec(problem=problem, method=method, **params) if (problem is not None or params) else None

    def build():
        if problem is None:
            raise InvalidParameter(f"store {path} does not exist yet: name the problem, 'maxsum' or 'sumselect'")
        return problems.make(problem, method, **params)

    return open_store(path, "problem", build, key=key, synchronous=synchronous, ledger=ledger, spec=spec)
