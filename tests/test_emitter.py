"""Signal.emitter: the hot path's send, one Python call per send.

An emitter sends exactly as ``send_fast`` does; these tests check what it adds: it
is one function per signal and tuple of names, it notices every change of receivers
at once (connect, disconnect, death, muting, another sender), and while
``send_fast`` is wrapped — on the class or on one signal — every emitter sends
through the wrapper, and stops the moment it is unwrapped. An awaited emitter
(``awaited=True``) does all of that too, and returns the walk over async receivers
even when no event loop runs, for its caller to await.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from typing import Any

import pytest

from reqsignals import request_finished, request_started
from reqsignals.asgi import SignalsMiddleware as ASGIMiddleware
from reqsignals.dispatch import _SEND_FAST, ReceiverFailures, Signal, receiver_failed
from reqsignals.types import Message
from reqsignals.wsgi import SignalsMiddleware as WSGIMiddleware
from tests.test_asgi import communicate, http_scope
from tests.test_middleware_contract import hello_asgi, hello_wsgi
from tests.test_wsgi import serve

NAMES = ("scope", "status")


@pytest.fixture(autouse=True)
def unobserved() -> Iterator[None]:
    """Take the suite's canary off send_fast for the test, so that emitters take their
    fast path (with it on, every emitter sends through it, as they must)."""
    watching = Signal.send_fast
    Signal.send_fast = _SEND_FAST  # type: ignore[method-assign]
    try:
        yield
    finally:
        Signal.send_fast = watching  # type: ignore[method-assign]


@pytest.fixture
def signal() -> Signal:
    return Signal("emitted")


EmitterOf = Callable[[Signal, tuple[str, ...]], Callable[..., Any]]


def _bound_to_each_sender(
    signal: Signal, names: tuple[str, ...], *, awaited: bool
) -> Callable[..., Any]:
    """``emit(sender, *values)`` made of emitters bound to one sender each."""
    bound: dict[Any, Callable[..., Any]] = {}

    def emit(sender: Any, *values: Any) -> Any:
        if sender not in bound:
            bound[sender] = signal.emitter(names, sender=sender, awaited=awaited)
        return bound[sender](*values)

    return emit


EMITTERS: dict[str, EmitterOf] = {
    "emitter": lambda signal, names: signal.emitter(names),
    "bound to the sender": partial(_bound_to_each_sender, awaited=False),
    "awaited": lambda signal, names: signal.emitter(names, awaited=True),
    "awaited, bound to the sender": partial(_bound_to_each_sender, awaited=True),
}


@pytest.fixture(params=list(EMITTERS))
def emitter_of(request: pytest.FixtureRequest) -> EmitterOf:
    """Each test below runs with ``signal.emitter(names)``, with emitters bound to one
    sender each (``signal.emitter(names, sender=s)``), and with the awaited kind of
    both (``awaited=True``)."""
    return EMITTERS[request.param]


@pytest.fixture(params=["emitter", "bound to the sender"])
def unawaited_emitter_of(request: pytest.FixtureRequest) -> EmitterOf:
    return EMITTERS[request.param]


@pytest.fixture(params=["awaited", "awaited, bound to the sender"])
def awaited_emitter_of(request: pytest.FixtureRequest) -> EmitterOf:
    return EMITTERS[request.param]


@pytest.fixture
def heard() -> list[tuple[str, Any, dict[str, Any]]]:
    return []


def _recorder(label: str, heard: list[tuple[str, Any, dict[str, Any]]]) -> Any:
    def hear(sender: Any, **kwargs: Any) -> None:
        kwargs.pop("signal")
        heard.append((label, sender, kwargs))

    return hear


def test_one_emitter_per_signal_and_names(signal: Signal) -> None:
    emit = signal.emitter(NAMES)
    assert signal.emitter(NAMES) is emit
    assert signal.emitter(("scope",)) is not emit
    assert Signal("other").emitter(NAMES) is not emit
    awaited = signal.emitter(NAMES, awaited=True)
    assert awaited is not emit
    assert signal.emitter(NAMES, awaited=True) is awaited


def test_an_emitter_calls_each_receiver_as_send_fast_does(
    emitter_of: EmitterOf, signal: Signal, heard: list[tuple[str, Any, dict[str, Any]]]
) -> None:
    first, second = _recorder("first", heard), _recorder("second", heard)
    signal.connect(first)
    signal.connect(second, weak=False)
    emit = emitter_of(signal, NAMES)
    assert emit("app", {"type": "http"}, 200) is None
    assert signal.send_fast("app", NAMES, {"type": "http"}, 200) is None
    expected = [
        ("first", "app", {"scope": {"type": "http"}, "status": 200}),
        ("second", "app", {"scope": {"type": "http"}, "status": 200}),
    ]
    assert heard == expected * 2


def test_an_emitter_sees_connect_disconnect_mute_and_death_at_the_next_send(
    emitter_of: EmitterOf, signal: Signal, heard: list[tuple[str, Any, dict[str, Any]]]
) -> None:
    emit = emitter_of(signal, ("n",))
    first = _recorder("first", heard)
    signal.connect(first)
    emit("s", 1)
    second = _recorder("second", heard)
    signal.connect(second)
    emit("s", 2)
    signal.disconnect(first)
    emit("s", 3)
    with signal.muted():
        emit("s", 4)
    emit("s", 5)
    del second
    gc.collect()
    emit("s", 6)
    assert [(label, kwargs["n"]) for label, _, kwargs in heard] == [
        ("first", 1),
        ("first", 2),
        ("second", 2),
        ("second", 3),
        ("second", 5),
    ]


def test_an_emitter_calls_each_senders_own_receivers(
    emitter_of: EmitterOf, signal: Signal, heard: list[tuple[str, Any, dict[str, Any]]]
) -> None:
    everyone, only_a = _recorder("everyone", heard), _recorder("only a", heard)
    signal.connect(everyone)
    signal.connect(only_a, sender="a")
    emit = emitter_of(signal, ("n",))
    for n, sender in enumerate(["a", "b", "a", "b", "b"]):
        emit(sender, n)
    assert [(label, sender) for label, sender, _ in heard] == [
        ("everyone", "a"),
        ("only a", "a"),
        ("everyone", "b"),
        ("everyone", "a"),
        ("only a", "a"),
        ("everyone", "b"),
        ("everyone", "b"),
    ]


def test_a_failing_receiver_is_logged_and_the_next_one_still_runs(
    emitter_of: EmitterOf,
    signal: Signal,
    heard: list[tuple[str, Any, dict[str, Any]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise ValueError("receiver bug")

    signal.connect(broken)
    emit = emitter_of(signal, ("n",))
    emit("s", 1)  # the only receiver: the emitter's loop-free branch
    signal.connect(_recorder("after", heard), weak=False)
    emit("s", 2)  # two receivers: the loop
    assert [kwargs["n"] for _, _, kwargs in heard] == [2]
    failures = [r for r in caplog.records if r.exc_info and r.exc_info[1]]
    assert [str(r.exc_info[1]) for r in failures if r.exc_info] == ["receiver bug"] * 2
    assert all("send_fast()" in r.getMessage() for r in failures)


def test_async_receivers_give_an_awaitable_inside_a_loop_and_run_without_one(
    unawaited_emitter_of: EmitterOf,
    signal: Signal,
) -> None:
    order: list[str] = []

    async def hear(sender: Any, n: int, **kwargs: Any) -> None:
        order.append(f"async {n}")

    signal.connect(hear)
    emit = unawaited_emitter_of(signal, ("n",))

    async def main() -> None:
        pending = emit("s", 1)  # looked up, then remembered
        assert pending is not None
        assert order == []
        await pending
        pending = emit("s", 2)  # remembered: the emitter returns the walk itself
        assert pending is not None
        assert order == ["async 1"]
        await pending

    asyncio.run(main())
    assert emit("s", 3) is None  # remembered, but no loop runs: run on one of its own
    assert order == ["async 1", "async 2", "async 3"]


def _await_without_a_loop(pending: Awaitable[Any]) -> None:
    """Await *pending* in a coroutine that no event loop runs, to its end."""

    async def main() -> None:
        await pending

    with pytest.raises(StopIteration):
        main().send(None)


@pytest.mark.parametrize("receivers", [1, 2])
def test_an_awaited_emitter_returns_the_async_walk_with_no_loop_running(
    awaited_emitter_of: EmitterOf, signal: Signal, receivers: int
) -> None:
    heard: list[tuple[str, int, object]] = []

    def make(label: str) -> Any:
        async def hear(sender: Any, n: int, **kwargs: Any) -> None:
            heard.append((label, n, asyncio._get_running_loop()))

        return hear

    hearers = [make(f"async {i}") for i in range(receivers)]
    for hear in hearers:
        signal.connect(hear)
    emit = awaited_emitter_of(signal, ("n",))
    for n in range(3):  # looked up, then remembered
        pending = emit("s", n)
        assert pending is not None
        assert len(heard) == n * receivers  # nothing called before it is awaited
        _await_without_a_loop(pending)
    # Awaited where the caller awaited them, on no loop: not on one made for the send.
    assert heard == [(f"async {i}", n, None) for n in range(3) for i in range(receivers)]


def test_an_awaited_emitter_calls_sync_receivers_itself(
    awaited_emitter_of: EmitterOf, signal: Signal, heard: list[tuple[str, Any, dict[str, Any]]]
) -> None:
    signal.connect(_recorder("sync", heard), weak=False)
    emit = awaited_emitter_of(signal, ("n",))
    assert [emit("s", n) for n in range(2)] == [None, None]
    assert [kwargs["n"] for _, _, kwargs in heard] == [0, 1]


def test_the_asgi_middleware_awaits_async_receivers_in_its_own_coroutine() -> None:
    """Driven by no event loop (as a test harness may drive an app), the middleware
    still awaits an async receiver in the request's own coroutine, so a context
    variable the receiver of request_started sets is what the app sees."""
    user: contextvars.ContextVar[str] = contextvars.ContextVar("user", default="nobody")
    seen: list[tuple[str, object]] = []

    async def started(sender: Any, **kwargs: Any) -> None:
        user.set("alice")
        seen.append(("started", asyncio._get_running_loop()))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((user.get(), asyncio._get_running_loop()))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    def drive() -> None:
        with pytest.raises(StopIteration):
            ASGIMiddleware(app)(http_scope(), receive, send).send(None)

    with request_started.connected_to(started):
        for _ in range(2):  # looked up, then remembered
            contextvars.copy_context().run(drive)  # `user` unset in each
    assert seen == [("started", None), ("alice", None)] * 2


# -- what an emitter returns when a receiver fails ------------------------------------


def _raising(exc: Exception) -> Any:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise exc

    return broken


def test_inside_a_loop_an_emitter_returns_the_async_receiver_failed_sends_to_await(
    emitter_of: EmitterOf,
    signal: Signal,
) -> None:
    heard: list[tuple[Any, Any, Any]] = []
    first_bug, second_bug = ValueError("first"), KeyError("second")
    first, second = _raising(first_bug), _raising(second_bug)

    async def on_failure(sender: Any, receiver: Any, exception: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        heard.append((sender, receiver, exception))

    emit = emitter_of(signal, NAMES)

    async def main() -> None:
        signal.connect(first, weak=False)
        # The first send looks the receiver up, the next calls the one it remembers,
        # then send_fast itself; then two receivers, looked up, then remembered.
        for how in ("looked up", "remembered", "send_fast"):
            pending = signal.send_fast("s", NAMES, 1, 2) if how == "send_fast" else emit("s", 1, 2)
            assert type(pending) is ReceiverFailures
            assert heard == []  # sent when awaited, not before
            await pending
            assert heard == [(signal, first, first_bug)]
            heard.clear()
        signal.connect(second, weak=False)
        for _ in range(2):
            pending = emit("s", 1, 2)
            assert type(pending) is ReceiverFailures  # one for both failures
            await pending
            assert heard == [(signal, first, first_bug), (signal, second, second_bug)]
            heard.clear()

    with receiver_failed.connected_to(on_failure):
        asyncio.run(main())


def test_with_sync_receiver_failed_receivers_or_no_loop_an_emitter_returns_none(
    emitter_of: EmitterOf,
    signal: Signal,
) -> None:
    heard: list[tuple[Any, Any]] = []
    bug = ValueError("bug")
    broken = _raising(bug)

    def on_failure(sender: Any, receiver: Any, exception: Any, **kwargs: Any) -> None:
        heard.append((receiver, exception))

    async def on_failure_async(sender: Any, receiver: Any, exception: Any, **kwargs: Any) -> None:
        heard.append((receiver, exception))

    signal.connect(broken, weak=False)
    emit = emitter_of(signal, NAMES)

    async def in_a_loop() -> list[Any]:
        return [emit("s", 1, 2), emit("s", 1, 2)]  # looked up, then remembered

    with receiver_failed.connected_to(on_failure):
        assert asyncio.run(in_a_loop()) == [None, None]  # heard at once: nothing to await
        assert heard == [(broken, bug)] * 2
        heard.clear()
        other = _raising(bug)
        signal.connect(other, weak=False)  # two receivers: the loop
        assert asyncio.run(in_a_loop()) == [None, None]
        assert heard == [(broken, bug), (other, bug)] * 2
    heard.clear()
    with receiver_failed.connected_to(on_failure_async):
        # No loop running: the async receiver is run on a loop of the send's own.
        assert [emit("s", 1, 2), emit("s", 1, 2)] == [None, None]
        assert heard == [(broken, bug), (other, bug)] * 2


def test_receiver_failures_not_awaited_are_closed_and_logged_as_not_sent(
    signal: Signal, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[Any] = []

    async def on_failure(sender: Any, **kwargs: Any) -> None:  # pragma: no cover - dropped
        heard.append(sender)

    signal.connect(_raising(ValueError("bug")), weak=False)
    signal.connect(_raising(ValueError("bug")), weak=False)

    async def main() -> None:
        pending = signal.send_fast("s", NAMES, 1, 2)
        assert type(pending) is ReceiverFailures
        pending.unsent()
        await pending  # nothing left to send

    with receiver_failed.connected_to(on_failure), caplog.at_level("ERROR", "reqsignals"):
        asyncio.run(main())  # and no "coroutine was never awaited" warning: closed
    assert heard == []
    assert caplog.text.count("receiver_failed was not sent") == 2


def test_cancelled_while_awaited_the_rest_of_the_failures_are_logged_as_not_sent(
    signal: Signal, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[Any] = []

    async def on_failure(sender: Any, receiver: Any, **kwargs: Any) -> None:
        heard.append(receiver)
        await asyncio.Event().wait()  # until cancelled

    first, second = _raising(ValueError("first")), _raising(ValueError("second"))
    signal.connect(first, weak=False)
    signal.connect(second, weak=False)

    async def main() -> None:
        pending = signal.send_fast("s", NAMES, 1, 2)
        assert pending is not None
        task = asyncio.ensure_future(pending)
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with receiver_failed.connected_to(on_failure), caplog.at_level("ERROR", "reqsignals"):
        asyncio.run(main())
    assert heard == [first]
    assert caplog.text.count("receiver_failed was not sent") == 1  # second's


def test_an_awaitable_without_close_from_a_wrapped_send_fast_is_dropped_logged(
    signal: Signal, caplog: pytest.LogCaptureFixture
) -> None:
    # A tracer wrapping receiver_failed's send_fast may return any awaitable.
    signal.connect(_raising(ValueError("bug")), weak=False)

    async def main() -> None:
        future = asyncio.get_running_loop().create_future()
        receiver_failed.send_fast = lambda *args: future  # type: ignore[method-assign]
        try:
            pending = signal.send_fast("s", NAMES, 1, 2)
        finally:
            del receiver_failed.send_fast
        assert type(pending) is ReceiverFailures
        pending.unsent()
        assert not future.done()

    def on_failure(sender: Any, **kwargs: Any) -> None:  # pragma: no cover - wrapped away
        pass

    with receiver_failed.connected_to(on_failure), caplog.at_level("ERROR", "reqsignals"):
        asyncio.run(main())
    assert "receiver_failed was not sent" in caplog.text


@pytest.mark.parametrize("names", [["n"], ("not a name",), ("sender",), ("n", "n")])
def test_bad_names_are_refused(signal: Signal, names: Any) -> None:
    with pytest.raises(TypeError, match="send_fast"):
        signal.emitter(names)


def test_an_emitter_made_before_send_fast_was_wrapped_sends_through_the_wrapper(
    emitter_of: EmitterOf, signal: Signal, heard: list[tuple[str, Any, dict[str, Any]]]
) -> None:
    signal.connect(_recorder("r", heard), weak=False)
    emit = emitter_of(signal, ("n",))
    emit("s", 1)  # remembered: the fast path
    original = Signal.send_fast
    seen: list[str] = []

    def wrapper(self: Signal, *args: Any) -> Any:
        seen.append("wrapped")
        return original(self, *args)

    Signal.send_fast = wrapper  # type: ignore[method-assign]
    try:
        emit("s", 2)
        emit("s", 3)
    finally:
        Signal.send_fast = original  # type: ignore[method-assign]
    emit("s", 4)
    assert seen == ["wrapped", "wrapped"]
    assert [kwargs["n"] for _, _, kwargs in heard] == [1, 2, 3, 4]


def test_wrapping_send_fast_on_one_signal_is_seen_by_its_emitters(
    emitter_of: EmitterOf, signal: Signal, heard: list[tuple[str, Any, dict[str, Any]]]
) -> None:
    signal.connect(_recorder("r", heard), weak=False)
    emit = emitter_of(signal, ("n",))
    emit("s", 1)
    seen: list[Any] = []

    def wrapper(sender: Any, names: tuple[str, ...], *values: Any) -> Any:
        seen.append(values)
        return Signal.send_fast(signal, sender, names, *values)

    signal.send_fast = wrapper  # type: ignore[method-assign]
    try:
        emit("s", 2)
    finally:
        del signal.send_fast
    emit("s", 3)
    assert seen == [(2,)]
    assert [kwargs["n"] for _, _, kwargs in heard] == [1, 2, 3]


def test_a_subclass_overriding_send_fast_is_sent_through(
    emitter_of: EmitterOf,
    heard: list[tuple[str, Any, dict[str, Any]]],
) -> None:
    class Traced(Signal):
        sends = 0

        def send_fast(self, sender: Any, names: tuple[str, ...], /, *values: Any) -> Any:
            Traced.sends += 1
            return super().send_fast(sender, names, *values)

    traced = Traced("traced")
    traced.connect(_recorder("r", heard), weak=False)
    emit = emitter_of(traced, ("n",))
    emit("s", 1)
    emit("s", 2)
    assert Traced.sends == 2
    assert [kwargs["n"] for _, _, kwargs in heard] == [1, 2]


def test_monkeypatch_and_its_undo_reach_the_emitters(
    emitter_of: EmitterOf,
    monkeypatch: pytest.MonkeyPatch,
    signal: Signal,
    heard: list[tuple[str, Any, dict[str, Any]]],
) -> None:
    signal.connect(_recorder("r", heard), weak=False)
    emit = emitter_of(signal, ("n",))
    emit("s", 1)
    seen: list[int] = []
    original = Signal.send_fast

    def wrapper(self: Signal, *args: Any) -> Any:
        seen.append(args[-1])
        return original(self, *args)

    with monkeypatch.context() as patch:
        patch.setattr(Signal, "send_fast", wrapper)
        emit("s", 2)
    emit("s", 3)
    assert seen == [2]
    assert [kwargs["n"] for _, _, kwargs in heard] == [1, 2, 3]


def test_an_unwatched_emitter_remembers_its_last_sender(signal: Signal) -> None:
    def hear(sender: Any, **kwargs: Any) -> None:
        pass

    signal.connect(hear)
    emit = signal.emitter(("n",))
    emit("s", 1)
    remembered = signal._emitters[("n",)].memo
    assert remembered[0] == "s"
    emit("s", 2)
    assert signal._emitters[("n",)].memo is remembered  # found again, not looked up
    signal.connect(_recorder("new", []), weak=False)
    assert signal._emitters[("n",)].memo is not remembered  # forgotten at once


def test_the_middlewares_fast_path_sends_every_request_signal() -> None:
    heard: list[tuple[str, Any, dict[str, Any]]] = []
    started, finished = _recorder("started", heard), _recorder("finished", heard)
    with request_started.connected_to(started), request_finished.connected_to(finished):
        for _ in range(3):
            serve(WSGIMiddleware(hello_wsgi))
            asyncio.run(communicate(ASGIMiddleware(hello_asgi), http_scope()))
    labels = [label for label, _, _ in heard]
    assert labels == ["started", "finished"] * 6
    statuses = [kwargs["status"] for label, _, kwargs in heard if label == "finished"]
    assert statuses == [200] * 6
    assert all(kwargs["response_duration"] is not None for label, _, kwargs in heard[1::2])


def test_async_receivers_remembered_for_a_sender_see_a_new_receiver(
    emitter_of: EmitterOf, signal: Signal
) -> None:
    order: list[str] = []

    async def first(sender: Any, n: int, **kwargs: Any) -> None:
        order.append(f"first {sender} {n}")

    async def second(sender: Any, n: int, **kwargs: Any) -> None:
        order.append(f"second {sender} {n}")

    signal.connect(first)
    emit = emitter_of(signal, ("n",))

    async def main() -> None:
        for n in range(2):
            pending = emit("s", n)
            assert pending is not None
            await pending
        signal.connect(second)
        for sender in ("s", "t"):
            pending = emit(sender, 9)
            assert pending is not None
            await pending

    asyncio.run(main())
    assert order == [
        "first s 0",
        "first s 1",
        "first s 9",
        "second s 9",
        "first t 9",
        "second t 9",
    ]


def test_a_failing_async_receiver_alone_is_logged_sent_as_receiver_failed_and_skipped(
    emitter_of: EmitterOf, signal: Signal, caplog: pytest.LogCaptureFixture
) -> None:
    bug = ValueError("async receiver bug")
    failures: list[tuple[Any, Any, Any]] = []

    async def broken(sender: Any, **kwargs: Any) -> None:
        raise bug

    async def on_failure(sender: Any, receiver: Any, exception: Any, **kwargs: Any) -> None:
        failures.append((sender, receiver, exception))

    signal.connect(broken)
    emit = emitter_of(signal, ("n",))

    async def main() -> None:
        for n in range(3):  # looked up, then remembered
            pending = emit("s", n)
            assert pending is not None
            await pending  # the failure does not escape

    with receiver_failed.connected_to(on_failure), caplog.at_level("ERROR", "reqsignals"):
        asyncio.run(main())
    assert failures == [(signal, broken, bug)] * 3
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[1] is bug]
    assert len(logged) == 3


def test_an_async_receiver_remembered_then_collected_is_forgotten_and_not_called(
    emitter_of: EmitterOf, signal: Signal
) -> None:
    heard: list[int] = []

    class Listener:
        async def __call__(self, sender: Any, n: int, **kwargs: Any) -> None:
            heard.append(n)

    listener = Listener()
    signal.connect(listener)
    emit = emitter_of(signal, ("n",))

    async def main() -> list[Any]:
        nonlocal listener
        pending = emit("s", 1)
        assert pending is not None
        await pending
        del listener  # the signal forgets its plans, and the emitter what it remembered
        gc.collect()
        return [emit("s", 2)]

    assert asyncio.run(main()) == [None]
    assert heard == [1]
