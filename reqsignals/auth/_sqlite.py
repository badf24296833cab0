"""What the SQLite session store and the SQLite user backend share."""

from __future__ import annotations

import sqlite3
import time


def enable_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Put the file *conn* opened in WAL mode, waiting up to *timeout* seconds for it.

    Switching a file to WAL can fail with "database is locked" at once, without waiting
    through the busy timeout, while another connection opens the same new file; so the
    switch is retried here until *timeout* runs out.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)
