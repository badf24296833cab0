"""Sessions in Redis: for many workers on many machines."""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import redis
import redis.asyncio
import redis.connection
import redis.exceptions

from ...signals import connection_created
from ..exceptions import SessionError, SessionStoreUnavailable
from .base import USER_ID_FIELD, SessionStore, dumps_value, new_session_key, user_index_key

__all__ = ["RedisStore"]

# A session is one hash: field "m" (created at) marks that it exists even when empty,
# and fields "d:<name>" hold each value as JSON. The JSON of the user id (field
# "d:_auth_user_id") is also its user index key (user_index_key), so a session written
# before the index existed is indexed by its next write. A user's sessions are a sorted
# set "<prefix>user:<id>" of tokens scored by expiry (Redis's own clock); entries past
# their score are pruned whenever the set is written or read, and the set itself
# expires with its last session, so the index never outgrows the live sessions. Every
# script runs atomically.
_INDEX = (
    f"""
local USER = 'd:{USER_ID_FIELD}'
"""
    + """
local function index(idx, token, ttl)
  local now = tonumber(redis.call('TIME')[1])
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', now)
  redis.call('ZADD', idx, now + ttl, token)
  if redis.call('TTL', idx) < ttl then redis.call('EXPIRE', idx, ttl) end
end
"""
)
# KEYS: the session. ARGV: ttl, token, index prefix, then field/value pairs to set.
_CREATE = (
    _INDEX
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[1])
local u = redis.call('HGET', KEYS[1], USER)
if u then index(ARGV[3] .. u, ARGV[2], tonumber(ARGV[1])) end
return 1
"""
)
# ARGV: ttl, token, index prefix, number of deleted fields, the deleted fields, then
# field/value pairs to set.
_SAVE = (
    _INDEX
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local old = redis.call('HGET', KEYS[1], USER)
local n = tonumber(ARGV[4])
if n > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 5, 4 + n)) end
if #ARGV > 4 + n then redis.call('HSET', KEYS[1], unpack(ARGV, 5 + n)) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
local u = redis.call('HGET', KEYS[1], USER)
if old and old ~= u then redis.call('ZREM', ARGV[3] .. old, ARGV[2]) end
if u then index(ARGV[3] .. u, ARGV[2], tonumber(ARGV[1])) end
return 1
"""
)
# KEYS: the session. ARGV: token, index prefix. Returns 1 if it existed, else 0.
_DELETE = (
    _INDEX
    + """
local u = redis.call('HGET', KEYS[1], USER)
if u then redis.call('ZREM', ARGV[2] .. u, ARGV[1]) end
return redis.call('DEL', KEYS[1])
"""
)
# KEYS: the user's index. ARGV: the session prefix. Returns token, fields, token, ...
_LIST = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local out = {}
for _, token in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local fields = redis.call('HGETALL', ARGV[1] .. token)
  if #fields == 0 then
    redis.call('ZREM', KEYS[1], token)
  else
    table.insert(out, token)
    table.insert(out, fields)
  end
end
return out
"""
# KEYS: the sessions to index. ARGV: the session prefix, the index prefix. Returns how
# many were added to their user's index (ones already there are not counted).
_REINDEX = (
    _INDEX
    + """
