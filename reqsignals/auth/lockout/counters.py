"""Where failed logins are counted: the interface, and the in-memory counter.

A counter keeps, for each thing counted (a username, a client address), the attempts
made within the window. An attempt is recorded *before* the backends run, in one
atomic step that first checks every count against its limit: so however many attempts
arrive at once, in however many threads, processes or machines, no more than the limit
ever reach a backend. The attempt then stays counted as a failure, unless it succeeds,
which clears the username's count and takes the attempt off the address's, or its
backend raised, which takes it off every count (``succeed`` with nothing to clear).

:class:`MemoryCounter` serves one process; :class:`~.sqlite.SQLiteCounter` the processes
of one machine; :class:`~.redis.RedisCounter` many machines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

__all__ = ["Count", "FailureCounter", "LockInfo", "MemoryCounter"]


@dataclass(frozen=True)
class Count:
    """One thing an attempt is counted against.

    Attributes:
        key: where it is counted: ``"username:<digest>"`` or ``"client:<address>"``.
        kind: ``"username"`` or ``"client"`` (the ``reason`` of a lock).
        label: what an admin is shown: the username (shortened) or the address.
        limit: attempts within the window that lock it.
    """

    key: str
    kind: str
    label: str
    limit: int


@dataclass(frozen=True)
class LockInfo:
    """What a counter holds for one username or address (for listings and the CLI).

    Attributes:
        key: the counter's key (give it to ``reset``).
        kind: ``"username"`` or ``"client"``.
        label: the username (shortened) or the address.
        failures: attempts counted within the window.
        limit: the limit in force when the last attempt was counted.
        retry_after: seconds until logins are allowed again; ``0.0`` when not locked.
    """

    key: str
    kind: str
    label: str
    failures: int
    limit: int
    retry_after: float

    @property
    def locked(self) -> bool:
        """Whether logins are refused now."""
        return self.failures >= self.limit


#: ``(index of the Count that is locked, seconds until it lifts)``.
Refusal = tuple[int, float]


class FailureCounter:
    """The interface of a failed-login counter. Subclass it to count somewhere else.

    Every method that changes counts is atomic: it must be one transaction, one script,
    or run under one lock, as seen from every process that shares the counter.

    Raises:
        LockoutUnavailable: from any method when the backing service is down.
    """

    def begin(self, counts: Sequence[Count], token: str, window: float) -> Refusal | None:
        """Record attempt *token* against every count, unless one is locked already.

        Returns:
            ``None`` when the attempt was recorded; else the first locked count's index
            and the seconds until it lifts (nothing recorded).
        """
        raise NotImplementedError

    def fail(self, counts: Sequence[Count], token: str, window: float) -> list[Refusal]:
        """Attempt *token* failed (it stays counted): return the counts whose lock
        engaged with it, each reported by exactly one failing attempt per lock."""
        raise NotImplementedError

    def succeed(self, clear: Collection[str], release: Collection[str], token: str) -> None:
        """Attempt *token* succeeded: forget every attempt on the keys in *clear*, and
        this attempt only on the keys in *release*."""
        raise NotImplementedError

    def reset(self, keys: Collection[str] | None = None) -> int:
        """Forget the attempts on *keys* (every key when ``None``); return how many
        keys held attempts."""
        raise NotImplementedError

    def locks(self) -> list[LockInfo]:
        """Every key with attempts within its window, locked or not."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; the counter reconnects if used again."""

    async def abegin(self, counts: Sequence[Count], token: str, window: float) -> Refusal | None:
        """Async twin of :meth:`begin`."""
        return self.begin(counts, token, window)

    async def afail(self, counts: Sequence[Count], token: str, window: float) -> list[Refusal]:
        """Async twin of :meth:`fail`."""
        return self.fail(counts, token, window)

    async def asucceed(self, clear: Collection[str], release: Collection[str], token: str) -> None:
        """Async twin of :meth:`succeed`."""
        self.succeed(clear, release, token)

    async def areset(self, keys: Collection[str] | None = None) -> int:
        """Async twin of :meth:`reset`."""
        return self.reset(keys)

    async def alocks(self) -> list[LockInfo]:
        """Async twin of :meth:`locks`."""
        return self.locks()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        self.close()


