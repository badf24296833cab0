"""What the servers of tests/test_response_duration.py serve: a fast response followed by
background work, and a slow stream, as an ASGI (Starlette) and a WSGI app.

Imported with ``TIMING_EVENTS`` set (as the tests' servers are), it connects a receiver
that appends ``request_finished``'s path, ``duration`` and ``response_duration`` as a
JSON line to the file it names; imported without, it connects nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from reqsignals import request_finished
from reqsignals.asgi import SignalsMiddleware as ASGIMiddleware
from reqsignals.wsgi import SignalsMiddleware as WSGIMiddleware

BACKGROUND = 0.5  # seconds of work after the response
CHUNKS, PAUSE = 3, 0.1  # the stream: 3 chunks, 0.1 s apart


def record(sender: Any, **kwargs: Any) -> None:
    request = kwargs.get("environ") or kwargs["scope"]
    line = {
        "path": request.get("PATH_INFO") or request.get("path"),
        "duration": kwargs["duration"],
        "response_duration": kwargs["response_duration"],
    }
    with open(os.environ["TIMING_EVENTS"], "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


# Only in a server the tests started: test_response_duration.py imports this module
# for its constants, and a receiver connected there would hear every later test.
if "TIMING_EVENTS" in os.environ:
    request_finished.connect(record)


async def background(request: Request) -> PlainTextResponse:
    return PlainTextResponse("fast", background=BackgroundTask(asyncio.sleep, BACKGROUND))


async def _chunks() -> AsyncIterator[bytes]:
    for _ in range(CHUNKS):
        await asyncio.sleep(PAUSE)
        yield b"chunk"


async def stream(request: Request) -> StreamingResponse:
    return StreamingResponse(_chunks())


asgi_app = Starlette(
    routes=[Route("/background", background), Route("/stream", stream)],
    middleware=[Middleware(ASGIMiddleware)],
)


class _CloseWorks:
    """A one-chunk body whose close() does the background work."""

    def __iter__(self) -> Iterator[bytes]:
        return iter([b"fast"])

    def close(self) -> None:
        time.sleep(BACKGROUND)


def _stream() -> Iterator[bytes]:
    for _ in range(CHUNKS):
        time.sleep(PAUSE)
        yield b"chunk"


def _wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _CloseWorks() if environ["PATH_INFO"] == "/background" else _stream()


wsgi_app = WSGIMiddleware(_wsgi)
