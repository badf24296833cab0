"""How the SQLAlchemy bridge sends: sync receivers inline, async ones awaited in greenlets.

SQLAlchemy's ORM and pool events are synchronous. Under ``AsyncSession`` and
``AsyncEngine`` they run inside a greenlet that SQLAlchemy spawned from the event loop,
where ``await_only`` can wait for a coroutine: there async receivers are awaited. Outside
such a greenlet, with an event loop running in the thread (a constructor called from
``async def`` code, a sync ``Session`` used on the loop), an async receiver cannot be
awaited, and the send is refused with an error that says so: never a coroutine dropped.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Coroutine
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.base import OptionEngine
from sqlalchemy.util.concurrency import await_only, in_greenlet

from ... import dispatch
from ...dispatch import Signal

__all__ = ["bind_name", "name_engine", "send"]

# Engine -> the name receivers get as ``using``: given to connect_engine(), and else
# the engine's URL (kept apart, so that a name given later always wins).
_names: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
_urls: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def name_engine(engine: Engine, name: str) -> None:
    """Make *name* the ``using`` of every signal sent for work on *engine*."""
    _names[engine] = name


def bind_name(bind: Connection | Engine) -> str:
    """The ``using`` that signals give for work on *bind* (a connection or an engine).

    The name given to ``connect_engine(engine, using=...)`` (a copy made by
    ``engine.execution_options()`` has its engine's name unless given its own), else the
    engine's URL with its password hidden (``postgresql://user:***@host/db``).
    """
    engine = bind.engine
    name = _names.get(engine)
    if name is None:
        name = _default_name(engine)
    return name


def _default_name(engine: Engine) -> str:
    while isinstance(engine, OptionEngine):
        engine = engine._proxied
        name = _names.get(engine)
        if name is not None:
            return name
    url = _urls.get(engine)
    if url is None:
        url = _urls[engine] = engine.url.render_as_string(hide_password=True)
    return url


def _in_greenlet() -> bool:
    try:
        return in_greenlet()
    except ImportError:  # pragma: no cover - greenlet is not installed: no AsyncSession
        return False


def _refused_by_dispatch(exc: RuntimeError) -> bool:
    """Whether *exc* is the dispatcher refusing to run async receivers on a running loop.

    The dispatcher raises it itself, before it calls any receiver: the innermost frame
    of the traceback is then in ``reqsignals.dispatch``, never in a receiver.
    """
    tb, innermost = exc.__traceback__, None
    while tb is not None:
        tb, innermost = tb.tb_next, tb
    return (
        innermost is not None and innermost.tb_frame.f_globals.get("__name__") == dispatch.__name__
    )


async def _settle(yielded: Any) -> None:
    """Wait, on the event loop, for what a coroutine driven by :func:`_run_here` yielded."""
    if yielded is None:  # a bare yield: asyncio.sleep(0)
        await asyncio.sleep(0)
    elif asyncio.isfuture(yielded):
        yielded._asyncio_future_blocking = False  # what a Task does before it waits
        await asyncio.wait([yielded])  # its outcome reaches the coroutine when resumed
    else:
        raise RuntimeError(f"an async receiver yielded {yielded!r}, not an asyncio future")


def _run_here(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run *coro* to its end in this greenlet, handing each wait to the event loop.

    ``await_only(coro)`` would run the whole coroutine, and so the sync receivers that
    ``asend`` calls inline, on the event loop's greenlet, where SQLAlchemy's sync API
    (the session, the DBAPI adapter) cannot do IO. Driven from here, as an asyncio Task
    drives a coroutine, receivers run where the event was sent, and only the waiting
    is done by the loop.
    """
    throw: BaseException | None = None
    while True:
        try:
            yielded = coro.send(None) if throw is None else coro.throw(throw)
        except StopIteration as stop:
            return stop.value
        throw = None
        try:
            await_only(_settle(yielded))
        except BaseException as exc:  # cancelled while waiting: the coroutine gets it
            throw = exc


def send(signal: Signal, sender: Any, /, **named: Any) -> None:
    """Send *signal* from inside a SQLAlchemy event, awaiting async receivers if possible.

    Raises:
        RuntimeError: *signal* has async receivers for *sender*, an event loop is running
            in this thread, and this event does not run in one of SQLAlchemy's greenlets
            (so nothing can wait for them). No receiver has been called then.
    """
    try:
        signal.send(sender, **named)
    except RuntimeError as exc:
        if not _refused_by_dispatch(exc):
            raise
        if _in_greenlet():
            _run_here(signal.asend(sender, **named))
            return
        raise RuntimeError(
            f"{signal.name} has async receivers for {sender!r}, but SQLAlchemy sends it "
            "from synchronous code running on the event loop, where nothing can await "
            "them. Connect sync receivers to it, or do this work through AsyncSession "
            "or an AsyncEngine, whose flushes and connections await async receivers."
        ) from exc
