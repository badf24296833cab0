"""Django's model and database signals for SQLAlchemy: ``reqsignals[sqlalchemy]``.

Example::

    from sqlalchemy import create_engine
    from sqlalchemy.orm import DeclarativeBase
    from reqsignals import post_save, receiver
    from reqsignals.contrib.sqlalchemy import connect_engine, connect_models

    class Base(DeclarativeBase):
        pass

    connect_models(Base)        # every class mapped under Base, now and later

    @receiver(post_save, sender=Article)
    def index_article(sender, instance, created, update_fields, **kwargs):
        ...

    engine = connect_engine(create_engine("sqlite:///app.db"), using="default")

The signals are the ones in :mod:`reqsignals.signals`, sent with Django's keyword
arguments (and ``created`` in ``pre_save`` as well as in ``post_save``):
``pre_init``/``post_init`` when an object is built (``post_init`` also when it is
loaded), ``pre_save``/``post_save`` and ``pre_delete``/``post_delete`` at flush time,
``m2m_changed`` for ``secondary=`` relationships, ``class_prepared`` when a class is
mapped, and ``connection_created`` for each new DBAPI connection. ``docs/models.md``
says, point by point, where SQLAlchemy makes them differ from Django's.
"""

from __future__ import annotations

import weakref
from typing import Any, TypeVar

from sqlalchemy import event, inspect
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import InstanceState, Mapper, Session, registry

from ...signals import class_prepared, connection_created, post_init, pre_init
from . import _flush
from ._send import bind_name, name_engine, send

__all__ = ["bind_name", "connect_engine", "connect_models"]

E = TypeVar("E", Engine, AsyncEngine)

# What connect_models() was given: a mapper is connected if its class is a subclass of
# one of these classes, or it belongs to one of these registries.
_classes: weakref.WeakSet[type[Any]] = weakref.WeakSet()
_registries: weakref.WeakSet[registry] = weakref.WeakSet()
_attached: weakref.WeakSet[Mapper[Any]] = weakref.WeakSet()
_installed = False


def connect_models(target: Any) -> None:
    """Send Django's model signals for the classes mapped under *target*.

    Args:
        target: a declarative base (every class mapped under it), a
            :class:`sqlalchemy.orm.registry` (every class it maps), or one mapped class
            (it and its mapped subclasses). Classes mapped later under it are included
            when they are mapped. Calling it again, or for overlapping targets, connects
            each class once.

    ``class_prepared`` is sent for the classes mapped *after* this call, as Django sends
    it while the model classes are created: call it right after defining the base to
    hear about every model.

    Raises:
        TypeError: *target* is none of the three.
    """
    if isinstance(target, registry):
        _registries.add(target)
        mappers = list(target.mappers)
    elif isinstance(target, type) and _registry_of(target) is not None:
        _classes.add(target)
        reg = _registry_of(target)
        assert reg is not None
        mappers = [m for m in reg.mappers if issubclass(m.class_, target)]
    else:
        raise TypeError(
            "connect_models() takes a declarative base, a sqlalchemy.orm.registry or a "
            f"mapped class, got {target!r}"
        )
    _install()
    for mapper in mappers:
        _attach(mapper)


def _registry_of(cls: type[Any]) -> registry | None:
    reg = getattr(cls, "registry", None)
    if isinstance(reg, registry):
        return reg
    mapper = inspect(cls, raiseerr=False)
    return mapper.registry if isinstance(mapper, Mapper) else None


def _is_connected(mapper: Mapper[Any]) -> bool:
    if mapper.registry in _registries:
        return True
    return any(issubclass(mapper.class_, cls) for cls in _classes)


def _install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    event.listen(Mapper, "after_mapper_constructed", _on_mapper_constructed)
    for name, fn in _flush.flush_listeners:
        event.listen(Session, name, fn)


