"""Run every benchmark and regenerate docs/benchmarks.md, with PNG charts.

Run from the repository root::

    python -m benchmarks.report [--quick] [--only NAME[,NAME]] [--output docs/benchmarks.md]
                                [--charts-dir docs/img/benchmarks]

Each benchmark runs in its own subprocess (``python -m benchmarks.NAME``), one after the
other, with a timeout; none shares a process with another, so one's threads, servers or
garbage cannot slow the next. A benchmark that has a ``--json PATH`` option writes its
results there (see :mod:`benchmarks.results`); the report turns them into tables, a
chart and a targets table. A benchmark without it is shown as it printed; a registered
benchmark whose script is absent is reported as not run.

``--quick`` runs few rounds for short durations: it checks that the machinery works and
its numbers are not worth publishing. The page says which mode produced it.

The parts: :mod:`~benchmarks.report.runner` runs a benchmark,
:mod:`~benchmarks.report.machine` describes the machine, :mod:`~benchmarks.report.tables`
and :mod:`~benchmarks.report.charts` lay out results, :mod:`~benchmarks.report.explain`
says why a target was missed, :mod:`~benchmarks.report.page` puts the page together
around the prose of ``page.md``, and :mod:`~benchmarks.report.registry` lists the
benchmarks.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks.report.charts import save_chart
from benchmarks.report.explain import explain
from benchmarks.report.machine import ROOT, machine
from benchmarks.report.page import render_page, render_section, render_summary
from benchmarks.report.registry import BENCHMARKS, BY_NAME
from benchmarks.report.runner import Benchmark, Run, run_benchmark, status_text
from benchmarks.report.tables import (
    measured,
    num,
    render_e2e,
    render_instructions,
    targets_table,
)

__all__ = [
    "BENCHMARKS",
    "BY_NAME",
    "Benchmark",
    "Run",
    "explain",
    "machine",
    "main",
    "measured",
    "num",
    "render_e2e",
    "render_instructions",
    "render_page",
    "render_section",
    "render_summary",
    "run_benchmark",
    "save_chart",
    "targets_table",
]


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks, write the page and the charts; 1 if any failed."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.report", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="few rounds, short runs")
    parser.add_argument("--only", metavar="NAME[,NAME]", help=f"of: {', '.join(BY_NAME)}")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--charts-dir", type=Path, default=ROOT / "docs" / "img" / "benchmarks")
    args = parser.parse_args(argv)
    chosen = list(BENCHMARKS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in BY_NAME]
        if unknown:
            parser.error(
                f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BY_NAME)}"
            )
        chosen = [BY_NAME[n] for n in names]
    output, charts_dir = args.output.resolve(), args.charts_dir.resolve()

    facts = machine()
    runs = []
    with tempfile.TemporaryDirectory(prefix="reqsignals-bench-") as scratch:
        for bench in chosen:
            print(f"{bench.name}: running {' '.join(bench.command(args.quick))}", file=sys.stderr)
            run = run_benchmark(bench, args.quick, Path(scratch))
            if run.data is not None:
                run.chart = save_chart(bench, run.data, charts_dir)
            print(f"{bench.name}: {status_text(run)}", file=sys.stderr)
            runs.append(run)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        render_page(runs, facts, args.quick, output.parent, only=bool(args.only)), encoding="utf-8"
    )
    print(f"wrote {output}", file=sys.stderr)
    return 1 if any(r.status in ("failed", "timeout") for r in runs) else 0
