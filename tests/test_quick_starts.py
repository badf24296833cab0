"""Same app, same signals, however it is served.

Every quick start of the README (tests/quick_starts/, each set up as the README says)
is served twice, by ``reqsignals run`` and by the server the README names (uvicorn for
ASGI, gunicorn for WSGI), and answers an ok, a raising and a streaming route. Both
servers must send the same signals: names, senders and statuses.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.support import run_server

pytestmark = pytest.mark.server

UVICORN = ["python", "-m", "uvicorn", "{target}", "--port", "{port}", "--no-access-log"]
GUNICORN = ["python", "-m", "gunicorn", "-w", "1", "-b", "127.0.0.1:{port}", "{target}"]
RUN = ["python", "-m", "reqsignals", "run", "--port", "{port}"]

#: quick start -> (the README's server command, its target there, reqsignals run's
#: arguments, the sender every signal must have).
QUICK_STARTS = {
    "starlette": (UVICORN, "starlette_app:app", ["starlette_app:app"], "Starlette"),
    "fastapi": (UVICORN, "fastapi_app:app", ["fastapi_app:app"], "FastAPI"),
    "flask": (GUNICORN, "flask_app:create_app()", ["--factory", "flask_app:create_app"], "Flask"),
    "django": (GUNICORN, "django_site:application", ["django_site:application"], "WSGIHandler"),
    "bare-wsgi": (GUNICORN, "bare_wsgi:app", ["bare_wsgi:app"], "function app"),
    "bare-asgi": (UVICORN, "bare_asgi:app", ["bare_asgi:app"], "function app"),
}

ROUTES = {
    "/ok": ["request_started", "request_finished"],
    "/boom": ["request_started", "got_request_exception", "request_finished"],
    "/stream": ["request_started", "request_finished"],
}
STATUSES = {"/ok": 200, "/boom": 500, "/stream": 200}


def signals_of(command: list[str], events: Path) -> list[tuple[str, str, str, int | None]]:
    """Serve with *command*, request each route, and return the signals sent."""
    events.write_text("")
    with run_server(command, env={"QUICK_START_EVENTS": str(events)}) as server:
        for path in ROUTES:
            # A connection each: a server may close one after an app's exception.
            response = httpx.get(server.url + path, timeout=10)
            assert response.status_code == STATUSES[path], (path, response.text)
        expected = sum(len(names) for names in ROUTES.values())
        deadline = time.monotonic() + 10
        while len(lines := events.read_text().splitlines()) < expected:
            assert time.monotonic() < deadline, f"only {lines} in {events}"
            time.sleep(0.05)
        time.sleep(0.2)  # anything extra would show up now
        lines = events.read_text().splitlines()
    recorded = [json.loads(line) for line in lines]
    return [(r["path"], r["signal"], r["sender"], r["status"]) for r in recorded]


@pytest.mark.parametrize("name", list(QUICK_STARTS))
def test_a_quick_start_sends_the_same_signals_however_it_is_served(
    name: str, tmp_path: Path
) -> None:
    server, target, run_args, sender = QUICK_STARTS[name]
    package = "tests.quick_starts."
    by_server = signals_of(
        [a.replace("{target}", package + target) for a in server], tmp_path / "server.jsonl"
    )
    by_run = signals_of([*RUN, *run_args[:-1], package + run_args[-1]], tmp_path / "run.jsonl")
    expected: list[tuple[Any, ...]] = []
    for path, names in ROUTES.items():
        for signal in names:
            status = STATUSES[path] if signal == "request_finished" else None
            expected.append((path, signal, sender, status))
    assert by_server == expected
    assert by_run == expected
