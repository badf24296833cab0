"""Sessions per user under attack and upgrade: what the first tests did not reach."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from reqsignals.auth import RedisStore, SessionAuth, SQLiteStore
from reqsignals.auth._tracking import record_login, session_id, session_info
from reqsignals.auth.stores.base import SessionStore
from reqsignals.signals import session_revoked
from reqsignals.testing import capture
from tests.live_apps.auth_user_sessions_app import CHEAP, SECRET

from .conftest import StoreFactory

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


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reqsignals", "sessions", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_the_cli_takes_only_ascii_digits_for_an_integer_id(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    twelve = store.create({"_auth_user_id": 12}, 600)
    for odd in ("²", "١٢"):  # str.isdigit() is true for both
        result = _cli("--store", "s.db", "revoke", odd, cwd=tmp_path)
        assert (result.returncode, result.stderr) == (0, "")
        assert result.stdout == f"revoked 0 sessions of user {odd}\n"
    assert store.load(twelve) is not None
    store.close()


def test_the_cli_prints_no_control_character_of_a_recorded_client(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    record = {"id": "i", "created": 1.0, "client": "10.0.0.1\x1b[2J", "ua": "UA\x1b]0;x\x07"}
    store.create({"_auth_user_id": 1, "_auth_session": record}, 600)
    store.close()
    result = _cli("--store", "s.db", "list", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "\x07" not in result.stdout
    assert "client=10.0.0.1\ufffd[2J" in result.stdout


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:notaport/0?password=hunter2",
        "redis://:hunter2@[::1/0",
        "unix://:hunter2@/tmp/x.sock?db=x",
    ],
)
def test_a_bad_redis_url_is_a_clear_error_without_its_password(url: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a Redis URL") as caught:
        RedisStore(url)
    assert "hunter2" not in str(caught.value)
    if "[" in url:  # not even a URL: nothing of it is shown
        assert str(caught.value).startswith("url= <unparsable URL> is not")
    result = _cli("--store", url, "list", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert "is not a Redis URL" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_the_cli_does_not_echo_a_url_of_another_scheme(tmp_path: Path) -> None:
    result = _cli("--store", "redis+tls://:hunter2@cache/0", "list", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert "takes a SQLite file or a redis://" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_a_recorded_client_and_user_agent_are_cut_and_show_no_control_character() -> None:
    session: dict[str, Any] = {}
    record_login(
        session, {"REMOTE_ADDR": "1" * 500 + "\n", "HTTP_USER_AGENT": "a\x00b\x1bc\x7fd\x85e"}
    )
    meta = session["_auth_session"]
    assert meta["client"] == "1" * 100
    assert meta["ua"] == "a\ufffdb\ufffdc\ufffdd\ufffde"
    scope = {"type": "http", "client": ("x\x1b" * 80, 1), "headers": [(b"user-agent", b"u\r")]}
    record_login(session, scope)
    meta = session["_auth_session"]
    assert meta["client"] == "x\ufffd" * 50
    assert meta["ua"] == "u\ufffd"
    # A record written before these rules is shown by the same rules.
    session["_auth_session"] = {"id": "i", "client": "c\x1b" * 99, "ua": "\x9b" + "u" * 300}
    info = session_info("token", session, False)
    assert info.client == "c\ufffd" * 50
    assert info.user_agent == "\ufffd" + "u" * 255


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
def test_two_revocations_at_once_report_each_session_once(
    kind: str, make_store: StoreFactory
) -> None:
    store = make_store(kind)
    tokens = [store.create(LOGGED_IN, 600) for _ in range(3)]
    listed = threading.Barrier(2)
    real = store.user_sessions

    def user_sessions(user_id: Any) -> list[tuple[str, dict[str, Any]]]:
        found = real(user_id)
        listed.wait(10)  # both admins have listed the sessions before either ends one
        return found

    store.user_sessions = user_sessions  # type: ignore[method-assign]
    auth = SessionAuth(SECRET, store)
    with capture(session_revoked) as sent, ThreadPoolExecutor(2) as pool:
        counts = list(pool.map(auth.revoke_user_sessions, [7, 7]))
    assert sum(counts) == 3
    assert sorted(s.kwargs["session_id"] for s in sent) == sorted(
        session_id(t, LOGGED_IN) for t in tokens
    )


def test_a_store_of_your_own_gets_discard_from_delete_and_exists() -> None:
    class DictStore(SessionStore):
        def __init__(self) -> None:
            self.data: dict[str, dict[str, Any]] = {"t": {"n": 1}, "u": {"n": 2}}

        def load(self, token: str) -> dict[str, Any] | None:
            return self.data.get(token)

        def delete(self, token: str) -> None:
            self.data.pop(token, None)

    store = DictStore()
    assert store.discard("t") is True
    assert store.discard("t") is False
    assert asyncio.run(store.adiscard("u")) is True
    assert asyncio.run(store.adiscard("u")) is False
    assert store.data == {}


class _LoopWatchingStore(SQLiteStore):
    """A SQLite store that notes each sync query made while an event loop runs."""

    on_loop: list[str]

    def _run(self, fn: Any) -> Any:
        if _running_loop() is not None:
            self.on_loop.append(getattr(fn, "__name__", "?"))
        return super()._run(fn)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def test_the_sync_update_session_auth_hash_never_blocks_an_event_loop(tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from reqsignals.auth import SQLiteBackend, alogin, update_session_auth_hash

    users = SQLiteBackend(tmp_path / "u.db", hasher=CHEAP)
    ada = users.create_user("ada", "correct horse battery")
    store = _LoopWatchingStore(tmp_path / "s.db")
    store.on_loop = []
    auth = SessionAuth(SECRET, store, backends=[users])

    async def do_login(request: Request) -> Response:
        await alogin(request, ada)
        return JSONResponse({})

    async def password(request: Request) -> Response:
        changed = await asyncio.to_thread(users.set_password, ada, "a new password here")
        update_session_auth_hash(request, changed)  # the sync one, as before this feature
        return JSONResponse({})

    async def me(request: Request) -> Response:
        return JSONResponse({"in": request.user.is_authenticated})

    routes = [Route("/login", do_login, methods=["POST"]), Route("/password", password)]
    app = auth.wrap(Starlette(routes=[*routes, Route("/me", me)]))

    async def scenario() -> list[bool]:
        transport = httpx.ASGITransport(app=app)
        base = "http://testserver"
        async with (
            httpx.AsyncClient(transport=transport, base_url=base) as one,
            httpx.AsyncClient(transport=transport, base_url=base) as other,
        ):
            await one.post("/login")
            await other.post("/login")
            assert len(await store.auser_sessions(ada.id)) == 2
            await one.get("/password")
            for _ in range(100):  # the other session is ended on the loop, soon after
                if len(await store.auser_sessions(ada.id)) == 1:
                    break
                await asyncio.sleep(0.02)
            return [(await c.get("/me")).json()["in"] for c in (one, other)]

    with capture(session_revoked) as sent:
        assert asyncio.run(scenario()) == [True, False]
    assert store.on_loop == []
    assert [s.kwargs["reason"] for s in sent] == ["password_changed"]
    store.close()
    users.close()


def test_a_failure_of_the_task_that_ends_the_other_sessions_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from reqsignals.auth import SessionStoreUnavailable
    from reqsignals.auth.flow import _ended_on_loop, _ending

    async def down() -> int:
        raise SessionStoreUnavailable("the store is down")

    async def run() -> None:
        task = asyncio.get_running_loop().create_task(down())
        _ending.add(task)
        task.add_done_callback(_ended_on_loop)
        await asyncio.wait([task])
        await asyncio.sleep(0)  # the done callback runs

    asyncio.run(run())
    assert not _ending
    [record] = [r for r in caplog.records if r.name == "reqsignals.auth"]
    assert "could not end the user's other sessions" in record.getMessage()
    assert record.exc_info is not None


@pytest.mark.parametrize("interface", ["wsgi", "asgi"])
@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
def test_a_session_revoked_while_a_request_cycles_its_key_stays_ended(
    interface: str, kind: str, make_store: StoreFactory, tmp_path: Path
) -> None:
    from reqsignals.auth import MemoryBackend, get_session, get_user, login

    users = MemoryBackend(hasher=CHEAP)
    ada = users.create_user("ada", "correct horse battery")
    auth = SessionAuth(SECRET, make_store(kind), backends=[users], csrf=False)

    def handle(request: Any, path: str) -> bool:
        if path == "/login":
            login(request, ada)
        elif path in ("/cycle", "/relogin"):
            assert get_user(request).is_authenticated
            # Another process revokes this very session while the request runs...
            assert auth.revoke_user_sessions(ada.id) == 1
            if path == "/cycle":
                get_session(request).cycle_key()  # ...and the request then cycles its key
            else:
                login(request, ada)  # ...or the user logs in again on it
        return bool(get_user(request).is_authenticated)

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        logged_in = handle(environ, environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(logged_in).encode()]

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        logged_in = await asyncio.to_thread(handle, scope, scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(logged_in).encode()})

    app = auth.wrap(wsgi if interface == "wsgi" else asgi)

    async def scenario() -> list[bool]:
        transport: Any = (
            httpx.WSGITransport(app=app) if interface == "wsgi" else httpx.ASGITransport(app=app)
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            seen = []
            for path in ("/login", "/cycle", "/me", "/login", "/relogin", "/me"):
                seen.append((await client.get(path)).json())
        await auth.store.aclose()
        return seen

    if interface == "wsgi":
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://t") as c:
            seen = [
                c.get(p).json() for p in ("/login", "/cycle", "/me", "/login", "/relogin", "/me")
            ]
    else:
        seen = asyncio.run(scenario())
    # The cycled session was not brought back under a new key (its next request is
    # anonymous); a login made on a revoked session is a new session, and kept.
    assert seen == [True, True, False, True, True, True]
    assert len(auth.store.user_sessions(ada.id)) == 1
    auth.close()


def test_async_revocations_at_once_report_each_session_once(make_store: StoreFactory) -> None:
    store = make_store("sqlite")
    tokens = [store.create(LOGGED_IN, 600) for _ in range(3)]
    real = store.auser_sessions

    async def scenario() -> list[int]:
        waiting: list[int] = []
        both = asyncio.Event()

        async def auser_sessions(user_id: Any) -> list[tuple[str, dict[str, Any]]]:
            found = await real(user_id)
            waiting.append(1)
            if len(waiting) == 2:  # both admins have listed them before either ends one
                both.set()
            await asyncio.wait_for(both.wait(), 10)
            return found

        store.auser_sessions = auser_sessions  # type: ignore[method-assign]
        auth = SessionAuth(SECRET, store)
        return list(await asyncio.gather(*(auth.arevoke_user_sessions(7) for _ in "ab")))

    with capture(session_revoked) as sent:
        assert sum(asyncio.run(scenario())) == 3
    assert len(sent) == len(tokens)


def test_filling_the_user_id_column_skips_what_is_not_a_login(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_sessions_file(path, {"nested": {"cart": {"_auth_user_id": 9}}, "laptop": LOGGED_IN})
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO reqsignals_sessions VALUES ('garbled', 'not json \"_auth_user_id\"', ?)",
        (time.time() + 600,),
    )
    conn.commit()
    conn.close()
    store = SQLiteStore(path)
    assert [t for t, _ in store.user_sessions(7)] == ["laptop"]
    assert store.user_sessions(9) == []
    store.close()


def test_a_failed_fill_leaves_the_old_file_as_it_was(tmp_path: Path) -> None:
    from reqsignals.auth._sqlite import Connections

    path = tmp_path / "old.db"
    _old_sessions_file(path, {"laptop": LOGGED_IN})

    def fill(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    failing = Connections(
        path,
        timeout=5,
        schema=[],
        owner=SQLiteStore,
        columns=[("reqsignals_sessions", "user_id", "TEXT")],
        fill={"user_id": fill},
    )
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        failing.thread_connection()
    conn = sqlite3.connect(path)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(reqsignals_sessions)")]
    conn.close()
    assert columns == ["key", "data", "expires"]  # the ALTER was rolled back with it
    store = SQLiteStore(path)  # and the next opening migrates it
    assert [t for t, _ in store.user_sessions(7)] == ["laptop"]
    store.close()


def test_reindex_adds_the_redis_sessions_from_before_the_index(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    store = make_store("redis")
    client = store.client  # type: ignore[attr-defined]
    prefix = store.prefix  # type: ignore[attr-defined]
    for n in range(7):  # written before the index, never used since: no index entry
        client.hset(f"{prefix}old-{n}", mapping={"m": "1.0", "d:_auth_user_id": "7"})
        client.expire(f"{prefix}old-{n}", 600)
    client.hset(f"{prefix}anonymous", mapping={"m": "1.0", "d:cart": "[]"})
    client.expire(f"{prefix}anonymous", 600)
    new = store.create(LOGGED_IN, 600)
    assert [t for t, _ in store.user_sessions(7)] == [new]
    assert store.reindex(batch=3) == 7  # type: ignore[attr-defined]
    assert len(store.user_sessions(7)) == 8
    assert 590 < client.ttl(f"{prefix}user:7") <= 600
    url = store.url  # type: ignore[attr-defined]
    result = _cli("--store", url, "--prefix", prefix, "reindex", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "indexed 0 sessions\n")
    assert SessionAuth(SECRET, store).revoke_user_sessions(7) == 8
    assert client.exists(f"{prefix}old-0") == 0


def test_reindex_of_a_sqlite_file_has_nothing_left_to_do(tmp_path: Path) -> None:
    _old_sessions_file(tmp_path / "old.db", {"laptop": LOGGED_IN})
    result = _cli("--store", "old.db", "reindex", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "indexed 0 sessions\n")
    store = SQLiteStore(tmp_path / "old.db")
    assert [t for t, _ in store.user_sessions(7)] == ["laptop"]
    store.close()
