"""A login app with the lock-out, built five ways (bare WSGI, Flask, bare ASGI,
Starlette, FastAPI), in process for the flavour tests and served by real servers for
the cross-process ones.

Each has ``POST /login`` (form fields ``username`` and ``password``): 200 ``ok`` when
logged in, 401 ``no`` when refused by the backend; a ``LockedOut`` is not caught, so the
session middleware answers it with 429. ``GET /stats`` tells what this process did:
Argon2 computations (``verifies``), ``user_locked_out`` sends (``locked``) and its pid.

When served, the store and the lock-out come from the environment: the store as
tests/helpers/servers.py names it, ``LOCKOUT_MAX``, ``LOCKOUT_CLIENT_MAX``,
``LOCKOUT_WINDOW`` and ``LOCKOUT_PROXIES`` (comma-separated).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Form, Request
from fastapi.responses import PlainTextResponse

from reqsignals.auth import (
    Argon2Hasher,
    Lockout,
    MemoryBackend,
    SessionAuth,
    aauthenticate,
    alogin,
    authenticate,
    login,
)
from reqsignals.auth.stores.base import SessionStore
from reqsignals.signals import user_locked_out
from tests.helpers import servers
from tests.helpers.hashers import CountingPasswordHasher

from .auth_apps import read_body

FLAVOURS = ["wsgi", "flask", "asgi", "starlette", "fastapi"]
PASSWORD = "correct horse battery"
USERS = ("ada", "bob")


class Recorder:
    """What one app saw: its hasher's work and the user_locked_out sends."""

    def __init__(self) -> None:
        self.counting = CountingPasswordHasher()
        self.locked: list[dict[str, Any]] = []

    def heard(self, sender: Any, **kwargs: Any) -> None:
        self.locked.append(
            {
                "sender": sender,
                "reason": kwargs["reason"],
                "retry_after": kwargs["retry_after"],
                "credentials": kwargs["credentials"],
                "has_request": kwargs["request"] is not None,
            }
        )

    def stats(self) -> dict[str, Any]:
        return {"verifies": self.counting.computations, "locked": self.locked, "pid": os.getpid()}


def make_auth(store: SessionStore, lockout: Lockout) -> tuple[SessionAuth, Recorder]:
    recorder = Recorder()
    backend = MemoryBackend(hasher=Argon2Hasher(password_hasher=recorder.counting))
    for name in USERS:
        backend.create_user(name, PASSWORD)
    recorder.counting.reset()  # from here on: the logins' work only
    user_locked_out.connect(recorder.heard, weak=False)
    return SessionAuth("lockout-test-secret", store, backends=[backend], lockout=lockout), recorder


def _answer(user: Any) -> tuple[int, bytes]:
    return (200, b"ok") if user is not None else (401, b"no")


# -- the five flavours -------------------------------------------------------------------


def wsgi_app(auth: SessionAuth, recorder: Recorder) -> Any:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/stats":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps(recorder.stats()).encode()]
        size = int(environ.get("CONTENT_LENGTH") or 0)
        form = dict(parse_qsl(environ["wsgi.input"].read(size).decode()))
        user = authenticate(environ, username=form.get("username"), password=form.get("password"))
        if user is not None:
            login(environ, user)
        status, body = _answer(user)
        start_response(f"{status} X", [("Content-Type", "text/plain")])
        return [body]

    return auth.wrap(app)


def flask_app(auth: SessionAuth, recorder: Recorder) -> Any:
    import flask

    app = flask.Flask(__name__)

    @app.post("/login")
    def view() -> Any:
        form = flask.request.form
        user = authenticate(flask.request, username=form["username"], password=form["password"])
        if user is not None:
            login(flask.request, user)
        status, body = _answer(user)
        return body, status

    @app.get("/stats")
    def stats() -> Any:
        return recorder.stats()

    app.wsgi_app = auth.wrap(app.wsgi_app)  # type: ignore[method-assign]
    return app


async def _read_form(receive: Any) -> dict[str, str]:
    return dict(parse_qsl((await read_body(receive)).decode()))


def asgi_app(auth: SessionAuth, recorder: Recorder) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] == "/stats":
            status, body = 200, json.dumps(recorder.stats()).encode()
        else:
            form = await _read_form(receive)
            user = await aauthenticate(
                scope, username=form.get("username"), password=form.get("password")
            )
            if user is not None:
                await alogin(scope, user)
            status, body = _answer(user)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return auth.wrap(app)


def starlette_app(auth: SessionAuth, recorder: Recorder) -> Any:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def do_login(request: Request) -> PlainTextResponse:
        form = await request.form()
        user = await aauthenticate(
            request, username=str(form["username"]), password=str(form["password"])
        )
        if user is not None:
            await alogin(request, user)
        status, body = _answer(user)
        return PlainTextResponse(body, status_code=status)

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse(recorder.stats())

    app = Starlette(routes=[Route("/login", do_login, methods=["POST"]), Route("/stats", stats)])
    return auth.wrap(app)


def fastapi_app(auth: SessionAuth, recorder: Recorder) -> Any:
    app = FastAPI()

    @app.post("/login")
    def do_login(
        request: Request, username: str = Form(), password: str = Form()
    ) -> PlainTextResponse:
        # A sync endpoint: FastAPI runs it in a thread, where the sync flow is right.
        user = authenticate(request, username=username, password=password)
        if user is not None:
            login(request, user)
        status, body = _answer(user)
        return PlainTextResponse(body, status_code=status)

    @app.get("/stats")
    def stats() -> dict[str, Any]:
        return recorder.stats()

    return auth.wrap(app)


BUILDERS: dict[str, Callable[[SessionAuth, Recorder], Any]] = {
    "wsgi": wsgi_app,
    "flask": flask_app,
    "asgi": asgi_app,
    "starlette": starlette_app,
    "fastapi": fastapi_app,
}


# -- served by real servers ----------------------------------------------------------------


def _served(flavour: str) -> Any:
    proxies = [p for p in os.environ.get("LOCKOUT_PROXIES", "").split(",") if p]
    lockout = Lockout(
        max_failures=int(os.environ.get("LOCKOUT_MAX", "5")),
        window=float(os.environ.get("LOCKOUT_WINDOW", "900")),
        trusted_proxies=proxies,
        max_client_failures=int(os.environ.get("LOCKOUT_CLIENT_MAX", "1000")),
    )
    auth, recorder = make_auth(servers.store_from_env(), lockout)
    return BUILDERS[flavour](auth, recorder)


def make_asgi() -> Any:
    return _served("starlette")


def make_wsgi() -> Any:
    return _served("wsgi")
