"""kill -9 campaign against the durable store (used by tests/dpstream/test_store.py and bench/dp_store.py).

A forked child opens the store, writes to a side log (one line per answer it got back, fsync'd) every stored
release it has not logged yet (answers committed by a previous child that was killed before it could log them:
re-read, never re-computed), then feeds the deterministic stream from ``store.t + 1`` on, by ``update`` or by
``stream(checkpoint_every=...)``, logging every answer as it returns.  The parent kills it with SIGKILL after a
random delay, reopens the store (the lock must be free) and checks:

* lost:        an answer in the log is missing from the store;
* duplicated:  the log or the store has a release index twice or a gap, or the store's t is not its releases;
* redrawn:     a stored answer differs from the logged one, or from what the store said for that index before
               (a released value changed: new noise for a published step);
* overhang:    committed answers not yet logged must be at most one commit's worth (1, or checkpoint_every).
"""

from __future__ import annotations

import json
import os
import random
import signal
import time

from dpstream import counters, problems

KEY = b"kill-campaign-key-0123456789abcdef"


def item(t: int, dim: int = 1):
    bit = (t * 2654435761 >> 7) & 1
    return bit if dim == 1 else [(t * (j + 3) * 2654435761 >> 9) & 1 for j in range(dim)]


def create(path: str, kind: str, horizon: int, synchronous: str) -> None:
    if kind == "counter":
        s = counters.open(
            path, "binary-tree", horizon=horizon, privacy=counters.zCDP(rho=0.5), key=KEY, synchronous=synchronous
        )
    else:  # sparse vector, OS randomness: a re-computed step would draw different noise
        s = problems.open(path, "maxsum", "svt", horizon=horizon, dim=3, rho=2.0, key=KEY, synchronous=synchronous)
    s.close()


def _open(path: str, kind: str, synchronous: str):
    return (counters.open if kind == "counter" else problems.open)(path, key=KEY, synchronous=synchronous)


def _child(path: str, log: str, kind: str, mode: str, chunk: int, synchronous: str) -> None:
    dim = 1 if kind == "counter" else 3
    s = _open(path, kind, synchronous)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with open(log) as f:
        logged = sum(1 for _ in f)

    def write(n, y):
        os.write(fd, (json.dumps([n, y]) + "\n").encode())
        os.fsync(fd)

    for n in range(logged + 1, s.releases + 1):
        write(n, s.answer(n))  # committed before the last kill but never returned: read back, not re-drawn
    n = s.releases
    if mode == "update":
        while s.t < s.horizon:
            y = s.update(item(s.t + 1, dim))
            n += 1
            write(n, y)
    else:
        src = (item(t, dim) for t in range(s.t + 1, s.horizon + 1))
        for y in s.stream(src, checkpoint_every=chunk):
            n += 1
            write(n, y)
    os._exit(0)


def _read_log(log: str) -> list:
    if not os.path.exists(log):
        return []
    with open(log) as f:
        return [json.loads(line) for line in f]


def _warm_up(workdir: str) -> None:
    """Load every kernel in the parent, so that a forked child spends its life on the store, not compiling."""
    for kind in ("counter", "problem"):
        path = os.path.join(workdir, f"warm-{kind}.db")
        create(path, kind, 64, "normal")
        s = _open(path, kind, "normal")
        s.update(item(1, 1 if kind == "counter" else 3))
        list(s.stream([item(t, 1 if kind == "counter" else 3) for t in range(2, 20)], checkpoint_every=4))
        s.close()


def run(
    kills: int,
    *,
    horizon: int = 400,
    max_delay: float = 0.08,
    synchronous: str = "full",
    chunk: int = 8,
    workdir: str,
    seed: int = 0,
) -> dict:
    """``kills`` SIGKILLs spread over several stores (a new one when a stream completes); returns the counts."""
    rng = random.Random(seed)
    _warm_up(workdir)
    # releases_checked: answers compared after all kills together (a store's answers are re-checked after
    # every later kill); releases_total: distinct releases made in all stores
    counts = {
        "kills": 0,
        "runs_completed": 0,
        "stores": 0,
        "releases_total": 0,
        "releases_checked": 0,
        "lost": 0,
        "duplicated": 0,
        "redrawn": 0,
        "overhang_violations": 0,
        "lock_left_behind": 0,
        "max_overhang": 0,
    }
    store_no = 0
    path = log = ""
    seen: list = []
    need_new = True
    while counts["kills"] < kills:
        if need_new:
            store_no += 1
            kind = "counter" if store_no % 3 else "problem"
            mode = "update" if store_no % 2 else "stream"
            path = os.path.join(workdir, f"s{store_no}.db")
            log = os.path.join(workdir, f"s{store_no}.log")
            create(path, kind, horizon, synchronous)
            seen, need_new = [], False
            counts["stores"] += 1
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                _child(path, log, kind, mode, chunk, synchronous)
            finally:
                os._exit(1)
        time.sleep(rng.uniform(0.0, max_delay))
        os.kill(pid, signal.SIGKILL)  # a child that already exited is a zombie until waitpid: no error
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            counts["kills"] += 1
        elif not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            raise RuntimeError(f"campaign child failed (status {status})")
        try:
            s = _open(path, kind, synchronous)
        except Exception as e:  # noqa: BLE001 - a lock left behind is a finding, not a crash of the campaign
            counts["lock_left_behind"] += 1
            raise RuntimeError(f"cannot reopen after the kill: {e}") from e
        try:
            stored = s.answers()
            logged = _read_log(log)
            idx = [n for n, _ in logged]
            if idx != list(range(1, len(idx) + 1)) or s.releases != len(stored):
                counts["duplicated"] += 1
            if kind == "counter" and s.t != s.releases:
                counts["duplicated"] += 1
            if len(logged) > len(stored):
                counts["lost"] += len(logged) - len(stored)
            if any(stored[n - 1] != y for n, y in logged if n <= len(stored)):
                counts["redrawn"] += 1
            if stored[: len(seen)] != seen:
                counts["redrawn"] += 1
            over = len(stored) - len(logged)
            counts["max_overhang"] = max(counts["max_overhang"], over)
            if over > (1 if mode == "update" else chunk):
                counts["overhang_violations"] += 1
            counts["releases_checked"] += len(stored)
            counts["releases_total"] += len(stored) - len(seen)
            seen = stored
            if s.t == s.horizon:
                counts["runs_completed"] += 1
                need_new = True
        finally:
            s.close()
    return counts
