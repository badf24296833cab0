"""The signal dispatcher: :class:`Signal` and the :func:`receiver` decorator.

The API is Django's (``connect``/``disconnect``/``send``/``send_robust``/``asend``),
with ordering, weak references and async receivers made exact:

* receivers run one at a time in the order they were connected, sync and async alike;
* sending is lock-free: ``connect``/``disconnect`` swap an immutable tuple under a
  lock, ``send`` reads whatever tuple is current when it starts (its snapshot);
* receivers and senders are held weakly where they can be, and a weakref callback
  never takes the lock (the garbage collector may run it while the lock is held).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple, TypeVar

from .types import Receiver

__all__ = ["Signal", "receiver"]

logger = logging.getLogger("reqsignals")

F = TypeVar("F", bound=Callable[..., Any])

#: Senders of these exact types are matched by value; all others by identity.
_VALUE_TYPES = frozenset({str, int, bytes})


class _Any:
    """Marker for "no sender given" in :meth:`Signal.has_listeners`."""

    def __repr__(self) -> str:
        return "<any sender>"


_ANY_SENDER: Any = _Any()
#: Sender key of a receiver connected with ``sender=None``: it hears every sender.
_EVERY = ("every",)

# A plan is what a send iterates for one sender, built once and cached, as
# (mode, items, calls). `items` is what the mode says:
_STRONG = 0  # items: tuple of callables (all strong, all sync)
_WEAK = 1  # items: tuple of weak references (all weak, all sync)
_MIXED = 2  # items: () (async receivers, or weak and strong mixed: use `calls`)
# `calls` holds the same receivers, whatever the mode, as (receiver or weak
# reference, weak, is_async) triples: one loop that handles all of them. Every send
# dereferences a weak receiver when its turn comes, so one collected during the
# send (by an earlier receiver dropping the last reference) is skipped.


_Plan = tuple[int, tuple[Any, ...], tuple[tuple[Any, bool, bool], ...]]


class _Entry(NamedTuple):
    """One connection, immutable. ``target`` is the receiver or a weak reference to it."""

    lookup: tuple[Any, Any]
    target: Any
    weak: bool
    is_async: bool
    sender_key: Any
    # None for "every sender" and value senders; a weakref or the sender itself otherwise.
    sender_ref: Any


def _unwrap_partial(fn: Any) -> Any:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def is_async_callable(fn: Any) -> bool:
    """True if calling *fn* returns an awaitable it expects to be awaited.

    Sees through :func:`functools.partial` and objects whose ``__call__`` is
    ``async def``.
    """
    fn = _unwrap_partial(fn)
    if inspect.iscoroutinefunction(fn):
        return True
    if inspect.isfunction(fn) or inspect.ismethod(fn) or inspect.isbuiltin(fn):
        return False
    call = getattr(type(fn), "__call__", None)  # noqa: B004 - the type's __call__, not fn's
    return call is not None and inspect.iscoroutinefunction(call)


def _accepts_kwargs(fn: Any) -> bool:
    """Whether *fn* takes ``**kwargs`` (True when its signature cannot be read)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def _receiver_id(fn: Any) -> Any:
    # A bound method is a new object on every attribute access: key it by its parts.
    if inspect.ismethod(fn):
        return (id(fn.__self__), id(fn.__func__))
    return id(fn)


def _sender_key(sender: Any) -> Any:
    if type(sender) in _VALUE_TYPES:
        # Tagged so that an int sender can never equal the id() of an object.
        return (type(sender), sender)
    return id(sender)


def _alive(entry: _Entry) -> bool:
    if entry.weak and entry.target() is None:
        return False
    ref = entry.sender_ref
    return not (isinstance(ref, weakref.ref) and ref() is None)


