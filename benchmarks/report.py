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
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
Data = dict[str, Any]

PACKAGES = (
    "django",
    "blinker",
    "werkzeug",
    "starlette",
    "uvicorn",
    "waitress",
    "gunicorn",
    "opentelemetry-sdk",
    "opentelemetry-instrumentation-wsgi",
    "opentelemetry-instrumentation-asgi",
    "sentry-sdk",
    "itsdangerous",
    "redis",
    "matplotlib",
)
CHART_SIZE = (8.0, 4.5)  # inches, at 100 dpi: 800 x 450 pixels
CHART_DPI = 100
COLORS = {
    "reqsignals": "#1f77b4",
    "anchor": "#9e9e9e",
    "floor": "#d0d0d0",
    "reference": "#aec7e8",
}


# -- formatting ---------------------------------------------------------------


def num(value: float) -> str:
    """A number with as many decimals as its size deserves."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def signed(value: float) -> str:
    return ("+" if value >= 0 else "") + num(value)


def times(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}×"


def share(part: float, whole: float) -> str:
    """*part* as a fraction of *whole*: ``1/16`` below one, a times-ratio above."""
    if whole <= 0 or part <= 0:
        return "–"
    ratio = part / whole
    return f"1/{1 / ratio:.0f}" if ratio < 0.5 else times(ratio)


def with_unit(value: float, unit: str, digits: int = 2) -> str:
    if unit in ("x", "×"):
        return times(value, digits)
    return f"{num(value)} {unit}".strip()


def measured(target: Data) -> str:
    """A target's value; a ratio that rounds to its limit gets a third decimal."""
    value, limit, unit = target["value"], target["limit"], target.get("unit", "")
    close = unit in ("x", "×") and value != limit and round(value, 2) == round(limit, 2)
    return with_unit(value, unit, 3 if close else 2)


def table(header: list[str], rows: list[list[str]], align: str = "") -> list[str]:
    """A Markdown table; *align* has one letter per column, ``l`` or ``r`` (default)."""
    align = align.ljust(len(header), "r")
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def verdict(target: Data) -> str:
    return "met" if target["met"] else "**MISSED**"


def targets_table(targets: list[Data]) -> list[str]:
    return table(
        ["target", "measured", "limit", "result"],
        [
            [
                t["name"],
                measured(t),
                f"{t.get('op', '<=').replace('<=', '≤').replace('>=', '≥')} "
                + with_unit(t["limit"], t.get("unit", "")),
                verdict(t),
            ]
            for t in targets
        ],
        align="lrrl",
    )


# -- the machine ----------------------------------------------------------------


def _first(path: str, pattern: str) -> str | None:
    try:
        match = re.search(pattern, Path(path).read_text(), re.MULTILINE)
    except OSError:
        return None
    return match.group(1).strip() if match else None


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, as the kernel reports them."""
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _tool_version(argv: list[str], pattern: str) -> str:
    if shutil.which(argv[0]) is None:
        return "not installed"
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    match = re.search(pattern, done.stdout + done.stderr)
    return match.group(1) if match else "unknown"


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _git(*argv: str) -> str:
    try:
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _git_commit() -> str:
    """The commit measured; changes to the code measured (not to the docs) are flagged."""
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    changed = _git(
        "status", "--porcelain", "--untracked-files=no", "--", "reqsignals", "benchmarks"
    )
    return commit + (" with uncommitted changes" if changed else "")


def machine() -> list[tuple[str, str]]:
    """(what, value) pairs describing the machine and the software measured."""
    mem_kib = _first("/proc/meminfo", r"^MemTotal:\s+(\d+)")
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 0
    rows = [
        ("CPU", _first("/proc/cpuinfo", r"^model name\s*:\s*(.+)$") or platform.processor()),
        ("cores", f"{os.cpu_count()} ({usable} usable by this process)"),
        ("memory", f"{int(mem_kib) / (1 << 20):.1f} GiB" if mem_kib else "unknown"),
        ("system", _first("/etc/os-release", r'^PRETTY_NAME="?([^"\n]+)') or platform.system()),
        ("kernel", platform.release()),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("reqsignals", f"{_package('reqsignals')}, commit {_git_commit()}"),
    ]
    rows += [(name, _package(name)) for name in PACKAGES]
    rows += [
        ("redis-server", _tool_version(["redis-server", "--version"], r"v=(\S+)")),
        ("wrk", _tool_version(["wrk", "--version"], r"wrk (\S+)")),
        ("load average at start (1 / 5 / 15 min)", loadavg()),
    ]
    return rows


# -- the benchmarks -------------------------------------------------------------


@dataclass(frozen=True)
class Benchmark:
    """One script under benchmarks/, and how the report runs and shows it."""

    name: str
    title: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    timeout: float
    quick_timeout: float
    intro: str
    render: Callable[[Data], list[str]] | None = None
    chart: Callable[[Data, Any], None] | None = None
    discussion: str = ""

    @property
    def module(self) -> str:
        return f"benchmarks.{self.name}"

    @property
    def path(self) -> Path:
        return ROOT / "benchmarks" / f"{self.name}.py"

    def command(self, quick: bool) -> list[str]:
        return ["python", "-m", self.module, *(self.quick if quick else self.full)]


@dataclass
class Run:
    """What happened when the report ran one benchmark."""

    bench: Benchmark
    command: list[str]
    status: str  # ok, missing, failed, timeout
    load: str = ""
    seconds: float = 0.0
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None
    data: Data | None = None
    chart: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def targets(self) -> list[Data]:
        return list(self.data["targets"]) if self.data else []


def run_benchmark(bench: Benchmark, quick: bool, scratch: Path) -> Run:
    """Run *bench* in a subprocess of its own, bounded by its timeout."""
    command = bench.command(quick)
    if not bench.path.exists():
        return Run(bench, command, "missing")
    source = bench.path.read_text(encoding="utf-8")
    json_path = scratch / f"{bench.name}.json"
    argv = [sys.executable, *command[1:]]
    if '"--json"' in source:
        argv += ["--json", str(json_path)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    limit = bench.quick_timeout if quick else bench.timeout
    load = loadavg()
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its servers too are stopped on a timeout
    )
    try:
        stdout, stderr = proc.communicate(timeout=limit)
        status = "ok" if proc.returncode == 0 else "failed"
    except subprocess.TimeoutExpired:
        _stop_group(proc)
        stdout, stderr = proc.communicate()
        status = "timeout"
    run = Run(
        bench,
        command,
        status,
        load=load,
        seconds=time.monotonic() - started,
        stdout=stdout,
        stderr=stderr,
        returncode=proc.returncode,
    )
    if status == "ok" and json_path.exists():
        run.data = json.loads(json_path.read_text(encoding="utf-8"))
    return run


def _stop_group(proc: subprocess.Popen[str]) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


# -- charts ---------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_chart(bench: Benchmark, data: Data, charts_dir: Path) -> Path | None:
    """Draw *bench*'s chart for *data* into ``charts_dir/NAME.png``."""
    if bench.chart is None:
        return None
    plt = _pyplot()
    fig = plt.figure(figsize=CHART_SIZE, dpi=CHART_DPI)
    try:
        bench.chart(data, fig)
        fig.tight_layout()
        charts_dir.mkdir(parents=True, exist_ok=True)
        path = charts_dir / f"{bench.name}.png"
        fig.savefig(path, dpi=CHART_DPI, metadata={"Software": None})
    finally:
        plt.close(fig)
    return path


