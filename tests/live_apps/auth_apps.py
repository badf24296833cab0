"""One tiny session app, built four ways: bare WSGI, Flask, bare ASGI, Starlette.

Every flavour routes ``/<action>?k=<key>&v=<json>`` to :func:`act`, so one test runs
unchanged against each of them.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx

from reqsignals.auth import ASGISessionMiddleware, Session, SessionAuth, get_session

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


def wsgi_app(auth: SessionAuth) -> Any:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        params = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        status, body = act(get_session(environ), environ["PATH_INFO"].strip("/"), params)
        start_response(f"{status} X", [("Content-Type", "application/json")])
        return iter([json.dumps(body).encode()])

    return auth.wrap(app)


def flask_app(auth: SessionAuth) -> Any:
    import flask

    app = flask.Flask(__name__)

    @app.route("/<action>", methods=["GET", "POST"])
    def view(action: str) -> Any:
        status, body = act(get_session(flask.request), action, dict(flask.request.args))
        return flask.jsonify(body), status

    app.wsgi_app = auth.wrap(app.wsgi_app)  # type: ignore[method-assign]
    return app


def asgi_app(auth: SessionAuth) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        params = dict(parse_qsl(scope["query_string"].decode()))
        status, body = act(get_session(scope), scope["path"].strip("/"), params)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    return auth.wrap(app)


def starlette_app(auth: SessionAuth) -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def view(request: Request) -> JSONResponse:
        # Starlette's own request.session must be our Session.
        status, body = act(
            request.session,  # type: ignore[arg-type]
            request.path_params["action"],
            dict(request.query_params),
        )
        return JSONResponse(body, status_code=status)

    return Starlette(
        routes=[Route("/{action}", view, methods=["GET", "POST"])],
        middleware=[Middleware(ASGISessionMiddleware, auth=auth)],
    )


BUILDERS = {"wsgi": wsgi_app, "flask": flask_app, "asgi": asgi_app, "starlette": starlette_app}


class Client:
    """A sync httpx client for any flavour; ASGI apps run on one event loop per client."""

    def __init__(self, flavour: str, auth: SessionAuth, *, https: bool = False) -> None:
        self.flavour = flavour
        self.auth = auth
        self.app = BUILDERS[flavour](auth)
        self.is_asgi = flavour in ("asgi", "starlette")
        base_url = "https://testserver" if https else "http://testserver"
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        self._client: httpx.Client | httpx.AsyncClient
        if self.is_asgi:
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

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if self.loop is not None:
            assert isinstance(self._client, httpx.AsyncClient)
            return self.loop.run_until_complete(self._client.request(method, url, **kwargs))
        assert isinstance(self._client, httpx.Client)
        return self._client.request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

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

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.loop is not None:
            assert isinstance(self._client, httpx.AsyncClient)
            self.loop.run_until_complete(self._client.aclose())
            self.loop.run_until_complete(self.auth.store.aclose())
            self.loop.close()
        else:
            assert isinstance(self._client, httpx.Client)
            self._client.close()
            self.auth.store.close()
