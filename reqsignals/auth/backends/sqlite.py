"""A user table in a SQLite file: the embedded default backend."""

from __future__ import annotations

import os
import secrets
import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path

from .._sqlite import Connections, check_file, check_table
from ..hashers import Argon2Hasher, Hasher
from ..users import User
from .base import (
    _check_password,
    _check_username,
    _normalize_username,
    _PasswordBackend,
    _taken,
    _user_id,
    _where,
)

__all__ = ["SQLiteBackend"]

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
        check_file(path, "SQLiteBackend", "MemoryBackend")
        self.path = os.fspath(path)
        self.table = check_table(table)
        self.hasher = hasher if hasher is not None else Argon2Hasher()
        self.timeout = timeout
        self.pool_size = pool_size
        self._connections = Connections(
            Path(self.path),
            timeout=timeout,
            schema=[
                f'CREATE TABLE IF NOT EXISTS "{table}" ('
                "id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "username TEXT NOT NULL UNIQUE, "
                "password_hash TEXT NOT NULL, "
                "is_active INTEGER NOT NULL DEFAULT 1, "
                f"created TEXT NOT NULL DEFAULT ({_NOW}), "
                f"updated TEXT NOT NULL DEFAULT ({_NOW}), "
                "session_salt TEXT NOT NULL DEFAULT '')"
            ],
            owner=type(self),
            pool_size=pool_size,
            # Files made before end_sessions() have no salt column.
            columns=[(table, "session_salt", "TEXT NOT NULL DEFAULT ''")],
        )

    def __repr__(self) -> str:
        return f"SQLiteBackend({self.path!r}, table={self.table!r})"

    def _connection(self) -> AbstractContextManager[sqlite3.Connection]:
        # Autocommit: every statement here is a transaction of its own.
        return self._connections.connection()

    def close(self) -> None:
        """Close the idle connections. The backend stays usable: it opens new ones."""
        self._connections.close()

    # -- users ---------------------------------------------------------------------------

    def _select(self, where: str, value: object) -> User | None:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT id, username, password_hash, is_active, session_salt "
                f'FROM "{self.table}" WHERE {where} = ?',
                (value,),
            ).fetchone()
        if row is None:
            return None
        return User(row[0], row[1], row[2], bool(row[3]), session_salt=row[4])

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

    def end_sessions(self, user: User | str) -> User:
        """Give *user* a new session salt: every session of theirs ends on its next request.

        ``logout_everywhere()`` uses it with :class:`CookieStore`, which cannot delete
        sessions; returns the updated user.

        Raises:
            LookupError: no such user.
        """
        return self._update(user, "session_salt = ?", (secrets.token_hex(16),))

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
