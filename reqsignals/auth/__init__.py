"""Session auth for any WSGI or ASGI app: sessions and their stores, user backends,
login and logout with their signals, and credential scrubbing.

Example::

    from reqsignals.auth import SessionAuth, SQLiteBackend, SQLiteStore

    users = SQLiteBackend("users.db")
    auth = SessionAuth(
        secret_key=["new-key", "old-key"], store=SQLiteStore("sessions.db"), backends=[users]
    )
    app = auth.wrap(app)

Names are imported on first use, so ``reqsignals.auth.scrub`` works without the
``auth`` extra, and ``RedisStore`` needs ``redis`` only when used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..signals import csrf_failed, user_logged_in, user_logged_out, user_login_failed

if TYPE_CHECKING:
    from .backends import AuthBackend, MemoryBackend, SQLiteBackend
    from .csrf import CSRF, csrf_input, csrf_token
    from .errors import SessionError, SessionStoreUnavailable, SessionTooLarge
    from .exceptions import AuthError, PermissionDenied
    from .flow import (
        ANONYMOUS,
        AnonymousUser,
        aauthenticate,
        aget_user,
        alogin,
        alogout,
        authenticate,
        get_user,
        login,
        logout,
        update_session_auth_hash,
    )
    from .hashers import Argon2Hasher
    from .middleware import SessionAuth, SessionMiddleware, WSGISessionMiddleware
    from .scrub import MASK, ScrubRule, scrub_credentials, scrub_headers
    from .sessions import Session, get_auth, get_session
    from .stores import CookieStore, MemoryStore, SessionStore, SQLiteStore
    from .stores.redis import RedisStore
    from .users import User, session_auth_hash

_WHERE = {
    "AuthBackend": "backends",
    "MemoryBackend": "backends",
    "SQLiteBackend": "backends",
    "CSRF": "csrf",
    "csrf_input": "csrf",
    "csrf_token": "csrf",
    "SessionError": "errors",
    "SessionStoreUnavailable": "errors",
    "SessionTooLarge": "errors",
    "AuthError": "exceptions",
    "PermissionDenied": "exceptions",
    "ANONYMOUS": "flow",
    "AnonymousUser": "flow",
    "aauthenticate": "flow",
    "aget_user": "flow",
    "alogin": "flow",
    "alogout": "flow",
    "authenticate": "flow",
    "get_user": "flow",
    "login": "flow",
    "logout": "flow",
    "update_session_auth_hash": "flow",
    "Argon2Hasher": "hashers",
    "SessionAuth": "middleware",
    "SessionMiddleware": "middleware",
    "WSGISessionMiddleware": "middleware",
    "MASK": "scrub",
    "ScrubRule": "scrub",
    "scrub_credentials": "scrub",
    "scrub_headers": "scrub",
    "Session": "sessions",
    "get_auth": "sessions",
    "get_session": "sessions",
    "CookieStore": "stores",
    "MemoryStore": "stores",
    "SessionStore": "stores",
    "SQLiteStore": "stores",
    "RedisStore": "stores.redis",
    "User": "users",
    "session_auth_hash": "users",
}

__all__ = [
    "ANONYMOUS",
    "CSRF",
    "MASK",
    "AnonymousUser",
    "Argon2Hasher",
    "AuthBackend",
    "AuthError",
    "CookieStore",
    "MemoryBackend",
    "MemoryStore",
    "PermissionDenied",
    "RedisStore",
    "SQLiteBackend",
    "SQLiteStore",
    "ScrubRule",
    "Session",
    "SessionAuth",
    "SessionError",
    "SessionMiddleware",
    "SessionStore",
    "SessionStoreUnavailable",
    "SessionTooLarge",
    "User",
    "WSGISessionMiddleware",
    "aauthenticate",
    "aget_user",
    "alogin",
    "alogout",
    "authenticate",
    "csrf_failed",
    "csrf_input",
    "csrf_token",
    "get_auth",
    "get_session",
    "get_user",
    "login",
    "logout",
    "scrub_credentials",
    "scrub_headers",
    "session_auth_hash",
    "update_session_auth_hash",
    "user_logged_in",
    "user_logged_out",
    "user_login_failed",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
