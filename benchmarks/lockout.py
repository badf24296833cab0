"""The brute-force lock-out's cost: what its check adds to a login, and that requests
that do not log in pay nothing. Run through ``benchmarks.auth``::

    .venv/bin/python -m benchmarks.auth --part lockout [--rounds 9] [--number 2000]
    .venv/bin/python -m benchmarks.auth --part instructions

- What the check adds to a login: a failed ``aauthenticate`` (and a sync
  ``authenticate``) against a backend that does no hashing, so only the flow and the
  lock-out are timed, without and with ``Lockout()`` counting in memory, beside a
  SQLite session file, and in Redis. Each attempt names another user from another
  address (a first failure for both: the common case), so no lock engages.
- What it adds to requests that do not log in: the bare session middleware's request,
  without and with ``lockout=`` (it should be nothing: the middleware never touches the
  counter).

On a loaded machine those timings move by tens of percent; ``--part instructions``
counts instructions instead, with valgrind's callgrind (deterministic to a fraction of a
percent): each variant runs in a child process twice, 100 and 600 times, and the
difference is divided by 500, so start-up and setup cancel out. A sync failed login and
a WSGI request of the session middleware; only this process's instructions are counted
(not the kernel's, not Redis's), so these rank costs but do not convert to time.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import results
from benchmarks.auth import SECRET, X, app_without_user, cookie_after, timer
from benchmarks.sessions import redis_server
from reqsignals._keys import AUTH_KEY
from reqsignals.auth import (
    Lockout,
    MemoryStore,
    RedisStore,
    SessionAuth,
    SQLiteStore,
    aauthenticate,
    authenticate,
)
from reqsignals.auth.stores.base import SessionStore

# -- the lock-out ----------------------------------------------------------------------------


class NoHashBackend:
    """Refuses everyone at once: the login's cost is then the flow and the lock-out."""

    async def authenticate(self, request: Any, *, username: str, password: str) -> None:
        return None

    def get_user(self, user_id: Any) -> None:
        return None


class SyncNoHashBackend:
    """The same for the sync flow."""

    def authenticate(self, request: Any, *, username: str, password: str) -> None:
        return None

    def get_user(self, user_id: Any) -> None:
        return None


def _address(n: int) -> str:
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


async def time_logins(auth: SessionAuth, number: int, start: int) -> float:
    """µs per failed aauthenticate, each for a new username from a new address."""
    scope: dict[str, Any] = {"type": "http", "headers": [], AUTH_KEY: auth}
    begin = time.perf_counter()
    for n in range(start, start + number):
        scope["client"] = (_address(n), 4000)
        await aauthenticate(scope, username=f"user{n}", password="wrong")
    return (time.perf_counter() - begin) / number * 1e6


def time_sync_logins(auth: SessionAuth, number: int, start: int) -> float:
    """µs per failed sync authenticate, each for a new username from a new address."""
    environ: dict[str, Any] = {AUTH_KEY: auth}
    begin = time.perf_counter()
    for n in range(start, start + number):
        environ["REMOTE_ADDR"] = _address(n)
        authenticate(environ, username=f"user{n}", password="wrong")
    return (time.perf_counter() - begin) / number * 1e6


LOCKOUT_STORES = ["none", "MemoryStore", "SQLiteStore", "RedisStore"]


