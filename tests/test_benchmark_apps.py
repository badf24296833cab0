"""The apps the end-to-end benchmark serves: each reference does what it stands for.

The throughput of the two references is set against the middleware's, so they must
call the receivers exactly as the middleware does, and answer the same response.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack, suppress
from typing import Any

import httpx
import pytest

from benchmarks import asgi_targets, instructions_direct, quiet_uvicorn
from benchmarks.middleware_asgi import SCOPE
from reqsignals.asgi import SignalsMiddleware
from reqsignals.signals import request_finished, request_started
from reqsignals.types import ASGIApp, Message
from tests.helpers.support import ROOT, run_server

Heard = list[tuple[str, Any, dict[str, Any]]]


def serve(app: ASGIApp) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(dict(SCOPE), receive, send))  # type: ignore[arg-type]
    return sent


def recorders(heard: Heard) -> tuple[Callable[..., None], Callable[..., None]]:
    def started(sender: Any, **kwargs: Any) -> None:
        heard.append(("request_started", sender, kwargs))

    def finished(sender: Any, **kwargs: Any) -> None:
        heard.append(("request_finished", sender, kwargs))

    return started, finished


@pytest.fixture
def heard(monkeypatch: pytest.MonkeyPatch) -> Heard:
    """What the references' counting receivers hear, in order."""
    calls: Heard = []
    started, finished = recorders(calls)
    # Both references call the module's counting receivers by name.
    monkeypatch.setattr(asgi_targets, "count_started", started)
    monkeypatch.setattr(asgi_targets, "count_finished", finished)
    return calls


def scope_catcher(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Make the module's bare app (the sender of every reference) note each scope it gets."""
    seen: list[Any] = []
    bare = asgi_targets.bare

    async def noting(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)
        await bare(scope, receive, send)

    monkeypatch.setattr(asgi_targets, "bare", noting)
    return seen


def middleware_run(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Message], Heard, list[Any]]:
    heard: Heard = []
    started, finished = recorders(heard)
    seen = scope_catcher(monkeypatch)
    with ExitStack() as stack:
        stack.enter_context(request_started.connected_to(started))
        stack.enter_context(request_finished.connected_to(finished))
        sent = serve(SignalsMiddleware(asgi_targets.bare))
    return sent, heard, seen


