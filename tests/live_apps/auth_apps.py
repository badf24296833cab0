"""One tiny session app, built four ways: bare WSGI, Flask, bare ASGI, Starlette.

Every flavour routes ``/<action>?k=<key>&v=<json>`` to :func:`act`, so one test runs
unchanged against each of them. The flavours themselves (``json_*_app``: an app of that
kind answering every path with a view's status and JSON body) serve the other auth
apps too.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.requests import Request

from reqsignals.auth import ASGISessionMiddleware, Session, SessionAuth, get_session
from tests.helpers.clients import InProcessClient

FLAVOURS = ["wsgi", "flask", "asgi", "starlette"]
SECRET = "test-secret-key-0123456789"  # the key of the auth tests (tests/auth/conftest.py)


def act(session: Session, action: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Do *action* on *session*; return (status, JSON body)."""
    k = params.get("k", "k")
    if action == "noop":
        return 200, {}
    if action == "get":
        return 200, {"value": session.get(k)}
    if action == "set":
        session[k] = json.loads(params["v"])
    elif action == "fill":
        session[k] = "x" * int(params["n"])
    elif action == "del":
        session.pop(k, None)
    elif action == "cycle":
        session.cycle_key()
    elif action == "flush":
        session.flush()
    elif action == "flush_set":
        session.flush()
        session[k] = json.loads(params["v"])
    elif action == "fail":
        session[k] = json.loads(params["v"])
        return 500, {}
    elif action != "dump":
        return 404, {}
    return 200, {"data": dict(session), "key": session.key, "pid": os.getpid()}


# -- the flavours: each answers every path with a view's (status, JSON body) ------------

Answer = tuple[int, dict[str, Any]]


def json_wsgi_app(auth: SessionAuth, view: Callable[[dict[str, Any], str], Answer]) -> Any:
    """A bare WSGI app answering ``view(environ, action)``, *action* being the path
    without its slashes; wrapped by *auth*."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        status, body = view(environ, environ["PATH_INFO"].strip("/"))
        start_response(f"{status} X", [("Content-Type", "application/json")])
        return iter([json.dumps(body).encode()])

    return auth.wrap(app)


def json_flask_app(auth: SessionAuth, view: Callable[[Any, str], Answer]) -> Any:
    """A Flask app answering ``view(flask.request, action)`` for GET and POST on every
    path; its ``wsgi_app`` wrapped by *auth*."""
    import flask

    app = flask.Flask(__name__)

    @app.route("/<path:action>", methods=["GET", "POST"])
    def route(action: str) -> Any:
        status, body = view(flask.request, action)
        return flask.jsonify(body), status

    app.wsgi_app = auth.wrap(app.wsgi_app)  # type: ignore[method-assign]
    return app


def json_asgi_app(
    auth: SessionAuth, view: Callable[[dict[str, Any], Any, str], Awaitable[Answer]]
) -> Any:
    """A bare ASGI app answering ``await view(scope, receive, action)``; wrapped by *auth*."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        status, body = await view(scope, receive, scope["path"].strip("/"))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    return auth.wrap(app)


def json_starlette_app(auth: SessionAuth, view: Callable[[Any, str], Awaitable[Answer]]) -> Any:
    """A Starlette app answering ``await view(request, action)`` for GET and POST on every
    path, with the session middleware in its middleware list."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def route(request: Request) -> JSONResponse:
        status, body = await view(request, request.path_params["action"])
        return JSONResponse(body, status_code=status)

    return Starlette(
        routes=[Route("/{action:path}", route, methods=["GET", "POST"])],
        middleware=[Middleware(ASGISessionMiddleware, auth=auth)],
    )


def json_fastapi_app(auth: SessionAuth, view: Callable[[Any, str], Awaitable[Answer]]) -> Any:
    """A FastAPI app answering ``await view(request, action)`` for GET and POST on every
    path, the session middleware added with ``add_middleware``."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    app = FastAPI()

    # FastAPI reads the annotations by name from this module's globals: Request is one.
    @app.api_route("/{action:path}", methods=["GET", "POST"])
    async def route(action: str, request: Request) -> Any:
        status, body = await view(request, action)
        return JSONResponse(body, status_code=status)

    app.add_middleware(ASGISessionMiddleware, auth=auth)
    return app


async def read_body(receive: Any) -> bytes:
    """The whole body of an ASGI request, from its ``http.request`` messages."""
    body: bytes = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


# -- the session app -----------------------------------------------------------------


def wsgi_app(auth: SessionAuth) -> Any:
    def view(environ: dict[str, Any], action: str) -> Answer:
        params = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        return act(get_session(environ), action, params)

    return json_wsgi_app(auth, view)


def flask_app(auth: SessionAuth) -> Any:
    def view(request: Any, action: str) -> Answer:
        return act(get_session(request), action, dict(request.args))

    return json_flask_app(auth, view)


def asgi_app(auth: SessionAuth) -> Any:
    async def view(scope: dict[str, Any], receive: Any, action: str) -> Answer:
        assert scope["type"] == "http"
        params = dict(parse_qsl(scope["query_string"].decode()))
        return act(get_session(scope), action, params)

    return json_asgi_app(auth, view)


def starlette_app(auth: SessionAuth) -> Any:
    async def view(request: Any, action: str) -> Answer:
        # Starlette's own request.session must be our Session.
        return act(request.session, action, dict(request.query_params))

    return json_starlette_app(auth, view)


BUILDERS = {"wsgi": wsgi_app, "flask": flask_app, "asgi": asgi_app, "starlette": starlette_app}


class Client(InProcessClient):
    """A sync httpx client for any flavour; ASGI apps run on one event loop per client."""

    def __init__(self, flavour: str, auth: SessionAuth, *, https: bool = False) -> None:
        base_url = "https://testserver" if https else "http://testserver"
        super().__init__(
            BUILDERS[flavour](auth), auth, asgi=flavour in ("asgi", "starlette"), base_url=base_url
        )
        self.flavour = flavour

    def use_cookie(self, value: str, name: str = "session") -> None:
        """From now on send only this cookie."""
        self.cookies.clear()
        # http.cookiejar files cookies of dotless hosts under "<host>.local".
        self.cookies.set(name, value, domain="testserver.local")

    def get_raw_cookie(self, path: str, cookie: bytes) -> tuple[int, Any, str | None]:
        """GET with this exact Cookie header; (status, JSON body, Set-Cookie).

        httpx's WSGI transport only sends ASCII headers, so WSGI apps get it through
        Werkzeug's test client, which passes the latin-1 text PEP 3333 prescribes.
        """
        if self.is_asgi:
            r = self.request("GET", path, headers={"cookie": cookie})
            return r.status_code, r.json(), r.headers.get("set-cookie")
        from werkzeug.test import Client as WerkzeugClient

        w = WerkzeugClient(self.app, use_cookies=False).get(
            path, headers={"Cookie": cookie.decode("latin-1")}
        )
        return w.status_code, w.get_json(), w.headers.get("Set-Cookie")

    def set(self, key: str, value: Any) -> httpx.Response:
        return self.post("/set", params={"k": key, "v": json.dumps(value)})

    def dump(self, **kwargs: Any) -> dict[str, Any]:
        response = self.get("/dump", **kwargs)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def run(self, coro: Any) -> Any:
        """Run *coro* on this client's loop (ASGI) or a fresh one (WSGI)."""
        if self.loop is not None:
            return self.loop.run_until_complete(coro)
        return asyncio.run(coro)
