"""Stream sources: items from text lines (numbers or JSON), in chunks, with line numbers for errors.

Any iterable works as a source of :meth:`dpstream.base.Mechanism.stream` (a list, a generator, a socket
reader); this module turns text into items the way ``dpstream count`` reads its input:

* a line holding a number (``0``, ``1``, ``0.25``) is that number;
* a JSON line is a number, a list of numbers (one item of ``dim`` coordinates), or an object from which
  ``field`` is taken (``{"user": 7, "value": 1}`` with ``field="value"``);
* blank lines are skipped; anything else (a string, ``true``, a missing field) is an :class:`InvalidInput` that
  names the line.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

from .base import InvalidInput, check_int

__all__ = ["parse_line", "read_items", "chunks"]


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InvalidInput(f"{where}: expected a number, got {json.dumps(v)[:60]}")
    return float(v)


def parse_line(line: str, lineno: int, field: str | None = None) -> Any:
    """The item on one line (a float or a list of floats), ``None`` for a blank line."""
    s = line.strip()
    if not s:
        return None
    where = f"line {lineno}"
    if field is None and s[0] not in '[{"tfn':
        try:
            v = float(s)
        except ValueError:
            pass
        else:
            if not math.isfinite(v):
                raise InvalidInput(f"{where}: {s[:40]!r} is not a finite number")
            return v
    try:
        v = json.loads(s)
    except ValueError:
        raise InvalidInput(f"{where}: {s[:40]!r} is neither a number nor JSON") from None
    if field is not None:
        if not isinstance(v, dict):
            raise InvalidInput(f"{where}: expected a JSON object with the field {field!r}")
        if field not in v:
            raise InvalidInput(f"{where}: the JSON object has no field {field!r}")
        v = v[field]
        where = f"{where}, field {field!r}"
    if isinstance(v, list):
        return [_number(x, where) for x in v]
    return _number(v, where)


def read_items(lines: Iterable[str], field: str | None = None, start: int = 1) -> Iterator[tuple[int, Any]]:
    """(line number, item) for every non-blank line of ``lines`` (a file object, ``sys.stdin``, a list)."""
    for i, line in enumerate(lines, start):
        item = parse_line(line, i, field)
        if item is not None:
            yield i, item


def chunks(items: Iterable[Any], size: int) -> Iterator[list]:
    """Lists of at most ``size`` consecutive items; nothing is read before the consumer asks (backpressure)."""
    n = check_int("chunk size", size)
    it = iter(items)
    while True:
        chunk = list(itertools.islice(it, n))
        if not chunk:
            return
        yield chunk
