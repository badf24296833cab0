"""The session contract, through each app flavour (bare WSGI, Flask, bare ASGI,
Starlette) and over each store (cookie, memory, SQLite, Redis): 16 combinations."""

from __future__ import annotations

from typing import Any

import pytest

from reqsignals.auth import SessionAuth
from reqsignals.auth.stores.base import SessionStore
from tests.live_apps.auth_apps import SECRET, Client


def set_cookie(response: object) -> str | None:
    return response.headers.get("set-cookie")  # type: ignore[attr-defined, no-any-return]


def test_untouched_session_sets_no_cookie(client: Client) -> None:
    assert set_cookie(client.get("/noop")) is None
    read = client.get("/get")
    assert read.json() == {"value": None}
    assert set_cookie(read) is None
    assert not client.cookies


def test_value_set_is_read_back_in_the_next_request(client: Client, store: SessionStore) -> None:
    response = client.set("user", {"id": 7, "roles": ["a", "b"]})
    assert response.status_code == 200
    assert set_cookie(response) is not None
    got = client.dump()
    assert got["data"] == {"user": {"id": 7, "roles": ["a", "b"]}}
    if store.stateless:
        assert got["key"] is None
    else:
        assert isinstance(got["key"], str)
        assert len(got["key"]) == 43


def test_read_only_request_sends_no_cookie(client: Client) -> None:
    client.set("a", 1)
    response = client.get("/get", params={"k": "a"})
    assert response.json() == {"value": 1}
    assert set_cookie(response) is None


def test_json_semantics_are_those_of_json(client: Client) -> None:
    client.set("t", {"tuple": [1, 2], "nested": {"x": None, "y": 1.5, "z": "é"}})
    assert client.dump()["data"]["t"] == {
        "tuple": [1, 2],
        "nested": {"x": None, "y": 1.5, "z": "é"},
    }


def test_deleted_key_stays_deleted(client: Client) -> None:
    client.set("a", 1)
    client.set("b", 2)
    client.post("/del", params={"k": "a"})
    assert client.dump()["data"] == {"b": 2}


def test_second_write_keeps_the_key_and_adds_to_the_data(
    client: Client, store: SessionStore
) -> None:
    client.set("a", 1)
    key = client.dump()["key"]
    client.set("b", 2)
    got = client.dump()
    assert got["data"] == {"a": 1, "b": 2}
    assert got["key"] == key


def test_cycle_key_keeps_data_under_a_new_key(client: Client, store: SessionStore) -> None:
    client.set("a", 1)
    old_cookie = client.cookies["session"]
    old_key = client.dump()["key"]
    response = client.post("/cycle")
    assert set_cookie(response) is not None
    got = client.dump()
    assert got["data"] == {"a": 1}
    if store.stateless:
        assert got["key"] is None
        # Documented: a cookie store cannot revoke an earlier cookie.
        client.use_cookie(old_cookie)
        assert client.dump()["data"] == {"a": 1}
    else:
        assert got["key"] != old_key
        assert not store.exists(old_key)
        client.use_cookie(old_cookie)
        assert client.dump()["data"] == {}


def test_flush_drops_data_and_expires_the_cookie(client: Client, store: SessionStore) -> None:
    client.set("a", 1)
    old_cookie = client.cookies["session"]
    old_key = client.dump()["key"]
    response = client.post("/flush")
    cookie = set_cookie(response)
    assert cookie is not None
    assert cookie.startswith("session=;")
    assert "Max-Age=0" in cookie
    assert "session" not in client.cookies
    assert client.dump()["data"] == {}
    if not store.stateless:
        assert not store.exists(old_key)
        client.use_cookie(old_cookie)
        assert client.dump()["data"] == {}


def test_flush_then_set_starts_a_new_session(client: Client, store: SessionStore) -> None:
    client.set("a", 1)
    old_key = client.dump()["key"]
    client.post("/flush_set", params={"k": "user", "v": "5"})
    got = client.dump()
    assert got["data"] == {"user": 5}
    if not store.stateless:
        assert got["key"] not in (None, old_key)
        assert not store.exists(old_key)


def test_flush_of_a_new_session_sends_nothing(client: Client) -> None:
    response = client.post("/flush")
    assert set_cookie(response) is None


def test_error_response_saves_nothing(client: Client) -> None:
    client.set("a", 1)
    response = client.post("/fail", params={"k": "a", "v": "2"})
    assert response.status_code == 500
    assert set_cookie(response) is None
    assert client.dump()["data"] == {"a": 1}


def test_deleting_every_key_of_a_new_session_sets_no_cookie(client: Client) -> None:
    response = client.post("/del", params={"k": "missing"})
    assert response.status_code == 200
    assert set_cookie(response) is None


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
def test_session_deleted_in_the_store_is_not_adopted_again(
    kind: str, make_store: Any, make_client: Any, flavour: str
) -> None:
    store = make_store(kind)
    client = make_client(flavour, SessionAuth(SECRET, store))
    client.set("user", 1)
    key = client.dump()["key"]
    store.delete(key)  # a logout elsewhere, or expiry
    response = client.set("cart", [1])
    assert set_cookie(response) is not None
    got = client.dump()
    assert got["data"] == {"cart": [1]}
    assert got["key"] != key
    assert not store.exists(key)
