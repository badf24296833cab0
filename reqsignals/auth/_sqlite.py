"""SQLite connections for the session store, the user backend and the lock-out counter.

Each of them keeps its own :class:`Connections` to one file: opened the same way (WAL,
``synchronous=NORMAL``, a busy timeout, announced with ``connection_created``, then the
owner's tables), checked the same way (a real file, a plain table name), and never used
across ``fork()``.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..signals import connection_created

__all__ = ["Connections", "check_file", "check_table", "enable_wal"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_file(path: str | os.PathLike[str], owner: str, instead: str) -> Path:
    """*path* as a :class:`~pathlib.Path`, or a ``ValueError`` for an in-memory database.

    Every connection to ``":memory:"`` sees its own empty database, so threads (and
    processes) would not share anything: the message names the in-memory class
    *instead* to use.
    """
    text = os.fspath(path)
    if text in ("", ":memory:") or text.startswith("file::memory:"):
        raise ValueError(
            f"{owner} needs a file that every thread and process shares, not {text!r}: "
            f"each connection would see its own empty database; use {instead}() in memory"
        )
    return Path(text)


def check_table(table: str) -> str:
    """*table*, or a ``ValueError`` unless it is a plain SQL identifier.

    Table names go into SQL text (they cannot be bound parameters), so only letters,
    digits and ``_`` are allowed, not starting with a digit.
    """
    if not isinstance(table, str) or not _IDENTIFIER.match(table):
        raise ValueError(
            f"table must be a plain SQL name (an SQL identifier: letters, digits, _), got {table!r}"
        )
    return table


def enable_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Put the file *conn* opened in WAL mode, waiting up to *timeout* seconds in all.

    Switching a file to WAL can fail with "database is locked" at once, without waiting
    through the busy timeout, while another connection opens the same new file; so the
    switch is retried here. Each try waits only for the time left, and the connection's
    busy timeout is *timeout* again afterwards.
    """
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = max(deadline - time.monotonic(), 0.0)
            conn.execute(f"PRAGMA busy_timeout = {int(left * 1000)}")
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")


def _add_column(
    conn: sqlite3.Connection,
    table: str,
    column: str,
    declaration: str,
    fill: Callable[[sqlite3.Connection], None] | None,
) -> None:
    if column in _columns(conn, table):
        return
    # One transaction: of two processes opening an old file at once, the second waits,
    # then finds the column there; and no process sees the column before *fill* ran.
    conn.execute("BEGIN IMMEDIATE")
    try:
        if column not in _columns(conn, table):
            conn.execute(f'ALTER TABLE "{table}" ADD COLUMN {column} {declaration}')
            if fill is not None:
                fill(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}