def _color(label: str) -> str:
    low = label.lower()
    if low.startswith("(reference)"):
        return COLORS["reference"]
    if "reqsignals" in low or "signalsmiddleware" in low or low.startswith("+"):
        return COLORS["reqsignals"]
    if low.startswith("bare") or "pass-through" in low:
        return COLORS["floor"]
    return COLORS["anchor"]


def _hbars(fig: Any, labels: list[str], values: list[float], xlabel: str, log: bool) -> None:
    ax = fig.add_subplot()
    ys = range(len(labels))
    ax.barh(ys, values, color=[_color(label) for label in labels])
    ax.set_yticks(list(ys), labels, fontsize=8)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    for y, v in zip(ys, values):
        ax.annotate(num(v), (v, y), xytext=(3, 0), textcoords="offset points", va="center",
                    fontsize=7)  # fmt: skip
    ax.margins(x=0.15)


def _grouped(
    ax: Any,
    groups: list[str],
    series: dict[str, list[float]],
    ylabel: str,
    palette: tuple[str, ...] = ("#d0d0d0", "#1f77b4", "#9e9e9e", "#5f5f5f", "#ff7f0e"),
) -> None:
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, values, width, label=name, color=palette[i % len(palette)])
    ax.set_xticks(range(len(groups)), groups, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)


def chart_dispatch(data: Data, fig: Any) -> None:
    send = [r for r in data["rows"] if r.get("group") == "send"]
    for i, refs in enumerate(("strong", "weak")):
        ax = fig.add_subplot(1, 2, i + 1)
        rows = [r for r in send if r["refs"] == refs]
        _grouped(
            ax,
            [str(r["n"]) for r in rows],
            {
                "bare loop": [r["bare"] for r in rows],
                "reqsignals": [r["reqsignals"] for r in rows],
                "Django": [r["django"] for r in rows],
                "blinker": [r["blinker"] for r in rows],
            },
            "ns per send" if i == 0 else "",
        )
        ax.set_xlabel(f"receivers ({refs} references)")
    fig.suptitle("Signal.send, ns per send (lower is better)", fontsize=10)


def _chart_middleware(title: str) -> Callable[[Data, Any], None]:
    def chart(data: Data, fig: Any) -> None:
        rows = data["rows"]
        _hbars(fig, [r["variant"] for r in rows], [r["us"] for r in rows],
               "µs per request (log scale, lower is better)", log=True)  # fmt: skip
        fig.suptitle(title, fontsize=10)

    return chart


def chart_memory(data: Data, fig: Any) -> None:
    rows = data["rows"]
    servers = list(dict.fromkeys(r["server"] for r in rows))
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    peak = {(r["server"], r["variant"]): r["peak_mib"] for r in rows}
    ax = fig.add_subplot()
    _grouped(ax, servers, {v: [peak[s, v] for s in servers] for v in variants},
             "peak RSS (VmHWM), MiB", palette=("#d0d0d0", "#9e9e9e", "#1f77b4"))  # fmt: skip
    fig.suptitle(f"Server peak memory while streaming {data.get('gib', 1):g} GiB", fontsize=10)


def chart_e2e(data: Data, fig: Any) -> None:
    rows = [r for r in data["rows"] if r.get("group") == "throughput"]
    if not rows:
        return
    ax = fig.add_subplot()
    labels = [r["variant"] for r in rows]
    ax.bar(range(len(rows)), [r["rps"] for r in rows], color=[_color(x) for x in labels])
    # Wrapped, so that five long names fit side by side under their bars.
    ax.set_xticks(range(len(rows)), [textwrap.fill(x, 22) for x in labels], fontsize=8)
    for x, r in enumerate(rows):
        ax.annotate(f"{r['rps']:,.0f} ({times(r['vs_bare'], 3)})", (x, r["rps"]), xytext=(0, 3),
                    textcoords="offset points", ha="center", fontsize=8)  # fmt: skip
    ax.set_ylabel("requests per second (best round)")
    ax.margins(y=0.15)
    fig.suptitle("uvicorn, one worker, wrk on 127.0.0.1 (higher is better)", fontsize=10)


