"""Facts about the machine and the software measured, for the page's Machine table."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The anchors and servers the benchmarks compare with, whose versions the page lists.
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
