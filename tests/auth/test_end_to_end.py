"""Session auth end to end: one login scenario for Starlette, FastAPI, Flask and bare WSGI.

Every app has the same five routes over a ``SQLiteBackend`` user table:

- ``GET /me``: ``{"user": <username or null>}``;
- ``GET /touch``: writes to the session (a session key before any login);
- ``POST /login`` (form ``username``, ``password``): 200 or 401;
- ``POST /logout``;
- ``POST /password`` (form ``password``): changes the password of the user logged in
  and keeps this session with ``update_session_auth_hash``.

Each runs over the SQLite store and the Redis store (a real redis-server), through
httpx's ASGI/WSGI transports; two variants run in real servers (uvicorn, waitress).
Along the way every log record, signal argument and exception message is searched for
the passwords and secret keys of the test (the canary).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

import flask
import httpx
import pytest
from fastapi import Depends, FastAPI, Form, HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reqsignals.auth import (
    MASK,
    ASGISessionMiddleware,
    PermissionDenied,
    RedisStore,
    Session,
    SessionAuth,
    SQLiteBackend,
    SQLiteStore,
    User,
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
from reqsignals.signals import user_logged_in, user_logged_out, user_login_failed
from reqsignals.testing import Capture, capture
from tests.helpers.hashers import cheap_hasher
from tests.helpers.support import Server, run_server

SECRET_KEY = "e2e-secret-key-Qm9vZ2llV29vZ2ll"
OLD_SECRET_KEY = "e2e-old-secret-key-V2hhdGV2ZXI"
PASSWORD = "hunter2-Correct-Horse"
WRONG_PASSWORD = "wrong-Battery-Staple"
NEW_PASSWORD = "n3w-Tr0ub4dor-and-3"
OTHER_PASSWORD = "0ther-P4ssw0rd-Zebra"
SECRETS = [SECRET_KEY, OLD_SECRET_KEY, PASSWORD, WRONG_PASSWORD, NEW_PASSWORD, OTHER_PASSWORD]
APPS = ["starlette", "fastapi", "flask", "wsgi"]


def _users(path: str | Path) -> SQLiteBackend:
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
    store_kind, _, where = os.environ["REQSIGNALS_E2E_STORE"].partition(":")
    if store_kind == "sqlite":
        store: Any = SQLiteStore(where)
    else:
        store = RedisStore(where, prefix=os.environ["REQSIGNALS_E2E_PREFIX"])
    users = _users(os.environ["REQSIGNALS_E2E_USERS"])
    auth = SessionAuth([SECRET_KEY, OLD_SECRET_KEY], store, backends=[users])
    return BUILDERS[kind](auth, users)


def served_starlette() -> Any:
    return _served("starlette")


def served_flask() -> Any:
    return _served("flask")


SERVERS = {
    "uvicorn": [
        "python",
        "-m",
        "uvicorn",
        "--factory",
        "tests.auth.test_end_to_end:served_starlette",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--log-level",
        "warning",
    ],
    "waitress": [
        "python",
        "-m",
        "waitress",
        "--host=127.0.0.1",
        "--port={port}",
        "--threads=4",
        "--call",
        "tests.auth.test_end_to_end:served_flask",
    ],
}


# -- a client that keeps no cookie jar: every request names its cookie -------------------


@dataclasses.dataclass
class Reply:
    status: int
    user: str | None
    cookie: str | None  # the new session cookie: None = not changed, "" = deleted


class Browser:
    """Sends requests with an explicit session cookie (or none) to one app."""

    def __init__(self, app: Any = None, *, asgi: bool = False, base_url: str = "") -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._client: Any
        if base_url:
            self._client = httpx.Client(base_url=base_url, timeout=30)
        elif asgi:
            self.loop = asyncio.new_event_loop()
            self._client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            )
        else:
            self._client = httpx.Client(
                transport=httpx.WSGITransport(app=app), base_url="http://testserver"
            )

    def send(self, method: str, path: str, cookie: str | None, **form: str) -> Reply:
        headers = {"cookie": f"session={cookie}"} if cookie else {}
        self._client.cookies.clear()  # only the cookie named here is sent
        request = self._client.request(method, path, headers=headers, data=form or None)
        response: httpx.Response = (
            self.loop.run_until_complete(request) if self.loop is not None else request
        )
        set_cookie = response.headers.get("set-cookie")
        new = None if set_cookie is None else set_cookie.split(";")[0].partition("=")[2]
        user = response.json().get("user") if response.status_code < 500 else None
        return Reply(response.status_code, user, new)

    def me(self, cookie: str | None) -> str | None:
        reply = self.send("GET", "/me", cookie)
        assert reply.status == 200
        return reply.user

    def login(self, cookie: str | None, password: str = PASSWORD) -> Reply:
        return self.send("POST", "/login", cookie, username="ada", password=password)

    def close(self, auth: SessionAuth | None = None) -> None:
        if self.loop is not None:
            self.loop.run_until_complete(self._client.aclose())
            if auth is not None:
                self.loop.run_until_complete(auth.aclose())
            self.loop.close()
        else:
            self._client.close()
            if auth is not None:
                auth.close()


# -- the scenario ------------------------------------------------------------------------


def run_scenario(browser: Browser, users: SQLiteBackend) -> None:
    """The same steps for every app; plain HTTP assertions only."""
    # A session key taken before login (planted, say, by an attacker).
    planted = browser.send("GET", "/touch", None).cookie
    assert planted

    # A failed login: 401, no session change.
    failed = browser.login(planted, WRONG_PASSWORD)
    assert (failed.status, failed.user) == (401, None)

    # Logging in over the planted session gives a new key; the planted one is worthless.
    ok = browser.login(planted)
    assert (ok.status, ok.user) == (200, "ada")
    first = ok.cookie
    assert first
    assert first != planted
    assert browser.me(first) == "ada"
    assert browser.me(planted) is None  # fixation

    # Logging out deletes the cookie, and the old cookie no longer authenticates.
    out = browser.send("POST", "/logout", first)
    assert (out.status, out.cookie) == (200, "")
    assert browser.me(first) is None

    # Two sessions; a password change through one keeps it and ends the other.
    phone, laptop = browser.login(None).cookie, browser.login(None).cookie
    assert phone
    assert laptop
    assert browser.me(phone) == browser.me(laptop) == "ada"
    changed = browser.send("POST", "/password", phone, password=NEW_PASSWORD)
    assert (changed.status, changed.user) == (200, "ada")
    assert changed.cookie
    assert changed.cookie != phone  # update_session_auth_hash cycled the key
    phone = changed.cookie
    assert browser.me(phone) == "ada"
    assert browser.me(laptop) is None
    assert browser.login(None, PASSWORD).status == 401
    assert browser.login(None, NEW_PASSWORD).status == 200

    # A password changed elsewhere (another process, an admin script) ends every session.
    users.set_password("ada", OTHER_PASSWORD)
    assert browser.me(phone) is None


# -- the canary: where secrets must never show up ------------------------------------


def _texts(value: Any, seen: set[int] | None = None) -> Iterator[str]:
    """repr() of *value* and of everything inside it: containers, and a request's
    scope or environ (its own repr shows little)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    yield repr(value)
    if isinstance(value, Session):
        yield repr(dict(value._data))  # no load: only what this request had
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield repr(key)
            yield from _texts(item, seen)
        return
    if isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _texts(item, seen)
        return
    for attr in ("scope", "environ"):
        try:
            space = getattr(value, attr, None)
        except RuntimeError:  # a Flask proxy outside its request
            space = None
        if isinstance(space, Mapping):
            yield from _texts(space, seen)


