"""What a logged-in session records about itself, and ending a user's sessions.

``login()`` stores a small record in the session (an opaque id, when it was created,
the client address and the user agent) and the session's last use, at most once per
``SessionAuth.last_seen_interval``. Server-side stores index sessions by user id, so
a user's sessions can be listed and ended; this module turns those records into
:class:`SessionInfo` and ends sessions, sending ``session_revoked`` for each.

It needs only a store: ``SessionAuth`` (for code outside a request) and the request
functions of :mod:`reqsignals.auth.user_sessions` both build on it.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from ..signals import session_revoked
from .stores.base import SessionStore

__all__ = ["SessionInfo"]

#: Session key of the record ``login()`` writes: ``{"id", "created", "client", "ua"}``.
SESSION_META = "_auth_session"
#: Session key of the session's last use (seconds since the epoch).
SESSION_LAST_SEEN = "_auth_last_seen"
#: The sender of ``session_revoked``.
REVOKED_SENDER = "reqsignals.auth"
#: User agents longer than this are cut: the record must stay small.
MAX_USER_AGENT = 256
#: Client addresses longer than this are cut (a proxy header can make it any text).
MAX_CLIENT = 100

# C0 and C1 control characters and DEL: never shown as they are (a terminal would run
# an escape sequence in a user agent that ``reqsignals sessions list`` prints).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")

_ID_PURPOSE = b"reqsignals.auth.session_id\x00"


@dataclasses.dataclass(frozen=True)
class SessionInfo:
    """One live session of a user, as :func:`~reqsignals.auth.list_sessions` shows it.

    Attributes:
        id: an opaque id for :func:`~reqsignals.auth.revoke_session`. It is random, or
            for sessions older than the record a one-way hash of the key: never the
            session key (a bearer secret) nor anything it can be turned back into, so
            a page or a receiver that shows ids leaks nothing.
        created: when the user logged in on it (UTC), if known.
        last_seen: its last use (UTC), exact to ``SessionAuth.last_seen_interval``.
        client: the client address it logged in from, if known (at most 100
            characters).
        user_agent: the ``User-Agent`` it logged in with (at most 256 characters).
            In both, each control character is replaced by U+FFFD, so either can be
            printed to a terminal as it is (escape it for HTML as any text).
        current: whether it is the session of the request that asked.
    """

    id: str
    created: datetime.datetime | None
    last_seen: datetime.datetime | None
    client: str | None
    user_agent: str | None
    current: bool = False


def _when(value: object) -> datetime.datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    return None


def _text(value: object, limit: int) -> str | None:
    """*value* cut to *limit* characters, each control character shown as U+FFFD."""
    return _CONTROL.sub("\ufffd", value[:limit]) if isinstance(value, str) else None


def session_id(token: str, data: Mapping[str, Any]) -> str:
    """The opaque id of the session stored under *token*."""
    meta = data.get(SESSION_META)
    if isinstance(meta, Mapping) and isinstance(meta.get("id"), str):
        return str(meta["id"])
    # A session from before the record: a one-way hash of its 256-bit key.
    return hashlib.sha256(_ID_PURPOSE + token.encode()).hexdigest()[:32]


def session_info(token: str, data: Mapping[str, Any], current: bool) -> SessionInfo:
    """The :class:`SessionInfo` of the session stored under *token*."""
    meta = data.get(SESSION_META)
    meta = meta if isinstance(meta, Mapping) else {}
    return SessionInfo(
        id=session_id(token, data),
        created=_when(meta.get("created")),
        last_seen=_when(data.get(SESSION_LAST_SEEN)) or _when(meta.get("created")),
        client=_text(meta.get("client"), MAX_CLIENT),
        user_agent=_text(meta.get("ua"), MAX_USER_AGENT),
        current=current,
    )


def same_id(one: str, other: object) -> bool:
    """Compare session ids in constant time (an id is worth guessing)."""
    return isinstance(other, str) and hmac.compare_digest(
        one.encode(), other.encode("utf-8", "replace")
    )


def record_login(session: MutableMapping[str, Any], space: Mapping[str, Any]) -> None:
    """Write the session's record: a new id, now, the client and its user agent."""
    now = time.time()
    session[SESSION_META] = {
        "id": secrets.token_urlsafe(16),
        "created": now,
        "client": client_address(space),
        "ua": user_agent(space),
    }
    session[SESSION_LAST_SEEN] = now


