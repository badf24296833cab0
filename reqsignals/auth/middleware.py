"""The session middlewares: :class:`WSGISessionMiddleware` and :class:`ASGISessionMiddleware`.

Each opens the request's session through its :class:`~reqsignals.auth.SessionAuth`,
puts it on the request, and has it saved when the response starts.
:meth:`SessionAuth.wrap <reqsignals.auth.SessionAuth.wrap>` picks the right one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._deprecation import deprecated_names
from .._keys import AUTH_KEY, SESSION_KEY, STARLETTE_SESSION_KEY, STARLETTE_USER_KEY
from ..types import ASGIApp, Environ, Message, Receive, Scope, Send, StartResponse, WSGIApp
from .flow import aget_user
from .sessions import SessionConfig

__all__ = ["ASGISessionMiddleware", "WSGISessionMiddleware"]


class WSGISessionMiddleware:
    """The session middleware for WSGI apps; ``SessionAuth.wrap`` makes it for you.

    Puts the :class:`SessionAuth` at ``environ["reqsignals.auth"]`` and the
    :class:`Session` at ``environ["reqsignals.session"]`` (loaded on first use), and
    writes the session when the app calls ``start_response`` — not for 5xx responses.

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
        saved = False
        cookie: str | None = None

        def start_response_with_session(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            nonlocal saved, cookie
            if not saved:
                saved = True
                if status[:1] != "5":
                    cookie = auth.save_session(session, secure=secure)
            if cookie is not None:
                headers = [*headers, ("Set-Cookie", cookie)]
            return start_response(status, headers, exc_info)

        return self.app(environ, start_response_with_session)


class ASGISessionMiddleware:
    """The session middleware for ASGI apps; ``SessionAuth.wrap`` makes it for you.

    Loads the session before the app runs and puts it at ``scope["session"]`` (for
    Starlette's ``request.session``) and ``scope["reqsignals.session"]``, with the
    :class:`SessionAuth` at ``scope["reqsignals.auth"]``. The session is written when
    the response starts (``websocket.accept`` for websockets), except for 5xx
    responses. At lifespan shutdown the store's connections are closed.

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
        secure = auth.https_only or scope.get("scheme") in ("https", "wss")

        async def send_with_session(message: Message) -> None:
            kind = message["type"]
            if (kind == "http.response.start" and message["status"] < 500) or (
                kind == "websocket.accept"
            ):
                cookie = await auth.asave_session(session, secure=secure)
                if cookie is not None:
                    headers = [*message.get("headers", ()), (b"set-cookie", cookie.encode())]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_session)

    def _closing_on_shutdown(self, send: Send) -> Send:
        async def send_closing(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.auth.aclose()
            await send(message)

        return send_closing


__getattr__ = deprecated_names(
    __name__, {"SessionMiddleware": ("ASGISessionMiddleware", ASGISessionMiddleware)}
)
