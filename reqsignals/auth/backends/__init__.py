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
hashing work on an unknown username as on a wrong password, refuse over-long or
unencodable usernames (over :data:`MAX_USERNAME_LENGTH` characters) and over-long
passwords before any normalisation or hashing, and do not let inactive users in.
"""

from __future__ import annotations

from ..users import User, session_auth_hash, session_auth_hash_matches
from .base import MAX_USERNAME_LENGTH, AuthBackend
from .memory import MemoryBackend
from .sqlite import SQLiteBackend

__all__ = [
    "MAX_USERNAME_LENGTH",
    "AuthBackend",
    "MemoryBackend",
    "SQLiteBackend",
    "User",
    "session_auth_hash",
    "session_auth_hash_matches",
]
