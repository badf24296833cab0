"""``response_duration`` under real servers: the latency the client saw, apart from the
work an app does after the body (Starlette background tasks, a WSGI ``close()``).

Each server serves tests/live_apps/timing_served.py once for the module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.support import Server, run_server
from tests.live_apps import timing_served

pytestmark = pytest.mark.server

SERVERS = {
    "uvicorn": ["python", "-m", "uvicorn", "tests.live_apps.timing_served:asgi_app",
                "--port", "{port}", "--no-access-log"],
    "hypercorn": ["python", "-m", "hypercorn", "tests.live_apps.timing_served:asgi_app",
                  "--bind", "127.0.0.1:{port}"],
    "gunicorn": ["python", "-m", "gunicorn", "-w", "1", "-b", "127.0.0.1:{port}",
                 "tests.live_apps.timing_served:wsgi_app"],
    "waitress": ["python", "-m", "waitress", "--listen=127.0.0.1:{port}",
                 "tests.live_apps.timing_served:wsgi_app"],
}  # fmt: skip


@pytest.fixture(scope="module", params=list(SERVERS))
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Path]]:
    events = tmp_path_factory.mktemp("timing") / "events.jsonl"
    events.write_text("")
    with run_server(SERVERS[request.param], env={"TIMING_EVENTS": str(events)}) as server:
        yield server, events


def finished_for(served: tuple[Server, Path], path: str) -> dict[str, Any]:
    """GET *path*, then wait for its request_finished (after the background work)."""
    server, events = served
    before = len(events.read_text().splitlines())
    response = httpx.get(server.url + path, timeout=10)
    assert response.status_code == 200
    deadline = time.monotonic() + 10
    while len(lines := events.read_text().splitlines()) <= before:
        assert time.monotonic() < deadline, "request_finished never came"
        time.sleep(0.05)
    (line,) = lines[before:]
    recorded: dict[str, Any] = json.loads(line)
    assert recorded["path"] == path
    return recorded


def test_background_work_is_in_duration_not_in_response_duration(
    served: tuple[Server, Path],
) -> None:
    finished = finished_for(served, "/background")
    assert finished["duration"] >= timing_served.BACKGROUND
    assert finished["response_duration"] < timing_served.BACKGROUND / 2


def test_a_streamed_response_duration_covers_the_whole_stream(
    served: tuple[Server, Path],
) -> None:
    finished = finished_for(served, "/stream")
    whole = timing_served.CHUNKS * timing_served.PAUSE
    assert whole <= finished["response_duration"] <= finished["duration"]
