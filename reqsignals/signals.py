"""The signals reqsignals sends.

Request signals come from the WSGI and ASGI ``SignalsMiddleware``; the auth signals
from :mod:`reqsignals.auth`; ``connection_created`` from the session stores that open
connections. They live here, with no dependencies, so that any module can connect
to them without importing the optional parts.
"""

from __future__ import annotations

from .dispatch import Signal

__all__ = [
    "ALL_SIGNALS",
    "connection_created",
    "got_request_exception",
    "request_finished",
    "request_started",
    "user_logged_in",
    "user_logged_out",
    "user_login_failed",
]

request_started = Signal(
    "request_started",
    doc="""Sent before the wrapped app is called.

    Keyword arguments: ``environ`` (WSGI) or ``scope`` (ASGI) — the very object the app
    receives. ``sender`` is the wrapped app, or the middleware's ``sender=`` option.
    """,
)

got_request_exception = Signal(
    "got_request_exception",
    doc="""Sent when the app raises an ``Exception``, before it is re-raised.

    WSGI: raised by the app call, while the body is iterated, or by ``close()``;
    ASGI: raised by the app, before or after the response started. The exception is
    also the active one (``sys.exc_info()``) while receivers run. ``GeneratorExit``,
    ``asyncio.CancelledError``, ``KeyboardInterrupt`` and ``SystemExit`` are not reported.

    Keyword arguments: ``environ`` or ``scope``, ``exception``.
    """,
)

request_finished = Signal(
    "request_finished",
    doc="""Sent exactly once per request, when the response is over.

    WSGI: when the server calls ``close()`` on the response (or right after
    ``got_request_exception`` when the app call raised); ASGI: when the app returns,
    raises or is cancelled.

    Keyword arguments: ``environ`` or ``scope``; ``status`` — the integer status code,
    or ``None`` if no response was started; ``duration`` — seconds since
    ``request_started``.
    """,
)

user_logged_in = Signal(
    "user_logged_in",
    doc="""Sent by ``login()`` once the user is stored in a new session.

    ``sender`` is ``type(user)``. Keyword arguments: ``request``, ``user``.
    """,
)

user_logged_out = Signal(
    "user_logged_out",
    doc="""Sent by ``logout()`` before the session is flushed.

    ``sender`` is ``type(user)``, or ``None`` if nobody was logged in. Keyword
    arguments: ``request``, ``user`` (or ``None``).
    """,
)

user_login_failed = Signal(
    "user_login_failed",
    doc="""Sent once by ``authenticate()`` when no backend accepts the credentials.

    ``sender`` is ``"reqsignals.auth"``. Keyword arguments: ``credentials`` — a scrubbed
    copy in which every sensitive value is ``"********************"`` — and ``request``.
    """,
)

connection_created = Signal(
    "connection_created",
    doc="""Sent by a session store each time it opens a connection.

    ``sender`` is the store's class. Keyword argument: ``connection`` — the
    ``sqlite3.Connection`` or redis client, for set-up commands (pragmas, client names).
    """,
)

#: Every signal reqsignals sends, in the order of the table above.
ALL_SIGNALS: tuple[Signal, ...] = (
    request_started,
    got_request_exception,
    request_finished,
    user_logged_in,
    user_logged_out,
    user_login_failed,
    connection_created,
)