def touch(session: MutableMapping[str, Any], interval: float) -> None:
    """Record the session's use, if the last one recorded is *interval* seconds old."""
    last = session.get(SESSION_LAST_SEEN)
    now = time.time()
    if not isinstance(last, (int, float)) or not 0 <= now - last < interval:
        session[SESSION_LAST_SEEN] = now


def client_address(space: Mapping[str, Any]) -> str | None:
    """The peer address of a WSGI environ or an ASGI scope, cut to 100 characters."""
    if "type" in space:
        client = space.get("client")
        return _text(str(client[0]), MAX_CLIENT) if client else None
    addr = space.get("REMOTE_ADDR")
    return _text(str(addr), MAX_CLIENT) if addr else None


def user_agent(space: Mapping[str, Any]) -> str | None:
    """The ``User-Agent`` of a WSGI environ or an ASGI scope, cut to 256 characters."""
    if "type" in space:
        value = None
        for name, raw in space.get("headers", ()):
            if name == b"user-agent":
                value = raw.decode("latin-1")
                break
    else:
        value = space.get("HTTP_USER_AGENT")
    return _text(value, MAX_USER_AGENT)


def end_session(
    store: SessionStore, token: str, sid: str, user_id: Any, reason: str, request: Any
) -> bool:
    """Delete the session under *token*; if this call deleted it, send ``session_revoked``.

    Of two callers ending one session at once (two processes, two admins) only one
    deletes it, so each ended session is reported once. Returns whether this one did.
    """
    if not store.discard(token):
        return False
    session_revoked.send_robust(
        REVOKED_SENDER, request=request, user_id=user_id, session_id=sid, reason=reason
    )
    return True


async def aend_session(
    store: SessionStore, token: str, sid: str, user_id: Any, reason: str, request: Any
) -> bool:
    """Async twin of :func:`end_session` (``session_revoked`` with ``asend_robust``)."""
    if not await store.adiscard(token):
        return False
    await session_revoked.asend_robust(
        REVOKED_SENDER, request=request, user_id=user_id, session_id=sid, reason=reason
    )
    return True


Only = Callable[[Mapping[str, Any]], bool]


def _to_end(
    found: list[tuple[str, dict[str, Any]]], keep: str | None, only: Only | None
) -> list[tuple[str, str]]:
    return [
        (token, session_id(token, data))
        for token, data in found
        if token != keep and (only is None or only(data))
    ]


def end_sessions(
    store: SessionStore,
    user_id: Any,
    reason: str,
    *,
    request: Any = None,
    keep: str | None = None,
    only: Only | None = None,
) -> int:
    """Delete every session of *user_id* but the one under *keep*; return how many.

    With *only*, just the sessions whose data it accepts. ``session_revoked`` is sent
    for each, once it is gone from the store.
    """
    found = store.user_sessions(user_id)
    return sum(
        end_session(store, token, sid, user_id, reason, request)
        for token, sid in _to_end(found, keep, only)
    )


async def aend_sessions(
    store: SessionStore,
    user_id: Any,
    reason: str,
    *,
    request: Any = None,
    keep: str | None = None,
    only: Only | None = None,
) -> int:
    """Async twin of :func:`end_sessions`."""
    ended = 0
    for token, sid in _to_end(await store.auser_sessions(user_id), keep, only):
        ended += await aend_session(store, token, sid, user_id, reason, request)
    return ended


def infos(found: list[tuple[str, dict[str, Any]]], current: str | None) -> list[SessionInfo]:
    """:class:`SessionInfo` of each ``(token, data)`` pair, *current* marked."""
    return [session_info(token, data, token == current) for token, data in found]
