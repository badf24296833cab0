"""The receivers under examples/receivers, each against real middleware and real signals."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.requests import Request
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request as WerkzeugRequest

import reqsignals
from examples.receivers import audit, timing
from examples.receivers.lockout import LockedOut, LoginLockout
from examples.receivers.prometheus import RequestMetrics
from examples.receivers.request_info import client_ip, method_and_path
from reqsignals import user_logged_in, user_login_failed
from reqsignals.auth import (
    Argon2Hasher,
    MemoryBackend,
    MemoryStore,
    SessionAuth,
    User,
    authenticate,
    login,
    logout,
    scrub_credentials,
)
from reqsignals.signals import ALL_SIGNALS


@pytest.fixture(autouse=True)
def no_receivers_left_behind() -> Iterator[None]:
    """No receiver may outlive its test and slow other tests' apps."""
    before = [s.has_listeners() for s in ALL_SIGNALS]
    yield
    assert [s.has_listeners() for s in ALL_SIGNALS] == before


# -- apps to observe ---------------------------------------------------------------------


def status_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answers /<status> with that status; /raise raises before answering."""
    path = environ["PATH_INFO"].strip("/")
    if path == "raise":
        raise ValueError("no response")
    start_response(f"{path} X", [("Content-Type", "text/plain")])
    return [b"ok"]


async def status_asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    status = int(scope["path"].strip("/"))
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def wsgi_client(app: Any) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://testserver")


# -- request_info ------------------------------------------------------------------------

SCOPE = {
    "type": "http",
    "method": "POST",
    "path": "/login",
    "client": ("198.51.100.4", 5000),
    "headers": [],
    "query_string": b"",
}
ENVIRON = EnvironBuilder(path="/app/login", method="POST").get_environ()
ENVIRON.update(SCRIPT_NAME="/app", PATH_INFO="/login", REMOTE_ADDR="198.51.100.5")


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        pytest.param(SCOPE, ("POST", "/login"), id="http-scope"),
        pytest.param({"type": "websocket", "path": "/ws"}, ("WS", "/ws"), id="websocket-scope"),
        pytest.param(ENVIRON, ("POST", "/app/login"), id="environ-with-script-name"),
        pytest.param({}, ("-", ""), id="empty"),
    ],
)
def test_method_and_path(mapping: dict[str, Any], expected: tuple[str, str]) -> None:
    assert method_and_path(mapping) == expected


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        pytest.param(Request(SCOPE), "198.51.100.4", id="starlette-request"),
        pytest.param(SCOPE, "198.51.100.4", id="scope"),
        pytest.param({**SCOPE, "client": None}, None, id="scope-without-client"),
        pytest.param(WerkzeugRequest(ENVIRON), "198.51.100.5", id="werkzeug-request"),
        pytest.param(ENVIRON, "198.51.100.5", id="environ"),
        pytest.param({"REQUEST_METHOD": "GET"}, None, id="environ-without-remote-addr"),
        pytest.param(object(), None, id="anything-else"),
    ],
)
def test_client_ip(request_: Any, expected: str | None) -> None:
    assert client_ip(request_) == expected


# -- timing ------------------------------------------------------------------------------


def test_timing_logs_wsgi_and_asgi_requests_of_its_sender_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=timing.__name__)
    wsgi_app, asgi_app = reqsignals.wrap(status_app), reqsignals.wrap(status_asgi_app)
    other = reqsignals.wrap(lambda environ, start_response: status_app(environ, start_response))
    timing.connect(sender=status_app)
    timing.connect(sender=status_asgi_app)
    try:
        with wsgi_client(wsgi_app) as client, wsgi_client(other) as other_client:
            client.get("/201")
            other_client.get("/200")  # another sender: not logged

        async def go() -> None:
            transport = httpx.ASGITransport(app=asgi_app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                await client.get("/418")

        asyncio.run(go())
    finally:
        timing.disconnect(sender=status_app)
        timing.disconnect(sender=status_asgi_app)
    with wsgi_client(wsgi_app) as client:
        client.get("/202")  # disconnected: not logged

    records = [r for r in caplog.records if r.name == timing.__name__]
    assert [r.args[:3] for r in records] == [("GET", "/201", 201), ("GET", "/418", 418)]  # type: ignore[index]
    assert all(r.levelno == logging.INFO for r in records)
    assert all(r.getMessage().endswith("ms") for r in records)


# -- prometheus --------------------------------------------------------------------------


def test_prometheus_counts_and_times_requests_by_status_exactly() -> None:
    metrics = RequestMetrics(buckets=(0.5, 60.0))
    metrics.connect(sender=status_app)
    app = reqsignals.wrap(status_app)
    try:
        with wsgi_client(app) as client:
            for path in ["/200"] * 5 + ["/404"] * 2 + ["/503"]:
                client.get(path)
            with pytest.raises(ValueError):
                client.get("/raise")
    finally:
        metrics.disconnect(sender=status_app)
    with wsgi_client(app) as client:
        client.get("/200")  # disconnected: not counted

    value = metrics.registry.get_sample_value
    assert {s: value("http_requests_total", {"status": s}) for s in ("200", "404", "503")} == {
        "200": 5,
        "404": 2,
        "503": 1,
    }
    assert value("http_requests_total", {"status": "none"}) == 1
    assert value("http_request_duration_seconds_count", {"status": "200"}) == 5
    assert value("http_request_duration_seconds_bucket", {"status": "200", "le": "60.0"}) == 5
    assert value("http_request_duration_seconds_count", {"status": "none"}) == 1
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain")
    assert b'http_requests_total{status="404"} 2.0' in body


def test_prometheus_instances_do_not_share_counts() -> None:
    first, second = RequestMetrics(), RequestMetrics(namespace="web")
    shared = CollectorRegistry()
    third = RequestMetrics(shared)
    assert third.registry is shared
    first.connect(sender=status_app)
    try:
        with wsgi_client(reqsignals.wrap(status_app)) as client:
            client.get("/200")
    finally:
        first.disconnect(sender=status_app)
    assert first.registry.get_sample_value("http_requests_total", {"status": "200"}) == 1
    assert second.registry.get_sample_value("web_requests_total", {"status": "200"}) is None
    assert shared.get_sample_value("http_requests_total", {"status": "200"}) is None


# -- audit, through the real login flow of a WSGI app ------------------------------------

PASSWORD = "hunter2-but-longer"


@pytest.fixture
def login_app() -> Any:
    """A bare WSGI app with session auth: /login?u=&p=, /logout."""
    users = MemoryBackend(hasher=Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1))
    users.create_user("grace", PASSWORD)
    auth = SessionAuth(secret_key="test", store=MemoryStore(), backends=[users])

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = WerkzeugRequest(environ)
        status = "200 OK"
        if request.path == "/login":
            user = authenticate(request, username=request.args["u"], password=request.args["p"])
            if user is None:
                status = "401 Unauthorized"
            else:
                login(request, user)
        elif request.path == "/logout":
            logout(request)
        start_response(status, [("Content-Type", "text/plain")])
        return [b""]

    return auth.wrap(app)


def test_audit_logs_each_auth_signal_without_the_password(
    login_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=audit.__name__)
    audit.connect()
    try:
        transport = httpx.WSGITransport(app=login_app, remote_addr="192.0.2.9")
        with httpx.Client(transport=transport, base_url="http://testserver") as client:
            assert client.get("/login", params={"u": "grace", "p": "nope"}).status_code == 401
            assert client.get("/login", params={"u": "grace", "p": PASSWORD}).status_code == 200
            client.get("/logout")
            client.get("/logout")  # nobody logged in any more
    finally:
        audit.disconnect()
    with httpx.Client(transport=httpx.WSGITransport(app=login_app)) as client:
        client.get("http://testserver/login", params={"u": "grace", "p": "nope"})  # unheard

    records = [r for r in caplog.records if r.name == audit.__name__]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        (
            "WARNING",
            'login failed credentials={"password": "********************", "username": "grace"}'
            " ip=192.0.2.9",
        ),
        ("INFO", "login user='grace' id=1 ip=192.0.2.9"),
        ("INFO", "logout user='grace' id=1 ip=192.0.2.9"),
        ("INFO", "logout user=None ip=192.0.2.9"),
    ]
    assert not any("nope" in r.getMessage() or PASSWORD in r.getMessage() for r in records)


# -- lockout -----------------------------------------------------------------------------


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def environ_from(ip: str) -> dict[str, Any]:
    return {"REQUEST_METHOD": "POST", "PATH_INFO": "/login", "REMOTE_ADDR": ip}


def fail(username: str | None, ip: str = "192.0.2.1", **credentials: Any) -> None:
    """What authenticate() sends when no backend accepts the credentials."""
    if username is not None:
        credentials["username"] = username
    credentials.setdefault("password", "wrong")
    user_login_failed.send(
        "reqsignals.auth", credentials=scrub_credentials(credentials), request=environ_from(ip)
    )


def succeed(username: str, ip: str = "192.0.2.1") -> None:
    """What login() sends once the user is logged in."""
    user = User(1, username, "")
    user_logged_in.send(User, request=environ_from(ip), user=user)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lockout(clock: Clock) -> Iterator[LoginLockout]:
    lockout = LoginLockout(max_failures=3, window=60, clock=clock)
    lockout.connect()
    try:
        yield lockout
    finally:
        lockout.disconnect()


def check(lockout: LoginLockout, username: str, ip: str = "192.0.2.1") -> LockedOut | None:
    try:
        lockout.check(environ_from(ip), username)
    except LockedOut as locked:
        return locked
    return None


def test_lockout_refuses_at_the_limit_not_before(lockout: LoginLockout, clock: Clock) -> None:
    fail("ada")
    clock.now += 10
    fail("ada")
    assert check(lockout, "ada") is None
    clock.now += 10
    fail("ada")
    locked = check(lockout, "ada")
    assert locked is not None
    assert (locked.reason, locked.retry_after) == ("username", 40)
    assert str(locked) == "Too many failed logins for this account. Try again in 40 seconds."


def test_lockout_lifts_when_the_oldest_failure_leaves_the_window(
    lockout: LoginLockout, clock: Clock
) -> None:
    for _ in range(3):
        fail("ada", ip="192.0.2.1")
        clock.now += 10  # failures at 1000, 1010, 1020
    clock.now = 1059.5
    assert check(lockout, "ada", ip="192.0.2.2") is not None
    assert check(lockout, "ada", ip="192.0.2.2").retry_after == 1  # type: ignore[union-attr]
    clock.now = 1060  # the failure at 1000 is out of the window
    assert check(lockout, "ada", ip="192.0.2.2") is None
    assert lockout.failures(environ_from("192.0.2.2"), "ada") == {"username": 2, "ip": 0}
    clock.now = 1200
    assert lockout.failures(environ_from("192.0.2.1"), "ada") == {"username": 0, "ip": 0}


def test_lockout_failures_past_the_limit_keep_the_lock_until_enough_age_out(
    lockout: LoginLockout, clock: Clock
) -> None:
    # Attempts that raced past check() still count: four failures at 1000..1030.
    for _ in range(4):
        fail("ada")
        clock.now += 10
    clock.now = 1030
    # Under three only once 1000 and 1010 are both out: at 1070.
    assert check(lockout, "ada").retry_after == 40  # type: ignore[union-attr]
    clock.now = 1069
    assert check(lockout, "ada") is not None
    clock.now = 1070
    assert check(lockout, "ada") is None


@pytest.mark.parametrize(
    ("failures", "probe", "reason"),
    [
        pytest.param(
            [("ada", "192.0.2.1"), ("ada", "192.0.2.2"), ("ada", "192.0.2.3")],
            ("ada", "192.0.2.4"),
            "username",
            id="one-username-from-many-addresses",
        ),
        pytest.param(
            [("ada", "192.0.2.1"), ("ADA", "192.0.2.2"), ("\uff21da", "192.0.2.3")],
            ("Ada", "192.0.2.4"),
            "username",
            id="usernames-normalised",
        ),
        pytest.param(
            [("ada", "192.0.2.1"), ("bob", "192.0.2.1"), ("cy", "192.0.2.1")],
            ("dee", "192.0.2.1"),
            "ip",
            id="many-usernames-from-one-address",
        ),
        pytest.param(
            [(None, "192.0.2.1")] * 3,
            ("ada", "192.0.2.1"),
            "ip",
            id="no-username-counts-for-the-address",
        ),
        pytest.param(
            [("ada", "192.0.2.1"), ("ada", "192.0.2.2"), ("bob", "192.0.2.1")],
            ("bob", "192.0.2.2"),
            None,
            id="neither-at-the-limit",
        ),
    ],
)
def test_lockout_counts_usernames_and_addresses_separately(
    lockout: LoginLockout,
    failures: list[tuple[str | None, str]],
    probe: tuple[str, str],
    reason: str | None,
) -> None:
    for username, ip in failures:
        fail(username, ip)
    locked = check(lockout, *probe)
    assert (locked.reason if locked else None) == reason


def test_lockout_success_forgives_the_username_not_the_address(lockout: LoginLockout) -> None:
    fail("ada", "192.0.2.1")
    fail("ada", "192.0.2.2")
    succeed("ada", "192.0.2.2")
    assert lockout.failures(environ_from("192.0.2.2"), "ada") == {"username": 0, "ip": 1}
    fail("ada", "192.0.2.3")
    fail("ada", "192.0.2.3")
    assert check(lockout, "ada", "192.0.2.4") is None  # 2 since the success, not 4
    fail("ada", "192.0.2.3")
    assert check(lockout, "ada", "192.0.2.4").reason == "username"  # type: ignore[union-attr]
    locked = check(lockout, "zed", "192.0.2.3")
    assert locked is not None
    assert str(locked) == "Too many failed logins for your address. Try again in 60 seconds."


def test_lockout_reads_the_configured_username_field(clock: Clock) -> None:
    lockout = LoginLockout(max_failures=1, window=60, username_field="email", clock=clock)
    lockout.connect()
    try:
        fail(None, "192.0.2.1", email="ada@example.com")
        assert lockout.failures(environ_from("192.0.2.9"), "ada@example.com") == {
            "username": 1,
            "ip": 0,
        }
    finally:
        lockout.disconnect()
    fail(None, "192.0.2.1", email="ada@example.com")  # disconnected: not counted
    assert lockout.failures(environ_from("192.0.2.9"), "ada@example.com")["username"] == 1
    lockout.reset()
    assert len(lockout) == 0


def test_lockout_forgets_idle_keys_under_a_spray_of_usernames(
    lockout: LoginLockout, clock: Clock
) -> None:
    for n in range(600):
        fail(f"old{n}", ip="192.0.2.1")
    assert len(lockout) == 601
    clock.now += 61  # all of those are out of the window now
    for n in range(500):
        fail(f"new{n}", ip="192.0.2.2")
    assert len(lockout) == 501  # the sweep at 1024 keys dropped the idle ones
    assert lockout.failures(environ_from("192.0.2.2"), "new499") == {"username": 1, "ip": 500}


def test_lockout_counts_every_failure_from_many_threads(clock: Clock) -> None:
    # Unique usernames grow the table past the sweep size while other threads write, and
    # a tiny switch interval makes the threads interleave as often as they can.
    lockout = LoginLockout(max_failures=10**6, window=60, clock=clock)
    lockout.connect()
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        barrier.wait()
        try:
            for n in range(1000):
                lockout.login_failed(
                    "reqsignals.auth",
                    signal=user_login_failed,
                    credentials={"username": f"user{w}-{n}"},
                    request=environ_from("192.0.2.1"),
                )
                lockout.check(environ_from("192.0.2.1"), f"user{w}-{n}")
        except BaseException as exc:
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
        lockout.disconnect()
    assert errors == []
    assert lockout.failures(environ_from("192.0.2.1"), "user3-7") == {"username": 1, "ip": 8000}
    assert len(lockout) == 8000 + 1


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"max_failures": 0}, id="max-failures"),
        pytest.param({"window": 0}, id="window"),
    ],
)
def test_lockout_rejects_nonsense_settings(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="max_failures must be at least 1"):
        LoginLockout(**options)
