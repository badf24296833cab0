"""Telling WSGI apps from ASGI apps, and :func:`wrap`."""

from __future__ import annotations

from typing import Any, Literal

from .dispatch import is_async_callable

Interface = Literal["wsgi", "asgi"]


def guess_interface(app: Any, interface: str | None = None) -> Interface:
    """Whether *app* is a WSGI or an ASGI application.

    A coroutine function, or an object whose ``__call__`` is ``async def`` (also through
    :func:`functools.partial`), is ASGI; any other callable is WSGI. *interface* — as
    given by a user — overrides the guess.

    Raises:
        TypeError: *app* is not callable.
        ValueError: *interface* is not ``"wsgi"``, ``"asgi"`` or ``None``.
    """
    if not callable(app):
        raise TypeError(
            f"{app!r} is not a WSGI or ASGI application: expected a callable such as a "
            "Flask, Django, Starlette or FastAPI app object"
        )
    if interface is None:
        return "asgi" if is_async_callable(app) else "wsgi"
    if interface not in ("wsgi", "asgi"):
        raise ValueError(f"interface must be 'wsgi' or 'asgi', not {interface!r}")
    return interface  # type: ignore[return-value]


def wrap(app: Any, *, interface: str | None = None, **options: Any) -> Any:
    """Wrap *app* in the signals middleware that fits it, WSGI or ASGI.

    Args:
        app: a WSGI or ASGI 3 application.
        interface: ``"wsgi"`` or ``"asgi"`` to override the guess (see
            :func:`guess_interface`), for apps the guess gets wrong.
        **options: passed to the middleware (``sender``, ``strict``, and for ASGI
            ``websocket``).

    Example::

        app = reqsignals.wrap(create_app())
    """
    if guess_interface(app, interface) == "asgi":
        from .asgi import SignalsMiddleware as ASGIMiddleware

        return ASGIMiddleware(app, **options)
    from .wsgi import SignalsMiddleware as WSGIMiddleware

    return WSGIMiddleware(app, **options)
