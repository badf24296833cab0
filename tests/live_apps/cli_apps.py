"""Apps that tests/test_cli.py serves with `reqsignals run`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/boom":
        raise ZeroDivisionError("raised by the WSGI test app")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from wsgi"]


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    status = 404 if scope["path"] == "/missing" else 200
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"hello from asgi"})


def asgi2_app(scope: Any) -> Any:
    """An ASGI 2 (double-callable) app: refused with a clear error."""
    return asgi_app


class Nested:
    app = wsgi_app


not_an_app = 42


def create_app(config: dict[str, Any] | None = None) -> Any:
    """An app factory (its one argument is optional, as in Flask's examples)."""
    return asgi_app


def no_arguments() -> Any:
    """A zero-argument callable: not an app."""
    return wsgi_app


def failing_factory() -> Any:
    raise ValueError("the factory fails on purpose")


async def async_factory() -> Any:
    return asgi_app  # pragma: no cover - refused before it is called
