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
Then the CSRF check: the same session-only app on a MemoryStore with ``csrf=False``
and with the check on, for a GET and for POSTs that pass each rule (and the token
mode), printed as µs added and a ratio; and a POST to the bare app and to the signals
middleware alone, which have no session middleware and so no check.
Variants run one after the other, round after round, each keeping its fastest round.
Redis runs as a real redis-server started by this script on a free port of 127.0.0.1
and stopped at the end. Prints a Markdown table of µs per request and the ratios.

Then the brute-force lock-out (``benchmarks/lockout.py``): what its check adds to a
failed login, per counter, and what it adds to requests that do not log in.
``--part sessions`` runs only the tables above, ``--part lockout`` only the lock-out's,
``--part instructions`` the lock-out's in callgrind instructions (needs valgrind).
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
import timeit
from importlib.metadata import version
from pathlib import Path
from typing import Any

from benchmarks import results
from benchmarks.sessions import receive, redis_server, scope_with, send
from reqsignals import wrap
from reqsignals.auth import (
    CSRF,
    Argon2Hasher,
    CookieStore,
    MemoryBackend,
    MemoryStore,
    RedisStore,
    SessionAuth,
    SQLiteBackend,
    SQLiteStore,
    alogin,
    csrf_token,
)
from reqsignals.auth.csrf import (
    SECRET_KEY,
    header_token_scope,
    mask_token,
    new_secret,
    session_token_matches,
)
from reqsignals.auth.stores.base import SessionStore

SECRET = "benchmark-secret-key-of-32-bytes-or-more"
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


# -- the CSRF check ---------------------------------------------------------------------

CSRF_VARIANTS = [
    ("GET", "GET, any headers (a safe method: one set lookup)"),
    ("POST sfs", "POST, Sec-Fetch-Site: same-origin (rule 1)"),
    ("POST origin", "POST, Origin only, own origin (rule 2)"),
    ("POST none", "POST, no browser headers (rule 3)"),
    ("POST token", "POST, require_token=True, X-CSRF-Token header"),
]


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def csrf_scope(variant: str, cookie: bytes, token: str) -> dict[str, Any]:
    headers = [(b"host", b"bench"), (b"cookie", cookie)]
    if variant == "POST sfs":
        headers.append((b"sec-fetch-site", b"same-origin"))
    elif variant == "POST origin":
        headers.append((b"origin", b"http://bench"))
    elif variant == "POST token":
        headers += [(b"sec-fetch-site", b"same-origin"), (b"x-csrf-token", token.encode())]
    method = "GET" if variant == "GET" else "POST"
    return {"type": "http", "method": method, "path": "/", "scheme": "http", "headers": headers}


async def csrf_timer(app: Any, number: int, scope: dict[str, Any]) -> float:
    start = time.perf_counter()
    for _ in range(number):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - start) / number * 1e6


async def measure_csrf(args: Any) -> dict[str, tuple[float, float]]:
    """variant -> (µs with the check off, µs with it on), on a MemoryStore session."""
    store = MemoryStore()
    token_box: list[str] = []

    async def with_token(scope: dict[str, Any]) -> None:
        token_box.append(csrf_token(scope))

    plans: dict[str, tuple[Any, Any, dict[str, Any]]] = {}
    off = SessionAuth(SECRET, store, csrf=False)
    cookie = await cookie_after(off.wrap, with_token)
    for variant, _ in CSRF_VARIANTS:
        on = SessionAuth(SECRET, store, csrf=CSRF(require_token=variant == "POST token"))
        scope = csrf_scope(variant, cookie, token_box[0])
        plans[variant] = (off.wrap(bare_app), on.wrap(bare_app), scope)
    # No session middleware at all: the bare app and the signals middleware alone.
    post = csrf_scope("POST sfs", cookie, "")
    plans["no session middleware"] = (bare_app, wrap(bare_app, interface="asgi"), post)
    best: dict[str, list[float]] = {}
    # Short trials, off and on side by side, many of them: the fastest of each is the
    # least disturbed by whatever else the machine runs.
    trials, number = args.rounds * 5, max(args.number // 5, 1)
    for _ in range(trials):
        for variant, (without, with_, scope) in plans.items():
            for i, candidate in enumerate((without, with_)):
                gc.collect()
                t = await csrf_timer(candidate, number, scope)
                pair = best.setdefault(variant, [float("inf"), float("inf")])
                pair[i] = min(pair[i], t)
    return {variant: (pair[0], pair[1]) for variant, pair in best.items()}


def print_csrf(best: dict[str, tuple[float, float]], args: Any) -> list[dict[str, Any]]:
    print(
        f"\nThe CSRF check: MemoryStore, session only, {args.rounds * 5} trials of "
        f"{max(args.number // 5, 1)}, off and on side by side, fastest trial kept.\n"
    )
    print("| request | check off µs | check on µs | added µs | on / off |")
    print("|---|---:|---:|---:|---:|")
    rows = []
    names = dict(CSRF_VARIANTS)
    for variant, (off, on) in best.items():
        if variant == "no session middleware":
            continue
        print(f"| {names[variant]} | {off:.2f} | {on:.2f} | {on - off:+.2f} | {on / off:.3f}{X} |")
        rows.append({"request": variant, "off_us": off, "on_us": on})
    # The check alone, without the session around it: steadier on a busy machine.
    print("\nThe check alone (CSRF.check_scope, plus the token for require_token), ns:\n")
    print("| request | ns |")
    print("|---|---:|")
    secret = new_secret()
    for variant, _ in CSRF_VARIANTS:
        check = CSRF(require_token=variant == "POST token")
        scope = csrf_scope(variant, b"", mask_token(secret))
        session = {SECRET_KEY: secret}

        def once(check: CSRF = check, scope: dict[str, Any] = scope) -> None:
            if check.check_scope(scope, secure=False) is None and check.require_token:
                session_token_matches(session, header_token_scope(scope))

        runs = min(timeit.repeat(once, number=args.number * 10, repeat=args.rounds))
        ns = runs / (args.number * 10) * 1e9
        print(f"| {names[variant]} | {ns:.0f} |")
        rows.append({"request": variant, "check_alone_ns": ns})
    bare, signals = best["no session middleware"]
    print(
        f"\nNo session middleware (the check lives only in it): bare app {bare:.2f} µs, "
        f"SignalsMiddleware with no receivers {signals:.2f} µs; neither runs any CSRF code."
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--json", help="also write the results here, for benchmarks.report")
    parser.add_argument(
        "--part", choices=["all", "sessions", "lockout", "instructions"], default="all"
    )
    args = parser.parse_args()
    if args.part in ("lockout", "instructions"):
        from benchmarks import lockout

        lockout.run(args)
        return

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
        csrf_best = asyncio.run(measure_csrf(args))

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
    csrf_rows = print_csrf(csrf_best, args)
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
        csrf=csrf_rows,
    )
    if args.part == "all":
        from benchmarks import lockout

        lockout.run(args, write_json=False)


if __name__ == "__main__":
    main()
