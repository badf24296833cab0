"""Users in memory, for tests and examples."""

from __future__ import annotations

import dataclasses
import secrets
import threading
from typing import Any

from ..._deprecation import warn_deprecated
from ..hashers import Argon2Hasher, Hasher
from ..users import User
from .base import (
    _check_password,
    _check_username,
    _normalize_username,
    _PasswordBackend,
    _taken,
    _user_id,
)

__all__ = ["MemoryBackend"]


class MemoryBackend(_PasswordBackend):
    """Users kept in a dict, for tests and examples. Thread-safe; one process only.

    Args:
        hasher: the password hasher; an :class:`~reqsignals.auth.hashers.Argon2Hasher`
            with the library's defaults when omitted. Tests can pass cheap parameters.

    Example::

        backend = MemoryBackend(hasher=Argon2Hasher(time_cost=1, memory_cost=8192))
        ada = backend.create_user("ada", "correct horse", email="ada@example.com")
        assert backend.authenticate(None, username="ada", password="correct horse") == ada
    """

    def __init__(self, *, hasher: Hasher | None = None) -> None:
        self.hasher = hasher if hasher is not None else Argon2Hasher()
        self._lock = threading.Lock()
        self._users: dict[int, User] = {}
        self._ids: dict[str, int] = {}
        self._next_id = 1

    def create_user(
        self, username: str, password: str | bytes, *, is_active: bool = True, **extra: Any
    ) -> User:
        """Create a user with this password (hashed) and return it; *extra* keyword
        arguments land in ``user.extra``.

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

    def add_user(
        self, username: str, password: str | bytes, *, is_active: bool = True, **extra: Any
    ) -> User:
        """Deprecated: the old name of :meth:`create_user` (which :class:`SQLiteBackend`
        has too); it warns with :class:`~reqsignals.ReqsignalsDeprecationWarning`."""
        warn_deprecated("MemoryBackend.add_user()", "create_user()")
        return self.create_user(username, password, is_active=is_active, **extra)

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

    def end_sessions(self, user: User | str) -> User:
        """Give *user* a new session salt: every session of theirs ends on its next request.

        ``logout_everywhere()`` uses it with :class:`CookieStore`, which cannot delete
        sessions; returns the updated user.

        Raises:
            LookupError: no such user.
        """
        with self._lock:
            stored = self._stored(user)
            stored.session_salt = secrets.token_hex(16)
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
            raise LookupError(f"no user {user!r}; create it with create_user() first")
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
