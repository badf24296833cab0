"""The app the end-to-end ASGI benchmark serves with uvicorn, one variant per process.

``REQSIGNALS_BENCH_VARIANT`` picks it: ``bare`` (the app alone), ``reqsignals``
(under SignalsMiddleware, one sync receiver on each request signal), ``receivers``
(no middleware: the app itself calls the ``request_started`` and ``request_finished``
receivers with the keyword arguments the middleware would pass, for reference),
``floor`` (under :class:`Floor`, the least any middleware can do to send those two
signals, for reference), ``floor_without_response_duration`` (:class:`Floor` without
what ``response_duration`` takes: what that argument costs) or ``otel`` (under
OpenTelemetry's ASGI middleware with an SDK tracer provider, no exporter).

``GET /`` answers ``Hello, world!``; ``GET /stream?bytes=N`` streams N bytes in 64 KiB
chunks (with a Content-Length, so the client knows where it ends).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable
from time import perf_counter
from typing import Any

from reqsignals.asgi import SignalsMiddleware
from reqsignals.signals import got_request_exception, request_finished, request_started
from reqsignals.types import ASGIApp, Message, Receive, Scope, Send

HELLO = b"Hello, world!"
CHUNK = b"x" * 65536

counts = {"request_started": 0, "got_request_exception": 0, "request_finished": 0}


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    if scope["path"] == "/stream":
        size = int(scope["query_string"].decode().removeprefix("bytes="))
        headers = [(b"content-type", b"application/octet-stream"),
                   (b"content-length", str(size).encode())]  # fmt: skip
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        view = memoryview(CHUNK)
        while size > 0:
            part = CHUNK if size >= len(CHUNK) else bytes(view[:size])
            size -= len(part)
            await send({"type": "http.response.body", "body": part, "more_body": size > 0})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")],
        }
    )
    await send({"type": "http.response.body", "body": HELLO})


def count_started(sender: Any, **kwargs: Any) -> None:
    counts["request_started"] += 1


def count_exception(sender: Any, **kwargs: Any) -> None:
    counts["got_request_exception"] += 1


def count_finished(sender: Any, **kwargs: Any) -> None:
    counts["request_finished"] += 1


async def receivers_alone(scope: Scope, receive: Receive, send: Send) -> None:
    """The bare app, calling the two receivers of a successful request itself."""
    count_started(signal=request_started, sender=bare, scope=scope)
    await bare(scope, receive, send)
    count_finished(
        signal=request_finished,
        sender=bare,
        scope=scope,
        status=200,
        duration=0.0,
        response_duration=0.0,
    )


class Floor:
    """The least any middleware can do to send ``request_started`` and ``request_finished``.

    Each part is one the signals cannot do without: a check that the scope is a request
    (lifespan is not); a coroutine around the app, since ``request_finished`` comes when
    the app returns; a ``try``/``finally``, so that it comes when the app raises too; a
    ``send`` that notes the status and the time of the body's last message, the only
    place they show; two more clock reads for ``duration``; and the two receiver calls.
    The receivers are hard-wired: no look-up of who is connected, no weak references,
    no logging of a receiver that fails, no guard against being applied twice, no
    websockets. For reference only: it keeps
    none of the middleware's other promises.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = sent_at = None

        def send_noting_status(message: Message) -> Awaitable[None]:
            nonlocal status, sent_at
            if message["type"] == "http.response.start":
                status = message["status"]
            elif not message.get("more_body", False):
                sent_at = perf_counter()
            return send(message)

        start = perf_counter()
        count_started(signal=request_started, sender=bare, scope=scope)
        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            duration = perf_counter() - start
            count_finished(
                signal=request_finished,
                sender=bare,
                scope=scope,
                status=status,
                duration=duration,
                response_duration=None if sent_at is None else sent_at - start,
            )


class FloorWithoutResponseDuration(Floor):
    """:class:`Floor` without ``response_duration``: its ``send`` notes the status only,
    and ``request_finished`` gets no ``response_duration``. Set against :class:`Floor`,
    it shows what that argument costs a request: the end-of-body test, a clock read, a
    subtraction and one keyword more for each receiver."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = None

        def send_noting_status(message: Message) -> Awaitable[None]:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            return send(message)

        start = perf_counter()
        count_started(signal=request_started, sender=bare, scope=scope)
        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            duration = perf_counter() - start
            count_finished(
                signal=request_finished, sender=bare, scope=scope, status=status, duration=duration
            )


def build(variant: str) -> ASGIApp:
    if variant == "bare":
        return bare
    if variant == "reqsignals":
        request_started.connect(count_started)
        got_request_exception.connect(count_exception)
        request_finished.connect(count_finished)
        return SignalsMiddleware(bare)
    if variant == "receivers":
        return receivers_alone
    if variant == "floor":
        return Floor(bare)
    if variant == "floor_without_response_duration":
        return FloorWithoutResponseDuration(bare)
    if variant == "otel":
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
        from opentelemetry.sdk.trace import TracerProvider

        return OpenTelemetryMiddleware(bare, tracer_provider=TracerProvider())
    raise ValueError(
        f"unknown REQSIGNALS_BENCH_VARIANT {variant!r}: bare, reqsignals, receivers, floor, "
        "floor_without_response_duration or otel"
    )


app = build(os.environ.get("REQSIGNALS_BENCH_VARIANT", "bare"))
