"""Authentication backends: the protocol, a small :class:`User`, and two built-ins.

A backend checks credentials and loads users by id. Any object with these two methods
is one (plain or ``async def``)::

    class TokenBackend:
        def authenticate(self, request, *, token):
            return lookup_token(token)  # a user, or None

        def get_user(self, user_id):
            return load_user(user_id)  # a user, or None

The built-ins keep users with argon2-hashed passwords: :class:`MemoryBackend` for tests
and :class:`SQLiteBackend` for a user table in a SQLite file. Both spend the same
hashing work on an unknown username as on a wrong password, refuse over-long passwords
before hashing, and do not let inactive users in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from ..signals import connection_created
from ._sqlite import enable_wal
from .hashers import Argon2Hasher, Hasher
from .users import User, session_auth_hash, session_auth_hash_matches

__all__ = [
    "AuthBackend",
    "MemoryBackend",
    "SQLiteBackend",
    "User",
    "session_auth_hash",
    "session_auth_hash_matches",
]


class AuthBackend(Protocol):
    """What ``SessionAuth(backends=[...])`` expects of a backend.

    * ``authenticate(request, **credentials)`` returns a user or ``None``. Declare the
      credentials you take as keyword parameters (``*, username, password``): a backend
      whose signature cannot take the credentials given is skipped. Raise
      :class:`~reqsignals.auth.exceptions.PermissionDenied` to stop the search.
    * ``get_user(user_id)`` returns the user with that id, or ``None`` (also for a user
      who may no longer log in).

    Either may be ``async def``. A sync backend may also offer ``aauthenticate`` and
    ``aget_user`` coroutines, for async callers that must not block the event loop.

    A user is any object with an ``id`` (or ``pk``). For "log out everywhere when the
    password changes", it also needs a ``password_hash`` string, or a method
    ``get_session_auth_hash(secret_key: bytes) -> str`` (see :func:`session_auth_hash`).
    """

    @property
    def authenticate(self) -> Callable[..., Any]:
        """``authenticate(request, **credentials)``: the user, or ``None`` (may be async)."""
        ...

    @property
    def get_user(self) -> Callable[..., Any]:
        """``get_user(user_id)``: the user with this id, or ``None`` (may be async)."""
        ...


def _normalize_username(username: str) -> str:
    # Full-width and compatibility forms name the same user as their plain forms (Django).
    return unicodedata.normalize("NFKC", username)


def _check_username(username: object) -> None:
    if not isinstance(username, str) or not username:
        raise ValueError(f"a username is a non-empty str, got {username!r}")


def _check_password(password: object) -> None:
    if not isinstance(password, (str, bytes)) or not password:
        raise ValueError("a password is a non-empty str or bytes")


def _user_id(user_id: object) -> int | None:
    if isinstance(user_id, bool):
        return None
    if isinstance(user_id, str) and user_id.isascii() and user_id.isdigit():
        user_id = int(user_id)
    # SQLite integers are signed 64-bit; anything else is no id of ours.
    return user_id if isinstance(user_id, int) and 0 < user_id < 2**63 else None


class _PasswordBackend:
    """The authenticate logic the built-ins share; subclasses store users."""

    hasher: Hasher

    def _find(self, username: str) -> User | None:
        raise NotImplementedError

    def _replace_hash(self, user: User, new_hash: str) -> None:
        raise NotImplementedError

    def authenticate(self, request: object, *, username: str, password: str | bytes) -> User | None:
        """The active user with this username and password, or ``None``.

        An unknown username costs one dummy verification, the same work as a wrong
        password; a password longer than ``hasher.max_password_length`` is refused at
        once, before any lookup or hashing. A hash made with weaker parameters than the
        hasher's is replaced on success (so the user's session hash changes too).
        """
        if not isinstance(username, str) or not isinstance(password, (str, bytes)):
            return None
        if len(password) > self.hasher.max_password_length:
            return None
        user = self._find(_normalize_username(username))
        if user is None:
            self.hasher.dummy_verify(password)
            return None
        # Verify before looking at is_active: an inactive account takes as long to refuse.
        if not self.hasher.verify(user.password_hash, password) or not user.is_active:
            return None
        if self.hasher.needs_rehash(user.password_hash):
            new_hash = self.hasher.hash(password)
            self._replace_hash(user, new_hash)
            user.password_hash = new_hash
        return user

    async def aauthenticate(
        self, request: object, *, username: str, password: str | bytes
    ) -> User | None:
        """:meth:`authenticate` in a worker thread, so hashing never blocks the event loop."""
        return await asyncio.to_thread(
            self.authenticate, request, username=username, password=password
        )

    def get_user(self, user_id: object) -> User | None:
        raise NotImplementedError

    async def aget_user(self, user_id: object) -> User | None:
        """:meth:`get_user` in a worker thread."""
        return await asyncio.to_thread(self.get_user, user_id)


class MemoryBackend(_PasswordBackend):
    """Users kept in a dict, for tests and examples. Thread-safe; one process only.

    Args:
        hasher: the password hasher; an :class:`~reqsignals.auth.hashers.Argon2Hasher`
            with the library's defaults when omitted. Tests can pass cheap parameters.

    Example::

        backend = MemoryBackend(hasher=Argon2Hasher(time_cost=1, memory_cost=8192))
        ada = backend.add_user("ada", "correct horse", email="ada@example.com")
        assert backend.authenticate(None, username="ada", password="correct horse") == ada
    """

    def __init__(self, *, hasher: Hasher | None = None) -> None:
        self.hasher = hasher if hasher is not None else Argon2Hasher()
        self._lock = threading.Lock()
        self._users: dict[int, User] = {}
        self._ids: dict[str, int] = {}
        self._next_id = 1

    def add_user(
        self, username: str, password: str | bytes, *, is_active: bool = True, **extra: Any
    ) -> User:
        """Add a user and return it; *extra* keyword arguments land in ``user.extra``.

        Raises:
            ValueError: the username is taken, or username or password is empty or too long.
        """
        _check_username(username)
        _check_password(password)
        username = _normalize_username(username)
        if username in self._ids:
            raise ValueError(_taken(username))
        password_hash = self.hasher.hash(password)
        with self._lock:
            if username in self._ids:
                raise ValueError(_taken(username))
            user = User(self._next_id, username, password_hash, is_active, dict(extra))
            self._next_id += 1
            self._users[user.id] = user
            self._ids[username] = user.id
        return _copy(user)

    create_user = add_user

    def set_password(self, user: User | str, new_password: str | bytes) -> User:
        """Hash and store *new_password* for *user* (a :class:`User` or a username).

        The user's session hash changes: their other sessions end.

        Raises:
            LookupError: no such user.
            ValueError: the password is empty or too long.
        """
        _check_password(new_password)
        new_hash = self.hasher.hash(new_password)
        with self._lock:
            stored = self._stored(user)
            stored.password_hash = new_hash
            return _copy(stored)

    def set_active(self, user: User | str, is_active: bool) -> User:
        """Allow or forbid *user* to log in; an inactive user's sessions stop loading."""
        with self._lock:
            stored = self._stored(user)
            stored.is_active = is_active
            return _copy(stored)

    def _stored(self, user: User | str) -> User:
        user_id = self._ids.get(_normalize_username(user)) if isinstance(user, str) else user.id
        stored = self._users.get(user_id) if user_id is not None else None
        if stored is None:
            raise LookupError(f"no user {user!r}; create it with add_user() first")
        return stored

    def _find(self, username: str) -> User | None:
        with self._lock:
            user_id = self._ids.get(username)
            return None if user_id is None else _copy(self._users[user_id])

    def _replace_hash(self, user: User, new_hash: str) -> None:
        with self._lock:
            stored = self._users.get(user.id)
            if stored is not None and stored.password_hash == user.password_hash:
                stored.password_hash = new_hash

    def get_user(self, user_id: object) -> User | None:
        """The active user with this id (an int, or a str of digits), or ``None``."""
        key = _user_id(user_id)
        with self._lock:
            user = self._users.get(key) if key is not None else None
            return _copy(user) if user is not None and user.is_active else None

    async def aget_user(self, user_id: object) -> User | None:
        """:meth:`get_user`, inline: a dict look-up needs no worker thread."""
        return self.get_user(user_id)


