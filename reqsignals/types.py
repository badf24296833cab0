"""Type aliases for the WSGI and ASGI protocols, and the keyword arguments of every signal.

The aliases (``Scope``, ``Environ``, ``ASGIApp``, ...) are what every signature in
reqsignals uses. The ``TypedDict`` classes name the keyword arguments each built-in
signal passes to its receivers, so that a type checker can check what a receiver
reads::

    from __future__ import annotations

    from typing import TYPE_CHECKING

    from reqsignals import request_finished, receiver
    from reqsignals.types import RequestFinishedArgs

    if TYPE_CHECKING:
        from typing_extensions import Unpack  # `typing.Unpack` on Python 3.11+

    @receiver(request_finished)
    def on_finished(sender: object, **kwargs: Unpack[RequestFinishedArgs]) -> None:
        if kwargs["status"] == 500:  # mypy knows: int | None
            ...

Every receiver is also passed ``signal=`` (the signal that is sending), so every one of
these dicts has a ``signal`` key. ``sender`` is passed by keyword too: name the
receiver's first parameter ``sender``.

The request signals carry the WSGI ``environ`` or the ASGI ``scope``, never both. Each
of them has three dicts: ``WSGI...Args`` (``environ`` present), ``ASGI...Args``
(``scope`` present), and one for receivers that serve both, in which ``environ`` and
``scope`` are both optional keys (read them with ``kwargs.get(...)``; exactly one is
there).

Values whose type is the application's own — a user, a request object, a model
instance, a user id, a database connection — are typed ``Any``: annotate or narrow them
in the receiver.

The dicts describe what a receiver is given; nothing checks that a receiver is
connected to the signal its dict belongs to, and a signal may grow new keyword
arguments (which a receiver taking ``**kwargs`` accepts at run time).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from types import TracebackType
from typing import Any, Literal, Protocol, TypedDict

__all__ = [
    "ASGIApp",
    "ASGIGotRequestExceptionArgs",
    "ASGIRequestFinishedArgs",
    "ASGIRequestStartedArgs",
    "AnyApp",
    "ClassPreparedArgs",
    "ConnectionCreatedArgs",
    "CsrfFailedArgs",
    "Environ",
    "ExcInfo",
    "GotRequestExceptionArgs",
    "M2MChangedArgs",
    "Message",
    "PostDeleteArgs",
    "PostInitArgs",
    "PostMigrateArgs",
    "PostSaveArgs",
    "PreDeleteArgs",
    "PreInitArgs",
    "PreMigrateArgs",
    "PreSaveArgs",
    "Receive",
    "Receiver",
    "ReceiverFailedArgs",
    "RequestFinishedArgs",
    "RequestStartedArgs",
    "Scope",
    "Send",
    "SessionRevokedArgs",
    "SignalArgs",
    "SignalLike",
    "StartResponse",
    "UserLockedOutArgs",
    "UserLoggedInArgs",
    "UserLoggedOutArgs",
    "UserLoginFailedArgs",
    "WSGIApp",
    "WSGIGotRequestExceptionArgs",
    "WSGIRequestFinishedArgs",
    "WSGIRequestStartedArgs",
]

# ASGI 3 (https://asgi.readthedocs.io/en/latest/specs/main.html)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# WSGI (PEP 3333)
Environ = dict[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

# Anything with __call__: a receiver as the dispatcher sees it.
Receiver = Callable[..., Any]
AnyApp = ASGIApp | WSGIApp


class SignalLike(Protocol):
    """What a receiver can rely on in the ``signal`` it is passed: a
    :class:`reqsignals.dispatch.Signal` (described here, not imported, because the
    dispatcher itself is built on this module)."""

    @property
    def name(self) -> str | None:
        """The signal's name (``"request_finished"``)."""


# -- the keyword arguments of the built-in signals -------------------------------------
#
# Dicts that share keys share a base. A dict declared with total=False adds optional
# keys to its base's required ones: typing.NotRequired is Python 3.11+ only and the core
# has no dependencies (no typing_extensions), and inheritance works on every version.


class SignalArgs(TypedDict):
    """The keyword argument every receiver is passed: ``signal``, the signal sending."""

    signal: SignalLike


class WSGIRequestStartedArgs(SignalArgs):
    """``request_started`` from the WSGI middleware."""

    environ: Environ


class ASGIRequestStartedArgs(SignalArgs):
    """``request_started`` from the ASGI middleware."""

    scope: Scope


class RequestStartedArgs(SignalArgs, total=False):
    """``request_started`` from either middleware: ``environ`` or ``scope``, never both."""

    environ: Environ
    scope: Scope


class _ExceptionArgs(SignalArgs):
    exception: Exception


class WSGIGotRequestExceptionArgs(_ExceptionArgs):
    """``got_request_exception`` from the WSGI middleware."""

    environ: Environ


