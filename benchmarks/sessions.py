"""Session middleware cost: reqsignals' four stores vs Starlette's SessionMiddleware.

    python -m benchmarks.sessions [--rounds 9] [--number 2000] [--json PATH]

One process, one event loop, direct ASGI calls (no server, no client). Each variant
wraps the same bare ASGI app; a request carries the cookie of an existing session
(a user id and a CSRF token). Two requests are timed:

- read: the app reads one key;
- write: the app sets one key (and the middleware writes it back).

The server-side stores also run "logged in": the session holds a user id and the record
``login()`` writes, so each write keeps the per-user index too (sessions per user); the
table shows what that adds. The "last seen" check a request makes when it loads the
user is timed on its own (it writes at most once per ``last_seen_interval``).

Variants run one after the other, round after round, each keeping its fastest round.
Redis runs as a real redis-server started by this script on a free port of 127.0.0.1
and stopped at the end. Prints a Markdown table of µs per request and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

from starlette.middleware.sessions import SessionMiddleware as StarletteSessions

from benchmarks import results
from reqsignals.auth import CookieStore, MemoryStore, RedisStore, SessionAuth, SQLiteStore
from reqsignals.auth.stores.base import SessionStore

SECRET = "benchmark-secret-key"
X = "\u00d7"  # the multiplication sign of the ratios
DATA = {"user": 42, "csrf": "9f86d081884c7d659a2feaa0c55ad015"}
LOGGED_IN = {
    **DATA,
    "_auth_user_id": 42,
    "_auth_session": {"id": "x" * 22, "created": 1.0e9, "client": "127.0.0.1", "ua": "bench"},
    "_auth_last_seen": 2.0e9,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def make_app(write: bool) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        session = scope["session"]
        if write:
            session["n"] = 1
        elif session["user"] != 42:
            raise AssertionError("the session did not load")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def send(message: dict[str, Any]) -> None:
    pass


def scope_with(cookie: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/",
        "scheme": "http",
        "headers": [(b"host", b"bench"), (b"cookie", cookie)],
    }


async def cookie_from(app: Any, data: dict[str, Any]) -> bytes:
    """Run one request that stores *data*; return the Cookie header for the next ones."""
    got: list[bytes] = []

    async def setup(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["session"].update(data)
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def capture(message: dict[str, Any]) -> None:
        for name, value in message.get("headers", ()):
            if name == b"set-cookie":
                got.append(value.split(b";")[0])

    setup_scope = {"type": "http", "method": "GET", "path": "/", "scheme": "http", "headers": []}
    await app(setup)(setup_scope, receive, capture)
    return got[0]


def ours(store: SessionStore) -> Callable[[Any], Any]:
    auth = SessionAuth(SECRET, store)
    return auth.wrap


def starlette(app: Any) -> Any:
    return StarletteSessions(app, secret_key=SECRET)


def bare(app: Any) -> Any:
    async def with_dict_session(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["session"] = dict(DATA)
        await app(scope, receive, send)

    return with_dict_session


async def timer(wrap: Callable[[Any], Any], write: bool, number: int, cookie: bytes) -> float:
    app = wrap(make_app(write))
    start = time.perf_counter()
    for _ in range(number):
        await app(scope_with(cookie), receive, send)
    return (time.perf_counter() - start) / number * 1e6


async def measure(
    wraps: dict[str, Callable[[Any], Any]], rounds: int, number: int
) -> dict[tuple[str, str], float]:
    cookies = {
        name: await cookie_from(wrap, LOGGED_IN if "logged in" in name else DATA)
        for name, wrap in wraps.items()
        if name != "bare app"
    }
    cookies["bare app"] = b"none=1"
    best: dict[tuple[str, str], float] = {}
    for _ in range(rounds):
        for kind in ("read", "write"):
            for name, wrap in wraps.items():
                gc.collect()
                t = await timer(wrap, kind == "write", number, cookies[name])
                best[name, kind] = min(best.get((name, kind), float("inf")), t)
    return best


def time_touch(number: int = 200_000) -> float:
    """µs for the "last seen" check of a request within the interval (no write)."""
    from reqsignals.auth._tracking import touch

    session = {"_auth_last_seen": time.time()}
    start = time.perf_counter()
    for _ in range(number):
        touch(session, 300.0)
    return (time.perf_counter() - start) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args()

    with redis_server() as redis_url, tempfile.TemporaryDirectory() as tmp:
        sqlite = SQLiteStore(Path(tmp) / "bench.db")
        redis = RedisStore(redis_url)
        wraps: dict[str, Callable[[Any], Any]] = {
            "bare app": bare,
            "Starlette SessionMiddleware": starlette,
            "reqsignals CookieStore": ours(CookieStore()),
            "reqsignals MemoryStore": ours(MemoryStore()),
            "reqsignals SQLiteStore": ours(sqlite),
            "reqsignals RedisStore": ours(redis),
            "reqsignals MemoryStore, logged in": ours(MemoryStore()),
            "reqsignals SQLiteStore, logged in": ours(sqlite),
            "reqsignals RedisStore, logged in": ours(redis),
        }

        async def run() -> dict[tuple[str, str], float]:
            try:
                return await measure(wraps, args.rounds, args.number)
            finally:
                await redis.aclose()
                await sqlite.aclose()

        best = asyncio.run(run())

    print(
        f"Machine: Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.machine()}, Starlette {version('starlette')}, "
        f"itsdangerous {version('itsdangerous')}, redis-py {version('redis')}, "
        f"SQLite {__import__('sqlite3').sqlite_version}\n"
    )
    print(f"µs per request, {args.rounds} rounds of {args.number}, fastest round kept.\n")
    print("| middleware | read | write | read / Starlette | write / Starlette |")
    print("|---|---:|---:|---:|---:|")
    ref_r, ref_w = (
        best["Starlette SessionMiddleware", "read"],
        best["Starlette SessionMiddleware", "write"],
    )
    for name in wraps:
        r, w = best[name, "read"], best[name, "write"]
        print(f"| {name} | {r:.1f} | {w:.1f} | {r / ref_r:.2f}{X} | {w / ref_w:.2f}{X} |")
    print("\nWhat a logged-in session adds (the per-user index; µs per request):\n")
    print("| store | read | write |")
    print("|---|---:|---:|")
    for store in ("MemoryStore", "SQLiteStore", "RedisStore"):
        plain, user = f"reqsignals {store}", f"reqsignals {store}, logged in"
        dr = best[user, "read"] - best[plain, "read"]
        dw = best[user, "write"] - best[plain, "write"]
        print(f"| {store} | {dr:+.1f} | {dw:+.1f} |")
    touch_us = time_touch()
    print(f"\nThe last-seen check on a request that loads the user: {touch_us:.2f} µs.")
    worst = max(
        best["reqsignals CookieStore", k] / best["Starlette SessionMiddleware", k]
        for k in ("read", "write")
    )
    verdict = "met" if worst <= 1.5 else "NOT met"
    print(
        f"\nTarget: CookieStore within 1.5{X} of Starlette's SessionMiddleware: "
        f"{verdict} ({worst:.2f}{X})."
    )
    sys.stdout.flush()
    results.write(
        args.json,
        "Session middleware",
        [
            {
                "middleware": name,
                "read_us": best[name, "read"],
                "write_us": best[name, "write"],
                "read_vs_starlette": best[name, "read"] / ref_r,
                "write_vs_starlette": best[name, "write"] / ref_w,
            }
            for name in wraps
        ],
        [
            results.target(
                f"sessions.cookie.{kind}",
                f"CookieStore {kind} vs Starlette SessionMiddleware",
                best["reqsignals CookieStore", kind] / best["Starlette SessionMiddleware", kind],
                1.5,
                unit="x",
            )
            for kind in ("read", "write")
        ],
        rounds=args.rounds,
        number=args.number,
        sqlite=__import__("sqlite3").sqlite_version,
        last_seen_check_us=touch_us,
    )


if __name__ == "__main__":
    main()
