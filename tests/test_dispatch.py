from __future__ import annotations

import asyncio
import functools
import gc
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

from reqsignals import Signal, receiver
from reqsignals.dispatch import is_async_callable
from tests.helpers.support import receiver_dying_mid_send


class Sender:
    pass


def make_receiver(log: list[Any], name: str) -> Any:
    def r(sender: Any, **kwargs: Any) -> str:
        log.append(name)
        return name

    r.__qualname__ = f"receiver_{name}"
    return r


# -- connect / disconnect ---------------------------------------------------


def test_connect_returns_the_receiver() -> None:
    sig = Signal("s")

    def r(sender: Any, **kw: Any) -> None:
        pass

    assert sig.connect(r) is r


def test_connecting_twice_registers_once() -> None:
    sig = Signal("s")
    log: list[str] = []
    r = make_receiver(log, "a")
    sig.connect(r)
    sig.connect(r)
    sig.send(Sender)
    assert log == ["a"]


def test_same_dispatch_uid_registers_once_whatever_the_receiver() -> None:
    sig = Signal("s")
    log: list[str] = []
    a, b = make_receiver(log, "a"), make_receiver(log, "b")
    sig.connect(a, dispatch_uid="uid")
    sig.connect(b, dispatch_uid="uid")
    sig.send(Sender)
    assert log == ["a"]


def test_same_receiver_for_two_senders_registers_twice() -> None:
    sig = Signal("s")
    log: list[str] = []
    r = make_receiver(log, "a")
    sig.connect(r, sender="x")
    sig.connect(r, sender="y")
    sig.send("x")
    sig.send("y")
    assert log == ["a", "a"]


def test_disconnect_by_receiver_returns_true_once() -> None:
    sig = Signal("s")
    log: list[str] = []
    r = make_receiver(log, "a")
    sig.connect(r)
    assert sig.disconnect(r) is True
    assert sig.disconnect(r) is False
    sig.send(Sender)
    assert log == []


def test_disconnect_by_dispatch_uid_returns_true_once() -> None:
    sig = Signal("s")
    log: list[str] = []
    sig.connect(make_receiver(log, "a"), dispatch_uid="uid", weak=False)
    assert sig.disconnect(dispatch_uid="uid") is True
    assert sig.disconnect(dispatch_uid="uid") is False
    sig.send(Sender)
    assert log == []


def test_disconnect_needs_receiver_or_uid() -> None:
    with pytest.raises(TypeError, match="receiver or a dispatch_uid"):
        Signal("s").disconnect()


def test_connect_rejects_non_callable() -> None:
    with pytest.raises(TypeError, match="needs a callable receiver"):
        Signal("s").connect("not callable")  # type: ignore[type-var]


def test_unweakrefable_receiver_needs_weak_false() -> None:
    class Slotted:
        __slots__ = ()  # no __weakref__ slot: instances cannot be weakly referenced

        def __call__(self, sender: Any, **kwargs: Any) -> None:
            pass

    sig = Signal("s")
    slotted = Slotted()
    with pytest.raises(TypeError, match="weak=False"):
        sig.connect(slotted)
    sig.connect(slotted, weak=False)
    assert sig.receivers == [slotted]


def test_receiver_without_kwargs_is_refused_at_connect() -> None:
    def no_kwargs(sender: Any, request: Any) -> None:
        pass

    with pytest.raises(TypeError, match=r"add \*\*kwargs"):
        Signal("s").connect(no_kwargs)


@pytest.mark.parametrize("bad", ["request_finished", [], [Signal("a"), "b"]], ids=repr)
def test_receiver_decorator_needs_signals(bad: Any) -> None:
    with pytest.raises(TypeError, match=r"takes a Signal or a list of Signals"):
        receiver(bad)


# -- calling convention -----------------------------------------------------


