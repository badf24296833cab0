"""The receivers under examples/receivers, each against real middleware and real signals."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.requests import Request
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request as WerkzeugRequest

import reqsignals
from examples.receivers import audit, lockout, timing
from examples.receivers.prometheus import RequestMetrics
from examples.receivers.request_info import client_ip, method_and_path
from reqsignals.auth import (
    Argon2Hasher,
    LockedOut,
    Lockout,
    MemoryBackend,
    MemoryStore,
    SessionAuth,
    authenticate,
    login,
    logout,
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


# -- lockout: an alert per lock of the built-in lock-out -------------------------------------


def test_lockout_alerts_once_per_lock_with_the_scrubbed_username(
    caplog: pytest.LogCaptureFixture,
) -> None:
    users = MemoryBackend(hasher=Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1))
    users.create_user("grace", PASSWORD)
    auth = SessionAuth(
        "test",
        MemoryStore(),
        backends=[users],
        lockout=Lockout(max_failures=2, max_client_failures=3, window=60),
    )

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = WerkzeugRequest(environ)
        try:
            user = authenticate(request, username=request.args["u"], password=request.args["p"])
        except LockedOut:
            start_response("429 Too Many Requests", [])
            return [b""]
        start_response("200 OK" if user else "401 Unauthorized", [])
        return [b""]

    caplog.set_level(logging.WARNING, logger=lockout.__name__)
    lockout.connect()
    try:
        transport = httpx.WSGITransport(app=auth.wrap(app), remote_addr="192.0.2.9")
        with httpx.Client(transport=transport, base_url="http://testserver") as client:
            attempts = [("grace", "nope"), ("grace", "nope"), ("grace", PASSWORD), ("eve", "x")]
            statuses = [
                client.get("/login", params={"u": u, "p": p}).status_code for u, p in attempts
            ]
            assert client.get("/login", params={"u": "mallory", "p": "x"}).status_code == 429
    finally:
        lockout.disconnect()
    assert statuses == [401, 401, 429, 401]
    messages = [r.getMessage() for r in caplog.records if r.name == lockout.__name__]
    assert messages == [
        "locked out username='grace' for 60s ip=192.0.2.9",
        "locked out client=192.0.2.9 for 60s ip=192.0.2.9 (last tried username='eve')",
    ]
    assert not any("nope" in m or PASSWORD in m for m in messages)
