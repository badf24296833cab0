"""Sessions per user: list them, end one, log out everywhere.

Server-side stores (:class:`MemoryStore`, :class:`SQLiteStore`, :class:`RedisStore`)
index each logged-in session by its user, so a user can see where they are logged in
and end any of those sessions. Through these request functions a user only ever sees
and ends their own sessions; ``SessionAuth.revoke_user_sessions(user_id)`` is for code
outside a request (an admin page, ``reqsignals sessions revoke``).

A session ended here is deleted from the store before the function returns, so its
next request, in any process, is anonymous. ``session_revoked`` is sent for each.

Example::

    @app.post("/account/sessions/{session_id}/revoke")
    async def revoke(request):
        await arevoke_session(request, request.path_params["session_id"])
        return RedirectResponse("/account/sessions", status_code=303)
"""

from __future__ import annotations

from typing import Any

from ._tracking import (
    SessionInfo,
    aend_session,
    aend_sessions,
    end_session,
    end_sessions,
    infos,
    same_id,
    session_id,
)
from .exceptions import PermissionDenied
from .flow import (
    SESSION_HASH,
    _logged_out,
    _same_backend,
    _user_id,
    aget_user,
    alogout,
    aupdate_user_sessions_hash,
    get_user,
    logout,
    update_user_sessions_hash,
)
from .sessions import get_auth, get_session
from .stores.base import NOT_LISTABLE, SessionStore
from .users import session_auth_hash_matches

__all__ = [
    "SessionInfo",
    "alist_sessions",
    "alogout_everywhere",
    "arevoke_session",
    "list_sessions",
    "logout_everywhere",
    "revoke_session",
]


def _own(me: Any, user: Any) -> Any:
    """The user whose sessions are asked for: the request's own, and no other."""
    if not getattr(me, "is_authenticated", False):
        return None
    if user is not None and _user_id(user) != _user_id(me):
        raise PermissionDenied(
            "a request can list only the sessions of the user logged in on it; for "
            "another user's sessions use SessionAuth.list_user_sessions(user_id)"
        )
    return me


def _listing_store(request: Any) -> SessionStore:
    """The store of *request*'s sessions, if it can list them: a ``CookieStore`` is a
    programming error whether or not anyone is logged in yet."""
    store = get_auth(request).store
    if store.stateless:
        raise RuntimeError(NOT_LISTABLE.format(store=type(store).__name__))
    return store


def _mine(
    request: Any, found: list[tuple[str, dict[str, Any]]]
) -> list[tuple[str, dict[str, Any]]]:
    # The store indexes sessions by user id alone; another backend's user 1 is someone else.
    ours = _same_backend(get_session(request))
    return [(token, data) for token, data in found if ours(data)]


def _live(request: Any, user: Any, found: list[tuple[str, dict[str, Any]]]) -> list[SessionInfo]:
    # A session from before a password change is still stored until its next request
    # flushes it, but it is no longer logged in: leave it out.
    keys = get_auth(request).secret_keys
    kept = [
        (t, d)
        for t, d in _mine(request, found)
        if session_auth_hash_matches(user, d.get(SESSION_HASH), keys)
    ]
    return infos(kept, get_session(request).key)


def list_sessions(request: Any, user: Any = None) -> list[SessionInfo]:
    """The live sessions of the user logged in on *request*, oldest first.

    Args:
        request: the app's request (a Starlette/Flask request, a scope or an environ).
        user: the same user, if the app has it at hand; another user is refused.

    Returns:
        One :class:`SessionInfo` per session, the request's own marked ``current``;
        ``[]`` when nobody is logged in.

    Raises:
        PermissionDenied: *user* is not the user logged in on *request*.
        RuntimeError: the store keeps no sessions on the server (:class:`CookieStore`),
            also when nobody is logged in.
    """
    store = _listing_store(request)
    me = _own(get_user(request), user)
    if me is None:
        return []
    return _live(request, me, store.user_sessions(_user_id(me)))


