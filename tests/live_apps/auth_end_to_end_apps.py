"""The login app of tests/auth/test_end_to_end.py, built four ways: Starlette, FastAPI,
Flask and bare WSGI, over a ``SQLiteBackend`` user table.

Every app has the same five routes:

- ``GET /me``: ``{"user": <username or null>}``;
- ``GET /touch``: writes to the session (a session key before any login);
- ``POST /login`` (form ``username``, ``password``): 200 or 401;
- ``POST /logout``;
- ``POST /password`` (form ``password``): changes the password of the user logged in
  and keeps this session with ``update_session_auth_hash``.

Served by real servers (``served_starlette``, ``served_flask``), the store and the users
file come from the environment (tests/helpers/servers.py).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

import flask
from fastapi import Depends, FastAPI, Form, HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reqsignals.auth import (
    ASGISessionMiddleware,
    SessionAuth,
    SQLiteBackend,
    aauthenticate,
    aget_user,
    alogin,
    alogout,
    authenticate,
    get_session,
    get_user,
    login,
    logout,
    update_session_auth_hash,
)
from tests.helpers import servers
from tests.helpers.hashers import cheap_hasher

SECRET_KEY = "e2e-secret-key-Qm9vZ2llV29vZ2ll"
OLD_SECRET_KEY = "e2e-old-secret-key-V2hhdGV2ZXI"


def make_users(path: str | Path) -> SQLiteBackend:
    """The user table at *path*, hashing with the cheap test hasher."""
    return SQLiteBackend(path, hasher=cheap_hasher())


def _name(user: Any) -> str | None:
    return user.username if user.is_authenticated else None


# -- the apps ---------------------------------------------------------------------------


def starlette_app(auth: SessionAuth, users: SQLiteBackend) -> Any:
    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"user": _name(request.user)})  # Starlette's own request.user

    async def touch(request: Request) -> JSONResponse:
        request.session["visited"] = True
        return JSONResponse({})

    async def login_view(request: Request) -> JSONResponse:
        form = await request.form()
        user = await aauthenticate(request, username=form["username"], password=form["password"])
        if user is None:
            return JSONResponse({"user": None}, status_code=401)
        await alogin(request, user)
        return JSONResponse({"user": user.username})

    async def logout_view(request: Request) -> JSONResponse:
        await alogout(request)
        return JSONResponse({"user": None})

    async def password(request: Request) -> JSONResponse:
        form = await request.form()
        if not request.user.is_authenticated:
            return JSONResponse({}, status_code=403)
        new_password = form["password"]
        assert isinstance(new_password, str)  # a form field, not a file
        changed = await asyncio.to_thread(users.set_password, request.user, new_password)
        update_session_auth_hash(request, changed)
        return JSONResponse({"user": changed.username})

    return Starlette(
        routes=[
            Route("/me", me),
            Route("/touch", touch),
            Route("/login", login_view, methods=["POST"]),
            Route("/logout", logout_view, methods=["POST"]),
            Route("/password", password, methods=["POST"]),
        ],
        middleware=[Middleware(ASGISessionMiddleware, auth=auth)],
    )


async def current_user(request: Request) -> Any:
    """A FastAPI dependency: the request's user (FastAPI resolves these names globally)."""
    return await aget_user(request)


Current = Annotated[Any, Depends(current_user)]


def fastapi_app(auth: SessionAuth, users: SQLiteBackend) -> Any:
    app = FastAPI()
    app.add_middleware(ASGISessionMiddleware, auth=auth)

    @app.get("/me")
    async def me(user: Current) -> dict[str, Any]:
        return {"user": _name(user)}

    @app.get("/touch")
    async def touch(request: Request) -> dict[str, Any]:
        request.session["visited"] = True
        return {}

    @app.post("/login")
    async def login_view(
        request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()]
    ) -> dict[str, Any]:
        user = await aauthenticate(request, username=username, password=password)
        if user is None:
            raise HTTPException(status_code=401, detail="wrong username or password")
        await alogin(request, user)
        return {"user": user.username}

    @app.post("/logout")
    async def logout_view(request: Request) -> dict[str, Any]:
        await alogout(request)
        return {"user": None}

    @app.post("/password")
    async def password(
        request: Request, user: Current, password: Annotated[str, Form()]
    ) -> dict[str, Any]:
        if not user.is_authenticated:
            raise HTTPException(status_code=403)
        changed = await asyncio.to_thread(users.set_password, user, password)
        update_session_auth_hash(request, changed)
        return {"user": changed.username}

    return app


def flask_app(auth: SessionAuth, users: SQLiteBackend) -> Any:
    app = flask.Flask(__name__)
    request = flask.request

    @app.get("/me")
    def me() -> Any:
        return {"user": _name(get_user(request))}

    @app.get("/touch")
    def touch() -> Any:
        get_session(request)["visited"] = True
        return {}

    @app.post("/login")
    def login_view() -> Any:
        form = request.form
        user = authenticate(request, username=form["username"], password=form["password"])
        if user is None:
            return {"user": None}, 401
        login(request, user)
        return {"user": user.username}

    @app.post("/logout")
    def logout_view() -> Any:
        logout(request)
        return {"user": None}

    @app.post("/password")
    def password() -> Any:
        user = get_user(request)
        if not user.is_authenticated:
            return {}, 403
        changed = users.set_password(user, request.form["password"])
        update_session_auth_hash(request, changed)
        return {"user": changed.username}

    app.wsgi_app = auth.wrap(app.wsgi_app)  # type: ignore[method-assign]
    return app


def wsgi_app(auth: SessionAuth, users: SQLiteBackend) -> Any:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        form = {k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(size).decode()).items()}
        path, status, body = environ["PATH_INFO"], "200 OK", {}
        if path == "/me":
            body = {"user": _name(get_user(environ))}
        elif path == "/touch":
            get_session(environ)["visited"] = True
        elif path == "/login":
            user = authenticate(environ, username=form["username"], password=form["password"])
            if user is None:
                status, body = "401 Unauthorized", {"user": None}
            else:
                login(environ, user)
                body = {"user": user.username}
        elif path == "/logout":
            logout(environ)
            body = {"user": None}
        elif path == "/password":
            user = get_user(environ)
            if not user.is_authenticated:
                status = "403 Forbidden"
            else:
                changed = users.set_password(user, form["password"])
                update_session_auth_hash(environ, changed)
                body = {"user": changed.username}
        else:
            status = "404 Not Found"
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    return auth.wrap(app)


BUILDERS = {"starlette": starlette_app, "fastapi": fastapi_app, "flask": flask_app}
BUILDERS["wsgi"] = wsgi_app
ASGI = {"starlette", "fastapi"}


# -- served by real servers: the configuration comes from the environment ----------------


def _served(kind: str) -> Any:
    users = make_users(os.environ[servers.USERS])
    auth = SessionAuth([SECRET_KEY, OLD_SECRET_KEY], servers.store_from_env(), backends=[users])
    return BUILDERS[kind](auth, users)


def served_starlette() -> Any:
    return _served("starlette")


def served_flask() -> Any:
    return _served("flask")
