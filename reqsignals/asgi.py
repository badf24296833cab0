"""Request signals around any ASGI 3 application: :class:`SignalsMiddleware`.

Pure ASGI middleware (a class with ``async def __call__(scope, receive, send)``), so
it sits in front of Starlette, FastAPI, Django's ``get_asgi_application()`` or a bare
coroutine function without running the app in another task: context variables set
by receivers reach the app, and streaming responses are passed on message by message.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from time import perf_counter
from typing import Any

from ._keys import HANDLED_KEY, REPORTED_KEY, SENT_KEY
from ._sender import HasSender
from .signals import got_request_exception, request_finished, request_started
from .types import ASGIApp, Message, Receive, Scope, Send

#: The scope key an instance marks its requests with (see reqsignals._keys).
SCOPE_KEY = SENT_KEY

__all__ = ["SCOPE_KEY", "SignalsMiddleware"]

# What `status` is for a websocket connection whose app answers with these messages.
# A close before the handshake is accepted is answered with HTTP 403 (ASGI spec,
# "Close - send event"); an accepted handshake is HTTP 101 Switching Protocols.
_WS_ACCEPTED = 101
_WS_DENIED = 403


class SignalsMiddleware(HasSender):
    """Send the request signals around an ASGI 3 application.

    For each ``http`` (and, unless ``websocket=False``, each ``websocket``) connection:
    ``request_started(sender, scope=scope)`` before the app is called, with the very
    scope object the app receives; ``got_request_exception(sender, scope=scope,
    exception=exc)`` if the app raises an ``Exception`` (which is then re-raised
    unchanged); and ``request_finished(sender, scope=scope, status=..., duration=...)``
    exactly once when the app returns, raises or is cancelled. ``lifespan`` and other
    scopes pass through untouched.

    ``status`` is the status of ``http.response.start``; for a websocket it is 101 once
    the app sends ``websocket.accept``, 403 if it closes before accepting, or the status
    of ``websocket.http.response.start`` (the denial-response extension). It is ``None``
    when the app sent none of these. ``duration`` is seconds since ``request_started``.

    Receivers are called as ``asend_robust`` calls them: async ones are awaited in the request's
    own task, sync ones run inline on the event loop (keep them quick); a receiver's
    exception is logged on the ``reqsignals`` logger and never changes the response.
    With no receiver connected to any of the three signals the app is called directly.

    Args:
        app: an ASGI 3 application (``app(scope, receive, send)``).
        sender: the ``sender`` of every signal; defaults to *app*.
        strict: let receiver exceptions propagate (``asend``), for tests.
        websocket: send the signals for ``websocket`` scopes too (default); with False
            they pass through untouched.

    Raises:
        TypeError: *app* is an ASGI 2 (double-callable) application, a class rather
            than an instance, a WSGI application, or not callable.

    Example::

        from starlette.applications import Starlette
        from starlette.middleware import Middleware
        from reqsignals.asgi import SignalsMiddleware

        app = Starlette(routes=routes, middleware=[Middleware(SignalsMiddleware)])
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        sender: Any = None,
        strict: bool = False,
        websocket: bool = True,
    ) -> None:
        _check_asgi3(app)
        self.app = app
        self.sender = app if sender is None else sender
        self.strict = strict
        self.websocket = websocket
        self._kinds = ("http", "websocket") if websocket else ("http",)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The fast path: nothing to tell anyone, or not ours to tell. `_live` is the
        # dispatcher's tuple of receivers to call, () when none or while muted; it is
        # read from the instance dicts, which is cheaper than attribute access here.
        if (
            not (request_started._live or got_request_exception._live or request_finished._live)
            # .get: a scope without "type" is not ours either; the app may reject it.
            or scope.get("type") not in self._kinds
            or SCOPE_KEY in scope
        ):
            await self.app(scope, receive, send)
            return
        scope[SCOPE_KEY] = self
        sender = self._sender
        strict = self.strict
        # Filled in here rather than by an __init__: one Python call less per request.
        response = _Response()
        response.server_send = send
        response.status = None

        # The two sends of every connection do what asend_robust does (in order,
        # async receivers awaited, sync ones inline, a failure logged and skipped),
        # but call the dispatcher's cached plan from here with the keyword arguments
        # spelled out: that halves what a request with receivers costs.
        start = perf_counter()
        try:
            # Awaited here, in the request's task, before the app runs: context
            # variables that receivers set are visible to the app.
            if strict:
                await request_started.asend(sender, scope=scope)
            else:
                plan = request_started._cache.get(self._key) or request_started._plan(sender)
                for r, weak, is_async in plan[2]:
                    if weak:
                        r = r()
                        if r is None:
                            continue
                    try:
                        result = r(signal=request_started, sender=sender, scope=scope)
                        if is_async:
                            await result
                    except Exception as exc:
                        request_started._log_failure(r, exc, "asend_robust")
                # Held for the rest of the connection, they would keep a weakly
                # connected receiver (and its result) alive, to hear later signals
                # after its owner let it go.
                r = result = None
            try:
                await self.app(scope, receive, response.send)
            except Exception as exc:
                # Includes OSError from send() after a disconnect (ASGI spec 2.4):
                # the app let it escape, so it is the app's exception.
                if REPORTED_KEY not in scope:
                    scope[REPORTED_KEY] = exc
                    if strict:
                        await got_request_exception.asend(sender, scope=scope, exception=exc)
                    else:
                        await got_request_exception.asend_robust(sender, scope=scope, exception=exc)
                raise
            handled = scope.get(HANDLED_KEY)
            if handled is not None and REPORTED_KEY not in scope:
                # The framework answered an exception with an error response of its
                # own and an integration told us (reqsignals.contrib): report it now.
                scope[REPORTED_KEY] = handled
                if strict:
                    await got_request_exception.asend(sender, scope=scope, exception=handled)
                else:
                    await got_request_exception.asend_robust(sender, scope=scope, exception=handled)
        finally:
            # Also on CancelledError, which then propagates: it was caught by this
            # finally, so the task is not re-cancelled by our own awaits.
            duration = perf_counter() - start
            status = response.status
            if strict:
                await request_finished.asend(sender, scope=scope, status=status, duration=duration)
            else:
                plan = request_finished._cache.get(self._key) or request_finished._plan(sender)
                for r, weak, is_async in plan[2]:
                    if weak:
                        r = r()
                        if r is None:
                            continue
                    try:
                        result = r(
                            signal=request_finished,
                            sender=sender,
                            scope=scope,
                            status=status,
                            duration=duration,
                        )
                        if is_async:
                            await result
                    except Exception as exc:
                        request_finished._log_failure(r, exc, "asend_robust")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.app!r})"


