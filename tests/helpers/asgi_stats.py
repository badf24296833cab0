"""In-server counting of request signals for the real-server tests.

``connect_counters()`` connects recording receivers; ``with_stats(apps)`` routes by
first path segment and answers ``GET /_stats?t=TOKEN`` outside every middleware (so
it is never counted itself) with the signals sent for requests whose query string is
``t=TOKEN``, in order, plus what the apps logged. Importing connects nothing.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from reqsignals.signals import got_request_exception, request_finished, request_started
from reqsignals.types import ASGIApp, Receive, Scope, Send
from tests.live_apps import asgi_apps

events: list[dict[str, Any]] = []
_lock = threading.Lock()  # Django runs sync code in threads


def _recorder(name: str) -> Any:
    def record(sender: Any, scope: Scope, **kwargs: Any) -> None:
        exc = kwargs.get("exception")
        qs = scope.get("query_string", b"").decode()
        event = {
            "signal": name,
            "type": scope["type"],
            "path": scope.get("path"),
            "qs": qs,
            "status": kwargs.get("status"),
            "exception": None if exc is None else f"{type(exc).__name__}: {exc}",
            "is_oserror": isinstance(exc, OSError),
            # What the apps had logged for this request when the signal was sent.
            "app_log": [line for line in asgi_apps.app_log if line.endswith(qs[2:])],
        }
        with _lock:
            events.append(event)

    return record


_receivers = {
    sig.name: _recorder(str(sig.name))
    for sig in (request_started, got_request_exception, request_finished)
}


def connect_counters() -> None:
    request_started.connect(_receivers["request_started"], weak=False)
    got_request_exception.connect(_receivers["got_request_exception"], weak=False)
    request_finished.connect(_receivers["request_finished"], weak=False)


def stats(token: str) -> dict[str, Any]:
    with _lock:
        mine = [e for e in events if e["qs"] == f"t={token}"]
    log = [line for line in asgi_apps.app_log if line.endswith(token)]
    return {"events": mine, "app_log": log}


def with_stats(apps: dict[str, ASGIApp], *, own_lifespan: bool = True) -> ASGIApp:
    """Route by first path segment; answer ``/_stats`` and (optionally) lifespan."""

    async def router(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and own_lifespan:
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        if scope["type"] == "lifespan":
            await next(iter(apps.values()))(scope, receive, send)
            return
        first = scope["path"].strip("/").split("/", 1)[0]
        if first == "_stats":
            token = scope["query_string"].decode().removeprefix("t=")
            body = json.dumps(stats(token)).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await apps.get(first, apps["bare"])(scope, receive, send)

    return router
