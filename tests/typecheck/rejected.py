"""Receivers that read a wrong name or a wrong type: ``mypy --strict`` must report
exactly the errors written in the ``# E:`` comments, each on the line after its comment,
and nothing else (``tests/test_types.py``). Never imported: they are wrong on purpose.
"""

# ruff: noqa: E501 - the # E: comments carry mypy's messages whole

from __future__ import annotations

from typing import TYPE_CHECKING

from reqsignals import request_finished
from reqsignals.types import (
    PreDeleteArgs,
    PreSaveArgs,
    ReceiverFailedArgs,
    RequestFinishedArgs,
    RequestStartedArgs,
    SessionRevokedArgs,
    UserLockedOutArgs,
    UserLoginFailedArgs,
    WSGIRequestStartedArgs,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack


def misspelt(sender: object, **kwargs: Unpack[RequestFinishedArgs]) -> object:
    # E: TypedDict "RequestFinishedArgs" has no key "stauts"  [typeddict-item]
    return kwargs["stauts"]


def duration_is_a_float(sender: object, **kwargs: Unpack[RequestFinishedArgs]) -> int:
    # E: Incompatible return value type (got "float", expected "int")  [return-value]
    return kwargs["duration"]


def status_may_be_none(sender: object, **kwargs: Unpack[RequestFinishedArgs]) -> bool:
    # E: Unsupported operand types for <= ("int" and "None")  [operator]
    return kwargs["status"] >= 500


def response_duration_may_be_none(sender: object, **kwargs: Unpack[RequestFinishedArgs]) -> float:
    # E: Unsupported operand types for * ("None" and "int")  [operator]
    return kwargs["response_duration"] * 1000


def environ_may_be_absent(sender: object, **kwargs: Unpack[RequestStartedArgs]) -> None:
    # E: Unsupported target for indexed assignment ("dict[str, Any] | None")  [index]
    kwargs.get("environ")["myapp.t0"] = 0.0


def wsgi_has_no_scope(sender: object, **kwargs: Unpack[WSGIRequestStartedArgs]) -> object:
    # E: TypedDict "WSGIRequestStartedArgs" has no key "scope"  [typeddict-item]
    return kwargs["scope"]


def the_signal_name_may_be_none(sender: object, **kwargs: Unpack[ReceiverFailedArgs]) -> str:
    # E: Item "None" of "str | None" has no attribute "upper"  [union-attr]
    return kwargs["signal"].name.upper()


def receiver_failed_has_no_error(sender: object, **kwargs: Unpack[ReceiverFailedArgs]) -> object:
    # E: TypedDict "ReceiverFailedArgs" has no key "error"  [typeddict-item]
    return kwargs["error"]


def no_password_here(sender: object, **kwargs: Unpack[UserLoginFailedArgs]) -> object:
    # E: TypedDict "UserLoginFailedArgs" has no key "password"  [typeddict-item]
    return kwargs["password"]


def no_such_lock_reason(sender: object, **kwargs: Unpack[UserLockedOutArgs]) -> bool:
    # E: Non-overlapping equality check (left operand type: "Literal['username', 'client']", right operand type: "Literal['ip']")  [comparison-overlap]
    return kwargs["reason"] == "ip"


def session_ids_are_text(sender: object, **kwargs: Unpack[SessionRevokedArgs]) -> object:
    # E: Unsupported operand types for + ("str" and "int")  [operator]
    return kwargs["session_id"] + 1


def created_is_not_for_deletes(sender: object, **kwargs: Unpack[PreDeleteArgs]) -> object:
    # E: TypedDict "PreDeleteArgs" has no key "created"  [typeddict-item]
    return kwargs["created"]


def created_is_a_bool(sender: object, **kwargs: Unpack[PreSaveArgs]) -> str:
    # E: Incompatible return value type (got "bool", expected "str")  [return-value]
    return kwargs["created"]


def update_fields_may_be_none(sender: object, **kwargs: Unpack[PreSaveArgs]) -> bool:
    # E: Unsupported right operand type for in ("frozenset[str] | None")  [operator]
    return "name" in kwargs["update_fields"]


def called_with_a_text_status() -> None:
    misspelt(
        None,
        signal=request_finished,
        # E: Argument "status" to "misspelt" has incompatible type "str"; expected "int | None"  [arg-type]
        status="200",
        duration=0.1,
        response_duration=None,
    )
