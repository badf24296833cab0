from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reqsignals.auth import CookieStore, MemoryStore, RedisStore, SessionAuth, SQLiteStore
from reqsignals.auth.stores.base import SessionStore
from reqsignals.signals import csrf_failed
from tests.live_apps.auth_apps import FLAVOURS, SECRET, Client

STORES = ["cookie", "memory", "sqlite", "redis"]
SERVER_STORES = ["memory", "sqlite", "redis"]


StoreFactory = Callable[..., SessionStore]


@pytest.fixture
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """make_store(kind, **options): a fresh store of that kind, closed after the test."""
    made: list[SessionStore] = []

    def make(kind: str, **options: Any) -> SessionStore:
        store: SessionStore
        if kind == "cookie":
            store = CookieStore()
        elif kind == "memory":
            store = MemoryStore()
        elif kind == "sqlite":
            store = SQLiteStore(tmp_path / f"sessions-{len(made)}.db", **options)
        elif kind == "redis":
            server = request.getfixturevalue("redis_server")
            store = RedisStore(server.url, prefix=f"test:{uuid.uuid4().hex}:", **options)
        else:  # pragma: no cover
            raise ValueError(kind)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(store_kind: str, make_store: StoreFactory) -> SessionStore:
    return make_store(store_kind)


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_client() -> Iterator[Callable[..., Client]]:
    """make_client(flavour, auth, https=False): a client, closed after the test."""
    made: list[Client] = []

    def make(flavour: str, auth: SessionAuth, **options: Any) -> Client:
        client = Client(flavour, auth, **options)
        made.append(client)
        return client

    yield make
    for client in reversed(made):
        client.close()


@pytest.fixture
def client(flavour: str, store: SessionStore, make_client: Callable[..., Client]) -> Client:
    """A client of the *flavour* app over *store*: every store x every flavour."""
    return make_client(flavour, SessionAuth(SECRET, store))


@pytest.fixture
def failures() -> Iterator[list[dict[str, Any]]]:
    """Every csrf_failed sent during the test: its sender and keyword arguments."""
    heard: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        heard.append({"sender": sender, **kwargs})

    with csrf_failed.connected_to(receiver):
        yield heard
