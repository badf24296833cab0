"""What the SQLite session store and the SQLite user backend share."""

from __future__ import annotations

import sqlite3
import time


def enable_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Put the file *conn* opened in WAL mode, waiting up to *timeout* seconds in all.

    Switching a file to WAL can fail with "database is locked" at once, without waiting
    through the busy timeout, while another connection opens the same new file; so the
    switch is retried here. Each try waits only for the time left, and the connection's
    busy timeout is *timeout* again afterwards.
    """
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = max(deadline - time.monotonic(), 0.0)
            conn.execute(f"PRAGMA busy_timeout = {int(left * 1000)}")
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
