"""pre_save/post_save, pre_delete/post_delete and m2m_changed, from one flush.

The ``pre_*`` signals are sent from SQLAlchemy's mapper events, inside the flush, just
before each row is written: in flush order, with the connection the flush uses. The
``post_*`` signals are queued there and sent from ``after_flush_postexec``, once the
flush has written everything and the session is consistent again, so their receivers
may change, add and delete other objects (SQLAlchemy forbids that inside the flush).
"""

from __future__ import annotations

import weakref
from typing import Any, NamedTuple

from sqlalchemy import Table
from sqlalchemy.engine import Connection
from sqlalchemy.orm import InstanceState, Mapper, RelationshipDirection, Session, UOWTransaction
from sqlalchemy.orm.attributes import AttributeEventToken
from sqlalchemy.orm.base import PASSIVE_NO_INITIALIZE, instance_state

from ...dispatch import Signal
from ...signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from ._send import bind_name, send

__all__ = ["attach_m2m", "flush_listeners", "mapper_listeners"]


class _M2M(NamedTuple):
    """One many-to-many relationship, as m2m_changed describes it."""

    secondary: Table
    model: type[Any]
    reverse: bool
    # Whether the collection is loaded whole when changed, so that its history holds what
    # is left; a write-only, dynamic or noload one holds only what was added or removed.
    loaded: bool


class _Flush:
    """What one flush of one session has to send once it is over."""

    __slots__ = ("m2m", "m2m_states", "saved")

    def __init__(self) -> None:
        # (post_save or post_delete, sender, keyword arguments), in flush order.
        self.saved: list[tuple[Signal, type[Any], dict[str, Any]]] = []
        # (state, mapper, using) of each flushed object whose m2m collections changed.
        self.m2m_states: list[tuple[InstanceState[Any], Mapper[Any], str]] = []
        # (sender, keyword arguments without action, pre action, post action).
        self.m2m: list[tuple[Table, dict[str, Any], str, str]] = []


class _UnitOfWork:
    """The unit of work of a session's latest flush (held weakly: it holds the session)."""

    __slots__ = ("deletes", "flush_context")

    def __init__(self, flush_context: UOWTransaction) -> None:
        self.flush_context = weakref.ref(flush_context)
        # Whether it deletes anything: found when first asked.
        self.deletes: bool | None = None


_flushes: weakref.WeakKeyDictionary[Session, _Flush] = weakref.WeakKeyDictionary()
_units: weakref.WeakKeyDictionary[Session, _UnitOfWork] = weakref.WeakKeyDictionary()
# Mapper -> the attribute keys update_fields may hold: columns and many-to-one relationships.
_field_keys: weakref.WeakKeyDictionary[Mapper[Any], frozenset[str]] = weakref.WeakKeyDictionary()
# Mapper -> {key: _M2M} for its relationships with a secondary table.
_m2m_props: weakref.WeakKeyDictionary[Mapper[Any], dict[str, _M2M]] = weakref.WeakKeyDictionary()
# State -> keys of its m2m collections that the program changed (not the backref echoes).
_marks: weakref.WeakKeyDictionary[InstanceState[Any], set[str]] = weakref.WeakKeyDictionary()


def _flush_of(state: InstanceState[Any]) -> _Flush:
    session = state.session
    assert session is not None  # a flushed object belongs to the flushing session
    flush = _flushes.get(session)
    if flush is None:
        flush = _flushes[session] = _Flush()
    return flush


def _fields(mapper: Mapper[Any]) -> frozenset[str]:
    keys = _field_keys.get(mapper)
    if keys is None:
        keys = frozenset(
            [p.key for p in mapper.column_attrs]
            + [
                r.key
                for r in mapper.relationships
                if r.direction is RelationshipDirection.MANYTOONE
            ]
        )
        _field_keys[mapper] = keys
    return keys


def changed_fields(mapper: Mapper[Any], state: InstanceState[Any]) -> frozenset[str]:
    """The keys of the columns and many-to-one relationships of *state* that changed."""
    keys = _fields(mapper)
    # committed_state holds the attributes set since the last flush (with their old
    # values); the history says which of them really changed.
    return frozenset(
        key
        for key in state.committed_state
        if key in keys and state.get_history(key, PASSIVE_NO_INITIALIZE).has_changes()
    )


# -- mapper events (inside the flush) --------------------------------------------------


