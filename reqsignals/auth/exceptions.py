"""Exceptions of the session-auth module."""

from __future__ import annotations

__all__ = ["AuthError", "PermissionDenied"]


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
