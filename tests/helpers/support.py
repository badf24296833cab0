"""Helpers shared by the tests: free ports, real server subprocesses, receivers."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port} within {timeout}s:\n{log.read_text()}")


def stop_process_group(proc: subprocess.Popen[bytes], grace: float = 10) -> None:
    """SIGTERM the whole process group, then SIGKILL what is left after *grace* seconds."""
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(5)


@contextmanager
def write_locked_new_sqlite_file(path: Path) -> Iterator[sqlite3.Connection]:
    """A new rollback-journal SQLite file at *path*, its write lock held by the connection
    yielded (``COMMIT`` on it to let go), as when another process is first to use it."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        holder.execute("CREATE TABLE other (x)")
        holder.execute("BEGIN IMMEDIATE")
        yield holder
        if holder.in_transaction:
            holder.execute("ROLLBACK")
    finally:
        holder.close()


async def run_all(jobs: Iterable[Coroutine[Any, Any, T]], timeout: float) -> list[T]:
    """Run *jobs* at once and return their results in order; the first failure (or the
    timeout) cancels and awaits the rest.

    Unlike a bare ``gather``, nothing is left running when this returns, so a client's
    connections are closed by its own ``async with``, not left to the garbage collector
    (whose ResourceWarnings would then be blamed on a later test).
    """
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        return await asyncio.wait_for(asyncio.gather(*tasks), timeout)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Server:
    """A running server subprocess: its base URL, port, log, and process."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}"
        self.last_output: str | None = None  # kept when the server stops

    def output(self) -> str:
        if self.last_output is not None:
            return self.last_output
        return self.log.read_text(errors="replace")


#: Servers started and not yet reported on: tests/conftest.py adds their output to a
#: failing test's report (a server's traceback is otherwise lost with its log file).
started_servers: list[Server] = []


@contextmanager
def run_server(
    argv: Sequence[str],
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | str | None = None,
    timeout: float = 30,
) -> Iterator[Server]:
    """Start ``argv`` (``{port}`` in it is replaced) in its own process group on 127.0.0.1.

    Waits until the port accepts connections; on leaving the block — also when the
    test fails — stops the whole process group. Python commands run with this
    interpreter when ``argv[0]`` is ``"python"``.
    """
    port = port or free_port()
    args = [a.replace("{port}", str(port)) for a in argv]
    if args[0] == "python":
        args[0] = sys.executable
    full_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "PYTHONUNBUFFERED": "1",
    }
    full_env.update(env or {})
    fd, name = tempfile.mkstemp(prefix="reqsignals-server-", suffix=".log")
    log = Path(name)
    with os.fdopen(fd, "wb") as out:
        proc = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=str(cwd or ROOT),
            start_new_session=True,
        )
    server = None
    try:
        wait_for_port(port, proc, log, timeout)
        server = Server(proc, port, log)
        started_servers.append(server)
        yield server
    finally:
        stop_process_group(proc)
        if server is not None:
            server.last_output = server.output()
        log.unlink(missing_ok=True)


@contextmanager
def receiver_dying_mid_send(signal: Any, *, doomed_async: bool = False) -> Iterator[list[str]]:
    """Connect three weak receivers to *signal*; the first drops the last strong
    reference to the second, so the second dies during the send. Yields the list of
    the receivers that ran, by name; every send must record ``["first", "last"]``.
    With *doomed_async* the second is ``async def``, so the send takes the path for
    plans with async receivers."""
    heard: list[str] = []

    def doomed_sync(sender: Any, **kwargs: Any) -> None:
        heard.append("doomed")  # pragma: no cover - collected before its turn

    async def doomed_coroutine(sender: Any, **kwargs: Any) -> None:
        heard.append("doomed")  # pragma: no cover - collected before its turn

    holder: dict[str, Any] = {"doomed": doomed_coroutine if doomed_async else doomed_sync}
    del doomed_sync, doomed_coroutine

    def first(sender: Any, **kwargs: Any) -> None:
        heard.append("first")
        holder.clear()  # the last strong reference: the next receiver dies now

    def last(sender: Any, **kwargs: Any) -> None:
        heard.append("last")

    signal.connect(first)
    signal.connect(holder["doomed"])
    signal.connect(last)
    try:
        yield heard
    finally:
        signal.disconnect(first)
        signal.disconnect(last)
