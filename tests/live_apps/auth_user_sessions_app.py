"""An app with logins and the sessions-per-user API, for tests/auth/test_user_sessions.py.

Built as a Starlette app (ASGI, async API) and a Flask app (WSGI, sync API) over the
same routes, so one test runs against both; servers started by the tests take the
store and the users file from the environment (tests/helpers/servers.py).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from reqsignals.auth import (
    SessionAuth,
    SessionInfo,
    SQLiteBackend,
    aauthenticate,
    alist_sessions,
    alogin,
    alogout_everywhere,
    arevoke_session,
    aupdate_session_auth_hash,
    authenticate,
    list_sessions,
    login,
    logout_everywhere,
    revoke_session,
    update_session_auth_hash,
)
from tests.helpers import servers
from tests.helpers.hashers import cheap_hasher

SECRET = "user-sessions-secret-0123456789"
CHEAP = cheap_hasher()


def _info(info: SessionInfo) -> dict[str, Any]:
    out = dataclasses.asdict(info)
    for name in ("created", "last_seen"):
        out[name] = out[name].timestamp() if out[name] is not None else None
    return out


def starlette_app(auth: SessionAuth, users: Any) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def do_login(request: Request) -> Response:
        form = await request.form()
        user = await aauthenticate(
            request, username=str(form["username"]), password=str(form["password"])
        )
        if user is None:
            return JSONResponse({"ok": False}, status_code=401)
        await alogin(request, user)
        return JSONResponse({"ok": True})

    async def me(request: Request) -> Response:
        user = request.user
        return JSONResponse({"user": user.id if user.is_authenticated else None})

    async def sessions(request: Request) -> Response:
        return JSONResponse([_info(i) for i in await alist_sessions(request)])

    async def revoke(request: Request) -> Response:
        form = await request.form()
        return JSONResponse({"revoked": await arevoke_session(request, str(form["id"]))})

    async def everywhere(request: Request) -> Response:
        form = await request.form()
        keep = form.get("keep", "1") == "1"
        return JSONResponse({"ended": await alogout_everywhere(request, keep_current=keep)})

    async def password(request: Request) -> Response:
        form = await request.form()
        changed = users.set_password(request.user, str(form["password"]))
        await aupdate_session_auth_hash(request, changed)
        return JSONResponse({"ok": True})

    async def pid(request: Request) -> Response:
        return JSONResponse({"pid": os.getpid()})

    app = Starlette(
        routes=[
            Route("/login", do_login, methods=["POST"]),
            Route("/me", me),
            Route("/sessions", sessions),
            Route("/revoke", revoke, methods=["POST"]),
            Route("/everywhere", everywhere, methods=["POST"]),
            Route("/password", password, methods=["POST"]),
            Route("/pid", pid),
        ]
    )
    return auth.wrap(app)


def flask_app(auth: SessionAuth, users: Any) -> Any:
    import flask

    from reqsignals.auth import get_user

    app = flask.Flask(__name__)
    req = flask.request

    @app.post("/login")
    def do_login() -> Any:
        user = authenticate(req, username=req.form["username"], password=req.form["password"])
        if user is None:
            return {"ok": False}, 401
        login(req, user)
        return {"ok": True}

    @app.get("/me")
    def me() -> Any:
        user = get_user(req)
        return {"user": user.id if user.is_authenticated else None}

    @app.get("/sessions")
    def sessions() -> Any:
        return flask.jsonify([_info(i) for i in list_sessions(req)])

    @app.post("/revoke")
    def revoke() -> Any:
        return {"revoked": revoke_session(req, req.form["id"])}

    @app.post("/everywhere")
    def everywhere() -> Any:
        keep = req.form.get("keep", "1") == "1"
        return {"ended": logout_everywhere(req, keep_current=keep)}

    @app.post("/password")
    def password() -> Any:
        changed = users.set_password(get_user(req), req.form["password"])
        update_session_auth_hash(req, changed)
        return {"ok": True}

    @app.get("/pid")
    def pid() -> Any:
        return {"pid": os.getpid()}

    app.wsgi_app = auth.wrap(app.wsgi_app)  # type: ignore[method-assign]
    return app


def _from_env() -> tuple[SessionAuth, SQLiteBackend]:
    users = SQLiteBackend(os.environ[servers.USERS], hasher=CHEAP)
    return SessionAuth(SECRET, servers.store_from_env(), backends=[users]), users


def make_asgi() -> Any:
    return starlette_app(*_from_env())


def make_wsgi() -> Any:
    return flask_app(*_from_env())
