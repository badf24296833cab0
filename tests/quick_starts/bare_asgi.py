"""The README's bare ASGI quick start (``uvicorn module:app``)."""

from __future__ import annotations

from typing import Any

import reqsignals
from tests.quick_starts import recording  # noqa: F401 - connects the recording receivers


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return  # no lifespan support: the server goes on without it
    if scope["path"] == "/boom":
        raise RuntimeError("boom")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    if scope["path"] == "/stream":
        for more in (True, True, False):
            await send({"type": "http.response.body", "body": b"chunk", "more_body": more})
        return
    await send({"type": "http.response.body", "body": b"hello"})


app = reqsignals.wrap(app)
