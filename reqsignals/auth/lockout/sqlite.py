"""Failed logins counted in a SQLite file: for the processes of one machine.

Time: every row records the machine's boot id with ``time.monotonic()`` (the same
clock for every process until the next boot) and, for rows read after a reboot, the
wall-clock time. Rows of this boot are aged by the monotonic clock, so setting the
system clock neither lifts a lock early nor extends it; rows of an earlier boot are
aged by the wall clock (a clock set back then makes them last longer, never shorter).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

from .._sqlite import Connections, check_file, check_table
from ..exceptions import LockoutUnavailable
from .counters import Count, FailureCounter, LockInfo, Refusal

__all__ = ["SQLiteCounter", "boot_id"]

T = TypeVar("T")


def boot_id() -> str:
    """An id of this boot of the machine: Linux's ``boot_id``; elsewhere the boot time
    estimated from the two clocks, to ten seconds."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as file:
            return file.read().strip()
    except OSError:  # pragma: no cover - not Linux
        return f"~{round(time.time() - time.monotonic(), -1):.0f}"


class SQLiteCounter(FailureCounter):
    """Counts failed logins in two tables of a SQLite file (the session file by default).

    Each change runs in a ``BEGIN IMMEDIATE`` transaction, which holds the file's write
    lock from its first read to its commit: two processes can never both see a count
    under the limit and both add to it. Rows older than the window are swept every
    *cleanup_interval* seconds.

    Args:
        path: the database file (created on first use).
        table: the attempts table; ``<table>_keys`` holds each key's label and limit.
        timeout: seconds to wait for another writer before giving up with
            :class:`~reqsignals.auth.LockoutUnavailable`.
        cleanup_interval: seconds between sweeps of expired rows.

    Raises:
        ValueError: ``":memory:"`` (not shared; use ``MemoryCounter``) or a table name
            that is not an identifier.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = "reqsignals-sessions.db",
        *,
        table: str = "reqsignals_lockout",
        timeout: float = 10.0,
        cleanup_interval: float = 300.0,
    ) -> None:
        self.path = check_file(path, "SQLiteCounter", "MemoryCounter")
        self.table = t = check_table(table)
        self.timeout = timeout
        self.cleanup_interval = cleanup_interval
        self.boot = boot_id()
        self._connections = Connections(
            self.path,
            timeout=timeout,
            schema=[
                f"CREATE TABLE IF NOT EXISTS {t} (key TEXT NOT NULL, token TEXT NOT NULL, "
                "boot TEXT NOT NULL, mono REAL NOT NULL, wall REAL NOT NULL)",
                f"CREATE INDEX IF NOT EXISTS {t}_key ON {t} (key)",
                f"CREATE TABLE IF NOT EXISTS {t}_keys (key TEXT PRIMARY KEY, kind TEXT NOT "
                "NULL, label TEXT NOT NULL, lim INTEGER NOT NULL, window REAL NOT NULL, "
                "announced TEXT)",
            ],
            owner=type(self),
        )
        self._next_cleanup = time.monotonic() + cleanup_interval
        # A row's age in seconds: by the monotonic clock on this boot, else the wall clock.
        self._age = "(CASE WHEN boot = :boot THEN :mono - mono ELSE :wall - wall END)"
        self._sql_prune = f"DELETE FROM {t} WHERE key = :key AND {self._age} >= :window"
        self._sql_ages = f"SELECT {self._age}, token FROM {t} WHERE key = :key ORDER BY 1 DESC"

    def __repr__(self) -> str:
        return f"SQLiteCounter({str(self.path)!r}, table={self.table!r})"

    def _conn(self) -> sqlite3.Connection:
        # One per thread, opened again in a child process after fork(): see _sqlite.
        return self._connections.thread_connection()

    def _transaction(self, fn: Callable[[sqlite3.Connection, dict[str, Any]], T]) -> T:
        try:
            conn = self._conn()
            now = {"boot": self.boot, "mono": time.monotonic(), "wall": time.time()}
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn, now)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result
        except sqlite3.Error as exc:
            raise LockoutUnavailable(
                f"the SQLite lock-out counter {str(self.path)!r} failed: {exc}. Logins are "
                "refused until it works again; check that the file is writable and not "
                "held locked longer than timeout= by another process"
            ) from exc

    def _ages(
        self, conn: sqlite3.Connection, now: dict[str, Any], key: str, window: float
    ) -> list[Any]:
        params = {**now, "key": key, "window": window}
        conn.execute(self._sql_prune, params)
        return conn.execute(self._sql_ages, params).fetchall()

    # The counter

    def begin(self, counts: Sequence[Count], token: str, window: float) -> Refusal | None:
        def run(conn: sqlite3.Connection, now: dict[str, Any]) -> Refusal | None:
            for index, count in enumerate(counts):
                ages = self._ages(conn, now, count.key, window)
                if len(ages) >= count.limit:
                    return index, window - ages[len(ages) - count.limit][0]
            t = self.table
            for count in counts:
                conn.execute(
                    f"INSERT INTO {t} (key, token, boot, mono, wall) VALUES (?, ?, ?, ?, ?)",
                    (count.key, token, now["boot"], now["mono"], now["wall"]),
                )
                conn.execute(
                    f"INSERT INTO {t}_keys (key, kind, label, lim, window) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET label = excluded.label, lim = excluded.lim, "
                    "window = excluded.window",
                    (count.key, count.kind, count.label, count.limit, window),
                )
            return None

        refused = self._transaction(run)
        if refused is None and time.monotonic() >= self._next_cleanup:
            self._next_cleanup = time.monotonic() + self.cleanup_interval
            self.cleanup()
        return refused

    def fail(self, counts: Sequence[Count], token: str, window: float) -> list[Refusal]:
        def run(conn: sqlite3.Connection, now: dict[str, Any]) -> list[Refusal]:
            engaged = []
            t = self.table
            for index, count in enumerate(counts):
                ages = self._ages(conn, now, count.key, window)
                row = conn.execute(
                    f"SELECT lim, announced FROM {t}_keys WHERE key = ?", (count.key,)
                ).fetchone()
                if row is None or len(ages) < row[0]:
                    continue
                age, lock = ages[len(ages) - row[0]]
                if row[1] != lock:
                    conn.execute(
                        f"UPDATE {t}_keys SET announced = ? WHERE key = ?", (lock, count.key)
                    )
                    engaged.append((index, window - age))
            return engaged

        return self._transaction(run)

    def succeed(self, clear: Collection[str], release: Collection[str], token: str) -> None:
        def run(conn: sqlite3.Connection, now: dict[str, Any]) -> None:
            t = self.table
            for key in clear:
                conn.execute(f"DELETE FROM {t} WHERE key = ?", (key,))
                conn.execute(f"DELETE FROM {t}_keys WHERE key = ?", (key,))
            for key in release:
                conn.execute(f"DELETE FROM {t} WHERE key = ? AND token = ?", (key, token))

        self._transaction(run)

    def reset(self, keys: Collection[str] | None = None) -> int:
        live = {lock.key for lock in self.locks()}

        def run(conn: sqlite3.Connection, now: dict[str, Any]) -> int:
            t = self.table
            names = (
                [row[0] for row in conn.execute(f"SELECT key FROM {t}_keys")]
                if keys is None
                else list(keys)
            )
            for key in names:
                conn.execute(f"DELETE FROM {t} WHERE key = ?", (key,))
                conn.execute(f"DELETE FROM {t}_keys WHERE key = ?", (key,))
            return sum(1 for key in names if key in live)

        return self._transaction(run)

    def locks(self) -> list[LockInfo]:
        def run(conn: sqlite3.Connection, now: dict[str, Any]) -> list[LockInfo]:
            t = self.table
            found = []
            keys = conn.execute(f"SELECT key, kind, label, lim, window FROM {t}_keys").fetchall()
            for key, kind, label, limit, window in keys:
                ages = self._ages(conn, now, key, window)
                if ages:
                    locked = len(ages) >= limit
                    retry = window - ages[len(ages) - limit][0] if locked else 0.0
                    found.append(LockInfo(key, kind, label, len(ages), limit, retry))
            return found

        return self._transaction(run)

    def cleanup(self) -> int:
        """Delete the rows of attempts older than their key's window; return how many."""

        def run(conn: sqlite3.Connection, now: dict[str, Any]) -> int:
            t = self.table
            deleted = conn.execute(
                f"DELETE FROM {t} WHERE {self._age} >= "
                f"(SELECT window FROM {t}_keys WHERE {t}_keys.key = {t}.key)",
                now,
            ).rowcount
            conn.execute(f"DELETE FROM {t}_keys WHERE key NOT IN (SELECT key FROM {t})")
            return int(deleted)

        return self._transaction(run)

    def close(self) -> None:
        """Close every connection; the counter reopens on use."""
        self._connections.close()

    # Async twins: the same work in a worker thread, off the event loop.

    async def abegin(self, counts: Sequence[Count], token: str, window: float) -> Refusal | None:
        return await asyncio.to_thread(self.begin, counts, token, window)

    async def afail(self, counts: Sequence[Count], token: str, window: float) -> list[Refusal]:
        return await asyncio.to_thread(self.fail, counts, token, window)

    async def asucceed(self, clear: Collection[str], release: Collection[str], token: str) -> None:
        await asyncio.to_thread(self.succeed, clear, release, token)

    async def areset(self, keys: Collection[str] | None = None) -> int:
        return await asyncio.to_thread(self.reset, keys)

    async def alocks(self) -> list[LockInfo]:
        return await asyncio.to_thread(self.locks)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)
