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
import builtins
import functools
import inspect
import itertools
import keyword
import logging
import threading
import types
import weakref
from collections.abc import Awaitable, Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple, TypeVar

from .types import Receiver

__all__ = ["ReceiverFailures", "Signal", "receiver"]

logger = logging.getLogger("reqsignals")

F = TypeVar("F", bound=Callable[..., Any])
_T = TypeVar("_T")

#: Senders of these exact types are matched by value; all others by identity.
_VALUE_TYPES = frozenset({str, int, bytes})


class _Any:
    """Marker for "no sender given" (Signal.has_listeners, Signal.emitter)."""

    def __repr__(self) -> str:
        return "<any sender>"


_ANY_SENDER: Any = _Any()
#: Sender key of a receiver connected with ``sender=None``: it hears every sender.
_EVERY = ("every",)

# A plan is what a send walks for one sender, built once and cached: the receivers as
# (receiver or weak reference, weak, is_async) triples; whether any is async; and, for
# an emitter's walk (Signal.emitter), one getter per receiver: its weak reference, or
# for a strongly held receiver a callable returning it (`itertools.repeat(r).__next__`,
# a C method: as cheap to call as a weak reference), so that one loop serves both.
# Every send dereferences a weak receiver when its turn comes, so one collected
# during the send (by an earlier receiver dropping the last reference) is skipped.
_Plan = tuple[tuple[tuple[Any, bool, bool], ...], bool, tuple[Callable[[], Any], ...]]
_NO_PLAN: _Plan = ((), False, ())


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


