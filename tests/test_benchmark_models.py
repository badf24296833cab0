"""benchmarks/models.py runs and prints its tables (a smoke run, never timed)."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.support import ROOT


def test_models_benchmark_prints_the_table_and_the_ratios() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.models", "--rounds", "1", "--objects", "20"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for line in (
        "| reqsignals, one post_save receiver |",
        "| reqsignals, no receivers / bare |",
        "| reqsignals, one receiver / SQLAlchemy listener |",
    ):
        assert line in result.stdout
