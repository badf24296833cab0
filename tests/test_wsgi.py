"""reqsignals.wsgi.SignalsMiddleware, called directly and through httpx.WSGITransport."""

from __future__ import annotations

import functools
import gc
import io
import logging
import sys
import time
import wsgiref.util
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any
from wsgiref.validate import validator

import httpx
import pytest

import reqsignals
from reqsignals import got_request_exception, request_finished, request_started
from reqsignals.testing import Capture, capture
from reqsignals.wsgi import SENT_KEY, SignalsMiddleware
from tests.helpers.support import receiver_dying_mid_send
from tests.live_apps import wsgi_apps

TEXT = [("Content-Type", "text/plain")]


class Boom(Exception):
    pass


def make_environ(method: str = "GET", path: str = "/", **extra: Any) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
    }
    wsgiref.util.setup_testing_defaults(environ)
    environ.update(extra)
    return environ


class Started:
    """A server's start_response: remembers what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.written: list[bytes] = []

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info is not None and self.calls and self.written:
            raise exc_info[1].with_traceback(exc_info[2])
        self.calls.append((status, headers) if exc_info is None else (status, headers, exc_info))
        return self.written.append

    @property
    def status(self) -> str:
        return str(self.calls[-1][0])


def serve(app: Any, environ: dict[str, Any] | None = None) -> tuple[Started, bytes]:
    """What a server does: call, iterate, close (also when iterating raises)."""
    sr = Started()
    body = app(environ if environ is not None else make_environ(), sr)
    try:
        return sr, b"".join(body)
    finally:
        if hasattr(body, "close"):
            body.close()


# -- apps used below -----------------------------------------------------------


def list_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", TEXT)
    return [b"hello"]


def lazy_app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    # start_response only on the first next(), as PEP 3333 allows.
    start_response("201 Created", TEXT)
    yield b"a"
    yield b"b"


def raising_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    raise Boom("in the call")


def failing_body_app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", TEXT)
    yield b"first"
    raise Boom("while iterating")


def exc_info_app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    try:
        start_response("200 OK", TEXT)
        raise Boom("before the body")
    except Boom:
        start_response("500 Internal Server Error", TEXT, sys.exc_info())
    yield b"sorry"


class Body:
    """An app iterable that records iteration and close() calls."""

    def __init__(self, chunks: list[bytes], close_error: BaseException | None = None) -> None:
        self.chunks = chunks
        self.closes = 0
        self.close_error = close_error

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        self.closes += 1
        if self.close_error is not None:
            raise self.close_error


def body_app(body: Body, status: str = "200 OK") -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Any) -> Body:
        start_response(status, TEXT)
        return body

    return app


# -- request_started / request_finished ----------------------------------------


def test_request_started_gets_the_very_environ_the_app_receives(recorder: Capture) -> None:
    seen = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ)
        return list_app(environ, start_response)

    environ = make_environ()
    serve(SignalsMiddleware(app), environ)
    started = recorder.assert_sent(request_started, times=1)
    assert started.kwargs["environ"] is environ is seen[0]
    assert recorder.assert_sent(request_finished, times=1).kwargs["environ"] is environ


def test_request_started_is_sent_before_the_app_is_called(recorder: Capture) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        assert recorder.names == ["request_started"]
        return list_app(environ, start_response)

    serve(SignalsMiddleware(app))
    recorder.assert_order(request_started, request_finished)


def test_request_finished_is_sent_when_the_server_closes(recorder: Capture) -> None:
    response = SignalsMiddleware(list_app)(make_environ(), Started())
    assert list(response) == [b"hello"]
    recorder.assert_not_sent(request_finished)
    response.close()  # type: ignore[attr-defined]
    recorder.assert_sent(request_finished, times=1, status=200)


def drive_close_before_iteration(app: Any) -> None:
    app(make_environ(method="HEAD"), Started()).close()


def drive_double_close(app: Any) -> None:
    response = app(make_environ(), Started())
    list(response)
    response.close()
    response.close()


def drive_close_mid_iteration(app: Any) -> None:
    response = app(make_environ(), Started())
    next(iter(response))
    response.close()


@pytest.mark.parametrize(
    "drive",
    [
        pytest.param(drive_close_before_iteration, id="close-before-iteration"),
        pytest.param(drive_double_close, id="double-close"),
        pytest.param(drive_close_mid_iteration, id="close-mid-iteration"),
    ],
)
def test_request_finished_once_and_inner_close_once(recorder: Capture, drive: Any) -> None:
    body = Body([b"a", b"b", b"c"])
    drive(SignalsMiddleware(body_app(body)))
    assert body.closes == 1
    recorder.assert_sent(request_finished, times=1, status=200)
    recorder.assert_order(request_started, request_finished)


def test_a_list_response_closed_twice_finishes_once(recorder: Capture) -> None:
    drive_double_close(SignalsMiddleware(list_app))
    recorder.assert_sent(request_finished, times=1, status=200)


def test_iteration_error_reported_then_finished_once_at_close(recorder: Capture) -> None:
    sr = Started()
    response = SignalsMiddleware(failing_body_app)(make_environ(), sr)
    chunks = iter(response)
    assert next(chunks) == b"first"
    with pytest.raises(Boom, match="while iterating") as raised:
        next(chunks)
    sent = recorder.assert_sent(got_request_exception, times=1)
    assert sent.kwargs["exception"] is raised.value
    recorder.assert_not_sent(request_finished)
    response.close()  # type: ignore[attr-defined]
    recorder.assert_order(request_started, got_request_exception, request_finished)
    recorder.assert_sent(request_finished, status=200)


def test_inner_close_error_is_reported_and_not_hidden(recorder: Capture) -> None:
    error = Boom("in close")
    body = Body([b"a"], close_error=error)
    response = SignalsMiddleware(body_app(body))(make_environ(), Started())
    list(response)
    with pytest.raises(Boom) as raised:
        response.close()  # type: ignore[attr-defined]
    assert raised.value is error
    assert body.closes == 1
    recorder.assert_order(request_started, got_request_exception, request_finished)
    assert recorder.of(got_request_exception)[0].kwargs["exception"] is error
    response.close()  # type: ignore[attr-defined]
    assert body.closes == 1
    recorder.assert_sent(request_finished, times=1)


def test_app_call_error_sends_exception_then_finished_before_it_propagates(
    recorder: Capture,
) -> None:
    with pytest.raises(Boom, match="in the call") as raised:
        SignalsMiddleware(raising_app)(make_environ(), Started())
    recorder.assert_order(request_started, got_request_exception, request_finished)
    assert recorder.of(got_request_exception)[0].kwargs["exception"] is raised.value
    # What the server answers an app that raised before start_response.
    recorder.assert_sent(request_finished, status=500)


def test_exception_is_the_active_one_while_receivers_run(recorder: Capture) -> None:
    active = []

    def on_exception(sender: Any, exception: BaseException, **kwargs: Any) -> None:
        active.append((sys.exc_info()[1], exception))

    with got_request_exception.connected_to(on_exception):
        with pytest.raises(Boom):
            SignalsMiddleware(raising_app)(make_environ(), Started())
        with pytest.raises(Boom):
            serve(SignalsMiddleware(failing_body_app))
        with pytest.raises(Boom):
            serve(SignalsMiddleware(body_app(Body([b"x"], close_error=Boom("close")))))
    assert len(active) == 3
    for current, exception in active:
        assert current is exception
        assert isinstance(exception, Boom)


def test_only_one_exception_is_reported_per_request(recorder: Capture) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Body:
        start_response("200 OK", TEXT)

        class Failing(Body):
            def __iter__(self) -> Iterator[bytes]:
                raise Boom("iterating")

        return Failing([], close_error=Boom("closing"))

    with pytest.raises(Boom, match="closing"):
        serve(SignalsMiddleware(app))
    recorder.assert_order(request_started, got_request_exception, request_finished)
    assert str(recorder.of(got_request_exception)[0].kwargs["exception"]) == "iterating"


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit, GeneratorExit])
@pytest.mark.parametrize("where", ["call", "iteration", "close"])
def test_base_exceptions_pass_unreported_but_finish(
    recorder: Capture, error: type[BaseException], where: str
) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", TEXT)
        if where == "call":
            raise error()
        if where == "iteration":

            def body() -> Iterator[bytes]:
                raise error()
                yield b""  # pragma: no cover - makes this a generator

            return body()
        return Body([b"x"], close_error=error())

    with pytest.raises(error):
        serve(SignalsMiddleware(app))
    recorder.assert_order(request_started, request_finished)


# -- status and duration -------------------------------------------------------


@pytest.mark.parametrize(
    ("app", "status"),
    [
        pytest.param(list_app, 200, id="list"),
        pytest.param(lazy_app, 201, id="lazy-start-response"),
        pytest.param(exc_info_app, 500, id="start-response-again-with-exc-info"),
        pytest.param(body_app(Body([]), "204 No Content"), 204, id="empty"),
    ],
)
def test_status_is_the_integer_code(recorder: Capture, app: Any, status: int) -> None:
    sr, _ = serve(SignalsMiddleware(app))
    recorder.assert_sent(request_finished, times=1, status=status)
    assert int(sr.status[:3]) == status


def test_status_stays_when_exc_info_comes_after_the_headers_went_out(
    recorder: Capture,
) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        write = start_response("200 OK", TEXT)
        write(b"already sent")
        try:
            raise Boom("late")
        except Boom:
            start_response("500 Internal Server Error", TEXT, sys.exc_info())
        yield b""  # pragma: no cover - start_response re-raised

    with pytest.raises(Boom, match="late"):
        serve(SignalsMiddleware(app))
    recorder.assert_sent(request_finished, times=1, status=200)


def test_status_is_none_when_no_response_was_started(recorder: Capture) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        yield b""  # pragma: no cover - closed before iteration

    SignalsMiddleware(app)(make_environ(), Started()).close()  # type: ignore[attr-defined]
    recorder.assert_sent(request_finished, times=1, status=None)


def generator_raising_before_start_response(
    environ: dict[str, Any], start_response: Any
) -> Iterator[bytes]:
    raise Boom("on the first next(), no start_response yet")
    yield b""  # pragma: no cover - makes this a generator


def started_then_raising_in_the_call(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", TEXT)
    raise Boom("after start_response, in the call")


def started_then_raising_before_the_first_chunk(
    environ: dict[str, Any], start_response: Any
) -> Iterator[bytes]:
    start_response("200 OK", TEXT)
    raise Boom("after start_response, before any chunk")
    yield b""  # pragma: no cover - makes this a generator


def started_then_raising_after_an_empty_chunk(
    environ: dict[str, Any], start_response: Any
) -> Iterator[bytes]:
    start_response("200 OK", TEXT)
    yield b""  # PEP 3333: the headers wait for a non-empty chunk (waitress waits)
    raise Boom("after an empty chunk")


@pytest.mark.parametrize(
    "app",
    [
        pytest.param(generator_raising_before_start_response, id="iteration-no-start"),
        pytest.param(started_then_raising_after_an_empty_chunk, id="after-an-empty-chunk"),
        pytest.param(started_then_raising_in_the_call, id="call-after-start"),
        pytest.param(started_then_raising_before_the_first_chunk, id="iteration-after-start"),
    ],
)
def test_status_is_500_when_the_app_raises_before_the_headers_went_out(
    recorder: Capture, app: Any
) -> None:
    # Every server answers 500 then: the headers, the app's status among them, only go
    # out with the first chunk (or write()).
    with pytest.raises(Boom):
        serve(SignalsMiddleware(app))
    recorder.assert_order(request_started, got_request_exception, request_finished)
    recorder.assert_sent(request_finished, times=1, status=500)


def test_status_is_500_when_close_raises_before_iteration(recorder: Capture) -> None:
    body = Body([b"never sent"], close_error=Boom("in close"))
    response = SignalsMiddleware(body_app(body))(make_environ(), Started())
    with pytest.raises(Boom):
        response.close()  # type: ignore[attr-defined]
    recorder.assert_sent(request_finished, times=1, status=500)


@pytest.mark.parametrize("chunks", [[], [b"x"]], ids=["empty-body", "one-chunk"])
def test_status_stays_the_apps_when_close_raises_after_iteration(
    recorder: Capture, chunks: list[bytes]
) -> None:
    # Iterated to the end, even an empty body: the server sent the headers before close().
    with pytest.raises(Boom):
        serve(SignalsMiddleware(body_app(Body(chunks, close_error=Boom("in close")), "201 Made")))
    recorder.assert_sent(request_finished, times=1, status=201)


def test_status_stays_the_apps_once_write_sent_the_headers(recorder: Capture) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        write = start_response("202 Accepted", TEXT)
        write(b"the headers are out")
        raise Boom("after write()")

    sr = Started()
    with pytest.raises(Boom):
        SignalsMiddleware(app)(make_environ(), sr)
    assert sr.written == [b"the headers are out"]
    recorder.assert_sent(request_finished, times=1, status=202)


def test_status_stays_the_apps_once_a_chunk_went_out(recorder: Capture) -> None:
    # The first chunk carried the headers: the client has the app's status.
    with pytest.raises(Boom, match="while iterating"):
        serve(SignalsMiddleware(failing_body_app))
    recorder.assert_sent(request_finished, times=1, status=200)


def test_status_codes_stay_right_past_the_status_line_cache() -> None:
    from reqsignals import wsgi

    statuses: list[Any] = []

    def heard(sender: Any, status: Any, **kwargs: Any) -> None:
        statuses.append(status)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(environ["test.status"], TEXT)
        return [b""]

    lines = [f"{200 + i % 300} Reason {i}" for i in range(1200)]
    with request_finished.connected_to(heard):
        for line in lines:
            serve(SignalsMiddleware(app), make_environ(**{"test.status": line}))
        serve(SignalsMiddleware(app), make_environ(**{"test.status": lines[0]}))
    assert statuses == [int(line[:3]) for line in lines] + [200]
    assert 0 < len(wsgi._CODES) <= 1000
    wsgi._CODES.clear()  # leave the cache as the other tests expect it: real lines only


def test_a_status_whose_hash_fails_is_still_read() -> None:
    class OddStatus(str):
        def __hash__(self) -> int:
            raise ValueError("no hash")

    statuses: list[Any] = []

    def heard(sender: Any, status: Any, **kwargs: Any) -> None:
        statuses.append(status)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(OddStatus("503 Service Unavailable"), TEXT)
        return [b""]

    with request_finished.connected_to(heard):
        serve(SignalsMiddleware(app))
    assert statuses == [503]


@pytest.mark.parametrize(
    "line",
    [
        "OK",
        "20 OK",
        " 200 OK",
        "+20 OK",
        "1_0 OK",
        "2000 OK",
        "200OK",
        "\uff12\uff10\uff10 OK",
        b"200 OK",
    ],
)
def test_malformed_status_is_reported_as_none(recorder: Capture, line: Any) -> None:
    # int() alone reads "20 OK" as 20, " 200 OK" as 20 and "2000 OK" as 200.
    serve(SignalsMiddleware(body_app(Body([b"x"]), line)))
    recorder.assert_sent(request_finished, times=1, status=None)


@pytest.mark.parametrize(("line", "code"), [("404", 404), ("404 ", 404), ("599 Custom", 599)])
def test_a_bare_or_custom_status_code_is_read(recorder: Capture, line: str, code: int) -> None:
    serve(SignalsMiddleware(body_app(Body([b"x"]), line)))
    recorder.assert_sent(request_finished, times=1, status=code)


def test_duration_is_seconds_from_started_to_finished(recorder: Capture) -> None:
    response = SignalsMiddleware(list_app)(make_environ(), Started())
    before_close = time.perf_counter()
    time.sleep(0.05)
    response.close()  # type: ignore[attr-defined]
    duration = recorder.of(request_finished)[0].kwargs["duration"]
    assert 0.05 <= duration < 0.05 + (time.perf_counter() - before_close)


# -- the response reaches the server untouched ---------------------------------


def test_body_is_never_read_ahead() -> None:
    produced = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        for i in range(3):
            produced.append(i)
            yield b"%d" % i

    def on_started(sender: Any, **kwargs: Any) -> None:
        pass

    with request_started.connected_to(on_started):
        response = SignalsMiddleware(app)(make_environ(), Started())
        chunks = iter(response)
        assert produced == []
        assert next(chunks) == b"0"
        assert produced == [0]
        assert next(chunks) == b"1"
        assert produced == [0, 1]
        response.close()  # type: ignore[attr-defined]


def test_len_of_the_app_iterable_is_passed_on(recorder: Capture) -> None:
    class Sized(Body):
        def __len__(self) -> int:
            return len(self.chunks)

    listed = SignalsMiddleware(list_app)(make_environ(), Started())
    sized = SignalsMiddleware(body_app(Sized([b"a", b"b"])))(make_environ(), Started())
    generated = SignalsMiddleware(lazy_app)(make_environ(), Started())
    assert len(listed) == 1  # type: ignore[arg-type]
    assert len(sized) == 2  # type: ignore[arg-type]
    assert not hasattr(generated, "__len__")
    for response in (listed, sized, generated):
        response.close()  # type: ignore[attr-defined]


def test_no_receivers_calls_the_app_directly() -> None:
    body = Body([b"x"])
    environ = make_environ()
    assert SignalsMiddleware(body_app(body))(environ, Started()) is body
    assert SENT_KEY not in environ


def test_muted_signals_call_the_app_directly() -> None:
    body = Body([b"x"])

    def on_any(sender: Any, **kwargs: Any) -> None:
        raise AssertionError("muted")

    with (
        request_started.connected_to(on_any),
        got_request_exception.connected_to(on_any),
        request_finished.connected_to(on_any),
        request_started.muted(),
        got_request_exception.muted(),
        request_finished.muted(),
    ):
        assert SignalsMiddleware(body_app(body))(make_environ(), Started()) is body


@pytest.mark.parametrize("muted", [request_started, request_finished])
def test_a_muted_signal_is_silent_while_the_other_is_heard(muted: Any) -> None:
    heard: list[Any] = []

    def on_any(sender: Any, signal: Any, **kwargs: Any) -> None:
        heard.append(signal)

    other = request_finished if muted is request_started else request_started
    with muted.connected_to(on_any), other.connected_to(on_any):
        serve(SignalsMiddleware(list_app))  # fills the dispatcher's cached plans
        with muted.muted():
            serve(SignalsMiddleware(list_app))
    assert heard == [request_started, request_finished, other]


@pytest.mark.parametrize("signal", [request_started, got_request_exception, request_finished])
def test_any_one_connected_signal_turns_the_middleware_on(signal: Any) -> None:
    body = Body([b"x"])
    heard = []
    mw = SignalsMiddleware(body_app(body))  # built before the receiver is connected

    def on_signal(sender: Any, **kwargs: Any) -> None:
        heard.append(sender)

    with signal.connected_to(on_signal):
        response = mw(make_environ(), Started())
        assert response is not body
        assert hasattr(response, "close")
        response.close()
    assert body.closes == 1
    assert heard == ([] if signal is got_request_exception else [mw.app])


# -- sender, nesting -----------------------------------------------------------


def test_sender_is_the_wrapped_app_or_the_option(recorder: Capture) -> None:
    serve(SignalsMiddleware(list_app))
    marker = object()
    serve(SignalsMiddleware(list_app, sender=marker))
    assert [s.sender for s in recorder.of(request_started)] == [list_app, marker]
    assert [s.sender for s in recorder.of(request_finished)] == [list_app, marker]


def test_receivers_connected_for_one_sender_hear_only_it() -> None:
    heard = []

    def on_started(sender: Any, **kwargs: Any) -> None:
        heard.append(sender)

    mine, other = object(), object()
    with request_started.connected_to(on_started, sender=mine):
        serve(SignalsMiddleware(list_app, sender=other))
        serve(SignalsMiddleware(list_app, sender=mine))
    assert heard == [mine]


def test_wrapped_twice_only_the_outermost_sends(recorder: Capture) -> None:
    inner = SignalsMiddleware(lazy_app, sender="inner")
    outer = SignalsMiddleware(inner, sender="outer")
    environ = make_environ()
    _, body = serve(outer, environ)
    assert body == b"ab"
    recorder.assert_order(request_started, request_finished)
    assert {s.sender for s in recorder} == {"outer"}
    assert environ[SENT_KEY] is outer  # the outermost instance marks the request


def test_not_callable_app_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="needs a WSGI application"):
        SignalsMiddleware("app:application")  # type: ignore[arg-type]


async def _asgi_app(scope: Any, receive: Any, send: Any) -> None:
    pass


class _AsgiCallable:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        pass


@pytest.mark.parametrize(
    "app",
    [
        pytest.param(_asgi_app, id="coroutine-function"),
        pytest.param(_AsgiCallable(), id="async-call"),
        pytest.param(functools.partial(_asgi_app), id="partial"),
    ],
)
def test_an_asgi_app_is_a_type_error_that_names_the_asgi_middleware(app: Any) -> None:
    with pytest.raises(TypeError, match=r"looks like an ASGI app: use reqsignals\.asgi\."):
        SignalsMiddleware(app)


def test_a_pep3333_class_app_is_wrapped_and_served(recorder: Capture) -> None:
    wrapped = reqsignals.wrap(Pep3333AppClass)
    assert type(wrapped) is SignalsMiddleware
    with httpx.Client(transport=httpx.WSGITransport(app=wrapped), base_url="http://t") as c:
        response = c.get("/")
    assert (response.status_code, response.content) == (200, b"from a class")
    recorder.assert_order(request_started, request_finished)
    recorder.assert_sent(request_finished, times=1, sender=Pep3333AppClass, status=200)


class NotAnApp:
    def __init__(self, environ: dict[str, Any], start_response: Any) -> None:
        pass  # pragma: no cover - never called


@pytest.mark.parametrize(
    ("app", "match"),
    [
        pytest.param(
            lambda: None, "cannot be called with three arguments .* nor with two", id="no-args"
        ),
        pytest.param(NotAnApp, r"got the class NotAnApp, not an app", id="class-not-iterable"),
        pytest.param(dict, r"got the class dict, not an app", id="class-without-a-signature"),
        pytest.param(lambda scope: None, "ASGI 2", id="asgi2"),
    ],
)
def test_what_is_not_a_wsgi_app_is_a_type_error_that_says_why(app: Any, match: str) -> None:
    with pytest.raises(TypeError, match=f"needs a WSGI application .*{match}"):
        SignalsMiddleware(app)


def test_repr_names_the_app() -> None:
    assert "list_app" in repr(SignalsMiddleware(list_app))


# -- how receivers are called -------------------------------------------------


@pytest.mark.parametrize("signal", [request_started, request_finished])
def test_receivers_are_called_in_order_with_the_signal_and_sender(signal: Any) -> None:
    heard: list[tuple[str, Any, Any]] = []

    def first(sender: Any, signal: Any, **kwargs: Any) -> None:
        heard.append(("first", signal, sender))

    def second(sender: Any, signal: Any, **kwargs: Any) -> None:
        heard.append(("second", signal, sender))

    with signal.connected_to(first), signal.connected_to(second):
        serve(SignalsMiddleware(list_app, sender="site"))
    assert heard == [("first", signal, "site"), ("second", signal, "site")]


@pytest.mark.parametrize("doomed_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("signal", [request_started, request_finished])
def test_a_weak_receiver_collected_during_the_send_is_skipped(
    signal: Any, doomed_async: bool
) -> None:
    with receiver_dying_mid_send(signal, doomed_async=doomed_async) as heard:
        serve(SignalsMiddleware(list_app))
    assert heard == ["first", "last"]
    assert signal.receivers == []


class Listener:
    """An object whose method is connected weakly, as receivers on objects are."""

    def __init__(self, heard: list[Any]) -> None:
        self.heard = heard

    def on(self, sender: Any, signal: Any, **kwargs: Any) -> None:
        self.heard.append(signal)


def test_a_receiver_let_go_during_the_request_hears_nothing_more() -> None:
    heard: list[Any] = []
    holder = {"listener": Listener(heard)}
    for signal in (request_started, got_request_exception, request_finished):
        signal.connect(holder["listener"].on)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        holder.clear()  # the listener's owner lets it go while the request runs
        gc.collect()
        raise Boom("after the listener is gone")

    with pytest.raises(Boom):
        SignalsMiddleware(app)(make_environ(), Started())
    assert heard == [request_started]


def test_reassigning_sender_is_heard_by_the_new_senders_receivers() -> None:
    heard: list[tuple[str, Any]] = []

    def only_a(sender: Any, **kwargs: Any) -> None:
        heard.append(("only_a", sender))

    def only_b(sender: Any, **kwargs: Any) -> None:
        heard.append(("only_b", sender))

    middleware = SignalsMiddleware(list_app, sender="a")
    with request_started.connected_to(only_a, "a"), request_started.connected_to(only_b, "b"):
        serve(middleware)
        middleware.sender = "b"
        serve(middleware)
    assert middleware.sender == "b"
    assert heard == [("only_a", "a"), ("only_b", "b")]


def test_async_receivers_are_run_and_heard_in_order_with_sync_ones() -> None:
    heard: list[tuple[str, Any]] = []

    async def started_async(sender: Any, environ: Any, **kwargs: Any) -> None:
        heard.append(("started async", environ["PATH_INFO"]))

    def started_sync(sender: Any, environ: Any, **kwargs: Any) -> None:
        heard.append(("started sync", environ["PATH_INFO"]))

    async def finished_async(sender: Any, status: Any, **kwargs: Any) -> None:
        heard.append(("finished async", status))

    with ExitStack() as stack:
        stack.enter_context(request_started.connected_to(started_async))
        stack.enter_context(request_started.connected_to(started_sync))
        stack.enter_context(request_finished.connected_to(finished_async))
        sr, body = serve(SignalsMiddleware(list_app), make_environ(path="/async"))
    assert (sr.status, body) == ("200 OK", b"hello")
    assert heard == [
        ("started async", "/async"),
        ("started sync", "/async"),
        ("finished async", 200),
    ]


# -- receivers that raise ------------------------------------------------------


@pytest.mark.parametrize("signal", [request_started, got_request_exception, request_finished])
def test_a_raising_receiver_never_changes_the_response(
    signal: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    app = lazy_app if signal is not got_request_exception else failing_body_app
    with signal.connected_to(broken), caplog.at_level(logging.ERROR, logger="reqsignals"):
        if signal is got_request_exception:
            with pytest.raises(Boom):
                serve(SignalsMiddleware(app))
        else:
            sr, body = serve(SignalsMiddleware(app))
            assert (sr.status, body) == ("201 Created", b"ab")
    [record] = caplog.records
    assert record.name == "reqsignals"
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "receiver bug"


def test_strict_propagates_a_started_receiver_error_and_still_finishes(
    recorder: Capture,
) -> None:
    called = []

    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        called.append(True)
        return list_app(environ, start_response)

    with request_started.connected_to(broken), pytest.raises(RuntimeError, match="receiver bug"):
        SignalsMiddleware(app, strict=True)(make_environ(), Started())
    assert called == []
    recorder.assert_sent(request_finished, times=1, status=None)


def test_strict_propagates_exception_and_finished_receiver_errors(recorder: Capture) -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    with got_request_exception.connected_to(broken):
        with pytest.raises(RuntimeError, match="receiver bug") as raised:
            SignalsMiddleware(raising_app, strict=True)(make_environ(), Started())
        assert isinstance(raised.value.__context__, Boom)
        recorder.assert_sent(request_finished, times=1)
    recorder.clear()
    with request_finished.connected_to(broken):
        response = SignalsMiddleware(list_app, strict=True)(make_environ(), Started())
        with pytest.raises(RuntimeError, match="receiver bug"):
            response.close()  # type: ignore[attr-defined]


# -- wsgi.file_wrapper ---------------------------------------------------------


def test_file_wrapper_is_handed_back_itself_and_finishes_once(
    recorder: Capture, tmp_path: Any
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"0123456789" * 1000)
    environ = make_environ()
    environ["wsgi.file_wrapper"] = wsgiref.util.FileWrapper
    files = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", TEXT)
        files.append(open(path, "rb"))  # noqa: SIM115
        return environ["wsgi.file_wrapper"](files[0], 4096)

    response = SignalsMiddleware(app)(environ, Started())
    assert type(response) is wsgiref.util.FileWrapper
    assert b"".join(response) == path.read_bytes()
    recorder.assert_not_sent(request_finished)
    response.close()
    response.close()
    assert files[0].closed
    recorder.assert_sent(request_finished, times=1, status=200)


def test_file_wrapper_close_error_is_reported(recorder: Capture) -> None:
    class Wrapper:
        def __init__(self, filelike: Any) -> None:
            self.filelike = filelike

        def __iter__(self) -> Iterator[bytes]:
            return iter([b"x"])

        def close(self) -> None:
            raise Boom("close failed")

    environ = make_environ()
    environ["wsgi.file_wrapper"] = Wrapper
    response = SignalsMiddleware(body_app(Wrapper(None)))(environ, Started())  # type: ignore[arg-type]
    assert isinstance(response, Wrapper)
    with pytest.raises(Boom):
        response.close()
    recorder.assert_order(request_started, got_request_exception, request_finished)


def test_file_wrapper_that_cannot_take_a_close_is_wrapped(recorder: Capture) -> None:
    class Slotted:
        __slots__ = ("chunks",)

        def __init__(self, filelike: Any) -> None:
            self.chunks = [b"a", b"b"]

        def __iter__(self) -> Iterator[bytes]:
            return iter(self.chunks)

    environ = make_environ()
    environ["wsgi.file_wrapper"] = Slotted
    _, body = serve(SignalsMiddleware(body_app(Slotted(None))), environ)  # type: ignore[arg-type]
    assert body == b"ab"
    recorder.assert_sent(request_finished, times=1, status=200)


def test_file_wrapper_given_as_a_function_is_wrapped_normally(recorder: Capture) -> None:
    environ = make_environ()
    environ["wsgi.file_wrapper"] = lambda f, size=8192: wsgiref.util.FileWrapper(f, size)
    body = Body([b"x"])
    serve(SignalsMiddleware(body_app(body)), environ)
    assert body.closes == 1
    recorder.assert_sent(request_finished, times=1)


# -- PEP 3333: wsgiref.validate on both sides ----------------------------------


def file_app(environ: dict[str, Any], start_response: Any) -> Any:
    start_response("200 OK", TEXT)
    return environ["wsgi.file_wrapper"](io.BytesIO(b"file body"), 4)


def empty_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [*TEXT, ("Content-Length", "0")])
    return []


def head_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [*TEXT, ("Content-Length", "5")])
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [b"hello"]


def generator_app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", TEXT)
    return iter([b"one", b"two"])


class Pep3333AppClass:
    """PEP 3333's class example: calling the class is calling the app, and the
    instance it returns is the response iterable."""

    def __init__(self, environ: dict[str, Any], start_response: Any) -> None:
        self.start_response = start_response

    def __iter__(self) -> Iterator[bytes]:
        self.start_response("200 OK", TEXT)
        yield b"from a class"


VALIDATED = [
    pytest.param(Pep3333AppClass, "GET", b"from a class", 200, None, id="pep3333-class"),
    pytest.param(list_app, "GET", b"hello", 200, None, id="list"),
    pytest.param(generator_app, "GET", b"onetwo", 200, None, id="generator"),
    pytest.param(lazy_app, "GET", b"ab", 201, None, id="lazy-start-response"),
    pytest.param(empty_app, "GET", b"", 200, None, id="empty"),
    pytest.param(head_app, "HEAD", b"", 200, None, id="head"),
    pytest.param(exc_info_app, "GET", b"sorry", 500, None, id="exc-info"),
    pytest.param(file_app, "GET", b"file body", 200, None, id="file-wrapper"),
    pytest.param(raising_app, "GET", None, 500, Boom, id="app-raises"),
    pytest.param(failing_body_app, "GET", None, 200, Boom, id="body-raises"),
]


@pytest.mark.parametrize(("app", "method", "body", "status", "error"), VALIDATED)
@pytest.mark.parametrize("with_receivers", [True, False], ids=["receivers", "no-receivers"])
def test_pep3333_validator_inside_and_outside(
    app: Any,
    method: str,
    body: bytes | None,
    status: int | None,
    error: type[BaseException] | None,
    with_receivers: bool,
) -> None:
    stack = validator(SignalsMiddleware(validator(app)))
    environ = make_environ(method=method)
    environ["wsgi.file_wrapper"] = wsgiref.util.FileWrapper
    with (
        capture(request_started, got_request_exception, request_finished) as sent,
        ExitStack() as mute,
    ):
        if not with_receivers:
            for signal in sent.signals:
                mute.enter_context(signal.muted())
        if error is None:
            _, got = serve(stack, environ)
            assert got == body
        else:
            with pytest.raises(error):
                serve(stack, environ)
    if with_receivers:
        expected = [request_started, request_finished]
        if error is not None:
            expected.insert(1, got_request_exception)
        sent.assert_order(*expected)
        sent.assert_sent(request_finished, times=1, status=status)
    else:
        assert len(sent) == 0


def test_file_wrapper_passes_the_validator_outside(recorder: Capture) -> None:
    # Outside only: a validator inside would hide the file wrapper from the middleware.
    environ = make_environ()
    environ["wsgi.file_wrapper"] = wsgiref.util.FileWrapper
    _, body = serve(validator(SignalsMiddleware(file_app)), environ)
    assert body == b"file body"
    recorder.assert_sent(request_finished, times=1, status=200)


# -- real apps through httpx.WSGITransport --------------------------------------


@pytest.fixture(params=wsgi_apps.NAMES)
def framework_app(request: pytest.FixtureRequest) -> tuple[str, Any]:
    return request.param, wsgi_apps.make_app(request.param)


def test_framework_apps_through_httpx(recorder: Capture, framework_app: tuple[str, Any]) -> None:
    name, app = framework_app
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://test") as client:
        hello = client.get("/hello")
        missing = client.get("/missing")
        streamed = client.get("/stream", params={"chunks": "3"})
    assert (hello.status_code, hello.text) == (200, f"Hello from {name}")
    assert missing.status_code == 404
    assert streamed.content == wsgi_apps.CHUNK * 3
    assert [s.kwargs["status"] for s in recorder.of(request_finished)] == [200, 404, 200]
    assert len(recorder.of(request_started)) == 3
    recorder.assert_not_sent(got_request_exception)
    for started, finished in zip(
        recorder.of(request_started), recorder.of(request_finished), strict=True
    ):
        assert started.kwargs["environ"] is finished.kwargs["environ"]
        assert started.sender is finished.sender
    expected_sender = app if name == "flask" else app.app
    assert recorder.of(request_started)[0].sender is expected_sender
