"""Telling WSGI apps from ASGI apps, and :func:`wrap`."""

from __future__ import annotations

import inspect
from typing import Any

from ._interface import Interface, detect

__all__ = ["Interface", "guess_interface", "wrap"]


def guess_interface(app: Any, interface: str | None = None) -> Interface:
    """Whether *app* is a WSGI or an ASGI application.

    The call signature decides (see :func:`reqsignals._interface.detect`, the rule the
    middlewares apply too); coroutine-ness only when the signature cannot tell.
    *interface* — as given by a user — overrides the guess.

    Raises:
        TypeError: *app* is not callable (or, with no *interface*, is an ASGI 2 app or
            a class).
        ValueError: *interface* is not ``"wsgi"``, ``"asgi"`` or ``None``.
    """
    if interface is None:
        return detect(app)[0]
    if not callable(app):
        detect(app)  # raises the not-callable TypeError
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

    Raises:
        TypeError: *app* is not an app the middleware can wrap, or *options* has a
            name the chosen middleware does not take (the message says which one
            was chosen, and why).
        ValueError: *interface* is not ``"wsgi"``, ``"asgi"`` or ``None``.

    Example::

        app = reqsignals.wrap(create_app())
    """
    picked = guess_interface(app, interface)
    middleware: type
    if picked == "asgi":
        from .asgi import SignalsMiddleware as middleware
    else:
        from .wsgi import SignalsMiddleware as middleware
    try:
        inspect.signature(middleware).bind(app, **options)
    except TypeError as exc:
        # "unexpected keyword argument 'websocket'" alone hides why: say which
        # middleware the app was given, and how to choose the other one.
        kind = "an ASGI" if picked == "asgi" else "a WSGI"
        how = "as interface= says" if interface is not None else "as reqsignals guessed"
        raise TypeError(
            f"reqsignals.wrap(): {exc}: {app!r} is wrapped as {kind} app ({how}), whose "
            f"middleware takes only {', '.join(_options(middleware))}; pass "
            "interface='asgi' or interface='wsgi' if that is the wrong one"
        ) from None
    return middleware(app, **options)


def _options(middleware: type) -> list[str]:
    parameters = list(inspect.signature(middleware).parameters.values())[1:]
    return [f"{parameter.name}=" for parameter in parameters]
