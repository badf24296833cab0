"""What both middlewares promise beyond the signals' order: observed sends, asgiref,
``response_duration``, ``receiver_failed``, the status of a failed request and the
sender, called directly (the real servers are in tests/test_response_duration.py and
tests/test_quick_starts.py)."""

from __future__ import annotations

import asyncio
import io
import time
import warnings
import wsgiref.util
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from asgiref.wsgi import WsgiToAsgi
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

import reqsignals
from reqsignals import got_request_exception, request_finished, request_started
from reqsignals.asgi import SignalsMiddleware as ASGIMiddleware
from reqsignals.dispatch import _SEND_FAST, Signal, receiver_failed
from reqsignals.testing import Capture
from reqsignals.wsgi import SignalsMiddleware as WSGIMiddleware
from tests.helpers import canary
from tests.test_asgi import communicate, http_scope, ws_scope
from tests.test_wsgi import Started, make_environ, serve


def hello_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


async def hello_asgi(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


# -- every request signal goes through Signal's send methods -------------------------


@pytest.fixture
def observed() -> Iterator[list[str]]:
    """Wrap every send method of Signal, as tests/helpers/canary.py and a tracer do, and list
    the sends of the request signals they see."""
    seen: list[str] = []
    request_signals = (request_started, got_request_exception, request_finished)
    originals = {name: getattr(Signal, name) for name in canary.SEND_METHODS}

    def observing(name: str, original: Any) -> Any:
        if name.startswith("a"):

            async def asend(self: Signal, *args: Any, **named: Any) -> Any:
                if self in request_signals:
                    seen.append(f"{self.name}")
                return await original(self, *args, **named)

            return asend

        def send(self: Signal, *args: Any, **named: Any) -> Any:
            if self in request_signals:
                seen.append(f"{self.name}")
            return original(self, *args, **named)

        return send

    for name, original in originals.items():
        setattr(Signal, name, observing(name, original))
    try:
        yield seen
    finally:
        for name, original in originals.items():
            setattr(Signal, name, original)


def _no_op(sender: Any, **kwargs: Any) -> None:
    pass


@pytest.mark.parametrize("strict", [False, True], ids=["robust", "strict"])
def test_an_observer_of_signal_sees_both_sends_of_one_wsgi_request(
    observed: list[str], strict: bool
) -> None:
    with request_started.connected_to(_no_op), request_finished.connected_to(_no_op):
        serve(WSGIMiddleware(hello_wsgi, strict=strict))
    assert observed == ["request_started", "request_finished"]


@pytest.mark.parametrize("strict", [False, True], ids=["robust", "strict"])
def test_an_observer_of_signal_sees_both_sends_of_one_asgi_request(
    observed: list[str], strict: bool
) -> None:
    with request_started.connected_to(_no_op), request_finished.connected_to(_no_op):
        asyncio.run(communicate(ASGIMiddleware(hello_asgi, strict=strict), http_scope()))
    assert observed == ["request_started", "request_finished"]


def test_the_canary_watches_the_middlewares_sends(
    canary_guard: canary.Watch, recorder: Capture
) -> None:
    def leaky(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ["leak"] = canary.PASSWORD  # reaches request_finished in the environ
        return hello_wsgi(environ, start_response)

    serve(WSGIMiddleware(leaky))
    assert any("request_finished(..., environ=...)" in leak for leak in canary_guard.leaks)
    canary_guard.leaks.clear()  # seen: this test's leak is on purpose


# -- asgiref ---------------------------------------------------------------------------


def test_the_send_given_to_the_app_is_async_for_asgiref() -> None:
    checked: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            wrapped = async_to_sync(send)  # warns for a callable not marked async
        checked.append(type(wrapped).__name__)
        await hello_asgi(scope, receive, send)

    with request_finished.connected_to(_no_op):
        asyncio.run(communicate(ASGIMiddleware(app), http_scope()))
    assert checked == ["AsyncToSync"]


def test_wsgi_to_asgi_under_the_middleware_runs_warning_free(recorder: Capture) -> None:
    app = ASGIMiddleware(WsgiToAsgi(hello_wsgi))  # filterwarnings=error: a warning fails

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/")

    assert asyncio.run(go()).content == b"hello"
    recorder.assert_sent(request_finished, times=1, status=200)


def test_a_status_given_as_http_status_is_reported_as_its_number(recorder: Capture) -> None:
    # Starlette (and FastAPI's HTTPException handler) send the status as it was given;
    # servers answer with its number, so receivers get that plain int.
    async def missing(request: Any) -> PlainTextResponse:
        return PlainTextResponse("none here", status_code=HTTPStatus.NOT_FOUND)

    async def denied(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.http.response.start", "status": HTTPStatus.FORBIDDEN,
                    "headers": []})  # fmt: skip
        await send({"type": "websocket.http.response.body", "body": b""})

    async def go() -> httpx.Response:
        app = ASGIMiddleware(Starlette(routes=[Route("/", missing)]))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/")

    async def deny() -> None:
        comm = ApplicationCommunicator(ASGIMiddleware(denied), ws_scope())
        await comm.send_input({"type": "websocket.connect"})
        await comm.wait(5)

    assert asyncio.run(go()).status_code == 404
    asyncio.run(deny())
    statuses = [s.kwargs["status"] for s in recorder.of(request_finished)]
    assert statuses == [404, 403]
    assert [type(status) for status in statuses] == [int, int]


# -- response_duration, ASGI -------------------------------------------------------------


def starlette_timing_app() -> Starlette:
    async def background(request: Any) -> PlainTextResponse:
        return PlainTextResponse("fast", background=BackgroundTask(asyncio.sleep, 0.5))

    async def stream(request: Any) -> StreamingResponse:
        async def chunks() -> Any:
            for _ in range(3):
                await asyncio.sleep(0.1)
                yield b"x"

        return StreamingResponse(chunks())

    return Starlette(
        routes=[Route("/background", background), Route("/stream", stream)],
        middleware=[Middleware(ASGIMiddleware)],
    )


def _finished_of(recorder: Capture) -> dict[str, Any]:
    (finished,) = recorder.of(request_finished)
    return finished.kwargs


def test_background_task_counts_in_duration_not_in_response_duration(recorder: Capture) -> None:
    app = starlette_timing_app()
    asyncio.run(communicate(app, http_scope("/background")))
    finished = _finished_of(recorder)
    assert finished["status"] == 200
    assert finished["duration"] >= 0.5
    assert finished["response_duration"] < 0.25


def test_streaming_response_duration_covers_the_whole_stream(recorder: Capture) -> None:
    asyncio.run(communicate(starlette_timing_app(), http_scope("/stream")))
    finished = _finished_of(recorder)
    assert 0.3 <= finished["response_duration"] <= finished["duration"]


def test_a_client_leaving_mid_stream_gives_no_response_duration(recorder: Capture) -> None:
    async def go() -> None:
        comm = ApplicationCommunicator(starlette_timing_app(), http_scope("/stream"))
        await comm.send_input({"type": "http.request", "body": b"", "more_body": False})
        assert (await comm.receive_output(5))["type"] == "http.response.start"
        await comm.send_input({"type": "http.disconnect"})
        await comm.wait(5)

    asyncio.run(go())
    finished = _finished_of(recorder)
    assert finished["response_duration"] is None
    assert finished["duration"] > 0


def test_websocket_response_duration_is_none(recorder: Capture) -> None:
    async def ws(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close"})

    async def go() -> None:
        comm = ApplicationCommunicator(ASGIMiddleware(ws), ws_scope())
        await comm.send_input({"type": "websocket.connect"})
        await comm.wait(5)

    asyncio.run(go())
    finished = _finished_of(recorder)
    assert (finished["status"], finished["response_duration"]) == (101, None)


def test_pathsend_ends_the_body(recorder: Capture) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.pathsend", "path": "/dev/null"})
        await asyncio.sleep(0.2)  # work after the file was handed over

    asyncio.run(communicate(ASGIMiddleware(app), http_scope()))
    finished = _finished_of(recorder)
    assert finished["response_duration"] < 0.15 <= finished["duration"]


# -- response_duration, WSGI -------------------------------------------------------------


class SlowClose:
    """A body whose close() does work after the response (a WSGI 'background task')."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        time.sleep(0.3)


def _body_app(make_body: Any) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return make_body(environ)

    return app


def _generator(environ: dict[str, Any]) -> Iterator[bytes]:
    for _ in range(3):
        time.sleep(0.05)
        yield b"x"


@pytest.mark.parametrize(
    ("make_body", "body_takes", "close_takes"),
    [
        pytest.param(lambda environ: [b"a", b"b"], 0.0, 0.0, id="list"),
        pytest.param(_generator, 0.15, 0.0, id="generator"),
        pytest.param(
            lambda environ: environ["wsgi.file_wrapper"](io.BytesIO(b"file")), 0.0, 0.0, id="file"
        ),
        pytest.param(lambda environ: SlowClose([b"a"]), 0.0, 0.3, id="close-sleeps"),
    ],
)
def test_wsgi_response_duration(
    make_body: Any, body_takes: float, close_takes: float, recorder: Capture
) -> None:
    environ = make_environ()
    environ["wsgi.file_wrapper"] = wsgiref.util.FileWrapper
    serve(WSGIMiddleware(_body_app(make_body)), environ)
    finished = _finished_of(recorder)
    assert body_takes <= finished["response_duration"] <= finished["duration"]
    # The work of close() is in duration only.
    assert finished["duration"] - finished["response_duration"] >= close_takes
    assert finished["response_duration"] < body_takes + 0.1


def test_wsgi_response_closed_before_iteration_has_no_response_duration(
    recorder: Capture,
) -> None:
    for body in ([b"a"], _generator(make_environ())):
        response = WSGIMiddleware(_body_app(lambda environ, b=body: b))(make_environ(), Started())
        response.close()  # type: ignore[attr-defined]
    assert [s.kwargs["response_duration"] for s in recorder.of(request_finished)] == [None, None]


def test_wsgi_response_left_mid_stream_has_no_response_duration(recorder: Capture) -> None:
    response = WSGIMiddleware(_body_app(_generator))(make_environ(), Started())
    next(iter(response))
    response.close()  # type: ignore[attr-defined]
    assert _finished_of(recorder)["response_duration"] is None


# -- status when the app raised before a response ------------------------------------


def test_wsgi_status_500_when_the_app_raised_before_start_response(recorder: Capture) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        serve(WSGIMiddleware(app))
    assert _finished_of(recorder)["status"] == 500


def test_asgi_status_500_when_the_app_raised_before_a_response(recorder: Capture) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        asyncio.run(communicate(ASGIMiddleware(app), http_scope()))
    assert _finished_of(recorder)["status"] == 500


def test_a_cancelled_app_has_status_none(recorder: Capture) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(ASGIMiddleware(app)(http_scope(), _never_receive, _nowhere))
    assert _finished_of(recorder)["status"] is None


async def _never_receive() -> dict[str, Any]:  # pragma: no cover - never called
    raise AssertionError


async def _nowhere(message: Any) -> None:  # pragma: no cover - never called
    raise AssertionError


# -- the sender ----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["Middleware", "add_middleware"])
def test_inside_a_starlette_stack_the_sender_is_the_starlette_app(
    how: str, recorder: Capture
) -> None:
    routes = [Route("/", lambda request: PlainTextResponse("ok"))]
    if how == "Middleware":
        app = Starlette(routes=routes, middleware=[Middleware(ASGIMiddleware)])
    else:
        app = Starlette(routes=routes)
        app.add_middleware(ASGIMiddleware)
    asyncio.run(communicate(app, http_scope("/")))
    asyncio.run(communicate(app, http_scope("/")))
    assert [s.sender for s in recorder] == [app] * 4


def test_an_app_mounted_in_starlette_keeps_its_own_sender(recorder: Capture) -> None:
    from starlette.routing import Mount

    inner = ASGIMiddleware(hello_asgi)
    app = Starlette(routes=[Mount("/sub", app=inner)])
    asyncio.run(communicate(app, http_scope("/sub/")))
    assert {s.sender for s in recorder} == {hello_asgi}


@pytest.mark.parametrize(
    ("app", "middleware"),
    [
        pytest.param(hello_wsgi, WSGIMiddleware, id="wsgi"),
        pytest.param(hello_asgi, ASGIMiddleware, id="asgi"),
    ],
)
def test_wrapping_a_wrapped_app_keeps_its_sender(
    app: Any, middleware: Any, recorder: Capture
) -> None:
    twice: Any = reqsignals.wrap(reqsignals.wrap(app))
    assert type(twice) is middleware
    assert twice.sender is app
    if middleware is WSGIMiddleware:
        serve(twice)
    else:
        asyncio.run(communicate(twice, http_scope()))
    assert [s.sender for s in recorder] == [app, app]


def test_an_explicit_sender_wins(recorder: Capture) -> None:
    serve(WSGIMiddleware(WSGIMiddleware(hello_wsgi), sender="outer"))
    assert {s.sender for s in recorder} == {"outer"}


# -- receiver_failed from the middlewares ------------------------------------------------


def _broken(sender: Any, **kwargs: Any) -> None:
    raise ValueError("receiver bug")


def _heard_failures() -> Any:
    heard: list[tuple[Any, Any, str]] = []

    def on_failure(sender: Any, receiver: Any, exception: BaseException, **kwargs: Any) -> None:
        heard.append((sender, receiver, str(exception)))

    return heard, on_failure


@pytest.mark.parametrize("signal", [request_started, request_finished], ids=lambda s: s.name)
def test_a_wsgi_receiver_failure_is_sent_as_receiver_failed(signal: Signal) -> None:
    heard, on_failure = _heard_failures()
    with signal.connected_to(_broken), receiver_failed.connected_to(on_failure):
        _, body = serve(WSGIMiddleware(hello_wsgi))
    assert body == b"hello"
    assert heard == [(signal, _broken, "receiver bug")]


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("signal", [request_started, request_finished], ids=lambda s: s.name)
def test_an_asgi_receiver_failure_is_sent_as_receiver_failed(signal: Signal, kind: str) -> None:
    heard, on_failure = _heard_failures()

    async def broken_async(sender: Any, **kwargs: Any) -> None:
        raise ValueError("receiver bug")

    broken = _broken if kind == "sync" else broken_async
    with signal.connected_to(broken), receiver_failed.connected_to(on_failure):
        messages = asyncio.run(communicate(ASGIMiddleware(hello_asgi), http_scope()))
    assert messages[-1]["body"] == b"hello"
    assert heard == [(signal, broken, "receiver bug")]


# An async receiver_failed receiver hears the failures of sync receivers too: the
# middlewares' emitters hand it back to them, to await (ASGI) or to drop, logged (WSGI).


@pytest.fixture(params=["emitter", "observed"])
def sends(request: pytest.FixtureRequest) -> Iterator[None]:
    """Both ways a middleware's sends go: its emitters' own walk ("emitter", send_fast
    unwrapped), and through a wrapped send_fast ("observed": the suite's canary)."""
    watching = Signal.send_fast
    assert watching is not _SEND_FAST  # the canary, which makes "observed" what it says
    if request.param == "emitter":
        Signal.send_fast = _SEND_FAST  # type: ignore[method-assign]
    try:
        yield
    finally:
        Signal.send_fast = watching  # type: ignore[method-assign]


async def _get_twice(app: Any) -> list[httpx.Response]:
    # Twice: an emitter's first send from a sender looks its receivers up, the next
    # ones call the receivers it remembers (two walks to test).
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return [await client.get("/"), await client.get("/")]


@pytest.mark.parametrize("signal", [request_started, request_finished], ids=lambda s: s.name)
@pytest.mark.usefixtures("sends")
def test_an_async_receiver_failed_receiver_is_awaited_for_a_sync_failure_under_asgi(
    signal: Signal, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[Any] = []
    failure = ValueError("receiver bug")

    def broken(sender: Any, **kwargs: Any) -> None:
        raise failure

    async def on_failure(sender: Any, receiver: Any, exception: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0)  # on the request's loop, awaited to the end
        events.append(("receiver_failed", sender, receiver, exception))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        events.append("app")
        await hello_asgi(scope, receive, send)

    middleware = ASGIMiddleware(app)

    async def server(scope: Any, receive: Any, send: Any) -> None:
        async def to_client(message: Any) -> None:
            events.append(message["type"])
            await send(message)

        await middleware(scope, receive, to_client)
        events.append("returned")

    with (
        signal.connected_to(broken),
        receiver_failed.connected_to(on_failure),
        caplog.at_level("ERROR", logger="reqsignals"),
    ):
        responses = asyncio.run(_get_twice(server))
    assert [(r.status_code, r.text) for r in responses] == [(200, "hello")] * 2
    heard = ("receiver_failed", signal, broken, failure)
    response = ["app", "http.response.start", "http.response.body"]
    if signal is request_started:  # heard before the app runs, so before its response
        assert events == [heard, *response, "returned"] * 2
    else:  # heard before the middleware's call returns
        assert events == [*response, heard, "returned"] * 2
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[1] is failure]
    assert len(logged) == 2
    assert "not sent" not in caplog.text


@pytest.mark.parametrize("signal", [request_started, request_finished], ids=lambda s: s.name)
@pytest.mark.usefixtures("sends")
def test_two_sync_failures_in_one_asgi_send_are_two_receiver_failed_sends_in_order(
    signal: Signal, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[tuple[Any, Any, Any]] = []
    first_bug, second_bug = ValueError("first"), KeyError("second")

    def first(sender: Any, **kwargs: Any) -> None:
        raise first_bug

    def second(sender: Any, **kwargs: Any) -> None:
        raise second_bug

    async def on_failure(sender: Any, receiver: Any, exception: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        heard.append((sender, receiver, exception))

    with (
        signal.connected_to(first),
        signal.connected_to(second),
        receiver_failed.connected_to(on_failure),
        caplog.at_level("ERROR", logger="reqsignals"),
    ):
        responses = asyncio.run(_get_twice(ASGIMiddleware(hello_asgi)))
    assert [(r.status_code, r.text) for r in responses] == [(200, "hello")] * 2
    assert heard == [(signal, first, first_bug), (signal, second, second_bug)] * 2
    assert "not sent" not in caplog.text


@pytest.mark.parametrize("signal", [request_started, request_finished], ids=lambda s: s.name)
@pytest.mark.usefixtures("sends")
def test_a_wsgi_app_inside_a_running_loop_drops_async_receiver_failed_sends_logged(
    signal: Signal, caplog: pytest.LogCaptureFixture
) -> None:
    # Its response never depends on a receiver: the failure is logged, and that
    # receiver_failed could not be sent there; no RuntimeError.
    heard: list[Any] = []

    async def on_failure(sender: Any, **kwargs: Any) -> None:  # pragma: no cover - dropped
        heard.append(sender)

    async def inside_a_loop() -> list[tuple[Started, bytes]]:
        app = WSGIMiddleware(hello_wsgi)
        return [serve(app), serve(app)]  # the emitters' two walks, as above

    with (
        signal.connected_to(_broken),
        receiver_failed.connected_to(on_failure),
        caplog.at_level("ERROR", logger="reqsignals"),
    ):
        served = asyncio.run(inside_a_loop())
    assert [(sr.calls[0][0], body) for sr, body in served] == [("200 OK", b"hello")] * 2
    assert heard == []
    logged = [str(r.exc_info[1]) for r in caplog.records if r.exc_info and r.exc_info[1]]
    assert logged == ["receiver bug"] * 2  # each failure, logged with its traceback
    assert caplog.text.count("receiver_failed was not sent") == 2


# -- edges ---------------------------------------------------------------------------


def test_websocket_denial_response_and_malformed_messages_keep_the_status(
    recorder: Capture,
) -> None:
    async def deny(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.http.response.start", "status": 418, "headers": []})
        await send({"type": "websocket.http.response.body", "body": b""})

    async def malformed(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"no type": True})
        await send({"type": "websocket.close"})

    async def go(app: Any) -> None:
        comm = ApplicationCommunicator(ASGIMiddleware(app), ws_scope())
        await comm.send_input({"type": "websocket.connect"})
        await comm.wait(5)

    asyncio.run(go(deny))
    asyncio.run(go(malformed))
    assert [s.kwargs["status"] for s in recorder.of(request_finished)] == [418, 403]


def test_a_body_before_the_start_is_not_the_end_of_a_response(recorder: Capture) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.body", "body": b"early"})  # the server's to refuse
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    asyncio.run(communicate(ASGIMiddleware(app), http_scope()))
    finished = _finished_of(recorder)
    assert finished["status"] == 200
    assert finished["response_duration"] is not None


def test_the_wsgi_middleware_refuses_an_asgi2_app() -> None:
    def asgi2(scope: Any) -> Any:
        return hello_asgi

    with pytest.raises(TypeError, match="looks like an ASGI 2"):
        WSGIMiddleware(asgi2)  # type: ignore[arg-type]


def test_async_receivers_of_a_wsgi_app_called_inside_a_running_loop_are_refused() -> None:
    async def hear(sender: Any, **kwargs: Any) -> None:  # pragma: no cover - refused
        pass

    async def inside_a_loop() -> None:
        serve(WSGIMiddleware(hello_wsgi))

    with request_started.connected_to(hear), pytest.raises(RuntimeError, match="running event"):
        asyncio.run(inside_a_loop())


def test_async_receiver_failed_receivers_cannot_hear_a_sync_send_inside_a_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    heard: list[Any] = []

    async def on_failure(sender: Any, **kwargs: Any) -> None:  # pragma: no cover - refused
        heard.append(sender)

    async def inside_a_loop() -> None:
        request_started.send_robust("s")  # sync receivers only: allowed in a loop

    with (
        request_started.connected_to(_broken),
        receiver_failed.connected_to(on_failure),
        caplog.at_level("ERROR", logger="reqsignals"),
    ):
        asyncio.run(inside_a_loop())
    assert heard == []
    assert "receiver_failed was not sent" in caplog.text