local added = 0
for _, key in ipairs(KEYS) do
  local u = redis.call('HGET', key, USER)
  local ttl = redis.call('TTL', key)
  if u and ttl > 0 then
    local token = string.sub(key, #ARGV[1] + 1)
    if not redis.call('ZSCORE', ARGV[2] .. u, token) then added = added + 1 end
    index(ARGV[2] .. u, token, ttl)
  end
end
return added
"""
)
_UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
_GLOB = str.maketrans({c: "\\" + c for c in "*?[]\\"})


def _redact(url: str) -> str:
    """*url* with its password hidden, whether in the netloc or as ``?password=``
    (redis-py reads both)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL at all: it may be anything, show nothing of it
        return "<unparsable URL>"
    if parts.password is not None:
        netloc = parts.netloc.rpartition("@")[2]
        user = f"{parts.username}:" if parts.username else ":"
        parts = parts._replace(netloc=f"{user}***@{netloc}")
    if parts.query:
        # Every parameter's value is kept but a password's: each is split by hand, so
        # the query keeps its exact spelling (parse_qsl would re-encode it).
        fields = []
        for field in parts.query.split("&"):
            name, sep, _ = field.partition("=")
            if sep and unquote_plus(name).strip().lower() == "password":
                field = f"{name}=***"
            fields.append(field)
        parts = parts._replace(query="&".join(fields))
    return urlunsplit(parts)


class RedisStore(SessionStore):
    """Sessions in Redis, one hash per session, with a TTL of ``max_age``.

    WSGI apps use redis-py's sync client; ASGI apps its asyncio client (one per event
    loop), so the event loop never blocks. Each session value is its own hash field and
    writes run as one atomic script, so concurrent requests that change different keys
    lose nothing, and a write never brings back a session deleted meanwhile.

    Each client the store makes is announced with
    ``connection_created.send(type(store), connection=<client>)`` (``asend`` for the
    asyncio client), e.g. to run ``CLIENT SETNAME``.

    When Redis cannot be reached the request that needed it fails with
    :class:`~reqsignals.auth.SessionStoreUnavailable`, which names the URL (password
    hidden); the clients reconnect on the next request.

    Args:
        url: a ``redis://`` or ``rediss://`` URL, as for ``redis.Redis.from_url``.
        prefix: put before every session key in Redis.
        **client_options: passed to ``from_url`` for both clients; ``socket_timeout``
            and ``socket_connect_timeout`` default to 5 seconds so a dead server fails
            the request instead of hanging it.

    Raises:
        ValueError: *url* is not a URL redis-py can use (the message hides its password).

    Example::

        store = RedisStore("redis://cache.internal:6379/2", prefix="shop:session:")
        auth = SessionAuth(secret_key=key, store=store)
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "reqsignals:session:",
        **client_options: Any,
    ) -> None:
        try:
            redis.connection.parse_url(url)  # type: ignore[no-untyped-call]  # as from_url() will
        except ValueError as exc:
            raise ValueError(f"url= {_redact(url)} is not a Redis URL: {exc}") from None
        self.url = url
        self.prefix = prefix
        self.client_options: dict[str, Any] = {
            "socket_timeout": 5.0,
            "socket_connect_timeout": 5.0,
        }
        self.client_options.update(client_options)
        self._client: redis.Redis | None = None
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"RedisStore({_redact(self.url)!r}, prefix={self.prefix!r})"

    def _unavailable(self, exc: Exception) -> SessionStoreUnavailable:
        return SessionStoreUnavailable(
            f"the Redis session store at {_redact(self.url)} is unreachable ({exc}); "
            "check that Redis runs and that url= is right"
        )

    @property
    def client(self) -> redis.Redis:
        """The sync client, made on first use."""
        if self._client is None:
            client = redis.Redis.from_url(self.url, **self.client_options)
            connection_created.send(type(self), connection=client)
            self._client = client
        return self._client

    async def aclient(self) -> Any:
        """The asyncio client of the running event loop, made on first use there."""
        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            client = redis.asyncio.Redis.from_url(self.url, **self.client_options)
            await connection_created.asend(type(self), connection=client)
            self._aclients[loop] = client
        return client

    # Encoding shared by both clients.

    @staticmethod
    def _decode(fields: Mapping[Any, Any]) -> dict[str, Any] | None:
        if not fields:
            return None
        data = {}
        for name, value in fields.items():
            text = name.decode() if isinstance(name, bytes) else name
            if text.startswith("d:"):
                data[text[2:]] = json.loads(value)
        return data

    @property
    def _index_prefix(self) -> str:
        return f"{self.prefix}user:"

    def _create_args(self, token: str, data: Mapping[str, Any], max_age: int) -> list[Any]:
        args: list[Any] = [max_age, token, self._index_prefix, "m", repr(time.time())]
        for name, value in data.items():
            args += (f"d:{name}", dumps_value(name, value))
        return args

    def _save_args(
        self, token: str, changed: Mapping[str, Any], deleted: Collection[str], max_age: int
    ) -> list[Any]:
        removed = [f"d:{name}" for name in deleted]
        args: list[Any] = [max_age, token, self._index_prefix, len(removed), *removed]
        for name, value in changed.items():
            args += (f"d:{name}", dumps_value(name, value))
        return args

    def _sessions_of(self, found: list[Any]) -> list[tuple[str, dict[str, Any]]]:
        pairs = []
        for token, flat in zip(found[::2], found[1::2], strict=True):
            fields: dict[Any, Any] = dict(zip(flat[::2], flat[1::2], strict=True))
            data = self._decode(fields)
            created = float(fields.get(b"m") or fields.get("m") or 0)
            text = token.decode() if isinstance(token, bytes) else token
            pairs.append((created, text, data or {}))
        pairs.sort(key=lambda p: p[0])
        return [(token, data) for _, token, data in pairs]

    @staticmethod
    def _created(token: str, created: Any) -> str:
        if not created:  # pragma: no cover - 256 random bits met an existing key
            raise SessionError("a new session key collided with an existing one; retry")
        return token

    # Sync

    def load(self, token: str) -> dict[str, Any] | None:
        try:
            fields = self.client.hgetall(self.prefix + token)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        return self._decode(fields)

    def create(self, data: Mapping[str, Any], max_age: int) -> str:
        token = new_session_key()
        args = self._create_args(token, data, max_age)
        try:
            created = self.client.eval(_CREATE, 1, self.prefix + token, *args)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        return self._created(token, created)

    def save(
        self,
        token: str,
        data: Mapping[str, Any],
        changed: Mapping[str, Any],
        deleted: Collection[str],
        max_age: int,
    ) -> str | None:
        args = self._save_args(token, changed, deleted, max_age)
        try:
            saved = self.client.eval(_SAVE, 1, self.prefix + token, *args)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        return token if saved else None

    def delete(self, token: str) -> None:
        self.discard(token)

    def discard(self, token: str) -> bool:
        try:
            found = self.client.eval(_DELETE, 1, self.prefix + token, token, self._index_prefix)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        return bool(found)

    def user_sessions(self, user_id: Any) -> list[tuple[str, dict[str, Any]]]:
        index = self._index_prefix + user_index_key(user_id)
        try:
            found = self.client.eval(_LIST, 1, index, self.prefix)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        return self._sessions_of(found)

    def reindex(self, batch: int = 500) -> int:
        """Add every logged-in session to its user's index; return how many were missing.

        Sessions written before the per-user index existed join it on their next write;
        run this once after upgrading (``reqsignals sessions reindex``) so that one not
        used since (a lost laptop) can be listed and ended too. It walks the keys with
        ``SCAN``, so Redis keeps serving meanwhile.
        """
        pattern = self.prefix.translate(_GLOB) + "*"
        index_prefix = self._index_prefix
        added = 0
        try:
            keys: list[Any] = []
            for key in self.client.scan_iter(match=pattern, count=batch, _type="hash"):
                text = key.decode() if isinstance(key, bytes) else key
                if not text.startswith(index_prefix):
                    keys.append(text)
                if len(keys) >= batch:
                    added += self.client.eval(_REINDEX, len(keys), *keys, self.prefix, index_prefix)
                    keys = []
            if keys:
                added += self.client.eval(_REINDEX, len(keys), *keys, self.prefix, index_prefix)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        return added

    def exists(self, token: str) -> bool:
        try:
            return bool(self.client.exists(self.prefix + token))
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc

    def close(self) -> None:
        """Close the sync client (async clients: :meth:`aclose`)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # Async

    async def aload(self, token: str) -> dict[str, Any] | None:
        client = await self.aclient()
        try:
            fields = await client.hgetall(self.prefix + token)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        return self._decode(fields)

    async def acreate(self, data: Mapping[str, Any], max_age: int) -> str:
        token = new_session_key()
        args = self._create_args(token, data, max_age)
        client = await self.aclient()
        try:
            created = await client.eval(_CREATE, 1, self.prefix + token, *args)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        return self._created(token, created)

    async def asave(
        self,
        token: str,
        data: Mapping[str, Any],
        changed: Mapping[str, Any],
        deleted: Collection[str],
        max_age: int,
    ) -> str | None:
        args = self._save_args(token, changed, deleted, max_age)
        client = await self.aclient()
        try:
            saved = await client.eval(_SAVE, 1, self.prefix + token, *args)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        return token if saved else None

    async def adelete(self, token: str) -> None:
        await self.adiscard(token)

    async def adiscard(self, token: str) -> bool:
        client = await self.aclient()
        try:
            found = await client.eval(_DELETE, 1, self.prefix + token, token, self._index_prefix)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        return bool(found)

    async def auser_sessions(self, user_id: Any) -> list[tuple[str, dict[str, Any]]]:
        index = self._index_prefix + user_index_key(user_id)
        client = await self.aclient()
        try:
            found = await client.eval(_LIST, 1, index, self.prefix)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        return self._sessions_of(found)

    async def aexists(self, token: str) -> bool:
        client = await self.aclient()
        try:
            return bool(await client.exists(self.prefix + token))
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc

    async def aclose(self) -> None:
        """Close the sync client and the asyncio client of the running loop."""
        self.close()
        client = self._aclients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
