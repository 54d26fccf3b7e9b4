"""Progress of a prove run on stderr: one tqdm bar over the whole run, advanced by training steps and by the
prover's phases (each with its share of the work, so the ETA covers the run, not one phase).

Used by the command line; the library reports phases through ``progress(msg)`` callbacks and steps through
``on_step(t, T)`` and never prints by itself.
"""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("zkdl")

#: Shares of a prove run's time per phase (percent), from the demo's phase split (64-32-10, B = 64, T = 64,
#: ``summary.json``: statement commit 3 %, range-tensor commit 32 %, range checks 22 %, layer relations 11 %,
#: openings 19 %, verify 7 %); the first words of the phase message select it.
PHASES = (
    ("training", 3),
    ("committing the data", 5),
    ("proving", 0),
    ("committing the range tensor", 31),
    ("range checks", 22),
    ("layer relations", 11),
    ("openings", 20),
    ("verifying", 8),
)


class ProgressDisplay:
    """``display(msg)`` starts a phase; ``display.on_step(t, T)`` reports training steps. With ``bar=False``
    the phases go to the ``zkdl`` logger (shown with ``-v``)."""

    def __init__(self, *, bar: bool):
        self._t0 = time.perf_counter()
        self._bar = None
        self._done = 0.0  # percent of the run completed at the start of the current phase
        self._share = 0.0
        if bar:
            from tqdm import tqdm

            self._bar = tqdm(
                total=100,
                file=sys.stderr,
                unit="%",
                dynamic_ncols=True,
                leave=True,
                bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]",
            )

    def __call__(self, msg: str) -> None:
        share = next((s for name, s in PHASES if msg.startswith(name)), None)
        if share is not None and share > 0:
            self._advance_to(self._done + self._share)
            self._done += self._share
            self._share = float(share)
        if self._bar is not None:
            self._bar.set_description_str(msg[:60])
        log.info("[%7.1fs] %s", time.perf_counter() - self._t0, msg)

    def on_step(self, t: int, total: int) -> None:
        if self._bar is not None:
            self._bar.set_description_str(f"training step {t}/{total}")
            self._advance_to(self._done + self._share * t / max(total, 1))
        if t == total or log.isEnabledFor(logging.DEBUG):
            log.info("[%7.1fs] trained step %d/%d", time.perf_counter() - self._t0, t, total)

    def _advance_to(self, pct: float) -> None:
        if self._bar is not None:
            pct = min(pct, 100.0)
            if pct > self._bar.n:
                self._bar.update(pct - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._advance_to(100.0)
            self._bar.close()
            self._bar = None
