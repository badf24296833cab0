"""An alert when the built-in brute-force lock-out engages.

reqsignals counts failed logins and refuses them itself
(``SessionAuth(..., lockout=Lockout(max_failures=5, window=900))``): the counting, the
429 answers and the ``user_locked_out`` signal need no code of yours. What an app adds
is what to do when a lock engages. This receiver logs one warning per lock, with the
attempted username from the already scrubbed credentials::

    locked out username='ada' for 900s ip=203.0.113.7
    locked out client=203.0.113.7 for 900s ip=203.0.113.7 (last tried username='bob')

``user_locked_out`` is sent once per lock, not for every refused attempt, so forwarding
it to a pager or a chat channel cannot flood them. Usage::

    from examples.receivers import lockout

    lockout.connect()

An admin lifts a lock with ``auth.lockout.reset(username="ada")`` (or ``client=...``), or
from a shell: ``reqsignals lockout reset --store sqlite:sessions.db --username ada``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from reqsignals import user_locked_out
from reqsignals.auth import get_auth
from reqsignals.types import UserLockedOutArgs

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack on Python 3.11+

logger = logging.getLogger(__name__)


def locked_out(sender: object, **kwargs: Unpack[UserLockedOutArgs]) -> None:
    """The ``user_locked_out`` receiver: one warning per lock."""
    request = kwargs["request"]
    username = kwargs["credentials"].get("username")
    # The address the lock-out counts: behind trusted proxies, the real client's.
    lockout = get_auth(request).lockout
    ip = lockout.client(request) if lockout is not None else None
    if kwargs["reason"] == "username":
        what, extra = f"username={username!r}", ""
    else:
        what, extra = f"client={ip}", f" (last tried username={username!r})"
    logger.warning("locked out %s for %ss ip=%s%s", what, kwargs["retry_after"], ip, extra)


def connect() -> None:
    """Start alerting. Connecting twice is a no-op."""
    user_locked_out.connect(locked_out)


def disconnect() -> None:
    """Stop alerting."""
    user_locked_out.disconnect(locked_out)
