"""Request signals around any ASGI 3 application: :class:`SignalsMiddleware`.

Pure ASGI middleware (a class with ``async def __call__(scope, receive, send)``), so
it sits in front of Starlette, FastAPI, Django's ``get_asgi_application()`` or a bare
coroutine function without running the app in another task: context variables set
by receivers reach the app, and streaming responses are passed on message by message.
"""

from __future__ import annotations

import asyncio
import inspect
import operator
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

from ._deprecation import deprecated_names
from ._interface import detect
from ._keys import HANDLED_KEY, REPORTED_KEY, SENT_KEY
from ._sender import HasSender, Nesting
from .dispatch import Signal
from .signals import got_request_exception, request_finished, request_started
from .types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SENT_KEY", "SignalsMiddleware"]

# SCOPE_KEY was this module's name for the request mark, which both middlewares now
# call SENT_KEY (reqsignals._keys).
__getattr__ = deprecated_names(__name__, {"SCOPE_KEY": ("SENT_KEY", SENT_KEY)})

# What `status` is for a websocket connection whose app answers with these messages.
# A close before the handshake is accepted is answered with HTTP 403 (ASGI spec,
# "Close - send event"); an accepted handshake is HTTP 101 Switching Protocols.
_WS_ACCEPTED = 101
_WS_DENIED = 403
# What every server answers when the app raised before starting a response.
_SERVER_ERROR = 500

# Each send: the attribute that holds it, its signal and its keyword names.
_SENDS = (
    ("_emit_started", request_started, ("scope",)),
    ("_emit_exception", got_request_exception, ("scope", "exception")),
    ("_emit_finished", request_finished, ("scope", "status", "duration", "response_duration")),
)


