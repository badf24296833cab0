"""The lock-out's pieces: the client address, the username key, and Lockout itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from reqsignals.auth import CookieStore, MemoryStore, RedisStore, SQLiteStore
from reqsignals.auth.exceptions import LockedOut
from reqsignals.auth.lockout import (
    MAX_USERNAME_LENGTH,
    FailureCounter,
    Lockout,
    MemoryCounter,
    counter_for,
    username_key,
)
from reqsignals.auth.lockout.address import ProxyList, client_address, normalise_address
from reqsignals.auth.lockout.redis import RedisCounter
from reqsignals.auth.lockout.sqlite import SQLiteCounter
from tests.helpers.support import Server


def scope(peer: str | None, *forwarded: str) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"type": "http", "client": (peer, 5000) if peer else None, "headers": headers}


def environ(peer: str | None, forwarded: str | None = None) -> dict[str, Any]:
    env: dict[str, Any] = {"REQUEST_METHOD": "POST"}
    if peer is not None:
        env["REMOTE_ADDR"] = peer
    if forwarded is not None:
        env["HTTP_X_FORWARDED_FOR"] = forwarded
    return env


PROXIES = ProxyList(["10.0.0.0/8", "::1"])
NONE = ProxyList([])


class Request:
    """What a framework's request looks like to the lock-out: a scope or an environ."""

    def __init__(self, space: dict[str, Any], attr: str) -> None:
        setattr(self, attr, space)


@pytest.mark.parametrize(
    ("request_", "trusted", "expected"),
    [
        pytest.param(scope("192.0.2.7"), NONE, "192.0.2.7", id="asgi-peer"),
        pytest.param(environ("192.0.2.7"), NONE, "192.0.2.7", id="wsgi-peer"),
        pytest.param(Request(scope("192.0.2.7"), "scope"), NONE, "192.0.2.7", id="starlette"),
        pytest.param(Request(environ("192.0.2.7"), "environ"), NONE, "192.0.2.7", id="flask"),
        pytest.param(scope(None), NONE, None, id="no-client"),
        pytest.param(environ(None), NONE, None, id="no-remote-addr"),
        pytest.param(scope("testclient"), NONE, "testclient", id="not-an-ip"),
        pytest.param(
            scope("192.0.2.7", "203.0.113.9"), NONE, "192.0.2.7", id="header-ignored-untrusted"
        ),
        pytest.param(
            scope("192.0.2.7", "203.0.113.9"),
            PROXIES,
            "192.0.2.7",
            id="forged-header-from-an-untrusted-peer",
        ),
        pytest.param(
            scope("10.0.0.2", "203.0.113.9"), PROXIES, "203.0.113.9", id="through-one-proxy"
        ),
        pytest.param(
            environ("10.0.0.2", "1.1.1.1, 203.0.113.9, 10.0.0.5"),
            PROXIES,
            "203.0.113.9",
            id="right-most-untrusted-of-a-chain",
        ),
        pytest.param(
            scope("10.0.0.2", "1.1.1.1", "203.0.113.9"),
            PROXIES,
            "203.0.113.9",
            id="headers-joined",
        ),
        pytest.param(scope("10.0.0.2"), PROXIES, "10.0.0.2", id="proxy-without-header"),
        pytest.param(
            scope("10.0.0.2", "10.0.0.3, 10.0.0.4"), PROXIES, "10.0.0.3", id="all-trusted"
        ),
        pytest.param(
            scope("10.0.0.2", "203.0.113.9, not-an-ip"), PROXIES, "10.0.0.2", id="broken-chain"
        ),
        pytest.param(
            scope("10.0.0.2", "[2001:db8::1]:443"), PROXIES, "2001:db8::/64", id="ipv6-port"
        ),
        pytest.param(scope("10.0.0.2", "192.0.2.4:8080"), PROXIES, "192.0.2.4", id="ipv4-port"),
        pytest.param(
            scope("::1", "2001:db8:0:0:abcd::1"), PROXIES, "2001:db8::/64", id="ipv6-per-64"
        ),
        pytest.param(scope("::ffff:192.0.2.1"), NONE, "192.0.2.1", id="ipv4-mapped"),
    ],
)
def test_client_address(request_: Any, trusted: ProxyList, expected: str | None) -> None:
    assert client_address(request_, trusted) == expected


