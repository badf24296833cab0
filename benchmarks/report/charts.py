"""The PNG chart of each benchmark's results, drawn with matplotlib (the ``bench`` group)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.report.runner import Benchmark, Data
from benchmarks.report.tables import num, times

CHART_SIZE = (8.0, 4.5)  # inches, at 100 dpi: 800 x 450 pixels
CHART_DPI = 100
COLORS = {
    "reqsignals": "#1f77b4",
    "anchor": "#9e9e9e",
    "floor": "#d0d0d0",
    "reference": "#aec7e8",
}


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
    """ns per send by receiver count, strong and weak references side by side."""
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


def chart_middleware(title: str) -> Callable[[Data, Any], None]:
    """A chart of µs per request for each variant of a middleware benchmark."""

    def chart(data: Data, fig: Any) -> None:
        rows = data["rows"]
        _hbars(fig, [r["variant"] for r in rows], [r["us"] for r in rows],
               "µs per request (log scale, lower is better)", log=True)  # fmt: skip
        fig.suptitle(title, fontsize=10)

    return chart


def chart_memory(data: Data, fig: Any) -> None:
    """Each server's peak memory, by variant."""
    rows = data["rows"]
    servers = list(dict.fromkeys(r["server"] for r in rows))
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    peak = {(r["server"], r["variant"]): r["peak_mib"] for r in rows}
    ax = fig.add_subplot()
    _grouped(ax, servers, {v: [peak[s, v] for s in servers] for v in variants},
             "peak RSS (VmHWM), MiB", palette=("#d0d0d0", "#9e9e9e", "#1f77b4"))  # fmt: skip
    fig.suptitle(f"Server peak memory while streaming {data.get('gib', 1):g} GiB", fontsize=10)


def chart_e2e(data: Data, fig: Any) -> None:
    """Requests per second under uvicorn, by variant."""
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
    """Read and write cost of each session middleware."""
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
