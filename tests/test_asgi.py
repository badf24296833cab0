"""reqsignals.asgi.SignalsMiddleware, in-process: asgiref's ApplicationCommunicator for
exact message order, httpx.ASGITransport as a real client, and the frameworks.

Real uvicorn and hypercorn servers are in tests/test_asgi_servers.py.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import gc
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from asgiref.compatibility import guarantee_single_callable
from asgiref.testing import ApplicationCommunicator
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from reqsignals import got_request_exception, request_finished, request_started
from reqsignals.asgi import SENT_KEY, SignalsMiddleware
from reqsignals.testing import Capture
from reqsignals.types import ASGIApp, Message, Receive, Scope, Send
from tests.helpers.support import receiver_dying_mid_send
from tests.live_apps import asgi_apps

ASYNC_MARK = "async"


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


def http_scope(path: str = "/bare/ok", query: bytes = b"") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }


def ws_scope(path: str = "/ws") -> dict[str, Any]:
    scope = http_scope(path)
    scope.update(type="websocket", scheme="ws", subprotocols=[])
    scope["extensions"] = {"websocket.http.response": {}}
    return scope


async def communicate(app: ASGIApp, scope: Scope, timeout: float = 5) -> list[Message]:
    """Run one HTTP request through ApplicationCommunicator; return every message sent."""
    comm = ApplicationCommunicator(app, scope)
    await comm.send_input({"type": "http.request", "body": b"", "more_body": False})
    try:
        await comm.wait(timeout)
    finally:
        out = []
        while not comm.output_queue.empty():
            out.append(comm.output_queue.get_nowait())
    return out


@pytest.fixture
def django_app() -> Iterator[ASGIApp]:
    """Django's ASGI handler serving tests/live_apps/asgi_django.py, whoever configured Django."""
    from django.test import override_settings

    from tests.live_apps import asgi_django

    with override_settings(
        ROOT_URLCONF="tests.live_apps.asgi_django", ALLOWED_HOSTS=["*"], DEBUG=False
    ):
        yield asgi_django.application


# -- the same assertions for every app, through httpx and the communicator ---

APPS = [
    pytest.param("bare", id="bare"),
    pytest.param("smw", id="starlette-Middleware"),
    pytest.param("sadd", id="starlette-add_middleware"),
    pytest.param("fastapi", id="fastapi"),
    pytest.param("django", id="django"),
]


def build(kind: str, django_app: ASGIApp) -> ASGIApp:
    if kind == "bare":
        return SignalsMiddleware(asgi_apps.bare)
    if kind == "smw":
        return asgi_apps.starlette_with_middleware()
    if kind == "sadd":
        return asgi_apps.starlette_add_middleware()
    if kind == "fastapi":
        return asgi_apps.fastapi_app()
    return SignalsMiddleware(django_app)


def expected_boom(kind: str) -> tuple[int | None, bool]:
    """(status, exception reported) for /boom: Django turns it into its own 500;
    elsewhere the app raised before a response, which the server (or Starlette's
    ServerErrorMiddleware, outside our middleware) answers with a 500."""
    return (500, False) if kind == "django" else (500, True)


@pytest.mark.parametrize("kind", APPS)
@pytest.mark.parametrize("action", ["ok", "stream", "boom"])
def test_signals_through_httpx(
    kind: str, action: str, django_app: ASGIApp, recorder: Capture
) -> None:
    app = build(kind, django_app)

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.get(f"/{kind}/{action}")

    response = run(go())
    if action == "boom":
        status, reported = expected_boom(kind)
        assert response.status_code == 500
        if reported:
            recorder.assert_order(request_started, got_request_exception, request_finished)
            exc = recorder.of(got_request_exception)[0].kwargs["exception"]
            assert (type(exc), str(exc)) == (RuntimeError, "boom")
        else:
            recorder.assert_order(request_started, request_finished)
    else:
        status = 200
        assert response.content == (b"ok" if action == "ok" else b"abc")
        recorder.assert_order(request_started, request_finished)
    finished = recorder.assert_sent(request_finished, times=1, status=status)
    started = recorder.of(request_started)[0]
    assert finished.kwargs["scope"] is started.kwargs["scope"]
    assert finished.kwargs["scope"]["path"] == f"/{kind}/{action}"
    assert finished.kwargs["duration"] > 0


