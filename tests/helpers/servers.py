"""The real servers the tests start: their command lines, the demo, headless Chromium,
and the environment that tells a served app which store to share with other processes.

The commands are for :func:`tests.helpers.support.run_server`, which fills in
``{port}``. A test names the shared store with :func:`store_env`; the served app's
factory, in the server process, opens it with :func:`store_from_env`.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reqsignals.auth import RedisStore, SQLiteStore
from reqsignals.auth.stores.base import SessionStore

from .support import Server, run_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

STORE = "REQSIGNALS_TEST_STORE"  # sqlite:<path> or redis:<url>
PREFIX = "REQSIGNALS_TEST_PREFIX"  # the Redis key prefix
USERS = "REQSIGNALS_TEST_USERS"  # the SQLite file of a served app's users, where it has one


#: ``reqsignals run``: an app's server, or the demo when no app is named.
CLI = ["python", "-m", "reqsignals", "run"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


def wait_for_output(server: Server, pattern: str, timeout: float = 10) -> str:
    """The server's output once *pattern* (a regular expression) is in it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = server.output()
        if re.search(pattern, out):
            return out
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} not in the server output:\n{server.output()}")


def demo_password(out: str) -> str:
    """The demo user's password, as the demo prints it at start-up."""
    match = re.search(r"log in as 'demo' with password '([^']+)'", out)
    assert match, out
    return match.group(1)


@contextmanager
def serve_demo(data_dir: Path) -> Iterator[tuple[Server, str]]:
    """The demo (``reqsignals run``) keeping its data in *data_dir*, once it serves: the
    server and the demo user's password."""
    with run_server([*CLI, "--port", "{port}", "--data-dir", str(data_dir)]) as server:
        yield server, demo_password(wait_for_output(server, "Serving ASGI"))


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium, driven by playwright; closed on leaving the block."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Chromium is installed by scripts/test (apt package chromium)"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
