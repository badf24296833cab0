"""What Django's own dispatcher tests check, written for reqsignals' Signal.

Django's ``tests/dispatch/tests.py`` is the measure: exact results, garbage
collection of weak receivers, multiple registration, ``dispatch_uid``, robust sends,
disconnection, ``has_listeners``, the ``receiver`` decorator and the async sends —
and Django code's habit of passing ``sender`` by keyword everywhere.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from typing import Any

import pytest

from reqsignals.dispatch import Signal, receiver, receiver_failed

a_signal = Signal("a_signal")


def receiver_1_arg(val: Any, **kwargs: Any) -> Any:
    return val


class Callable:
    def __call__(self, val: Any, **kwargs: Any) -> Any:
        return val

    def a(self, val: Any, **kwargs: Any) -> Any:
        return val


@pytest.fixture(autouse=True)
def nothing_left_connected() -> Any:
    yield
    assert a_signal.receivers == []  # every test disconnects what it connected


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s: s.send(sender=object, val="test"), id="send"),
        pytest.param(lambda s: s.send_robust(sender=object, val="test"), id="send_robust"),
        pytest.param(lambda s: asyncio.run(s.asend(sender=object, val="test")), id="asend"),
        pytest.param(
            lambda s: asyncio.run(s.asend_robust(sender=object, val="test")), id="asend_robust"
        ),
    ],
)
def test_sender_by_keyword_in_every_send(call: Any) -> None:
    heard: list[Any] = []

    def record(sender: Any, **kwargs: Any) -> str:
        heard.append((sender, kwargs["val"]))
        return "ok"

    a_signal.connect(record)
    try:
        assert call(a_signal) == [(record, "ok")]
    finally:
        a_signal.disconnect(record)
    assert heard == [(object, "test")]


def test_sender_by_keyword_matches_a_sender_bound_receiver() -> None:
    class Model:
        pass

    heard: list[Any] = []

    def on_save(sender: Any, **kwargs: Any) -> None:
        heard.append(sender)

    a_signal.connect(on_save, sender=Model)
    try:
        a_signal.send(sender=Model)
        a_signal.send(sender=object)
    finally:
        a_signal.disconnect(on_save, sender=Model)
    assert heard == [Model]


def test_exact_results() -> None:
    a_signal.connect(receiver_1_arg, sender=Callable)
    try:
        assert a_signal.send(sender=Callable, val="test") == [(receiver_1_arg, "test")]
    finally:
        a_signal.disconnect(receiver_1_arg, sender=Callable)


def test_ignored_sender() -> None:
    a_signal.connect(receiver_1_arg)
    try:
        assert a_signal.send(sender=Callable, val="test") == [(receiver_1_arg, "test")]
    finally:
        a_signal.disconnect(receiver_1_arg)


def test_garbage_collected_receiver() -> None:
    obj = Callable()
    a_signal.connect(obj.a, sender=Callable)
    del obj
    gc.collect()
    assert a_signal.send(sender=Callable, val="test") == []
    assert a_signal.receivers == []


def test_garbage_collected_sender_is_not_heard_by_a_new_one() -> None:
    class Sender:
        pass

    sender = Sender()
    a_signal.connect(receiver_1_arg, sender=sender)
    ref = weakref.ref(sender)
    del sender
    gc.collect()
    assert ref() is None  # connecting held the sender weakly
    assert a_signal.send(sender=Sender(), val="x") == []
    assert a_signal.receivers == []


def test_multiple_registration_is_one() -> None:
    obj = Callable()
    for _ in range(4):
        a_signal.connect(obj)
    try:
        assert a_signal.send(sender=Callable, val="test") == [(obj, "test")]
    finally:
        a_signal.disconnect(obj)
    assert a_signal.receivers == []


def test_dispatch_uid_registers_once() -> None:
    a_signal.connect(receiver_1_arg, dispatch_uid="uid")
    a_signal.connect(Callable(), weak=False, dispatch_uid="uid")
    try:
        assert a_signal.receivers == [receiver_1_arg]
    finally:
        assert a_signal.disconnect(dispatch_uid="uid") is True


def test_send_robust_returns_the_exception_and_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    def fails(val: Any, **kwargs: Any) -> None:
        raise ValueError("this is an exception")

    a_signal.connect(fails)
    try:
        with caplog.at_level(logging.ERROR, logger="reqsignals"):
            ((got_receiver, err),) = a_signal.send_robust(sender=object, val="test")
    finally:
        a_signal.disconnect(fails)
    assert got_receiver is fails
    assert isinstance(err, ValueError)
    assert str(err) == "this is an exception"
    assert err.__traceback__ is not None
    (record,) = caplog.records
    assert "fails" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[1] is err


def test_disconnect_returns_whether_it_removed() -> None:
    a_signal.connect(receiver_1_arg)
    assert a_signal.disconnect(receiver_1_arg) is True
    assert a_signal.disconnect(receiver_1_arg) is False


def test_has_listeners() -> None:
    assert not a_signal.has_listeners()
    assert not a_signal.has_listeners(sender=object())
    a_signal.connect(receiver_1_arg)
    try:
        assert a_signal.has_listeners()
        assert a_signal.has_listeners(sender=object())
    finally:
        a_signal.disconnect(receiver_1_arg)
    assert not a_signal.has_listeners()


def test_receiver_decorator_with_a_list_of_signals() -> None:
    other = Signal("other")
    heard: list[str] = []

    @receiver([a_signal, other], sender="me")
    def hear(sender: Any, signal: Signal, **kwargs: Any) -> None:
        heard.append(signal.name or "")

    try:
        a_signal.send(sender="me")
        other.send(sender="me")
        other.send(sender="someone else")
    finally:
        a_signal.disconnect(hear, sender="me")
        other.disconnect(hear, sender="me")
    assert heard == ["a_signal", "other"]


def test_async_and_sync_receivers_through_asend_in_order() -> None:
    order: list[str] = []

    def sync(sender: Any, **kwargs: Any) -> str:
        order.append("sync")
        return "s"

    async def asynchronous(sender: Any, **kwargs: Any) -> str:
        await asyncio.sleep(0)
        order.append("async")
        return "a"

    a_signal.connect(asynchronous)
    a_signal.connect(sync)
    try:
        result = asyncio.run(a_signal.asend(sender=object))
        assert result == [(asynchronous, "a"), (sync, "s")]
        assert a_signal.send(sender=object) == [(asynchronous, "a"), (sync, "s")]
    finally:
        a_signal.disconnect(asynchronous)
        a_signal.disconnect(sync)
    assert order == ["async", "sync", "async", "sync"]


def test_asend_robust_returns_async_failures() -> None:
    async def fails(sender: Any, **kwargs: Any) -> None:
        raise ValueError("async failure")

    a_signal.connect(fails)
    try:
        ((got, err),) = asyncio.run(a_signal.asend_robust(sender=object))
    finally:
        a_signal.disconnect(fails)
    assert got is fails
    assert isinstance(err, ValueError)


# -- receiver_failed --------------------------------------------------------------


def _failing(sender: Any, **kwargs: Any) -> None:
    raise ValueError("receiver bug")


async def _failing_async(sender: Any, **kwargs: Any) -> None:
    raise ValueError("receiver bug")


@pytest.mark.parametrize(
    ("fails", "send"),
    [
        pytest.param(_failing, lambda: a_signal.send_robust("s", x=1), id="send_robust"),
        pytest.param(
            _failing, lambda: asyncio.run(a_signal.asend_robust("s", x=1)), id="asend_robust"
        ),
        pytest.param(
            _failing_async,
            lambda: asyncio.run(a_signal.asend_robust("s", x=1)),
            id="asend_robust-async",
        ),
        pytest.param(_failing, lambda: a_signal.send_fast("s", ("x",), 1), id="send_fast"),
        pytest.param(
            _failing_async, lambda: a_signal.send_fast("s", ("x",), 1), id="send_fast-async"
        ),
    ],
)
def test_a_caught_failure_is_logged_then_sent_as_receiver_failed(
    fails: Any, send: Any, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[str] = []
    heard: list[tuple[Any, Any, BaseException]] = []

    class Log(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            events.append("logged")

    def on_failure(sender: Any, receiver: Any, exception: BaseException, **kwargs: Any) -> None:
        events.append("sent")
        heard.append((sender, receiver, exception))

    handler = Log(logging.ERROR)
    logging.getLogger("reqsignals").addHandler(handler)
    a_signal.connect(fails)
    try:
        with receiver_failed.connected_to(on_failure):
            send()
    finally:
        a_signal.disconnect(fails)
        logging.getLogger("reqsignals").removeHandler(handler)
    assert events == ["logged", "sent"]
    ((sender, failed_receiver, exception),) = heard
    assert sender is a_signal
    assert failed_receiver is fails
    assert isinstance(exception, ValueError)
    assert str(exception) == "receiver bug"


def test_send_fast_awaitable_inside_a_running_loop_calls_nothing_until_awaited() -> None:
    order: list[str] = []

    async def hear(sender: Any, **kwargs: Any) -> None:
        order.append(f"async {kwargs['x']}")

    def hear_sync(sender: Any, **kwargs: Any) -> None:
        order.append(f"sync {kwargs['x']}")

    async def main() -> None:
        pending = a_signal.send_fast("s", ("x",), 1)
        assert pending is not None
        assert order == []
        await pending

    a_signal.connect(hear_sync)
    a_signal.connect(hear)
    try:
        asyncio.run(main())
        assert a_signal.send_fast("s", ("x",), 2) is None  # no loop running: run here
    finally:
        a_signal.disconnect(hear_sync)
        a_signal.disconnect(hear)
    assert order == ["sync 1", "async 1", "sync 2", "async 2"]


def test_send_fast_hears_a_receiver_connected_after_its_last_send() -> None:
    heard: list[Any] = []

    def first(sender: Any, **kwargs: Any) -> None:
        heard.append(("first", kwargs))

    def second(sender: Any, **kwargs: Any) -> None:
        heard.append(("second", kwargs))

    names = ("x", "y")
    a_signal.connect(first)
    try:
        assert a_signal.send_fast("s", names, 1, 2) is None
        a_signal.connect(second)
        a_signal.send_fast("s", names, 3, 4)
        a_signal.send_fast("other", names, 5, 6)
    finally:
        a_signal.disconnect(first)
        a_signal.disconnect(second)
    a_signal.send_fast("s", names, 7, 8)
    assert heard == [
        ("first", {"signal": a_signal, "x": 1, "y": 2}),
        ("first", {"signal": a_signal, "x": 3, "y": 4}),
        ("second", {"signal": a_signal, "x": 3, "y": 4}),
        ("first", {"signal": a_signal, "x": 5, "y": 6}),
        ("second", {"signal": a_signal, "x": 5, "y": 6}),
    ]


@pytest.mark.parametrize(
    "names",
    [
        pytest.param(["x"], id="a-list"),
        pytest.param(("not an identifier",), id="not-an-identifier"),
        pytest.param(("sender",), id="sender"),
        pytest.param(("x", "x"), id="repeated"),
    ],
)
def test_send_fast_refuses_bad_names(names: Any) -> None:
    a_signal.connect(receiver_1_arg)
    try:
        with pytest.raises(TypeError, match="send_fast"):
            a_signal.send_fast("s", names, *range(len(names)))
    finally:
        a_signal.disconnect(receiver_1_arg)


def test_a_failing_receiver_failed_receiver_is_logged_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[Any] = []

    def broken_tracker(sender: Any, **kwargs: Any) -> None:
        calls.append(sender)
        raise RuntimeError("tracker down")

    a_signal.connect(_failing)
    try:
        with (
            receiver_failed.connected_to(broken_tracker),
            caplog.at_level(logging.ERROR, logger="reqsignals"),
        ):
            a_signal.send_robust("s")
    finally:
        a_signal.disconnect(_failing)
    assert calls == [a_signal]  # called once, for the first failure; never for its own
    assert [r.exc_info[1].args[0] for r in caplog.records if r.exc_info and r.exc_info[1]] == [
        "receiver bug",
        "tracker down",
    ]


def test_receiver_failed_costs_nothing_when_nobody_listens() -> None:
    calls: list[str] = []
    original = Signal.send_fast

    def watching(self: Signal, *args: Any) -> Any:
        if self is receiver_failed:
            calls.append("receiver_failed")
        return original(self, *args)

    a_signal.connect(_failing)
    Signal.send_fast = watching  # type: ignore[method-assign]
    try:
        a_signal.send_robust("s")
    finally:
        Signal.send_fast = original  # type: ignore[method-assign]
        a_signal.disconnect(_failing)
    # With nobody listening, receiver_failed is not even sent.
    assert calls == []
    assert not receiver_failed.active
