"""The receivers under examples/receivers, each against real middleware and real signals."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest
import sentry_sdk
import sentry_sdk.transport
from prometheus_client import CollectorRegistry
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request as WerkzeugRequest

import reqsignals
from examples.receivers import audit, lockout, timing
from examples.receivers.error_tracking import ErrorTracking
from examples.receivers.prometheus import RequestMetrics
from examples.receivers.request_info import client_ip, method_and_path
from reqsignals import request_finished
from reqsignals.auth import (
    LockedOut,
    Lockout,
    MemoryBackend,
    MemoryStore,
    SessionAuth,
    authenticate,
    login,
    logout,
)
from reqsignals.dispatch import Signal
from reqsignals.signals import ALL_SIGNALS
from tests.helpers.hashers import cheap_hasher


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


def asgi_client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


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

SOME = ("200", "404", "503", "500")


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
    assert value("http_requests_total", {"status": "500"}) == 1  # the app raised: 500 sent
    assert value("http_request_duration_seconds_count", {"status": "200"}) == 5
    assert value("http_request_duration_seconds_bucket", {"status": "200", "le": "60.0"}) == 5
    assert value("http_request_duration_seconds_count", {"status": "500"}) == 1
    # The response histogram times every response whose body was handed over in full...
    assert {s: value("http_response_duration_seconds_count", {"status": s}) for s in SOME} == {
        "200": 5,
        "404": 2,
        "503": 1,
        "500": None,  # ...so not the request that raised before answering
    }
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain")
    assert b'http_requests_total{status="404"} 2.0' in body


class SlowClose:
    """A WSGI body whose ``close()`` does 0.3 s of work after the last byte was sent."""

    def __iter__(self) -> Iterator[bytes]:
        yield b"ok"

    def close(self) -> None:
        time.sleep(0.3)


def slow_close_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> SlowClose:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return SlowClose()


async def background_task_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    response = PlainTextResponse("ok", background=BackgroundTask(asyncio.sleep, 0.3))
    await response(scope, receive, send)


@pytest.mark.parametrize(
    ("inner", "kind"),
    [
        pytest.param(slow_close_app, "wsgi", id="wsgi-close-callback"),
        pytest.param(background_task_app, "asgi", id="starlette-background-task"),
    ],
)
def test_prometheus_response_histogram_leaves_out_background_work(inner: Any, kind: str) -> None:
    metrics = RequestMetrics(buckets=(0.2, 60.0))
    metrics.connect(sender=inner)
    try:
        app = reqsignals.wrap(inner)
        if kind == "wsgi":
            with wsgi_client(app) as client:
                assert client.get("/").text == "ok"
        else:

            async def go() -> None:
                async with asgi_client(app) as client:
                    assert (await client.get("/")).text == "ok"

            asyncio.run(go())
    finally:
        metrics.disconnect(sender=inner)
    value = metrics.registry.get_sample_value
    under = {"status": "200", "le": "0.2"}
    assert value("http_response_duration_seconds_bucket", under) == 1  # the client's wait
    assert value("http_request_duration_seconds_bucket", under) == 0  # 0.3 s of work after it
    assert value("http_request_duration_seconds_count", {"status": "200"}) == 1


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


# -- error tracking ----------------------------------------------------------------------


class Tracker:
    """An error tracker's SDK reduced to its ``capture_exception``: what it was given."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.captured: list[tuple[BaseException, dict[str, str]]] = []

    def capture_exception(self, error: BaseException, /, *, tags: dict[str, str]) -> str:
        self.captured.append((error, tags))
        if self.fail:
            raise ConnectionError("the tracker is down")
        return "event-id"


def broken_receiver(sender: object, **kwargs: object) -> None:
    raise LookupError("no such metric")


