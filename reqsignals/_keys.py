"""Keys reqsignals puts into a request's WSGI environ or ASGI scope.

Namespaced (``reqsignals.``) so they never collide with a server's or a framework's.
"""

from __future__ import annotations

#: The signals middleware sending this request's signals (the instance), in the environ
#: or the scope alike (``reqsignals.wsgi.SENT_KEY``, ``reqsignals.asgi.SENT_KEY``). An
#: inner instance around the same request sees it and passes the request through; the
#: framework integrations read its ``sender`` and ``strict`` from it. It is set once a
#: request can meet a second instance or an integration (``_sender.Nesting``).
SENT_KEY = "reqsignals.signals_sent"

#: The exception ``got_request_exception`` was sent for: at most one per request.
REPORTED_KEY = "reqsignals.exception_reported"

#: An exception the framework turned into an error response itself, left by an
#: integration for the ASGI middleware to report (with ``asend``, in the request's
#: task) once the app returns.
HANDLED_KEY = "reqsignals.handled_exception"

# Session auth (reqsignals.auth)

#: The :class:`~reqsignals.auth.SessionAuth` whose session middleware handles the request.
AUTH_KEY = "reqsignals.auth"

#: The request's :class:`~reqsignals.auth.Session`.
SESSION_KEY = "reqsignals.session"

#: The :class:`~reqsignals.auth.LockedOut` (or ``LockoutUnavailable``) that
#: ``authenticate()`` raised on this request, for the session middleware to answer with
#: a 429 (503) even when a framework turned the exception into its own 500 page.
LOCKOUT_REFUSAL_KEY = "reqsignals.lockout_refusal"

#: The request's user once loaded (or :data:`~reqsignals.auth.ANONYMOUS`).
USER_KEY = "reqsignals.user"

#: ASGI only: the session again and the user, where Starlette's ``request.session`` and
#: ``request.user`` read them (Starlette's own names, so not namespaced).
STARLETTE_SESSION_KEY = "session"
STARLETTE_USER_KEY = "user"
