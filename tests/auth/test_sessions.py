"""The Session object: the mapping an app uses, and the interface its middleware uses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from reqsignals.auth import CookieStore, MemoryStore, Session, SessionAuth
from tests.live_apps.auth_apps import SECRET

# -- the mapping and its change tracking ---------------------------------------------


def test_session_mapping_and_change_tracking() -> None:
    session = Session({"a": 1, "b": 2}, "k")
    assert not session.accessed
    assert not session.modified
    assert session.key == "k"
    assert session["a"] == 1
    assert session.accessed
    assert not session.modified
    session["c"] = 3
    del session["a"]
    assert session.modified
    assert session.changes() == ({"c": 3}, frozenset({"a"}))
    session["a"] = 10  # set again after delete: a change, not a deletion
    assert session.changes() == ({"c": 3, "a": 10}, frozenset())
    del session["c"]  # set then deleted: a deletion only
    assert session.changes() == ({"a": 10}, frozenset({"c"}))
    assert sorted(session) == ["a", "b"]
    assert len(session) == 2
    assert "b" in session
    assert "c" not in session
    with pytest.raises(KeyError):
        del session["missing"]
    with pytest.raises(TypeError, match="session keys must be str"):
        session[1] = "x"


def test_session_clear_deletes_every_key() -> None:
    session = Session({"a": 1, "b": 2}, "k")
    session.clear()
    assert dict(session) == {}
    assert session.changes() == ({}, frozenset({"a", "b"}))


def test_modified_true_rewrites_values_changed_in_place() -> None:
    store = MemoryStore()
    auth = SessionAuth(SECRET, store)
    key = store.create({"cart": [1], "other": 0}, 60)
    header = f"session={auth._signer.sign(key).decode()}"
    session = auth.open_session(header)
    session["cart"].append(2)
    assert not session.modified
    session.modified = True
    assert session.changes() == ({"cart": [1, 2], "other": 0}, frozenset())
    assert auth.save_session(session, secure=False) is not None
    assert store.load(key) == {"cart": [1, 2], "other": 0}


def test_modified_false_forgets_pending_changes() -> None:
    session = Session({"a": 1}, "k")
    session["b"] = 2
    session.cycle_key()
    session.modified = False
    assert not session.modified
    assert session.changes() == ({}, frozenset())


def test_async_twins_mark_state_like_the_sync_methods() -> None:
    session = Session({"a": 1}, "k")
    asyncio.run(session.acycle_key())
    assert session.modified
    assert dict(session) == {"a": 1}
    asyncio.run(session.aflush())
    assert dict(session) == {}
    assert session.modified


def test_session_repr_does_not_show_the_key() -> None:
    assert repr(Session({"a": 1}, "secret-key")) == "<Session key=set 1 keys>"
    auth = SessionAuth(SECRET, MemoryStore())
    lazy = auth.open_session(f"session={auth._signer.sign('x').decode()}")
    assert repr(lazy) == "<Session key=None unloaded>"
    assert lazy.key is None  # loading finds nothing
    assert repr(lazy) == "<Session key=None 0 keys>"


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(lambda s: s.__delitem__("a"), id="del"),
        pytest.param(len, id="len"),
        pytest.param(lambda s: "a" in s, id="in"),
        pytest.param(lambda s: s.setdefault("b", 2), id="setdefault"),
        pytest.param(lambda s: s.cycle_key(), id="cycle_key"),
        pytest.param(lambda s: s.flush(), id="flush"),
    ],
)
def test_lazy_session_loads_on_any_first_use(first: Callable[[Session], Any]) -> None:
    store = MemoryStore()
    auth = SessionAuth(SECRET, store)
    key = store.create({"a": 1}, 60)
    session = auth.open_session(f"session={auth._signer.sign(key).decode()}")
    assert "unloaded" in repr(session)
    first(session)
    assert "unloaded" not in repr(session)
    assert session.key == key


# -- the interface to the code that opens and saves sessions --------------------------


def test_a_new_session_is_loaded_empty_and_keyless() -> None:
    session = Session()
    assert session.loaded
    assert not session.had_cookie
    assert not session.rejected
    assert not session.cycled
    assert session.key is None
    assert session.snapshot() == {}


def test_load_fills_data_and_key_and_copies_the_data() -> None:
    stored = {"a": 1}
    session = Session(had_cookie=True)
    session.load(stored, "k")
    assert session.loaded
    assert not session.rejected
    assert session.key == "k"
    assert dict(session) == {"a": 1}
    session["a"] = 2
    assert stored == {"a": 1}  # the store's dict is not the session's


def test_load_of_none_rejects_the_cookie() -> None:
    session = Session(had_cookie=True)
    session.load(None, "client-chosen-key")
    assert session.rejected
    assert session.key is None  # a key the store does not know is never adopted
    assert dict(session) == {}


def test_reject_leaves_an_empty_keyless_session() -> None:
    session = Session(had_cookie=True)
    session.reject()
    assert session.rejected
    assert session.loaded
    assert session.key is None


def test_the_loader_runs_once_on_first_use_and_calls_load() -> None:
    calls: list[Session] = []

    def loader(session: Session) -> None:
        calls.append(session)
        session.load({"a": 1}, "k")

    session = Session(loader=loader, had_cookie=True)
    assert not session.loaded
    assert calls == []
    assert session["a"] == 1
    assert session.loaded
    assert session.key == "k"
    assert len(session) == 1
    assert calls == [session]


def test_snapshot_is_a_copy_and_does_not_count_as_access() -> None:
    session = Session({"a": [1]}, "k")
    snap = session.snapshot()
    assert snap == {"a": [1]}
    snap["b"] = 2
    assert "b" not in session.snapshot()
    session.accessed = False
    session.snapshot()
    assert not session.accessed


def test_snapshot_loads_a_lazy_session() -> None:
    session = Session(loader=lambda s: s.load({"a": 1}, "k"))
    assert session.snapshot() == {"a": 1}
    assert session.loaded


@pytest.mark.parametrize(
    "renew",
    [
        pytest.param(Session.cycle_key, id="cycle_key"),
        pytest.param(Session.flush, id="flush"),
    ],
)
def test_cycled_until_saved(renew: Callable[[Session], None]) -> None:
    session = Session({"a": 1}, "old")
    renew(session)
    assert session.cycled
    assert session.modified
    session.mark_saved("new")
    assert not session.cycled
    assert session.key == "new"


def test_mark_saved_clears_the_changes() -> None:
    session = Session({"a": 1, "b": 2}, "k")
    session["c"] = 3
    del session["a"]
    session.mark_saved("k2")
    assert session.key == "k2"
    assert not session.modified
    assert session.changes() == ({}, frozenset())
    assert dict(session) == {"b": 2, "c": 3}


def test_mark_saved_with_no_key() -> None:
    session = Session({"a": 1}, "k")
    session.flush()
    session.mark_saved(None)
    assert session.key is None
    assert not session.modified


# -- open_session and aopen_session load the same way --------------------------------


def _state(session: Session) -> tuple[Any, ...]:
    return (session.snapshot(), session.key, session.rejected, session.had_cookie)


@pytest.mark.parametrize("stateless", [False, True], ids=["memory", "cookie"])
@pytest.mark.parametrize("cookie", ["valid", "unknown", "tampered", "none", "other"])
def test_open_session_and_aopen_session_give_the_same_session(stateless: bool, cookie: str) -> None:
    store = CookieStore() if stateless else MemoryStore()
    auth = SessionAuth(SECRET, store)
    token = store.create({"a": 1}, 60)
    signed = auth._signer.sign(token).decode()
    header = {
        "valid": f"session={signed}",
        "unknown": f"session={auth._signer.sign('nope').decode()}",
        "tampered": f"session={signed[:-2]}xx",
        "none": None,
        "other": "theme=dark",
    }[cookie]
    lazy = auth.open_session(header)
    eager = asyncio.run(auth.aopen_session(header))
    assert eager.loaded
    assert _state(lazy) == _state(eager)
    if cookie == "valid":
        assert lazy.snapshot() == {"a": 1}
        assert lazy.key == (None if stateless else token)
    assert lazy.rejected == (cookie in ("unknown", "tampered"))
    assert lazy.had_cookie == (cookie not in ("none", "other"))