def get_201(app: Any, kind: str) -> int:
    """GET /201 from *app* through a real client, WSGI or ASGI: the status code."""
    if kind == "wsgi":
        with wsgi_client(app) as client:
            return client.get("/201").status_code

    async def go() -> int:
        async with asgi_client(app) as client:
            return (await client.get("/201")).status_code

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("inner", "kind"),
    [pytest.param(status_app, "wsgi", id="wsgi"), pytest.param(status_asgi_app, "asgi", id="asgi")],
)
def test_error_tracking_reports_a_receiver_that_fails_in_the_middleware(
    inner: Any, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = Tracker()
    tracking = ErrorTracking(tracker.capture_exception)
    tracking.connect()
    request_finished.connect(broken_receiver, sender=inner)
    try:
        assert get_201(reqsignals.wrap(inner), kind) == 201  # the request is not broken
    finally:
        request_finished.disconnect(broken_receiver, sender=inner)
        tracking.disconnect()
    [(error, tags)] = tracker.captured
    assert type(error) is LookupError
    assert error.__traceback__ is not None  # the tracker shows where it was raised
    assert tags == {
        "reqsignals.signal": "request_finished",
        "reqsignals.receiver": f"{__name__}.broken_receiver",
    }
    assert "no such metric" in caplog.text  # logged as well


def test_error_tracking_reports_send_robust_and_asend_robust_failures() -> None:
    order_paid = Signal("order_paid")

    class Mailer:
        def send_receipt(self, sender: object, **kwargs: object) -> None:
            raise ConnectionError("smtp down")

    async def update_stock(sender: object, **kwargs: object) -> None:
        raise TimeoutError("stock service")

    mailer, tracker = Mailer(), Tracker()
    tracking = ErrorTracking(tracker.capture_exception)
    tracking.connect()
    order_paid.connect(mailer.send_receipt)
    order_paid.connect(update_stock)
    try:
        results = order_paid.send_robust("shop", order=1)
        results += asyncio.run(order_paid.asend_robust("shop", order=2))
    finally:
        tracking.disconnect()
    assert [type(r) for _, r in results] == [ConnectionError, TimeoutError] * 2
    assert [error for error, _ in tracker.captured] == [r for _, r in results]
    local = f"{__name__}.test_error_tracking_reports_send_robust_and_asend_robust_failures.<locals>"
    assert [tags for _, tags in tracker.captured] == [
        {"reqsignals.signal": "order_paid", "reqsignals.receiver": f"{local}.Mailer.send_receipt"},
        {"reqsignals.signal": "order_paid", "reqsignals.receiver": f"{local}.update_stock"},
    ] * 2


def test_error_tracking_whose_tracker_fails_is_logged_and_not_sent_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracker = Tracker(fail=True)
    tracking = ErrorTracking(tracker.capture_exception)
    tracking.connect()
    request_finished.connect(broken_receiver, sender=status_app)
    try:
        assert get_201(reqsignals.wrap(status_app), "wsgi") == 201
    finally:
        request_finished.disconnect(broken_receiver, sender=status_app)
        tracking.disconnect()
    assert len(tracker.captured) == 1  # its own failure was not reported to it: no loop
    assert "the tracker is down" in caplog.text


def test_error_tracking_with_sentrys_own_capture_exception() -> None:
    class Memory(sentry_sdk.transport.Transport):
        """Keeps the events in memory: nothing leaves the process."""

        def __init__(self) -> None:
            super().__init__()
            self.events: list[dict[str, Any]] = []

        def capture_envelope(self, envelope: Any) -> None:
            self.events.append(envelope.get_event())

    transport = Memory()
    client = sentry_sdk.Client(transport=transport, default_integrations=False)
    tracking = ErrorTracking(sentry_sdk.capture_exception)
    tracking.connect()
    request_finished.connect(broken_receiver, sender=status_app)
    try:
        with sentry_sdk.new_scope() as scope:
            scope.set_client(client)
            assert get_201(reqsignals.wrap(status_app), "wsgi") == 201
        client.flush()
    finally:
        request_finished.disconnect(broken_receiver, sender=status_app)
        tracking.disconnect()
        client.close()
    [event] = transport.events
    [exception] = event["exception"]["values"]
    assert (exception["type"], exception["value"]) == ("LookupError", "no such metric")
    assert exception["stacktrace"]["frames"][-1]["function"] == "broken_receiver"
    assert event["tags"] == {
        "reqsignals.signal": "request_finished",
        "reqsignals.receiver": f"{__name__}.broken_receiver",
    }


# -- audit, through the real login flow of a WSGI app ------------------------------------

PASSWORD = "hunter2-but-longer"


@pytest.fixture
def login_app() -> Any:
    """A bare WSGI app with session auth: /login?u=&p=, /logout."""
    users = MemoryBackend(hasher=cheap_hasher())
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
    users = MemoryBackend(hasher=cheap_hasher())
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