def _on_mapper_constructed(mapper: Mapper[Any], cls: type[Any]) -> None:
    if _is_connected(mapper):
        _attach(mapper)
        send(class_prepared, cls)


def _attach(mapper: Mapper[Any]) -> None:
    if mapper in _attached:
        return
    _attached.add(mapper)
    for name, fn in _flush.mapper_listeners:
        event.listen(mapper, name, fn, raw=True)
    cls = mapper.class_
    event.listen(cls, "init", _on_init, raw=True)
    event.listen(cls, "load", _on_load, raw=True)
    _send_post_init(mapper)
    if mapper.configured:
        _flush.attach_m2m(mapper)
    else:
        event.listen(mapper, "mapper_configured", _on_configured)


def _on_configured(mapper: Mapper[Any], cls: type[Any]) -> None:
    _flush.attach_m2m(mapper)


def _on_init(state: InstanceState[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    cls = state.class_
    if pre_init.has_listeners(cls):
        send(pre_init, cls, args=args, kwargs=kwargs)


def _on_load(state: InstanceState[Any], context: Any) -> None:
    cls = state.class_
    if post_init.has_listeners(cls):
        send(post_init, cls, instance=state.obj())


def _send_post_init(mapper: Mapper[Any]) -> None:
    # SQLAlchemy has an event before __init__ ("init") and none after it: wrap the
    # constructor its instrumented __init__ calls, which runs once per construction
    # (a subclass's call into its base's __init__ does not come back through it).
    manager = mapper.class_manager
    original = manager.original_init
    if original is None:  # pragma: no cover - every mapped class has a constructor
        return
    cls = mapper.class_

    def init_then_post_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if post_init.has_listeners(cls):
            send(post_init, cls, instance=self)

    manager.original_init = init_then_post_init


def connect_engine(engine: E, *, using: str | None = None) -> E:
    """Send ``connection_created`` for each new DBAPI connection of *engine*'s pool.

    ``sender`` is the dialect's class (``type(engine.dialect)``) and ``connection`` the
    DBAPI connection (under an :class:`~sqlalchemy.ext.asyncio.AsyncEngine`, SQLAlchemy's
    adapter around the driver's connection: ``connection.driver_connection`` is the
    driver's own). Receivers run once per connection the pool opens, before it is used,
    so they suit set-up statements (``PRAGMA``, ``SET``); under an ``AsyncEngine`` async
    receivers are awaited.

    Args:
        engine: an :class:`~sqlalchemy.engine.Engine` or
            :class:`~sqlalchemy.ext.asyncio.AsyncEngine`.
        using: the name model signals give as ``using`` for work on this engine (as
            Django's database alias); by default the engine's URL, password hidden. The
            copies ``engine.execution_options()`` makes have it too, unless named
            themselves, and share the engine's pool: one send per connection still.

    Returns:
        *engine*, so that ``engine = connect_engine(create_engine(...))`` reads well.

    Raises:
        TypeError: *engine* is not an engine, or *using* is not a string.
    """
    if isinstance(engine, AsyncEngine):
        sync_engine = engine.sync_engine
    elif isinstance(engine, Engine):
        sync_engine = engine
    else:
        raise TypeError(f"connect_engine() takes an Engine or an AsyncEngine, got {engine!r}")
    if using is not None and not isinstance(using, str):
        raise TypeError(f"connect_engine(using=...): using= is a name (a str), got {using!r}")
    if using is not None:
        name_engine(sync_engine, using)
    # The copies engine.execution_options() makes share the engine's pool, and its
    # dialect object: one listener per dialect object is one per pool.
    if sync_engine.dialect not in _dialects:
        _dialects.add(sync_engine.dialect)
        dialect = type(sync_engine.dialect)

        def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
            send(connection_created, dialect, connection=dbapi_connection)

        event.listen(sync_engine, "connect", on_connect)
    return engine


_dialects: weakref.WeakSet[Dialect] = weakref.WeakSet()
