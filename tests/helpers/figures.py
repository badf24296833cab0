"""Tables of figures that tests report, printed at the end of the run.

A test asks for the ``figures`` fixture and calls ``figures(title, row)``; every row of
a title is printed as one Markdown table in the terminal summary. Rows travel in the
test's report (``user_properties``), so the table is whole when the suite runs in
several pytest-xdist workers too: the controller prints what every worker measured.

Loaded for the whole suite from ``tests/conftest.py``::

    pytest_plugins = ["tests.helpers.figures"]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import pytest

#: The name of the user property that carries one ``(title, row)``.
PROPERTY = "reqsignals-figures"

TABLES = pytest.StashKey[dict[str, list[dict[str, str]]]]()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[[str, dict[str, str]], None]:
    """``figures(title, row)``: add a row to the table *title*, printed at the end of the run."""

    def add(title: str, row: dict[str, str]) -> None:
        request.node.user_properties.append((PROPERTY, (title, dict(row))))

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


class _Tables:
    """Collects the rows from the reports of the run (in a worker: of its own tests)."""

    def __init__(self, config: pytest.Config) -> None:
        self.tables = config.stash.setdefault(TABLES, {})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == PROPERTY:
                title, row = cast("tuple[str, dict[str, str]]", value)
                self.tables.setdefault(title, []).append(dict(row))


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_Tables(config), "reqsignals-figures-tables")


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    for title, rows in config.stash.get(TABLES, {}).items():
        terminalreporter.section(title)
        terminalreporter.write_line(table(rows))
