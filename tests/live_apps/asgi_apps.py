"""ASGI apps the ASGI middleware tests run, in-process and under real servers.

Every app answers under its own path prefix with the same behaviours, so one table
of assertions covers them all:

``/<prefix>/ok``      200 ``ok``
``/<prefix>/boom``    raises ``RuntimeError("boom")`` before any response
``/<prefix>/stream``  200, three chunks ``a``, ``b``, ``c``

Nothing here connects a receiver: importing this module leaves the signals silent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from reqsignals.asgi import SignalsMiddleware
from reqsignals.types import Receive, Scope, Send

CHUNKS = [b"a", b"b", b"c"]

#: Things the apps did, in order, for tests that check ordering against signals.
app_log: list[str] = []


async def _chunks() -> AsyncIterator[bytes]:
    for chunk in CHUNKS:
        yield chunk


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    """A bare ASGI 3 app: no framework at all."""
    assert scope["type"] == "http"
    action = scope["path"].rsplit("/", 1)[-1]
    if action == "ok":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
    elif action == "boom":
        raise RuntimeError("boom")
    elif action == "stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for chunk in CHUNKS:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif action == "infinite":
        # Streams until the client leaves: uvicorn drops messages sent after a
        # disconnect, so the app watches receive() for http.disconnect.
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.ensure_future(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            while not gone.is_set():
                await send({"type": "http.response.body", "body": b"x" * 1024, "more_body": True})
                await asyncio.sleep(0.005)
        finally:
            watcher.cancel()
    elif action == "none":
        return  # no response at all
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"not found"})


# -- Starlette and FastAPI ---------------------------------------------------


async def _ok(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _boom(request: Request) -> Response:
    raise RuntimeError("boom")


async def _stream(request: Request) -> Response:
    return StreamingResponse(_chunks())


async def _infinite(request: Request) -> Response:
    async def forever() -> AsyncIterator[bytes]:
        while True:
            yield b"x" * 1024
            await asyncio.sleep(0.005)

    return StreamingResponse(forever())


async def _background_work(label: str) -> None:
    await asyncio.sleep(0.2)
    app_log.append(f"background done {label}")


async def _background(request: Request) -> Response:
    label = request.query_params.get("t", "")
    return PlainTextResponse("ok", background=BackgroundTask(_background_work, label))


# The gated stream sends its first chunk, then waits until /release is requested:
# a client that reads the first chunk before releasing proves nothing is buffered.
_gates: dict[str, asyncio.Event] = {}


def _gate_for(token: str) -> asyncio.Event:
    return _gates.setdefault(token, asyncio.Event())


async def _gated(request: Request) -> Response:
    gate = _gate_for(request.query_params["t"])

    async def body() -> AsyncIterator[bytes]:
        yield b"first"
        try:
            await asyncio.wait_for(gate.wait(), 10)
        except asyncio.TimeoutError:
            yield b"-timeout"
            return
        yield b"-second"

    return StreamingResponse(body())


async def _release(request: Request) -> Response:
    _gate_for(request.query_params["t"]).set()
    return PlainTextResponse("released")


def _routes(prefix: str) -> list[Route]:
    return [
        Route(f"/{prefix}/ok", _ok),
        Route(f"/{prefix}/boom", _boom),
        Route(f"/{prefix}/stream", _stream),
        Route(f"/{prefix}/infinite", _infinite),
        Route(f"/{prefix}/background", _background),
        Route(f"/{prefix}/gated", _gated),
        Route(f"/{prefix}/release", _release),
    ]


def starlette_with_middleware(prefix: str = "smw", **options: Any) -> Starlette:
    """Starlette with ``middleware=[Middleware(SignalsMiddleware, ...)]``."""
    return Starlette(routes=_routes(prefix), middleware=[Middleware(SignalsMiddleware, **options)])


def starlette_add_middleware(prefix: str = "sadd", **options: Any) -> Starlette:
    """Starlette with ``app.add_middleware(SignalsMiddleware, ...)``."""
    app = Starlette(routes=_routes(prefix))
    app.add_middleware(SignalsMiddleware, **options)
    return app


def fastapi_app(prefix: str = "fastapi", **options: Any) -> FastAPI:
    """FastAPI with ``app.add_middleware(SignalsMiddleware, ...)``."""
    app = FastAPI()

    @app.get(f"/{prefix}/ok")
    async def ok() -> Response:
        return PlainTextResponse("ok")

    @app.get(f"/{prefix}/boom")
    async def boom() -> Response:
        raise RuntimeError("boom")

    @app.get(f"/{prefix}/stream")
    async def stream() -> Response:
        return StreamingResponse(_chunks())

    app.add_middleware(SignalsMiddleware, **options)
    return app


async def ws_ticker(scope: Scope, receive: Receive, send: Send) -> None:
    """A websocket app that accepts, then sends ``tick`` until ``send`` fails.

    It never reads again, so it only learns that the client left when the server's
    ``send`` raises (uvicorn: ``ClientDisconnected``, an ``OSError``; ASGI spec 2.4).
    """
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    for _ in range(3000):  # 30 s at most, then give up
        await send({"type": "websocket.send", "text": "tick"})
        await asyncio.sleep(0.01)
