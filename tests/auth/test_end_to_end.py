"""Session auth end to end: one login scenario for Starlette, FastAPI, Flask and bare WSGI.

The apps (tests/live_apps/auth_end_to_end_apps.py) have the same five routes over a
``SQLiteBackend`` user table. Each runs over the SQLite store and the Redis store (a real
redis-server), through httpx's ASGI/WSGI transports; two variants run in real servers
(uvicorn, waitress).
Along the way every log record, signal argument and exception message is searched for
the passwords and secret keys of the test (the canary).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest
from starlette.requests import Request

from reqsignals.auth import (
    MASK,
    PermissionDenied,
    RedisStore,
    Session,
    SessionAuth,
    SQLiteBackend,
    SQLiteStore,
    User,
)
from reqsignals.signals import user_logged_in, user_logged_out, user_login_failed
from reqsignals.testing import Capture, capture
from tests.helpers import servers
from tests.helpers.support import Server, run_server
from tests.live_apps.auth_end_to_end_apps import (
    ASGI,
    BUILDERS,
    OLD_SECRET_KEY,
    SECRET_KEY,
    make_users,
)

PASSWORD = "hunter2-Correct-Horse"
WRONG_PASSWORD = "wrong-Battery-Staple"
NEW_PASSWORD = "n3w-Tr0ub4dor-and-3"
OTHER_PASSWORD = "0ther-P4ssw0rd-Zebra"
SECRETS = [SECRET_KEY, OLD_SECRET_KEY, PASSWORD, WRONG_PASSWORD, NEW_PASSWORD, OTHER_PASSWORD]
APPS = ["starlette", "fastapi", "flask", "wsgi"]

SERVERS = {
    "uvicorn": servers.uvicorn(
        "tests.live_apps.auth_end_to_end_apps:served_starlette", factory=True
    ),
    "waitress": servers.waitress("tests.live_apps.auth_end_to_end_apps:served_flask", threads=4),
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
    users = make_users(tmp_path / "users.db")
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
    users = make_users(tmp_path / "users.db")
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
    users = make_users(users_db)
    users.create_user("ada", PASSWORD)
    env = servers.store_env(store_kind, request, tmp_path, "e2e-served:{}:")
    env[servers.USERS] = str(users_db)
    with run_server(SERVERS[server], env=env) as running:
        browser = Browser(base_url=running.url)
        try:
            run_scenario(browser, users)
        finally:
            browser.close()
            users.close()
        output = running.output()
    assert [s for s in SECRETS if s in output] == []