def test_a_huge_forwarded_header_is_read_from_its_right_end() -> None:
    forged = ", ".join(["198.51.100.1"] * 5000)
    assert client_address(scope("10.0.0.2", f"{forged}, 203.0.113.9"), PROXIES) == "203.0.113.9"


def test_normalise_address() -> None:
    assert (
        normalise_address("2001:db8::1") == normalise_address("2001:db8::ffff") == "2001:db8::/64"
    )
    assert normalise_address("nope") is None


def test_proxy_list_refuses_bad_entries() -> None:
    with pytest.raises(TypeError, match=r"trusted_proxies=\['10.0.0.1'\]"):
        ProxyList("10.0.0.1")
    with pytest.raises(ValueError, match=r"'proxy\.internal' is not an IP address or network"):
        ProxyList(["proxy.internal"])
    assert repr(PROXIES) == "ProxyList(['10.0.0.0/8', '::1/128'])"


# -- usernames -------------------------------------------------------------------------


def test_username_spellings_of_one_account_share_a_key() -> None:
    keys = {username_key(name) for name in ["Ada", "ada", " ada", "\uff21\uff44\uff41"]}
    assert len({k[0] for k in keys if k}) == 1


@pytest.mark.parametrize(
    "username",
    [
        pytest.param("x" * MAX_USERNAME_LENGTH, id="at-the-limit"),
        pytest.param("\ud800lone surrogate", id="unencodable"),
        pytest.param("\x00\n;DROP TABLE", id="control-characters"),
        pytest.param("émile", id="non-ascii"),
    ],
)
def test_any_username_within_the_limit_gets_a_short_key(username: str) -> None:
    found = username_key(username)
    assert found is not None
    key, label = found
    assert key.startswith("username:")
    assert len(key) == len("username:") + 40
    assert len(label) <= 64
    label.encode("utf-8")  # always encodable, to show and to store


@pytest.mark.parametrize(
    "username", [None, "", b"ada", 42, "x" * (MAX_USERNAME_LENGTH + 1)], ids=repr
)
def test_what_no_backend_can_check_is_not_counted_by_name(username: object) -> None:
    assert username_key(username) is None