async def alist_sessions(request: Any, user: Any = None) -> list[SessionInfo]:
    """Async twin of :func:`list_sessions`."""
    store = _listing_store(request)
    me = _own(await aget_user(request), user)
    if me is None:
        return []
    return _live(request, me, await store.auser_sessions(_user_id(me)))


def _find(found: list[tuple[str, dict[str, Any]]], wanted: object) -> str | None:
    for token, data in found:
        if same_id(session_id(token, data), wanted):
            return token
    return None


def _me(request: Any, me: Any) -> tuple[Any, str | None]:
    """The user id of the request's user, and the request's session key (if in)."""
    if not getattr(me, "is_authenticated", False):
        return None, None
    return _user_id(me), get_session(request).key


def revoke_session(request: Any, session_id: str) -> bool:
    """End one session of the user logged in on *request*.

    Args:
        request: the app's request.
        session_id: a :attr:`SessionInfo.id` from :func:`list_sessions`.

    Returns:
        ``True`` if the session was ended; ``False`` if the user has no such session
        (an unknown id and another user's id look the same), it was ended meanwhile,
        or nobody is logged in.

    Raises:
        RuntimeError: the store keeps no sessions on the server (:class:`CookieStore`),
            also when nobody is logged in.
    """
    store = _listing_store(request)
    user_id, current = _me(request, get_user(request))
    if user_id is None:
        return False
    token = _find(_mine(request, store.user_sessions(user_id)), session_id)
    if token is None:
        return False
    if token == current:
        _logged_out(request, get_session(request))
    return end_session(store, token, session_id, user_id, "revoked", request)


async def arevoke_session(request: Any, session_id: str) -> bool:
    """Async twin of :func:`revoke_session`."""
    store = _listing_store(request)
    user_id, current = _me(request, await aget_user(request))
    if user_id is None:
        return False
    token = _find(_mine(request, await store.auser_sessions(user_id)), session_id)
    if token is None:
        return False
    if token == current:
        _logged_out(request, get_session(request))
    return await aend_session(store, token, session_id, user_id, "revoked", request)


def logout_everywhere(request: Any, keep_current: bool = True) -> int:
    """End every other session of the user logged in on *request*.

    With a server-side store the other sessions are deleted now (``session_revoked``
    with reason ``"logout_everywhere"`` for each). With :class:`CookieStore`, which
    cannot reach them, the user's session hash changes instead (the backend must
    offer ``end_sessions``, as the built-in ones do): every other session is then
    anonymous on its next request, and this one is kept logged in.

    Args:
        request: the app's request.
        keep_current: keep this session logged in (default); ``False`` logs it out
            too, with :func:`~reqsignals.auth.logout` (``user_logged_out``).

    Returns:
        How many sessions were ended besides this one (``0`` with :class:`CookieStore`,
        which cannot count them).
    """
    me = get_user(request)
    if not getattr(me, "is_authenticated", False):
        return 0
    auth, session = get_auth(request), get_session(request)
    if auth.store.stateless:
        update_user_sessions_hash(request, me)
        ended = 0
    else:
        ended = end_sessions(
            auth.store,
            _user_id(me),
            "logout_everywhere",
            request=request,
            keep=session.key,
            only=_same_backend(session),
        )
    if not keep_current:
        logout(request)
    return ended


async def alogout_everywhere(request: Any, keep_current: bool = True) -> int:
    """Async twin of :func:`logout_everywhere`."""
    me = await aget_user(request)
    if not getattr(me, "is_authenticated", False):
        return 0
    auth, session = get_auth(request), get_session(request)
    if auth.store.stateless:
        await aupdate_user_sessions_hash(request, me)
        ended = 0
    else:
        ended = await aend_sessions(
            auth.store,
            _user_id(me),
            "logout_everywhere",
            request=request,
            keep=session.key,
            only=_same_backend(session),
        )
    if not keep_current:
        await alogout(request)
    return ended
