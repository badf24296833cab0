"""Each benchmark in a subprocess of its own, bounded by a timeout, and what came of it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.report.machine import ROOT, loadavg

Data = dict[str, Any]


@dataclass(frozen=True)
class Benchmark:
    """One script under benchmarks/, and how the report runs and shows it.

    *intro* and *discussion* are the paragraphs printed before and after its results
    (the registry takes them from the page's template); *render* lays out its results
    as Markdown and *chart* draws them on a matplotlib figure.
    """

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
        """The module ``python -m`` runs."""
        return f"benchmarks.{self.name}"

    @property
    def path(self) -> Path:
        """The script's file, which may be absent from a checkout."""
        return ROOT / "benchmarks" / f"{self.name}.py"

    def command(self, quick: bool) -> list[str]:
        """The command line the page shows, to rerun this comparison alone."""
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
        """The targets the benchmark judged (none without structured results)."""
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


def status_text(run: Run) -> str:
    """How the run went, in a few words, for the summary and the run's section."""
    if run.status == "missing":
        return f"not run: script missing (`benchmarks/{run.bench.name}.py`)"
    if run.status == "timeout":
        return f"not finished: timed out after {run.seconds:.0f} s"
    if run.status == "failed":
        return f"failed (exit code {run.returncode})"
    if run.data is None:
        return "ran; no structured results (the script has no `--json` option)"
    return f"ran in {run.seconds:.0f} s"
