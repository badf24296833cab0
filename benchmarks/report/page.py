"""The Markdown page: the template's prose around each run's tables, charts and verdicts."""

from __future__ import annotations

import datetime
import functools
import os
import re
from pathlib import Path

from benchmarks.report.explain import explain
from benchmarks.report.runner import Data, Run, status_text
from benchmarks.report.tables import measured, render_generic, table, targets_table

TEMPLATE = Path(__file__).with_name("page.md")
_BLOCK = re.compile(r"^<!-- ([\w.]+) -->$", re.MULTILINE)


@functools.cache
def prose() -> dict[str, str]:
    """The template's blocks by name (``page``, ``machine``, ``dispatch.intro``, ...).

    A block starts at a line ``<!-- NAME -->`` and runs to the next such line; what comes
    before the first is the template's own description and is not printed.
    """
    parts = _BLOCK.split(TEMPLATE.read_text(encoding="utf-8"))
    return {name: text.strip() for name, text in zip(parts[1::2], parts[2::2], strict=True)}


def render_summary(runs: list[Run], loads: dict[str, str]) -> list[str]:
    """How many targets were met, a paragraph on each one missed, and each run's status."""
    results: dict[str, Data] = {r.bench.name: r.data for r in runs if r.data}
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
                status_text(r),
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


def render_section(run: Run, output_dir: Path) -> list[str]:
    """One benchmark's section: its intro, command, results (or why none) and discussion."""
    bench = run.bench
    out = [f"## {bench.title}", "", bench.intro.strip(), ""]
    out += ["```sh", " ".join(run.command), "```", ""]
    if run.status == "missing":
        out += [f"**Not run: script missing** — `benchmarks/{bench.name}.py` is not in this "
                "checkout.", ""]  # fmt: skip
        return out
    out += [f"Load average (1 / 5 / 15 min) before the run: {run.load}; "
            f"{status_text(run)}.", ""]  # fmt: skip
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
    """The whole page for *runs*, with links relative to *output_dir*."""
    text = prose()
    loads = {r.bench.name: r.load for r in runs}
    seconds = sum(r.seconds for r in runs)
    took = f"{seconds:.0f} seconds" if seconds < 120 else f"{seconds / 60:.0f} minutes"
    lines = [text["page"].format(took=took), ""]
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines.append(f"Generated {when}" + (f" {text['quick']}" if quick else "."))
    if only:
        lines[-1] += f" {text['only']}"
    lines.append("")
    lines += render_summary(runs, loads)
    lines += ["", "## Machine", ""]
    lines += table(["", ""], [[k, v] for k, v in facts], align="ll")
    lines += ["", text["machine"], ""]
    for run in runs:
        lines += render_section(run, output_dir)
    return "\n".join(lines).rstrip() + "\n"