class Signal:
    """A named event that receivers can connect to and senders can send.

    Args:
        name: a name for ``repr`` and log messages.
        doc: the documentation of the signal: when it is sent and its keyword arguments.

    Example::

        order_paid = Signal("order_paid", doc="Sent with order=... once payment clears.")

        @receiver(order_paid)
        def email_receipt(sender, order, **kwargs):
            ...

        order_paid.send(Shop, order=order)
    """

    def __init__(self, name: str | None = None, *, doc: str | None = None) -> None:
        self.name = name
        if doc is not None:
            self.__doc__ = doc
        self._lock = threading.Lock()
        # The source of truth, replaced (never mutated) under the lock.
        self._receivers: tuple[_Entry, ...] = ()
        # What send() reads: _receivers, or () while muted.
        self._live: tuple[_Entry, ...] = ()
        # sender key -> plan; replaced by a new dict whenever _live changes or
        # a receiver or sender dies. Always assigned *after* _live, and read by
        # send() *before* _live, so no send can store a plan from a stale tuple.
        self._cache: dict[Any, _Plan] = {}
        self._muted = 0
        self._dead = False

    def __repr__(self) -> str:
        return f"<Signal {self.name!r}>" if self.name else f"<Signal at {id(self):#x}>"

    # -- connecting --------------------------------------------------------

    def connect(
        self,
        receiver: F,
        sender: Any = None,
        weak: bool = True,
        dispatch_uid: str | None = None,
    ) -> F:
        """Connect *receiver* to this signal and return it (usable as a decorator).

        Args:
            receiver: a callable taking ``sender`` and ``**kwargs``; plain or ``async def``.
            sender: only hear sends from this sender (``None``: every sender). Objects are
                matched by identity; ``str``, ``int`` and ``bytes`` by value.
            weak: hold the receiver by weak reference (the default), so connecting does
                not keep it alive. A closure or lambda defined inside a function is
                collected when that function returns: connect those with ``weak=False``.
            dispatch_uid: a unique name for this connection; a second connect with the
                same name and sender is ignored, whatever the receiver.

        Raises:
            TypeError: *receiver* is not callable, or cannot be weakly referenced and
                ``weak=False`` was not given.
        """
        if not callable(receiver):
            raise TypeError(f"{self!r}.connect() needs a callable receiver, got {receiver!r}")
        if not _accepts_kwargs(receiver):
            # It would fail on every send (and send_robust would only log it): say so now.
            raise TypeError(
                f"{receiver!r} cannot take keyword arguments: signal receivers are called "
                "as receiver(signal=..., sender=..., **kwargs), so add **kwargs to its "
                "parameters"
            )
        lookup = (dispatch_uid or _receiver_id(receiver), self._key_for_connect(sender))
        target: Any = receiver
        if weak:
            try:
                if inspect.ismethod(receiver):
                    target = weakref.WeakMethod(receiver, self._on_death)
                else:
                    target = weakref.ref(receiver, self._on_death)
            except TypeError:
                raise TypeError(
                    f"{receiver!r} cannot be weakly referenced; "
                    "connect it with weak=False to keep a strong reference"
                ) from None
        sender_ref: Any = None
        if sender is not None and type(sender) not in _VALUE_TYPES:
            try:
                sender_ref = weakref.ref(sender, self._on_death)
            except TypeError:
                sender_ref = sender  # not weakly referenceable: held, so its id stays unique
        entry = _Entry(lookup, target, weak, is_async_callable(receiver), lookup[1], sender_ref)
        with self._lock:
            current = self._purged()
            if not any(e.lookup == lookup for e in current):
                current = (*current, entry)
            self._publish(current)
        return receiver

    def disconnect(
        self,
        receiver: Receiver | None = None,
        sender: Any = None,
        dispatch_uid: str | None = None,
    ) -> bool:
        """Disconnect a receiver, found by *dispatch_uid* or by identity, from *sender*.

        Returns:
            True if a connection was removed, False if there was none.
        """
        if dispatch_uid is None and receiver is None:
            raise TypeError("disconnect() needs a receiver or a dispatch_uid")
        lookup = (dispatch_uid or _receiver_id(receiver), self._key_for_connect(sender))
        with self._lock:
            current = self._purged()
            kept = tuple(e for e in current if e.lookup != lookup)
            self._publish(kept)
        return len(kept) != len(current)

    @staticmethod
    def _key_for_connect(sender: Any) -> Any:
        return _EVERY if sender is None else _sender_key(sender)

    def _purged(self) -> tuple[_Entry, ...]:
        # Called under the lock only.
        if self._dead:
            self._dead = False
            return tuple(e for e in self._receivers if _alive(e))
        return self._receivers

    def _publish(self, receivers: tuple[_Entry, ...]) -> None:
        # Called under the lock only. Order matters: see __init__.
        self._receivers = receivers
        self._live = () if self._muted else receivers
        self._cache = {}

    def _on_death(self, _ref: object) -> None:
        # Runs inside the garbage collector, maybe while this thread holds the lock:
        # flag the purge for the next connect/disconnect and drop the cached plans.
        self._dead = True
        self._cache = {}

    # -- looking up --------------------------------------------------------

    def _plan(self, sender: Any) -> _Plan:
        cache = self._cache
        key = _sender_key(sender)
        plan = cache.get(key)
        if plan is None:
            entries = tuple(
                e for e in self._live if (e.sender_key is _EVERY or e.sender_key == key)
            )
            entries = tuple(e for e in entries if _alive(e))
            calls = tuple((e.target, e.weak, e.is_async) for e in entries)
            if any(e.is_async for e in entries) or len({e.weak for e in entries}) > 1:
                plan = (_MIXED, (), calls)
            elif entries and entries[0].weak:
                plan = (_WEAK, tuple(e.target for e in entries), calls)
            else:
                plan = (_STRONG, tuple(e.target for e in entries), calls)
            cache[key] = plan
        return plan

    def has_listeners(self, sender: Any = _ANY_SENDER) -> bool:
        """Whether a send would call anything.

        With *sender*, true only if a live receiver would be called by ``send(sender)``;
        with no argument, true if any live receiver is connected. False while muted.
        """
        if not self._live:
            return False
        if sender is _ANY_SENDER:
            return any(_alive(e) for e in self._live)
        return any(not weak or fn() is not None for fn, weak, _ in self._plan(sender)[2])

    @property
    def receivers(self) -> list[Receiver]:
        """The live receivers, in connection order (for introspection and tests)."""
        out = []
        for e in self._receivers:
            if _alive(e):
                out.append(e.target() if e.weak else e.target)
        return out

    # -- sending -----------------------------------------------------------

    def send(self, sender: Any, /, **named: Any) -> list[tuple[Receiver, Any]]:
        """Call every receiver for *sender*, in order, and return ``[(receiver, result)]``.

        Receivers are called as ``receiver(signal=self, sender=sender, **named)``. An
        exception from a receiver propagates and the later receivers are not called.
        Async receivers are run to completion, in order, on one event loop made for
        this send.

        Raises:
            RuntimeError: an async receiver is connected and an event loop is running
                in this thread; use ``await signal.asend(...)`` there.
        """
        if not self._live:
            return []
        # `_sender_key()` is inlined, and plain loops beat list comprehensions
        # (which build a frame on 3.10/3.11).
        key = (type(sender), sender) if type(sender) in _VALUE_TYPES else id(sender)
        mode, items, _ = self._cache.get(key) or self._plan(sender)
        out = []
        if mode == _STRONG:
            for r in items:
                out.append((r, r(signal=self, sender=sender, **named)))
            return out
        if mode == _WEAK:
            for ref in items:
                r = ref()
                if r is not None:
                    out.append((r, r(signal=self, sender=sender, **named)))
            return out
        return self._send_mixed(sender, named, robust=False)

    def send_robust(self, sender: Any, /, **named: Any) -> list[tuple[Receiver, Any]]:
        """Like :meth:`send`, but an ``Exception`` from a receiver is caught.

        Each failure is logged on the ``reqsignals`` logger with its traceback and
        returned as ``(receiver, exception)``; the other receivers still run.

        Raises:
            RuntimeError: as :meth:`send`, for async receivers inside a running loop.
        """
        if not self._live:
            return []
        key = (type(sender), sender) if type(sender) in _VALUE_TYPES else id(sender)
        mode, items, _ = self._cache.get(key) or self._plan(sender)
        if mode == _MIXED:
            return self._send_mixed(sender, named, robust=True)
        out = []
        for item in items:
            if mode == _WEAK:
                r = item()
                if r is None:
                    continue
            else:
                r = item
            try:
                result = r(signal=self, sender=sender, **named)
            except Exception as exc:
                self._log_failure(r, exc, "send_robust")
                result = exc
            out.append((r, result))
        return out

    def _send_mixed(
        self, sender: Any, named: dict[str, Any], *, robust: bool
    ) -> list[tuple[Receiver, Any]]:
        calls = self._plan(sender)[2]
        loop: asyncio.AbstractEventLoop | None = None
        if any(is_async for _, _, is_async in calls):
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                loop = asyncio.new_event_loop()
            else:
                raise RuntimeError(
                    f"{self!r} has async receivers and an event loop is running in this "
                    f"thread: use 'await signal.asend{'_robust' if robust else ''}(...)' "
                    "instead of send"
                )
        out: list[tuple[Receiver, Any]] = []
        try:
            for fn, weak, is_async in calls:
                if weak:
                    fn = fn()
                    if fn is None:
                        continue  # collected since the send began
                try:
                    result = fn(signal=self, sender=sender, **named)
                    if is_async:
                        assert loop is not None
                        result = loop.run_until_complete(result)
                except Exception as exc:
                    if not robust:
                        raise
                    self._log_failure(fn, exc, "send_robust")
                    result = exc
                out.append((fn, result))
        finally:
            if loop is not None:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
        return out

    async def asend(self, sender: Any, /, **named: Any) -> list[tuple[Receiver, Any]]:
        """Call every receiver for *sender*, in order, awaiting the async ones.

        Sync receivers are called inline on the event loop, so keep them quick and
        non-blocking. An exception propagates as in :meth:`send`.
        """
        if not self._live:
            return []
        key = (type(sender), sender) if type(sender) in _VALUE_TYPES else id(sender)
        out: list[tuple[Receiver, Any]] = []
        for fn, weak, is_async in (self._cache.get(key) or self._plan(sender))[2]:
            if weak:
                fn = fn()
                if fn is None:
                    continue  # collected since the send began
            result = fn(signal=self, sender=sender, **named)
            if is_async:
                result = await result
            out.append((fn, result))
        return out

    async def asend_robust(self, sender: Any, /, **named: Any) -> list[tuple[Receiver, Any]]:
        """Like :meth:`asend`, but each ``Exception`` is logged and returned.

        ``asyncio.CancelledError`` and other ``BaseException``s are not caught.
        """
        if not self._live:
            return []
        key = (type(sender), sender) if type(sender) in _VALUE_TYPES else id(sender)
        out: list[tuple[Receiver, Any]] = []
        for fn, weak, is_async in (self._cache.get(key) or self._plan(sender))[2]:
            if weak:
                fn = fn()
                if fn is None:
                    continue  # collected since the send began
            try:
                result = fn(signal=self, sender=sender, **named)
                if is_async:
                    result = await result
            except Exception as exc:
                self._log_failure(fn, exc, "asend_robust")
                result = exc
            out.append((fn, result))
        return out

    def _log_failure(self, fn: Receiver, exc: Exception, method: str) -> None:
        logger.error(
            "Error calling %s in %r.%s()",
            getattr(fn, "__qualname__", repr(fn)),
            self,
            method,
            exc_info=(type(exc), exc, exc.__traceback__),
        )

    # -- test helpers ------------------------------------------------------

    @contextmanager
    def connected_to(self, receiver: Receiver, sender: Any = None) -> Iterator[Receiver]:
        """Connect *receiver* (strongly) for the ``with`` block, then disconnect it.

        It is disconnected even if the block raises. A receiver that was already
        connected before the block stays connected after it.
        """
        was_connected = any(
            e.lookup == (_receiver_id(receiver), self._key_for_connect(sender)) and _alive(e)
            for e in self._receivers
        )
        self.connect(receiver, sender=sender, weak=False)
        try:
            yield receiver
        finally:
            if not was_connected:
                self.disconnect(receiver, sender=sender)

    @contextmanager
    def muted(self) -> Iterator[None]:
        """Silence this signal, in every thread, for the ``with`` block."""
        with self._lock:
            self._muted += 1
            self._publish(self._receivers)
        try:
            yield
        finally:
            with self._lock:
                self._muted -= 1
                self._publish(self._receivers)


