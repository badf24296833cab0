"""A backend that raises (not ``PermissionDenied``) during a login under the lock-out.

As in Django, such an exception propagates and ``user_login_failed`` is not sent: the
attempt is no failed login, so it is taken off the counts and engages no lock (the bug
this guards against: it stayed counted, engaged the lock on the N-th attempt, and
``user_locked_out`` was never sent for that lock). Bare WSGI (``authenticate``) and bare
ASGI (``aauthenticate``) apps, through httpx, over memory, SQLite and Redis counters.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from reqsignals.auth import (
    Lockout,
    LockoutUnavailable,
    MemoryBackend,
    MemoryStore,
    SessionAuth,
    SQLiteStore,
    aauthenticate,
    authenticate,
)
from reqsignals.auth.lockout.redis import RedisCounter
from reqsignals.auth.stores.base import SessionStore
from reqsignals.signals import user_locked_out, user_login_failed
from tests.helpers.hashers import cheap_hasher
from tests.helpers.support import free_port
from tests.live_apps.auth_apps import read_body

PASSWORD = "correct horse battery"
CRASH = "crash"  # the password for which the backend raises
MAX = 3


class BackendDown(Exception):
    """What the flaky backend raises (a database that went away, say)."""


class FlakyBackend(MemoryBackend):
    """A memory backend that raises for the password ``CRASH``; with *barrier*, every
    attempt waits there first (so they are all in flight at once), and a wrong password
    answers only once *crashed* is set."""

    barrier: threading.Barrier | None = None
    crashed: threading.Event | None = None
    before_crash: Callable[[], None] | None = None

    def authenticate(self, request: object, *, username: str, password: str | bytes) -> Any:
        if self.barrier is not None:
            self.barrier.wait()
        if password == CRASH:
            if self.before_crash is not None:
                self.before_crash()
            raise BackendDown("the user database went away")
        if self.crashed is not None:
            assert self.crashed.wait(10)
        return super().authenticate(request, username=username, password=password)


def _form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode()))


def wsgi_app(auth: SessionAuth, crashed: threading.Event) -> Any:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        form = _form(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        try:
            user = authenticate(environ, username=form["username"], password=form["password"])
        except BackendDown:
            crashed.set()
            start_response("500 Internal Server Error", [])
            return [b"backend down"]
        start_response("200 OK" if user is not None else "401 Unauthorized", [])
        return [b"ok" if user is not None else b"no"]

    return auth.wrap(app)


def asgi_app(auth: SessionAuth, crashed: threading.Event) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        form = _form(await read_body(receive))
        try:
            user = await aauthenticate(scope, username=form["username"], password=form["password"])
            status = 200 if user is not None else 401
        except BackendDown:
            crashed.set()
            status = 500
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return auth.wrap(app)


class App:
    """One app over a flaky backend, with what the lock-out signals said."""

    def __init__(self, kind: str, store: SessionStore, lockout: Lockout) -> None:
        self.backend = FlakyBackend(hasher=cheap_hasher())
        self.backend.create_user("ada", PASSWORD)
        self.auth = SessionAuth("s" * 32, store, backends=[self.backend], lockout=lockout)
        self.lockout = lockout
        self.crashed = threading.Event()
        self.kind = kind
        self.app = (wsgi_app if kind == "wsgi" else asgi_app)(self.auth, self.crashed)
        self.locked: list[str] = []
        self.failed: list[str] = []

        def heard_locked(sender: Any, **kwargs: Any) -> None:
            self.locked.append(kwargs["reason"])

        def heard_failed(sender: Any, **kwargs: Any) -> None:
            self.failed.append(kwargs["credentials"]["username"])

        self.receivers = ((user_locked_out, heard_locked), (user_login_failed, heard_failed))
        for signal, receiver in self.receivers:
            signal.connect(receiver, weak=False)

    def close(self) -> None:
        for signal, receiver in self.receivers:
            signal.disconnect(receiver)
        self.lockout.close()
        self.auth.store.close()

    def login(self, password: str, username: str = "ada") -> int:
        data = {"username": username, "password": password}
        if self.kind == "wsgi":
            transport = httpx.WSGITransport(app=self.app, remote_addr="192.0.2.10")
            with httpx.Client(transport=transport, base_url="http://t") as client:
                return client.post("/login", data=data).status_code

        async def go() -> int:
            transport = httpx.ASGITransport(app=self.app, client=("192.0.2.10", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                status = (await client.post("/login", data=data)).status_code
            await self.lockout.aclose()  # a Redis counter's client of this event loop
            return status

        return asyncio.run(go())

    def username_failures(self) -> list[int]:
        return [lock.failures for lock in self.lockout.locks() if lock.kind == "username"]


@pytest.fixture
def make_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., App]]:
    """make_app(kind, counter): a ``wsgi`` or ``asgi`` app counting in memory, SQLite
    or Redis (a SQLite file of its own, with a short timeout, for ``sqlite-apart``),
    its lock-out signals recorded."""
    made: list[App] = []

    def make(kind: str, counter: str) -> App:
        store: SessionStore = MemoryStore()
        lockout_store: Any = None
        if counter == "redis":
            url = request.getfixturevalue("redis_server").url
            lockout_store = RedisCounter(url, prefix=f"test:{uuid.uuid4().hex}:")
        elif counter == "sqlite":
            store = SQLiteStore(tmp_path / "sessions.db")
        elif counter == "sqlite-apart":
            lockout_store = SQLiteStore(tmp_path / "lockout.db", timeout=0.2)
        lockout = Lockout(max_failures=MAX, max_client_failures=100, store=lockout_store)
        app = App(kind, store, lockout)
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()


COUNTERS = ["memory", "sqlite", "redis"]


@pytest.mark.parametrize("counter", COUNTERS)
@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_backend_that_raises_on_the_nth_attempt_engages_no_silent_lock(
    make_app: Callable[..., App], kind: str, counter: str
) -> None:
    app = make_app(kind, counter)
    # The MAX-th attempt crashes: it is no failed login, so it is not counted.
    statuses = [app.login(p) for p in ["wrong", "wrong", CRASH]]
    assert statuses == [401, 401, 500]
    assert app.failed == ["ada", "ada"]  # no user_login_failed for the crash (as Django)
    assert app.locked == []
    assert app.username_failures() == [2]
    # The next failure is the MAX-th failed login: it engages the lock, and says so once.
    assert app.login("wrong") == 401
    assert app.locked == ["username"]
    assert [app.login(PASSWORD), app.login("wrong")] == [429, 429]
    assert app.locked == ["username"]
    assert app.failed == ["ada"] * 3


@pytest.mark.parametrize("counter", COUNTERS)
def test_a_crash_among_concurrent_attempts_is_taken_off_and_the_lock_waits_for_failures(
    make_app: Callable[..., App], counter: str
) -> None:
    # MAX attempts in flight at once (all counted before any backend answers): the
    # crash is taken off before the two wrong passwords fail, so they engage no lock.
    app = make_app("wsgi", counter)
    app.backend.barrier = threading.Barrier(MAX, timeout=10)
    app.backend.crashed = app.crashed
    with ThreadPoolExecutor(MAX) as pool:
        statuses = sorted(pool.map(app.login, ["wrong", CRASH, "wrong"]))
    assert statuses == [401, 401, 500]
    assert app.locked == []
    assert app.username_failures() == [2]
    app.backend.barrier = app.backend.crashed = None
    assert app.login("wrong") == 401
    assert app.locked == ["username"]
    assert app.login(PASSWORD) == 429


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_an_attempt_the_counter_cannot_take_off_stays_counted_and_is_logged(
    make_app: Callable[..., App], kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(kind, "sqlite-apart")
    holders: list[sqlite3.Connection] = []

    def hold_the_counters_file() -> None:
        # Another writer holds the counter's file past its timeout when the crashed
        # attempt is to be taken off.
        conn = sqlite3.connect(
            tmp_path / "lockout.db", isolation_level=None, check_same_thread=False
        )
        conn.execute("BEGIN IMMEDIATE")
        holders.append(conn)

    app.backend.before_crash = hold_the_counters_file
    try:
        with caplog.at_level("WARNING", logger="reqsignals.auth"):
            assert app.login(CRASH) == 500  # the backend's error reaches the app
    finally:
        for conn in holders:
            conn.rollback()
            conn.close()
    assert len(holders) == 1
    assert "could not take the attempt off its counts" in caplog.text
    assert app.username_failures() == [1]  # fails closed: it stays counted
    assert app.failed == []
    assert app.locked == []


def test_an_attempt_counted_against_nothing_is_discarded_without_the_counter() -> None:
    # No username to count and no address: nothing was recorded, so the counter (here
    # one that cannot be reached) is not asked.
    dead = RedisCounter(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    lockout = Lockout(store=dead)
    attempt = lockout.begin({}, {"username": None})
    assert attempt.counts == ()
    lockout.discard(attempt)
    asyncio.run(lockout.adiscard(attempt))
    with pytest.raises(LockoutUnavailable):
        lockout.locks()