async def measure_lockout(
    stores: dict[str, SessionStore], args: Any
) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], float]]:
    """({(store, "async"|"sync"): µs per login}, {(store, "without"|"with"): µs per
    request that does not log in})."""
    logins: dict[str, tuple[SessionAuth, SessionAuth]] = {}
    for name in LOCKOUT_STORES:
        store = stores["MemoryStore" if name == "none" else name]
        lockout = None if name == "none" else Lockout(max_failures=5)
        logins[name] = (
            SessionAuth(SECRET, store, backends=[NoHashBackend()], lockout=lockout),
            SessionAuth(SECRET, store, backends=[SyncNoHashBackend()], lockout=lockout),
        )
    requests: dict[tuple[str, str], tuple[Any, bytes]] = {}

    async def anonymous(scope: dict[str, Any]) -> None:
        scope["reqsignals.session"]["csrf"] = "9f86d081884c7d659a2feaa0c55ad015"

    for name in LOCKOUT_STORES[1:]:
        for variant, lockout in (("without", None), ("with", Lockout())):
            auth = SessionAuth(SECRET, stores[name], lockout=lockout)
            cookie = await cookie_after(auth.wrap, anonymous)
            requests[name, variant] = (auth.wrap(app_without_user), cookie)

    best_login: dict[tuple[str, str], float] = {}
    best_request: dict[tuple[str, str], float] = {}
    attempt = 0
    for _ in range(args.rounds):
        for name, (async_auth, sync_auth) in logins.items():
            gc.collect()
            t = await time_logins(async_auth, args.number, attempt)
            best_login[name, "async"] = min(best_login.get((name, "async"), float("inf")), t)
            t = await asyncio.to_thread(time_sync_logins, sync_auth, args.number, attempt)
            best_login[name, "sync"] = min(best_login.get((name, "sync"), float("inf")), t)
            attempt += args.number
        for key, (wrapped, cookie) in requests.items():
            gc.collect()
            t = await timer(wrapped, args.number, cookie)
            best_request[key] = min(best_request.get(key, float("inf")), t)
    for async_auth, _ in logins.values():
        if async_auth.lockout is not None:
            await async_auth.lockout.areset()
            await async_auth.lockout.aclose()
    return best_login, best_request


def print_lockout(
    best_login: dict[tuple[str, str], float], best_request: dict[tuple[str, str], float]
) -> list[dict[str, Any]]:
    print("\n### The lock-out's check, per failed login (µs; no hashing)\n")
    print("| lock-out counter | aauthenticate | added | authenticate (sync) | added |")
    print("|---|---:|---:|---:|---:|")
    rows = []
    base_async, base_sync = best_login["none", "async"], best_login["none", "sync"]
    for name in LOCKOUT_STORES:
        a, s = best_login[name, "async"], best_login[name, "sync"]
        shown = "no lock-out" if name == "none" else f"beside {name}"
        added_a = "" if name == "none" else f"+{a - base_async:.1f}"
        added_s = "" if name == "none" else f"+{s - base_sync:.1f}"
        print(f"| {shown} | {a:.1f} | {added_a} | {s:.1f} | {added_s} |")
        rows.append({"counter": name, "async_login_us": a, "sync_login_us": s})
    print("\n### Requests that do not log in (µs per request, session middleware)\n")
    print("| store | without lock-out | with lock-out | ratio |")
    print("|---|---:|---:|---:|")
    for name in LOCKOUT_STORES[1:]:
        without, with_ = best_request[name, "without"], best_request[name, "with"]
        print(f"| {name} | {without:.1f} | {with_:.1f} | {with_ / without:.3f}{X} |")
        rows.append({"counter": name, "request_without_us": without, "request_with_us": with_})
    return rows


# -- the lock-out in instructions (callgrind) -------------------------------------------------

#: What one child process does N times under callgrind: a failed sync login, or a
#: request of the bare session middleware, without and with the lock-out.
INSTRUCTION_VARIANTS = [
    ("login", "none"),
    ("login", "MemoryStore"),
    ("login", "SQLiteStore"),
    ("login", "RedisStore"),
    ("request", "without"),
    ("request", "with"),
]


