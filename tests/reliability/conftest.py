"""Fixtures of the reliability suite, and the table of figures printed at the end of the run."""

from __future__ import annotations

from collections.abc import Callable

import pytest

TABLES = pytest.StashKey[dict[str, list[dict[str, str]]]]()


@pytest.fixture(scope="session")
def figures(pytestconfig: pytest.Config) -> Callable[[str, dict[str, str]], None]:
    """``figures(title, row)``: add a row to the table *title*, printed at the end of the run."""
    tables = pytestconfig.stash.setdefault(TABLES, {})

    def add(title: str, row: dict[str, str]) -> None:
        tables.setdefault(title, []).append(row)

    return add


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
    for title, rows in config.stash.get(TABLES, {}).items():
        terminalreporter.section(title)
        terminalreporter.write_line(table(rows))
