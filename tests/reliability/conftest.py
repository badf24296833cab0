"""Fixtures of the reliability suite, and the table of figures printed at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.auth.redis_server import redis_server as _redis_server
from tests.support import Server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Server]:
    """One real redis-server on 127.0.0.1 for this folder's tests."""
    with _redis_server() as server:
        yield server


ROWS = pytest.StashKey[list[dict[str, str]]]()


@pytest.fixture(scope="session")
def reliability_rows(pytestconfig: pytest.Config) -> list[dict[str, str]]:
    """Rows of figures; each load test appends one, printed as a table at the end."""
    return pytestconfig.stash.setdefault(ROWS, [])


def table(rows: list[dict[str, str]]) -> str:
    """*rows* as a Markdown table, columns in the order of the first row."""
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(r.get(c, "")) for r in rows)) for c in columns}
    lines = [
        "| " + " | ".join(c.ljust(widths[c]) for c in columns) + " |",
        "|" + "|".join("-" * (widths[c] + 2) for c in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(row.get(c, "").ljust(widths[c]) for c in columns) + " |")
    return "\n".join(lines)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    rows = config.stash.get(ROWS, None)
    if rows:
        terminalreporter.section("reqsignals reliability figures (tests/reliability/test_load.py)")
        terminalreporter.write_line(table(rows))