class _Response:
    """The ``send`` the app is given: the server's, noting the response status."""

    __slots__ = ("server_send", "status")

    server_send: Send
    status: int | None

    # A plain method returning the server's awaitable: no coroutine of our own per
    # message, and the message reaches the server as soon as the app sends it.
    def send(self, message: Message) -> Awaitable[None]:
        if self.status is None:
            try:
                kind = message["type"]
                if kind == "http.response.start" or kind == "websocket.http.response.start":
                    code = message["status"]
                    # Only an int is a status; anything else the server rejects.
                    self.status = code if type(code) is int else None
                elif kind == "websocket.accept":
                    self.status = _WS_ACCEPTED
                elif kind == "websocket.close":
                    self.status = _WS_DENIED
            except (LookupError, TypeError):
                # Not a well-formed ASGI message: it goes to the server as it is,
                # and the server, not this middleware, is the one to reject it.
                pass
        return self.server_send(message)


def _check_asgi3(app: object) -> None:
    """Raise TypeError for what is surely not an ASGI 3 app; accept when unsure.

    Only the call signature decides, never ``iscoroutinefunction``: wrapped callables
    (``functools.partial``, decorators, objects with ``__call__``) hide their
    coroutine-ness from inspection, and guessing from it has broken working ASGI 3
    apps elsewhere (Sentry #947, uvicorn #900).
    """
    fix_asgi2 = (
        "wrap it with asgiref.compatibility.guarantee_single_callable(app) to make an ASGI 3 app"
    )
    # asgiref's explicit markers come first.
    if getattr(app, "_asgi_single_callable", False):
        return
    if getattr(app, "_asgi_double_callable", False):
        raise TypeError(
            f"SignalsMiddleware needs an ASGI 3 app, and {app!r} is marked as an ASGI 2 "
            f"(double-callable) app: {fix_asgi2}"
        )
    if not callable(app):
        raise TypeError(
            f"SignalsMiddleware needs an ASGI 3 app, called as app(scope, receive, send); "
            f"got {app!r}, which is not callable"
        )
    if inspect.isclass(app):
        if hasattr(app, "__await__"):  # the class itself is the app: Cls(scope, receive, send)
            return
        raise TypeError(
            f"SignalsMiddleware got the class {app.__qualname__}, not an app: pass an "
            f"instance ({app.__qualname__}(...)); if instances of it take only the scope, it "
            f"is an ASGI 2 app: {fix_asgi2}"
        )
    try:
        signature = inspect.signature(app)
    except (TypeError, ValueError):  # builtins and C callables: cannot tell, so trust it
        return
    if _binds(signature, 3):
        return
    if _binds(signature, 1):
        raise TypeError(
            f"SignalsMiddleware needs an ASGI 3 app, and {app!r} takes only the scope, "
            f"so it looks like an ASGI 2 (double-callable) app: {fix_asgi2}"
        )
    if _binds(signature, 2):
        raise TypeError(
            f"SignalsMiddleware needs an ASGI 3 app, and {app!r} takes two arguments, so "
            "it looks like a WSGI app (environ, start_response): use "
            "reqsignals.wsgi.SignalsMiddleware for WSGI apps"
        )
    raise TypeError(
        f"SignalsMiddleware needs an ASGI 3 app, called as app(scope, receive, send); "
        f"{app!r} cannot be called with three arguments"
    )


def _binds(signature: inspect.Signature, count: int) -> bool:
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True
