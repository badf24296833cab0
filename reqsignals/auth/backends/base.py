"""What every backend is (:class:`AuthBackend`), and what the built-in ones share."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Callable
from typing import Any, Protocol, TypeGuard

from ..hashers import Hasher
from ..users import User

__all__ = ["MAX_USERNAME_LENGTH", "AuthBackend"]


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


#: The longest username the built-in backends accept, in characters: a longer one is a
#: failed login, refused before it is normalised (NFKC can make some characters 18
#: times longer: an unbounded username would be a denial of service, Django's
#: CVE-2023-46695) and before any lookup or hashing. Django's default is 150 too.
MAX_USERNAME_LENGTH = 150


def _acceptable_username(username: object, limit: int = MAX_USERNAME_LENGTH) -> TypeGuard[str]:
    """Whether *username* may be looked up at all: a str of at most *limit* characters
    that can be encoded (a JSON body can carry a lone surrogate such as ``"\\udcff"``,
    which no database driver takes)."""
    if not isinstance(username, str) or len(username) > limit:
        return False
    try:
        username.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _normalize_username(username: str) -> str:
    # Full-width and compatibility forms name the same user as their plain forms (Django).
    return unicodedata.normalize("NFKC", username)


def _check_username(username: object) -> None:
    if not isinstance(username, str) or not username:
        raise ValueError(f"a username is a non-empty str, got {username!r}")
    if len(username) > MAX_USERNAME_LENGTH:
        raise ValueError(
            f"a username is at most {MAX_USERNAME_LENGTH} characters, got {len(username)}"
        )
    if not _acceptable_username(username):
        raise ValueError("a username must be encodable as UTF-8 (it holds a lone surrogate)")


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
    #: Usernames longer than this are failed logins, refused before normalisation.
    max_username_length: int = MAX_USERNAME_LENGTH

    def _find(self, username: str) -> User | None:
        raise NotImplementedError

    def _replace_hash(self, user: User, new_hash: str) -> None:
        raise NotImplementedError

    def authenticate(self, request: object, *, username: str, password: str | bytes) -> User | None:
        """The active user with this username and password, or ``None``.

        An unknown username costs one dummy verification, the same work as a wrong
        password; a username longer than :attr:`max_username_length` (default
        :data:`MAX_USERNAME_LENGTH`, 150) or one that cannot be encoded (a lone
        surrogate), and a password longer than ``hasher.max_password_length``, are
        refused at once, before any normalisation, lookup or hashing: ordinary failed
        logins. A hash made with weaker parameters than the hasher's is replaced on
        success (so the user's session hash changes too).
        """
        if not _acceptable_username(username, self.max_username_length):
            return None
        if not isinstance(password, (str, bytes)):
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


def _taken(username: str) -> str:
    return f"a user named {username!r} already exists; pick another name or use set_password()"


def _where(user: User | str) -> tuple[str, object]:
    return ("username", _normalize_username(user)) if isinstance(user, str) else ("id", user.id)