def receiver(
    signal: Signal | Sequence[Signal],
    sender: Any = None,
    weak: bool = True,
    dispatch_uid: str | None = None,
) -> Callable[[F], F]:
    """Decorator: connect the decorated function to *signal* (or to each of a list).

    Example::

        @receiver([user_logged_in, user_logged_out], dispatch_uid="audit")
        def audit(sender, request, user, **kwargs):
            ...
    """
    signals = [signal] if isinstance(signal, Signal) else list(signal)
    if not signals or not all(isinstance(s, Signal) for s in signals):
        raise TypeError(
            f"@receiver() takes a Signal or a list of Signals, got {signal!r}: "
            "for example @receiver(request_finished)"
        )

    def decorator(fn: F) -> F:
        for s in signals:
            s.connect(fn, sender=sender, weak=weak, dispatch_uid=dispatch_uid)
        return fn

    return decorator


receiver_failed = Signal(
    "receiver_failed",
    doc="""Sent when a robust send or a middleware catches a receiver's exception.

    The failure is logged on the ``reqsignals`` logger first. ``sender`` is the signal
    whose receiver failed. Keyword arguments: ``receiver`` (the callable that raised)
    and ``exception``. A failure of a ``receiver_failed`` receiver is logged only, never
    sent again. With no receiver connected it costs nothing.
    """,
)
