"""The JSON every benchmark writes with ``--json PATH``, for ``python -m benchmarks.report``.

One object per run::

    {
      "title": "Signal dispatch",
      "rows": [{"group": "send", "receivers": 1, "reqsignals": 447.0, ...}, ...],
      "targets": [{"id": "...", "name": "...", "value": 1.03, "limit": 1.2,
                   "op": "<=", "unit": "x", "met": true}, ...],
      "notes": ["free text, one item a paragraph"],
      ...  # anything else a benchmark wants the report to see (settings, versions)
    }

Rows hold raw numbers (ns, µs, MiB, req/s; the keys say which), never formatted text, so
the report can both tabulate and chart them. A target's ``met`` is decided by the
benchmark itself, with the same rule it prints.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
}


def target(
    id: str, name: str, value: float, limit: float, *, op: str = "<=", unit: str = ""
) -> dict[str, Any]:
    """One target: *value* measured, met when ``value <op> limit``."""
    return {
        "id": id,
        "name": name,
        "value": value,
        "limit": limit,
        "op": op,
        "unit": unit,
        "met": bool(OPS[op](value, limit)),
    }


def write(
    path: str | Path | None,
    title: str,
    rows: Iterable[dict[str, Any]],
    targets: Iterable[dict[str, Any]] = (),
    notes: Iterable[str] = (),
    **extra: Any,
) -> None:
    """Write one run's results to *path* (nothing when *path* is None)."""
    if path is None:
        return
    doc = {
        "title": title,
        "rows": list(rows),
        "targets": list(targets),
        "notes": list(notes),
        **extra,
    }
    Path(path).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
