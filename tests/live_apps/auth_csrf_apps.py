"""A login app built five ways (bare WSGI, Flask, bare ASGI, Starlette, FastAPI) for the
CSRF tests, and a client that drives any of them.

Every flavour serves the same routes: ``POST /login`` (urlencoded or multipart
``username`` and ``password``), ``POST /logout``, ``GET /me``, ``GET /token`` (a CSRF
token), ``POST /upload`` (the SHA-256 and length of the body it received), and
``POST /hooks/ping``. Each call of the app itself is recorded in ``calls``.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx
from fastapi import Request

from reqsignals.auth import (
    ASGISessionMiddleware,
    MemoryBackend,
    SessionAuth,
    aauthenticate,
    aget_user,
    alogin,
    alogout,
    authenticate,
    csrf_token,
    get_user,
    login,
    logout,
)
from tests.helpers.hashers import cheap_hasher

FLAVOURS = ["wsgi", "flask", "asgi", "starlette", "fastapi"]
ASGI_FLAVOURS = {"asgi", "starlette", "fastapi"}
PASSWORD = "correct horse battery staple"
CHEAP = cheap_hasher()


def make_backend() -> MemoryBackend:
    backend = MemoryBackend(hasher=CHEAP)
    backend.create_user("ada", PASSWORD)
    backend.create_user("mallory", PASSWORD)
    return backend


def _form(content_type: str, body: bytes) -> dict[str, str]:
    if content_type.startswith("multipart/"):
        from python_multipart import parse_form

        fields: dict[str, str] = {}
        headers = {"Content-Type": content_type.encode(), "Content-Length": str(len(body))}
        parse_form(
            headers,  # type: ignore[arg-type]
            io.BytesIO(body),
            lambda f: fields.__setitem__((f.field_name or b"").decode(), (f.value or b"").decode()),
            lambda f: None,
        )
        return fields
    return dict(parse_qsl(body.decode()))


def _answer(action: str, body: bytes, user: Any) -> tuple[int, dict[str, Any]]:
    if action == "upload":
        return 200, {"sha256": hashlib.sha256(body).hexdigest(), "length": len(body)}
    return 200, {"user": user.username or None}


# -- WSGI ----------------------------------------------------------------------------


def wsgi_app(auth: SessionAuth, calls: list[str]) -> Any:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        action = environ["PATH_INFO"].strip("/")
        calls.append(f"{environ['REQUEST_METHOD']} /{action}")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        status, answer = 200, {}
        if action == "token":
            answer = {"token": csrf_token(environ)}
        elif action == "login":
            form = _form(environ.get("CONTENT_TYPE", ""), body)
            user = authenticate(environ, username=form["username"], password=form["password"])
            if user is None:
                status = 401
            else:
                login(environ, user)
        elif action == "logout":
            logout(environ)
        if not answer and status == 200:
            status, answer = _answer(action, body, get_user(environ))
        start_response(f"{status} X", [("Content-Type", "application/json")])
        return iter([json.dumps(answer).encode()])

    return auth.wrap(app)


def flask_app(auth: SessionAuth, calls: list[str]) -> Any:
    import flask

    app = flask.Flask(__name__)

    @app.route("/<path:action>", methods=["GET", "POST"])
    def view(action: str) -> Any:
        request = flask.request
        calls.append(f"{request.method} /{action}")
        if action == "token":
            return flask.jsonify(token=csrf_token(request))
        if action == "login":
            user = authenticate(
                request, username=request.form["username"], password=request.form["password"]
            )
            if user is None:
                return flask.jsonify(user=None), 401
            login(request, user)
        elif action == "logout":
            logout(request)
        body = request.get_data() if action == "upload" else b""
        status, answer = _answer(action, body, get_user(request))
        return flask.jsonify(answer), status

    app.wsgi_app = auth.wrap(app.wsgi_app)  # type: ignore[method-assign]
    return app


# -- ASGI ----------------------------------------------------------------------------


def asgi_app(auth: SessionAuth, calls: list[str]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        action = scope["path"].strip("/")
        calls.append(f"{scope['method']} /{action}")
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, answer = 200, {}
        headers = dict(scope["headers"])
        if action == "token":
            answer = {"token": csrf_token(scope)}
        elif action == "login":
            form = _form(headers.get(b"content-type", b"").decode(), body)
            user = await aauthenticate(scope, username=form["username"], password=form["password"])
            if user is None:
                status = 401
            else:
                await alogin(scope, user)
        elif action == "logout":
            await alogout(scope)
        if not answer and status == 200:
            status, answer = _answer(action, body, await aget_user(scope))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})

    return auth.wrap(app)


async def _starlette_view(request: Any, calls: list[str]) -> Any:
    from starlette.responses import JSONResponse

    action = request.path_params["action"]
    calls.append(f"{request.method} /{action}")
    if action == "token":
        return JSONResponse({"token": csrf_token(request)})
    body = b""
    if action == "login":
        form = await request.form()
        user = await aauthenticate(request, username=form["username"], password=form["password"])
        if user is None:
            return JSONResponse({"user": None}, status_code=401)
        await alogin(request, user)
    elif action == "logout":
        await alogout(request)
    elif action == "upload":
        body = await request.body()
    status, answer = _answer(action, body, await aget_user(request))
    return JSONResponse(answer, status_code=status)


def starlette_app(auth: SessionAuth, calls: list[str]) -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Route

    async def view(request: Any) -> Any:
        return await _starlette_view(request, calls)

    return Starlette(
        routes=[Route("/{action:path}", view, methods=["GET", "POST"])],
        middleware=[Middleware(ASGISessionMiddleware, auth=auth)],
    )


def fastapi_app(auth: SessionAuth, calls: list[str]) -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.api_route("/{action:path}", methods=["GET", "POST"])
    async def view(action: str, request: Request) -> Any:
        return await _starlette_view(request, calls)

    app.add_middleware(ASGISessionMiddleware, auth=auth)
    return app


BUILDERS = {
    "wsgi": wsgi_app,
    "flask": flask_app,
    "asgi": asgi_app,
    "starlette": starlette_app,
    "fastapi": fastapi_app,
}


class LoginClient:
    """A sync httpx client of one flavour; the app's calls are in ``calls``."""

    def __init__(self, flavour: str, auth: SessionAuth, base_url: str = "http://testserver"):
        self.calls: list[str] = []
        self.auth = auth
        self.app = BUILDERS[flavour](auth, self.calls)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.Client | httpx.AsyncClient
        if flavour in ASGI_FLAVOURS:
            self.loop = asyncio.new_event_loop()
            self._client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app), base_url=base_url
            )
        else:
            self._client = httpx.Client(
                transport=httpx.WSGITransport(app=self.app), base_url=base_url
            )

    @property
    def cookies(self) -> httpx.Cookies:
        return self._client.cookies

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if self.loop is not None:
            assert isinstance(self._client, httpx.AsyncClient)
            return self.loop.run_until_complete(self._client.request(method, url, **kwargs))
        assert isinstance(self._client, httpx.Client)
        return self._client.request(method, url, **kwargs)

    def login(self, username: str = "ada", **kwargs: Any) -> httpx.Response:
        data = {"username": username, "password": PASSWORD, **kwargs.pop("data", {})}
        return self.request("POST", "/login", data=data, **kwargs)

    def me(self) -> str | None:
        response = self.request("GET", "/me")
        assert response.status_code == 200, response.text
        return response.json()["user"]  # type: ignore[no-any-return]

    def token(self) -> str:
        return self.request("GET", "/token").json()["token"]  # type: ignore[no-any-return]

    def close(self, *, store: bool = True) -> None:
        """Close the client, and the store too unless *store* is false (shared)."""
        if self.loop is not None:
            assert isinstance(self._client, httpx.AsyncClient)
            self.loop.run_until_complete(self._client.aclose())
            if store:
                self.loop.run_until_complete(self.auth.store.aclose())
            self.loop.close()
        else:
            assert isinstance(self._client, httpx.Client)
            self._client.close()
            if store:
                self.auth.store.close()