def _replaces_a_deleted_row(mapper: Mapper[Any], state: InstanceState[Any]) -> bool:
    """Whether the flush writes *state*, a new object, as an UPDATE of a deleted one's row.

    SQLAlchemy's "row switch": an object deleted in this flush and a new one with its
    primary key become one UPDATE; the mapper calls ``before_insert``, then
    ``after_update``.
    """
    session = state.session
    assert session is not None  # a flushed object belongs to the flushing session
    unit = _units.get(session)
    flush_context = unit.flush_context() if unit is not None else None
    if unit is None or flush_context is None:  # pragma: no cover - before_flush ran first
        return False
    if unit.deletes is None:  # once per flush: most delete nothing, and pay no more
        unit.deletes = any(isdelete for isdelete, _ in flush_context.states.values())
    if not unit.deletes:
        return False
    existing = session.identity_map.get(mapper.identity_key_from_instance(state.obj()))
    if existing is None:
        return False
    existing_state = instance_state(existing)
    # SQLAlchemy's own test, in its order: an expired one is loaded first (SQLAlchemy
    # then finds it loaded), and one whose row is gone leaves the identity map.
    if flush_context.was_already_deleted(existing_state):  # type: ignore[no-untyped-call]
        return False
    return bool(flush_context.is_deleted(existing_state))  # type: ignore[no-untyped-call]


def _before_insert(mapper: Mapper[Any], connection: Connection, state: InstanceState[Any]) -> None:
    cls = mapper.class_
    if pre_save.has_listeners(cls):
        # A row switch is written as an UPDATE: created=False, as after_update says.
        switched = _replaces_a_deleted_row(mapper, state)
        send(
            pre_save,
            cls,
            instance=state.obj(),
            created=not switched,
            raw=False,
            using=bind_name(connection),
            update_fields=changed_fields(mapper, state) if switched else None,
        )
    if state in _marks:
        _flush_of(state).m2m_states.append((state, mapper, bind_name(connection)))


def _after_insert(mapper: Mapper[Any], connection: Connection, state: InstanceState[Any]) -> None:
    cls = mapper.class_
    if post_save.has_listeners(cls):
        named = {
            "instance": state.obj(),
            "created": True,
            "raw": False,
            "using": bind_name(connection),
            "update_fields": None,
        }
        _flush_of(state).saved.append((post_save, cls, named))


def _before_update(mapper: Mapper[Any], connection: Connection, state: InstanceState[Any]) -> None:
    # SQLAlchemy calls this for every dirty object, also those whose row does not change
    # (only a collection did): those are not saved, and get no pre_save.
    cls = mapper.class_
    if pre_save.has_listeners(cls):
        fields = changed_fields(mapper, state)
        if fields:
            send(
                pre_save,
                cls,
                instance=state.obj(),
                created=False,
                raw=False,
                using=bind_name(connection),
                update_fields=fields,
            )
    if state in _marks:
        _flush_of(state).m2m_states.append((state, mapper, bind_name(connection)))


def _after_update(mapper: Mapper[Any], connection: Connection, state: InstanceState[Any]) -> None:
    cls = mapper.class_
    if post_save.has_listeners(cls):
        # Computed again: a pre_save receiver may have changed more attributes.
        fields = changed_fields(mapper, state)
        if fields:
            named = {
                "instance": state.obj(),
                "created": False,
                "raw": False,
                "using": bind_name(connection),
                "update_fields": fields,
            }
            _flush_of(state).saved.append((post_save, cls, named))


def _before_delete(mapper: Mapper[Any], connection: Connection, state: InstanceState[Any]) -> None:
    cls = mapper.class_
    if pre_delete.has_listeners(cls):
        send(pre_delete, cls, instance=state.obj(), using=bind_name(connection))


def _after_delete(mapper: Mapper[Any], connection: Connection, state: InstanceState[Any]) -> None:
    cls = mapper.class_
    if post_delete.has_listeners(cls):
        named = {"instance": state.obj(), "using": bind_name(connection)}
        _flush_of(state).saved.append((post_delete, cls, named))


#: (event name, listener) for each mapper of the connected models, with raw=True.
mapper_listeners = (
    ("before_insert", _before_insert),
    ("after_insert", _after_insert),
    ("before_update", _before_update),
    ("after_update", _after_update),
    ("before_delete", _before_delete),
    ("after_delete", _after_delete),
)


# -- session events --------------------------------------------------------------------