@pytest.mark.parametrize("variant", ["floor", "receivers"])
def test_a_reference_calls_the_receivers_as_the_middleware_does(
    variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected_sent, expected_heard, _ = middleware_run(monkeypatch)
    monkeypatch.undo()
    heard: Heard = []
    started, finished = recorders(heard)
    seen = scope_catcher(monkeypatch)
    monkeypatch.setattr(asgi_targets, "count_started", started)
    monkeypatch.setattr(asgi_targets, "count_finished", finished)

    sent = serve(asgi_targets.build(variant))

    assert sent == expected_sent
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    # The same receivers, in the same order, from the same sender, with the same
    # keyword arguments; only the durations differ.
    assert [(name, sorted(kw)) for name, _, kw in heard] == [
        (name, sorted(kw)) for name, _, kw in expected_heard
    ]
    assert [name for name, _, _ in heard] == ["request_started", "request_finished"]
    assert all(sender is asgi_targets.bare for _, sender, _ in heard)
    for (_, _, kw), (_, _, want) in zip(heard, expected_heard, strict=True):
        assert kw["signal"] is want["signal"]
        assert kw["scope"] is seen[0]  # the very scope the app was called with
    assert isinstance(heard[1][2]["duration"], float)
    assert heard[1][2]["duration"] >= 0.0


def test_the_floor_without_response_duration_leaves_out_that_argument_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected_sent, expected_heard, _ = middleware_run(monkeypatch)
    monkeypatch.undo()
    heard: Heard = []
    started, finished = recorders(heard)
    monkeypatch.setattr(asgi_targets, "count_started", started)
    monkeypatch.setattr(asgi_targets, "count_finished", finished)

    sent = serve(asgi_targets.build("floor_without_response_duration"))

    assert sent == expected_sent
    assert [(name, sorted(kw)) for name, _, kw in heard] == [
        (name, sorted(k for k in kw if k != "response_duration")) for name, _, kw in expected_heard
    ]
    assert heard[1][2]["status"] == 200


def test_the_floor_notes_the_status_the_app_sends(heard: Heard) -> None:

    async def not_found(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    serve(asgi_targets.Floor(not_found))
    assert heard[-1][0] == "request_finished"
    assert heard[-1][2]["status"] == 404


def test_the_floor_finishes_when_the_app_raises(heard: Heard) -> None:

    async def boom(scope: Any, receive: Any, send: Any) -> None:
        raise LookupError("boom")

    with pytest.raises(LookupError, match="boom"):
        serve(asgi_targets.Floor(boom))
    assert [(name, kw.get("status")) for name, _, kw in heard] == [
        ("request_started", None),
        ("request_finished", None),
    ]


def test_the_floor_passes_lifespan_through(heard: Heard) -> None:
    got: list[Any] = []

    async def lifespan(scope: Any, receive: Any, send: Any) -> None:
        got.append((scope, send))

    async def server_send(message: Message) -> None:
        return None

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    asyncio.run(asgi_targets.Floor(lifespan)(scope, receive, server_send))
    assert got == [(scope, server_send)]
    assert heard == []


def test_an_unknown_variant_names_the_known_ones() -> None:
    with pytest.raises(
        ValueError,
        match="bare, reqsignals, receivers, floor, floor_without_response_duration or otel",
    ):
        asgi_targets.build("fast")


def test_a_benchmark_stopped_by_sigterm_stops_its_servers() -> None:
    # What the report does to a benchmark that runs out of time. The server runs in a
    # session of its own, out of reach of a signal to the benchmark's group.
    script = (
        "import time\n"
        "from benchmarks.e2e_asgi import stop_servers_on_sigterm, uvicorn\n"
        "stop_servers_on_sigterm()\n"
        "with uvicorn('bare') as (proc, port):\n"
        "    print(proc.pid, flush=True)\n"
        "    time.sleep(60)\n"
    )
    bench = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    server = None
    try:
        assert bench.stdout is not None
        server = int(bench.stdout.readline())  # printed once the server answers
        os.kill(server, 0)  # running
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(30) == 128 + signal.SIGTERM
        with pytest.raises(ProcessLookupError):
            os.kill(server, 0)
        server = None
    finally:
        for pid in (bench.pid, server):
            if pid is not None:
                with suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
        bench.wait(10)
        if bench.stdout is not None:
            bench.stdout.close()


@pytest.mark.parametrize("variant", list(instructions_direct.VARIANTS))
def test_every_variant_can_be_driven_without_a_server(variant: str) -> None:
    # What benchmarks.instructions_direct runs under callgrind, run plainly: a variant
    # that waited for anything could not be driven by hand, and would fail here.
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.instructions_direct", "--child", variant, "20"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    heard = 0 if variant == "bare" else 20 + instructions_direct.WARM_UP
    assert proc.stdout.split() == [str(heard), str(heard)]


@pytest.mark.parametrize("layout", ["0", "3"])
def test_the_quiet_uvicorn_of_the_instruction_counts_serves_the_benchmark_app(
    layout: str,
) -> None:
    # benchmarks.instructions_asgi counts uvicorn run by benchmarks.quiet_uvicorn, under
    # several layouts: each must serve the app as uvicorn does, with the reqsignals
    # variant's receivers heard.
    argv = ["python", "-m", "benchmarks.quiet_uvicorn", "benchmarks.asgi_targets:app",
            "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning"]  # fmt: skip
    env = {"REQSIGNALS_BENCH_VARIANT": "reqsignals", quiet_uvicorn.LAYOUT: layout}
    with run_server(argv, env=env, cwd=ROOT) as server:
        answers = [httpx.get(f"http://127.0.0.1:{server.port}/", timeout=10) for _ in range(3)]
    assert [(a.status_code, a.text) for a in answers] == [(200, "Hello, world!")] * 3
    assert "date" in answers[0].headers  # refreshed by the slowed-down housekeeping


def test_the_quiet_uvicorn_wakes_up_every_tick_and_stops_when_told() -> None:
    ticks: list[int] = []

    class Server:
        should_exit = False

        async def on_tick(self, counter: int) -> bool:
            ticks.append(counter)
            return len(ticks) == 3

    async def main() -> float:
        start = asyncio.get_running_loop().time()
        await quiet_uvicorn._main_loop(Server())  # type: ignore[arg-type]
        return asyncio.get_running_loop().time() - start

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(quiet_uvicorn, "TICK", 0.05)
        took = asyncio.run(main())
    assert ticks == [0, 10, 20]  # a multiple of ten: uvicorn refreshes its date on each
    assert 0.1 <= took < 2
