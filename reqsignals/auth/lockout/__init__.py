"""Brute-force lock-out: refuse logins for a username, or from an address, after too
many failed attempts within a sliding window, counted where every process sees them.

``SessionAuth(..., lockout=Lockout())`` puts it into the login flow itself:
``authenticate()`` and ``aauthenticate()`` ask it before any backend runs, so every
login path of the app is covered and a refused attempt costs no password hashing.

How an attempt is counted:

1. Before the backends run, one atomic step of the counter checks the username's and
   the address's counts and, if neither is at its limit, records the attempt against
   both. So however many attempts arrive at once, from however many processes, no
   more than ``max_failures`` of them ever reach a backend; the others raise
   :class:`LockedOut`.
2. A failed attempt stays counted. The attempt that engages a lock is reported by
   ``user_locked_out``, once per lock. An attempt whose backend raised (anything but
   ``PermissionDenied``) is no failed login, as Django has it (no ``user_login_failed``):
   it is taken off the counts again, so it engages no lock.
3. A successful attempt clears the username's count, and takes itself off the
   address's (the address's earlier failures stay: otherwise an attacker would log in
   to an account of their own between guesses at others).

Unknown usernames are counted and locked like known ones, so a lock says nothing
about whether an account exists.
"""

from __future__ import annotations

import hashlib
import math
import os
import unicodedata
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..exceptions import LockedOut
from .address import ProxyList, client_address, normalise_address
from .counters import Count, FailureCounter, LockInfo, MemoryCounter

if TYPE_CHECKING:
    from ..stores.base import SessionStore

__all__ = [
    "Attempt",
    "Count",
    "FailureCounter",
    "LockInfo",
    "LockedOut",
    "Lockout",
    "MemoryCounter",
    "counter_for",
    "reset_keys",
    "username_key",
]

#: Usernames longer than this are not counted by name (the backends refuse them before
#: any lookup or hashing, so they cannot be guessed at); their address still is.
MAX_USERNAME_LENGTH = 4096
#: Characters of a username kept as its label, for listings.
LABEL_LENGTH = 64

_memory_counters: weakref.WeakKeyDictionary[Any, MemoryCounter] = weakref.WeakKeyDictionary()


