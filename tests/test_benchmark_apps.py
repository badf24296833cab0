"""The apps the end-to-end benchmark serves: each reference does what it stands for.

The throughput of the two references is set against the middleware's, so they must
call the receivers exactly as the middleware does, and answer the same response.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import pytest

from benchmarks import asgi_targets
from reqsignals.asgi import SignalsMiddleware
from reqsignals.signals import request_finished, request_started
from reqsignals.types import ASGIApp, Message

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/",
    "raw_path": b"/",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"host", b"127.0.0.1")],
}

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
def through_the_middleware() -> tuple[list[Message], Heard]:
    heard: Heard = []
    started, finished = recorders(heard)
    with ExitStack() as stack:
        stack.enter_context(request_started.connected_to(started))
        stack.enter_context(request_finished.connected_to(finished))
        sent = serve(SignalsMiddleware(asgi_targets.bare))
    return sent, heard


@pytest.mark.parametrize("variant", ["floor", "receivers"])
def test_a_reference_calls_the_receivers_as_the_middleware_does(
    variant: str,
    through_the_middleware: tuple[list[Message], Heard],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    heard: Heard = []
    started, finished = recorders(heard)
    # Both references call the module's counting receivers by name.
    monkeypatch.setattr(asgi_targets, "count_started", started)
    monkeypatch.setattr(asgi_targets, "count_finished", finished)

    sent = serve(asgi_targets.build(variant))

    expected_sent, expected_heard = through_the_middleware
    assert sent == expected_sent
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    # The same receivers, in the same order, from the same sender, with the same
    # keyword arguments; only the durations differ.
    assert [(name, sender, sorted(kw)) for name, sender, kw in heard] == [
        (name, sender, sorted(kw)) for name, sender, kw in expected_heard
    ]
    assert [name for name, _, _ in heard] == ["request_started", "request_finished"]
    assert all(sender is asgi_targets.bare for _, sender, _ in heard)
    for (_, _, kw), (_, _, want) in zip(heard, expected_heard, strict=True):
        assert kw["signal"] is want["signal"]
        assert kw["scope"]["path"] == "/"
    assert heard[1][2]["status"] == expected_heard[1][2]["status"] == 200
    assert isinstance(heard[1][2]["duration"], float)
    assert heard[1][2]["duration"] >= 0.0


def test_the_floor_notes_the_status_the_app_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    heard: Heard = []
    started, finished = recorders(heard)
    monkeypatch.setattr(asgi_targets, "count_started", started)
    monkeypatch.setattr(asgi_targets, "count_finished", finished)

    async def not_found(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    serve(asgi_targets.Floor(not_found))
    assert heard[-1][0] == "request_finished"
    assert heard[-1][2]["status"] == 404


def test_an_unknown_variant_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="bare, reqsignals, receivers, floor or otel"):
        asgi_targets.build("fast")