def _before_flush(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    # A flush that failed never reached after_flush_postexec: forget what it queued.
    _flushes.pop(session, None)
    _units[session] = _UnitOfWork(flush_context)


def _pk(obj: Any) -> Any:
    values = instance_state(obj).mapper.primary_key_from_instance(obj)
    return values[0] if len(values) == 1 else tuple(values)


def _unseen(
    items: Any, state: InstanceState[Any], rel: _M2M, seen: set[tuple[int, int, int]]
) -> list[Any]:
    # One row changed from both sides (the program changed both collections) is
    # reported once, from the side the flush reached first.
    out = []
    for item in items:
        pair = (id(state), id(instance_state(item)))
        row = (id(rel.secondary), *(pair[::-1] if rel.reverse else pair))
        if row not in seen:
            seen.add(row)
            out.append(item)
    return out


def _after_flush(session: Session, flush_context: Any) -> None:
    # The collections' history is still the flush's here (after_flush_postexec sees it
    # reset), and every object the flush inserted has its primary key.
    flush = _flushes.get(session)
    if flush is None or not flush.m2m_states:
        return
    seen: set[tuple[int, int, int]] = set()
    for state, mapper, using in flush.m2m_states:
        for key in sorted(_marks.pop(state, ())):
            rel = _m2m_props[mapper][key]
            if not m2m_changed.has_listeners(rel.secondary):
                continue
            history = state.attrs[key].history
            named = {
                "instance": state.obj(),
                "reverse": rel.reverse,
                "model": rel.model,
                "using": using,
            }
            removed = _unseen(history.deleted, state, rel, seen)
            added = _unseen(history.added, state, rel, seen)
            if removed and not history.added and not history.unchanged and rel.loaded:
                # SQLAlchemy has no clear event: a collection emptied is Django's clear().
                named_clear = {**named, "pk_set": None}
                flush.m2m.append((rel.secondary, named_clear, "pre_clear", "post_clear"))
            elif removed:
                named_remove = {**named, "pk_set": {_pk(item) for item in removed}}
                flush.m2m.append((rel.secondary, named_remove, "pre_remove", "post_remove"))
            if added:
                named_add = {**named, "pk_set": {_pk(item) for item in added}}
                flush.m2m.append((rel.secondary, named_add, "pre_add", "post_add"))


def _after_flush_postexec(session: Session, flush_context: Any) -> None:
    flush = _flushes.pop(session, None)
    if flush is None:
        return
    for signal, sender, named in flush.saved:
        send(signal, sender, **named)
    for table, named, pre, post in flush.m2m:
        send(m2m_changed, table, action=pre, **named)
        send(m2m_changed, table, action=post, **named)


#: (event name, listener) for the Session class: every session.
flush_listeners = (
    ("before_flush", _before_flush),
    ("after_flush", _after_flush),
    ("after_flush_postexec", _after_flush_postexec),
)


# -- many-to-many collections ----------------------------------------------------------


def _is_reverse(prop: Any) -> bool:
    # Django's through table lists the model that declares the field first: the side
    # whose foreign key comes first in the secondary table is the forward one.
    columns = list(prop.secondary.columns)
    own = columns.index(prop.synchronize_pairs[0][1])
    other = columns.index(prop.secondary_synchronize_pairs[0][1])
    return own > other


def _marker(key: str) -> Any:
    def mark(state: InstanceState[Any], value: Any, initiator: AttributeEventToken | None) -> None:
        # A backref echo carries the token of the attribute the program changed.
        if initiator is not None and initiator.impl is not state.manager[key].impl:
            return
        marks = _marks.get(state)
        if marks is None:
            marks = _marks[state] = set()
        marks.add(key)

    return mark


# The loader strategies whose collections are never loaded whole.
_UNLOADED = frozenset({"write_only", "dynamic", "noload"})


def attach_m2m(mapper: Mapper[Any]) -> None:
    """Watch the many-to-many collections of *mapper* (once it is configured)."""
    from sqlalchemy import event

    props: dict[str, _M2M] = {}
    for prop in mapper.relationships:
        if prop.secondary is None or not isinstance(prop.secondary, Table):
            continue
        loaded = prop.lazy not in _UNLOADED
        props[prop.key] = _M2M(prop.secondary, prop.mapper.class_, _is_reverse(prop), loaded)
        # Each connected mapper listens on its own class's attribute (a subclass has one
        # of its own), so no listener is added twice.
        attribute = mapper.class_manager[prop.key]
        mark = _marker(prop.key)
        event.listen(attribute, "append", mark, raw=True)
        event.listen(attribute, "remove", mark, raw=True)
    _m2m_props[mapper] = props
