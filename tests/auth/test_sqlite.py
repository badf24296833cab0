"""auth/_sqlite.py: the connections the SQLite store, backend and counter share."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from reqsignals import connection_created
from reqsignals.auth._sqlite import Connections, check_file, check_table
from reqsignals.testing import capture
from tests.helpers.support import ROOT

SCHEMA = ["CREATE TABLE IF NOT EXISTS t (x INTEGER)"]


class Owner:
    """Stands for the store, backend or counter: the sender of connection_created."""


def connections(tmp_path: Path, pool_size: int | None = None) -> Connections:
    return Connections(
        tmp_path / "c.db", timeout=5.0, schema=SCHEMA, owner=Owner, pool_size=pool_size
    )


def is_closed(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


@pytest.mark.parametrize("path", [":memory:", "", "file::memory:?cache=shared"])
def test_check_file_refuses_in_memory_databases(path: str) -> None:
    with pytest.raises(ValueError, match=r"Owner needs a file .* use MemoryThing\(\)"):
        check_file(path, "Owner", "MemoryThing")


def test_check_file_gives_a_path(tmp_path: Path) -> None:
    assert check_file(str(tmp_path / "x.db"), "Owner", "M") == tmp_path / "x.db"


@pytest.mark.parametrize("table", ["1x", "a-b", "a;b", '"q"', "", "a b", "é"])
def test_check_table_refuses_what_is_not_a_plain_identifier(table: str) -> None:
    with pytest.raises(ValueError, match="plain SQL name"):
        check_table(table)


def test_check_table_accepts_identifiers() -> None:
    assert check_table("_sessions_2") == "_sessions_2"


def test_a_new_connection_is_set_up_announced_then_given_its_tables(tmp_path: Path) -> None:
    seen: list[tuple[Any, str, list[Any]]] = []

    def heard(sender: Any, connection: sqlite3.Connection, **kwargs: Any) -> None:
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
        tables = connection.execute("SELECT name FROM sqlite_master").fetchall()
        seen.append((sender, mode, tables))

    conns = connections(tmp_path)
    with connection_created.connected_to(heard):
        conn = conns.thread_connection()
    assert seen == [(Owner, "wal", [])]  # announced before the owner's tables exist
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("t",)]
    assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone() == (5000,)
    assert conn.isolation_level is None  # autocommit: the owners BEGIN where they need to
    conns.close()


def test_a_failed_set_up_leaves_nothing_open(tmp_path: Path) -> None:
    conns = Connections(tmp_path / "c.db", timeout=1.0, schema=["CREATE nonsense"], owner=Owner)
    opened: list[sqlite3.Connection] = []
    with (
        connection_created.connected_to(lambda sender, connection, **kw: opened.append(connection)),
        pytest.raises(sqlite3.OperationalError),
    ):
        conns.thread_connection()
    assert is_closed(opened[0])
    assert conns.open == []


def test_per_thread_each_thread_has_its_own_connection(tmp_path: Path) -> None:
    conns = connections(tmp_path)
    mine = conns.thread_connection()
    assert conns.thread_connection() is mine
    theirs: list[sqlite3.Connection] = []
    thread = threading.Thread(target=lambda: theirs.append(conns.thread_connection()))
    thread.start()
    thread.join()
    assert theirs[0] is not mine
    assert len(conns) == 2
    with conns.connection() as conn:
        assert conn is mine


def test_per_thread_close_closes_every_connection_and_reopens_on_use(tmp_path: Path) -> None:
    conns = connections(tmp_path)
    first = conns.thread_connection()
    conns.close()
    assert is_closed(first)
    assert len(conns) == 0
    with capture(connection_created) as sent:
        again = conns.thread_connection()
    sent.assert_sent(connection_created, times=1)
    assert again is not first
    conns.close()


def test_pooled_keeps_at_most_pool_size_idle(tmp_path: Path) -> None:
    conns = connections(tmp_path, pool_size=1)
    with conns.connection() as a, conns.connection() as b:
        assert a is not b  # two borrowed at once: two connections
        assert len(conns) == 2
    assert conns.idle == [b]  # b is given back first and kept; the pool is then full
    assert is_closed(a)
    assert conns.open == [b]
    with conns.connection() as again:
        assert again is b
    conns.close()


def test_pooled_close_waits_for_borrowed_connections(tmp_path: Path) -> None:
    conns = connections(tmp_path, pool_size=2)
    with conns.connection() as idle:
        pass
    with conns.connection() as borrowed:
        assert borrowed is idle
        with conns.connection() as other:
            pass
        conns.close()
        assert is_closed(other)
        assert not is_closed(borrowed)  # in use: closed when given back
    assert is_closed(borrowed)
    assert conns.open == []
    assert conns.idle == []


def fork_and_check(tmp_path: Path, pool_size: int | None) -> None:
    """Open a connection, fork, and check that the child opens its own and leaves the
    parent's alone. Runs in a fresh interpreter (see the test below): fork() is only
    safe in a process with one thread, and a test process may have more (pytest-xdist's
    worker has its own)."""
    assert threading.active_count() == 1
    conns = connections(tmp_path, pool_size)
    with conns.connection() as parent:
        pass
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            with capture(connection_created) as sent, conns.connection() as child:
                fresh = child is not parent and len(sent) == 1
            conns.close()
            kept = conns.inherited == [parent] and not is_closed(parent)
            code = 0 if fresh and kept else 2
        finally:
            os.write(write, bytes([code]))
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    result = os.read(read, 1)
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    assert result == b"\x00"
    assert parent.execute("SELECT count(*) FROM t").fetchone() == (0,)
    conns.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
@pytest.mark.parametrize("pool_size", [None, 2], ids=["per-thread", "pooled"])
def test_a_child_process_never_uses_nor_closes_the_parents_connections(
    tmp_path: Path, pool_size: int | None
) -> None:
    code = (
        "import sys; from pathlib import Path; from tests.auth.test_sqlite import fork_and_check;"
        f" fork_and_check(Path(sys.argv[1]), {pool_size!r}); print('checked')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "checked\n"), done.stderr