def _child(what: str, name: str, number: int, redis_url: str, tmp: str) -> None:
    """The measured loop of one callgrind run (``--child``); setup is counted too, and
    cancels out between the two runs of different lengths."""
    stores: dict[str, SessionStore] = {
        "none": MemoryStore(),
        "MemoryStore": MemoryStore(),
        "SQLiteStore": SQLiteStore(Path(tmp) / "sessions.db"),
        "RedisStore": RedisStore(redis_url, prefix=f"bench:{number}:"),
    }
    if what == "login":
        lockout = None if name == "none" else Lockout()
        auth = SessionAuth(SECRET, stores[name], backends=[SyncNoHashBackend()], lockout=lockout)
        time_sync_logins(auth, number, 0)
        auth.close()
        return
    auth = SessionAuth(SECRET, MemoryStore(), lockout=Lockout() if name == "with" else None)

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"ok"]

    wrapped = auth.wrap(wsgi_app)
    for _ in range(number):
        for _chunk in wrapped({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda *a: None):
            pass


def _instructions(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as out:
        path = Path(out) / "callgrind.out"
        subprocess.run(
            ["valgrind", "-q", "--tool=callgrind", f"--callgrind-out-file={path}", *argv],
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        for line in path.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("callgrind wrote no summary")


def measure_instructions(
    redis_url: str, tmp: str, short: int, long: int
) -> dict[tuple[str, str], float]:
    """Instructions per login (or request): two runs of different lengths, subtracted."""
    found = {}
    for what, name in INSTRUCTION_VARIANTS:
        counts = [
            _instructions(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.auth",
                    "--child",
                    what,
                    name,
                    str(n),
                    redis_url,
                    str(Path(tmp) / f"{what}-{name}-{n}"),
                ]
            )
            for n in (short, long)
        ]
        found[what, name] = (counts[1] - counts[0]) / (long - short)
    return found


def print_instructions(found: dict[tuple[str, str], float]) -> list[dict[str, Any]]:
    print("\n### The lock-out in instructions (callgrind, this process only)\n")
    print("| | instructions | added |")
    print("|---|---:|---:|")
    rows = []
    base = found["login", "none"]
    for name in LOCKOUT_STORES:
        n = found["login", name]
        label = "failed login, no lock-out" if name == "none" else f"failed login, beside {name}"
        print(f"| {label} | {n:,.0f} | {'' if name == 'none' else f'+{n - base:,.0f}'} |")
        rows.append({"variant": f"login {name}", "instructions": n})
    without, with_ = found["request", "without"], found["request", "with"]
    print(f"| request that does not log in, no lock-out | {without:,.0f} | |")
    print(
        f"| request that does not log in, with lock-out | {with_:,.0f} | {with_ - without:+,.0f} |"
    )
    rows += [
        {"variant": "request without", "instructions": without},
        {"variant": "request with", "instructions": with_},
    ]
    return rows


def run(args: Any, *, write_json: bool = True) -> None:
    """``benchmarks.auth --part lockout|instructions``: measure, print, write the JSON."""
    with redis_server() as redis_url, tempfile.TemporaryDirectory() as tmp:
        if args.part == "instructions":
            if shutil.which("valgrind") is None:
                sys.exit("valgrind is not on the PATH: apt-get install valgrind")
            rows = print_instructions(measure_instructions(redis_url, tmp, 100, 600))
            title = "Lock-out instructions"
        else:
            sqlite = SQLiteStore(Path(tmp) / "sessions.db")
            redis = RedisStore(redis_url)
            stores: dict[str, SessionStore] = {
                "MemoryStore": MemoryStore(),
                "SQLiteStore": sqlite,
                "RedisStore": redis,
            }

            async def go() -> Any:
                try:
                    return await measure_lockout(stores, args)
                finally:
                    await redis.aclose()
                    await sqlite.aclose()

            print(
                f"\nµs per login or request, {args.rounds} rounds of {args.number}, fastest kept."
            )
            rows = print_lockout(*asyncio.run(go()))
            title = "Lock-out"
    sys.stdout.flush()
    if write_json:
        results.write(args.json, title, rows, rounds=args.rounds, number=args.number)


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:
    _what, _name, _number, _redis_url, _tmp = sys.argv[2:7]
    Path(_tmp).mkdir(parents=True, exist_ok=True)
    _child(_what, _name, int(_number), _redis_url, _tmp)
