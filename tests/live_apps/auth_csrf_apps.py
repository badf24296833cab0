"""A login app built five ways (bare WSGI, Flask, bare ASGI, Starlette, FastAPI) for the
CSRF tests, and a client that drives any of them.

Every flavour serves the same routes: ``POST /login`` (urlencoded or multipart
``username`` and ``password``), ``POST /logout``, ``GET /me``, ``GET /token`` (a CSRF
token), ``POST /upload`` (the SHA-256 and length of the body it received), and
``POST /hooks/ping``. Each call of the app itself is recorded in ``calls``. The flavours
are those of ``auth_apps``; ``served_asgi`` is the bare ASGI one for a real server.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx

from reqsignals.auth import (
    MemoryBackend,
    MemoryStore,
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
from tests.helpers.clients import InProcessClient
from tests.helpers.hashers import cheap_hasher

from .auth_apps import (
    SECRET,
    Answer,
    json_asgi_app,
    json_fastapi_app,
    json_flask_app,
    json_starlette_app,
    json_wsgi_app,
    read_body,
)

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


def _answer(action: str, body: bytes, user: Any) -> Answer:
    if action == "upload":
        return 200, {"sha256": hashlib.sha256(body).hexdigest(), "length": len(body)}
    return 200, {"user": user.username or None}


# -- WSGI ----------------------------------------------------------------------------


def wsgi_app(auth: SessionAuth, calls: list[str]) -> Any:
    def view(environ: dict[str, Any], action: str) -> Answer:
        calls.append(f"{environ['REQUEST_METHOD']} /{action}")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        if action == "token":
            return 200, {"token": csrf_token(environ)}
        if action == "login":
            form = _form(environ.get("CONTENT_TYPE", ""), body)
            user = authenticate(environ, username=form["username"], password=form["password"])
            if user is None:
                return 401, {}
            login(environ, user)
        elif action == "logout":
            logout(environ)
        return _answer(action, body, get_user(environ))

    return json_wsgi_app(auth, view)


def flask_app(auth: SessionAuth, calls: list[str]) -> Any:
    def view(request: Any, action: str) -> Answer:
        calls.append(f"{request.method} /{action}")
        if action == "token":
            return 200, {"token": csrf_token(request)}
        if action == "login":
            user = authenticate(
                request, username=request.form["username"], password=request.form["password"]
            )
            if user is None:
                return 401, {"user": None}
            login(request, user)
        elif action == "logout":
            logout(request)
        body = request.get_data() if action == "upload" else b""
        return _answer(action, body, get_user(request))

    return json_flask_app(auth, view)


# -- ASGI ----------------------------------------------------------------------------


def asgi_app(auth: SessionAuth, calls: list[str]) -> Any:
    async def view(scope: dict[str, Any], receive: Any, action: str) -> Answer:
        calls.append(f"{scope['method']} /{action}")
        body = await read_body(receive)
        if action == "token":
            return 200, {"token": csrf_token(scope)}
        if action == "login":
            content_type = dict(scope["headers"]).get(b"content-type", b"").decode()
            form = _form(content_type, body)
            user = await aauthenticate(scope, username=form["username"], password=form["password"])
            if user is None:
                return 401, {}
            await alogin(scope, user)
        elif action == "logout":
            await alogout(scope)
        return _answer(action, body, await aget_user(scope))

    return json_asgi_app(auth, view)


def _starlette_view(calls: list[str]) -> Callable[[Any, str], Awaitable[Answer]]:
    """The view of the Starlette and FastAPI flavours (a Starlette request either way)."""

    async def view(request: Any, action: str) -> Answer:
        calls.append(f"{request.method} /{action}")
        if action == "token":
            return 200, {"token": csrf_token(request)}
        body = b""
        if action == "login":
            form = await request.form()
            user = await aauthenticate(
                request, username=form["username"], password=form["password"]
            )
            if user is None:
                return 401, {"user": None}
            await alogin(request, user)
        elif action == "logout":
            await alogout(request)
        elif action == "upload":
            body = await request.body()
        return _answer(action, body, await aget_user(request))

    return view


def starlette_app(auth: SessionAuth, calls: list[str]) -> Any:
    return json_starlette_app(auth, _starlette_view(calls))


def fastapi_app(auth: SessionAuth, calls: list[str]) -> Any:
    return json_fastapi_app(auth, _starlette_view(calls))


BUILDERS = {
    "wsgi": wsgi_app,
    "flask": flask_app,
    "asgi": asgi_app,
    "starlette": starlette_app,
    "fastapi": fastapi_app,
}


def served_asgi() -> Any:
    """The bare ASGI flavour over a memory store, for a real server:
    ``uvicorn --factory tests.live_apps.auth_csrf_apps:served_asgi``."""
    return asgi_app(SessionAuth(SECRET, MemoryStore(), backends=[make_backend()]), [])


class LoginClient(InProcessClient):
    """A sync httpx client of one flavour; the app's calls are in ``calls``."""

    def __init__(self, flavour: str, auth: SessionAuth, base_url: str = "http://testserver"):
        self.calls: list[str] = []
        app = BUILDERS[flavour](auth, self.calls)
        super().__init__(app, auth, asgi=flavour in ASGI_FLAVOURS, base_url=base_url)

    def login(self, username: str = "ada", **kwargs: Any) -> httpx.Response:
        data = {"username": username, "password": PASSWORD, **kwargs.pop("data", {})}
        return self.request("POST", "/login", data=data, **kwargs)

    def me(self) -> str | None:
        response = self.request("GET", "/me")
        assert response.status_code == 200, response.text
        return response.json()["user"]  # type: ignore[no-any-return]

    def token(self) -> str:
        return self.request("GET", "/token").json()["token"]  # type: ignore[no-any-return]