class SignalsMiddleware(HasSender):
    """Send the request signals around an ASGI 3 application.

    For each ``http`` (and, unless ``websocket=False``, each ``websocket``) connection:
    ``request_started(sender, scope=scope)`` before the app is called, with the very
    scope object the app receives; ``got_request_exception(sender, scope=scope,
    exception=exc)`` if the app raises an ``Exception`` (which is then re-raised
    unchanged); and ``request_finished(sender, scope=scope, status=..., duration=...,
    response_duration=...)`` exactly once when the app returns, raises or is
    cancelled. ``lifespan`` and other scopes pass through untouched.

    ``status`` is the status of ``http.response.start`` (as a plain int, so
    ``HTTPStatus.NOT_FOUND`` is 404), or 500 when the app raised an
    ``Exception`` before starting a response (what the server then answers); for a
    websocket it is 101 once the app sends ``websocket.accept``, 403 if it closes before
    accepting, or the status of ``websocket.http.response.start`` (the denial-response
    extension). It is ``None`` when the app sent none of these and did not raise.
    ``duration`` is seconds since ``request_started``, background work after the body
    included; ``response_duration`` is seconds until the app sent the
    ``http.response.body`` message with ``more_body`` false (or an
    ``http.response.pathsend``), or ``None`` if it never did, and always for a
    websocket.

    Receivers are called as ``asend_robust`` calls them (through emitters,
    :meth:`~reqsignals.dispatch.Signal.emitter`): async ones are awaited in the
    request's own task, sync ones run inline on the event loop (keep them quick); a
    receiver's exception is logged on the ``reqsignals`` logger, sent as
    ``receiver_failed``, and never changes the response. With no receiver connected
    to any of the three signals the app is called directly.

    Args:
        app: an ASGI 3 application (``app(scope, receive, send)``).
        sender: the ``sender`` of every signal. By default the app the user wrapped:
            *app*; the sender of *app* when it is itself a signals middleware; and,
            inside a Starlette or FastAPI middleware stack (``Middleware(...)``,
            ``add_middleware``), the Starlette or FastAPI application.
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

    # The sends: emitters bound to the sender, or strict ones (see __setattr__).
    _emit_started: Callable[[Scope], Awaitable[Any] | None]
    _emit_exception: Callable[[Scope, BaseException], Awaitable[Any] | None]
    _emit_finished: Callable[[Scope, int | None, float, float | None], Awaitable[Any] | None]

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
        self._init_sender(app, sender)
        self.strict = strict
        self.websocket = websocket
        Nesting.note_instance()

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in ("sender", "strict"):
            # The three sends are made for the sender and the strictness: anew.
            strict = getattr(self, "strict", False)  # not set yet while sender is
            sender = self.sender
            for attribute, signal, names in _SENDS:
                emit: Callable[..., Awaitable[Any] | None]
                if strict:
                    emit = _strict_send(signal, names, sender)
                else:
                    # Awaited: every send is made from this coroutine, which awaits
                    # what it returns, so no send need look for a running loop.
                    emit = signal.emitter(names, sender=sender, awaited=True)
                object.__setattr__(self, attribute, emit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Attributes read into locals: CPython 3.11 specialises `app = self.app` and
        # `send = self.server_send`, but not the method-style call `self.app(...)` of
        # an attribute that is not a method, which looks through the class each time.
        app = self.app
        if not (request_started.active or got_request_exception.active or request_finished.active):
            await app(scope, receive, send)  # the fast path: nothing to tell anyone
            return
        try:
            kind = scope["type"]
        except (KeyError, TypeError):
            kind = None  # not a scope we can tell anything of: the app may reject it
        response = _Response()
        if kind == "http":
            app_send = response.send
        elif kind == "websocket" and self.websocket:
            app_send = response.ws_send
        else:
            await app(scope, receive, send)  # not a request: not ours to tell
            return
        if Nesting.possible:
            if SENT_KEY in scope:
                # Another instance took it (only possible once a second one exists).
                await app(scope, receive, send)
                return
            scope[SENT_KEY] = self
        if self._sender_unsettled:
            self._settle_sender(scope)
        started = self._emit_started
        finished = self._emit_finished
        # Filled in here rather than by an __init__: one Python call less per request.
        response.server_send = send
        response.status = response.body_sent_at = None

        start = perf_counter()
        try:
            # Awaited here, in the request's task, before the app runs: context
            # variables that receivers set are visible to the app.
            pending = started(scope)
            if pending is not None:
                await pending
            try:
                await app(scope, receive, app_send)
            except Exception as exc:
                # Includes OSError from send() after a disconnect (ASGI spec 2.4):
                # the app let it escape, so it is the app's exception.
                if response.status is None:
                    response.status = _SERVER_ERROR
                await self._report(scope, exc)
                raise
            if Nesting.possible:
                handled = scope.get(HANDLED_KEY)
                if handled is not None:
                    # The framework answered an exception with an error response of
                    # its own and an integration told us (reqsignals.contrib).
                    await self._report(scope, handled)
        finally:
            # Also on CancelledError, which then propagates: it was caught by this
            # finally, so the task is not re-cancelled by our own awaits.
            duration = perf_counter() - start
            sent_at = response.body_sent_at
            response_duration = None if sent_at is None else sent_at - start
            pending = finished(scope, response.status, duration, response_duration)
            if pending is not None:
                await pending

    async def _report(self, scope: Scope, exc: BaseException) -> None:
        # At most one got_request_exception per request.
        if REPORTED_KEY in scope:
            return
        scope[REPORTED_KEY] = exc
        pending = self._emit_exception(scope, exc)
        if pending is not None:
            await pending

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.app!r})"


def _strict_send(
    signal: Signal, names: tuple[str, ...], sender: Any
) -> Callable[..., Awaitable[Any]]:
    """For ``strict=True``: ``send(*values)``, called as a bound emitter is, returns
    ``signal.asend(sender, ...)`` with *names* as its keywords, so that receiver
    exceptions propagate."""

    def send(*values: Any) -> Awaitable[Any]:
        return signal.asend(sender, **dict(zip(names, values, strict=True)))

    return send


def _mark_as_coroutine_function(func: Any) -> Any:
    # asgiref.sync.async_to_sync (which asgiref.wsgi.WsgiToAsgi calls for each request)
    # warns about callables not marked as coroutine functions: mark the send we give
    # the app, which returns the server's awaitable without being `async def` itself.
    mark = getattr(inspect, "markcoroutinefunction", None)  # Python 3.12+
    if mark is not None:
        return mark(func)
    func._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]
    return func


class _Response:
    """The ``send`` the app is given: the server's, noting the response status and
    when the last of the body was sent."""

    __slots__ = ("body_sent_at", "server_send", "status")

    server_send: Send
    status: int | None
    body_sent_at: float | None

    # A plain method returning the server's awaitable: no coroutine of our own per
    # message, and the message reaches the server as soon as the app sends it.
    @_mark_as_coroutine_function
    def send(self, message: Message) -> Awaitable[None]:
        """Pass *message* to the server, noting the status and the end of the body."""
        try:
            kind = message["type"]
            if kind == "http.response.start":
                if self.status is None:
                    code = message["status"]
                    self.status = code if type(code) is int else _as_status(code)
            elif kind == "http.response.body":
                if (
                    not message.get("more_body", False)
                    and self.body_sent_at is None
                    and self.status is not None
                ):
                    self.body_sent_at = perf_counter()
            elif (
                kind == "http.response.pathsend"
                and self.body_sent_at is None
                and self.status is not None
            ):
                self.body_sent_at = perf_counter()  # the whole file, in one message
        except (LookupError, TypeError, AttributeError):
            # Not a well-formed ASGI message: it goes to the server as it is, and the
            # server, not this middleware, is the one to reject it.
            pass
        send = self.server_send  # see SignalsMiddleware.__call__
        return send(message)

    @_mark_as_coroutine_function
    def ws_send(self, message: Message) -> Awaitable[None]:
        """The websocket ``send``: the server's, noting the handshake's status."""
        if self.status is None:
            try:
                kind = message["type"]
                if kind == "websocket.accept":
                    self.status = _WS_ACCEPTED
                elif kind == "websocket.close":
                    self.status = _WS_DENIED
                elif kind == "websocket.http.response.start":
                    code = message["status"]
                    self.status = code if type(code) is int else _as_status(code)
            except (LookupError, TypeError):
                pass  # malformed: the server's to reject, as in send()
        send = self.server_send  # see SignalsMiddleware.__call__
        return send(message)


def _as_status(code: object) -> int | None:
    """The status a ``status`` that is not exactly an int stands for: an int subclass
    (``http.HTTPStatus.NOT_FOUND``, which servers send as 404) as its plain int;
    anything else (a string, a float, a bool) is no status, and the server rejects it."""
    if isinstance(code, int) and not isinstance(code, bool):
        return operator.index(code)
    return None


def _check_asgi3(app: object) -> None:
    """Raise TypeError for what is surely not an ASGI 3 app; accept when unsure."""
    try:
        interface, certain = detect(app)
    except TypeError as exc:
        raise TypeError(f"SignalsMiddleware needs an ASGI 3 app: {exc}") from None
    if interface == "wsgi" and certain:
        raise TypeError(
            f"SignalsMiddleware needs an ASGI 3 app, and {app!r} takes two arguments, so "
            "it looks like a WSGI app (environ, start_response): use "
            "reqsignals.wsgi.SignalsMiddleware for WSGI apps"
        )
