"""``reqsignals lockout``: list and lift brute-force locks on a counter store.

reqsignals lockout list --store sqlite:var/sessions.db
reqsignals lockout reset --store redis://cache:6379/0 --username ada
reqsignals lockout reset --store redis://cache:6379/0 --client 203.0.113.9
reqsignals lockout list --app myproject.web:auth     # a SessionAuth or a Lockout
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..exceptions import SessionStoreUnavailable
from . import Lockout, reset_keys
from .counters import FailureCounter, LockInfo

__all__ = ["add_parser", "run"]


class _UsageError(Exception):
    pass


def add_parser(sub: Any) -> None:
    """Add the ``lockout`` command to the ``reqsignals`` parser's subcommands."""
    command = sub.add_parser(
        "lockout",
        help="list and lift brute-force locks",
        description="List the usernames and addresses with failed logins in the window, "
        "and lift their locks, on the store the app counts them in.",
    )
    actions = command.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="usernames and addresses with failed logins")
    reset = actions.add_parser("reset", help="lift the lock of a username or an address")
    for parser in (listing, reset):
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument(
            "--store",
            metavar="STORE",
            help="sqlite:PATH (or a path to a .db file), or a redis:// or rediss:// URL",
        )
        where.add_argument(
            "--app",
            metavar="MODULE:NAME",
            help="the app's SessionAuth or Lockout, e.g. myproject.web:auth",
        )
        parser.add_argument(
            "--table", default="reqsignals_lockout", help="SQLite table (default: %(default)s)"
        )
        parser.add_argument(
            "--prefix",
            default="reqsignals:lockout:",
            help="Redis key prefix (default: %(default)s)",
        )
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.add_argument("--locked", action="store_true", help="only what is locked now")
    reset.add_argument("--username", help="the username to lift (any spelling of it)")
    reset.add_argument("--client", metavar="ADDRESS", help="the address to lift")
    reset.add_argument("--all", action="store_true", help="forget every count")


def _counter(args: argparse.Namespace, load: Callable[[str], Any]) -> FailureCounter:
    if args.app is not None:
        target = load(args.app)
        lockout = getattr(target, "lockout", target)
        if isinstance(lockout, Lockout):
            return lockout.counter
        if isinstance(lockout, FailureCounter):
            return lockout
        raise _UsageError(
            f"{args.app} is a {type(target).__name__}, not a SessionAuth with lockout=..., "
            "a Lockout or a counter"
        )
    store: str = args.store
    if store.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisCounter

        return RedisCounter(store, prefix=args.prefix)
    from .sqlite import SQLiteCounter

    path = Path(store.removeprefix("sqlite:"))
    if not path.is_file():
        raise _UsageError(f"no SQLite file at {str(path)!r}: give the file the app counts in")
    return SQLiteCounter(path, table=args.table)


def _left(seconds: float) -> str:
    whole = max(1, round(seconds))
    return f"{whole // 60}m {whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def _shown(text: str) -> str:
    """*text* with each character that is not printable written as an escape: a
    username is the client's to choose, and an ESC in it would send commands to the
    terminal of the admin reading the listing (a newline would forge a line of it)."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
        for c in text
    )


def _line(lock: LockInfo) -> str:
    state = f"locked, {_left(lock.retry_after)} left" if lock.locked else "counting"
    label = _shown(lock.label)
    return f"{lock.kind:<8}  {label:<40}  {lock.failures:>3}/{lock.limit:<3}  {state}"


def _list(counter: FailureCounter, args: argparse.Namespace) -> int:
    locks = sorted(counter.locks(), key=lambda lock: (not lock.locked, lock.kind, lock.label))
    if args.locked:
        locks = [lock for lock in locks if lock.locked]
    for lock in locks:
        if args.json:
            record = {
                "kind": lock.kind,
                "label": lock.label,
                "failures": lock.failures,
                "limit": lock.limit,
                "locked": lock.locked,
                "retry_after": round(lock.retry_after, 3),
                "key": lock.key,
            }
            # ASCII: json.loads gives the label back exactly, and no character of it
            # (U+2028, a bidirectional override) reaches the terminal as it is.
            print(json.dumps(record))
        else:
            print(_line(lock))
    if not locks and not args.json:
        print("no failed logins in the window" + (" locked" if args.locked else ""))
    return 0


def _reset(counter: FailureCounter, args: argparse.Namespace) -> int:
    if args.all == (args.username is not None or args.client is not None):
        raise _UsageError("reset takes --username and/or --client, or --all")
    try:
        keys = None if args.all else reset_keys(args.username, args.client)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    held = counter.reset(keys)
    print(f"lifted {held} count{'s' if held != 1 else ''}")
    return 0


def run(args: argparse.Namespace, load: Callable[[str], Any]) -> int:
    """Run ``reqsignals lockout ...``; *load* imports ``MODULE:NAME``. Returns the exit status."""
    counter = None
    try:
        counter = _counter(args, load)
        return _list(counter, args) if args.action == "list" else _reset(counter, args)
    except _UsageError as exc:
        print(f"reqsignals: error: {exc}", file=sys.stderr)
        return 2
    except SessionStoreUnavailable as exc:
        print(f"reqsignals: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if counter is not None:
            counter.close()
