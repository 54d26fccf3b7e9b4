"""How a run of T steps is cut into chunks of consecutive steps."""

from __future__ import annotations

import dataclasses

from ..errors import ZkdlError
from ..protocol.statement import Statement


def choose_chunk_steps(
    total_steps: int,
    chunk_steps: int | None = None,
    *,
    statement: Statement | None = None,
    memory: int | str | None = None,
) -> int:
    """The number of steps per chunk of a run of ``total_steps`` steps: ``chunk_steps`` when given (at most the
    whole run); otherwise, with the run's ``statement``, the largest chunk whose estimated peak memory fits
    ``memory`` (default: 60 % of the available memory; :func:`zkdl.runs.planner.choose_chunk_steps`, which raises
    ``MemoryBudgetError`` when even one step does not fit); without a statement, the whole run in one chunk.

    This is the one place the chunk size is decided."""
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise ZkdlError(f"steps must be an integer ≥ 1, got {total_steps!r}")
    if chunk_steps is None:
        if statement is None:
            return total_steps
        from . import planner

        budget = planner.default_budget() if memory is None else memory
        return planner.choose_chunk_steps(dataclasses.replace(statement, steps=total_steps), budget)
    if isinstance(chunk_steps, bool) or not isinstance(chunk_steps, int) or chunk_steps < 1:
        raise ZkdlError(f"chunk_steps (--chunk-steps) must be an integer ≥ 1, got {chunk_steps!r}")
    return min(chunk_steps, total_steps)


def chunk_bounds(total_steps: int, chunk_steps: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]``: consecutive chunks of ``chunk_steps`` steps covering ``0..total_steps`` (the last one
    may be shorter)."""
    return [(a, min(a + chunk_steps, total_steps)) for a in range(0, total_steps, chunk_steps)]
