"""Cost of an authenticated request (session load + user load), per session store.

    .venv/bin/python -m benchmarks.auth [--rounds 9] [--number 2000]

One process, one event loop, direct ASGI calls (no server, no client), as in
``benchmarks/sessions.py``. For each store (cookie, memory, SQLite, Redis) three
variants wrap the same bare app, which reads one value and answers 200:

- session only: ``SessionAuth`` without backends, and a request carrying the cookie of
  an anonymous session (a CSRF token): the bare session middleware;
- + MemoryBackend: with ``backends=[MemoryBackend]`` and the cookie of a logged-in
  session; the middleware loads the user before the app runs (``scope["user"]``);
- + SQLiteBackend: the same with the user in a SQLite user table.

The authenticated variants also check the session hash (an HMAC) on every request.
Variants run one after the other, round after round, each keeping its fastest round.
Redis runs as a real redis-server started by this script on a free port of 127.0.0.1
and stopped at the end. Prints a Markdown table of µs per request and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import sqlite3
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from benchmarks import results
from benchmarks.sessions import receive, redis_server, scope_with, send
from reqsignals.auth import (
    Argon2Hasher,
    CookieStore,
    MemoryBackend,
    MemoryStore,
    RedisStore,
    SessionAuth,
    SQLiteBackend,
    SQLiteStore,
    alogin,
)
from reqsignals.auth.stores.base import SessionStore

SECRET = "benchmark-secret-key"
X = "\u00d7"  # the multiplication sign of the ratios
CHEAP = Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1)  # setup only
VARIANTS = ["session only", "+ MemoryBackend", "+ SQLiteBackend"]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if not scope["user"].is_authenticated:
        raise AssertionError("the user did not load")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def app_without_user(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["reqsignals.session"].get("csrf") is None:
        raise AssertionError("the session did not load")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def cookie_after(wrapped: Any, step: Any) -> bytes:
    """Run one request doing *step(scope)*; return the Cookie header for the next ones."""
    got: list[bytes] = []

    async def setup(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await step(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def keep(message: dict[str, Any]) -> None:
        for name, value in message.get("headers", ()):
            if name == b"set-cookie":
                got.append(value.split(b";")[0])

    scope = {"type": "http", "scheme": "http", "method": "POST", "path": "/", "headers": []}
    await wrapped(setup)(scope, receive, keep)
    return got[0]


async def timer(wrapped: Any, number: int, cookie: bytes) -> float:
    start = time.perf_counter()
    for _ in range(number):
        await wrapped(scope_with(cookie), receive, send)
    return (time.perf_counter() - start) / number * 1e6


async def prepare(
    store: SessionStore, memory: MemoryBackend, sqlite: SQLiteBackend
) -> dict[str, tuple[Any, bytes]]:
    """variant -> (the wrapped app, the cookie its requests carry)."""
    out: dict[str, tuple[Any, bytes]] = {}

    async def anonymous(scope: dict[str, Any]) -> None:
        scope["reqsignals.session"]["csrf"] = "9f86d081884c7d659a2feaa0c55ad015"

    bare = SessionAuth(SECRET, store)
    out["session only"] = (bare.wrap(app_without_user), await cookie_after(bare.wrap, anonymous))
    for name, backend in (("+ MemoryBackend", memory), ("+ SQLiteBackend", sqlite)):
        auth = SessionAuth(SECRET, store, backends=[backend])

        async def log_in(scope: dict[str, Any], backend: Any = backend) -> None:
            user = await backend.aauthenticate(scope, username="ada", password="benchmark-pw")
            await alogin(scope, user)

        out[name] = (auth.wrap(app), await cookie_after(auth.wrap, log_in))
    return out


async def measure(
    stores: dict[str, SessionStore], memory: MemoryBackend, sqlite: SQLiteBackend, args: Any
) -> dict[tuple[str, str], float]:
    plans = {name: await prepare(store, memory, sqlite) for name, store in stores.items()}
    best: dict[tuple[str, str], float] = {}
    for _ in range(args.rounds):
        for store_name, plan in plans.items():
            for variant, (wrapped, cookie) in plan.items():
                gc.collect()
                t = await timer(wrapped, args.number, cookie)
                key = (store_name, variant)
                best[key] = min(best.get(key, float("inf")), t)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--json", help="also write the results here, for benchmarks.report")
    args = parser.parse_args()

    with redis_server() as redis_url, tempfile.TemporaryDirectory() as tmp:
        memory = MemoryBackend(hasher=CHEAP)
        memory.create_user("ada", "benchmark-pw")
        users = SQLiteBackend(Path(tmp) / "users.db", hasher=CHEAP)
        users.create_user("ada", "benchmark-pw")
        sqlite = SQLiteStore(Path(tmp) / "sessions.db")
        redis = RedisStore(redis_url)
        stores: dict[str, SessionStore] = {
            "CookieStore": CookieStore(),
            "MemoryStore": MemoryStore(),
            "SQLiteStore": sqlite,
            "RedisStore": redis,
        }

        async def run() -> dict[tuple[str, str], float]:
            try:
                return await measure(stores, memory, users, args)
            finally:
                await redis.aclose()
                await sqlite.aclose()

        best = asyncio.run(run())
        users.close()

    print(
        f"Machine: Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.machine()}, redis-py {version('redis')}, SQLite {sqlite3.sqlite_version}\n"
    )
    print(f"µs per request, {args.rounds} rounds of {args.number}, fastest round kept.\n")
    print(
        "| store | session only | + MemoryBackend | + SQLiteBackend "
        "| Memory / session | SQLite / session |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    rows = []
    for store_name in stores:
        base, mem, sql = (best[store_name, v] for v in VARIANTS)
        print(
            f"| {store_name} | {base:.1f} | {mem:.1f} | {sql:.1f} "
            f"| {mem / base:.2f}{X} | {sql / base:.2f}{X} |"
        )
        rows.append(
            {
                "store": store_name,
                "session_only_us": base,
                "memory_backend_us": mem,
                "sqlite_backend_us": sql,
            }
        )
    sys.stdout.flush()
    results.write(
        args.json,
        "Authenticated requests",
        rows,
        notes=[
            "An authenticated request loads the session, then the user from the backend "
            "(the ASGI session middleware does it before the app runs, for request.user). "
            "The SQLite backend is queried in a worker thread so the event loop never waits "
            "on the database file."
        ],
        rounds=args.rounds,
        number=args.number,
    )


if __name__ == "__main__":
    main()
