"""Failed logins counted in Redis: for many workers on many machines.

Each username or address is a sorted set of attempts scored by time, with a small hash
beside it (kind, label, limit, window, and which lock was last announced). Every
change runs as one Lua script, so Redis applies it whole before any other client's.

Time is Redis's own clock (``TIME`` inside the scripts): every app server, whatever
its clock says, counts on the same one, so clock skew between machines neither
lengthens nor shortens a lock. Redis offers scripts no monotonic clock; a step of the
Redis host's own clock forward would age attempts early (as it expires every key with
a TTL early), so keep that host's clock slewed by NTP, which is the default of chrony
and ntpd, rather than stepped.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import Collection, Sequence
from typing import Any, cast

import redis
import redis.asyncio
import redis.exceptions

from ..exceptions import LockoutUnavailable
from ..stores.redis import _redact
from .counters import Count, FailureCounter, LockInfo, Refusal

__all__ = ["RedisCounter"]

# Shared by the scripts: "now" in microseconds from Redis's clock, and numbers written
# back as whole digits (Lua's tostring keeps only 14 significant digits).
_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function digits(x) return string.format('%.0f', x) end
"""
# KEYS: n sorted sets, then their n hashes. ARGV: window (us), token, n limits, n kinds,
# n labels. Returns {0} when recorded, or {index, microseconds until it lifts}.
_BEGIN = (
    _PRELUDE
    + """
local window = tonumber(ARGV[1])
local n = #KEYS / 2
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', digits(now - window))
  local limit = tonumber(ARGV[2 + i])
  local count = redis.call('ZCARD', KEYS[i])
  if count >= limit then
    local lock = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    return {i, math.floor(tonumber(lock[2]) + window - now)}
  end
end
local ttl = math.floor(window / 1000) + 1000
for i = 1, n do
  redis.call('ZADD', KEYS[i], digits(now), ARGV[2])
  redis.call('PEXPIRE', KEYS[i], ttl)
  redis.call('HSET', KEYS[n + i], 'kind', ARGV[2 + n + i], 'label', ARGV[2 + 2 * n + i],
             'lim', ARGV[2 + i], 'window', ARGV[1])
  redis.call('PEXPIRE', KEYS[n + i], ttl)
end
return {0}
"""
)
# KEYS as for _BEGIN. ARGV: window (us). Returns {index, microseconds, ...} for each
# lock that engaged now (announced once: the hash remembers the lock's first attempt).
_FAIL = (
    _PRELUDE
    + """
local window = tonumber(ARGV[1])
local n = #KEYS / 2
local engaged = {}
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', digits(now - window))
  local limit = tonumber(redis.call('HGET', KEYS[n + i], 'lim'))
  local count = redis.call('ZCARD', KEYS[i])
  if limit and count >= limit then
    local lock = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    if redis.call('HGET', KEYS[n + i], 'announced') ~= lock[1] then
      redis.call('HSET', KEYS[n + i], 'announced', lock[1])
      engaged[#engaged + 1] = i
      engaged[#engaged + 1] = math.floor(tonumber(lock[2]) + window - now)
    end
  end
end
return engaged
"""
)
# KEYS: the sets and hashes to delete (ARGV[1] of them), then sets to take ARGV[2] off.
_SUCCEED = """
local cleared = tonumber(ARGV[1])
for i = 1, cleared do redis.call('DEL', KEYS[i]) end
for i = cleared + 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[2]) end
return 1
"""
_SHA = {script: hashlib.sha1(script.encode()).hexdigest() for script in (_BEGIN, _FAIL, _SUCCEED)}