@pytest.mark.parametrize("style", ["kwargs_only", "named_args", "signal_too"])
def test_receivers_are_called_with_signal_sender_and_named(style: str) -> None:
    sig = Signal("s")
    got: dict[str, Any] = {}

    def kwargs_only(sender: Any, **kwargs: Any) -> None:
        got.update(kwargs, sender=sender)

    def named_args(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        got.update(kwargs, sender=sender, request=request, user=user)

    def signal_too(signal: Any, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        got.update(kwargs, signal=signal, sender=sender, request=request, user=user)

    styles: dict[str, Callable[..., None]] = {
        "kwargs_only": kwargs_only,
        "named_args": named_args,
        "signal_too": signal_too,
    }
    fn = styles[style]
    sig.connect(fn)
    result = sig.send(Sender, request="req", user="bob")
    assert got == {"signal": sig, "sender": Sender, "request": "req", "user": "bob"}
    assert result == [(fn, None)]


def test_send_returns_receiver_result_pairs_in_order() -> None:
    sig = Signal("s")
    log: list[str] = []
    a, b = make_receiver(log, "a"), make_receiver(log, "b")
    sig.connect(a)
    sig.connect(b)
    assert sig.send(Sender) == [(a, "a"), (b, "b")]


# -- senders ----------------------------------------------------------------


def test_sender_none_hears_every_sender() -> None:
    sig = Signal("s")
    log: list[str] = []
    sig.connect(make_receiver(log, "any"), weak=False)
    sig.send(Sender)
    sig.send("str-sender")
    sig.send(None)
    assert log == ["any", "any", "any"]


def test_sender_bound_receiver_hears_only_its_sender() -> None:
    sig = Signal("s")
    log: list[str] = []

    class Other:
        pass

    sig.connect(make_receiver(log, "bound"), sender=Sender, weak=False)
    sig.send(Other)
    sig.send(None)
    assert log == []
    sig.send(Sender)
    assert log == ["bound"]


@pytest.mark.parametrize(
    ("connected", "sent"),
    [
        pytest.param("auth", "".join(["au", "th"]), id="str"),
        pytest.param(10**30, int("1" + "0" * 30), id="int"),
        pytest.param(b"raw", bytes([114, 97, 119]), id="bytes"),
    ],
)
def test_str_int_bytes_senders_match_by_value(connected: Any, sent: Any) -> None:
    assert connected == sent
    sig = Signal("s")
    log: list[str] = []
    sig.connect(make_receiver(log, "v"), sender=connected, weak=False)
    sig.send(sent)
    assert log == ["v"]


def test_int_sender_never_matches_an_objects_id() -> None:
    sig = Signal("s")
    log: list[str] = []
    obj = Sender()
    sig.connect(make_receiver(log, "obj"), sender=obj, weak=False)
    sig.send(id(obj))
    assert log == []


def test_other_senders_match_by_identity_not_equality() -> None:
    sig = Signal("s")
    log: list[str] = []
    a, b = [1], [1]  # equal, not identical (and not weakly referenceable)
    sig.connect(make_receiver(log, "a"), sender=a, weak=False)
    sig.send(b)
    assert log == []
    sig.send(a)
    assert log == ["a"]


def test_recycled_sender_id_does_not_inherit_receivers() -> None:
    sig = Signal("s")
    log: list[str] = []
    sig.connect(make_receiver(log, "old"), weak=False, sender=Sender())  # dies at once
    # Make new objects until one reuses the dead sender's id (CPython reuses memory).
    dead_id = sig._receivers[0].sender_key
    reused = None
    keep = []
    for _ in range(100_000):
        obj = Sender()
        if id(obj) == dead_id:
            reused = obj
            break
        keep.append(obj)
    assert reused is not None, "CPython did not reuse the id; cannot exercise the case"
    sig.send(reused)
    assert log == []
    assert not sig.has_listeners(reused)


# -- weak references --------------------------------------------------------


class Handler:
    def __init__(self, log: list[Any]) -> None:
        self.log = log

    def method(self, sender: Any, **kwargs: Any) -> None:
        self.log.append("method")

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        self.log.append("call")


def _kinds(log: list[Any]) -> dict[str, Any]:
    def function(sender: Any, **kwargs: Any) -> None:
        log.append("function")

    return {
        "function": function,
        "bound_method": Handler(log).method,
        "callable_instance": Handler(log),
        "lambda": lambda sender, **kw: log.append("lambda"),
    }


@pytest.mark.parametrize("kind", ["function", "bound_method", "callable_instance", "lambda"])
def test_weak_receivers_are_not_called_once_collected(kind: str) -> None:
    sig = Signal("s")
    log: list[str] = []
    sig.connect(_kinds(log)[kind])
    gc.collect()
    assert sig.send(Sender) == []
    assert log == []
    assert not sig.has_listeners()


@pytest.mark.parametrize("method", ["send", "send_robust", "asend", "asend_robust"])
@pytest.mark.parametrize("doomed_async", [False, True], ids=["sync", "async"])
def test_a_weak_receiver_collected_before_its_turn_is_skipped(
    method: str, doomed_async: bool
) -> None:
    sig = Signal("s")
    with receiver_dying_mid_send(sig, doomed_async=doomed_async) as heard:
        if method.startswith("a"):
            results = asyncio.run(getattr(sig, method)(Sender))
        else:
            results = getattr(sig, method)(Sender)
    assert heard == ["first", "last"]
    assert [r.__name__ for r, _ in results] == ["first", "last"]
    assert not sig.has_listeners(Sender)


@pytest.mark.parametrize("kind", ["function", "bound_method", "callable_instance", "lambda"])
def test_weak_false_keeps_receivers_alive(kind: str) -> None:
    sig = Signal("s")
    log: list[str] = []
    sig.connect(_kinds(log)[kind], weak=False)
    gc.collect()
    sig.send(Sender)
    assert len(log) == 1


def test_bound_method_connect_and_disconnect_across_attribute_accesses() -> None:
    sig = Signal("s")
    log: list[str] = []
    h = Handler(log)
    assert h.method is not h.method  # a new bound-method object each time
    sig.connect(h.method)
    sig.connect(h.method)
    sig.send(Sender)
    assert log == ["method"]
    assert sig.disconnect(h.method) is True
    sig.send(Sender)
    assert log == ["method"]


def test_dead_receiver_is_purged_on_next_connect() -> None:
    sig = Signal("s")
    log: list[str] = []
    sig.connect(_kinds(log)["function"])
    gc.collect()
    assert len(sig._receivers) == 1  # flagged, not purged by the weakref callback
    sig.connect(make_receiver(log, "x"), weak=False)
    assert len(sig._receivers) == 1


def test_new_receiver_reusing_a_dead_receivers_id_is_connected() -> None:
    sig = Signal("s")
    log: list[Any] = []
    ids = set()
    for _ in range(50):
        fn = make_receiver(log, "n")
        ids.add(id(fn))
        sig.connect(fn)
        del fn
    # Whatever ids were reused, the last connected receiver must be heard.
    keep = make_receiver(log, "kept")
    sig.connect(keep)
    sig.send(Sender)
    assert log == ["kept"]


# -- ordering ---------------------------------------------------------------


def _mixed(log: list[str]) -> list[Any]:
    def a(sender: Any, **kw: Any) -> str:
        log.append("A")
        return "A"

    async def b(sender: Any, **kw: Any) -> str:
        await asyncio.sleep(0)
        log.append("B")
        return "B"

    def c(sender: Any, **kw: Any) -> str:
        log.append("C")
        return "C"

    return [a, b, c]


@pytest.mark.parametrize("method", ["send", "send_robust", "asend", "asend_robust"])
def test_sync_and_async_receivers_run_interleaved_in_connection_order(method: str) -> None:
    sig = Signal("s")
    log: list[str] = []
    receivers = _mixed(log)
    for r in receivers:
        sig.connect(r, weak=False)
    if method.startswith("a"):
        result = asyncio.run(getattr(sig, method)(Sender))
    else:
        result = getattr(sig, method)(Sender)
    assert log == ["A", "B", "C"]
    assert result == list(zip(receivers, ["A", "B", "C"]))


@pytest.mark.parametrize("weak", [True, False])
def test_sync_receivers_run_in_connection_order(weak: bool) -> None:
    sig = Signal("s")
    log: list[str] = []
    receivers = [make_receiver(log, str(i)) for i in range(10)]
    for r in receivers:
        sig.connect(r, weak=weak)
    sig.send(Sender)
    assert log == [str(i) for i in range(10)]


def test_mixed_weak_and_strong_receivers_keep_order() -> None:
    sig = Signal("s")
    log: list[str] = []
    a, b, c = (make_receiver(log, n) for n in "abc")
    sig.connect(a)
    sig.connect(b, weak=False)
    sig.connect(c)
    sig.send(Sender)
    assert log == ["a", "b", "c"]


# -- errors -----------------------------------------------------------------


class Boom(Exception):
    pass


def _failing(log: list[str]) -> list[Any]:
    def a(sender: Any, **kw: Any) -> None:
        log.append("a")

    def bad(sender: Any, **kw: Any) -> None:
        log.append("bad")
        raise Boom("receiver failed")

    def c(sender: Any, **kw: Any) -> None:
        log.append("c")

    return [a, bad, c]


@pytest.mark.parametrize("weak", [True, False])
def test_send_propagates_and_stops(weak: bool) -> None:
    sig = Signal("s")
    log: list[str] = []
    receivers = _failing(log)
    for r in receivers:
        sig.connect(r, weak=weak)
    with pytest.raises(Boom):
        sig.send(Sender)
    assert log == ["a", "bad"]


def test_send_robust_calls_all_returns_and_logs_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sig = Signal("robust")
    log: list[str] = []
    a, bad, c = _failing(log)
    for r in (a, bad, c):
        sig.connect(r)
    with caplog.at_level(logging.ERROR, logger="reqsignals"):
        result = sig.send_robust(Sender)
    assert log == ["a", "bad", "c"]
    assert result[0] == (a, None)
    assert result[1][0] is bad
    assert isinstance(result[1][1], Boom)
    assert result[2] == (c, None)
    [record] = caplog.records
    assert record.name == "reqsignals"
    assert "_failing.<locals>.bad" in record.getMessage()
    assert "<Signal 'robust'>" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[1] is result[1][1]
    assert "receiver failed" in caplog.text  # the traceback was logged


def test_asend_robust_logs_and_continues(caplog: pytest.LogCaptureFixture) -> None:
    sig = Signal("s")
    log: list[str] = []

    async def bad(sender: Any, **kw: Any) -> None:
        raise Boom("async failure")

    good = make_receiver(log, "good")
    sig.connect(bad)
    sig.connect(good)
    with caplog.at_level(logging.ERROR, logger="reqsignals"):
        result = asyncio.run(sig.asend_robust(Sender))
    assert isinstance(result[0][1], Boom)
    assert result[1] == (good, "good")
    assert "async failure" in caplog.text


def test_asend_propagates() -> None:
    sig = Signal("s")

    async def bad(sender: Any, **kw: Any) -> None:
        raise Boom

    sig.connect(bad)
    with pytest.raises(Boom):
        asyncio.run(sig.asend(Sender))


@pytest.mark.parametrize(
    "exc", [asyncio.CancelledError, KeyboardInterrupt, SystemExit], ids=lambda e: e.__name__
)
def test_asend_robust_does_not_swallow_base_exceptions(exc: type[BaseException]) -> None:
    sig = Signal("s")
    log: list[str] = []

    async def raiser(sender: Any, **kw: Any) -> None:
        raise exc

    sig.connect(raiser)
    sig.connect(make_receiver(log, "after"))

    async def main() -> None:
        await sig.asend_robust(Sender)

    with pytest.raises(exc):
        asyncio.run(main())
    assert log == []


def test_send_robust_does_not_swallow_keyboard_interrupt() -> None:
    sig = Signal("s")

    def r(sender: Any, **kw: Any) -> None:
        raise KeyboardInterrupt

    sig.connect(r)
    with pytest.raises(KeyboardInterrupt):
        sig.send_robust(Sender)


# -- async receivers through send ------------------------------------------


def test_send_runs_async_receiver_to_completion_without_a_loop() -> None:
    sig, done = Signal("s"), []

    async def r(sender: Any, **kw: Any) -> str:
        await asyncio.sleep(0.001)
        done.append(asyncio.get_running_loop())
        return "awaited"

    sig.connect(r)
    assert sig.send(Sender) == [(r, "awaited")]
    assert len(done) == 1
    assert done[0].is_closed()


def test_send_async_receivers_share_one_loop_per_send() -> None:
    sig, loops = Signal("s"), []

    async def r1(sender: Any, **kw: Any) -> None:
        loops.append(asyncio.get_running_loop())

    async def r2(sender: Any, **kw: Any) -> None:
        loops.append(asyncio.get_running_loop())

    sig.connect(r1)
    sig.connect(r2)
    sig.send(Sender)
    assert len(loops) == 2
    assert loops[0] is loops[1]


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_send_with_async_receiver_inside_running_loop_raises(method: str) -> None:
    sig = Signal("s")

    async def r(sender: Any, **kw: Any) -> None:
        pass

    sig.connect(r)

    async def main() -> None:
        with pytest.raises(RuntimeError, match=r"use 'await signal\.asend"):
            getattr(sig, method)(Sender)

    asyncio.run(main())


def test_send_with_only_sync_receivers_works_inside_running_loop() -> None:
    sig = Signal("s")
    log: list[str] = []
    sig.connect(make_receiver(log, "sync"), weak=False)

    async def main() -> None:
        sig.send(Sender)

    asyncio.run(main())
    assert log == ["sync"]


async def _async_fn(sender: Any, **kw: Any) -> str:
    return "ok"


class AsyncCallable:
    async def __call__(self, sender: Any, **kw: Any) -> str:
        return "called"


class SyncCallable:
    def __call__(self, sender: Any, **kw: Any) -> str:
        return "called"


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        pytest.param(_async_fn, True, id="async-def"),
        pytest.param(functools.partial(_async_fn), True, id="partial-of-async"),
        pytest.param(functools.partial(functools.partial(_async_fn)), True, id="nested-partial"),
        pytest.param(AsyncCallable(), True, id="async-__call__"),
        pytest.param(functools.partial(AsyncCallable()), True, id="partial-of-async-__call__"),
        pytest.param(SyncCallable(), False, id="sync-__call__"),
        pytest.param(len, False, id="builtin"),
        pytest.param(lambda sender: None, False, id="lambda"),
        pytest.param(SyncCallable, False, id="class"),
    ],
)
def test_async_detection(fn: Any, expected: bool) -> None:
    assert is_async_callable(fn) is expected


