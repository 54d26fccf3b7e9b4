"""How a run of T steps is cut into chunks of consecutive steps."""

from __future__ import annotations

from ..errors import ZkdlError


def choose_chunk_steps(total_steps: int, chunk_steps: int | None = None) -> int:
    """The number of steps per chunk of a run of ``total_steps`` steps: ``chunk_steps`` when given (at most the
    whole run), otherwise the whole run in one chunk.

    This is the one place the chunk size is decided; a memory planner plugs in here."""
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise ZkdlError(f"steps must be an integer ≥ 1, got {total_steps!r}")
    if chunk_steps is None:
        return total_steps
    if isinstance(chunk_steps, bool) or not isinstance(chunk_steps, int) or chunk_steps < 1:
        raise ZkdlError(f"chunk_steps (--chunk-steps) must be an integer ≥ 1, got {chunk_steps!r}")
    return min(chunk_steps, total_steps)


def chunk_bounds(total_steps: int, chunk_steps: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]``: consecutive chunks of ``chunk_steps`` steps covering ``0..total_steps`` (the last one
    may be shorter)."""
    return [(a, min(a + chunk_steps, total_steps)) for a in range(0, total_steps, chunk_steps)]
