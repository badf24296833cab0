from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from reqsignals import got_request_exception, request_finished, request_started
from reqsignals.testing import Capture, capture
from tests.helpers import support
from tests.helpers.redis_server import redis_server as start_redis_server

# Known secrets must never reach a log record, an exception or a signal (tests/helpers/canary.py);
# tables of figures printed at the end of the run, from every xdist worker
# (tests/helpers/figures.py).
pytest_plugins = ["tests.helpers.canary", "tests.helpers.figures"]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[support.Server]:
    """One real redis-server on 127.0.0.1 for the whole run; tests keep apart by key prefix."""
    with start_redis_server() as server:
        yield server


@pytest.fixture
def recorder() -> Iterator[Capture]:
    """Every request signal sent during the test, in order."""
    with capture(request_started, got_request_exception, request_finished) as cap:
        yield cap


_FIRST_STARTED = pytest.StashKey[int]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_FIRST_STARTED] = len(support.started_servers)


def _servers_used_by(item: pytest.Item) -> list[support.Server]:
    """The servers started since *item*'s setup began, and those among its arguments."""
    used = support.started_servers[item.stash.get(_FIRST_STARTED, 0) :]
    for value in getattr(item, "funcargs", {}).values():
        for candidate in value if isinstance(value, list) else [value]:
            if isinstance(candidate, support.Server) and candidate not in used:
                used.append(candidate)
    return used


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test's report shows the output of the servers it ran (their last 4 kB)."""
    report: pytest.TestReport = yield
    if report.failed:
        for server in _servers_used_by(item):
            title = f"output of the server on port {server.port}"
            report.sections.append((title, server.output()[-4000:]))
    if report.when == "teardown":
        support.started_servers[:] = [s for s in support.started_servers if s.last_output is None]
    return report