def username_key(username: object) -> tuple[str, str] | None:
    """``(key, label)`` a username is counted under, or ``None`` if it is not counted.

    The key is a digest of the username in NFKC form, case-folded and stripped: every
    spelling a backend might take for the same account (``"Ada"``, ``"ada "``, its
    full-width form) shares one count, and usernames of any size or content make
    keys of one size. Strings that cannot be encoded (lone surrogates) are counted
    too; non-strings, empty and over-long usernames are not.
    """
    if not isinstance(username, str) or not username or len(username) > MAX_USERNAME_LENGTH:
        return None
    shown = unicodedata.normalize("NFKC", username)
    folded = unicodedata.normalize("NFKC", shown.casefold()).strip()
    digest = hashlib.sha256(folded.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    label = shown[:LABEL_LENGTH].encode("utf-8", "backslashreplace").decode("utf-8")
    return f"username:{digest}", label


def counter_for(store: object) -> FailureCounter:
    """The counter to keep failed logins in, for a session store or a counter.

    A :class:`FailureCounter` is used as it is. A server-side session store gives one
    on the same service: a ``MemoryStore`` its process's memory (one counter per
    store object), a ``SQLiteStore`` two tables in its file, a ``RedisStore`` keys
    under a ``lockout:`` prefix beside its own.

    Raises:
        ValueError: a ``CookieStore``, which keeps nothing on the server.
        TypeError: anything else.
    """
    if isinstance(store, FailureCounter):
        return store
    from ..stores.cookie import CookieStore
    from ..stores.memory import MemoryStore
    from ..stores.sqlite import SQLiteStore

    if isinstance(store, MemoryStore):
        counter = _memory_counters.get(store)
        if counter is None:
            counter = _memory_counters[store] = MemoryCounter()
        return counter
    if isinstance(store, SQLiteStore):
        from .sqlite import SQLiteCounter

        return SQLiteCounter(store.path, timeout=store.timeout)
    if type(store).__module__ == "reqsignals.auth.stores.redis":  # redis imported only here
        from .redis import RedisCounter

        prefix: str = store.prefix  # type: ignore[attr-defined]
        base = prefix[: -len("session:")] if prefix.endswith("session:") else prefix
        return RedisCounter(
            store.url,  # type: ignore[attr-defined]
            prefix=f"{base}lockout:",
            **store.client_options,  # type: ignore[attr-defined]
        )
    if isinstance(store, CookieStore):
        raise ValueError(
            "CookieStore keeps nothing on the server, so failed logins cannot be counted "
            "there: give the lock-out a store of its own, Lockout(store=SQLiteStore(...)) "
            "for one machine or Lockout(store=RedisStore(...)) for many"
        )
    raise TypeError(
        f"Lockout cannot count failed logins in a {type(store).__name__}: pass a "
        "MemoryStore, SQLiteStore or RedisStore, or a FailureCounter"
    )


def reset_keys(username: str | None, client: str | None) -> list[str] | None:
    """The keys :meth:`Lockout.reset` forgets: the username's and the address's (an IPv6
    address stands for its ``/64``); ``None`` (every key) when both are ``None``.

    Raises:
        ValueError: *username* is not one that is counted (empty or over-long).
    """
    if username is None and client is None:
        return None
    keys = []
    if username is not None:
        named = username_key(username)
        if named is None:
            raise ValueError(f"{username[:100]!r} is not a username that can be counted")
        keys.append(named[0])
    if client is not None:
        keys.append(f"client:{normalise_address(client) or client}")
    return keys


@dataclass(frozen=True)
class Attempt:
    """A login attempt the lock-out let through (from :meth:`Lockout.begin`).

    Attributes:
        token: the attempt's id in the counter.
        counts: what it is counted against (the username's, then the address's).
    """

    token: str
    counts: tuple[Count, ...]


def _token() -> str:
    # An attempt's id: 64 random bits, unique enough among the attempts of one window.
    return os.urandom(8).hex()


def _seconds(value: float) -> int:
    # Retry-After takes whole seconds; never 0 while the lock holds.
    return max(1, math.ceil(value))


class Lockout:
    """Count failed logins per username and per client address, and refuse logins
    past ``max_failures`` within ``window`` seconds (a sliding window).

    Args:
        max_failures: attempts within the window after which logins for a username,
            and from an address, are refused.
        window: the window, in seconds: a lock lifts once enough of the attempts that
            made it are older than this.
        store: where to count: a :class:`FailureCounter`, or a server-side session
            store to count beside. ``None``: beside ``SessionAuth``'s session store.
        trusted_proxies: addresses or networks of your reverse proxies, whose
            ``X-Forwarded-For`` entries are believed. Empty (the default): the client
            is the connection's peer, and behind a proxy that is the proxy, so *every
            client shares one address count* and a few failures lock everybody out of
            logging in. Name your proxies here, or set ``max_client_failures`` high.
        max_client_failures: the limit per address, if it should differ from
            ``max_failures`` (a campus or a mobile carrier puts many users behind one
            address).
        username_field: the credential that names the account.

    Raises:
        ValueError: a limit below 1, a window that is not positive, a bad proxy entry,
            or a ``CookieStore``.

    Example::

        auth = SessionAuth(
            secret_key=key,
            store=RedisStore("redis://cache:6379/0"),
            backends=[users],
            lockout=Lockout(max_failures=5, window=15 * 60, trusted_proxies=["10.0.0.0/8"]),
        )
    """

    def __init__(
        self,
        max_failures: int = 5,
        window: float = 900,
        store: SessionStore | FailureCounter | None = None,
        trusted_proxies: Iterable[str] = (),
        *,
        max_client_failures: int | None = None,
        username_field: str = "username",
    ) -> None:
        client_limit = max_failures if max_client_failures is None else max_client_failures
        for name, value in (("max_failures", max_failures), ("max_client_failures", client_limit)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
        if isinstance(window, bool) or not isinstance(window, (int, float)) or not window > 0:
            raise ValueError(f"window must be a positive number of seconds, got {window!r}")
        self.max_failures = max_failures
        self.max_client_failures = client_limit
        self.window = float(window)
        self.trusted_proxies = ProxyList(trusted_proxies)
        self.username_field = username_field
        self._store = store
        self._counter = None if store is None else counter_for(store)
        self._bound: object = None

    def __repr__(self) -> str:
        return (
            f"Lockout(max_failures={self.max_failures}, window={self.window:g}, "
            f"counter={self._counter!r})"
        )

    @property
    def counter(self) -> FailureCounter:
        """Where the counts are kept.

        Raises:
            RuntimeError: no ``store=`` was given and no ``SessionAuth`` uses this
                lock-out yet.
        """
        if self._counter is None:
            raise RuntimeError(
                "this Lockout has no store yet: pass it to SessionAuth(lockout=...), which "
                "counts beside the session store, or give Lockout(store=...)"
            )
        return self._counter

    def bind(self, session_store: object) -> None:
        """Count beside *session_store* unless a store was given (``SessionAuth`` calls it).

        Raises:
            ValueError: *session_store* is a ``CookieStore`` and no store was given, or
                this lock-out already counts beside another session store.
        """
        if self._store is not None:
            return
        if self._counter is not None and self._bound is not session_store:
            raise ValueError(
                "this Lockout already counts beside another SessionAuth's store: give each "
                "SessionAuth its own Lockout, or pass Lockout(store=...) to share one"
            )
        if self._counter is None:
            self._counter = counter_for(session_store)
            self._bound = session_store

    # -- what an attempt is counted against ------------------------------------------

    def client(self, request: Any) -> str | None:
        """The address *request*'s failures are counted against (see ``trusted_proxies``)."""
        return client_address(request, self.trusted_proxies)

    def counts(self, request: Any, credentials: Mapping[str, Any]) -> tuple[Count, ...]:
        """What an attempt with *credentials* on *request* is counted against."""
        found = []
        named = username_key(credentials.get(self.username_field))
        if named is not None:
            found.append(Count(named[0], "username", named[1], self.max_failures))
        address = self.client(request)
        if address is not None:
            found.append(Count(f"client:{address}", "client", address, self.max_client_failures))
        return tuple(found)

    # -- the login flow's side ---------------------------------------------------------

    def begin(self, request: Any, credentials: Mapping[str, Any]) -> Attempt:
        """Record a login attempt, or refuse it (called by ``authenticate``).

        Raises:
            LockedOut: the username or the address is locked (nothing recorded).
            LockoutUnavailable: the counter cannot be reached.
        """
        attempt = Attempt(_token(), self.counts(request, credentials))
        if attempt.counts:
            refused = self.counter.begin(attempt.counts, attempt.token, self.window)
            if refused is not None:
                raise LockedOut(attempt.counts[refused[0]].kind, _seconds(refused[1]))
        return attempt

    async def abegin(self, request: Any, credentials: Mapping[str, Any]) -> Attempt:
        """Async twin of :meth:`begin`."""
        attempt = Attempt(_token(), self.counts(request, credentials))
        if attempt.counts:
            refused = await self.counter.abegin(attempt.counts, attempt.token, self.window)
            if refused is not None:
                raise LockedOut(attempt.counts[refused[0]].kind, _seconds(refused[1]))
        return attempt

    def failed(self, attempt: Attempt) -> list[tuple[str, int]]:
        """The attempt failed: return ``(reason, retry_after)`` for each lock it engaged."""
        if not attempt.counts:
            return []
        engaged = self.counter.fail(attempt.counts, attempt.token, self.window)
        return [(attempt.counts[i].kind, _seconds(left)) for i, left in engaged]

    async def afailed(self, attempt: Attempt) -> list[tuple[str, int]]:
        """Async twin of :meth:`failed`."""
        if not attempt.counts:
            return []
        engaged = await self.counter.afail(attempt.counts, attempt.token, self.window)
        return [(attempt.counts[i].kind, _seconds(left)) for i, left in engaged]

    def discard(self, attempt: Attempt) -> None:
        """The attempt ended in an error, neither failed nor succeeded (a backend raised
        something other than ``PermissionDenied``): take it off every count it was
        recorded against, so it neither counts towards a lock nor engages one.

        Raises:
            LockoutUnavailable: the counter cannot be reached (the attempt stays counted).
        """
        if attempt.counts:
            self.counter.succeed((), [c.key for c in attempt.counts], attempt.token)

    async def adiscard(self, attempt: Attempt) -> None:
        """Async twin of :meth:`discard`."""
        if attempt.counts:
            await self.counter.asucceed((), [c.key for c in attempt.counts], attempt.token)

    def _split(self, attempt: Attempt) -> tuple[list[str], list[str]]:
        clear = [c.key for c in attempt.counts if c.kind == "username"]
        return clear, [c.key for c in attempt.counts if c.kind != "username"]

    def succeeded(self, attempt: Attempt) -> None:
        """The attempt logged a user in: clear the username's count, and take this
        attempt off the address's."""
        if attempt.counts:
            self.counter.succeed(*self._split(attempt), attempt.token)

    async def asucceeded(self, attempt: Attempt) -> None:
        """Async twin of :meth:`succeeded`."""
        if attempt.counts:
            await self.counter.asucceed(*self._split(attempt), attempt.token)

    # -- for admins ---------------------------------------------------------------------

    def reset(self, username: str | None = None, client: str | None = None) -> int:
        """Lift the lock of *username* and/or of the address *client* (an IPv6 address
        lifts its ``/64``); with neither, every count is forgotten.

        Returns:
            how many of those keys held attempts.
        """
        return self.counter.reset(reset_keys(username, client))

    async def areset(self, username: str | None = None, client: str | None = None) -> int:
        """Async twin of :meth:`reset`."""
        return await self.counter.areset(reset_keys(username, client))

    def locks(self) -> list[LockInfo]:
        """Every username and address with attempts in the window, locked or not."""
        return self.counter.locks()

    async def alocks(self) -> list[LockInfo]:
        """Async twin of :meth:`locks`."""
        return await self.counter.alocks()

    def close(self) -> None:
        """Close the counter's connections."""
        if self._counter is not None:
            self._counter.close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        if self._counter is not None:
            await self._counter.aclose()
