"""The lock-out's counters: memory, SQLite and Redis, alone and under concurrency."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from reqsignals.auth.exceptions import LockoutUnavailable
from reqsignals.auth.lockout import Count, FailureCounter, MemoryCounter
from reqsignals.auth.lockout.redis import RedisCounter
from reqsignals.auth.lockout.sqlite import SQLiteCounter, boot_id
from reqsignals.signals import connection_created
from tests.helpers.support import Server, free_port

KINDS = ["memory", "sqlite", "redis"]
USER = Count("username:ada", "username", "ada", 3)
CLIENT = Count("client:192.0.2.1", "client", "192.0.2.1", 5)

CounterFactory = Callable[..., FailureCounter]


@pytest.fixture
def make_counter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CounterFactory]:
    made: list[FailureCounter] = []

    def make(kind: str, *, name: str = "counts") -> FailureCounter:
        counter: FailureCounter
        if kind == "memory":
            counter = MemoryCounter()
        elif kind == "sqlite":
            counter = SQLiteCounter(tmp_path / f"{name}.db")
        else:
            server: Server = request.getfixturevalue("redis_server")
            counter = RedisCounter(server.url, prefix=f"test:{name}:{uuid.uuid4().hex}:")
        made.append(counter)
        return counter

    yield make
    for counter in made:
        counter.close()


@pytest.fixture(params=KINDS)
def counter(request: pytest.FixtureRequest, make_counter: CounterFactory) -> FailureCounter:
    return make_counter(request.param)


def token() -> str:
    return uuid.uuid4().hex


def test_attempts_are_recorded_up_to_the_limit_then_refused(counter: FailureCounter) -> None:
    for _ in range(3):
        assert counter.begin([USER, CLIENT], token(), 60) is None
    refused = counter.begin([USER, CLIENT], token(), 60)
    assert refused is not None
    index, left = refused
    assert index == 0
    assert 59 < left <= 60
    # The refused attempt was not recorded against the address either.
    assert {lock.key: lock.failures for lock in counter.locks()} == {USER.key: 3, CLIENT.key: 3}


def test_the_address_is_refused_by_its_own_limit(counter: FailureCounter) -> None:
    for n in range(5):
        user = Count(f"username:u{n}", "username", f"u{n}", 3)
        assert counter.begin([user, CLIENT], token(), 60) is None
    refused = counter.begin([Count("username:new", "username", "new", 3), CLIENT], token(), 60)
    assert refused is not None
    assert refused[0] == 1


def test_fail_reports_a_lock_once_when_it_engages(counter: FailureCounter) -> None:
    reported = []
    for _ in range(3):
        t = token()
        counter.begin([USER, CLIENT], t, 60)
        reported.append(counter.fail([USER, CLIENT], t, 60))
    assert [[i for i, _ in r] for r in reported] == [[], [], [0]]
    assert 59 < reported[2][0][1] <= 60
    assert counter.fail([USER, CLIENT], t, 60) == []  # the same lock, told again: nothing


def test_attempts_in_flight_count_so_the_first_of_them_to_fail_reports_the_lock(
    counter: FailureCounter,
) -> None:
    tokens = [token() for _ in range(3)]
    for t in tokens:
        counter.begin([USER], t, 60)
    assert [len(counter.fail([USER], t, 60)) for t in tokens] == [1, 0, 0]


def test_success_clears_the_username_and_takes_only_itself_off_the_address(
    counter: FailureCounter,
) -> None:
    earlier, good = token(), token()
    counter.begin([USER, CLIENT], earlier, 60)
    counter.fail([USER, CLIENT], earlier, 60)
    counter.begin([USER, CLIENT], good, 60)
    counter.succeed([USER.key], [CLIENT.key], good)
    assert {lock.key: lock.failures for lock in counter.locks()} == {CLIENT.key: 1}


def test_a_lock_lifts_when_its_oldest_attempt_leaves_the_window(counter: FailureCounter) -> None:
    first = token()
    counter.begin([USER], first, 0.6)
    time.sleep(0.3)
    counter.begin([USER], token(), 0.6)
    counter.begin([USER], token(), 0.6)
    refused = counter.begin([USER], token(), 0.6)
    assert refused is not None
    assert 0.1 < refused[1] <= 0.35
    time.sleep(refused[1] + 0.05)
    assert counter.begin([USER], token(), 0.6) is None  # one aged out: room for one
    assert counter.begin([USER], token(), 0.6) is not None


def test_a_new_lock_after_one_lifts_is_reported_again(counter: FailureCounter) -> None:
    tokens = [token() for _ in range(3)]
    counter.begin([USER], tokens[0], 0.4)
    time.sleep(0.25)
    counter.begin([USER], tokens[1], 0.4)
    counter.begin([USER], tokens[2], 0.4)
    assert len(counter.fail([USER], tokens[2], 0.4)) == 1
    time.sleep(0.2)  # the first attempt ages out, the other two do not: the lock lifts
    again = token()
    assert counter.begin([USER], again, 0.4) is None
    assert len(counter.fail([USER], again, 0.4)) == 1


def test_reset_forgets_the_keys_given_or_all(counter: FailureCounter) -> None:
    other = Count("username:bob", "username", "bob", 3)
    counter.begin([USER, CLIENT], token(), 60)
    counter.begin([other], token(), 60)
    assert counter.reset([USER.key, "username:nobody"]) == 1
    assert {lock.key for lock in counter.locks()} == {CLIENT.key, other.key}
    assert counter.reset() == 2
    assert counter.locks() == []


def test_locks_lists_labels_limits_and_time_left(counter: FailureCounter) -> None:
    for _ in range(3):
        counter.begin([USER, CLIENT], token(), 60)
    found = {lock.key: lock for lock in counter.locks()}
    user, client = found[USER.key], found[CLIENT.key]
    assert (user.kind, user.label, user.failures, user.limit, user.locked) == (
        "username",
        "ada",
        3,
        3,
        True,
    )
    assert 59 < user.retry_after <= 60
    assert (client.failures, client.limit, client.locked, client.retry_after) == (3, 5, False, 0.0)


@pytest.mark.parametrize("kind", KINDS)
def test_async_twins_count_like_the_sync_methods(make_counter: CounterFactory, kind: str) -> None:
    counter = make_counter(kind)

    async def main() -> None:
        tokens = [token() for _ in range(3)]
        for t in tokens:
            assert await counter.abegin([USER, CLIENT], t, 60) is None
        assert await counter.abegin([USER, CLIENT], token(), 60) is not None
        engaged = [await counter.afail([USER, CLIENT], t, 60) for t in tokens]
        assert [len(e) for e in engaged] == [1, 0, 0]
        await counter.asucceed([USER.key], [CLIENT.key], tokens[0])
        assert [(lock.key, lock.failures) for lock in await counter.alocks()] == [(CLIENT.key, 2)]
        assert await counter.areset() == 1
        await counter.aclose()

    asyncio.run(main())


# -- exact under concurrency ------------------------------------------------------------


def _attempt_many(counter: FailureCounter, count: Count, n: int) -> tuple[int, int]:
    """n attempts at once in threads, each failing: (admitted, locks reported)."""
    barrier = threading.Barrier(n, timeout=30)

    def one(_: int) -> tuple[bool, int]:
        t = token()
        barrier.wait()
        if counter.begin([count], t, 60) is not None:
            return False, 0
        return True, len(counter.fail([count], t, 60))

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    return sum(ok for ok, _ in results), sum(n for _, n in results)


def test_threads_racing_on_one_key_are_admitted_exactly_to_the_limit(
    counter: FailureCounter,
) -> None:
    count = Count("username:race", "username", "race", 5)
    assert _attempt_many(counter, count, 24) == (5, 1)


def _in_process(kind: str, where: str, prefix: str, n: int) -> tuple[int, int]:
    counter: FailureCounter = (
        SQLiteCounter(where) if kind == "sqlite" else RedisCounter(where, prefix=prefix)
    )
    try:
        return _attempt_many(counter, Count("username:race", "username", "race", 5), n)
    finally:
        counter.close()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_processes_racing_on_one_key_are_admitted_exactly_to_the_limit(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    if kind == "sqlite":
        where, prefix = str(tmp_path / "shared.db"), ""
    else:
        where, prefix = request.getfixturevalue("redis_server").url, f"race:{token()}:"
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(3, mp_context=context) as pool:
        results = list(pool.map(_in_process, *zip(*[(kind, where, prefix, 12)] * 3)))
    assert (sum(a for a, _ in results), sum(n for _, n in results)) == (5, 1)


# -- time ------------------------------------------------------------------------------


def test_sqlite_ages_rows_of_this_boot_by_the_monotonic_clock(tmp_path: Path) -> None:
    counter = SQLiteCounter(tmp_path / "c.db")
    for _ in range(3):
        counter.begin([USER], token(), 60)
    # The wall clock jumps a day ahead: rows of this boot are still a second old.
    with sqlite3.connect(tmp_path / "c.db") as conn:
        conn.execute("UPDATE reqsignals_lockout SET wall = wall - 86400")
    assert counter.begin([USER], token(), 60) is not None
    counter.close()


def test_sqlite_ages_rows_of_an_earlier_boot_by_the_wall_clock(tmp_path: Path) -> None:
    counter = SQLiteCounter(tmp_path / "c.db")
    for _ in range(3):
        counter.begin([USER], token(), 60)
    with sqlite3.connect(tmp_path / "c.db") as conn:
        # After a reboot the monotonic clock starts again near zero: rows of the old
        # boot are judged by their wall-clock time, which says they are recent...
        conn.execute("UPDATE reqsignals_lockout SET boot = 'an-earlier-boot', mono = 1e9")
    assert counter.begin([USER], token(), 60) is not None
    with sqlite3.connect(tmp_path / "c.db") as conn:
        # ...until it says they are older than the window.
        conn.execute("UPDATE reqsignals_lockout SET wall = wall - 61")
    assert counter.begin([USER], token(), 60) is None
    counter.close()
    assert boot_id() == counter.boot


def test_redis_counts_on_the_redis_servers_clock(redis_server: Server) -> None:
    counter = RedisCounter(redis_server.url, prefix=f"clock:{token()}:")
    counter.begin([USER], token(), 60)
    seconds, micros = counter.client.time()
    entries = counter.client.zrange(f"{counter.prefix}z:{USER.key}", 0, -1, withscores=True)
    assert isinstance(entries, list)  # the sync client's answer, not an awaitable
    assert len(entries) == 1
    score = float(entries[0][1])  # (member, score)
    assert 0 <= seconds * 1_000_000 + micros - score < 5_000_000
    # The keys expire by themselves a little after the window.
    assert 60_000 < counter.client.pttl(f"{counter.prefix}z:{USER.key}") <= 61_000
    counter.close()


def test_sqlite_sweeps_rows_older_than_their_window(tmp_path: Path) -> None:
    counter = SQLiteCounter(tmp_path / "c.db", cleanup_interval=0)
    counter.begin([USER], token(), 0.05)
    time.sleep(0.1)
    counter.begin([CLIENT], token(), 60)  # sweeps first
    with sqlite3.connect(tmp_path / "c.db") as conn:
        rows = conn.execute("SELECT key FROM reqsignals_lockout").fetchall()
        keys = conn.execute("SELECT key FROM reqsignals_lockout_keys").fetchall()
    assert rows == keys == [(CLIENT.key,)]
    counter.close()


def test_memory_sweeps_keys_whose_attempts_aged_out() -> None:
    now = [0.0]
    counter = MemoryCounter(clock=lambda: now[0])
    for n in range(1023):
        counter.begin([Count(f"username:{n}", "username", str(n), 3)], token(), 10)
    now[0] = 11.0
    counter.begin([USER], token(), 10)  # the table reached 1024 keys: swept
    assert [lock.key for lock in counter.locks()] == [USER.key]
    assert "1 keys" in repr(counter)


# -- a counter that is down ----------------------------------------------------------------


def test_a_sqlite_counter_that_cannot_open_its_file_fails_with_a_clear_error(
    tmp_path: Path,
) -> None:
    counter = SQLiteCounter(tmp_path / "missing-dir" / "c.db")
    with pytest.raises(LockoutUnavailable, match=r"SQLite lock-out counter .*Logins are refused"):
        counter.begin([USER], token(), 60)


def test_a_redis_counter_that_cannot_connect_fails_with_a_clear_error() -> None:
    counter = RedisCounter(
        f"redis://:hunter2@127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5
    )
    for call in (
        lambda: counter.begin([USER], token(), 60),
        lambda: counter.fail([USER], token(), 60),
        lambda: counter.succeed([USER.key], [], token()),
        lambda: counter.reset([USER.key]),
        counter.locks,
    ):
        with pytest.raises(LockoutUnavailable, match="logins are refused") as raised:
            call()
        assert "hunter2" not in str(raised.value)

    async def main() -> None:
        with pytest.raises(LockoutUnavailable):
            await counter.abegin([USER], token(), 60)
        await counter.aclose()

    asyncio.run(main())
    assert "hunter2" not in repr(counter)


def test_counters_refuse_bad_configuration(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="MemoryCounter"):
        SQLiteCounter(":memory:")
    with pytest.raises(ValueError, match="identifier"):
        SQLiteCounter(tmp_path / "c.db", table="x; DROP TABLE y")


def test_sqlite_counter_announces_its_connections(tmp_path: Path) -> None:
    seen: list[Any] = []

    def heard(sender: Any, connection: Any, **kwargs: Any) -> None:
        seen.append((sender, type(connection)))

    with connection_created.connected_to(heard):
        counter = SQLiteCounter(tmp_path / "c.db")
        counter.begin([USER], token(), 60)
    assert seen == [(SQLiteCounter, sqlite3.Connection)]
    assert "c.db" in repr(counter)
    counter.close()


def test_redis_prefix_is_literal_when_listing(redis_server: Server) -> None:
    tricky = RedisCounter(redis_server.url, prefix=f"glob*[{token()}]:")
    plain = RedisCounter(redis_server.url, prefix=f"globx{token()}:")
    tricky.begin([USER], token(), 60)
    plain.begin([USER], token(), 60)
    assert [lock.key for lock in tricky.locks()] == [USER.key]
    assert tricky.reset() == 1
    assert [lock.key for lock in plain.locks()] == [USER.key]
    for counter in (tricky, plain):
        counter.close()


def test_redis_sends_its_scripts_again_after_a_script_flush(redis_server: Server) -> None:
    counter = RedisCounter(redis_server.url, prefix=f"flush:{token()}:")

    async def main() -> None:
        t = token()
        counter.client.script_flush()
        assert await counter.abegin([USER], t, 60) is None
        counter.client.script_flush()
        assert await counter.afail([USER], t, 60) == []
        counter.client.script_flush()
        await counter.asucceed([USER.key], [], t)
        counter.client.script_flush()
        assert counter.begin([USER], token(), 60) is None
        await counter.aclose()

    asyncio.run(main())
    assert [lock.failures for lock in counter.locks()] == [1]
