"""Sessions per user under attack and upgrade: what the first tests did not reach."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from reqsignals.auth import SessionAuth, SQLiteStore

from .conftest import StoreFactory
from .user_sessions_app import SECRET

LOGGED_IN = {"_auth_user_id": 7, "_auth_user_backend": "b", "_auth_user_hash": "h"}


def _old_sessions_file(path: Path, rows: dict[str, dict[str, object]]) -> None:
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE reqsignals_sessions (key TEXT PRIMARY KEY, data TEXT NOT NULL, "
        "expires REAL NOT NULL)"
    )
    for key, data in rows.items():
        conn.execute(
            "INSERT INTO reqsignals_sessions VALUES (?, ?, ?)",
            (key, json.dumps(data), time.time() + 600),
        )
    conn.commit()
    conn.close()


def test_sqlite_sessions_from_before_the_index_are_indexed_and_revocable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    _old_sessions_file(
        path,
        {
            "laptop": LOGGED_IN,
            "text-id": {**LOGGED_IN, "_auth_user_id": "7"},
            "anonymous": {"cart": [1]},
        },
    )
    auth = SessionAuth(SECRET, SQLiteStore(path))
    # The laptop's session was never used since the upgrade: it must still be found.
    assert [t for t, _ in auth.store.user_sessions(7)] == ["laptop"]
    assert [t for t, _ in auth.store.user_sessions("7")] == ["text-id"]
    assert auth.revoke_user_sessions(7) == 1
    assert auth.store.load("laptop") is None
    assert auth.store.load("anonymous") == {"cart": [1]}
    auth.close()


def test_a_redis_session_from_before_the_index_is_indexed_on_its_next_write(
    make_store: StoreFactory,
) -> None:
    store = make_store("redis")
    client = store.client  # type: ignore[attr-defined]
    key = f"{store.prefix}legacy-token"  # type: ignore[attr-defined]
    # What RedisStore wrote before the index: no "u" field.
    client.hset(key, mapping={"m": repr(time.time()), "d:_auth_user_id": "7"})
    client.expire(key, 600)
    assert store.save("legacy-token", {}, {"_auth_last_seen": time.time()}, (), 600)
    assert [t for t, _ in store.user_sessions(7)] == ["legacy-token"]
    store.delete("legacy-token")
    assert store.user_sessions(7) == []
    assert client.exists(f"{store.prefix}user:7") == 0  # type: ignore[attr-defined]


def test_stores_opening_an_old_file_at_once_each_see_it_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_sessions_file(path, {f"s{n}": LOGGED_IN for n in range(50)})
    stores = [SQLiteStore(path) for _ in range(6)]
    start = threading.Barrier(len(stores))

    def count(store: SQLiteStore) -> int:
        start.wait(10)
        return len(store.user_sessions(7))

    with ThreadPoolExecutor(len(stores)) as pool:
        assert list(pool.map(count, stores)) == [50] * len(stores)
    for store in stores:
        store.close()