def _copy(user: User) -> User:
    # Callers get their own copy: changing it does not change the stored user.
    return dataclasses.replace(user, extra=dict(user.extra))


def _taken(username: str) -> str:
    return f"a user named {username!r} already exists; pick another name or use set_password()"


def _where(user: User | str) -> tuple[str, object]:
    return ("username", _normalize_username(user)) if isinstance(user, str) else ("id", user.id)


_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"


class SQLiteBackend(_PasswordBackend):
    """A user table in a SQLite file: the embedded default backend.

    Safe to share between threads and between processes on one file (a threaded WSGI
    server, ``uvicorn --workers 2``): each call borrows a connection from a small pool
    (one thread at a time per connection), the database runs in WAL mode, and a busy
    database is waited for up to *timeout* seconds. Connections opened before a
    ``fork()`` are never used in the child. Ids are never reused, so a deleted user's
    sessions cannot load a new user.

    Each new connection sends ``reqsignals.signals.connection_created(sender=<this
    class>, connection=<sqlite3.Connection>)`` before the backend uses it, so receivers
    can run set-up commands (pragmas). Such receivers must be plain functions.

    Args:
        path: the database file; created, with the table, on first use.
        hasher: the password hasher; an :class:`~reqsignals.auth.hashers.Argon2Hasher`
            with the library's defaults when omitted.
        table: the table's name (letters, digits, ``_``).
        timeout: seconds to wait for a lock held by another connection.
        pool_size: idle connections kept for reuse.

    Raises:
        ValueError: *path* is ``":memory:"`` (every connection would see its own empty
            database: use :class:`MemoryBackend`), or *table* is not a plain name.

    Example::

        users = SQLiteBackend("users.db")
        users.create_user("ada", "correct horse")
        user = users.authenticate(request, username="ada", password="correct horse")

    ``async`` code calls :meth:`aauthenticate` and :meth:`aget_user`, which run in a
    worker thread.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        hasher: Hasher | None = None,
        table: str = "reqsignals_users",
        timeout: float = 5.0,
        pool_size: int = 8,
    ) -> None:
        self.path = os.fspath(path)
        if self.path in ("", ":memory:"):
            raise ValueError(
                f"SQLiteBackend needs a file, not {self.path!r}: every connection would "
                "see its own empty database; use MemoryBackend for in-memory users"
            )
        if not _TABLE_NAME.fullmatch(table):
            raise ValueError(f"table must be a plain SQL name (letters, digits, _), not {table!r}")
        self.hasher = hasher if hasher is not None else Argon2Hasher()
        self.table = table
        self.timeout = timeout
        self.pool_size = pool_size
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        # Connections inherited through fork(): kept referenced, never used or closed here.
        self._inherited: list[sqlite3.Connection] = []

    def __repr__(self) -> str:
        return f"SQLiteBackend({self.path!r}, table={self.table!r})"

    # -- connections ---------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        # Autocommit: every statement here is a transaction of its own.
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            enable_wal(conn, self.timeout)
            conn.execute("PRAGMA synchronous = NORMAL")
            connection_created.send(type(self), connection=conn)
            conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{self.table}" ('
                "id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "username TEXT NOT NULL UNIQUE, "
                "password_hash TEXT NOT NULL, "
                "is_active INTEGER NOT NULL DEFAULT 1, "
                f"created TEXT NOT NULL DEFAULT ({_NOW}), "
                f"updated TEXT NOT NULL DEFAULT ({_NOW}))"
            )
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        conn = None
        with self._lock:
            if self._pid != os.getpid():
                self._inherited.extend(self._idle)
                self._idle = []
                self._pid = os.getpid()
            if self._idle:
                conn = self._idle.pop()
        if conn is None:
            conn = self._open()
        try:
            yield conn
        finally:
            with self._lock:
                keep = self._pid == os.getpid() and len(self._idle) < self.pool_size
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    def close(self) -> None:
        """Close the idle connections. The backend stays usable: it opens new ones."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # -- users ---------------------------------------------------------------------------

    def _select(self, where: str, value: object) -> User | None:
        with self._connection() as conn:
            row = conn.execute(
                f'SELECT id, username, password_hash, is_active FROM "{self.table}" '
                f"WHERE {where} = ?",
                (value,),
            ).fetchone()
        if row is None:
            return None
        return User(row[0], row[1], row[2], bool(row[3]))

    def _find(self, username: str) -> User | None:
        return self._select("username", username)

    def _replace_hash(self, user: User, new_hash: str) -> None:
        # Compare-and-set: a password changed meanwhile is not overwritten.
        with self._connection() as conn:
            conn.execute(
                f'UPDATE "{self.table}" SET password_hash = ?, updated = {_NOW} '
                "WHERE id = ? AND password_hash = ?",
                (new_hash, user.id, user.password_hash),
            )

    def _update(self, user: User | str, assignments: str, values: tuple[object, ...]) -> User:
        where, key = _where(user)
        with self._connection() as conn:
            cursor = conn.execute(
                f'UPDATE "{self.table}" SET {assignments}, updated = {_NOW} WHERE {where} = ?',
                (*values, key),
            )
        found = self._select(where, key) if cursor.rowcount else None
        if found is None:
            raise LookupError(f"no user {user!r}; create it with create_user() first")
        return found

    def create_user(self, username: str, password: str | bytes, *, is_active: bool = True) -> User:
        """Create a user with this password (hashed) and return it.

        Raises:
            ValueError: the username is taken, or username or password is empty or too long.
        """
        _check_username(username)
        _check_password(password)
        username = _normalize_username(username)
        password_hash = self.hasher.hash(password)
        try:
            with self._connection() as conn:
                cursor = conn.execute(
                    f'INSERT INTO "{self.table}" (username, password_hash, is_active) '
                    "VALUES (?, ?, ?)",
                    (username, password_hash, int(is_active)),
                )
        except sqlite3.IntegrityError:
            raise ValueError(_taken(username)) from None
        assert cursor.lastrowid is not None
        return User(cursor.lastrowid, username, password_hash, is_active)

    def set_password(self, user: User | str, new_password: str | bytes) -> User:
        """Hash and store *new_password* for *user* (a :class:`User` or a username).

        The user's session hash changes: their other sessions end.

        Raises:
            LookupError: no such user.
            ValueError: the password is empty or too long.
        """
        _check_password(new_password)
        return self._update(user, "password_hash = ?", (self.hasher.hash(new_password),))

    def set_active(self, user: User | str, is_active: bool) -> User:
        """Allow or forbid *user* to log in; an inactive user's sessions stop loading.

        Raises:
            LookupError: no such user.
        """
        return self._update(user, "is_active = ?", (int(is_active),))

    def delete_user(self, user: User | str) -> bool:
        """Delete *user*; True if it existed. Its id is never given to another user."""
        where, key = _where(user)
        with self._connection() as conn:
            cursor = conn.execute(f'DELETE FROM "{self.table}" WHERE {where} = ?', (key,))
        return cursor.rowcount > 0

    def get_user(self, user_id: object) -> User | None:
        """The active user with this id (an int, or a str of digits), or ``None``."""
        key = _user_id(user_id)
        if key is None:
            return None
        user = self._select("id", key)
        return user if user is not None and user.is_active else None