class Canary:
    """Every text the test could leak a secret into, gathered as it happens."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def receiver(self, sender: Any, **kwargs: Any) -> None:
        # At send time, while a Flask request proxy is still bound.
        self.texts.extend(_texts((sender, kwargs)))

    def leaks(self, sent: Capture, records: list[logging.LogRecord]) -> list[str]:
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        texts = [*self.texts, *(formatter.format(r) for r in records)]
        for s in sent:
            texts.extend(_texts((s.sender, s.kwargs)))
        return [f"{secret!r} in {t[:300]}" for t in texts for secret in SECRETS if secret in t]


def _failing_receiver(sender: Any, **kwargs: Any) -> None:
    # Makes send_robust log an error with a traceback: that record is searched too.
    raise ValueError("a receiver of user_login_failed failed")


def _describe(request: Any) -> tuple[str, str, str]:
    """(kind, method, path) of the request a receiver got, read at send time."""
    if isinstance(request, Request):
        return "starlette", request.method, request.url.path
    if isinstance(request, flask.Request):
        return "flask", request.method, request.path
    assert isinstance(request, dict)
    return "environ", request["REQUEST_METHOD"], request["PATH_INFO"]


KINDS = {"starlette": "starlette", "fastapi": "starlette", "flask": "flask", "wsgi": "environ"}


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        return SQLiteStore(tmp_path / "sessions.db")
    server: Server = request.getfixturevalue("redis_server")
    return RedisStore(server.url, prefix=f"e2e:{uuid.uuid4().hex}:")


@pytest.mark.parametrize("app_kind", [pytest.param(k, id=k) for k in APPS])
def test_login_scenario(
    app_kind: str, store: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level
    users = _users(tmp_path / "users.db")
    ada = users.create_user("ada", PASSWORD)
    auth = SessionAuth([SECRET_KEY, OLD_SECRET_KEY], store, backends=[users])
    browser = Browser(BUILDERS[app_kind](auth, users), asgi=app_kind in ASGI)
    canary = Canary()
    heard: list[tuple[str, Any, Any, tuple[str, str, str]]] = []

    def hear(name: str) -> Callable[..., None]:
        def receiver(sender: Any, *, request: Any, **kwargs: Any) -> None:
            who = kwargs.get("user", kwargs.get("credentials"))
            heard.append((name, sender, who, _describe(request)))

        return receiver

    receivers = {
        user_login_failed: [hear("failed"), _failing_receiver],
        user_logged_in: [hear("in")],
        user_logged_out: [hear("out")],
    }
    with capture() as sent:
        for signal, fns in receivers.items():
            for fn in [*fns, canary.receiver]:
                signal.connect(fn, weak=False)
        try:
            run_scenario(browser, users)
        finally:
            for signal, fns in receivers.items():
                for fn in [*fns, canary.receiver]:
                    signal.disconnect(fn)
            browser.close(auth)
            users.close()

    kind = KINDS[app_kind]
    login_post = (kind, "POST", "/login")
    masked = {"username": "ada", "password": MASK}
    assert heard[:3] == [
        ("failed", "reqsignals.auth", masked, login_post),
        ("in", User, ada, login_post),
        ("out", User, ada, (kind, "POST", "/logout")),
    ]
    # Then: two logins, one failed login with the old password, one with the new one.
    assert [h[0] for h in heard[3:]] == ["in", "in", "failed", "in"]
    assert heard[5][2] == masked
    assert len(sent.of(user_login_failed)) == 2
    # The failing receiver was logged, and the other receivers still ran.
    broken = [r for r in caplog.records if "_failing_receiver" in r.getMessage()]
    assert len(broken) == 2
    assert all(r.exc_info and r.name.startswith("reqsignals") for r in broken)

    assert canary.leaks(sent, caplog.records) == []


def test_error_messages_never_echo_a_password(tmp_path: Path) -> None:
    """The exceptions the auth code raises with a password at hand do not show it."""
    users = _users(tmp_path / "users.db")
    users.create_user("ada", PASSWORD)
    attempts: list[Callable[[], Any]] = [
        lambda: users.create_user("ada", PASSWORD),  # taken
        lambda: users.set_password("nobody", NEW_PASSWORD),  # unknown user
        lambda: users.create_user("", PASSWORD),  # empty username
        lambda: SessionAuth([SECRET_KEY, ""]),  # an empty key among real ones
    ]
    messages = []
    for attempt in attempts:
        with pytest.raises((ValueError, LookupError)) as info:
            attempt()
        messages.append(f"{info.value!r} {info.value}")
    denied = PermissionDenied("ada is locked out")
    messages.append(str(denied))
    users.close()
    assert [m for m in messages if any(s in m for s in SECRETS)] == []


@pytest.mark.server
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("server", "store_kind"),
    [
        pytest.param("uvicorn", "redis", id="uvicorn-starlette-redis"),
        pytest.param("waitress", "sqlite", id="waitress-flask-sqlite"),
    ],
)
def test_login_scenario_through_a_real_server(
    server: str, store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    users_db = tmp_path / "users.db"
    users = _users(users_db)
    users.create_user("ada", PASSWORD)
    if store_kind == "sqlite":
        env = {"REQSIGNALS_E2E_STORE": f"sqlite:{tmp_path / 'sessions.db'}"}
    else:
        redis: Server = request.getfixturevalue("redis_server")
        env = {
            "REQSIGNALS_E2E_STORE": f"redis:{redis.url}",
            "REQSIGNALS_E2E_PREFIX": f"e2e-served:{uuid.uuid4().hex}:",
        }
    env["REQSIGNALS_E2E_USERS"] = str(users_db)
    with run_server(SERVERS[server], env=env) as running:
        browser = Browser(base_url=running.url)
        try:
            run_scenario(browser, users)
        finally:
            browser.close()
            users.close()
        output = running.output()
    assert [s for s in SECRETS if s in output] == []