class RedisCounter(FailureCounter):
    """Counts failed logins in Redis, with atomic Lua scripts on Redis's clock.

    WSGI apps use redis-py's sync client; ASGI apps its asyncio client (one per event
    loop). Keys expire by themselves a little after the window.

    Args:
        url: a ``redis://`` or ``rediss://`` URL.
        prefix: put before every key.
        **client_options: passed to ``from_url``; ``socket_timeout`` and
            ``socket_connect_timeout`` default to 5 seconds.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "reqsignals:lockout:",
        **client_options: Any,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.client_options: dict[str, Any] = {"socket_timeout": 5.0, "socket_connect_timeout": 5.0}
        self.client_options.update(client_options)
        self._client: redis.Redis | None = None
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"RedisCounter({_redact(self.url)!r}, prefix={self.prefix!r})"

    def _unavailable(self, exc: Exception) -> LockoutUnavailable:
        return LockoutUnavailable(
            f"the Redis lock-out counter at {_redact(self.url)} failed ({exc}); logins are "
            "refused until it works again: check that Redis runs and that url= is right"
        )

    @property
    def client(self) -> redis.Redis:
        """The sync client, made on first use."""
        if self._client is None:
            self._client = redis.Redis.from_url(self.url, **self.client_options)
        return self._client

    def _aclient(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            client = self._aclients[loop] = redis.asyncio.Redis.from_url(
                self.url, **self.client_options
            )
        return client

    def _keys(self, counts: Sequence[Count]) -> list[str]:
        return [f"{self.prefix}z:{c.key}" for c in counts] + [
            f"{self.prefix}m:{c.key}" for c in counts
        ]

    # Calling scripts by their SHA, sending the text once per server (NOSCRIPT).

    def _eval(self, script: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        client = self.client
        try:
            try:
                return client.evalsha(_SHA[script], len(keys), *keys, *args)
            except redis.exceptions.NoScriptError:
                return client.eval(script, len(keys), *keys, *args)
        except redis.exceptions.RedisError as exc:
            raise self._unavailable(exc) from exc

    async def _aeval(self, script: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        client = self._aclient()
        try:
            try:
                return await client.evalsha(_SHA[script], len(keys), *keys, *args)
            except redis.exceptions.NoScriptError:
                return await client.eval(script, len(keys), *keys, *args)
        except redis.exceptions.RedisError as exc:
            raise self._unavailable(exc) from exc

    @staticmethod
    def _begin_args(counts: Sequence[Count], token: str, window: float) -> list[Any]:
        return [
            round(window * 1_000_000),
            token,
            *(c.limit for c in counts),
            *(c.kind for c in counts),
            *(c.label for c in counts),
        ]

    @staticmethod
    def _refusal(reply: Any) -> Refusal | None:
        return None if reply[0] == 0 else (int(reply[0]) - 1, int(reply[1]) / 1_000_000)

    @staticmethod
    def _engaged(reply: Any) -> list[Refusal]:
        return [(int(reply[i]) - 1, int(reply[i + 1]) / 1_000_000) for i in range(0, len(reply), 2)]

    def _succeed_keys(self, clear: Collection[str], release: Collection[str]) -> list[str]:
        keys = [f"{self.prefix}{part}:{key}" for key in clear for part in ("z", "m")]
        return keys + [f"{self.prefix}z:{key}" for key in release]

    # Sync

    def begin(self, counts: Sequence[Count], token: str, window: float) -> Refusal | None:
        return self._refusal(
            self._eval(_BEGIN, self._keys(counts), self._begin_args(counts, token, window))
        )

    def fail(self, counts: Sequence[Count], token: str, window: float) -> list[Refusal]:
        return self._engaged(self._eval(_FAIL, self._keys(counts), [round(window * 1_000_000)]))

    def succeed(self, clear: Collection[str], release: Collection[str], token: str) -> None:
        self._eval(_SUCCEED, self._succeed_keys(clear, release), [2 * len(clear), token])

    def reset(self, keys: Collection[str] | None = None) -> int:
        live = {lock.key for lock in self.locks()}  # LockoutUnavailable if Redis is down
        names = self._all_keys() if keys is None else list(keys)
        if names:
            doomed = [f"{self.prefix}{part}:{key}" for key in names for part in ("z", "m")]
            try:
                self.client.delete(*doomed)
            except redis.exceptions.RedisError as exc:  # pragma: no cover - down since
                raise self._unavailable(exc) from exc
        return sum(1 for key in names if key in live)

    def _all_keys(self) -> list[str]:
        found = set()
        try:
            for part in ("z", "m"):
                start = len(self.prefix) + len(part) + 1
                for name in self.client.scan_iter(match=f"{_glob(self.prefix)}{part}:*", count=500):
                    text = name.decode() if isinstance(name, bytes) else name
                    found.add(text[start:])
        except redis.exceptions.RedisError as exc:
            raise self._unavailable(exc) from exc
        return sorted(found)

    def locks(self) -> list[LockInfo]:
        try:
            client = self.client
            seconds, micros = client.time()
            now = seconds * 1_000_000 + micros
            found = []
            for key in self._all_keys():
                attempts = cast(
                    "list[tuple[bytes, float]]",
                    client.zrange(f"{self.prefix}z:{key}", 0, -1, withscores=True),
                )
                meta = {
                    (k.decode() if isinstance(k, bytes) else k): (
                        v.decode() if isinstance(v, bytes) else v
                    )
                    for k, v in client.hgetall(f"{self.prefix}m:{key}").items()
                }
                if not meta:
                    continue
                window = int(meta["window"])
                live = [score for _, score in attempts if score > now - window]
                if not live:
                    continue
                limit = int(meta["lim"])
                locked = len(live) >= limit
                retry = (live[len(live) - limit] + window - now) / 1_000_000 if locked else 0.0
                found.append(LockInfo(key, meta["kind"], meta["label"], len(live), limit, retry))
        except redis.exceptions.RedisError as exc:
            raise self._unavailable(exc) from exc
        return found

    def close(self) -> None:
        """Close the sync client (async clients: :meth:`aclose`)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # Async: the scripts through the event loop's client; listings in a thread.

    async def abegin(self, counts: Sequence[Count], token: str, window: float) -> Refusal | None:
        return self._refusal(
            await self._aeval(_BEGIN, self._keys(counts), self._begin_args(counts, token, window))
        )

    async def afail(self, counts: Sequence[Count], token: str, window: float) -> list[Refusal]:
        return self._engaged(
            await self._aeval(_FAIL, self._keys(counts), [round(window * 1_000_000)])
        )

    async def asucceed(self, clear: Collection[str], release: Collection[str], token: str) -> None:
        await self._aeval(_SUCCEED, self._succeed_keys(clear, release), [2 * len(clear), token])

    async def areset(self, keys: Collection[str] | None = None) -> int:
        return await asyncio.to_thread(self.reset, keys)

    async def alocks(self) -> list[LockInfo]:
        return await asyncio.to_thread(self.locks)

    async def aclose(self) -> None:
        """Close the sync client and the asyncio client of the running loop."""
        self.close()
        client = self._aclients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


def _glob(text: str) -> str:
    # A prefix is literal: escape the characters SCAN's MATCH treats as a pattern.
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
