"""Brute-force lock-out: refuse logins for a username, or from a client address, after
too many failed attempts within a time window.

Built on the auth signals: ``user_login_failed`` records a failure against the
attempted username and against the client's address; ``user_logged_in`` clears the
username's failures. The login view asks :meth:`LoginLockout.check` before it
authenticates::

    lockout = LoginLockout(max_failures=5, window=15 * 60)
    lockout.connect()  # keep `lockout` referenced: receivers are weak

    async def login_view(request):
        form = await request.form()
        try:
            lockout.check(request, form["username"])
        except LockedOut as locked:
            return PlainTextResponse(str(locked), status_code=429,
                                     headers={"Retry-After": str(locked.retry_after)})
        user = await aauthenticate(request, username=form["username"], password=form["password"])
        ...

A locked-out attempt is refused before any password is checked, so it costs no hashing
and records no new failure; the lock lifts as soon as fewer than ``max_failures``
failures remain within the window (a sliding window, not a fixed one).

A success clears the username's failures but not the address's: otherwise an attacker
with an account of their own could log into it between guesses at other accounts and
never be locked out. The counts live in this process's memory: with several worker
processes or machines, keep them in a shared store such as Redis instead. Per-address
limits need the real client address: see :func:`.request_info.client_ip` about proxies.
"""

from __future__ import annotations

import math
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reqsignals import user_logged_in, user_login_failed
from reqsignals.types import UserLoggedInArgs, UserLoginFailedArgs

from .request_info import client_ip

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack on Python 3.11+


class LockedOut(Exception):
    """Raised by :meth:`LoginLockout.check` while logins are refused.

    Attributes:
        reason: ``"username"`` or ``"ip"``: what is locked out.
        retry_after: whole seconds until the next attempt is allowed.
    """

    def __init__(self, reason: str, retry_after: int) -> None:
        what = "this account" if reason == "username" else "your address"
        super().__init__(f"Too many failed logins for {what}. Try again in {retry_after} seconds.")
        self.reason = reason
        self.retry_after = retry_after


class LoginLockout:
    """Counts failed logins per username and per client address in a sliding window.

    Args:
        max_failures: failures within *window* after which logins are refused.
        window: the window, in seconds.
        username_field: the credential that names the account.
        clock: returns the time in seconds; ``time.monotonic`` by default, a fake in tests.

    Thread-safe: the receivers and :meth:`check` may run in many threads at once.
    """

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window: float = 15 * 60,
        username_field: str = "username",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_failures < 1 or window <= 0:
            raise ValueError("max_failures must be at least 1 and window positive")
        self.max_failures = max_failures
        self.window = window
        self.username_field = username_field
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._sweep_at = 1024  # table size that triggers the next sweep of idle keys

    # -- the view's side ----------------------------------------------------------

    def check(self, request: Any, username: str) -> None:
        """Raise :class:`LockedOut` if logins for *username* or from this client are refused.

        Call it before ``authenticate``; it records nothing itself.
        """
        now = self.clock()
        with self._lock:
            for key in self._keys(request, username):
                stamps = self._live(key, now)
                if len(stamps) >= self.max_failures:
                    # Allowed again once enough of the counted failures have aged out.
                    unlock_at = stamps[-self.max_failures] + self.window
                    raise LockedOut(key[0], max(1, math.ceil(unlock_at - now)))

    def failures(self, request: Any, username: str) -> dict[str, int]:
        """The failures counted now for *username* and for this client, by reason."""
        now = self.clock()
        with self._lock:
            return {key[0]: len(self._live(key, now)) for key in self._keys(request, username)}

    def __len__(self) -> int:
        """How many usernames and addresses have failures on record (expired ones included
        until the next sweep)."""
        with self._lock:
            return len(self._failures)

    def reset(self) -> None:
        """Forget every failure."""
        with self._lock:
            self._failures.clear()

    # -- the receivers ------------------------------------------------------------

    def login_failed(self, sender: object, **kwargs: Unpack[UserLoginFailedArgs]) -> None:
        """The ``user_login_failed`` receiver: count a failure for the name and the address."""
        username = kwargs["credentials"].get(self.username_field)
        request = kwargs["request"]
        now = self.clock()
        with self._lock:
            for key in self._keys(request, username if isinstance(username, str) else None):
                self._live(key, now)  # drops the failures that aged out
                self._failures.setdefault(key, deque()).append(now)
            self._forget_idle(now)

    def logged_in(self, sender: object, **kwargs: Unpack[UserLoggedInArgs]) -> None:
        """The ``user_logged_in`` receiver: the account's failures are forgiven."""
        username = getattr(kwargs["user"], self.username_field, None)
        if isinstance(username, str):
            with self._lock:
                self._failures.pop(("username", _normal(username)), None)

    def connect(self) -> None:
        """Connect the receivers (held weakly: keep this object referenced)."""
        user_login_failed.connect(self.login_failed)
        user_logged_in.connect(self.logged_in)

    def disconnect(self) -> None:
        """Disconnect the receivers."""
        user_login_failed.disconnect(self.login_failed)
        user_logged_in.disconnect(self.logged_in)

    # -- bookkeeping (callers hold the lock) -----------------------------------------

    def _keys(self, request: Any, username: str | None) -> list[tuple[str, str]]:
        keys = []
        if username:
            keys.append(("username", _normal(username)))
        ip = client_ip(request)
        if ip:
            keys.append(("ip", ip))
        return keys

    def _live(self, key: tuple[str, str], now: float) -> deque[float]:
        """The failures of *key* within the window, older ones dropped."""
        stamps = self._failures.get(key)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        return stamps

    def _forget_idle(self, now: float) -> None:
        # Keys whose failures all aged out would otherwise pile up under a spray of
        # made-up usernames: sweep them whenever the table has doubled since last time.
        if len(self._failures) < self._sweep_at:
            return
        cutoff = now - self.window
        for key in [k for k, stamps in self._failures.items() if stamps[-1] <= cutoff]:
            del self._failures[key]
        self._sweep_at = max(1024, 2 * len(self._failures))


def _normal(username: str) -> str:
    # "Ada", "ADA" and the full-width form of "Ada" count against one account.
    return unicodedata.normalize("NFKC", username).casefold()
