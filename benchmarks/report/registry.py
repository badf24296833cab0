"""Every benchmark the report runs, in the page's order, with its settings and layout.

The paragraphs around each benchmark's results are in the template
(benchmarks/report/page.md), under ``NAME.intro`` and ``NAME.discussion``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.report import charts, tables
from benchmarks.report.page import prose
from benchmarks.report.runner import Benchmark, Data


def _benchmark(
    name: str,
    title: str,
    *,
    full: tuple[str, ...],
    quick: tuple[str, ...],
    timeout: float,
    quick_timeout: float,
    render: Callable[[Data], list[str]] | None = None,
    chart: Callable[[Data, Any], None] | None = None,
) -> Benchmark:
    text = prose()
    return Benchmark(
        name=name,
        title=title,
        full=full,
        quick=quick,
        timeout=timeout,
        quick_timeout=quick_timeout,
        intro=text[f"{name}.intro"],
        render=render,
        chart=chart,
        discussion=text.get(f"{name}.discussion", ""),
    )


BENCHMARKS: tuple[Benchmark, ...] = (
    _benchmark(
        "dispatch",
        "Dispatch",
        full=("--rounds", "15", "--number", "20000"),
        quick=("--rounds", "3", "--number", "2000"),
        timeout=600,
        quick_timeout=60,
        render=tables.render_dispatch,
        chart=charts.chart_dispatch,
    ),
    _benchmark(
        "middleware_wsgi",
        "WSGI middleware",
        full=("--rounds", "60", "--requests", "2000"),
        quick=("--rounds", "5", "--requests", "300"),
        timeout=600,
        quick_timeout=90,
        render=tables.render_middleware("opentelemetry", "sentry"),
        chart=charts.chart_middleware("WSGI request through each middleware, direct calls"),
    ),
    _benchmark(
        "memory_wsgi",
        "WSGI memory while streaming",
        full=("--gib", "1", "--runs", "3"),
        quick=("--gib", "0.125", "--runs", "1", "--servers", "waitress"),
        timeout=900,
        quick_timeout=120,
        render=tables.render_memory,
        chart=charts.chart_memory,
    ),
    _benchmark(
        "middleware_asgi",
        "ASGI middleware",
        full=("--rounds", "30", "--chunk-ms", "40"),
        quick=("--rounds", "4", "--chunk-ms", "10"),
        timeout=600,
        quick_timeout=90,
        render=tables.render_middleware("OpenTelemetry ASGI", "Sentry ASGI"),
        chart=charts.chart_middleware("ASGI request through each middleware, direct calls"),
    ),
    _benchmark(
        "e2e_asgi",
        "End to end under uvicorn",
        full=("--rounds", "30", "--duration", "3"),
        quick=("--rounds", "1", "--duration", "1"),
        timeout=600,
        quick_timeout=120,
        render=tables.render_e2e,
        chart=charts.chart_e2e,
    ),
    _benchmark(
        "instructions_asgi",
        "Instructions per request under uvicorn",
        full=("--requests", "1000", "--layouts", "0,1,2,3,4,5,6,7,8,9,10"),
        quick=("--requests", "100", "--layouts", "0"),
        timeout=1500,
        quick_timeout=300,
        render=tables.render_instructions,
    ),
    _benchmark(
        "instructions_direct",
        "Instructions per request, called directly",
        full=("--requests", "10000"),
        quick=("--requests", "200"),
        timeout=900,
        quick_timeout=300,
        render=tables.render_instructions,
    ),
    _benchmark(
        "sessions",
        "Sessions",
        full=("--rounds", "9", "--number", "2000"),
        quick=("--rounds", "2", "--number", "200"),
        timeout=600,
        quick_timeout=90,
        render=tables.render_sessions,
        chart=charts.chart_sessions,
    ),
    _benchmark(
        "auth",
        "Authenticated requests",
        full=("--rounds", "9", "--number", "2000"),
        quick=("--rounds", "2", "--number", "200"),
        timeout=600,
        quick_timeout=90,
        chart=charts.chart_generic,
    ),
)
BY_NAME = {b.name: b for b in BENCHMARKS}