class _Key:
    __slots__ = ("announced", "attempts", "kind", "label", "limit", "window")

    def __init__(self, count: Count, window: float) -> None:
        self.attempts: list[tuple[float, str]] = []  # (time, token), oldest first
        self.announced: str | None = None
        self.kind, self.label, self.limit, self.window = (
            count.kind,
            count.label,
            count.limit,
            window,
        )

    def live(self, now: float) -> list[tuple[float, str]]:
        attempts = self.attempts
        cutoff = now - self.window
        drop = 0
        while drop < len(attempts) and attempts[drop][0] <= cutoff:
            drop += 1
        if drop:
            del attempts[:drop]
        return attempts

    def lifts_in(self, now: float) -> float:
        # Locked until enough attempts age out to leave fewer than the limit.
        attempts = self.attempts
        return attempts[len(attempts) - self.limit][0] + self.window - now


class MemoryCounter(FailureCounter):
    """Counts in this process's memory, under a lock: for one process (and tests).

    Time is ``time.monotonic()``: setting the system clock neither lifts a lock early
    nor extends it. Keys whose attempts all aged out are swept once the table has
    doubled since the last sweep, so a spray of made-up usernames cannot grow it
    without bound.

    Args:
        clock: the clock, in seconds (``time.monotonic``).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, _Key] = {}
        self._sweep_at = 1024

    def __repr__(self) -> str:
        return f"<MemoryCounter {len(self._keys)} keys>"

    def begin(self, counts: Sequence[Count], token: str, window: float) -> Refusal | None:
        now = self.clock()
        with self._lock:
            for index, count in enumerate(counts):
                key = self._keys.get(count.key)
                if key is not None:
                    key.window, key.limit = window, count.limit
                    if len(key.live(now)) >= count.limit:
                        return index, key.lifts_in(now)
            for count in counts:
                key = self._keys.get(count.key)
                if key is None:
                    key = self._keys[count.key] = _Key(count, window)
                key.attempts.append((now, token))
            self._sweep(now)
        return None

    def fail(self, counts: Sequence[Count], token: str, window: float) -> list[Refusal]:
        now = self.clock()
        engaged = []
        with self._lock:
            for index, count in enumerate(counts):
                key = self._keys.get(count.key)
                if key is None:
                    continue
                attempts = key.live(now)
                if len(attempts) >= key.limit:
                    lock = attempts[len(attempts) - key.limit][1]
                    if key.announced != lock:
                        key.announced = lock
                        engaged.append((index, key.lifts_in(now)))
        return engaged

    def succeed(self, clear: Collection[str], release: Collection[str], token: str) -> None:
        with self._lock:
            for name in clear:
                self._keys.pop(name, None)
            for name in release:
                key = self._keys.get(name)
                if key is not None:
                    key.attempts = [a for a in key.attempts if a[1] != token]

    def reset(self, keys: Collection[str] | None = None) -> int:
        now = self.clock()
        with self._lock:
            names = list(self._keys) if keys is None else [k for k in keys if k in self._keys]
            held = sum(1 for name in names if self._keys[name].live(now))
            for name in names:
                del self._keys[name]
        return held

    def locks(self) -> list[LockInfo]:
        now = self.clock()
        found = []
        with self._lock:
            for name, key in self._keys.items():
                attempts = key.live(now)
                if attempts:
                    locked = len(attempts) >= key.limit
                    found.append(
                        LockInfo(
                            name,
                            key.kind,
                            key.label,
                            len(attempts),
                            key.limit,
                            key.lifts_in(now) if locked else 0.0,
                        )
                    )
        return found

    def _sweep(self, now: float) -> None:
        if len(self._keys) < self._sweep_at:
            return
        for name in [n for n, key in self._keys.items() if not key.live(now)]:
            del self._keys[name]
        self._sweep_at = max(1024, 2 * len(self._keys))
