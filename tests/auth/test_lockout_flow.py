"""The lock-out inside the login flow, for each kind of app (in process, real clients)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from reqsignals.auth import LockedOut, Lockout, MemoryStore, SessionAuth, authenticate
from reqsignals.auth.lockout.redis import RedisCounter
from reqsignals.scrub import MASK
from reqsignals.signals import user_locked_out, user_login_failed
from tests.helpers.support import free_port
from tests.live_apps.auth_lockout_apps import BUILDERS, FLAVOURS, PASSWORD, make_auth

ASYNC = {"asgi", "starlette", "fastapi"}


class App:
    """One flavour's app over a fresh memory store, and a client to reach it from any
    address."""

    def __init__(self, flavour: str, lockout: Lockout) -> None:
        self.auth, self.recorder = make_auth(MemoryStore(), lockout)
        self.app = BUILDERS[flavour](self.auth, self.recorder)
        self.flavour = flavour

    def client(self, address: str = "192.0.2.10") -> httpx.Client:
        transport: httpx.BaseTransport
        if self.flavour in ASYNC:
            return _AsyncBridge(self.app, address)  # type: ignore[return-value]
        transport = httpx.WSGITransport(app=self.app, remote_addr=address)
        return httpx.Client(transport=transport, base_url="http://testserver")

    def login(self, username: str, password: str, address: str = "192.0.2.10") -> httpx.Response:
        with self.client(address) as client:
            return client.post("/login", data={"username": username, "password": password})

    @property
    def verifies(self) -> int:
        return self.recorder.counting.computations

    def close(self) -> None:
        user_locked_out.disconnect(self.recorder.heard)


class _AsyncBridge:
    """A sync face on httpx.AsyncClient over ASGITransport (one event loop per call)."""

    def __init__(self, app: Any, address: str) -> None:
        self.transport = httpx.ASGITransport(app=app, client=(address, 50000))

    def __enter__(self) -> _AsyncBridge:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=self.transport, base_url="http://testserver"
            ) as client:
                response = await client.request(method, url, **kwargs)
                await response.aread()
                return response

        return asyncio.run(go())

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)


@pytest.fixture
def make_app() -> Iterator[Callable[..., App]]:
    made: list[App] = []

    def make(flavour: str, **options: Any) -> App:
        options.setdefault("max_failures", 3)
        options.setdefault("max_client_failures", 100)
        app = App(flavour, Lockout(**options))
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_lock_engages_at_the_limit_and_refuses_even_the_right_password_unhashed(
    make_app: Callable[..., App], flavour: str
) -> None:
    app = make_app(flavour)
    assert [app.login("ada", "wrong").status_code for _ in range(3)] == [401, 401, 401]
    assert app.verifies == 3
    refused = app.login("ada", PASSWORD)
    assert refused.status_code == 429
    assert 890 < int(refused.headers["retry-after"]) <= 900
    assert refused.text.startswith("Too many failed logins: try again in ")
    assert app.verifies == 3  # no hash computed for the refused attempt
    # Sent once, when the lock engaged, with the credentials scrubbed.
    assert app.recorder.locked == [
        {
            "sender": "reqsignals.auth",
            "reason": "username",
            "retry_after": 900,
            "credentials": {"username": "ada", "password": MASK},
            "has_request": True,
        }
    ]
    # Another address is refused too: the username is locked, wherever from.
    assert app.login("ada", PASSWORD, address="198.51.100.7").status_code == 429
    assert len(app.recorder.locked) == 1


@pytest.mark.parametrize("flavour", ["wsgi", "starlette"])
def test_a_success_clears_the_usernames_count(make_app: Callable[..., App], flavour: str) -> None:
    app = make_app(flavour)
    assert [app.login("ada", "wrong").status_code for _ in range(2)] == [401, 401]
    assert app.login("ada", PASSWORD).status_code == 200
    assert [app.login("ada", "wrong").status_code for _ in range(2)] == [401, 401]
    assert app.recorder.locked == []


@pytest.mark.parametrize("flavour", ["flask", "asgi"])
def test_a_success_leaves_the_addresss_count(make_app: Callable[..., App], flavour: str) -> None:
    # An attacker logging in to their own account between guesses gains nothing.
    app = make_app(flavour, max_failures=10, max_client_failures=3)
    assert app.login("ada", "wrong").status_code == 401
    assert app.login("bob", "wrong").status_code == 401
    assert app.login("bob", PASSWORD).status_code == 200
    assert app.login("carol", "wrong").status_code == 401
    refused = app.login("dave", "wrong")
    assert refused.status_code == 429
    assert [e["reason"] for e in app.recorder.locked] == ["client"]
    # Another address is not locked.
    assert app.login("dave", "wrong", address="198.51.100.7").status_code == 401


@pytest.mark.parametrize("flavour", ["wsgi", "fastapi"])
def test_unknown_usernames_are_counted_and_locked_like_known_ones(
    make_app: Callable[..., App], flavour: str
) -> None:
    app = make_app(flavour)
    assert [app.login("nobody", "x").status_code for _ in range(4)] == [401, 401, 401, 429]
    assert app.verifies == 3  # the backend's dummy verification, as for a wrong password
    assert [e["reason"] for e in app.recorder.locked] == ["username"]


@pytest.mark.parametrize("flavour", ["flask", "starlette"])
def test_the_lock_lifts_after_the_window(make_app: Callable[..., App], flavour: str) -> None:
    app = make_app(flavour, window=0.6)
    for _ in range(3):
        app.login("ada", "wrong")
    refused = app.login("ada", PASSWORD)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"  # never 0 while locked
    time.sleep(0.65)
    assert app.login("ada", PASSWORD).status_code == 200


@pytest.mark.parametrize("flavour", ["wsgi", "asgi"])
def test_refused_attempts_send_no_more_signals(make_app: Callable[..., App], flavour: str) -> None:
    app = make_app(flavour)
    failed: list[Any] = []

    def heard(sender: Any, **kwargs: Any) -> None:
        failed.append(kwargs["credentials"]["username"])

    with user_login_failed.connected_to(heard):
        statuses = [app.login("ada", "wrong").status_code for _ in range(6)]
    assert statuses == [401, 401, 401, 429, 429, 429]
    assert failed == ["ada"] * 3
    assert len(app.recorder.locked) == 1


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_counter_that_is_down_fails_logins_closed_and_nothing_else(
    make_app: Callable[..., App], flavour: str
) -> None:
    dead = RedisCounter(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    app = make_app(flavour, store=dead)
    refused = app.login("ada", PASSWORD)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "30"
    assert app.verifies == 0
    with app.client() as client:
        assert client.get("/stats").status_code == 200  # requests that do not log in


def test_a_locked_out_the_app_catches_is_the_apps_to_answer() -> None:
    auth, recorder = make_auth(MemoryStore(), Lockout(max_failures=1))

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        try:
            authenticate(environ, username="ada", password="wrong")
        except LockedOut as exc:
            start_response("403 Forbidden", [("Retry-After", str(exc.retry_after))])
            return [f"locked ({exc.reason}), says the app".encode()]
        start_response("401 Unauthorized", [])
        return [b"no"]

    transport = httpx.WSGITransport(app=auth.wrap(app))
    try:
        with httpx.Client(transport=transport, base_url="http://t") as client:
            assert client.post("/").status_code == 401
            refused = client.post("/")
            assert (refused.status_code, refused.text) == (403, "locked (username), says the app")
    finally:
        user_locked_out.disconnect(recorder.heard)


def test_session_auth_takes_true_false_or_a_lockout() -> None:
    assert isinstance(SessionAuth("s", MemoryStore(), lockout=True).lockout, Lockout)
    assert SessionAuth("s", MemoryStore(), lockout=False).lockout is None
    assert SessionAuth("s", MemoryStore()).lockout is None
    with pytest.raises(TypeError, match=r"lockout takes a Lockout\(...\)"):
        SessionAuth("s", MemoryStore(), lockout=5)  # type: ignore[arg-type]


def test_a_locked_out_after_the_response_started_is_the_servers_to_report() -> None:
    auth = SessionAuth("s" * 32, MemoryStore(), lockout=Lockout())

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise LockedOut("username", 5)

    async def websocket_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise LockedOut("client", 5)

    async def main() -> None:
        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        async def receive() -> Any:
            return {"type": "http.request", "body": b""}

        http = {"type": "http", "method": "POST", "path": "/", "headers": [], "scheme": "http"}
        with pytest.raises(LockedOut):
            await auth.wrap(app)(http, receive, send)
        assert [m["type"] for m in sent] == ["http.response.start"]
        ws = {"type": "websocket", "path": "/", "headers": [], "scheme": "ws"}
        with pytest.raises(LockedOut):
            await auth.wrap(websocket_app)(ws, receive, send)

    asyncio.run(main())
