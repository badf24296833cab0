"""The signals reqsignals sends.

Request signals come from the WSGI and ASGI ``SignalsMiddleware``; the auth signals
from :mod:`reqsignals.auth`; ``connection_created`` from the session stores that open
connections. They live here, with no dependencies, so that any module can connect
to them without importing the optional parts.
"""

from __future__ import annotations

from .dispatch import Signal, receiver_failed

__all__ = [
    "ALL_SIGNALS",
    "class_prepared",
    "connection_created",
    "csrf_failed",
    "got_request_exception",
    "m2m_changed",
    "post_delete",
    "post_init",
    "post_migrate",
    "post_save",
    "pre_delete",
    "pre_init",
    "pre_migrate",
    "pre_save",
    "receiver_failed",
    "request_finished",
    "request_started",
    "session_revoked",
    "user_locked_out",
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

    Keyword arguments: ``environ`` or ``scope``; ``status`` — the integer status code:
    the app's, 500 when the app raised an ``Exception`` before starting a response,
    ``None`` if no response was started otherwise; ``duration`` — seconds since
    ``request_started``, work after the body (background tasks, ``close()``) included;
    ``response_duration`` — seconds until the last of the body was handed to the
    server (ASGI: the ``http.response.body`` with ``more_body`` false; WSGI: the end
    of iteration), the latency the client saw, or ``None`` if that never happened
    (and always for a websocket).
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
    doc="""Sent each time a connection is opened, before it is used.

    By a session store, the ``SQLiteBackend`` users table and the lock-out's
    ``SQLiteCounter``: ``sender`` is the class that opened it, and ``connection`` the
    ``sqlite3.Connection`` or redis client. By the pool of an engine given to
    ``reqsignals.contrib.sqlalchemy.connect_engine``, once per new DBAPI connection (not
    per checkout): ``sender`` is the dialect's class, and ``connection`` the DBAPI
    connection. For set-up commands (pragmas, client names).
    """,
)

csrf_failed = Signal(
    "csrf_failed",
    doc="""Sent by the session middleware when a request fails the CSRF check.

    The request is answered ``403`` and the app is not called. ``sender`` is
    ``"reqsignals.auth"``. Keyword arguments: ``request`` (the WSGI environ or ASGI
    scope) and ``reason`` (a short text saying which check failed).
    """,
)

user_locked_out = Signal(
    "user_locked_out",
    doc="""Sent once, when a brute-force lock engages.

    ``sender`` is ``"reqsignals.auth"``. Keyword arguments: ``request``,
    ``credentials`` (a scrubbed copy), ``reason`` (``"username"`` or ``"client"``) and
    ``retry_after`` (seconds until the lock lifts).
    """,
)

session_revoked = Signal(
    "session_revoked",
    doc="""Sent for each session ended by revocation rather than by its own logout.

    ``sender`` is ``"reqsignals.auth"``. Keyword arguments: ``request`` (or ``None``
    outside a request), ``user_id``, ``session_id`` (the opaque id that
    ``list_sessions`` shows) and ``reason``: ``"revoked"``, ``"logout_everywhere"`` or
    ``"password_changed"``.
    """,
)

# -- model, migration and database signals (reqsignals.contrib.sqlalchemy/.alembic) --

pre_init = Signal(
    "pre_init",
    doc="""Sent when a mapped object is being constructed, before its ``__init__`` runs.

    ``sender`` is the mapped class. Keyword arguments: ``args`` and ``kwargs`` as
    given to the constructor (the constructor gets that very dict). Not sent for
    objects loaded from the database, which SQLAlchemy builds without ``__init__``.
    """,
)

post_init = Signal(
    "post_init",
    doc="""Sent once a mapped object's ``__init__`` has finished, and for each loaded one.

    ``sender`` is the mapped class. Keyword argument: ``instance``.
    """,
)

pre_save = Signal(
    "pre_save",
    doc="""Sent inside a flush, just before an object's ``INSERT`` or ``UPDATE``.

    Once per object per flush, in flush order; not for an object with no net change.
    A receiver may change the instance's own columns (they are written), not other
    objects (do that in ``post_save``).

    ``sender`` is the mapped class. Keyword arguments: ``instance``, ``created``
    (``True`` when the row will be inserted, ``False`` when it will be updated: as
    ``post_save`` will say), ``raw`` (always ``False``), ``using`` (the bind's name) and
    ``update_fields`` (a frozenset of the changed attributes, ``None`` on insert).
    """,
)

post_save = Signal(
    "post_save",
    doc="""Sent for each object a flush inserted or updated, once the flush is over.

    In flush order. A receiver may add, change and delete other objects through
    ``Session.object_session(instance)``: the next flush writes them (``commit()``
    flushes until nothing is left).

    ``sender`` is the mapped class. Keyword arguments: ``instance``, ``created``
    (``True`` for an insert), ``raw``, ``using`` and ``update_fields``.
    """,
)

pre_delete = Signal(
    "pre_delete",
    doc="""Sent inside a flush, just before an object's ``DELETE`` (ORM cascades too).

    ``sender`` is the mapped class. Keyword arguments: ``instance``, ``using``.
    """,
)

post_delete = Signal(
    "post_delete",
    doc="""Sent for each object a flush deleted, once the flush is over.

    ``sender`` is the mapped class. Keyword arguments: ``instance``, ``using``.
    """,
)

m2m_changed = Signal(
    "m2m_changed",
    doc="""Sent for each many-to-many change a flush wrote: ``pre_*`` then ``post_*``.

    Both once the flush has written the association rows (SQLAlchemy has no event
    before them); a ``pre_*`` receiver that raises rolls the flush back.

    ``sender`` is the association (the ``secondary`` table). Keyword arguments:
    ``instance``, ``action`` (``"pre_add"``, ``"post_add"``, ``"pre_remove"``,
    ``"post_remove"``, ``"pre_clear"``, ``"post_clear"``), ``reverse``, ``model``,
    ``pk_set`` (``None`` for a clear) and ``using``.
    """,
)

class_prepared = Signal(
    "class_prepared",
    doc="""Sent when a class is mapped under a target of ``connect_models`` (after it).

    ``sender`` is the mapped class. No keyword arguments.
    """,
)

pre_migrate = Signal(
    "pre_migrate",
    doc="""Sent before a migration run.

    ``sender`` is ``"alembic"``. Keyword arguments: ``plan`` (a list of
    ``reqsignals.contrib.alembic.MigrationStep``: the revisions and the direction),
    ``using`` (the bind's name) and ``connection`` (the connection the migrations run
    on).
    """,
)

post_migrate = Signal(
    "post_migrate",
    doc="""Sent after a migration run that succeeded (never after a failed one).

    ``sender`` is ``"alembic"``. Keyword arguments: ``plan``, ``using`` and
    ``connection``.
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
    receiver_failed,
    csrf_failed,
    user_locked_out,
    session_revoked,
    pre_init,
    post_init,
    pre_save,
    post_save,
    pre_delete,
    post_delete,
    m2m_changed,
    class_prepared,
    pre_migrate,
    post_migrate,
)