class ASGIGotRequestExceptionArgs(_ExceptionArgs):
    """``got_request_exception`` from the ASGI middleware."""

    scope: Scope


class GotRequestExceptionArgs(_ExceptionArgs, total=False):
    """``got_request_exception`` from either middleware: ``exception``, and ``environ``
    or ``scope``."""

    environ: Environ
    scope: Scope


class _FinishedArgs(SignalArgs):
    status: int | None
    duration: float
    response_duration: float | None


class WSGIRequestFinishedArgs(_FinishedArgs):
    """``request_finished`` from the WSGI middleware."""

    environ: Environ


class ASGIRequestFinishedArgs(_FinishedArgs):
    """``request_finished`` from the ASGI middleware."""

    scope: Scope


class RequestFinishedArgs(_FinishedArgs, total=False):
    """``request_finished`` from either middleware.

    ``status``: the status the client was sent, or ``None`` if no response was started.
    ``duration``: seconds from ``request_started`` to ``request_finished``, background
    work included. ``response_duration``: seconds until the app handed the server the
    last of the body — the latency the client saw — or ``None`` if it never did (always
    ``None`` for a websocket). And ``environ`` or ``scope``.
    """

    environ: Environ
    scope: Scope


class ReceiverFailedArgs(SignalArgs):
    """``receiver_failed``; its ``sender`` is the signal whose receiver raised."""

    receiver: Receiver
    exception: Exception


class UserLoggedInArgs(SignalArgs):
    """``user_logged_in``: the app's ``request`` object and the ``user``."""

    request: Any
    user: Any


class UserLoggedOutArgs(SignalArgs):
    """``user_logged_out``: ``user`` is ``None`` if nobody was logged in."""

    request: Any
    user: Any


class UserLoginFailedArgs(SignalArgs):
    """``user_login_failed``: ``credentials`` is a scrubbed copy, safe to log."""

    credentials: dict[str, Any]
    request: Any


class ConnectionCreatedArgs(SignalArgs):
    """``connection_created``: the DBAPI connection or redis client just opened."""

    connection: Any


class CsrfFailedArgs(SignalArgs):
    """``csrf_failed``: ``request`` is the WSGI environ or the ASGI scope."""

    request: Environ | Scope
    reason: str


class UserLockedOutArgs(SignalArgs):
    """``user_locked_out``: ``retry_after`` is in seconds."""

    request: Any
    credentials: dict[str, Any]
    reason: Literal["username", "client"]
    retry_after: float


class SessionRevokedArgs(SignalArgs):
    """``session_revoked``: ``request`` is ``None`` outside a request; ``session_id`` is
    the opaque id ``list_sessions`` shows, never the session key."""

    request: Any | None
    user_id: Any
    session_id: str
    reason: Literal["revoked", "logout_everywhere", "password_changed"]


class PreInitArgs(SignalArgs):
    """``pre_init``: the constructor's positional and keyword arguments."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class PostInitArgs(SignalArgs):
    """``post_init``: the ``instance`` just initialised."""

    instance: Any


class _InstanceArgs(SignalArgs):
    instance: Any
    using: str


class PreSaveArgs(_InstanceArgs):
    """``pre_save``: ``created`` is ``True`` when the flush will insert the object,
    ``False`` when it will update its row; ``raw`` is always ``False``;
    ``update_fields`` is ``None`` on insert.
    """

    created: bool
    raw: bool
    update_fields: frozenset[str] | None


class PostSaveArgs(PreSaveArgs):
    """``post_save``: the keys of ``pre_save``; ``created`` is ``True`` for an insert."""


class PreDeleteArgs(_InstanceArgs):
    """``pre_delete``: the ``instance`` and the bind's name (``using``)."""


class PostDeleteArgs(_InstanceArgs):
    """``post_delete``: the ``instance`` and the bind's name (``using``)."""


class M2MChangedArgs(_InstanceArgs):
    """``m2m_changed``: ``pk_set`` is ``None`` for the clear actions."""

    action: Literal["pre_add", "post_add", "pre_remove", "post_remove", "pre_clear", "post_clear"]
    reverse: bool
    model: type[Any]
    pk_set: set[Any] | None


class ClassPreparedArgs(SignalArgs):
    """``class_prepared``: nothing but ``signal``; the ``sender`` is the mapped class."""


class _MigrateArgs(SignalArgs):
    plan: list[Any]
    using: str | None
    connection: Any


class PreMigrateArgs(_MigrateArgs):
    """``pre_migrate``: the ``plan`` (a list of ``(migration, backwards)`` steps: see
    ``reqsignals.contrib.alembic.MigrationStep``), the bind's name (``using``) and the
    ``connection`` the migrations run on."""


class PostMigrateArgs(_MigrateArgs):
    """``post_migrate``: as ``pre_migrate``; sent only after a run that succeeded."""
