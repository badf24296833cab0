"""Session auth for any WSGI or ASGI app: sessions, their stores, and the middleware.

Example::

    from reqsignals.auth import SessionAuth, SQLiteStore, get_session

    auth = SessionAuth(secret_key=["new-key", "old-key"], store=SQLiteStore("sessions.db"))
    app = auth.wrap(app)

Needs the ``auth`` extra (``pip install 'reqsignals[auth]'``); ``RedisStore`` needs
``redis`` too and is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import SessionError, SessionStoreUnavailable, SessionTooLarge
from .middleware import SessionAuth, SessionMiddleware, WSGISessionMiddleware
from .sessions import Session, get_auth, get_session
from .stores import CookieStore, MemoryStore, SessionStore, SQLiteStore

if TYPE_CHECKING:
    from .stores.redis import RedisStore

__all__ = [
    "CookieStore",
    "MemoryStore",
    "RedisStore",
    "SQLiteStore",
    "Session",
    "SessionAuth",
    "SessionError",
    "SessionMiddleware",
    "SessionStore",
    "SessionStoreUnavailable",
    "SessionTooLarge",
    "WSGISessionMiddleware",
    "get_auth",
    "get_session",
]


def __getattr__(name: str) -> Any:
    if name == "RedisStore":
        from . import stores

        return stores.RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
