"""The command lines of the real servers the auth tests start, and the environment that
tells a served app which store to share with the other server processes.

The commands are for :func:`tests.helpers.support.run_server`, which fills in
``{port}``. A test names the shared store with :func:`store_env`; the served app's
factory, in the server process, opens it with :func:`store_from_env`.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from reqsignals.auth import RedisStore, SQLiteStore
from reqsignals.auth.stores.base import SessionStore

STORE = "REQSIGNALS_TEST_STORE"  # sqlite:<path> or redis:<url>
PREFIX = "REQSIGNALS_TEST_PREFIX"  # the Redis key prefix
USERS = "REQSIGNALS_TEST_USERS"  # the SQLite file of a served app's users, where it has one


def uvicorn(app: str, *options: str, factory: bool = False) -> list[str]:
    """uvicorn serving *app* (``module:name``; with *factory*, a function that makes the
    app) on 127.0.0.1, logging only warnings; *options* come last."""
    return [
        "python",
        "-m",
        "uvicorn",
        *(["--factory"] if factory else []),
        app,
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--log-level",
        "warning",
        *options,
    ]


def waitress(factory: str, *options: str, threads: int = 8) -> list[str]:
    """waitress serving the app the function *factory* (``module:name``) makes, on
    127.0.0.1 with *threads* threads; *options* come before the app."""
    return [
        "python",
        "-m",
        "waitress",
        "--host=127.0.0.1",
        "--port={port}",
        f"--threads={threads}",
        *options,
        "--call",
        factory,
    ]


def store_env(
    kind: str, request: pytest.FixtureRequest, directory: Path, prefix: str
) -> dict[str, str]:
    """The environment naming one store for served apps to share: a SQLite file in
    *directory* (*kind* ``"sqlite"``), or the session's redis-server (``"redis"``), its
    keys under *prefix* with ``{}`` in it made unique (``"xproc:{}:"``)."""
    if kind == "sqlite":
        return {STORE: f"sqlite:{directory / 'sessions.db'}"}
    server = request.getfixturevalue("redis_server")
    return {STORE: f"redis:{server.url}", PREFIX: prefix.format(uuid.uuid4().hex)}


def store_from_env() -> SessionStore:
    """The store :func:`store_env` named, opened in the server process."""
    kind, _, where = os.environ[STORE].partition(":")
    if kind == "sqlite":
        return SQLiteStore(where)
    return RedisStore(where, prefix=os.environ[PREFIX])
