"""The exceptions of the session module."""

from __future__ import annotations

__all__ = ["LockoutUnavailable", "SessionError", "SessionStoreUnavailable", "SessionTooLarge"]


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
