"""Typed receivers, one for each argument dict of ``reqsignals.types``, each reading
every argument at its type.

``mypy --strict`` must find nothing here (``tests/test_types.py``); the receivers also
run, connected to the real signals, in that test file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from examples.receivers.error_tracking import ErrorTracking
from reqsignals import request_finished, request_started
from reqsignals.types import (
    ASGIGotRequestExceptionArgs,
    ASGIRequestFinishedArgs,
    ASGIRequestStartedArgs,
    ClassPreparedArgs,
    ConnectionCreatedArgs,
    CsrfFailedArgs,
    GotRequestExceptionArgs,
    M2MChangedArgs,
    PostDeleteArgs,
    PostInitArgs,
    PostMigrateArgs,
    PostSaveArgs,
    PreDeleteArgs,
    PreInitArgs,
    PreMigrateArgs,
    PreSaveArgs,
    ReceiverFailedArgs,
    RequestFinishedArgs,
    RequestStartedArgs,
    SessionRevokedArgs,
    SignalLike,
    UserLockedOutArgs,
    UserLoggedInArgs,
    UserLoggedOutArgs,
    UserLoginFailedArgs,
    WSGIGotRequestExceptionArgs,
    WSGIRequestFinishedArgs,
    WSGIRequestStartedArgs,
)

if TYPE_CHECKING:
    import sentry_sdk
    from typing_extensions import Unpack

    # A Signal is what every `signal` argument is said to be.
    a_signal: SignalLike = request_started
    # Sentry's capture_exception has the shape the error-tracking example asks for.
    tracking = ErrorTracking(sentry_sdk.capture_exception)


def started(sender: object, **kwargs: Unpack[RequestStartedArgs]) -> str:
    environ, scope = kwargs.get("environ"), kwargs.get("scope")
    if scope is not None:
        path: str = scope["path"]
        return path
    return environ["PATH_INFO"] if environ is not None else ""


def wsgi_started(sender: object, **kwargs: Unpack[WSGIRequestStartedArgs]) -> str:
    method: str = kwargs["environ"]["REQUEST_METHOD"]
    return method


def asgi_started(sender: object, **kwargs: Unpack[ASGIRequestStartedArgs]) -> str:
    kind: str = kwargs["scope"]["type"]
    return kind


def failed(sender: object, **kwargs: Unpack[GotRequestExceptionArgs]) -> tuple[str, bool]:
    return str(kwargs["exception"]), "environ" in kwargs


def wsgi_failed(sender: object, **kwargs: Unpack[WSGIGotRequestExceptionArgs]) -> Exception:
    kwargs["environ"]["myapp.failed"] = True
    return kwargs["exception"]


def asgi_failed(sender: object, **kwargs: Unpack[ASGIGotRequestExceptionArgs]) -> Exception:
    kwargs["scope"]["myapp.failed"] = True
    return kwargs["exception"]


def finished(sender: object, **kwargs: Unpack[RequestFinishedArgs]) -> tuple[int, float, str]:
    status = kwargs["status"]
    code: int = status if status is not None else 0
    response_duration = kwargs["response_duration"]
    seconds: float = response_duration if response_duration is not None else kwargs["duration"]
    name: str | None = kwargs["signal"].name
    return code, seconds, name or ""


def wsgi_finished(sender: object, **kwargs: Unpack[WSGIRequestFinishedArgs]) -> float:
    environ: dict[str, Any] = kwargs["environ"]
    return kwargs["duration"] + len(environ)


def asgi_finished(sender: object, **kwargs: Unpack[ASGIRequestFinishedArgs]) -> int | None:
    return kwargs["status"] if kwargs["scope"]["type"] == "http" else None


def on_receiver_failed(sender: SignalLike, **kwargs: Unpack[ReceiverFailedArgs]) -> str:
    failure: BaseException = kwargs["exception"]
    return f"{sender.name}: {kwargs['receiver']!r} raised {failure!r}"


def logged_in(sender: type[Any], **kwargs: Unpack[UserLoggedInArgs]) -> str:
    username: str = kwargs["user"].username
    return username


def logged_out(sender: type[Any] | None, **kwargs: Unpack[UserLoggedOutArgs]) -> bool:
    return kwargs["user"] is None and kwargs["request"] is not None


def login_failed(sender: str, **kwargs: Unpack[UserLoginFailedArgs]) -> object:
    return kwargs["credentials"].get("username")


def connection_created(sender: type[Any], **kwargs: Unpack[ConnectionCreatedArgs]) -> object:
    return kwargs["connection"]


def csrf_failed(sender: str, **kwargs: Unpack[CsrfFailedArgs]) -> tuple[str, object]:
    reason: str = kwargs["reason"]
    return reason, kwargs["request"].get("PATH_INFO", kwargs["request"].get("path"))


def locked_out(sender: str, **kwargs: Unpack[UserLockedOutArgs]) -> tuple[float, bool]:
    minutes: float = kwargs["retry_after"] / 60
    return minutes, kwargs["reason"] == "username" and bool(kwargs["credentials"])


def session_revoked(sender: str, **kwargs: Unpack[SessionRevokedArgs]) -> str:
    everywhere = kwargs["reason"] in ("logout_everywhere", "password_changed")
    session_id: str = kwargs["session_id"]
    return f"{kwargs['user_id']}/{session_id} {everywhere} {kwargs['request'] is None}"


def pre_init(sender: type[Any], **kwargs: Unpack[PreInitArgs]) -> int:
    return len(kwargs["args"]) + len(kwargs["kwargs"])


def post_init(sender: type[Any], **kwargs: Unpack[PostInitArgs]) -> object:
    return kwargs["instance"]


def pre_save(sender: type[Any], **kwargs: Unpack[PreSaveArgs]) -> tuple[bool, frozenset[str], str]:
    created: bool = kwargs["created"]
    fields = kwargs["update_fields"]
    changed: frozenset[str] = fields if fields is not None else frozenset()
    return created and not kwargs["raw"], changed, kwargs["using"]


def post_save(sender: type[Any], **kwargs: Unpack[PostSaveArgs]) -> tuple[bool, str | None]:
    created: bool = kwargs["created"]
    return created and not kwargs["raw"], kwargs["using"]


def pre_delete(sender: type[Any], **kwargs: Unpack[PreDeleteArgs]) -> object:
    return kwargs["instance"], kwargs["using"]


def post_delete(sender: type[Any], **kwargs: Unpack[PostDeleteArgs]) -> object:
    return kwargs["instance"], kwargs["using"]


def m2m_changed(sender: object, **kwargs: Unpack[M2MChangedArgs]) -> set[Any]:
    pks = kwargs["pk_set"]
    if pks is None or kwargs["action"] != "post_add" or kwargs["reverse"]:
        return set()
    return {kwargs["model"].__name__, kwargs["instance"], kwargs["using"], *pks}


def class_prepared(sender: type[Any], **kwargs: Unpack[ClassPreparedArgs]) -> str | None:
    return kwargs["signal"].name


def pre_migrate(sender: str, **kwargs: Unpack[PreMigrateArgs]) -> object:
    return kwargs["plan"], kwargs["using"]


def post_migrate(sender: str, **kwargs: Unpack[PostMigrateArgs]) -> object:
    return kwargs["plan"], kwargs["using"]


def call_directly() -> tuple[int, float, str]:
    """A typed receiver called directly is checked like any call."""
    return finished(
        None,
        signal=request_finished,
        environ={"PATH_INFO": "/"},
        status=200,
        duration=0.25,
        response_duration=None,
    )