class Connections:
    """The connections one owner (a store, a backend, a counter) holds to one file.

    Two ways to share them between threads:

    * ``pool_size=None``: each thread has its own connection, kept until :meth:`close`
      (the store and the counter: a thread's statements always meet the same
      connection);
    * ``pool_size=n``: each use borrows a connection, one thread at a time, and gives
      it back; at most *n* idle ones are kept (the user backend).

    Either way, a connection opened before ``fork()`` is never used in the child
    (https://sqlite.org/howtocorrupt.html section 2.6): the child opens its own. Nor
    is it closed there: closing it could checkpoint or remove the WAL the parent is
    using. The child keeps it referenced in :attr:`inherited` so that it is never
    garbage-collected (and closed) either.

    Args:
        path: the database file.
        timeout: seconds to wait for another connection's lock.
        schema: the statements that create the owner's tables (``IF NOT EXISTS``),
            run on each new connection after it is announced.
        owner: the class sent as ``connection_created``'s sender.
        pool_size: see above.
        columns: ``(table, column, declaration)`` of columns that files made by older
            versions lack: each is added, once, when a connection finds it missing.
        fill: ``{column: fill(conn)}``: run in the transaction that adds the column, to
            fill it in for the rows already there.
        indexes: statements run after the columns are there (indexes on them).
    """

    def __init__(
        self,
        path: Path,
        *,
        timeout: float,
        schema: Sequence[str],
        owner: type,
        pool_size: int | None = None,
        columns: Sequence[tuple[str, str, str]] = (),
        indexes: Sequence[str] = (),
        fill: Mapping[str, Callable[[sqlite3.Connection], None]] | None = None,
    ) -> None:
        self.path = path
        self.timeout = timeout
        self.schema = tuple(schema)
        self.columns = tuple(columns)
        self.indexes = tuple(indexes)
        self.fill = dict(fill or {})
        self.owner = owner
        self.pool_size = pool_size
        self._lock = threading.Lock()
        self._local = threading.local()
        self._pid = os.getpid()
        # Bumped by close() and in a new process: a thread's connection, or a borrowed
        # one given back, from an older generation is not used again.
        self._generation = 0
        #: Every connection this process opened and has not closed.
        self.open: list[sqlite3.Connection] = []
        #: Pooled connections not in use (``pool_size`` set).
        self.idle: list[sqlite3.Connection] = []
        #: Connections opened by the parent before a ``fork()``: never used or closed.
        self.inherited: list[sqlite3.Connection] = []

    def __len__(self) -> int:
        """The number of connections open (in this process)."""
        return len(self.open)

    def _open(self) -> sqlite3.Connection:
        # Autocommit: the owners run their own BEGIN IMMEDIATE where they need one.
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            enable_wal(conn, self.timeout)
            conn.execute("PRAGMA synchronous = NORMAL")
            connection_created.send(self.owner, connection=conn)
            for statement in self.schema:
                conn.execute(statement)
            for table, column, declaration in self.columns:
                _add_column(conn, table, column, declaration, self.fill.get(column))
            for statement in self.indexes:
                conn.execute(statement)
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_process(self) -> int:
        # The generation to use; in a new process, first forget the parent's connections.
        if self._pid != os.getpid():  # pragma: no cover - in a child (test_sqlite.py forks)
            with self._lock:
                if self._pid != os.getpid():
                    self.inherited.extend(self.open)
                    self.open, self.idle = [], []
                    self._generation += 1
                    self._pid = os.getpid()
        return self._generation

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for this thread to use inside the block.

        Raises:
            sqlite3.Error: opening the connection failed (nothing is left open).
        """
        if self.pool_size is None:
            yield self.thread_connection()
            return
        generation = self._check_process()
        with self._lock:
            conn = self.idle.pop() if self.idle else None
        if conn is None:
            conn = self._open()
            with self._lock:
                self.open.append(conn)
        try:
            yield conn
        finally:
            done: sqlite3.Connection | None = conn
            with self._lock:
                if generation == self._generation and len(self.idle) < self.pool_size:
                    self.idle.append(conn)
                    done = None
                elif conn in self.inherited:  # pragma: no cover - borrowed before a fork()
                    done = None  # the parent's: never closed here
                else:
                    self.open.remove(conn)
            if done is not None:
                done.close()

    def thread_connection(self) -> sqlite3.Connection:
        """This thread's own connection (``pool_size=None``), opened on first use."""
        local = self._local
        generation = self._check_process()
        if getattr(local, "generation", None) != generation:
            conn = self._open()
            with self._lock:
                self.open.append(conn)
            local.conn, local.generation = conn, generation
        current: sqlite3.Connection = local.conn
        return current

    def close(self) -> None:
        """Close the connections; new ones are opened on the next use.

        Per thread: every connection this process opened (call it when no thread is
        using them, at shutdown). Pooled: the idle ones now, the ones in use when
        they are given back.
        """
        self._check_process()
        with self._lock:
            self._generation += 1
            if self.pool_size is None:
                closing, self.open, self.idle = self.open, [], []
            else:
                closing, self.idle = self.idle, []
                self.open = [c for c in self.open if c not in closing]
        for conn in closing:
            conn.close()
