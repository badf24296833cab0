"""The user of the built-in backends, and the session hash that ends sessions.

When a user logs in, the session stores :func:`session_auth_hash` of the user; each
later request compares it again with :func:`session_auth_hash_matches`. The hash is
derived from the user's password hash, so changing the password logs the user out of
every other session.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any, ClassVar

__all__ = ["User", "session_auth_hash", "session_auth_hash_matches"]


@dataclasses.dataclass
class User:
    """A user of the built-in backends.

    Attributes:
        id: the primary key, stored in the session.
        username: the name the user logs in with (NFKC-normalised).
        password_hash: the encoded argon2 hash (left out of ``repr``).
        is_active: inactive users cannot log in and are not loaded from sessions.
        extra: anything else given to :meth:`MemoryBackend.create_user`.
        session_salt: mixed into the session hash; the backend's ``end_sessions``
            replaces it, which logs the user out of every session (left out of ``repr``).

    ``is_authenticated``, ``display_name`` and ``identity`` make it usable as
    Starlette's ``request.user``.
    """

    id: int
    username: str
    password_hash: str = dataclasses.field(repr=False)
    is_active: bool = True
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    session_salt: str = dataclasses.field(default="", repr=False)

    is_authenticated: ClassVar[bool] = True

    @property
    def pk(self) -> int:
        """Another name for :attr:`id`."""
        return self.id

    @property
    def display_name(self) -> str:
        """The user name (Starlette's ``BaseUser`` protocol)."""
        return self.username

    @property
    def identity(self) -> str:
        """The id as a string (Starlette's ``BaseUser`` protocol)."""
        return str(self.id)


_SESSION_HASH_PURPOSE = b"reqsignals.auth.session_auth_hash\x00"


def _key_bytes(secret_key: str | bytes) -> bytes:
    key = secret_key.encode("utf-8") if isinstance(secret_key, str) else bytes(secret_key)
    if not key:
        raise ValueError("secret_key must not be empty; use a long random value")
    return key


def session_auth_hash(user: object, secret_key: str | bytes) -> str | None:
    """The session hash of *user*: it changes when the user's password changes.

    Stored in the session at login and compared on each request; a mismatch means the
    password changed since, and the session ends. It is an HMAC-SHA256, keyed with
    *secret_key*, of the user's ``password_hash`` (Django's approach) and of its
    ``session_salt`` when it has one, so it reveals nothing about the hash.

    Args:
        user: a user. If it has a ``get_session_auth_hash`` method, that is called with
            the secret key as ``bytes`` and its result used; otherwise its
            ``password_hash`` attribute is used.
        secret_key: the key to sign with (the first of ``SessionAuth``'s keys).

    Returns:
        A hex string, or ``None`` when the user has neither a method nor a non-empty
        ``password_hash`` — such users cannot be logged out by a password change.

    Raises:
        ValueError: *secret_key* is empty.
    """
    key = _key_bytes(secret_key)
    method = getattr(user, "get_session_auth_hash", None)
    if callable(method):
        return str(method(key))
    password_hash = getattr(user, "password_hash", None)
    if not isinstance(password_hash, str) or not password_hash:
        return None
    message = _SESSION_HASH_PURPOSE + password_hash.encode("utf-8")
    salt = getattr(user, "session_salt", "")
    if isinstance(salt, str) and salt:
        # A new salt ends every session without a password change (end_sessions).
        message += b"\x00" + salt.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def session_auth_hash_matches(
    user: object, stored: object, secret_keys: str | bytes | Sequence[str | bytes]
) -> bool:
    """True if *stored* is *user*'s session hash under any of *secret_keys*.

    Compares in constant time. Trying every key lets old sessions survive a key
    rotation; ``stored=None`` matches a user without a session hash.

    Raises:
        ValueError: no secret key was given, or one is empty.
    """
    keys = [secret_keys] if isinstance(secret_keys, (str, bytes)) else list(secret_keys)
    if not keys:
        raise ValueError("give at least one secret key")
    if stored is None:
        return session_auth_hash(user, keys[0]) is None
    if not isinstance(stored, str):
        return False
    found = False
    for key in keys:
        expected = session_auth_hash(user, key)
        if expected is None:
            return False
        # Every key is tried, so the time taken does not tell which one matched.
        found |= hmac.compare_digest(expected.encode(), stored.encode("utf-8", "replace"))
    return found
