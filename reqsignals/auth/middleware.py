"""The session middlewares: :class:`WSGISessionMiddleware` and :class:`ASGISessionMiddleware`.

Each opens the request's session through its :class:`~reqsignals.auth.SessionAuth`,
puts it on the request, and has it saved when the response starts.
:meth:`SessionAuth.wrap <reqsignals.auth.SessionAuth.wrap>` picks the right one.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any

from .._deprecation import deprecated_names
from .._keys import (
    AUTH_KEY,
    LOCKOUT_REFUSAL_KEY,
    SESSION_KEY,
    STARLETTE_SESSION_KEY,
    STARLETTE_USER_KEY,
)
from ..types import ASGIApp, Environ, Message, Receive, Scope, Send, StartResponse, WSGIApp
from .csrf import SAFE_METHODS, refuse_asgi, refuse_websocket, refuse_wsgi
from .exceptions import LockedOut, LockoutUnavailable
from .flow import aget_user
from .sessions import SessionConfig

__all__ = ["ASGISessionMiddleware", "WSGISessionMiddleware"]

logger = logging.getLogger("reqsignals.auth")

_REFUSALS = (LockedOut, LockoutUnavailable)
#: Seconds a client is asked to wait when the lock-out's store is down.
UNAVAILABLE_RETRY_AFTER = 30


def _refusal(exc: BaseException) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """The answer to a refused login: 429 for a lock, 503 when the counter is down."""
    if isinstance(exc, LockedOut):
        status, reason, retry_after = 429, "Too Many Requests", exc.retry_after
        body = f"Too many failed logins: try again in {exc.retry_after} seconds.\n"
    else:
        logger.error("a login was refused: %s", exc)
        status, reason = 503, "Service Unavailable"
        retry_after = UNAVAILABLE_RETRY_AFTER
        body = "Logging in is unavailable right now; try again later.\n"
    data = body.encode()
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(data))),
        ("Retry-After", str(retry_after)),
    ]
    return status, reason, headers, data


def _discard(data: bytes) -> None:
    """The ``write()`` an app gets while its error page is replaced by a refusal."""


class WSGISessionMiddleware:
    """The session middleware for WSGI apps; ``SessionAuth.wrap`` makes it for you.

    Puts the :class:`SessionAuth` at ``environ["reqsignals.auth"]`` and the
    :class:`Session` at ``environ["reqsignals.session"]`` (loaded on first use), and
    writes the session when the app calls ``start_response`` — not for 5xx responses
    (which only drop a cookie whose key logout or login already deleted).
    Runs the CSRF check (:mod:`reqsignals.auth.csrf`) first: a refused request is
    answered ``403`` and never reaches the app.

    A :class:`~reqsignals.auth.LockedOut` from ``authenticate()`` that the app does not
    catch is answered with ``429 Too Many Requests`` and ``Retry-After`` (a
    ``LockoutUnavailable`` with ``503``), also when the framework has already turned
    it into its own 500 page (Flask does) before returning from the call.

    Example::

        flask_app.wsgi_app = WSGISessionMiddleware(flask_app.wsgi_app, auth=auth)
    """

    def __init__(self, app: WSGIApp, *, auth: SessionConfig) -> None:
        self.app = app
        self.auth = auth

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        auth = self.auth
        session = auth.open_session(environ.get("HTTP_COOKIE"))
        environ[AUTH_KEY] = auth
        environ[SESSION_KEY] = session
        secure = auth.https_only or environ.get("wsgi.url_scheme") == "https"
        csrf = auth.csrf
        if csrf is not None and environ.get("REQUEST_METHOD") not in SAFE_METHODS:
            reason = csrf.check_environ(environ, secure=secure)
            if reason is None:
                reason = csrf.environ_token_reason(environ, session)
            if reason is not None:
                return refuse_wsgi(environ, start_response, reason)
        saved = False
        cookie: str | None = None
        replaced: bytes | None = None  # the refusal sent instead of the app's error page
        started = False

        def start_response_with_session(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            nonlocal saved, cookie, replaced, started
            started = True
            refused = environ.get(LOCKOUT_REFUSAL_KEY)
            if refused is not None and replaced is None and status[:1] == "5":
                # The framework made its own 500 page of the uncaught LockedOut.
                code, reason, headers, replaced = _refusal(refused)
                status = f"{code} {reason}"
            if not saved:
                saved = True
                if status[:1] != "5":
                    cookie = auth.save_session(session, secure=secure)
                else:
                    cookie = auth.failed_response_cookie(session, secure=secure)
            if cookie is not None:
                headers = [*headers, ("Set-Cookie", cookie)]
            write = start_response(status, headers, exc_info)
            return write if replaced is None else _discard

        try:
            result = self.app(environ, start_response_with_session)
        except _REFUSALS as exc:
            if replaced is None:
                environ[LOCKOUT_REFUSAL_KEY] = exc
                # exc_info only to replace headers the app already gave (PEP 3333).
                again = sys.exc_info() if started else None
                start_response_with_session("500 Internal Server Error", [], again)
            assert replaced is not None
            return [replaced]
        if replaced is not None:
            close = getattr(result, "close", None)
            if close is not None:
                close()
            return [replaced]
        return result


class ASGISessionMiddleware:
    """The session middleware for ASGI apps; ``SessionAuth.wrap`` makes it for you.

    Loads the session before the app runs and puts it at ``scope["session"]`` (for
    Starlette's ``request.session``) and ``scope["reqsignals.session"]``, with the
    :class:`SessionAuth` at ``scope["reqsignals.auth"]``. The session is written when
    the response starts (``websocket.accept`` for websockets), except for 5xx
    responses (which only drop a cookie whose key logout or login already deleted).
    At lifespan shutdown the store's connections are closed. The CSRF check
    (:mod:`reqsignals.auth.csrf`) runs before all that, for unsafe requests and every
    websocket handshake: a refused request is answered ``403``, a refused handshake
    closed before it is accepted (the server answers ``403``), and neither reaches the
    app.

    A :class:`~reqsignals.auth.LockedOut` from ``aauthenticate()`` that the app does not
    catch is answered with ``429 Too Many Requests`` and ``Retry-After`` (a
    ``LockoutUnavailable`` with ``503``), also when the framework sends its own 500
    page for it first (Starlette's ``ServerErrorMiddleware`` does): that page is not
    sent.

    Example::

        app = Starlette(routes=..., middleware=[Middleware(ASGISessionMiddleware, auth=auth)])
    """

    def __init__(self, app: ASGIApp, *, auth: SessionConfig) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, receive, self._closing_on_shutdown(send))
            return
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        auth = self.auth
        secure = auth.https_only or scope.get("scheme") in ("https", "wss")
        csrf = auth.csrf
        if csrf is not None and kind == "http" and scope["method"] not in SAFE_METHODS:
            # The header rules need no session: a forged request costs no store access.
            reason = csrf.check_scope(scope, secure=secure)
            if reason is not None:
                await refuse_asgi(scope, send, reason)
                return
        elif csrf is not None and kind == "websocket":
            # Any page can open a websocket, and the browser sends the user's cookies.
            reason = csrf.check_websocket(scope, secure=secure)
            if reason is not None:
                await refuse_websocket(scope, receive, send, reason)
                return
        cookie_header = None
        for name, value in scope["headers"]:
            if name == b"cookie":
                text = value.decode("latin-1")
                cookie_header = f"{cookie_header}; {text}" if cookie_header else text
        session = await auth.aopen_session(cookie_header)
        scope[AUTH_KEY] = auth
        scope[SESSION_KEY] = scope[STARLETTE_SESSION_KEY] = session
        if auth.backends:
            # Starlette's request.user reads scope["user"]: load it before the app runs
            # (no backend call unless the session holds a logged-in user).
            scope[STARLETTE_USER_KEY] = await aget_user(scope)
        started = refused = False
        if csrf is not None and csrf.require_token and kind == "http":
            reason, receive = await csrf.scope_token_reason(scope, receive, session)
            if reason is not None:
                await refuse_asgi(scope, send, reason)
                return

        async def forward(message: Message) -> None:
            kind = message["type"]
            cookie = None
            if (kind == "http.response.start" and message["status"] < 500) or (
                kind == "websocket.accept"
            ):
                cookie = await auth.asave_session(session, secure=secure)
            elif kind == "http.response.start":
                cookie = auth.failed_response_cookie(session, secure=secure)
            if cookie is not None:
                headers = [*message.get("headers", ()), (b"set-cookie", cookie.encode())]
                message = {**message, "headers": headers}
            await send(message)

        async def refuse(exc: BaseException) -> None:
            nonlocal refused
            refused = True
            status, _, headers, body = _refusal(exc)
            encoded = [(k.lower().encode(), v.encode()) for k, v in headers]
            await forward({"type": "http.response.start", "status": status, "headers": encoded})
            await forward({"type": "http.response.body", "body": body})

        async def send_with_session(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the error page a framework made of the refusal: not sent
            if message["type"] == "http.response.start":
                started = True
                exc = scope.get(LOCKOUT_REFUSAL_KEY)
                if exc is not None and message["status"] >= 500:
                    await refuse(exc)  # the framework's 500 page for an uncaught LockedOut
                    return
            await forward(message)

        try:
            await self.app(scope, receive, send_with_session)
        except _REFUSALS as exc:
            if refused:
                return
            if started or kind != "http":
                raise
            await refuse(exc)

    def _closing_on_shutdown(self, send: Send) -> Send:
        async def send_closing(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.auth.aclose()
            await send(message)

        return send_closing


__getattr__ = deprecated_names(
    __name__, {"SessionMiddleware": ("ASGISessionMiddleware", ASGISessionMiddleware)}
)