@pytest.mark.parametrize("kind", APPS)
def test_stream_message_order_through_communicator(
    kind: str, django_app: ASGIApp, recorder: Capture
) -> None:
    app = build(kind, django_app)

    async def go() -> list[Message]:
        comm = ApplicationCommunicator(app, http_scope(f"/{kind}/stream"))
        await comm.send_input({"type": "http.request", "body": b""})
        start = await comm.receive_output(5)
        rest = [start, await comm.receive_output(5)]
        while rest[-1].get("more_body", False) or rest[-1]["type"] == "http.response.start":
            rest.append(await comm.receive_output(5))
        await comm.wait(5)
        return rest

    messages = run(go())
    assert [m["type"] for m in messages[:1]] == ["http.response.start"]
    assert messages[0]["status"] == 200
    bodies = [m.get("body", b"") for m in messages[1:]]
    assert b"".join(bodies) == b"abc"
    assert all(m["type"] == "http.response.body" for m in messages[1:])
    recorder.assert_order(request_started, request_finished)
    recorder.assert_sent(request_finished, status=200)


def test_request_finished_only_when_the_stream_is_over(recorder: Capture) -> None:
    async def gated(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the request
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await receive()  # the test's go-ahead
        await send({"type": "http.response.body", "body": b"last"})

    async def go() -> None:
        comm = ApplicationCommunicator(SignalsMiddleware(gated), http_scope())
        await comm.send_input({"type": "http.request", "body": b""})
        await comm.receive_output(5)
        assert (await comm.receive_output(5))["body"] == b"first"
        assert recorder.names == ["request_started"]
        await comm.send_input({"type": "http.request", "body": b""})
        assert (await comm.receive_output(5))["body"] == b"last"
        await comm.wait(5)

    run(go())
    recorder.assert_order(request_started, request_finished)


def test_bare_messages_identical_with_and_without_middleware(recorder: Capture) -> None:
    for path in ["/bare/ok", "/bare/stream", "/bare/none"]:
        plain = run(communicate(asgi_apps.bare, http_scope(path)))
        wrapped = run(communicate(SignalsMiddleware(asgi_apps.bare), http_scope(path)))
        assert wrapped == plain
    assert recorder.names == ["request_started", "request_finished"] * 3


# -- request_started ---------------------------------------------------------


def test_request_started_awaited_before_app_with_the_same_scope() -> None:
    seen: list[tuple[str, Any]] = []

    def sync_receiver(sender: Any, scope: Scope, **kw: Any) -> None:
        seen.append(("sync", scope))

    async def async_receiver(sender: Any, scope: Scope, **kw: Any) -> None:
        await asyncio.sleep(0.01)
        seen.append(("async", scope))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(("app", scope))
        await asgi_apps.bare(scope, receive, send)

    scope = http_scope()
    with (
        request_started.connected_to(sync_receiver),
        request_started.connected_to(async_receiver),
    ):
        run(communicate(SignalsMiddleware(app), scope))
    assert [who for who, _ in seen] == ["sync", "async", "app"]
    assert all(s is scope for _, s in seen)


@pytest.mark.parametrize("signal", [request_started, request_finished])
def test_sync_and_async_receivers_run_in_connection_order(signal: Any) -> None:
    heard: list[tuple[str, Any, Any]] = []

    async def first(sender: Any, signal: Any, **kw: Any) -> None:
        await asyncio.sleep(0)
        heard.append(("first async", signal, sender))

    def second(sender: Any, signal: Any, **kw: Any) -> None:
        heard.append(("second sync", signal, sender))

    async def third(sender: Any, signal: Any, **kw: Any) -> None:
        heard.append(("third async", signal, sender))

    with signal.connected_to(first), signal.connected_to(second), signal.connected_to(third):
        run(communicate(SignalsMiddleware(asgi_apps.bare, sender="shop"), http_scope()))
    assert heard == [
        ("first async", signal, "shop"),
        ("second sync", signal, "shop"),
        ("third async", signal, "shop"),
    ]


@pytest.mark.parametrize("doomed_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("signal", [request_started, request_finished])
def test_a_weak_receiver_collected_during_the_send_is_skipped(
    signal: Any, doomed_async: bool
) -> None:
    with receiver_dying_mid_send(signal, doomed_async=doomed_async) as heard:
        run(communicate(SignalsMiddleware(asgi_apps.bare), http_scope()))
    assert heard == ["first", "last"]
    assert signal.receivers == []


@pytest.mark.parametrize("muted", [request_started, request_finished])
def test_a_muted_signal_is_silent_while_the_other_is_heard(muted: Any) -> None:
    heard: list[Any] = []

    async def on_any(sender: Any, signal: Any, **kw: Any) -> None:
        heard.append(signal)

    other = request_finished if muted is request_started else request_started
    with muted.connected_to(on_any), other.connected_to(on_any):
        run(communicate(SignalsMiddleware(asgi_apps.bare), http_scope()))  # fills the plans
        with muted.muted():
            run(communicate(SignalsMiddleware(asgi_apps.bare), http_scope()))
    assert heard == [request_started, request_finished, other]


class Listener:
    """An object whose method is connected weakly, as receivers on objects are."""

    def __init__(self, heard: list[Any]) -> None:
        self.heard = heard

    async def on(self, sender: Any, signal: Any, **kw: Any) -> None:
        self.heard.append(signal)


def test_a_receiver_let_go_during_the_request_hears_nothing_more() -> None:
    heard: list[Any] = []
    holder = {"listener": Listener(heard)}
    for signal in (request_started, got_request_exception, request_finished):
        signal.connect(holder["listener"].on)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        holder.clear()  # the listener's owner lets it go while the request runs
        gc.collect()
        raise Boom("after the listener is gone")

    with pytest.raises(Boom):
        run(communicate(SignalsMiddleware(app), http_scope()))
    assert heard == [request_started]


def test_reassigning_sender_is_heard_by_the_new_senders_receivers() -> None:
    heard: list[tuple[str, Any]] = []

    def only_a(sender: Any, **kw: Any) -> None:
        heard.append(("only_a", sender))

    def only_b(sender: Any, **kw: Any) -> None:
        heard.append(("only_b", sender))

    middleware = SignalsMiddleware(asgi_apps.bare, sender="a")
    with request_started.connected_to(only_a, "a"), request_started.connected_to(only_b, "b"):
        run(communicate(middleware, http_scope()))
        middleware.sender = "b"
        run(communicate(middleware, http_scope()))
    assert middleware.sender == "b"
    assert heard == [("only_a", "a"), ("only_b", "b")]


def test_sender_is_the_app_unless_given(recorder: Capture) -> None:
    mw = SignalsMiddleware(asgi_apps.bare)
    run(communicate(mw, http_scope()))
    run(communicate(SignalsMiddleware(asgi_apps.bare, sender="shop"), http_scope()))
    assert [s.sender for s in recorder] == [asgi_apps.bare] * 2 + ["shop"] * 2


# -- request_finished --------------------------------------------------------


def test_status_and_duration(recorder: Capture) -> None:
    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(0.05)
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    run(communicate(SignalsMiddleware(slow), http_scope()))
    finished = recorder.assert_sent(request_finished, times=1, status=201)
    assert 0.05 <= finished.kwargs["duration"] < 2


def test_app_returning_without_a_response_has_status_none(recorder: Capture) -> None:
    assert run(communicate(SignalsMiddleware(asgi_apps.bare), http_scope("/bare/none"))) == []
    recorder.assert_order(request_started, request_finished)
    recorder.assert_sent(request_finished, status=None)


def test_request_finished_after_starlette_background_task(recorder: Capture) -> None:
    log_at_finish: list[list[str]] = []

    def on_finish(sender: Any, **kw: Any) -> None:
        log_at_finish.append(list(asgi_apps.app_log))

    app = asgi_apps.starlette_with_middleware()

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.get("/smw/background?t=bg-inproc")

    with request_finished.connected_to(on_finish):
        assert run(go()).text == "ok"
    assert log_at_finish == [[*asgi_apps.app_log]]
    assert "background done bg-inproc" in log_at_finish[0]
    recorder.assert_sent(request_finished, times=1, status=200)


# -- exceptions --------------------------------------------------------------


class Boom(Exception):
    pass


@pytest.mark.parametrize("started", [False, True], ids=["before-start", "after-start"])
def test_exception_reported_then_reraised_unchanged(started: bool, recorder: Capture) -> None:
    error = Boom("exact object")
    active: list[Any] = []

    def note_active(sender: Any, **kw: Any) -> None:
        active.append(sys.exc_info()[1])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if started:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise error

    with got_request_exception.connected_to(note_active), pytest.raises(Boom) as info:
        run(communicate(SignalsMiddleware(app), http_scope()))
    assert info.value is error
    assert recorder.names == ["request_started", "got_request_exception", "request_finished"]
    recorder.assert_sent(got_request_exception, exception=error)
    recorder.assert_sent(request_finished, status=200 if started else 500)
    assert active == [error]


def test_middleware_never_sends_a_response_of_its_own(recorder: Capture) -> None:
    async def go() -> list[Message]:
        comm = ApplicationCommunicator(SignalsMiddleware(asgi_apps.bare), http_scope("/boom"))
        await comm.send_input({"type": "http.request", "body": b""})
        with pytest.raises(RuntimeError, match="boom"):
            await comm.wait(5)
        return [comm.output_queue.get_nowait() for _ in range(comm.output_queue.qsize())]

    assert run(go()) == []
    # No response of its own, yet the status the server sends for the app's exception.
    recorder.assert_sent(request_finished, times=1, status=500)


def test_exception_reaches_httpx_client_unchanged(recorder: Capture) -> None:
    async def go() -> None:
        transport = httpx.ASGITransport(app=SignalsMiddleware(asgi_apps.bare))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            await c.get("/bare/boom")

    with pytest.raises(RuntimeError, match=r"^boom$"):
        run(go())
    recorder.assert_order(request_started, got_request_exception, request_finished)


@pytest.mark.parametrize("started", [False, True], ids=["before-start", "after-start"])
def test_cancellation_sends_request_finished_and_propagates(
    started: bool, recorder: Capture
) -> None:
    awaited: list[str] = []

    async def slow_receiver(sender: Any, **kw: Any) -> None:
        # A receiver that awaits while the request task is being cancelled.
        await asyncio.sleep(0.01)
        awaited.append("finished receiver completed")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if started:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(60)

    async def go() -> None:
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        task = asyncio.ensure_future(SignalsMiddleware(app)(http_scope(), receive, send))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with request_finished.connected_to(slow_receiver):
        run(go())
    recorder.assert_order(request_started, request_finished)
    recorder.assert_sent(request_finished, status=200 if started else None)
    assert awaited == ["finished receiver completed"]


# -- lifespan and websockets -------------------------------------------------


def test_lifespan_passes_through_untouched(recorder: Capture) -> None:
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((dict(scope), receive, send))
        while True:
            message = await receive()
            seen.append(message)
            kind = message["type"].rsplit(".", 1)[-1]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return

    async def go() -> list[Message]:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        comm = ApplicationCommunicator(SignalsMiddleware(app), scope)
        await comm.send_input({"type": "lifespan.startup"})
        out = [await comm.receive_output(5)]
        await comm.send_input({"type": "lifespan.shutdown"})
        out.append(await comm.receive_output(5))
        await comm.wait(5)
        # The app got the server's own receive and send callables.
        assert seen[0][1] == comm.input_queue.get
        assert seen[0][2] == comm.output_queue.put
        assert seen[0][0] == scope
        return out

    assert run(go()) == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    ]
    assert seen[1:] == [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    assert SENT_KEY not in seen[0][0]
    assert len(recorder) == 0


async def ws_accept(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": "hi"})
    await send({"type": "websocket.close", "code": 1000})


async def ws_reject(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.close", "code": 1008})


async def ws_deny_with_response(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.http.response.start", "status": 401, "headers": []})
    await send({"type": "websocket.http.response.body", "body": b"no"})


async def ws_silent(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()


async def ws_error_after_accept(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.accept"})
    raise Boom("ws")


@pytest.mark.parametrize(
    ("app", "status", "messages", "raised"),
    [
        pytest.param(ws_accept, 101, ["websocket.accept", "websocket.send", "websocket.close"],
                     False, id="accept-101"),
        pytest.param(ws_reject, 403, ["websocket.close"], False, id="close-before-accept-403"),
        pytest.param(ws_deny_with_response, 401,
                     ["websocket.http.response.start", "websocket.http.response.body"],
                     False, id="denial-response-its-status"),
        pytest.param(ws_silent, None, [], False, id="nothing-sent-None"),
        pytest.param(ws_error_after_accept, 101, ["websocket.accept"], True,
                     id="error-after-accept"),
    ],
)  # fmt: skip
def test_websocket_signals_and_status(
    app: ASGIApp, status: int | None, messages: list[str], raised: bool, recorder: Capture
) -> None:
    async def go() -> list[Message]:
        comm = ApplicationCommunicator(SignalsMiddleware(app), ws_scope())
        await comm.send_input({"type": "websocket.connect"})
        if raised:
            with pytest.raises(Boom):
                await comm.wait(5)
        else:
            await comm.wait(5)
        return [comm.output_queue.get_nowait() for _ in range(comm.output_queue.qsize())]

    assert [m["type"] for m in run(go())] == messages
    if raised:
        recorder.assert_order(request_started, got_request_exception, request_finished)
    else:
        recorder.assert_order(request_started, request_finished)
    finished = recorder.assert_sent(request_finished, times=1, status=status)
    assert finished.kwargs["scope"]["type"] == "websocket"


def test_websocket_false_passes_websockets_through(recorder: Capture) -> None:
    got: list[Send] = []
    send_object: Any = None

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        got.append(send)
        await ws_accept(scope, receive, send)

    async def go() -> None:
        nonlocal send_object
        comm = ApplicationCommunicator(SignalsMiddleware(app, websocket=False), ws_scope())
        send_object = comm.output_queue.put
        await comm.send_input({"type": "websocket.connect"})
        await comm.wait(5)

    run(go())
    assert got == [send_object]
    assert len(recorder) == 0
    # HTTP is still signalled by the same middleware.
    run(communicate(SignalsMiddleware(asgi_apps.bare, websocket=False), http_scope()))
    assert recorder.names == ["request_started", "request_finished"]


# -- contextvars, nesting, receiver failures, fast path ----------------------

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


def set_id_sync(sender: Any, scope: Scope, **kw: Any) -> None:
    request_id.set("sync:" + scope["path"])


async def set_id_async(sender: Any, scope: Scope, **kw: Any) -> None:
    await asyncio.sleep(0)
    request_id.set("async:" + scope["path"])


@pytest.mark.parametrize(
    "receiver", [pytest.param(set_id_sync, id="sync"), pytest.param(set_id_async, id="async")]
)
def test_contextvar_set_by_receiver_is_visible_in_app(receiver: Callable[..., Any]) -> None:
    seen: list[str] = []
    prefix = "async" if receiver is set_id_async else "sync"

    async def bare(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(request_id.get("unset"))
        await asgi_apps.bare(scope, receive, send)

    async def endpoint(request: Request) -> Response:
        seen.append(request_id.get("unset"))
        return PlainTextResponse("ok")

    starlette = Starlette(
        routes=[Route("/smw/ok", endpoint)], middleware=[Middleware(SignalsMiddleware)]
    )

    async def go() -> None:
        await communicate(SignalsMiddleware(bare), http_scope("/bare/ok"))
        transport = httpx.ASGITransport(app=starlette)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await c.get("/smw/ok")).text == "ok"

    with request_started.connected_to(receiver):
        run(go())
    assert seen == [f"{prefix}:/bare/ok", f"{prefix}:/smw/ok"]


def starlette_listed_twice() -> ASGIApp:
    return Starlette(
        routes=asgi_apps.starlette_add_middleware(prefix="smw").routes,
        middleware=[Middleware(SignalsMiddleware), Middleware(SignalsMiddleware)],
    )


@pytest.mark.parametrize(
    ("make", "path"),
    [
        pytest.param(
            lambda: SignalsMiddleware(SignalsMiddleware(asgi_apps.bare)), "/bare/ok", id="bare"
        ),
        pytest.param(
            lambda: SignalsMiddleware(asgi_apps.starlette_with_middleware()),
            "/smw/ok",
            id="starlette-inside-and-outside",
        ),
        pytest.param(starlette_listed_twice, "/smw/ok", id="starlette-listed-twice"),
    ],
)
def test_applied_twice_sends_once(
    make: Callable[[], ASGIApp], path: str, recorder: Capture
) -> None:
    messages = run(communicate(make(), http_scope(path)))
    assert messages[0]["status"] == 200
    recorder.assert_order(request_started, request_finished)
    # The namespaced mark the outer instance leaves in the scope: the instance itself.
    mark = recorder.of(request_started)[0].kwargs["scope"][SENT_KEY]
    assert isinstance(mark, SignalsMiddleware)
    assert mark.sender is recorder.of(request_started)[0].sender


SIGNALS = [
    pytest.param(request_started, id="request_started"),
    pytest.param(got_request_exception, id="got_request_exception"),
    pytest.param(request_finished, id="request_finished"),
]


def failing_sync(sender: Any, **kw: Any) -> None:
    raise ValueError("receiver failed")


async def failing_async(sender: Any, **kw: Any) -> None:
    await asyncio.sleep(0)
    raise ValueError("receiver failed")


@pytest.mark.parametrize("signal", SIGNALS)
@pytest.mark.parametrize("failing", [failing_sync, failing_async], ids=["sync", "async"])
def test_failing_receiver_is_logged_and_changes_nothing(
    signal: Any, failing: Any, caplog: pytest.LogCaptureFixture, recorder: Capture
) -> None:
    path = "/bare/boom" if signal is got_request_exception else "/bare/stream"
    raises = signal is got_request_exception

    def outcome(app: ASGIApp) -> Any:
        try:
            return run(communicate(app, http_scope(path)))
        except RuntimeError as exc:  # the app's own error, not the receiver's
            return repr(exc)

    plain = outcome(asgi_apps.bare)
    assert (plain == repr(RuntimeError("boom"))) is raises
    recorder.clear()
    with signal.connected_to(failing), caplog.at_level(logging.ERROR, logger="reqsignals"):
        wrapped = outcome(SignalsMiddleware(asgi_apps.bare))
    assert wrapped == plain
    assert [r.name for r in caplog.records] == ["reqsignals"]
    exc_info = caplog.records[0].exc_info
    assert exc_info is not None
    assert exc_info[1] is not None
    assert exc_info[1].args == ("receiver failed",)
    assert recorder.names[0] == "request_started"
    assert recorder.names[-1] == "request_finished"


@pytest.mark.parametrize("signal", SIGNALS)
def test_strict_propagates_receiver_errors(signal: Any, recorder: Capture) -> None:
    path = "/bare/boom" if signal is got_request_exception else "/bare/ok"
    with signal.connected_to(failing_async), pytest.raises(ValueError, match="receiver failed"):
        run(communicate(SignalsMiddleware(asgi_apps.bare, strict=True), http_scope(path)))
    # Still paired: request_finished follows request_started whatever failed.
    assert recorder.names[0] == "request_started"
    assert recorder.names.count("request_finished") == 1


def test_strict_with_working_receivers_sends_everything(recorder: Capture) -> None:
    with pytest.raises(RuntimeError):
        run(communicate(SignalsMiddleware(asgi_apps.bare, strict=True), http_scope("/boom")))
    recorder.assert_order(request_started, got_request_exception, request_finished)


def test_no_receivers_calls_app_directly_with_send_unwrapped() -> None:
    got: list[tuple[Any, Any, Any]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        got.append((scope, receive, send))

    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        pass

    mw = SignalsMiddleware(app)
    scope = http_scope()

    async def go() -> None:
        await mw(scope, receive, send)
        with request_started.connected_to(set_id_sync), request_started.muted():
            await mw(scope, receive, send)  # muted counts as no receivers
        assert SENT_KEY not in scope
        with request_finished.connected_to(set_id_sync):
            await mw(scope, receive, send)

    run(go())
    assert [g[2] is send for g in got] == [True, True, False]
    assert all(g[0] is scope and g[1] is receive for g in got)


# -- what can be wrapped -----------------------------------------------------


class Asgi2App:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, receive: Receive, send: Send) -> None:
        await asgi_apps.bare(self.scope, receive, send)


def asgi2_function(scope: Scope) -> Callable[[Receive, Send], Awaitable[None]]:
    async def instance(receive: Receive, send: Send) -> None:
        pass

    return instance


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    return []


class MarkedDouble:
    _asgi_double_callable = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pass


@pytest.mark.parametrize(
    ("app", "match"),
    [
        pytest.param(Asgi2App, "guarantee_single_callable", id="asgi2-class"),
        pytest.param(asgi2_function, "guarantee_single_callable", id="asgi2-function"),
        pytest.param(MarkedDouble(), "guarantee_single_callable", id="marked-double"),
        pytest.param(Starlette, r"pass an instance \(Starlette\(", id="class-not-instance"),
        pytest.param(wsgi_app, "reqsignals.wsgi.SignalsMiddleware", id="wsgi-app"),
        pytest.param(42, "not callable", id="not-callable"),
        pytest.param(lambda: None, "cannot be called with three arguments", id="no-arguments"),
    ],
)  # fmt: skip
def test_rejects_what_is_not_an_asgi3_app(app: Any, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        SignalsMiddleware(app)


class ClassBasedAsgi3:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await asgi_apps.bare(scope, receive, send)


class AwaitableClassApp:
    """The class itself is the app: ``AwaitableClassApp(scope, receive, send)`` is awaited."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.args = (scope, receive, send)

    def __await__(self) -> Any:
        return asgi_apps.bare(*self.args).__await__()


async def bare_with_option(scope: Scope, receive: Receive, send: Send, *, option: int) -> None:
    await asgi_apps.bare(scope, receive, send)


def decorated(app: ASGIApp) -> Callable[..., Awaitable[None]]:
    # A plain (not async) wrapper that returns the app's coroutine: iscoroutinefunction
    # says False, which is how detection by inspection goes wrong (uvicorn #900).
    def wrapper(*args: Any) -> Awaitable[None]:
        return app(*args)

    return wrapper


class MarkedSingle:
    _asgi_single_callable = True

    def __call__(self, *args: Any) -> Awaitable[None]:
        return asgi_apps.bare(*args)


def make_django_handler() -> Any:
    from tests.live_apps import asgi_django

    return asgi_django.application


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: asgi_apps.bare, id="coroutine-function"),
        pytest.param(lambda: functools.partial(bare_with_option, option=1), id="partial"),
        pytest.param(lambda: ClassBasedAsgi3(), id="async-__call__-instance"),
        pytest.param(lambda: AwaitableClassApp, id="awaitable-class"),
        pytest.param(lambda: decorated(asgi_apps.bare), id="sync-wrapper-returning-coroutine"),
        pytest.param(lambda: guarantee_single_callable(Asgi2App), id="asgiref-converted-asgi2"),
        pytest.param(lambda: MarkedSingle(), id="marked-single"),
        pytest.param(lambda: asgi_apps.starlette_add_middleware(prefix="bare"), id="starlette"),
        pytest.param(lambda: asgi_apps.fastapi_app(prefix="bare"), id="fastapi"),
        pytest.param(make_django_handler, id="django-ASGIHandler"),
        pytest.param(lambda: SignalsMiddleware(asgi_apps.bare), id="itself"),
    ],
)
def test_accepts_asgi3_apps_however_wrapped(
    make: Callable[[], Any], django_app: ASGIApp, recorder: Capture
) -> None:
    app = make()
    mw = SignalsMiddleware(app)
    path = "/django/ok" if app is django_app else "/bare/ok"
    messages = run(communicate(mw, http_scope(path)))
    assert messages[0]["status"] == 200
    recorder.assert_order(request_started, request_finished)


def test_accepts_callables_without_a_signature() -> None:
    # Builtins and C callables cannot be inspected: trusted rather than refused.
    not_inspectable: Any = min
    mw = SignalsMiddleware(not_inspectable)
    assert mw.app is not_inspectable
    assert repr(mw) == f"SignalsMiddleware({min!r})"


def test_options_are_kept_on_the_instance_and_nothing_else() -> None:
    mw = SignalsMiddleware(asgi_apps.bare, sender="s", strict=True, websocket=False)
    assert (mw.app, mw.sender, mw.strict, mw.websocket) == (asgi_apps.bare, "s", True, False)
    before = dict(vars(mw))
    run(communicate(mw, http_scope()))
    assert vars(mw) == before


def test_duration_is_measured_from_request_started(recorder: Capture) -> None:
    async def slow_start(sender: Any, **kw: Any) -> None:
        await asyncio.sleep(0.05)

    t0 = time.perf_counter()
    with request_started.connected_to(slow_start):
        run(communicate(SignalsMiddleware(asgi_apps.bare), http_scope()))
    total = time.perf_counter() - t0
    duration = recorder.of(request_finished)[0].kwargs["duration"]
    assert 0.05 <= duration <= total


def test_separate_in_process_request_is_signalled_on_its_own(recorder: Capture) -> None:
    inner = SignalsMiddleware(asgi_apps.bare)

    async def outer_app(scope: Scope, receive: Receive, send: Send) -> None:
        # A handler that calls another ASGI app in-process, in the same task.
        transport = httpx.ASGITransport(app=inner)
        async with httpx.AsyncClient(transport=transport, base_url="http://inner") as c:
            assert (await c.get("/bare/ok")).text == "ok"
        await asgi_apps.bare(scope, receive, send)

    run(communicate(SignalsMiddleware(outer_app), http_scope("/outer/ok")))
    paths = [(s.name, s.kwargs["scope"]["path"]) for s in recorder]
    assert paths == [
        ("request_started", "/outer/ok"),
        ("request_started", "/bare/ok"),
        ("request_finished", "/bare/ok"),
        ("request_finished", "/outer/ok"),
    ]


def test_strict_request_started_failure_skips_the_app(recorder: Capture) -> None:
    called: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        called.append("app")

    with request_started.connected_to(failing_sync), pytest.raises(ValueError):
        run(communicate(SignalsMiddleware(app, strict=True), http_scope()))
    assert called == []
    recorder.assert_order(request_started, request_finished)
    recorder.assert_sent(request_finished, status=None)


def test_scope_key_is_a_deprecated_name_of_sent_key() -> None:
    import reqsignals.asgi
    from reqsignals import ReqsignalsDeprecationWarning

    with pytest.warns(ReqsignalsDeprecationWarning, match=r"asgi\.SENT_KEY"):
        assert reqsignals.asgi.SCOPE_KEY == SENT_KEY
