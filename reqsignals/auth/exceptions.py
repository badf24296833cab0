"""Every exception :mod:`reqsignals.auth` raises on purpose: auth errors and session errors."""

from __future__ import annotations

__all__ = [
    "AuthError",
    "LockedOut",
    "LockoutUnavailable",
    "PermissionDenied",
    "SessionError",
    "SessionStoreUnavailable",
    "SessionTooLarge",
    "WeakSecretKeyWarning",
]


class AuthError(Exception):
    """Base class of the exceptions :mod:`reqsignals.auth` raises on purpose."""


class PermissionDenied(AuthError):
    """Raised by a backend's ``authenticate`` to refuse the credentials outright.

    Backends are tried in order; one that returns ``None`` lets the next one try, one
    that raises ``PermissionDenied`` stops the search: no later backend is asked, and
    ``authenticate()`` returns ``None`` after sending ``user_login_failed``. Use it when a
    backend knows the user must not get in at all (a locked account, a blocked network)::

        class LockoutBackend:
            def authenticate(self, request, *, username, password):
                if is_locked(username):
                    raise PermissionDenied(f"{username} is locked out")
                return None

            def get_user(self, user_id):
                return None
    """


class LockedOut(AuthError):
    """Raised by ``authenticate()`` / ``aauthenticate()`` while logins are refused by
    the brute-force lock-out, before any backend runs (so no password is hashed).

    The session middleware answers one the app does not catch with ``429 Too Many
    Requests`` and ``Retry-After``; catch it to show your own page.

    Attributes:
        reason: ``"username"`` (this account) or ``"client"`` (this address).
        retry_after: whole seconds until the next attempt can be made.
    """

    def __init__(self, reason: str, retry_after: int) -> None:
        what = "this username" if reason == "username" else "this address"
        super().__init__(f"too many failed logins for {what}: try again in {retry_after} seconds")
        self.reason = reason
        self.retry_after = retry_after


class SessionError(Exception):
    """Base class of the errors raised by sessions and session stores."""


class SessionStoreUnavailable(SessionError):
    """The session store could not be reached (Redis down, SQLite file locked too long).

    Raised for the request that needed the store; nothing stored is lost, and the next
    request after the store is back works again.
    """


class SessionTooLarge(SessionError, ValueError):
    """The session does not fit where it has to go (a cookie holds about 4 KB).

    Raised by :class:`~reqsignals.auth.CookieStore` when the signed session would make
    a cookie browsers drop. Keep less in the session, or use a server-side store
    (:class:`~reqsignals.auth.SQLiteStore`, :class:`~reqsignals.auth.RedisStore`).
    """


class LockoutUnavailable(SessionStoreUnavailable):
    """The brute-force lock-out's counter store could not be reached.

    Raised by ``authenticate()`` / ``aauthenticate()`` before any backend runs: logins
    fail closed (no unlimited guessing while the counts cannot be kept). Requests that
    do not log in never touch the counter and are not affected.
    """


class WeakSecretKeyWarning(UserWarning):
    """A ``SessionAuth`` secret key is shorter than ``MIN_SECRET_KEY_LENGTH`` (32) bytes.

    Anyone holding one session cookie can try guesses at the key offline, and a key
    found signs any session. Use at least 32 random bytes, e.g.
    ``secrets.token_urlsafe(32)``, read from your configuration. The message says which
    key is short and how long it is, never the key.
    """
