"""The README's Starlette quick start (``uvicorn module:app``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from reqsignals.asgi import SignalsMiddleware
from tests.quick_starts import recording  # noqa: F401 - connects the recording receivers


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def boom(request: Request) -> PlainTextResponse:
    raise RuntimeError("boom")


async def chunks() -> AsyncIterator[bytes]:
    for _ in range(3):
        yield b"chunk"


async def stream(request: Request) -> StreamingResponse:
    return StreamingResponse(chunks())


routes = [Route("/ok", ok), Route("/boom", boom), Route("/stream", stream)]
app = Starlette(routes=routes, middleware=[Middleware(SignalsMiddleware)])