class _SignalType(type):
    """The type of :class:`Signal`: tells every emitter when ``send_fast`` is wrapped
    or unwrapped on a class (see :meth:`Signal.emitter`)."""

    def __setattr__(cls, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "send_fast":
            _forget_emitters()

    def __delattr__(cls, name: str) -> None:
        super().__delattr__(name)
        if name == "send_fast":
            _forget_emitters()


class Signal(metaclass=_SignalType):
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

    Attributes:
        name: the name given.
        active: ``False`` while no receiver is connected or the signal is muted; a plain
            attribute, the cheap test (blinker's ``bool(signal.receivers)``) a hot path
            makes before it prepares a send's arguments. It may stay ``True`` for a
            moment after the last weakly held receiver was collected; sends then find
            nothing to call.
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
        self.active = False
        # names -> that names tuple's emitter (Signal.emitter), and (names, True) -> its
        # awaited one (no tuple of names equals that: its items are strings)
        self._emitters: dict[Any, _Emitter] = {}

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
        self.active = bool(self._live)
        self._forget()

    def _on_death(self, _ref: object) -> None:
        # Runs inside the garbage collector, maybe while this thread holds the lock:
        # flag the purge for the next connect/disconnect and drop the cached plans.
        self._dead = True
        self._cache = {}
        self._forget()

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
            getters = tuple(
                e.target if e.weak else itertools.repeat(e.target).__next__ for e in entries
            )
            plan = cache[key] = (calls, any(e.is_async for e in entries), getters)
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
        return any(not weak or fn() is not None for fn, weak, _ in self._plan(sender)[0])

    @property
    def receivers(self) -> list[Receiver]:
        """The live receivers, in connection order (for introspection and tests)."""
        out = []
        for e in self._receivers:
            if _alive(e):
                out.append(e.target() if e.weak else e.target)
        return out

    # -- sending -----------------------------------------------------------
    #
    # Every send goes through one of the walkers that _walker() writes (see there),
    # so the order, the weak references, the async receivers and the failures are
    # handled in that one place.

    def send(self, sender: Any, **named: Any) -> list[tuple[Receiver, Any]]:
        """Call every receiver for *sender*, in order, and return ``[(receiver, result)]``.

        Receivers are called as ``receiver(signal=self, sender=sender, **named)``.
        *sender* may be given by keyword (``send(sender=Model, ...)``), as in Django.
        An exception from a receiver propagates and the later receivers are not called.
        Async receivers are run to completion, in order, on one event loop made for
        this send.

        Raises:
            RuntimeError: an async receiver is connected and an event loop is running
                in this thread; use ``await signal.asend(...)`` there.
        """
        if not self._live:
            return []
        key = (type(sender), sender) if type(sender) in _VALUE_TYPES else id(sender)
        calls, awaits, _ = self._cache.get(key) or self._plan(sender)
        if awaits:
            return self._run_sync(_SEND, calls, sender, named, "send")
        return _SEND(self, calls, sender, named)

    def send_robust(self, sender: Any, **named: Any) -> list[tuple[Receiver, Any]]:
        """Like :meth:`send`, but an ``Exception`` from a receiver is caught.

        Each failure is logged on the ``reqsignals`` logger with its traceback, then
        sent as :data:`receiver_failed`, and returned as ``(receiver, exception)``;
        the other receivers still run.

        Raises:
            RuntimeError: as :meth:`send`, for async receivers inside a running loop.
        """
        if not self._live:
            return []
        key = (type(sender), sender) if type(sender) in _VALUE_TYPES else id(sender)
        calls, awaits, _ = self._cache.get(key) or self._plan(sender)
        if awaits:
            return self._run_sync(_SEND_ROBUST, calls, sender, named, "send_robust")
        return _SEND_ROBUST(self, calls, sender, named)

    async def asend(self, sender: Any, **named: Any) -> list[tuple[Receiver, Any]]:
        """Call every receiver for *sender*, in order, awaiting the async ones.

        Sync receivers are called inline on the event loop, so keep them quick and
        non-blocking. An exception propagates as in :meth:`send`.
        """
        if not self._live:
            return []
        key = (type(sender), sender) if type(sender) in _VALUE_TYPES else id(sender)
        return await _ASEND(self, (self._cache.get(key) or self._plan(sender))[0], sender, named)

    async def asend_robust(self, sender: Any, **named: Any) -> list[tuple[Receiver, Any]]:
        """Like :meth:`asend`, but each ``Exception`` is logged, sent as
        :data:`receiver_failed` and returned.

        ``asyncio.CancelledError`` and other ``BaseException``s are not caught.
        """
        if not self._live:
            return []
        key = (type(sender), sender) if type(sender) in _VALUE_TYPES else id(sender)
        calls = (self._cache.get(key) or self._plan(sender))[0]
        return await _ASEND_ROBUST(self, calls, sender, named)

    def send_fast(
        self, sender: Any, names: tuple[str, ...], /, *values: Any
    ) -> Awaitable[None] | None:
        """Send for hot paths: :meth:`send_robust` without results or a keyword dict.

        The keyword arguments come as a tuple of their *names* (a constant at the call
        site) and their *values* in that order: ``request_finished.send_fast(app,
        ("scope", "status"), scope, 200)`` calls each receiver as ``receiver(signal=...,
        sender=app, scope=scope, status=200)``, with the keywords spelled out (from a
        small function written once per tuple of names), where :meth:`send_robust` would
        build and spread a dictionary for every send and every receiver. Receivers
        run in order and a failure is logged and sent as :data:`receiver_failed`, as in
        :meth:`send_robust`.

        What it gives up: the results (it returns ``None``); ``strict`` behaviour (use
        :meth:`send` to see exceptions); and, when an async receiver is connected and an
        event loop runs in this thread, calling anything itself: it then returns an
        awaitable that calls every receiver in order, which the caller must await (the
        middlewares do, in the request's task). The same holds for the failures of sync
        receivers when :data:`receiver_failed` has async receivers: it returns them as
        :class:`ReceiverFailures`, to await. With no event loop running, async receivers
        are run on one made for the send, as :meth:`send` does.

        Every send of the middlewares, and of every :meth:`emitter`, goes through this
        method whenever it is wrapped (see :meth:`emitter`), so whatever wraps it
        observes every request signal. With no receiver it calls nothing.
        """
        return self._emitter_for(names).send(sender, values)

    def emitter(
        self, names: tuple[str, ...], *, sender: Any = _ANY_SENDER, awaited: bool = False
    ) -> Callable[..., Awaitable[None] | None]:
        """The function a hot path sends with: ``emit(sender, *values)``.

        ``emit = request_finished.emitter(("scope", "status"))`` returns a function such
        that ``emit(app, scope, 200)`` sends exactly as ``request_finished.send_fast(app,
        ("scope", "status"), scope, 200)`` does, and returns what it returns, for one
        Python call less: the emitter is written for its *names* and calls the receivers
        itself. The middlewares make theirs once, at import.

        It remembers the receivers of its last sender, so a hot path that sends from one
        sender finds them again with a few reads (that keeps the last sender referenced
        until a send from another; a middleware's sender is its app, which lives as long
        anyway). Connecting, disconnecting or the death of a receiver is seen by the
        next send. One emitter exists per signal, tuple of names and *awaited*: asking
        again returns the same function.

        With *sender*, an emitter for that one sender: ``emit(*values)``, which sends
        as ``emit(sender, *values)`` would, for fewer reads per send (it has no sender
        to compare with the last). Each call makes a new one, which holds *sender*
        for as long as it is kept: a hot path whose sender is fixed (the ASGI
        middleware's) keeps one and makes another when its sender changes.

        With ``awaited=True``, an emitter for a caller that awaits whatever it returns
        (a coroutine: the ASGI middleware's): with async receivers connected it returns
        the awaitable that calls the receivers whether or not an event loop runs in this
        thread, where the others first look for a running loop (a C call, on every send
        that has async receivers) and, finding none, run them on one made for the send.
        It sends as the others do in every other way; with sync receivers only it is the
        same. What it gives up: use by sync code, which cannot await.

        Observing: while :meth:`send_fast` is wrapped, on the class (``Signal.send_fast
        = wrapper``, ``monkeypatch.setattr``, ``mock.patch.object``) or on the signal,
        or overridden by a subclass, every emitter sends through it, so a test fixture
        or a tracer that wraps it sees every send. Emitters notice the wrapping, and its
        removal, at once; unwrapped, they cost nothing for it.

        Raises:
            TypeError: *names* is not a tuple of distinct identifiers other than
                ``signal`` and ``sender``.
        """
        emitter = self._emitter_for(names, bool(awaited))
        if sender is _ANY_SENDER:
            return emitter.emit
        return emitter.bind(sender).emit

    def _emitter_for(self, names: tuple[str, ...], awaited: bool = False) -> _Emitter:
        key = (names, True) if awaited else names
        emitter = self._emitters.get(key) if type(names) is tuple else None
        if emitter is None:
            emitter = _Emitter(self, names, awaited)  # checks the names
            emitter = self._emitters.setdefault(key, emitter)
            _WITH_EMITTERS.add(self)
        return emitter

    def _observed(self) -> bool:
        """Whether send_fast is wrapped (on the class or this signal) or overridden."""
        # Not `self.__dict__`: reading it once makes every later attribute read of
        # this signal slower (CPython 3.11 then keeps its attributes in a real dict).
        return getattr(self.send_fast, "__func__", None) is not _SEND_FAST

    def _forget(self) -> None:
        """The plans changed: this signal's emitters look again on their next send."""
        for emitter in list(self._emitters.values()):
            emitter.forget()

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name == "send_fast":
            _forget_emitters()

    def __delattr__(self, name: str) -> None:
        object.__delattr__(self, name)
        if name == "send_fast":
            _forget_emitters()

    def _run_sync(
        self, walk: Callable[..., _T], calls: Any, sender: Any, arguments: Any, method: str
    ) -> _T:
        """Run a sync walker over *calls* that include async receivers, on a new loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            robust = "_robust" if method == "send_robust" else ""
            raise RuntimeError(
                f"{self!r} has async receivers and an event loop is running in this "
                f"thread: use 'await signal.asend{robust}(...)' instead of {method}"
            )
        loop = asyncio.new_event_loop()
        try:
            return walk(self, calls, sender, arguments, loop)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _failed(self, receiver: Receiver, exc: Exception, method: str) -> ReceiverFailures | None:
        """Log a receiver's failure, then send it as receiver_failed (unless it is one).

        Returns the send still to be awaited (receiver_failed has async receivers and an
        event loop runs in this thread), or None once it was made, or not needed.
        """
        logger.error(
            "Error calling %s in %r.%s()",
            getattr(receiver, "__qualname__", repr(receiver)),
            self,
            method,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        if self is receiver_failed or not receiver_failed.active:
            # A receiver_failed receiver failed: logged only, never sent again. And
            # with nobody listening there is nothing to send.
            return None
        pending = receiver_failed.send_fast(self, _FAILED_NAMES, receiver, exc)
        return None if pending is None else ReceiverFailures(pending)

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


# -- the walkers: the one loop that calls receivers -------------------------------
#
# A send calls each receiver with its keyword arguments spelled out, which CPython
# does much faster than spreading a dictionary (`receiver(**named)`); for the fixed
# names a hot path sends (Signal.send_fast, Signal.emitter), the walker is written for
# those names, once, as collections.namedtuple writes its classes. The public sends,
# whose names vary from call to call, use the same walker written with `**arguments`.
# An emitter is that walker with its own signature, `emit(sender, v0, v1, ...)`, and
# a look at what it remembers in front: one Python call per send.


def _walker(
    names: tuple[str, ...] | None,
    *,
    is_async: bool,
    robust: bool,
    results: bool,
    method: str,
    form: str = "walk",
    bound: dict[str, Any] | None = None,
    awaited: bool = False,
) -> Callable[..., Any]:
    """Write the function that walks a plan's receivers and calls each one.

    With *form* ``"walk"`` it is called as ``walk(signal, calls, sender, arguments,
    loop=None)``: *arguments* is the keyword dict (*names* None) or the tuple of values
    of *names*; *calls* is the plan's triples; *loop* runs async receivers in a sync
    walk (only given when the plan has some). With ``"getters"``, the same for a plan
    of sync receivers, *calls* being its getters. With ``"emit"``, it is the emitter of
    one :class:`_Emitter` (``box``, ``signal`` and its async walker ``awalk``, given in
    *bound*), called as ``emit(sender, *values)``: it calls the sync receivers it
    remembers for *sender* (the only one without a loop, which is most of a hot path's
    sends); inside a running event loop it returns the async walk over the async
    receivers it remembers for *sender*; else it asks its box. With ``"bound"``, the
    same for a :class:`_BoundEmitter` (``sender`` given in *bound* too), called as
    ``emit(*values)``. An *awaited* emitter (``"emit"`` or ``"bound"``) returns the
    async walk without asking whether a loop runs: its caller awaits what it returns.
    """
    if names is None:
        keywords = "**arguments"
    elif form in ("emit", "bound", "one"):
        keywords = ", ".join(f"{name}=v{i}" for i, name in enumerate(names))
    else:
        keywords = ", ".join(f"{name}=arguments[{i}]" for i, name in enumerate(names))
    triples = form == "walk"
    # A robust sync send without results (send_fast, an emitter) hands the
    # receiver_failed sends it could not make itself to its caller, which awaits them.
    hands_back = robust and not is_async and not results

    def call(indent: str, alone: bool = False) -> list[str]:
        # One receiver's call, `receiver` being set: its result, and its failure.
        # *alone*: the emitter's only receiver, whose failure ends the send.
        wait = "await result" if is_async else "loop.run_until_complete(result)"
        lines = [
            "try:" if robust else "if True:",
            f"    result = receiver(signal=signal, sender=sender, {keywords})",
            "    if receiver_is_async:" if triples else "",
            f"        result = {wait}" if triples else "",
            "    await result" if form == "one" else "",
        ]
        if robust:
            failed = f"signal._failed(receiver, exc, {method!r})"
            lines.append("except Exception as exc:")
            if alone and hands_back:
                lines.append(f"    return {failed}")
            elif hands_back:
                lines.append(f"    pending = _joined(pending, {failed})")
            else:
                lines += [
                    f"    pending = {failed}",
                    "    if pending is not None:",
                    "        " + ("await pending" if is_async else "pending.unsent()"),
                    "    result = exc" if results else "",
                ]
        lines.append("out.append((receiver, result))" if results else "")
        return [indent + line for line in lines if line]

    values = "".join(f"v{i}, " for i in range(len(names or ())))
    # An awaited emitter's caller awaits what it returns, loop or none: no need to ask.
    in_loop = "" if awaited else " and _running_loop() is not None"
    if form == "bound":
        lines = [
            f"def emit({values}):",
            "    get = box.get",
            "    if get is not None:",
            "        receiver = get()",
            "        if receiver is not None:",
            *call("            ", alone=True),
            "        return None",
            "    calls = box.getters",
            "    if calls is None:",
            "        get = box.aget",
            f"        if get is not None{in_loop}:",
            "            receiver = get()",
            "            if receiver is None:",
            "                return None",
            f"            return aone(signal, receiver, sender, {values})",
            "        calls = box.calls",
            f"        if calls is not None{in_loop}:",
            f"            return awalk(signal, calls, sender, ({values}))",
            f"        return box.slow(({values}))",
        ]
    elif form == "emit":
        lines = [
            f"def emit(sender, {values}):",
            "    last, get, calls = box.memo",
            "    if last is not sender:",
            "        last, calls = box.amemo",
            f"        if last is sender{in_loop}:",
            f"            return awalk(signal, calls, sender, ({values}))",
            f"        return box.slow(sender, ({values}))",
            "    if get is not None:",
            "        receiver = get()",
            "        if receiver is not None:",
            *call("            ", alone=True),
            "        return None",
        ]
    elif form == "one":
        lines = [f"async def one(signal, receiver, sender, {values}):", *call("    ")]
    else:
        lines = [
            f"{'async ' if is_async else ''}def walk(signal, calls, sender, arguments, loop=None):"
        ]
    lines += (
        []
        if form == "one"
        else [
            "    out = []" if results else "",
            "    pending = None" if hands_back else "",
            "    for target, weak, receiver_is_async in calls:" if triples else "",
            "        receiver = target() if weak else target" if triples else "",
            "    for get in calls:" if not triples else "",
            "        receiver = get()" if not triples else "",
            "        if receiver is None:",
            "            continue  # collected since the send began",
            *call("        "),
            "    return out" if results else f"    return {'pending' if hands_back else 'None'}",
        ]
    )
    namespace: dict[str, Any] = {
        "_joined": _joined,
        "_running_loop": asyncio._get_running_loop,
        **(bound or {}),
    }
    # Our own text: the names in it were checked to be identifiers.
    exec("\n".join(line for line in lines if line), namespace)
    name = {"walk": "walk", "getters": "walk", "one": "one"}.get(form, "emit")
    walk: Callable[..., Any] = namespace[name]
    walk.__qualname__ = f"Signal.{method}.<{name}>"
    return walk


class ReceiverFailures:
    """The :data:`receiver_failed` sends that a sync send leaves to its caller.

    A robust send that catches a receiver's exception logs it, then sends it as
    ``receiver_failed``. A sync send cannot await async receivers of
    ``receiver_failed`` when an event loop runs in its thread, so :meth:`Signal.send_fast`
    and every :meth:`Signal.emitter` return one of these instead of ``None``: awaited,
    it sends each failure the send caught, in the order caught (the ASGI middleware
    awaits it in the request's task, as it awaits every awaitable an emitter returns).
    Code that cannot await calls :meth:`unsent`. :meth:`Signal.send_robust`, which
    returns its results, calls :meth:`unsent` itself.

    Awaiting it again sends nothing more.
    """

    __slots__ = ("_pending",)

    def __init__(self, pending: Awaitable[None]) -> None:
        self._pending = [pending]

    def __await__(self) -> Generator[Any, None, None]:
        pending = self._pending
        try:
            while pending:
                yield from pending.pop(0).__await__()
        finally:
            self.unsent()  # only left when cancelled: the rest cannot be sent now

    def unsent(self) -> None:
        """Close the sends not made, each logged as not sent on the ``reqsignals`` logger.

        For sync code inside a running event loop, which cannot await them (a WSGI app
        called from a coroutine): the failures themselves were logged when caught.
        """
        pending = self._pending
        while pending:
            close = getattr(pending.pop(0), "close", None)
            if close is not None:
                close()
            logger.error(
                "receiver_failed was not sent: it has async receivers and the failure was "
                "caught by a sync send inside a running event loop, which cannot await them "
                "(use asend_robust there, or await what send_fast returns)"
            )


def _joined(
    earlier: ReceiverFailures | None, later: ReceiverFailures | None
) -> ReceiverFailures | None:
    """One send's failures to send: those so far and one more, either maybe None."""
    if earlier is None or later is None:
        return earlier or later
    earlier._pending += later._pending
    return earlier


_Results = list[tuple[Receiver, Any]]
_SEND: Callable[..., _Results] = _walker(
    None, is_async=False, robust=False, results=True, method="send"
)
_SEND_ROBUST: Callable[..., _Results] = _walker(
    None, is_async=False, robust=True, results=True, method="send_robust"
)
_ASEND: Callable[..., Awaitable[_Results]] = _walker(
    None, is_async=True, robust=False, results=True, method="asend"
)
_ASEND_ROBUST: Callable[..., Awaitable[_Results]] = _walker(
    None, is_async=True, robust=True, results=True, method="asend_robust"
)
_FastWalkers = tuple[
    Callable[..., ReceiverFailures | None],
    Callable[..., Awaitable[None]],
    Callable[..., ReceiverFailures | None],
    Callable[..., Awaitable[None]],
]

#: Names tuple -> (sync walker, async walker, sync walker over getters, async send to
#: one receiver) for send_fast and the emitters.
_FAST: dict[tuple[str, ...], _FastWalkers] = {}


def _fast_walkers(names: tuple[str, ...]) -> _FastWalkers:
    walkers = _FAST.get(names) if type(names) is tuple else None
    if walkers is not None:
        return walkers
    if type(names) is not tuple or not all(
        type(n) is str and n.isidentifier() and not keyword.iskeyword(n) for n in names
    ):
        raise TypeError(
            f"send_fast() takes the keyword names as a tuple of identifiers, got {names!r}: "
            "for example send_fast(sender, ('scope', 'status'), scope, status)"
        )
    if "signal" in names or "sender" in names or len(set(names)) != len(names):
        raise TypeError(
            f"send_fast() names {names!r} repeat a name, or 'signal' or 'sender', which "
            "every receiver is given already"
        )
    walkers = (
        _walker(names, is_async=False, robust=True, results=False, method="send_fast"),
        _walker(names, is_async=True, robust=True, results=False, method="send_fast"),
        _walker(
            names, is_async=False, robust=True, results=False, method="send_fast", form="getters"
        ),
        _walker(names, is_async=True, robust=True, results=False, method="send_fast", form="one"),
    )
    _FAST[names] = walkers
    return walkers


#: What an emitter remembers before its first send, or once told to forget.
_FORGOTTEN: tuple[Any, Callable[[], Any] | None, tuple[Callable[[], Any], ...]] = (
    object(),
    None,
    (),
)
_FORGOTTEN_ASYNC: tuple[Any, tuple[tuple[Any, bool, bool], ...]] = (object(), ())


class _Emitter:
    """One signal's sends with one tuple of names (Signal.send_fast, Signal.emitter).

    ``emit`` is the emitter function; ``memo`` what it remembers of its last send:
    ``(sender, getter, getters)``, for a sender whose receivers are all sync:
    *getter* the one receiver's getter when there is exactly one, else None; and
    ``amemo``, ``(sender, calls)``, for a sender with async receivers. The signal
    makes it forget both (:meth:`forget`) whenever its plans change: a connect, a
    disconnect, muting, the death of a receiver or a sender; it makes its emitters
    bound to one sender (:meth:`bind`) forget too. A new tuple replaces each whole,
    so a thread never reads one send's sender with another's receivers. Neither is
    kept while ``send_fast`` is wrapped: every send then goes through it.

    An *awaited* one (``Signal.emitter(..., awaited=True)``) is for a caller that awaits
    whatever it returns: with async receivers it returns their walk whether or not an
    event loop runs, where the others first ask (and, with none, run them on one).
    """

    __slots__ = ("amemo", "awaited", "bound", "emit", "memo", "names", "signal", "walkers")

    def __init__(self, signal: Signal, names: tuple[str, ...], awaited: bool = False) -> None:
        self.walkers = _fast_walkers(names)  # checks the names first
        self.signal = signal
        self.names = names
        self.awaited = awaited
        self.memo = _FORGOTTEN
        self.amemo = _FORGOTTEN_ASYNC
        self.bound: weakref.WeakSet[_BoundEmitter] = weakref.WeakSet()
        self.emit: Callable[..., Awaitable[None] | None] = _walker(
            names,
            is_async=False,
            robust=True,
            results=False,
            method="send_fast",
            form="emit",
            bound={"box": self, "signal": signal, "awalk": self.walkers[1]},
            awaited=awaited,
        )

    def bind(self, sender: Any) -> _BoundEmitter:
        """A new emitter of these sends for *sender* alone (Signal.emitter(sender=))."""
        box = _BoundEmitter(self, sender)
        self.bound.add(box)
        return box

    def forget(self) -> None:
        """Look the receivers up again on the next send."""
        self.memo = _FORGOTTEN
        self.amemo = _FORGOTTEN_ASYNC
        for box in list(self.bound):
            box.forget()

    def remember(
        self, sender: Any, calls: tuple[tuple[Any, bool, bool], ...], awaits: bool,
        getters: tuple[Callable[[], Any], ...],
    ) -> None:  # fmt: skip
        """Keep *sender*'s plan for the next send (see :meth:`send`)."""
        if awaits:
            self.amemo = (sender, calls)
        else:
            self.memo = (sender, getters[0] if len(getters) == 1 else None, getters)

    def slow(self, sender: Any, values: tuple[Any, ...]) -> Awaitable[None] | None:
        """The emitter's send when it remembers no sync receivers for *sender*."""
        last, calls = self.amemo
        signal = self.signal
        if last is sender:  # async receivers, remembered (emit() awaits them in a loop)
            return self._async(calls, sender, values)
        if signal._observed():
            return signal.send_fast(sender, self.names, *values)
        return self.send(sender, values)

    def send(
        self, sender: Any, values: tuple[Any, ...], box: _Emitter | _BoundEmitter | None = None
    ) -> Awaitable[None] | None:
        """send_fast: look the receivers up, have *box* (this one by default) remember
        them, call them."""
        signal = self.signal
        cache = signal._cache  # before _plan() reads _live: see Signal.__init__
        calls, awaits, getters = signal._plan(sender) if signal._live else _NO_PLAN
        if not signal._observed():  # else every send must come back through it
            box = self if box is None else box
            box.remember(sender, calls, awaits, getters)
            if signal._cache is not cache:
                # The plans changed while this one was read, maybe after the signal
                # forgot: forget this one too.
                box.forget()
        if awaits:
            return self._async(calls, sender, values)
        return self.walkers[2](signal, getters, sender, values)

    def _async(
        self, calls: tuple[tuple[Any, bool, bool], ...], sender: Any, values: tuple[Any, ...]
    ) -> Awaitable[None] | None:
        # Inside a running loop, or for a caller that awaits: the awaitable that calls
        # them. Else: call them.
        if not self.awaited and asyncio._get_running_loop() is None:
            return self.signal._run_sync(self.walkers[0], calls, sender, values, "send_fast")
        return self.walkers[1](self.signal, calls, sender, values)


#: (names tuple, awaited) -> the code of the emitter function bound to one sender,
#: written once.
_BOUND_CODE: dict[tuple[tuple[str, ...], bool], types.CodeType] = {}


class _BoundEmitter:
    """An :class:`_Emitter`'s sends for one sender (``Signal.emitter(names, sender=s)``).

    ``emit(*values)`` reads what it remembers of that sender's receivers: ``get``, the
    one sync receiver's getter; ``getters``, when there are none or several, all sync;
    ``calls``, when some are async, and ``aget`` too when that is the only receiver
    (awaited without a walk). All are None until the first send, and again once the
    emitter forgets (which its :class:`_Emitter` tells it to do whenever the signal's
    plans change, or ``send_fast`` is wrapped).
    """

    __slots__ = ("__weakref__", "aget", "calls", "emit", "emitter", "get", "getters", "sender")

    get: Callable[[], Any] | None
    getters: tuple[Callable[[], Any], ...] | None
    calls: tuple[tuple[Any, bool, bool], ...] | None
    aget: Callable[[], Any] | None

    def __init__(self, emitter: _Emitter, sender: Any) -> None:
        self.emitter = emitter
        self.sender = sender
        self.forget()
        names = emitter.names
        namespace = {
            "__builtins__": builtins,
            "_joined": _joined,
            "_running_loop": asyncio._get_running_loop,
            "box": self,
            "signal": emitter.signal,
            "sender": sender,
            "awalk": emitter.walkers[1],
            "aone": emitter.walkers[3],
        }
        key = (names, emitter.awaited)
        code = _BOUND_CODE.get(key)
        if code is None:
            emit = _walker(names, is_async=False, robust=True, results=False, method="send_fast",
                           form="bound", bound=namespace, awaited=emitter.awaited)  # fmt: skip
            _BOUND_CODE[key] = emit.__code__
        else:  # the same function, with this emitter's names
            emit = types.FunctionType(code, namespace, "emit")
            emit.__qualname__ = "Signal.send_fast.<emit>"
        self.emit: Callable[..., Awaitable[None] | None] = emit

    def forget(self) -> None:
        """Look the receivers up again on the next send."""
        self.get = self.getters = self.calls = self.aget = None

    def remember(
        self, sender: Any, calls: tuple[tuple[Any, bool, bool], ...], awaits: bool,
        getters: tuple[Callable[[], Any], ...],
    ) -> None:  # fmt: skip
        """Keep the sender's plan for the next send."""
        if awaits:
            self.calls = calls
            if len(getters) == 1:
                self.aget = getters[0]
        elif len(getters) == 1:
            self.get = getters[0]
        else:
            self.getters = getters

    def slow(self, values: tuple[Any, ...]) -> Awaitable[None] | None:
        """The send when nothing is remembered, or async receivers without a loop."""
        emitter, sender, calls = self.emitter, self.sender, self.calls
        if calls is not None:  # async receivers, remembered, and no running loop
            return emitter._async(calls, sender, values)
        signal = emitter.signal
        if signal._observed():
            return signal.send_fast(sender, emitter.names, *values)
        return emitter.send(sender, values, self)


#: The signals that have emitters, so that wrapping send_fast reaches them all.
_WITH_EMITTERS: weakref.WeakSet[Signal] = weakref.WeakSet()


def _forget_emitters() -> None:
    """send_fast was wrapped or unwrapped: every emitter looks again on its next send."""
    for signal in list(_WITH_EMITTERS):
        for emitter in list(signal._emitters.values()):
            emitter.forget()


_SEND_FAST = Signal.send_fast

_FAILED_NAMES = ("receiver", "exception")


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
