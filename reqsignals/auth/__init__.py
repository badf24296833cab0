"""Session auth for any WSGI or ASGI app: sessions and their stores, user backends,
login and logout with their signals, and credential scrubbing.

Example::

    from reqsignals.auth import SessionAuth, SQLiteBackend, SQLiteStore

    users = SQLiteBackend("users.db")
    auth = SessionAuth(
        secret_key=["new-key", "old-key"], store=SQLiteStore("sessions.db"), backends=[users]
    )
    app = auth.wrap(app)

Needs the ``auth`` extra; :class:`RedisStore` also needs ``redis`` (the ``redis``
extra), and only when it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._deprecation import warn_deprecated
from ..scrub import MASK, ScrubRule, scrub_credentials, scrub_headers
from ..signals import (
    csrf_failed,
    user_locked_out,
    user_logged_in,
    user_logged_out,
    user_login_failed,
)
from . import stores as _stores
from .backends import AuthBackend, MemoryBackend, SQLiteBackend
from .config import SessionAuth
from .csrf import CSRF, csrf_input, csrf_token
from .exceptions import (
    AuthError,
    LockedOut,
    LockoutUnavailable,
    PermissionDenied,
    SessionError,
    SessionStoreUnavailable,
    SessionTooLarge,
    WeakSecretKeyWarning,
)
from .flow import (
    ANONYMOUS,
    AnonymousUser,
    aauthenticate,
    aget_user,
    alogin,
    alogout,
    aupdate_session_auth_hash,
    authenticate,
    get_user,
    login,
    logout,
    update_session_auth_hash,
)
from .hashers import Argon2Hasher
from .lockout import Lockout
from .middleware import ASGISessionMiddleware, WSGISessionMiddleware
from .sessions import Session, SessionConfig, get_auth, get_session
from .stores import CookieStore, MemoryStore, SessionStore, SQLiteStore
from .user_sessions import (
    SessionInfo,
    alist_sessions,
    alogout_everywhere,
    arevoke_session,
    list_sessions,
    logout_everywhere,
    revoke_session,
)
from .users import User, session_auth_hash

if TYPE_CHECKING:
    # Only for type checkers: at run time RedisStore comes from __getattr__ below.
    from .stores.redis import RedisStore

__all__ = [
    "ANONYMOUS",
    "CSRF",
    "MASK",
    "ASGISessionMiddleware",
    "AnonymousUser",
    "Argon2Hasher",
    "AuthBackend",
    "AuthError",
    "CookieStore",
    "LockedOut",
    "Lockout",
    "LockoutUnavailable",
    "MemoryBackend",
    "MemoryStore",
    "PermissionDenied",
    "RedisStore",
    "SQLiteBackend",
    "SQLiteStore",
    "ScrubRule",
    "Session",
    "SessionAuth",
    "SessionConfig",
    "SessionError",
    "SessionInfo",
    "SessionStore",
    "SessionStoreUnavailable",
    "SessionTooLarge",
    "User",
    "WSGISessionMiddleware",
    "WeakSecretKeyWarning",
    "aauthenticate",
    "aget_user",
    "alist_sessions",
    "alogin",
    "alogout",
    "alogout_everywhere",
    "arevoke_session",
    "aupdate_session_auth_hash",
    "authenticate",
    "csrf_failed",
    "csrf_input",
    "csrf_token",
    "get_auth",
    "get_session",
    "get_user",
    "list_sessions",
    "login",
    "logout",
    "logout_everywhere",
    "revoke_session",
    "scrub_credentials",
    "scrub_headers",
    "session_auth_hash",
    "update_session_auth_hash",
    "user_locked_out",
    "user_logged_in",
    "user_logged_out",
    "user_login_failed",
]


def __getattr__(name: str) -> Any:
    if name == "RedisStore":
        # Imported on first use: redis is an optional dependency (the redis extra),
        # and importing reqsignals.auth must work without it.
        return _stores.RedisStore
    if name == "SessionMiddleware":
        warn_deprecated("reqsignals.auth.SessionMiddleware", "ASGISessionMiddleware")
        return ASGISessionMiddleware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
