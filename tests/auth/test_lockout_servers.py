"""The lock-out shared by real server processes over one SQLite file or one Redis.

Each pair of servers (two uvicorn processes, or uvicorn and waitress) runs for the whole
module; every test uses its own usernames and its own client address (sent in
``X-Forwarded-For``: the servers trust 127.0.0.1 as their proxy), so tests never share
a count.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from tests.helpers import servers
from tests.helpers.support import Server, run_server
from tests.live_apps.auth_lockout_apps import PASSWORD

UVICORN = servers.uvicorn(
    "tests.live_apps.auth_lockout_apps:make_asgi",
    # The lock-out reads X-Forwarded-For itself (trusted_proxies): uvicorn must not
    # rewrite the client first, as it does for 127.0.0.1 by default.
    "--no-proxy-headers",
    factory=True,
)
WAITRESS = servers.waitress(
    "tests.live_apps.auth_lockout_apps:make_wsgi",
    # Waitress drops X-Forwarded-For unless told to keep it (or given --trusted-proxy).
    "--no-clear-untrusted-proxy-headers",
)
MAX, CLIENT_MAX, WINDOW = 5, 8, 3.0

pytestmark = [pytest.mark.server, pytest.mark.timeout(120)]

_addresses = (f"198.18.{n // 250}.{n % 250 + 1}" for n in itertools.count())


class Pair:
    """Two servers over one counter store, and a way to log in through either."""

    def __init__(self, a: Server, b: Server, stack: ExitStack) -> None:
        self.servers = (a, b)
        limits = httpx.Limits(max_connections=50)
        self.client = stack.enter_context(httpx.Client(timeout=30, limits=limits))
        # From 127.0.0.2: a peer the servers do not trust as a proxy.
        other = httpx.HTTPTransport(local_address="127.0.0.2")
        self.untrusted = stack.enter_context(httpx.Client(timeout=30, transport=other))

    def login(
        self, i: int, username: str, password: str, address: str, *, trusted: bool = True
    ) -> int:
        client = self.client if trusted else self.untrusted
        response = client.post(
            f"{self.servers[i % 2].url}/login",
            data={"username": username, "password": password},
            headers={"x-forwarded-for": address},
        )
        if response.status_code == 429:
            assert 0 < int(response.headers["retry-after"]) <= WINDOW + 1
        return response.status_code

    def stats(self) -> list[dict[str, Any]]:
        return [self.client.get(f"{s.url}/stats").json() for s in self.servers]

    def verifies(self) -> int:
        return sum(s["verifies"] for s in self.stats())

    def locks_of(self, name: str) -> list[str]:
        return [
            e["reason"]
            for s in self.stats()
            for e in s["locked"]
            if e["credentials"]["username"] == name
        ]


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(("sqlite", "uvicorn"), id="sqlite-two-uvicorn"),
        pytest.param(("sqlite", "waitress"), id="sqlite-uvicorn-and-waitress"),
        pytest.param(("redis", "uvicorn"), id="redis-two-uvicorn"),
        pytest.param(("redis", "waitress"), id="redis-uvicorn-and-waitress"),
    ],
)
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    kind, second = request.param
    env = {
        "LOCKOUT_MAX": str(MAX),
        "LOCKOUT_CLIENT_MAX": str(CLIENT_MAX),
        "LOCKOUT_WINDOW": str(WINDOW),
        "LOCKOUT_PROXIES": "127.0.0.1",
    }
    directory = tmp_path_factory.mktemp("lockout")
    env.update(servers.store_env(kind, request, directory, "lockout:{}:session:"))
    with ExitStack() as stack:
        a = stack.enter_context(run_server(UVICORN, env=env))
        b = stack.enter_context(run_server(WAITRESS if second == "waitress" else UVICORN, env=env))
        yield Pair(a, b, stack)


def name() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def test_concurrent_wrong_passwords_through_both_lock_at_exactly_the_limit(pair: Pair) -> None:
    # One real account: ada. The password check must run exactly MAX times in all.
    address, before = next(_addresses), pair.verifies()
    with ThreadPoolExecutor(25) as pool:
        statuses = list(pool.map(lambda i: pair.login(i, "ada", "wrong", address), range(50)))
    assert sorted(statuses) == [401] * MAX + [429] * (50 - MAX)
    assert pair.verifies() - before == MAX
    # The right password while locked: refused, through either server, with no hashing.
    assert [pair.login(i, "ada", PASSWORD, address) for i in range(2)] == [429, 429]
    assert pair.verifies() - before == MAX
    assert pair.locks_of("ada") == ["username"]  # once, by one of the two processes


def test_the_lock_lifts_after_the_window(pair: Pair) -> None:
    user, address = name(), next(_addresses)
    assert [pair.login(i, user, "x", address) for i in range(MAX + 1)] == [401] * MAX + [429]
    time.sleep(WINDOW + 0.2)
    assert pair.login(0, user, "x", address) == 401  # counted again, not refused
    assert pair.locks_of(user) == ["username"]


def test_a_success_clears_the_username_only(pair: Pair) -> None:
    address = next(_addresses)
    assert [pair.login(i, "bob", "wrong", address) for i in range(MAX - 1)] == [401] * (MAX - 1)
    assert pair.login(0, "bob", PASSWORD, address) == 200
    # bob's count starts again; the address keeps its MAX - 1 failures.
    assert [pair.login(i, "bob", "wrong", address) for i in range(MAX - 1)] == [401] * (MAX - 1)
    assert pair.login(1, name(), "wrong", address) == 429  # the address: 8 failures
    assert pair.locks_of("bob") == ["client"]


def test_addresses_are_locked_per_address(pair: Pair) -> None:
    address, other = next(_addresses), next(_addresses)
    names = [name() for _ in range(CLIENT_MAX)]
    assert [pair.login(i, n, "x", address) for i, n in enumerate(names)] == [401] * CLIENT_MAX
    assert pair.login(0, name(), "x", address) == 429
    assert pair.login(1, name(), "x", other) == 401
    assert [r for n in names for r in pair.locks_of(n)] == ["client"]


def test_unknown_usernames_are_locked_like_known_ones(pair: Pair) -> None:
    ghost, address, before = name(), next(_addresses), pair.verifies()
    assert [pair.login(i, ghost, "x", address) for i in range(MAX + 1)] == [401] * MAX + [429]
    assert pair.verifies() - before == MAX  # the dummy verification, as for a real user
    assert pair.locks_of(ghost) == ["username"]


def test_a_forged_header_from_an_untrusted_peer_is_ignored(pair: Pair) -> None:
    # From 127.0.0.2, which is no trusted proxy: every attempt claims another address,
    # and every one is counted against 127.0.0.2 all the same.
    statuses = [
        pair.login(i, name(), "x", next(_addresses), trusted=False) for i in range(CLIENT_MAX + 1)
    ]
    assert statuses == [401] * CLIENT_MAX + [429]
