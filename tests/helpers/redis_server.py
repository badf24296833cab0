"""A real redis-server for the tests, on a free port of 127.0.0.1."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from tests.helpers.support import Server, run_server


def redis_argv() -> list[str]:
    exe = shutil.which("redis-server")
    if exe is None:  # pragma: no cover - scripts/test installs it
        raise RuntimeError("redis-server is not installed: apt-get install redis-server")
    # No persistence, no files: a throwaway server in its own process group.
    return [
        exe,
        "--port",
        "{port}",
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        "/tmp",
    ]


@contextmanager
def redis_server(port: int | None = None) -> Iterator[Server]:
    """Run redis-server for the block (stopped however the block ends)."""
    with run_server(redis_argv(), port=port, timeout=15) as server:
        server.url = f"redis://127.0.0.1:{server.port}/0"
        yield server
