"""A bare ASGI app with request signals: no framework, just a coroutine.

Run it (from the repository root) under any ASGI server::

    uvicorn examples.bare_asgi:app
    hypercorn examples.bare_asgi:app

then ``curl localhost:8000/``, ``/stream`` and ``/boom``, or open a websocket to
``/echo``. Each request — websockets too — logs a timing line; ``/boom`` raises, so
``got_request_exception`` logs the error before the server answers 500.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import reqsignals
from examples.receivers import timing
from reqsignals.types import ASGIGotRequestExceptionArgs

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack on Python 3.11+

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
logger = logging.getLogger(__name__)

Scope = dict[str, Any]
TEXT = [(b"content-type", b"text/plain; charset=utf-8")]


async def application(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
    elif scope["type"] == "websocket":
        await echo(receive, send)
    elif scope["path"] == "/":
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"Hello from a bare ASGI app\n"})
    elif scope["path"] == "/stream":
        # request_finished fires when the app returns, after the last chunk.
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        for n in range(3):
            await send({"type": "http.response.body", "body": b"chunk %d\n" % n, "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b""})
    elif scope["path"] == "/boom":
        raise RuntimeError("boom")
    else:
        await send({"type": "http.response.start", "status": 404, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"Not found\n"})


async def echo(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message.get("text") or ""})
        else:  # websocket.disconnect
            return


async def lifespan(receive: Any, send: Any) -> None:
    # The middleware passes lifespan through untouched; answering it keeps servers quiet.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


@reqsignals.receiver(reqsignals.got_request_exception, sender=application)
def log_exception(sender: object, **kwargs: Unpack[ASGIGotRequestExceptionArgs]) -> None:
    scope = kwargs["scope"]
    logger.error("%s %s failed: %r", scope.get("method", "WS"), scope["path"], kwargs["exception"])


# A bare app's start-up code is its module: connect the receivers here. sender=application
# limits them to this app's requests (the middleware sends with the app it wraps).
timing.connect(sender=application)
app = reqsignals.wrap(application)
