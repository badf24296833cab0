"""The interface every session store implements, and helpers they share."""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection, Mapping
from typing import Any, ClassVar

__all__ = ["USER_ID_FIELD", "SessionStore", "dumps_value", "new_session_key", "user_index_key"]

#: Bytes of randomness in a session key (256 bits, like Django's 32 characters of 36).
KEY_BYTES = 32

#: The session key under which ``login()`` keeps the user's id. Server-side stores
#: index sessions by its value, so that a user's sessions can be listed and ended.
USER_ID_FIELD = "_auth_user_id"

#: The error of a store that keeps nothing on the server, asked for a user's sessions.
NOT_LISTABLE = (
    "{store} keeps no sessions on the server, so it cannot list or end one session: "
    "use a server-side store (MemoryStore, SQLiteStore or RedisStore); "
    "logout_everywhere() still works with it, through the session hash"
)


def user_index_key(user_id: Any) -> str:
    """The text a store indexes *user_id* under: its JSON form (``1`` and ``"1"`` differ).

    It is exactly what :func:`dumps_value` stores for the value, so a store can read a
    session's index key from its stored ``USER_ID_FIELD`` (RedisStore does).
    """
    return json.dumps(user_id, separators=(",", ":"), ensure_ascii=False)


def new_session_key() -> str:
    """A fresh, unguessable session key: 43 URL-safe characters from :mod:`secrets`."""
    return secrets.token_urlsafe(KEY_BYTES)


def dumps_value(name: str, value: Any) -> str:
    """*value* as compact JSON, or a :class:`TypeError` that names the session key."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"session[{name!r}] holds a {type(value).__name__}, which cannot be stored: "
            f"session values must be JSON-serialisable (str, int, float, bool, None, "
            f"lists and dicts of them) ({exc})"
        ) from exc


def dumps_data(data: Mapping[str, Any]) -> str:
    """The whole session as compact JSON; a bad value is named by its key."""
    try:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        for name, value in data.items():
            dumps_value(name, value)
        raise  # pragma: no cover - one of the values above raised


class SessionStore:
    """Where session data lives between requests. Subclass it to add a store.

    A store deals in *tokens*: the string the session cookie carries (signed by the
    middleware, so a store only ever sees tokens it handed out). For server-side
    stores the token is the session key; for :class:`CookieStore` it is the data.

    The sync methods serve WSGI apps; the ``a``-prefixed twins serve ASGI apps and must
    never block the event loop. The defaults of the async twins call the sync methods,
    which is right for stores that do no I/O.

    Methods:
        load(token): the session's data, or ``None`` if the store does not know the
            token (unknown, expired, deleted). The caller owns the returned dict.
        create(data, max_age): store a new session; return its token.
        save(token, data, changed, deleted, max_age): write what changed — the keys in
            *changed* (with their values) and the keys in *deleted* — and push the
            expiry out to *max_age* seconds. *data* is the whole session as the request
            sees it. Return the token to send, or ``None`` if the session no longer
            exists (deleted or expired meanwhile): then nothing was written.
        delete(token): forget the session; unknown tokens are ignored.
        discard(token): :meth:`delete`, and whether this call is the one that deleted
            it (of two processes ending one session at once, only one is told so).
        exists(token): whether :meth:`load` would find it.
        user_sessions(user_id): ``[(token, data), ...]`` of the live sessions whose
            ``USER_ID_FIELD`` is *user_id* (server-side stores keep an index for it).
        cleanup(): remove expired sessions and their index entries; return how many.
        close(): release connections and threads.

    Raises:
        SessionStoreUnavailable: from any method when the backing service is down.
    """

    #: True when the data itself travels in the cookie and the server keeps nothing.
    stateless: ClassVar[bool] = False

    def load(self, token: str) -> dict[str, Any] | None:
        """The session's data, or ``None`` for an unknown, expired or deleted token."""
        raise NotImplementedError

    def create(self, data: Mapping[str, Any], max_age: int) -> str:
        """Store a new session expiring in *max_age* seconds; return its token."""
        raise NotImplementedError

    def save(
        self,
        token: str,
        data: Mapping[str, Any],
        changed: Mapping[str, Any],
        deleted: Collection[str],
        max_age: int,
    ) -> str | None:
        """Write the keys in *changed* and remove those in *deleted*; renew the expiry.

        Returns:
            The token to send, or ``None`` when the session no longer exists (then
            nothing was written).
        """
        raise NotImplementedError

    def delete(self, token: str) -> None:
        """Forget the session; an unknown token is ignored."""
        raise NotImplementedError

    def discard(self, token: str) -> bool:
        """Forget the session; ``True`` if it existed and this call deleted it.

        The built-in stores answer atomically; this default (for stores of your own)
        asks :meth:`exists` first, so two callers at once may both be told ``True``.
        """
        found = self.exists(token)
        self.delete(token)
        return found

    def exists(self, token: str) -> bool:
        """Whether :meth:`load` would find the session."""
        return self.load(token) is not None

    def user_sessions(self, user_id: Any) -> list[tuple[str, dict[str, Any]]]:
        """The live sessions of *user_id*, as ``(token, data)`` pairs, oldest first.

        Raises:
            RuntimeError: the store keeps nothing on the server (:class:`CookieStore`).
        """
        raise RuntimeError(NOT_LISTABLE.format(store=type(self).__name__))

    def cleanup(self) -> int:
        """Remove expired sessions (and their index entries); return how many went."""
        return 0

    def close(self) -> None:
        """Release connections and threads; the store reconnects if used again."""

    async def aload(self, token: str) -> dict[str, Any] | None:
        """Async twin of :meth:`load`."""
        return self.load(token)

    async def acreate(self, data: Mapping[str, Any], max_age: int) -> str:
        """Async twin of :meth:`create`."""
        return self.create(data, max_age)

    async def asave(
        self,
        token: str,
        data: Mapping[str, Any],
        changed: Mapping[str, Any],
        deleted: Collection[str],
        max_age: int,
    ) -> str | None:
        """Async twin of :meth:`save`."""
        return self.save(token, data, changed, deleted, max_age)

    async def adelete(self, token: str) -> None:
        """Async twin of :meth:`delete`."""
        self.delete(token)

    async def adiscard(self, token: str) -> bool:
        """Async twin of :meth:`discard`."""
        found = await self.aexists(token)
        await self.adelete(token)
        return found

    async def aexists(self, token: str) -> bool:
        """Async twin of :meth:`exists`."""
        return await self.aload(token) is not None

    async def auser_sessions(self, user_id: Any) -> list[tuple[str, dict[str, Any]]]:
        """Async twin of :meth:`user_sessions`."""
        return self.user_sessions(user_id)

    async def acleanup(self) -> int:
        """Async twin of :meth:`cleanup`."""
        return self.cleanup()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        self.close()