# -- Lockout -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"max_failures": 0}, "max_failures must be a whole number"),
        ({"max_failures": True}, "max_failures must be a whole number"),
        ({"max_client_failures": 0}, "max_client_failures must be a whole number"),
        ({"window": 0}, "window must be a positive number"),
        ({"window": "900"}, "window must be a positive number"),
        ({"trusted_proxies": ["nope"]}, "not an IP address"),
        ({"store": CookieStore()}, "CookieStore keeps nothing on the server"),
    ],
)
def test_lockout_refuses_bad_configuration(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Lockout(**options)


def test_lockout_refuses_a_store_it_cannot_count_in() -> None:
    with pytest.raises(TypeError, match="cannot count failed logins in a dict"):
        Lockout(store={})  # type: ignore[arg-type]


def test_counter_for_counts_beside_each_server_side_store(
    tmp_path: Path, redis_server: Server
) -> None:
    memory = MemoryStore()
    assert counter_for(memory) is counter_for(memory)  # one count per store object
    assert counter_for(MemoryStore()) is not counter_for(memory)
    sqlite = counter_for(SQLiteStore(tmp_path / "s.db", timeout=3))
    assert isinstance(sqlite, SQLiteCounter)
    assert (sqlite.path, sqlite.timeout) == (tmp_path / "s.db", 3)
    redis = counter_for(RedisStore(redis_server.url, prefix="shop:session:", socket_timeout=2))
    assert isinstance(redis, RedisCounter)
    assert (redis.prefix, redis.client_options["socket_timeout"]) == ("shop:lockout:", 2)
    other = counter_for(RedisStore(redis_server.url, prefix="s:"))
    assert isinstance(other, RedisCounter)
    assert other.prefix == "s:lockout:"
    counter = MemoryCounter()
    assert counter_for(counter) is counter


def test_an_unbound_lockout_says_how_to_give_it_a_store() -> None:
    lockout = Lockout()
    with pytest.raises(RuntimeError, match=r"pass it to SessionAuth\(lockout=...\)"):
        lockout.reset()
    lockout.close()  # nothing to close


def test_bind_counts_beside_the_session_store_unless_one_was_given() -> None:
    store, given = MemoryStore(), MemoryCounter()
    lockout = Lockout()
    lockout.bind(store)
    lockout.bind(store)  # the same store again: fine
    assert lockout.counter is counter_for(store)
    with pytest.raises(ValueError, match="already counts beside another SessionAuth's store"):
        lockout.bind(MemoryStore())
    with_store = Lockout(store=given)
    with_store.bind(store)
    assert with_store.counter is given
    with pytest.raises(ValueError, match="CookieStore"):
        Lockout().bind(CookieStore())


def test_begin_failed_succeeded_and_reset() -> None:
    lockout = Lockout(max_failures=2, max_client_failures=3, store=MemoryCounter())
    assert "max_failures=2" in repr(lockout)
    ada = scope("192.0.2.1")

    first = lockout.begin(ada, {"username": "ada", "password": "x"})
    assert [c.kind for c in first.counts] == ["username", "client"]
    assert lockout.failed(first) == []
    second = lockout.begin(ada, {"username": "ADA"})
    assert lockout.failed(second) == [("username", 900)]
    with pytest.raises(LockedOut) as refused:
        lockout.begin(scope("192.0.2.2"), {"username": "ada"})
    assert (refused.value.reason, refused.value.retry_after) == ("username", 900)
    assert (
        str(refused.value) == "too many failed logins for this username: try again in 900 seconds"
    )

    # The address has two failures of three: one more, under another name, locks it.
    bob = lockout.begin(ada, {"username": "bob"})
    assert lockout.failed(bob) == [("client", 900)]
    with pytest.raises(LockedOut, match="for this address") as refused:
        lockout.begin(ada, {"username": "carol"})
    assert refused.value.reason == "client"

    assert lockout.reset(client="192.0.2.1") == 1
    carol = lockout.begin(ada, {"username": "carol"})
    lockout.succeeded(carol)
    assert lockout.reset(username="ada") == 1
    # carol's success took her attempt off the address again: only bob's name is left.
    assert [lock.label for lock in lockout.locks()] == ["bob"]
    with pytest.raises(ValueError, match="not a username that can be counted"):
        lockout.reset(username="")
    assert lockout.reset() == 1


def test_attempts_with_nothing_to_count_go_through() -> None:
    lockout = Lockout(max_failures=1, store=MemoryCounter())
    for _ in range(3):
        attempt = lockout.begin(scope(None), {"token": "abc"})
        assert attempt.counts == ()
        assert lockout.failed(attempt) == []
        lockout.succeeded(attempt)


def test_async_twins() -> None:
    lockout = Lockout(max_failures=1, store=MemoryCounter())

    async def main() -> None:
        attempt = await lockout.abegin(scope("192.0.2.1"), {"username": "ada"})
        assert await lockout.afailed(attempt) == [("username", 900), ("client", 900)]
        with pytest.raises(LockedOut):
            await lockout.abegin(scope("192.0.2.1"), {"username": "ada"})
        assert len(await lockout.alocks()) == 2
        assert await lockout.areset(username="ada", client="192.0.2.1") == 2
        attempt = await lockout.abegin(scope("192.0.2.1"), {"username": "ada"})
        await lockout.asucceeded(attempt)
        assert await lockout.afailed(await lockout.abegin(scope(None), {})) == []
        await lockout.asucceeded(await lockout.abegin(scope(None), {}))
        await lockout.aclose()

    asyncio.run(main())


def test_a_counter_subclass_must_implement_the_interface() -> None:
    counter = FailureCounter()
    for call in (
        lambda: counter.begin([], "t", 1),
        lambda: counter.fail([], "t", 1),
        lambda: counter.succeed([], [], "t"),
        lambda: counter.reset(),
        counter.locks,
    ):
        with pytest.raises(NotImplementedError):
            call()
    counter.close()
    asyncio.run(counter.aclose())
