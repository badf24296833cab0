"""The embedded default store: one SQLite file, shared by threads and processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from .._sqlite import Connections, check_file, check_table
from ..exceptions import SessionStoreUnavailable
from .base import USER_ID_FIELD, SessionStore, dumps_data, new_session_key, user_index_key

__all__ = ["SQLiteStore"]

T = TypeVar("T")

_stores: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _new_executors_after_fork() -> None:
    # A thread pool's threads do not survive fork(): the child starts its own. (Its
    # connections are handled by _sqlite.Connections, which sees the new process.)
    for store in list(_stores):  # pragma: no cover - runs in the child (see its test)
        store._executor = store._new_executor()


os.register_at_fork(after_in_child=_new_executors_after_fork)


def _user_of(data: Mapping[str, Any]) -> str | None:
    user = data.get(USER_ID_FIELD)
    return None if user is None else user_index_key(user)


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
        self.path = check_file(path, "SQLiteStore", "MemoryStore")
        self.table = check_table(table)
        self.timeout = timeout
        self.cleanup_interval = cleanup_interval
        self.max_workers = max_workers
        self._lock = threading.Lock()
        self._connections = Connections(
            self.path,
            timeout=timeout,
            schema=[
                f"CREATE TABLE IF NOT EXISTS {table} "
                "(key TEXT PRIMARY KEY, data TEXT NOT NULL, expires REAL NOT NULL, user_id TEXT)",
                f"CREATE INDEX IF NOT EXISTS {table}_expires ON {table} (expires)",
            ],
            owner=type(self),
            # Files made before the per-user index have no user_id column.
            columns=[(table, "user_id", "TEXT")],
            indexes=[
                f"CREATE INDEX IF NOT EXISTS {table}_user ON {table} (user_id) "
                "WHERE user_id IS NOT NULL"
            ],
            # Their logged-in sessions are indexed at once, not on their next write:
            # one never used again (a lost laptop) can still be listed and ended.
            fill={"user_id": self._fill_user_ids},
        )
        # Threads start only when async callers need them.
        self._executor = self._new_executor()
        self._next_cleanup = time.time() + (cleanup_interval or 0)
        _stores.add(self)

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    def _fill_user_ids(self, conn: sqlite3.Connection) -> None:
        rows = conn.execute(
            f"SELECT key, data FROM {self.table} WHERE instr(data, ?) > 0",
            (json.dumps(USER_ID_FIELD),),
        ).fetchall()
        filled = []
        for key, text in rows:
            with contextlib.suppress(ValueError, AttributeError):
                user = _user_of(json.loads(text))
                if user is not None:
                    filled.append((user, key))
        conn.executemany(f"UPDATE {self.table} SET user_id = ? WHERE key = ?", filled)

    def _conn(self) -> sqlite3.Connection:
        # Each thread has its own connection: see _sqlite.Connections.
        return self._connections.thread_connection()

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
        user = _user_of(data)
        self._maybe_cleanup()

        def insert(conn: sqlite3.Connection) -> str:
            while True:
                token = new_session_key()
                try:
                    conn.execute(
                        f"INSERT INTO {self.table} (key, data, expires, user_id) "
                        "VALUES (?, ?, ?, ?)",
                        (token, text, time.time() + max_age, user),
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
                    f"UPDATE {self.table} SET data = ?, expires = ?, user_id = ? WHERE key = ?",
                    (dumps_data(stored), now + max_age, _user_of(stored), token),
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return token

        return self._run(merge)

    def delete(self, token: str) -> None:
        self.discard(token)

    def discard(self, token: str) -> bool:
        def remove(conn: sqlite3.Connection) -> bool:
            return conn.execute(f"DELETE FROM {self.table} WHERE key = ?", (token,)).rowcount > 0

        return self._run(remove)

    def user_sessions(self, user_id: Any) -> list[tuple[str, dict[str, Any]]]:
        def query(conn: sqlite3.Connection) -> list[tuple[str, dict[str, Any]]]:
            rows = conn.execute(
                f"SELECT key, data FROM {self.table} WHERE user_id = ? AND expires > ? "
                "ORDER BY rowid",
                (user_index_key(user_id), time.time()),
            ).fetchall()
            return [(key, dict(json.loads(data))) for key, data in rows]

        return self._run(query)

    def cleanup(self) -> int:
        """Delete the rows of expired sessions; return how many were deleted.

        The user index is a column of the same rows, so it goes with them.
        """

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
            executor, self._executor = self._executor, self._new_executor()
        executor.shutdown(wait=True)
        self._connections.close()

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

    async def adiscard(self, token: str) -> bool:
        return await self._in_thread(self.discard, token)

    async def auser_sessions(self, user_id: Any) -> list[tuple[str, dict[str, Any]]]:
        return await self._in_thread(self.user_sessions, user_id)

    async def acleanup(self) -> int:
        """Async twin of :meth:`cleanup`."""
        return await self._in_thread(self.cleanup)

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)
