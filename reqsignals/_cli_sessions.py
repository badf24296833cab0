"""``reqsignals sessions``: list, end and clear sessions in a server-side store.

    reqsignals sessions --store var/sessions.db clear-expired
    reqsignals sessions --store redis://127.0.0.1:6379/0 list 42
    reqsignals sessions --store var/sessions.db revoke 42
    reqsignals sessions --store redis://127.0.0.1:6379/0 reindex

Needs no secret key: it works on the store directly, as an admin page would through
``SessionAuth.revoke_user_sessions``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_parser", "run"]


class StoreError(Exception):
    """A store that cannot be opened from the command line: one line, exit status 2."""


def open_store(spec: str, prefix: str | None) -> Any:
    """The store *spec* names: a SQLite file (``path.db`` or ``sqlite:path``) or a
    ``redis://`` / ``rediss://`` URL."""
    if spec.startswith(("redis://", "rediss://", "unix://")):
        try:
            from .auth.stores.redis import RedisStore
        except ImportError as exc:  # pragma: no cover - the redis extra is missing
            raise StoreError(f"a Redis store needs the redis extra ({exc})") from None
        try:
            return RedisStore(spec, **({"prefix": prefix} if prefix is not None else {}))
        except ValueError as exc:  # the message hides the URL's password
            raise StoreError(str(exc)) from None
    path = spec.removeprefix("sqlite://").removeprefix("sqlite:")
    if "://" in path:  # a URL of another scheme: never echoed, it may hold a password
        raise StoreError(
            "--store takes a SQLite file or a redis://, rediss:// or unix:// URL, got a "
            f"{path.partition('://')[0][:20]!r} URL"
        )
    if not path:
        raise StoreError(f"--store needs a SQLite file or a redis:// URL, got {spec!r}")
    from pathlib import Path

    from .auth.stores.sqlite import SQLiteStore

    if not Path(path).is_file():
        raise StoreError(f"no session database at {path!r}: give the file your app uses")
    return SQLiteStore(path)


def _user_id(text: str) -> int | str:
    # Ids kept in sessions are ints for the built-in backends: digits mean an int.
    # ASCII digits only: str.isdigit() also takes "²" (which int() refuses) and
    # other scripts' digits (which int() reads as another user's id).
    return int(text) if text.isascii() and text.isdigit() else text


def add_parser(sub: Any) -> None:
    """Add ``sessions`` and its commands to the ``reqsignals`` parser."""
    sessions = sub.add_parser(
        "sessions",
        help="list, revoke or clear the sessions of a server-side store",
        description="Work on the sessions kept by a SQLite file or a Redis server.",
    )
    sessions.add_argument(
        "--store",
        default="reqsignals-sessions.db",
        help="a SQLite file or a redis:// URL (default: reqsignals-sessions.db)",
    )
    sessions.add_argument("--prefix", help="the RedisStore key prefix, if not the default")
    actions = sessions.add_subparsers(dest="action", required=True)
    actions.add_parser("clear-expired", help="remove expired sessions and their index entries")
    listing = actions.add_parser("list", help="the live sessions of a user")
    listing.add_argument("user_id", metavar="USER_ID", help="digits are taken as an integer id")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    revoke = actions.add_parser("revoke", help="end every session of a user now")
    revoke.add_argument("user_id", metavar="USER_ID", help="digits are taken as an integer id")
    actions.add_parser(
        "reindex",
        help="index the sessions written before the per-user index (once, after upgrading)",
    )


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``reqsignals sessions`` command; return the exit status."""
    from .auth._tracking import end_sessions, infos
    from .auth.exceptions import SessionStoreUnavailable

    try:
        store = open_store(args.store, args.prefix)
    except StoreError as exc:
        print(f"reqsignals: error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.action == "clear-expired":
            print(f"removed {store.cleanup()} expired sessions")
        elif args.action == "reindex":
            # A SQLite file is indexed when it is opened (above): nothing is left to do.
            added = store.reindex() if hasattr(store, "reindex") else 0
            print(f"indexed {added} sessions")
        elif args.action == "list":
            for info in infos(store.user_sessions(_user_id(args.user_id)), None):
                fields = {
                    "id": info.id,
                    "created": info.created.isoformat() if info.created else None,
                    "last_seen": info.last_seen.isoformat() if info.last_seen else None,
                    "client": info.client,
                    "user_agent": info.user_agent,
                }
                if args.json:
                    print(json.dumps(fields))
                else:
                    print(
                        "  ".join(
                            f"{k}={v!r}" if k == "user_agent" else f"{k}={v}"
                            for k, v in fields.items()
                        )
                    )
        else:
            count = end_sessions(store, _user_id(args.user_id), "revoked")
            print(f"revoked {count} sessions of user {args.user_id}")
    except SessionStoreUnavailable as exc:
        print(f"reqsignals: error: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0