@pytest.mark.parametrize(
    "fn",
    [
        pytest.param(functools.partial(_async_fn), id="partial"),
        pytest.param(AsyncCallable(), id="async-__call__"),
    ],
)
def test_send_awaits_async_receivers_seen_through_wrappers(fn: Any) -> None:
    sig = Signal("s")
    sig.connect(fn, weak=False)
    [(_, result)] = sig.send(Sender)
    assert result in ("ok", "called")


# -- the snapshot rule --------------------------------------------------------


@pytest.mark.parametrize("method", ["send", "send_robust", "asend"])
def test_receiver_disconnected_during_a_send_is_still_called_that_once(method: str) -> None:
    sig = Signal("s")
    log: list[str] = []

    def b(sender: Any, **kw: Any) -> None:
        log.append("b")

    def a(sender: Any, **kw: Any) -> None:
        log.append("a")
        sig.disconnect(b)

    sig.connect(a)
    sig.connect(b)
    call = getattr(sig, method)
    if method == "asend":
        asyncio.run(call(Sender))
        asyncio.run(call(Sender))
    else:
        call(Sender)
        call(Sender)
    assert log == ["a", "b", "a"]


def test_receiver_connected_during_a_send_is_called_from_the_next_send() -> None:
    sig = Signal("s")
    log: list[str] = []
    late = make_receiver(log, "late")

    def a(sender: Any, **kw: Any) -> None:
        log.append("a")
        sig.connect(late)

    sig.connect(a)
    sig.send(Sender)
    assert log == ["a"]
    sig.send(Sender)
    assert log == ["a", "a", "late"]