def chart_sessions(data: Data, fig: Any) -> None:
    rows = data["rows"]
    ax = fig.add_subplot()
    labels = [r["middleware"] for r in rows]
    ys = range(len(rows))
    ax.barh([y - 0.2 for y in ys], [r["read_us"] for r in rows], 0.4, label="read",
            color="#1f77b4")  # fmt: skip
    ax.barh([y + 0.2 for y in ys], [r["write_us"] for r in rows], 0.4, label="write",
            color="#9e9e9e")  # fmt: skip
    ax.set_yticks(list(ys), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("µs per request (log scale, lower is better)")
    ax.legend(fontsize=8)
    fig.suptitle("Session middleware, per request", fontsize=10)


def _label_key(rows: list[Data]) -> str | None:
    for key, value in rows[0].items():
        if isinstance(value, str) and key != "group":
            return key
    return None


def _numeric_keys(rows: list[Data]) -> list[str]:
    return [
        k for k, v in rows[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]


def chart_generic(data: Data, fig: Any) -> None:
    """Grouped bars of every µs (or ns) column, by the rows' first text column."""
    rows = data["rows"]
    if not rows:
        return
    label = _label_key(rows)
    keys = [k for k in _numeric_keys(rows) if k.endswith(("_us", "_ns"))] or _numeric_keys(rows)
    groups = [str(r.get(label, i)) for i, r in enumerate(rows)] if label else list(map(str, rows))
    _grouped(fig.add_subplot(), groups, {k: [r[k] for r in rows] for k in keys}, "")
    fig.suptitle(data.get("title", ""), fontsize=10)


# -- tables -------------------------------------------------------------------


def render_dispatch(data: Data) -> list[str]:
    send = [r for r in data["rows"] if r.get("group") == "send"]
    asend = [r for r in data["rows"] if r.get("group") == "asend"]
    out = [
        f"`send`, ns per send, {data.get('rounds')} rounds of {data.get('number')} sends, "
        "fastest round kept; ratios are reqsignals / other.",
        "",
    ]
    out += table(
        ["receivers", "refs", "bare loop", "reqsignals", "Django", "blinker", "vs bare",
         "vs Django", "vs blinker"],
        [
            [str(r["n"]), r["refs"], num(r["bare"]), num(r["reqsignals"]), num(r["django"]),
             num(r["blinker"]), times(r["reqsignals"] / r["bare"]),
             times(r["reqsignals"] / r["django"]), times(r["reqsignals"] / r["blinker"])]
            for r in send
        ],
        align="rl",
    )  # fmt: skip
    out += [
        "",
        "`asend`, ns per send (weak receivers, awaited inside one running event loop).",
        "",
    ]
    out += table(
        ["receivers", "kind", "reqsignals", "Django", "reqsignals / Django"],
        [
            [str(r["n"]), r["kind"], num(r["reqsignals"]), num(r["django"]),
             share(r["reqsignals"], r["django"])]
            for r in asend
        ],
        align="rl",
    )  # fmt: skip
    return out


def _overheads(data: Data) -> dict[str, float]:
    return {r["variant"]: r["overhead_us"] for r in data["rows"]}


def _render_middleware(otel: str, sentry: str) -> Callable[[Data], list[str]]:
    def render(data: Data) -> list[str]:
        over = _overheads(data)
        pt = over["pass-through middleware"]
        out = [
            f"µs per request, {data.get('rounds')} rounds, fastest round kept. Overheads are "
            "over the bare app; the last three columns compare each overhead with the "
            "pass-through middleware's, OpenTelemetry's and Sentry's.",
            "",
        ]
        rows = []
        for r in data["rows"]:
            first = r["variant"] == "bare app"
            rows.append(
                [
                    r["variant"],
                    num(r["us"]),
                    "" if first else signed(r["overhead_us"]),
                    "" if first else times(r["overhead_us"] / pt),
                    "" if first else share(r["overhead_us"], over[otel]),
                    "" if first else share(r["overhead_us"], over[sentry]),
                ]
            )
        out += table(
            ["variant", "µs/request", "overhead µs", "vs pass-through", "vs OpenTelemetry",
             "vs Sentry"],
            rows,
            align="l",
        )  # fmt: skip
        return out

    return render


def render_memory(data: Data) -> list[str]:
    out = [
        f"{data.get('gib', 1):g} GiB streamed per run, {data.get('runs')} runs per variant "
        "(a fresh server each), lowest peak kept.",
        "",
    ]
    out += table(
        ["server", "variant", "before MiB", "peak MiB", "growth MiB", "seconds"],
        [
            [r["server"], r["variant"], num(r["before_mib"]), num(r["peak_mib"]),
             signed(r["growth_mib"]), num(r["seconds"])]
            for r in data["rows"]
        ],
        align="ll",
    )  # fmt: skip
    return out


def render_e2e(data: Data) -> list[str]:
    out: list[str] = []
    thr = [r for r in data["rows"] if r.get("group") == "throughput"]
    mem = [r for r in data["rows"] if r.get("group") == "memory"]
    if thr:
        out += [
            f"`wrk -t1 -c{data.get('connections')} -d{data.get('duration')}s`, "
            f"{data.get('rounds')} rounds, best kept; uvicorn {data.get('uvicorn')}, one "
            "worker, access log off.",
            "",
        ]
        cpu = all("cpu_us" in r for r in thr)
        out += table(
            ["variant", "req/s (best)", "every round", "vs bare", "µs per request (best)"]
            + (["server CPU µs/request (least)"] if cpu else []),
            [
                [r["variant"], f"{r['rps']:,.0f}", ", ".join(f"{x:,.0f}" for x in r["every_round"]),
                 times(r["vs_bare"], 3), num(1e6 / r["rps"])]
                + ([num(r["cpu_us"])] if cpu else [])
                for r in thr
            ],
            align="lrl",
        )  # fmt: skip
        out.append("")
    if mem:
        out += ["1 GiB streamed through uvicorn in 64 KiB chunks; the server's peak RSS.", ""]
        out += table(
            ["variant", "VmHWM before MiB", "VmHWM after MiB", "growth MiB", "seconds"],
            [
                [r["variant"], num(r["before_mib"]), num(r["peak_mib"]), signed(r["growth_mib"]),
                 num(r["seconds"])]
                for r in mem
            ],
            align="l",
        )  # fmt: skip
    return out


# The row of benchmarks/asgi_targets.py's Floor, in e2e_asgi and instructions_asgi.
FLOOR_VARIANT = "(reference) the least a middleware can do"


def render_instructions(data: Data) -> list[str]:
    rows = {r["variant"]: r for r in data["rows"]}
    out = [
        f"{data.get('requests')} requests one after the other on one connection, after "
        f"{data.get('warm_up')} uncounted; uvicorn's user-space instructions per request.",
        "",
    ]
    out += table(
        ["variant", "instructions per request", "more than bare", "share of bare"],
        [
            [r["variant"], f"{r['instructions']:,.0f}", f"{r['extra']:+,.0f}",
             f"{r['share']:+.2%}"]
            for r in data["rows"]
        ],
        align="l",
    )  # fmt: skip
    floor, ours = rows.get(FLOOR_VARIANT), rows.get("reqsignals, 1 receiver each")
    if floor is not None and ours is not None and floor["extra"] > 0:
        out += [
            "",
            f"reqsignals adds {ours['extra'] / floor['extra']:.2f}× the instructions of the "
            f"least a middleware can do: {ours['extra'] - floor['extra']:+,.0f} a request "
            f"({ours['share'] - floor['share']:+.2%} of the bare request) for the work the "
            "floor leaves out (below).",
        ]
    return out


def render_sessions(data: Data) -> list[str]:
    out = [
        f"µs per request, {data.get('rounds')} rounds of {data.get('number')} requests, "
        "fastest round kept.",
        "",
    ]
    out += table(
        ["middleware", "read µs", "write µs", "read / Starlette", "write / Starlette"],
        [
            [r["middleware"], num(r["read_us"]), num(r["write_us"]),
             times(r["read_vs_starlette"]), times(r["write_vs_starlette"])]
            for r in data["rows"]
        ],
        align="l",
    )  # fmt: skip
    return out


def render_generic(data: Data) -> list[str]:
    """Every row's every key, for a benchmark the report has no layout for."""
    rows = data["rows"]
    if not rows:
        return []
    keys = list(rows[0])
    cells = [
        [num(r[k]) if isinstance(r.get(k), (int, float)) else str(r.get(k, "")) for k in keys]
        for r in rows
    ]
    return table(keys, cells, align="l")


# -- explaining what was missed ------------------------------------------------------

# What the issues measured for the anchors on the machine they were written on (µs of
# overhead), to set this machine's numbers against.
ISSUE_ANCHORS = {"wsgi": (129.0, "OpenTelemetry +129 to +163 µs, Sentry +165 to +174 µs"),
                 "asgi": (121.0, "OpenTelemetry +206 to +226 µs, Sentry +121 µs")}  # fmt: skip


def _explain_one_each(kind: str, target: Data, results: dict[str, Data]) -> str:
    data = results["middleware_wsgi" if kind == "wsgi" else "middleware_asgi"]
    over = _overheads(data)
    otel_key, sentry_key = (
        ("opentelemetry", "sentry") if kind == "wsgi" else ("OpenTelemetry ASGI", "Sentry ASGI")
    )
    ref = next((v for k, v in over.items() if k.startswith("(reference)")), None)
    otel, sentry = over[otel_key], over[sentry_key]
    cheaper, limit, value = min(otel, sentry), target["limit"], target["value"]
    issue_cheaper, issue_text = ISSUE_ANCHORS[kind]
    text = (
        f"The middleware adds {num(value)} µs against a limit of {num(limit)} µs, 1/40 of the "
        f"cheaper anchor here ({'OpenTelemetry' if otel <= sentry else 'Sentry'}, "
        f"+{num(cheaper)} µs; the other costs +{num(max(otel, sentry))} µs). "
    )
    if ref is not None:
        text += (
            f"Calling the two receivers of a successful request alone, with no middleware, "
            f"costs {num(ref)} µs (the reference row): "
            f"{ref / limit:.0%} of the whole budget before the middleware does anything. "
        )
    text += (
        f"The anchors cost {'less' if cheaper < issue_cheaper else 'more'} here than where "
        f"the issue measured them ({issue_text}); against the issue's cheaper anchor the "
        f"limit would be {num(issue_cheaper / 40)} µs, which this overhead "
        f"{'would meet' if value <= issue_cheaper / 40 else 'would still miss'}."
    )
    return text


def _explain_no_receivers(target: Data, results: dict[str, Data]) -> str:
    return (
        f"Both overheads are tens of nanoseconds ({num(target['value'] * 1000)} ns against a "
        f"limit of {num(target['limit'] * 1000)} ns), so a few nanoseconds of noise decide "
        "this verdict from run to run."
    )


def _explain_e2e(target: Data, results: dict[str, Data], loads: dict[str, str]) -> str:
    data = results["e2e_asgi"]
    rows = {r["variant"]: r for r in data["rows"] if r.get("group") == "throughput"}
    bare, ours = rows["bare app"], rows["reqsignals, 1 receiver each"]
    # Three decimals for ratios set against the 0.97 limit: 0.966 must not read as 0.97.
    text = (
        f"Under reqsignals uvicorn served {times(target['value'], 3)} of the bare app's best "
        f"requests per second (load average {loads.get('e2e_asgi', 'unknown')} when the run "
        "began). "
    )
    ratios = _paired(ours, bare)
    if len(ratios) > 1:
        met = sum(r >= target["limit"] for r in ratios)
        text += (
            f"Round by round (each round loads every server once, one after the other) the "
            f"ratio ranged from {times(ratios[0], 3)} to {times(ratios[-1], 3)} (median "
            f"{times(statistics.median(ratios), 3)}), and "
            + (
                "every round missed: not one unlucky round. "
                if not met
                else f"{met} of {len(ratios)} rounds met it"
                + (
                    ": the verdict is within this machine's noise. "
                    if 2 * met >= len(ratios)
                    else ", so most rounds missed too. "
                )
            )
        )
    asgi = results.get("middleware_asgi")
    added = _overheads(asgi).get("reqsignals, 1 sync receiver each") if asgi else None
    alone = rows.get("(reference) the 2 receiver calls alone")
    if added is not None and alone is not None and "cpu_us" in bare:
        # The server's own CPU time per request says where the difference goes.
        extra, extra_alone = ours["cpu_us"] - bare["cpu_us"], alone["cpu_us"] - bare["cpu_us"]
        direct_alone = _overheads(asgi).get("(reference) the 2 receiver calls alone, sync")
        text += (
            f"The server spent {num(bare['cpu_us'])} µs of CPU per request on the bare app "
            f"and {num(extra)} µs more under reqsignals; calling the two receivers alone, "
            + (
                f"with no middleware, cost {num(extra_alone)} µs more "
                f"({extra_alone / bare['cpu_us']:.1%} of the bare request) of the "
                f"{num(0.03 * bare['cpu_us'])} µs that 3% allows. "
                if extra_alone > 0
                else f"with no middleware, cost nothing this run could measure (its least was "
                f"{num(alone['cpu_us'])} µs): a sign of how far the noise reaches. "
            )
        )
        if direct_alone:
            text += (
                f"Called directly, in a loop, the same receiver calls cost {num(direct_alone)} "
                f"µs and the whole middleware {num(added)} µs: inside a server, where each "
                f"request runs through uvicorn's and h11's code between two of ours, the same "
                f"work costs about {extra / added:.1f}× as much."
            )
    elif added is not None:
        per, per_ours = 1e6 / bare["rps"], 1e6 / ours["rps"]
        predicted = per / (per + added)
        text += (
            f"Per request the server spent {num(per_ours - per)} µs more under reqsignals "
            f"({num(per)} against {num(per_ours)} µs), where the direct calls measure the "
            f"middleware at {num(added)} µs, which would predict {times(predicted, 3)}"
        )
        text += (
            ". The rest is work the direct calls do not see, or contention with the other "
            "jobs on this machine; this run cannot tell the two apart, and a run on a quiet "
            "machine should."
            if predicted - target["value"] > 0.01
            else ", itself at the limit: one receiver on each signal costs about 3% of the "
            "cheapest request uvicorn serves."
        )
    floor = rows.get(FLOOR_VARIANT)
    if floor is not None:
        # Judged round by round, as above: a best round of the bare app that the
        # others never reach would otherwise decide it.
        paired = _paired(floor, bare)
        median = statistics.median(paired)
        met = sum(r >= target["limit"] for r in paired)
        vs_floor = statistics.median(_paired(ours, floor))
        cpu = (
            f", {signed(floor['cpu_us'] - bare['cpu_us'])} µs of server CPU per request"
            if "cpu_us" in floor and "cpu_us" in bare
            else ""
        )
        text = text.rstrip() + (
            " The least any middleware can do to send the two signals (a check that the "
            "scope is a request, a coroutine with a try/finally around the app, a send that "
            "notes the status, two clock reads and the two receiver calls, hard-wired, "
            "keeping none of the middleware's other promises) kept "
            f"{times(floor['rps'] / bare['rps'], 3)} of the bare app's best (median round "
            f"{times(median, 3)}, {met} of {len(paired)} rounds at or above the target{cpu})"
        )
        text += (
            ": short of the target itself, so in this run even a middleware that does "
            "nothing else would miss it. "
            if median < target["limit"]
            else ": the target leaves room for that floor. "
        ) + (
            f"reqsignals kept {times(ours['rps'] / floor['rps'], 3)} of the floor's best "
            f"requests per second (median round {times(vs_floor, 3)})."
        )
    return text


def _paired(row: Data, against: Data) -> list[float]:
    """*row*'s requests per second over *against*'s, round by round, sorted."""
    return sorted(a / b for a, b in zip(row["every_round"], against["every_round"], strict=True))


def explain(target: Data, results: dict[str, Data], loads: dict[str, str]) -> str:
    """One plain paragraph on why *target* was missed, from the numbers of this run."""
    tid = target.get("id", "")
    try:
        if tid == "wsgi.one_each":
            return _explain_one_each("wsgi", target, results)
        if tid in ("asgi.one_sync", "asgi.one_async"):
            return _explain_one_each("asgi", target, results)
        if tid in ("wsgi.no_receivers", "asgi.no_receivers"):
            return _explain_no_receivers(target, results)
        if tid == "e2e.throughput":
            return _explain_e2e(target, results, loads)
    except (KeyError, ValueError, ZeroDivisionError):
        pass  # rows missing or renamed: fall back to the plain statement
    op = target.get("op", "<=").replace("<=", "≤").replace(">=", "≥")
    return (
        f"Measured {with_unit(target['value'], target.get('unit', ''))} against a limit of "
        f"{op} {with_unit(target['limit'], target.get('unit', ''))}."
    )


# -- the page ---------------------------------------------------------------------


INTRO = """\
# Benchmarks

This page is generated: every number, table and chart on it comes from one command, run
from the repository root with the `bench` dependency group installed (and `redis-server`,
`wrk` and `valgrind` on the PATH):

```sh
python -m benchmarks.report      # --quick for a smoke run, --only dispatch,sessions for some
```

It runs each benchmark below in a subprocess of its own, one after the other, and
rewrites this page and the charts under `docs/img/benchmarks/`. The run that produced
this page took {took}. Each section shows the exact command, so one
comparison can also be rerun alone.

**Interleaved, minimum kept.** Within a benchmark, every variant (reqsignals and each
anchor it is compared with) is timed once per round, one after the other, and the rounds
repeat. Each variant keeps its fastest round: on a shared machine, noise only ever adds
time, so the minimum is the measurement least disturbed by everything else running, and
interleaving exposes every variant to the same drift. Throughput keeps the best round
for the same reason. Targets are stated as ratios between variants of the same run,
because absolute times differ from machine to machine.
"""


def render_summary(runs: list[Run], loads: dict[str, str]) -> list[str]:
    results = {r.bench.name: r.data for r in runs if r.data}
    every = [t for r in runs for t in r.targets]
    missed = [(r, t) for r in runs for t in r.targets if not t["met"]]
    out = ["## Summary", ""]
    out.append(
        f"{len(every) - len(missed)} of {len(every)} targets met"
        + (" (all of them)." if not missed else f"; **{len(missed)} missed**:")
    )
    out.append("")
    for run, t in missed:
        out.append(
            f"- **{run.bench.title} — {t['name']}: MISSED** "
            f"({measured(t)}). {explain(t, results, loads)}"
        )
    if missed:
        out.append("")
    out += table(
        ["benchmark", "targets met", "status"],
        [
            [
                f"[{r.bench.title}](#{_anchor(r.bench.title)})",
                f"{sum(t['met'] for t in r.targets)} of {len(r.targets)}" if r.data else "–",
                _status_text(r),
            ]
            for r in runs
        ],
        align="lrl",
    )
    return out


def _anchor(title: str) -> str:
    """The id mkdocs' toc extension gives a heading with this title."""
    slug = re.sub(r"[^\w\s-]", "", title.lower()).strip()
    return re.sub(r"[-\s]+", "-", slug)


def _status_text(run: Run) -> str:
    if run.status == "missing":
        return f"not run: script missing (`benchmarks/{run.bench.name}.py`)"
    if run.status == "timeout":
        return f"not finished: timed out after {run.seconds:.0f} s"
    if run.status == "failed":
        return f"failed (exit code {run.returncode})"
    if run.data is None:
        return "ran; no structured results (the script has no `--json` option)"
    return f"ran in {run.seconds:.0f} s"


def render_section(run: Run, output_dir: Path) -> list[str]:
    bench = run.bench
    out = [f"## {bench.title}", "", bench.intro.strip(), ""]
    out += ["```sh", " ".join(run.command), "```", ""]
    if run.status == "missing":
        out += [f"**Not run: script missing** — `benchmarks/{bench.name}.py` is not in this "
                "checkout.", ""]  # fmt: skip
        return out
    out += [f"Load average (1 / 5 / 15 min) before the run: {run.load}; "
            f"{_status_text(run)}.", ""]  # fmt: skip
    if run.status != "ok":
        tail = (run.stderr or run.stdout).strip().splitlines()[-30:]
        out += ["The last lines it printed:", "", "```text", *tail, "```", ""]
        return out
    if run.data is None:
        out += ["What it printed:", "", run.stdout.strip(), ""]
        return out
    render = bench.render or render_generic
    out += [*render(run.data), ""]
    if run.chart is not None:
        link = Path(os.path.relpath(run.chart, output_dir)).as_posix()
        out += [f"![{bench.title}: chart of the table above]({link})", ""]
    if run.data.get("targets"):
        out += ["**Targets**", "", *targets_table(run.targets), ""]
    for note in run.data.get("notes", []):
        out += [note, ""]
    if bench.discussion:
        out += [bench.discussion.strip(), ""]
    return out


def render_page(runs: list[Run], facts: list[tuple[str, str]], quick: bool, output_dir: Path,
                only: bool) -> str:  # fmt: skip
    loads = {r.bench.name: r.load for r in runs}
    seconds = sum(r.seconds for r in runs)
    took = f"{seconds:.0f} seconds" if seconds < 120 else f"{seconds / 60:.0f} minutes"
    lines = [INTRO.format(took=took).rstrip(), ""]
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    quick_note = (
        " with `--quick`: few rounds and short runs, so these numbers are a smoke test, "
        "not measurements."
    )
    lines.append(f"Generated {when}" + (quick_note if quick else "."))
    if only:
        lines[-1] += " Only some benchmarks were run (`--only`); the others are not on this page."
    lines.append("")
    lines += render_summary(runs, loads)
    lines += ["", "## Machine", ""]
    lines += table(["", ""], [[k, v] for k, v in facts], align="ll")
    lines += [
        "",
        "The machine may be shared: the load average before each benchmark shows how busy "
        "it was. With a load above the number of cores, absolute times come out higher "
        "than on a quiet machine; ratios suffer less, since the variants they compare are "
        "interleaved and exposed to the same load.",
        "",
    ]
    for run in runs:
        lines += render_section(run, output_dir)
    return "\n".join(lines).rstrip() + "\n"


# -- the registry ----------------------------------------------------------------

BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        name="dispatch",
        title="Dispatch",
        full=("--rounds", "15", "--number", "20000"),
        quick=("--rounds", "3", "--number", "2000"),
        timeout=600,
        quick_timeout=60,
        intro="""
`Signal.send` and `Signal.asend` of reqsignals, `django.dispatch.Signal` and
`blinker.Signal`, each with the same 0, 1, 3 or 10 receivers connected, strongly and
weakly referenced. The **bare loop** is the limit: `[(r, r(signal=..., sender=sender,
**named)) for r in receivers]` over a tuple of the same receivers. Targets: with
receivers, reqsignals' `send` within 1.2× of the bare loop (1.3× with weak receivers)
and faster than Django and blinker in every row; with no receivers, at most 0.8×
Django's time.
""",
        render=render_dispatch,
        chart=chart_dispatch,
        discussion="""
Why it is fast: connecting or disconnecting publishes a new immutable tuple, and each
sender's plan (which receivers, whether any is weak or async) is computed once and
cached, so a send is one dictionary look-up and a plain loop. With no receivers, `send`
returns after testing one empty tuple. Django's `asend` moves sync receivers to a thread
and gathers async ones; reqsignals awaits them in order on the running loop, which is
where the `asend` ratios come from.
""",
    ),
    Benchmark(
        name="middleware_wsgi",
        title="WSGI middleware",
        full=("--rounds", "60", "--requests", "2000"),
        quick=("--rounds", "5", "--requests", "300"),
        timeout=600,
        quick_timeout=90,
        intro="""
What one WSGI request costs through `reqsignals.wsgi.SignalsMiddleware`, called directly
with no server: each request copies an environ, calls the app with a `start_response`,
iterates the body and closes it. The app returns a one-item list. Anchors:
OpenTelemetry's `OpenTelemetryMiddleware` with an SDK `TracerProvider` and no span
processor; Sentry's `SentryWsgiMiddleware` after `sentry_sdk.init(default_integrations=False)`
with no DSN; Werkzeug's `ClosingIterator` and a one-line pass-through middleware. "1
receiver each" connects one no-op receiver (weak, the default) to each of the three
request signals. The "(reference)" row calls that receiver for `request_started` and for
`request_finished` directly, with the keyword arguments the middleware passes, around the
bare app: the floor under any request signals with one receiver each. Targets: with no
receivers, the overhead at most 1.5× the pass-through's; with one receiver on each
signal, at most 1/40 of the cheaper of OpenTelemetry's and Sentry's.
""",
        render=_render_middleware("opentelemetry", "sentry"),
        chart=_chart_middleware("WSGI request through each middleware, direct calls"),
        discussion="""
With no receivers connected the middleware reads the three signals' receiver tuples,
finds them empty and calls the app: its overhead and the pass-through's are both a few
tens of nanoseconds, so that verdict can flip with noise. With receivers, each request
pays for a request object, a wrapped `start_response`, two clock reads, the status
code (parsed once per distinct status line, then looked up) and a wrapped `close`, plus
the two sends. The middleware calls each signal's receivers from the dispatcher's cached
plan itself, with the keyword arguments spelled out: a `send_robust` call would add its
own call, a keyword dictionary built twice and a result list, about 0.4 µs per signal.
""",
    ),
    Benchmark(
        name="memory_wsgi",
        title="WSGI memory while streaming",
        full=("--gib", "1", "--runs", "3"),
        quick=("--gib", "0.125", "--runs", "1", "--servers", "waitress"),
        timeout=900,
        quick_timeout=120,
        intro="""
A real server on 127.0.0.1 (waitress, and gunicorn with one worker) streams a generated
1 GiB body as 64 KiB chunks; an httpx client reads and discards it; the server's peak
resident set is `VmHWM` from `/proc/<pid>/status` (the worker's, for gunicorn). Each
variant runs in a fresh server, interleaved, and keeps its lowest peak. "bare + import"
imports `reqsignals.wsgi` without using it; with the middleware, one receiver is
connected to each request signal in the server, so the body really goes through the
wrapper. Target: the peak with the middleware less than 10 MiB above the peak without
it (reqsignals imported in both).
""",
        render=render_memory,
        chart=chart_memory,
        discussion="""
The middleware never buffers: it hands the app's chunks on one at a time. Waitress's own
growth while streaming is its output buffer, the same with and without the middleware.
Importing reqsignals at all costs a few MiB, most of it `asyncio`, which the dispatcher
imports.
""",
    ),
    Benchmark(
        name="middleware_asgi",
        title="ASGI middleware",
        full=("--rounds", "30", "--chunk-ms", "40"),
        quick=("--rounds", "4", "--chunk-ms", "10"),
        timeout=600,
        quick_timeout=90,
        intro="""
Each variant wraps the same bare app (`http.response.start` and one body message) and is
awaited directly, `await app(dict(scope), receive, send)`, many times per timed chunk,
on one event loop: no server, no sockets. Anchors: OpenTelemetry's ASGI middleware with
an SDK tracer provider and no exporter; Sentry's ASGI middleware after `sentry_sdk.init()`
with no DSN; a no-op Starlette `BaseHTTPMiddleware`; a pass-through middleware. The
"(reference)" row calls one sync receiver for `request_started` and one for
`request_finished` directly, with the keyword arguments the middleware passes, and no
middleware at all: the floor under any request signals with one receiver each. Targets:
with no receivers, overhead at most 1.5× the pass-through's; with one receiver on each
signal (sync, or async), at most 1/40 of the cheaper of OpenTelemetry's and Sentry's
overhead.
""",
        render=_render_middleware("OpenTelemetry ASGI", "Sentry ASGI"),
        chart=_chart_middleware("ASGI request through each middleware, direct calls"),
        discussion="""
Beyond the two receiver calls, the middleware's own share is marking the scope, a `send`
wrapper that notes the response status, two clock reads and a `try`/`finally`. As in
WSGI, it runs each signal's cached plan itself rather than through `asend_robust`: sync
receivers are called inline and async ones awaited in the same loop, so an async
receiver costs only its own coroutine.
""",
    ),
    Benchmark(
        name="e2e_asgi",
        title="End to end under uvicorn",
        full=("--rounds", "10", "--duration", "4"),
        quick=("--rounds", "1", "--duration", "1"),
        timeout=600,
        quick_timeout=120,
        intro="""
uvicorn (one worker, access log off, lifespan off; its default loop and HTTP parser as
installed) serves `benchmarks/asgi_targets.py` five times: the bare app; the app under
`SignalsMiddleware` with one sync receiver on each signal; two references, the bare app
calling those two receivers itself (no middleware) and the app under the least any
middleware can do to send the two signals (`Floor`: a check of the scope's type, a
coroutine with a `try`/`finally` around the app, a `send` that notes the status, two
clock reads and the two receiver calls, hard-wired); and the app under OpenTelemetry's
ASGI middleware (SDK tracer provider, no exporter). All five run at once, pinned to the
first CPU, with `wrk -t1` pinned to the second, so the two never take turns on one core;
wrk loads each server in turn on 127.0.0.1, round after round; each keeps its best
round. The last column is the server's own CPU time per request (user + system, from
`/proc`), its least over the rounds. Then the bare app streams a 1 GiB body (64 KiB
chunks) through a fresh uvicorn, alone and under the middleware, and the two servers'
peak RSS (`VmHWM`) is read.
Targets: reqsignals keeps at least 0.97× the bare app's requests per second; the peaks
differ by less than 10 MiB.
""",
        render=render_e2e,
        chart=chart_e2e,
        discussion="""
Throughput is the number most sensitive to other load on the machine: compare the
rounds of one variant before reading a ratio between variants. The first reference
server shows what the receivers alone cost in a real server: a share of each request
several times larger than the direct calls suggest, since between two of our requests
uvicorn's and h11's code runs through the same processor caches. The second, `Floor`,
keeps none of the middleware's other promises (receivers connected and disconnected at
any time, weak references, a failing receiver logged, exceptions reported, applied
twice yet heard once, websockets); what separates it from reqsignals is the price of
those promises; in a run where it misses the target itself, a middleware that does
more cannot expect to meet it.
""",
    ),
    Benchmark(
        name="instructions_asgi",
        title="Instructions per request under uvicorn",
        full=("--requests", "2000"),
        quick=("--requests", "100"),
        timeout=600,
        quick_timeout=300,
        intro="""
Throughput moves by a percent or two between two servers of the same app on a shared
machine, as much as the differences above. Instruction counts hardly move: uvicorn
serves each variant of `benchmarks/asgi_targets.py` under valgrind's callgrind
(counting off, hash seed fixed), takes 300 warm-up requests, then counts its
instructions over the next requests, sent one after the other on one keep-alive
connection. Run after run the counts agree to about 0.3% of a request. They cover the
server's own user-space work only: not the kernel's share of each request (the socket
reads and writes), nor how long an instruction takes, so they rank the variants without
converting to time. uvicorn's housekeeping, ten times a second, is counted too, a small
share that grows with how long the slowed-down server takes. Needs `valgrind` on the
PATH.
""",
        render=render_instructions,
        discussion="""
The counts split what a request with receivers costs into what any middleware must do
(the floor: a check of the scope's type, a coroutine with a `try`/`finally`, a `send`
that notes the status, two clock reads, the two receiver calls) and what reqsignals does
on top: it looks up the receivers connected at that moment (the dispatcher's cached plan,
weak references followed), checks whether any signal has a receiver and whether another
instance already took the request, marks the scope for that instance and for the
framework integrations, and has a `send` that also knows websocket statuses and leaves a
malformed message to the server. Logging a failing receiver and reporting an exception
cost nothing until one happens.
""",
    ),
    Benchmark(
        name="sessions",
        title="Sessions",
        full=("--rounds", "9", "--number", "2000"),
        quick=("--rounds", "2", "--number", "200"),
        timeout=600,
        quick_timeout=90,
        intro="""
The session middleware's cost per request, called directly as ASGI (no server, no
client) on one event loop, around the same bare app. Every request carries the cookie of
an existing session holding a user id and a CSRF token; **read** reads one key,
**write** sets one key. Starlette's `SessionMiddleware` (a signed cookie) is the anchor;
the "bare app" row puts a plain dict in the scope and is the floor. Redis is a real
`redis-server` on 127.0.0.1 started by the script; SQLite is a file in a temporary
directory. Target: reqsignals' `CookieStore` within 1.5× of Starlette's middleware.
""",
        render=render_sessions,
        chart=chart_sessions,
        discussion="""
The cookie and memory stores do what Starlette does per request: parse the cookie,
check one HMAC, decode JSON. Starlette signs and sends the cookie again on every request
with a non-empty session, read-only ones included; reqsignals sends one only when the
session changed. SQLite pays for moving each query off the event loop to the store's
thread pool (one hop to read, another to write), the price of never blocking the loop;
WSGI apps call it directly. Redis pays a network round trip per command plus redis-py's
asyncio client.
""",
    ),
    Benchmark(
        name="auth",
        title="Authenticated requests",
        full=("--rounds", "9", "--number", "2000"),
        quick=("--rounds", "2", "--number", "200"),
        timeout=600,
        quick_timeout=90,
        intro="""
What a logged-in user costs per request, per session store, next to the bare session
middleware: `SessionAuth` called directly as ASGI on one event loop, first without
backends on an anonymous session, then with a memory and a SQLite user backend on the
cookie of a logged-in session, so that the user is loaded (and the session hash checked)
before the app runs. Redis is a real `redis-server` on 127.0.0.1 started by the script.
""",
        chart=chart_generic,
    ),
)
BY_NAME = {b.name: b for b in BENCHMARKS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
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
            print(f"{bench.name}: {_status_text(run)}", file=sys.stderr)
            runs.append(run)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        render_page(runs, facts, args.quick, output.parent, only=bool(args.only)), encoding="utf-8"
    )
    print(f"wrote {output}", file=sys.stderr)
    return 1 if any(r.status in ("failed", "timeout") for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
