"""The test helpers that other tests' verdicts rest on."""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.helpers.support import ROOT, run_all


async def slow(name: str, cleaned: list[str]) -> None:
    try:
        await asyncio.sleep(10)
    finally:
        cleaned.append(name)


def test_run_all_returns_the_results_in_order() -> None:
    async def after(delay: float, value: int) -> int:
        await asyncio.sleep(delay)
        return value

    assert asyncio.run(run_all([after(0.03, 1), after(0.0, 2), after(0.01, 3)], 5)) == [1, 2, 3]


def test_run_all_cancels_and_awaits_the_rest_after_the_first_failure() -> None:
    cleaned: list[str] = []

    async def fail() -> None:
        await asyncio.sleep(0.01)
        raise ValueError("the first failure")

    async def main() -> None:
        with pytest.raises(ValueError, match="the first failure"):
            await run_all([fail(), slow("a", cleaned), slow("b", cleaned)], timeout=5)
        assert sorted(cleaned) == ["a", "b"]
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(main())


def test_run_all_cancels_everything_at_the_timeout() -> None:
    cleaned: list[str] = []

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await run_all([slow("a", cleaned), slow("b", cleaned)], timeout=0.05)
        assert sorted(cleaned) == ["a", "b"]
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(main())


FIGURES_TESTS = """
import os


def test_{name}(figures):
    figures("the run's figures", {{"file": "{name}", "worker": os.environ["PYTEST_XDIST_WORKER"]}})
"""


def test_figures_from_every_xdist_worker_are_printed_as_one_table(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The workers import tests.helpers.figures from this checkout.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    for name in ("one", "two"):
        pytester.makepyfile(**{f"test_{name}": FIGURES_TESTS.format(name=name)})
    result = pytester.runpytest_subprocess(
        "-p", "tests.helpers.figures", "-n", "2", "--dist", "loadfile"
    )
    result.assert_outcomes(passed=2)
    lines = result.stdout.lines
    (start,) = [n for n, line in enumerate(lines) if "the run's figures" in line]
    header, rule, *rows = lines[start + 1 : start + 5]
    assert header.split() == ["|", "file", "|", "worker", "|"]
    assert set(rule) == {"|", "-"}
    assert sorted(row.split()[1] for row in rows) == ["one", "two"]
    assert all(row.split()[3].startswith("gw") for row in rows)  # measured in a worker
