"""An audit log of the auth signals: who logged in, who logged out, which logins failed.

    login user='ada' id=1 ip=203.0.113.7
    logout user='ada' id=1 ip=203.0.113.7
    login failed credentials={"username": "ada", "password": "********************"} ip=203.0.113.7

``user_login_failed`` carries a *scrubbed* copy of the credentials: every sensitive
value (passwords, tokens, OTP codes...) is already masked by reqsignals, so logging the
whole mapping is safe, and the attempted username stays readable for investigations.
Never log the credentials from anywhere else (the form, the request body).

Usage::

    from examples.receivers import audit

    audit.connect()

The lines go to the ``examples.receivers.audit`` logger: send that logger to a file or
a log service of its own (``logging.FileHandler``), apart from the application log.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from reqsignals import user_logged_in, user_logged_out, user_login_failed
from reqsignals.types import UserLoggedInArgs, UserLoggedOutArgs, UserLoginFailedArgs

from .request_info import client_ip

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack on Python 3.11+

logger = logging.getLogger(__name__)


def _who(user: Any) -> str:
    if user is None:
        return "user=None"
    return f"user={getattr(user, 'username', '')!r} id={getattr(user, 'id', None)}"


def logged_in(sender: object, **kwargs: Unpack[UserLoggedInArgs]) -> None:
    """The ``user_logged_in`` receiver."""
    logger.info("login %s ip=%s", _who(kwargs["user"]), client_ip(kwargs["request"]))


def logged_out(sender: object, **kwargs: Unpack[UserLoggedOutArgs]) -> None:
    """The ``user_logged_out`` receiver (``user`` is ``None`` if nobody was logged in)."""
    logger.info("logout %s ip=%s", _who(kwargs["user"]), client_ip(kwargs["request"]))


def login_failed(sender: object, **kwargs: Unpack[UserLoginFailedArgs]) -> None:
    """The ``user_login_failed`` receiver: logs the scrubbed credentials."""
    logger.warning(
        "login failed credentials=%s ip=%s",
        json.dumps(kwargs["credentials"], default=repr, sort_keys=True),
        client_ip(kwargs["request"]),
    )


def connect() -> None:
    """Start auditing. Connecting twice is a no-op."""
    user_logged_in.connect(logged_in)
    user_logged_out.connect(logged_out)
    user_login_failed.connect(login_failed)


def disconnect() -> None:
    """Stop auditing."""
    user_logged_in.disconnect(logged_in)
    user_logged_out.disconnect(logged_out)
    user_login_failed.disconnect(login_failed)