# -- has_listeners ------------------------------------------------------------


def test_has_listeners_false_after_disconnect() -> None:
    sig = Signal("s")
    r = make_receiver([], "r")
    assert not sig.has_listeners()
    sig.connect(r, sender=Sender)
    assert sig.has_listeners()
    assert sig.has_listeners(Sender)
    assert not sig.has_listeners("someone else")
    sig.disconnect(r, sender=Sender)
    assert not sig.has_listeners(Sender)
    assert not sig.has_listeners()


def test_has_listeners_false_after_collection() -> None:
    sig = Signal("s")
    r = make_receiver([], "r")
    sig.connect(r, sender=Sender)
    assert sig.has_listeners(Sender)
    del r
    gc.collect()
    assert not sig.has_listeners(Sender)
    assert not sig.has_listeners()


def test_has_listeners_counts_any_sender_receivers() -> None:
    sig = Signal("s")
    r = make_receiver([], "r")
    sig.connect(r)
    assert sig.has_listeners(Sender)
    assert sig.has_listeners("anything")


# -- threads ------------------------------------------------------------------


def test_threads_connecting_and_sending_lose_nothing() -> None:
    sig = Signal("threads")
    rounds = 300
    permanent_log: list[int] = []
    lock = threading.Lock()

    def permanent(sender: Any, **kw: Any) -> None:
        with lock:
            permanent_log.append(1)

    sig.connect(permanent)
    errors: list[BaseException] = []
    keepers: list[list[Any]] = [[] for _ in range(8)]
    start = threading.Barrier(16)

    def churn(i: int) -> None:
        try:
            start.wait()
            for n in range(rounds):
                temp = make_receiver([], f"t{i}-{n}")
                sig.connect(temp, weak=False)
                kept = make_receiver([], f"k{i}-{n}")
                if n % 10 == 0:
                    sig.connect(kept, weak=False)
                    keepers[i].append(kept)
                assert sig.disconnect(temp) is True
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    sends = [0] * 8

    def sender(i: int) -> None:
        try:
            start.wait()
            for _ in range(rounds):
                sig.send(Sender, n=1)
                sends[i] += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(i,)) for i in range(8)]
    threads += [threading.Thread(target=sender, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(permanent_log) == sum(sends) == 8 * rounds
    expected = [permanent] + [k for ks in keepers for k in ks]
    assert set(map(id, sig.receivers)) == set(map(id, expected))
    assert len(sig.receivers) == 1 + 8 * (rounds // 10)


# -- test helpers: connected_to and muted -------------------------------------


def test_connected_to_connects_for_the_block_only() -> None:
    sig = Signal("s")
    log: list[str] = []
    r = make_receiver(log, "r")
    with sig.connected_to(r):
        sig.send(Sender)
    sig.send(Sender)
    assert log == ["r"]
    assert sig.receivers == []


def test_connected_to_disconnects_when_the_block_raises() -> None:
    sig = Signal("s")
    r = make_receiver([], "r")
    with pytest.raises(Boom), sig.connected_to(r):
        raise Boom
    assert not sig.has_listeners()


def test_connected_to_holds_the_receiver_strongly() -> None:
    sig = Signal("s")
    log: list[str] = []
    with sig.connected_to(lambda sender, **kw: log.append("lambda")):
        gc.collect()
        sig.send(Sender)
    assert log == ["lambda"]


def test_connected_to_keeps_an_existing_connection() -> None:
    sig = Signal("s")
    r = make_receiver([], "r")
    sig.connect(r)
    with sig.connected_to(r):
        pass
    assert sig.receivers == [r]


def test_connected_to_with_sender() -> None:
    sig = Signal("s")
    log: list[str] = []
    with sig.connected_to(make_receiver(log, "r"), sender="only"):
        sig.send("other")
        sig.send("only")
    assert log == ["r"]


def test_muted_silences_every_thread_for_the_block() -> None:
    sig = Signal("s")
    log: list[str] = []
    sig.connect(make_receiver(log, "r"), weak=False)
    with sig.muted():
        sig.send(Sender)
        sig.send_robust(Sender)
        asyncio.run(sig.asend(Sender))
        asyncio.run(sig.asend_robust(Sender))
        t = threading.Thread(target=sig.send, args=(Sender,))
        t.start()
        t.join()
        assert not sig.has_listeners()
        sig.connect(make_receiver(log, "during"), weak=False)
        sig.send(Sender)
    assert log == []
    sig.send(Sender)
    assert log == ["r", "during"]


# -- the decorator --------------------------------------------------------------


def test_receiver_decorator_connects_and_returns_the_function() -> None:
    sig = Signal("s")

    @receiver(sig)
    def handler(sender: Any, **kw: Any) -> str:
        return "handled"

    assert sig.send(Sender) == [(handler, "handled")]


def test_receiver_decorator_with_list_sender_and_uid() -> None:
    a, b = Signal("a"), Signal("b")
    log: list[str] = []

    @receiver([a, b], sender=Sender, dispatch_uid="one")
    def handler(signal: Signal, sender: Any, **kw: Any) -> None:
        log.append(str(signal.name))

    @receiver([a, b], sender=Sender, dispatch_uid="one")
    def duplicate(signal: Signal, sender: Any, **kw: Any) -> None:  # pragma: no cover
        log.append("dup")

    a.send(Sender)
    b.send(Sender)
    a.send("other")
    assert log == ["a", "b"]


# -- repr and docs ----------------------------------------------------------------


def test_repr_and_doc() -> None:
    named = Signal("paid", doc="Sent when paid.")
    assert repr(named) == "<Signal 'paid'>"
    assert named.__doc__ == "Sent when paid."
    assert repr(Signal()).startswith("<Signal at 0x")


def test_subclass_overriding_send_keeps_its_override() -> None:
    class Counting(Signal):
        calls = 0

        def send(self, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
            Counting.calls += 1
            return super().send(sender, **named)

    sig = Counting("c")
    sig.send(Sender)
    assert Counting.calls == 1
