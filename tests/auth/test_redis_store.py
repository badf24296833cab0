"""What RedisStore promises beyond the shared contract, against a real redis-server."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections.abc import Callable
from typing import Any

import pytest
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from reqsignals import connection_created
from reqsignals.auth import RedisStore, SessionAuth, SessionStoreUnavailable
from reqsignals.testing import capture
from tests.helpers.redis_server import redis_server as start_redis
from tests.helpers.support import Server, free_port
from tests.live_apps.auth_apps import SECRET, Client

AGE = 3600
FAST_FAIL: dict[str, Any] = {
    "socket_timeout": 0.5,
    "socket_connect_timeout": 0.5,
    "retry": Retry(NoBackoff(), 0),
}


@pytest.fixture
def store(redis_server: Server) -> Any:
    s = RedisStore(redis_server.url, prefix="layout-test:")
    yield s
    s.client.delete(*s.client.keys("layout-test:*") or ["none"])
    s.close()


def test_one_hash_per_session_with_a_ttl(store: RedisStore) -> None:
    token = store.create({"user": 1, "cart": [1, 2]}, AGE)
    raw = store.client.hgetall(f"layout-test:{token}")
    assert set(raw) == {b"m", b"d:user", b"d:cart"}
    assert raw[b"d:cart"] == b"[1,2]"
    assert AGE - 5 <= store.client.ttl(f"layout-test:{token}") <= AGE
    store.save(token, {}, {"more": True}, {"cart"}, 60)
    assert set(store.client.hgetall(f"layout-test:{token}")) == {b"m", b"d:user", b"d:more"}
    assert store.client.ttl(f"layout-test:{token}") <= 60


def test_clients_are_announced_once_each(redis_server: Server) -> None:
    store = RedisStore(redis_server.url)

    async def use_async() -> None:
        await store.aload("x")
        await store.aload("y")
        await store.aclose()

    with capture(connection_created) as sent:
        store.load("x")
        store.load("y")
        asyncio.run(use_async())
    store.close()
    assert [s.sender for s in sent] == [RedisStore, RedisStore]
    assert isinstance(sent.sent[0].kwargs["connection"], redis.Redis)
    assert isinstance(sent.sent[1].kwargs["connection"], redis.asyncio.Redis)


def test_each_event_loop_gets_its_own_async_client(redis_server: Server) -> None:
    store = RedisStore(redis_server.url)
    clients = []

    async def use() -> None:
        clients.append(await store.aclient())
        assert await store.aexists("nothing") is False
        await store.aclose()

    asyncio.run(use())
    asyncio.run(use())
    assert clients[0] is not clients[1]


@pytest.mark.parametrize(
    "where",
    ["netloc", "query"],
)
def test_unreachable_redis_is_a_clear_error_without_the_password(where: str) -> None:
    port = free_port()
    url = (
        f"redis://user:hunter2@127.0.0.1:{port}/0"
        if where == "netloc"
        else f"redis://user@127.0.0.1:{port}/0?password=hunter2"
    )
    store = RedisStore(url, **FAST_FAIL)
    calls: list[Callable[[], Any]] = [
        lambda: store.load("t"),
        lambda: store.create({}, AGE),
        lambda: store.save("t", {}, {"a": 1}, (), AGE),
        lambda: store.delete("t"),
        lambda: store.exists("t"),
    ]
    for call in calls:
        with pytest.raises(SessionStoreUnavailable, match=r"127\.0\.0\.1") as info:
            call()
        assert "hunter2" not in str(info.value)
        assert ("user:***@" if where == "netloc" else "password=***") in str(info.value)
    assert "hunter2" not in repr(store)

    async def async_calls() -> None:
        for name, args in [
            ("aload", ("t",)),
            ("acreate", ({}, AGE)),
            ("asave", ("t", {}, {"a": 1}, (), AGE)),
            ("adelete", ("t",)),
            ("aexists", ("t",)),
        ]:
            with pytest.raises(SessionStoreUnavailable, match="is unreachable"):
                await getattr(store, name)(*args)
        await store.aclose()

    asyncio.run(async_calls())


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        pytest.param("redis://127.0.0.1:1/0", "redis://127.0.0.1:1/0", id="no-password"),
        pytest.param("redis://:pw@h:1/0", "redis://:***@h:1/0", id="password-only"),
        pytest.param(
            "redis://h:1/0?password=hunter2&db=2",
            "redis://h:1/0?password=***&db=2",
            id="query-password",
        ),
        pytest.param(
            "rediss://u:a@h/0?ssl_cert_reqs=none&Password=b&pass%77ord=c",
            "rediss://u:***@h/0?ssl_cert_reqs=none&Password=***&pass%77ord=***",
            id="both-and-spelled-otherwise",
        ),
    ],
)
def test_repr_hides_passwords(url: str, shown: str) -> None:
    assert repr(RedisStore(url)) == f"RedisStore({shown!r}, prefix='reqsignals:session:')"


@pytest.mark.server
@pytest.mark.parametrize("flavour", ["flask", "starlette"])
def test_paused_redis_fails_the_request_and_loses_nothing(
    flavour: str, make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    with start_redis() as server:
        store = RedisStore(server.url, **FAST_FAIL)
        client = make_client(flavour, SessionAuth(SECRET, store))
        client.set("user", 1)
        os.killpg(server.proc.pid, signal.SIGSTOP)
        try:
            if flavour == "flask":
                # Flask turns the exception into a 500 page and logs it.
                assert client.get("/dump").status_code == 500
                [record] = [r for r in caplog.records if r.exc_info]
                assert isinstance(record.exc_info[1], SessionStoreUnavailable)  # type: ignore[index]
                assert f"127.0.0.1:{server.port}" in str(record.exc_info[1])  # type: ignore[index]
            else:
                where = re.escape(f"127.0.0.1:{server.port}")
                with pytest.raises(SessionStoreUnavailable, match=where):
                    client.get("/dump")
        finally:
            os.killpg(server.proc.pid, signal.SIGCONT)
        # Back: the very same session, with its data.
        assert client.dump()["data"] == {"user": 1}
        client.set("more", 2)
        assert client.dump()["data"] == {"user": 1, "more": 2}
        client.close()


@pytest.mark.server
@pytest.mark.parametrize("flavour", ["wsgi", "asgi"])
def test_restarted_redis_serves_the_next_request(
    flavour: str, make_client: Callable[..., Client]
) -> None:
    port = free_port()
    with start_redis(port) as server:
        store = RedisStore(server.url, **FAST_FAIL)
        client = make_client(flavour, SessionAuth(SECRET, store))
        client.set("user", 1)
    with pytest.raises(SessionStoreUnavailable):
        client.get("/dump")
    with start_redis(port):
        # A server started empty (no persistence): the old key is unknown, never adopted.
        response = client.set("user", 2)
        assert response.status_code == 200
        assert client.dump()["data"] == {"user": 2}
        client.close()
