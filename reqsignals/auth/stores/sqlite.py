"""The embedded default store: one SQLite file, shared by threads and processes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from ...signals import connection_created
from .._sqlite import enable_wal
from ..exceptions import SessionStoreUnavailable
from .base import SessionStore, dumps_data, new_session_key

__all__ = ["SQLiteStore"]

T = TypeVar("T")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_stores: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _forget_connections_after_fork() -> None:
    # SQLite connections must not cross fork() (https://sqlite.org/howtocorrupt.html
    # section 2.6): the child opens its own.
    for store in list(_stores):  # pragma: no cover - runs in the child (see its test)
        store._generation += 1
        store._connections = []
        store._executor = store._new_executor()


os.register_at_fork(after_in_child=_forget_connections_after_fork)


class SQLiteStore(SessionStore):
    """Sessions in a SQLite file: the embedded default, no server to run.

    Safe with many threads (each has its own connection) and many processes on one file
    (WAL journal, writes in ``BEGIN IMMEDIATE`` transactions, a busy timeout). Each
    write merges the changed keys into the stored session inside one transaction, so
    concurrent requests that change different keys lose nothing. In ASGI apps every
    query runs on the store's own small thread pool, never on the event loop.

    Each new connection is announced with
    ``connection_created.send(type(store), connection=<sqlite3.Connection>)`` from the
    thread that will use it, for pragmas or functions of your own.

    Expired sessions stop loading at once; their rows are removed by :meth:`cleanup`,
    which the store also runs on its own every *cleanup_interval* seconds.

    Args:
        path: the database file; created with its table on first use.
        table: the table name.
        timeout: seconds to wait for another writer's lock before giving up with
            :class:`~reqsignals.auth.SessionStoreUnavailable`.
        cleanup_interval: seconds between automatic cleanups (``None``: never).
        max_workers: threads serving async callers.

    Raises:
        ValueError: for ``":memory:"`` (each thread would see its own empty database:
            use :class:`MemoryStore`) or a table name that is not an identifier.

    Example::

        auth = SessionAuth(secret_key=key, store=SQLiteStore("var/sessions.db"))
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = "reqsignals-sessions.db",
        *,
        table: str = "reqsignals_sessions",
        timeout: float = 10.0,
        cleanup_interval: float | None = 3600.0,
        max_workers: int = 4,
    ) -> None:
        if str(path) == ":memory:" or str(path).startswith("file::memory:"):
            raise ValueError(
                "SQLiteStore needs a file that all threads share; for sessions in memory "
                "use MemoryStore()"
            )
        if not _IDENTIFIER.match(table):
            raise ValueError(f"table must be an SQL identifier, got {table!r}")
        self.path = Path(path)
        self.table = table
        self.timeout = timeout
        self.cleanup_interval = cleanup_interval
        self.max_workers = max_workers
        self._local = threading.local()
        self._lock = threading.Lock()
        self._generation = 0
        self._connections: list[sqlite3.Connection] = []
        # Threads start only when async callers need them.
        self._executor = self._new_executor()
        self._next_cleanup = time.time() + (cleanup_interval or 0)
        _stores.add(self)

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            enable_wal(conn, self.timeout)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} "
                "(key TEXT PRIMARY KEY, data TEXT NOT NULL, expires REAL NOT NULL)"
            )
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS {self.table}_expires ON {self.table} (expires)"
            )
            connection_created.send(type(self), connection=conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        if getattr(local, "generation", -1) != self._generation:
            conn = self._connect()
            with self._lock:
                self._connections.append(conn)
            local.conn, local.generation = conn, self._generation
        current: sqlite3.Connection = local.conn
        return current

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return fn(self._conn())
        except sqlite3.OperationalError as exc:
            raise SessionStoreUnavailable(
                f"the SQLite session store {str(self.path)!r} failed: {exc}. Check that the "
                "file is writable and not held locked longer than timeout= by another process"
            ) from exc

    def load(self, token: str) -> dict[str, Any] | None:
        def query(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute(
                f"SELECT data FROM {self.table} WHERE key = ? AND expires > ?",
                (token, time.time()),
            ).fetchone()
            return None if row is None else dict(json.loads(row[0]))

        return self._run(query)

    def create(self, data: Mapping[str, Any], max_age: int) -> str:
        text = dumps_data(data)
        self._maybe_cleanup()

        def insert(conn: sqlite3.Connection) -> str:
            while True:
                token = new_session_key()
                try:
                    conn.execute(
                        f"INSERT INTO {self.table} (key, data, expires) VALUES (?, ?, ?)",
                        (token, text, time.time() + max_age),
                    )
                except sqlite3.IntegrityError:  # pragma: no cover - 2**-256
                    continue
                return token

        return self._run(insert)

    def save(
        self,
        token: str,
        data: Mapping[str, Any],
        changed: Mapping[str, Any],
        deleted: Collection[str],
        max_age: int,
    ) -> str | None:
        dumps_data(changed)  # a bad value fails here, before the transaction

        def merge(conn: sqlite3.Connection) -> str | None:
            # IMMEDIATE takes the write lock before reading, so a concurrent request's
            # merge cannot interleave between our read and our write.
            conn.execute("BEGIN IMMEDIATE")
            try:
                now = time.time()
                row = conn.execute(
                    f"SELECT data FROM {self.table} WHERE key = ? AND expires > ?",
                    (token, now),
                ).fetchone()
                if row is None:
                    conn.execute("ROLLBACK")
                    return None
                stored = json.loads(row[0])
                stored.update(changed)
                for name in deleted:
                    stored.pop(name, None)
                conn.execute(
                    f"UPDATE {self.table} SET data = ?, expires = ? WHERE key = ?",
                    (dumps_data(stored), now + max_age, token),
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return token

        return self._run(merge)

    def delete(self, token: str) -> None:
        self._run(lambda conn: conn.execute(f"DELETE FROM {self.table} WHERE key = ?", (token,)))

    def cleanup(self) -> int:
        """Delete the rows of expired sessions; return how many were deleted."""

        def sweep(conn: sqlite3.Connection) -> int:
            cur = conn.execute(f"DELETE FROM {self.table} WHERE expires <= ?", (time.time(),))
            return cur.rowcount

        return self._run(sweep)

    def _maybe_cleanup(self) -> None:
        if self.cleanup_interval is not None and time.time() >= self._next_cleanup:
            self._next_cleanup = time.time() + self.cleanup_interval
            self.cleanup()

    def close(self) -> None:
        """Close every connection and stop the thread pool; the store reopens on use.

        Call it when no request is using the store (at shutdown).
        """
        with self._lock:
            self._generation += 1
            connections, self._connections = self._connections, []
            executor, self._executor = self._executor, self._new_executor()
        executor.shutdown(wait=True)
        for conn in connections:
            conn.close()

    # Async twins: the same work on the store's threads.

    def _new_executor(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(self.max_workers, thread_name_prefix="reqsignals-sqlite")

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args))

    async def aload(self, token: str) -> dict[str, Any] | None:
        return await self._in_thread(self.load, token)

    async def acreate(self, data: Mapping[str, Any], max_age: int) -> str:
        return await self._in_thread(self.create, data, max_age)

    async def asave(
        self,
        token: str,
        data: Mapping[str, Any],
        changed: Mapping[str, Any],
        deleted: Collection[str],
        max_age: int,
    ) -> str | None:
        return await self._in_thread(self.save, token, data, changed, deleted, max_age)

    async def adelete(self, token: str) -> None:
        await self._in_thread(self.delete, token)

    async def acleanup(self) -> int:
        """Async twin of :meth:`cleanup`."""
        return await self._in_thread(self.cleanup)

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)
