"""The store contract, called directly, sync and async, over all four stores."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from reqsignals.auth import MemoryStore
from reqsignals.auth.stores.base import SessionStore, new_session_key

from .conftest import SERVER_STORES, StoreFactory

AGE = 3600


class Ops:
    """The store's sync methods, or its async twins run on one event loop."""

    def __init__(self, store: SessionStore, mode: str) -> None:
        self.store = store
        self.loop = asyncio.new_event_loop() if mode == "async" else None

    def __getattr__(self, name: str) -> Any:
        if self.loop is None:
            return getattr(self.store, name)
        method = getattr(self.store, "a" + name)
        loop = self.loop
        return lambda *args: loop.run_until_complete(method(*args))

    def close(self) -> None:
        if self.loop is not None:
            self.loop.run_until_complete(self.store.aclose())
            self.loop.close()


@pytest.fixture(params=["sync", "async"])
def ops(request: pytest.FixtureRequest, store: SessionStore) -> Iterator[Ops]:
    o = Ops(store, request.param)
    yield o
    o.close()


@pytest.fixture(
    params=[pytest.param((k, m), id=f"{m}-{k}") for k in SERVER_STORES for m in ("sync", "async")]
)
def server_ops(request: pytest.FixtureRequest, make_store: StoreFactory) -> Iterator[Ops]:
    """Like ops, for the stores that keep sessions on the server."""
    kind, mode = request.param
    o = Ops(make_store(kind), mode)
    yield o
    o.close()


def test_created_session_loads_back(ops: Ops) -> None:
    token = ops.create({"a": 1, "b": [1, 2], "c": {"d": None}}, AGE)
    assert ops.load(token) == {"a": 1, "b": [1, 2], "c": {"d": None}}
    assert ops.exists(token)


def test_empty_session_exists(ops: Ops) -> None:
    token = ops.create({}, AGE)
    assert ops.load(token) == {}
    assert ops.exists(token)


def test_unknown_token_loads_nothing(ops: Ops) -> None:
    assert ops.load(new_session_key()) is None
    assert not ops.exists(new_session_key())


def test_loaded_data_is_the_callers_own(ops: Ops) -> None:
    token = ops.create({"items": [1]}, AGE)
    ops.load(token)["items"].append(2)
    assert ops.load(token) == {"items": [1]}


def test_save_writes_changed_and_deleted_keys(ops: Ops) -> None:
    token = ops.create({"a": 1, "b": 2, "c": 3}, AGE)
    new = ops.save(token, {"a": 10, "c": 3, "d": 4}, {"a": 10, "d": 4}, {"b"}, AGE)
    assert new is not None
    assert ops.load(new) == {"a": 10, "c": 3, "d": 4}


def test_new_tokens_are_unguessable_and_distinct(server_ops: Ops) -> None:
    ops = server_ops
    tokens = {ops.create({}, AGE) for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert len(token) == 43  # 32 bytes from secrets, URL-safe base64
        assert token.replace("-", "").replace("_", "").isalnum()


def test_value_that_is_not_json_names_its_key_on_create(ops: Ops) -> None:
    with pytest.raises(TypeError, match=r"session\['when'\] holds a object"):
        ops.create({"ok": 1, "when": object()}, AGE)


def test_value_that_is_not_json_names_its_key_on_save(ops: Ops) -> None:
    token = ops.create({"ok": 1}, AGE)
    with pytest.raises(TypeError, match=r"session\['when'\] holds a object"):
        ops.save(token, {"ok": 1, "when": object()}, {"when": object()}, set(), AGE)
    assert ops.load(token) == {"ok": 1}


def test_concurrent_writes_to_different_keys_all_survive(ops: Ops) -> None:
    token = ops.create({"base": 0}, AGE)
    # Two requests load the same session, then each writes its own key.
    first, second = ops.load(token), ops.load(token)
    first["x"] = 1
    second["y"] = 2
    t1 = ops.save(token, first, {"x": 1}, set(), AGE)
    t2 = ops.save(token, second, {"y": 2}, set(), AGE)
    if ops.store.stateless:
        # Documented limit: each response carries a whole cookie; the last one wins.
        assert ops.load(t2) == {"base": 0, "y": 2}
        assert ops.load(t1) == {"base": 0, "x": 1}
    else:
        assert t1 == t2 == token
        assert ops.load(token) == {"base": 0, "x": 1, "y": 2}


def test_concurrent_delete_and_set_of_different_keys(server_ops: Ops) -> None:
    ops = server_ops
    token = ops.create({"a": 1, "b": 2}, AGE)
    ops.save(token, {"b": 2}, {}, {"a"}, AGE)
    ops.save(token, {"a": 1, "b": 2, "c": 3}, {"c": 3}, set(), AGE)
    assert ops.load(token) == {"b": 2, "c": 3}


def test_deleted_session_is_gone_and_save_does_not_revive_it(server_ops: Ops) -> None:
    ops = server_ops
    token = ops.create({"a": 1}, AGE)
    ops.delete(token)
    assert ops.load(token) is None
    assert not ops.exists(token)
    assert ops.save(token, {"a": 1, "b": 2}, {"b": 2}, set(), AGE) is None
    assert ops.load(token) is None
    ops.delete(token)  # deleting twice is fine


def test_cookie_store_delete_is_a_no_op(make_store: StoreFactory) -> None:
    store = make_store("cookie")
    token = store.create({"a": 1}, AGE)
    store.delete(token)
    assert store.load(token) == {"a": 1}


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("%%%", id="not-base64"),
        pytest.param("bm90IGpzb24", id="not-json"),
        pytest.param("WzEsMl0", id="json-list"),
    ],
)
def test_cookie_store_rejects_undecodable_tokens(make_store: StoreFactory, token: str) -> None:
    assert make_store("cookie").load(token) is None


@pytest.mark.parametrize("kind", SERVER_STORES)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_session_expires_after_max_age(make_store: StoreFactory, kind: str, mode: str) -> None:
    ops = Ops(make_store(kind), mode)
    try:
        token = ops.create({"a": 1}, 1)
        assert ops.load(token) == {"a": 1}
        deadline = time.monotonic() + 5
        while ops.load(token) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ops.load(token) is None
        assert ops.save(token, {"a": 2}, {"a": 2}, set(), AGE) is None
    finally:
        ops.close()


@pytest.mark.parametrize("kind", SERVER_STORES)
def test_save_pushes_expiry_out(make_store: StoreFactory, kind: str) -> None:
    store = make_store(kind)
    token = store.create({"a": 1}, 2)
    time.sleep(1.2)
    assert store.save(token, {"a": 1}, {}, set(), 3) == token
    time.sleep(1.2)  # past the first expiry, within the second
    assert store.load(token) == {"a": 1}


def test_base_store_methods_are_abstract() -> None:
    store = SessionStore()
    for call in (
        lambda: store.load("t"),
        lambda: store.create({}, 1),
        lambda: store.save("t", {}, {}, (), 1),
        lambda: store.delete("t"),
    ):
        with pytest.raises(NotImplementedError):
            call()


def test_memory_store_sweeps_expired_sessions() -> None:
    store = MemoryStore()
    store.sweep_every = 3
    store.create({}, 1)
    store.create({}, 1)
    time.sleep(1.1)
    store.create({}, AGE)  # the third creation sweeps
    assert len(store) == 1
    store.create({}, 1)
    time.sleep(1.1)
    assert store.cleanup() == 1
    assert len(store) == 1
