"""Sessions per user: list them, revoke one, log out everywhere, in every store."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from reqsignals.auth import (
    CookieStore,
    MemoryStore,
    SessionAuth,
    SQLiteBackend,
    SQLiteStore,
)
from reqsignals.auth.stores.base import SessionStore
from reqsignals.signals import session_revoked
from reqsignals.testing import capture
from tests.helpers import servers
from tests.helpers.support import Server, run_server
from tests.live_apps.auth_user_sessions_app import CHEAP, SECRET, flask_app, starlette_app

from .conftest import StoreFactory

APPS = {"asgi": starlette_app, "wsgi": flask_app}
SERVER_STORES = ["memory", "sqlite", "redis"]
PASSWORD = "correct horse battery"


class Rig:
    """One app over one store, with users ada (id 1) and bob (id 2)."""

    def __init__(self, kind: str, store: SessionStore, tmp_path: Path, **options: Any) -> None:
        self.users = SQLiteBackend(tmp_path / f"users-{uuid.uuid4().hex}.db", hasher=CHEAP)
        self.ada = self.users.create_user("ada", PASSWORD)
        self.bob = self.users.create_user("bob", PASSWORD)
        self.auth = SessionAuth(SECRET, store, backends=[self.users], **options)
        self.app = APPS[kind](self.auth, self.users)
        self.kind = kind
        self.clients: list[httpx.Client] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def client(self, user_agent: str = "test-agent") -> httpx.Client:
        transport: httpx.BaseTransport
        if self.kind == "wsgi":
            transport = httpx.WSGITransport(app=self.app)
        else:
            transport = _SyncASGI(self.app, self.loop)
        client = httpx.Client(
            transport=transport, base_url="http://testserver", headers={"user-agent": user_agent}
        )
        self.clients.append(client)
        return client

    def login(self, name: str = "ada", user_agent: str = "test-agent") -> httpx.Client:
        client = self.client(user_agent)
        response = client.post("/login", data={"username": name, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()
        asyncio.run_coroutine_threadsafe(self.auth.aclose(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        self.users.close()


class _SyncASGI(httpx.BaseTransport):
    """httpx's ASGITransport driven from sync code, on one event loop in a thread."""

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def run() -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=body)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)


@pytest.fixture(params=["asgi", "wsgi"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=SERVER_STORES)
def rig(
    request: pytest.FixtureRequest, kind: str, make_store: StoreFactory, tmp_path: Path
) -> Iterator[Rig]:
    made = Rig(kind, make_store(request.param), tmp_path)
    yield made
    made.close()


def sessions_of(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get("/sessions")
    assert response.status_code == 200, response.text
    return list(response.json())


def test_each_client_sees_every_session_of_its_user_and_which_is_its_own(rig: Rig) -> None:
    clients = [rig.login(user_agent=f"browser-{n}") for n in range(3)]
    rig.login("bob")
    for n, client in enumerate(clients):
        listed = sessions_of(client)
        assert [s["user_agent"] for s in listed] == ["browser-0", "browser-1", "browser-2"]
        assert [s["current"] for s in listed] == [i == n for i in range(3)]
        assert all(s["client"] == "127.0.0.1" for s in listed)
        assert all(s["created"] <= s["last_seen"] <= time.time() for s in listed)
        assert len({s["id"] for s in listed}) == 3


def test_revoking_one_session_makes_only_it_anonymous(rig: Rig) -> None:
    a, b, c = (rig.login() for _ in range(3))
    target = next(s for s in sessions_of(a) if not s["current"] and s["id"])
    victim = next(
        client
        for client in (b, c)
        if any(s["current"] and s["id"] == target["id"] for s in sessions_of(client))
    )
    with capture(session_revoked) as sent:
        assert a.post("/revoke", data={"id": target["id"]}).json() == {"revoked": True}
    assert victim.get("/me").json() == {"user": None}
    survivors = [client for client in (a, b, c) if client is not victim]
    assert [client.get("/me").json() for client in survivors] == [{"user": 1}, {"user": 1}]
    assert len(sessions_of(a)) == 2
    (call,) = sent
    assert call.sender == "reqsignals.auth"
    assert (call.kwargs["user_id"], call.kwargs["session_id"], call.kwargs["reason"]) == (
        1,
        target["id"],
        "revoked",
    )
    assert call.kwargs["request"] is not None


def test_revoking_the_current_session_logs_it_out(rig: Rig) -> None:
    a = rig.login()
    own = sessions_of(a)[0]
    assert a.post("/revoke", data={"id": own["id"]}).json() == {"revoked": True}
    assert a.get("/me").json() == {"user": None}
    assert rig.auth.list_user_sessions(1) == []


def test_logout_everywhere_keeps_the_caller_and_ends_the_rest(rig: Rig) -> None:
    a, b, c = (rig.login() for _ in range(3))
    bob = rig.login("bob")
    with capture(session_revoked) as sent:
        assert a.post("/everywhere").json() == {"ended": 2}
    assert [client.get("/me").json()["user"] for client in (a, b, c, bob)] == [1, None, None, 2]
    assert [s["current"] for s in sessions_of(a)] == [True]
    assert [call.kwargs["reason"] for call in sent] == ["logout_everywhere"] * 2


def test_logout_everywhere_can_end_the_current_session_too(rig: Rig) -> None:
    a, b = rig.login(), rig.login()
    assert a.post("/everywhere", data={"keep": "0"}).json() == {"ended": 1}
    assert [client.get("/me").json()["user"] for client in (a, b)] == [None, None]
    assert rig.auth.list_user_sessions(1) == []


def test_another_user_can_neither_see_nor_revoke_them(rig: Rig) -> None:
    a = rig.login()
    rig.login()
    bob = rig.login("bob")
    ada_ids = [s["id"] for s in sessions_of(a)]
    assert [s["id"] for s in sessions_of(bob)] != ada_ids
    assert len(sessions_of(bob)) == 1
    for guess in [*ada_ids, "0" * 32, "", "x" * 300, "../1"]:
        assert bob.post("/revoke", data={"id": guess}).json() == {"revoked": False}
    assert len(sessions_of(a)) == 2
    anonymous = rig.client()
    assert sessions_of(anonymous) == []
    assert anonymous.post("/revoke", data={"id": ada_ids[0]}).json() == {"revoked": False}
    assert anonymous.post("/everywhere").json() == {"ended": 0}
    assert len(sessions_of(a)) == 2


def test_a_password_change_ends_the_other_sessions_and_reports_them(rig: Rig) -> None:
    a, b, c = (rig.login() for _ in range(3))
    with capture(session_revoked) as sent:
        assert a.post("/password", data={"password": "a new passphrase"}).status_code == 200
    assert [call.kwargs["reason"] for call in sent] == ["password_changed"] * 2
    assert [client.get("/me").json()["user"] for client in (a, b, c)] == [1, None, None]
    assert [s["current"] for s in sessions_of(a)] == [True]


def test_admin_revokes_every_session_of_a_user_outside_a_request(rig: Rig) -> None:
    a, b = rig.login(), rig.login()
    bob = rig.login("bob")
    assert [i.current for i in rig.auth.list_user_sessions(1)] == [False, False]
    with capture(session_revoked) as sent:
        assert rig.auth.revoke_user_sessions(1) == 2
    assert [call.kwargs["request"] for call in sent] == [None, None]
    assert [client.get("/me").json()["user"] for client in (a, b, bob)] == [None, None, 2]
    assert rig.auth.revoke_user_sessions(1) == 0


def _cookie_key(auth: SessionAuth, client: httpx.Client) -> str:
    token = auth._verify(client.cookies["session"])
    assert token is not None
    return token


def test_ids_never_equal_or_contain_the_session_key(rig: Rig) -> None:
    clients = [rig.login() for _ in range(3)]
    keys = {_cookie_key(rig.auth, client) for client in clients}
    listed = sessions_of(clients[0])
    shown = json.dumps(listed)
    assert len(keys) == 3
    for key in keys:
        assert key not in shown
        assert key[:12] not in shown
    for info in rig.auth.list_user_sessions(1):
        assert info.id not in keys
        assert all(info.id not in key for key in keys)


@pytest.mark.parametrize("store_kind", SERVER_STORES)
def test_sessions_from_before_the_record_get_a_one_way_id(
    store_kind: str, make_store: StoreFactory
) -> None:
    store = make_store(store_kind)
    key = store.create({"_auth_user_id": 5, "other": 1}, 60)
    (info,) = SessionAuth(SECRET, store).list_user_sessions(5)
    assert len(info.id) == 32
    assert info.id not in key
    assert key not in info.id
    assert (info.created, info.client, info.user_agent) == (None, None, None)


class CountingStore(MemoryStore):
    """A memory store that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def save(
        self,
        token: str,
        data: Mapping[str, Any],
        changed: Mapping[str, Any],
        deleted: Collection[str],
        max_age: int,
    ) -> str | None:
        self.writes += 1
        return super().save(token, data, changed, deleted, max_age)


def test_last_seen_is_written_at_most_once_an_interval(kind: str, tmp_path: Path) -> None:
    store = CountingStore()
    rig = Rig(kind, store, tmp_path, last_seen_interval=3600)
    try:
        client = rig.login()
        first = sessions_of(client)[0]["last_seen"]
        store.writes = 0
        for _ in range(1000):
            assert client.get("/me").json() == {"user": 1}
        assert store.writes == 0
        assert sessions_of(client)[0]["last_seen"] == first
    finally:
        rig.close()


def test_last_seen_moves_once_the_interval_passed(kind: str, tmp_path: Path) -> None:
    store = CountingStore()
    rig = Rig(kind, store, tmp_path, last_seen_interval=0.2)
    try:
        client = rig.login()
        first = sessions_of(client)[0]["last_seen"]
        store.writes = 0
        for _ in range(20):
            client.get("/me")
        time.sleep(0.25)
        client.get("/me")
        assert 1 <= store.writes <= 2
        assert sessions_of(client)[0]["last_seen"] > first
    finally:
        rig.close()


def test_last_seen_interval_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="last_seen_interval"):
        SessionAuth(SECRET, MemoryStore(), last_seen_interval=-1)


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
def test_clear_expired_removes_only_expired_sessions_and_their_index(
    store_kind: str, make_store: StoreFactory
) -> None:
    store = make_store(store_kind)
    auth = SessionAuth(SECRET, store)
    short = [store.create({"_auth_user_id": 1, "n": n}, 1) for n in range(3)]
    long = store.create({"_auth_user_id": 1, "n": 9}, 3600)
    other = store.create({"n": 10}, 3600)
    time.sleep(1.1)
    assert auth.clear_expired() == 3
    assert [token for token, _ in store.user_sessions(1)] == [long]
    assert all(store.load(token) is None for token in short)
    assert store.load(other) == {"n": 10}
    assert auth.clear_expired() == 0
    if isinstance(store, MemoryStore):
        assert list(store._by_user) == ["1"]
        assert list(store._by_user["1"]) == [long]
    else:
        assert isinstance(store, SQLiteStore)
        rows = store._run(
            lambda conn: conn.execute(f"SELECT user_id FROM {store.table}").fetchall()
        )
        assert sorted(row[0] or "" for row in rows) == ["", "1"]


def test_redis_index_keeps_no_entries_of_expired_sessions(make_store: StoreFactory) -> None:
    store = make_store("redis")
    index = f"{store.prefix}user:1"  # type: ignore[attr-defined]
    client = store.client  # type: ignore[attr-defined]
    for _ in range(3):
        store.create({"_auth_user_id": 1}, 1)
    assert client.zcard(index) == 3
    assert 0 < client.ttl(index) <= 1
    time.sleep(1.2)
    assert store.user_sessions(1) == []
    assert client.exists(index) == 0
    kept = store.create({"_auth_user_id": 1}, 3600)
    store.create({"_auth_user_id": 1}, 1)
    time.sleep(1.2)
    store.create({"_auth_user_id": 1}, 3600)  # a write prunes the expired entry too
    assert client.zcard(index) == 2
    assert next(t for t, _ in store.user_sessions(1)) == kept
    assert 3500 < client.ttl(index) <= 3600
    store.delete(kept)
    assert client.zcard(index) == 1


def test_a_user_id_of_each_type_is_its_own_index_entry(make_store: StoreFactory) -> None:
    for store in (make_store("memory"), make_store("sqlite"), make_store("redis")):
        one = store.create({"_auth_user_id": 1}, 60)
        text = store.create({"_auth_user_id": "1"}, 60)
        assert [t for t, _ in store.user_sessions(1)] == [one]
        assert [t for t, _ in store.user_sessions("1")] == [text]
        store.save(one, {}, {"_auth_user_id": 2}, (), 60)
        assert store.user_sessions(1) == []
        assert [t for t, _ in store.user_sessions(2)] == [one]
        store.save(one, {}, {}, ("_auth_user_id",), 60)
        assert store.user_sessions(2) == []


def test_cookie_store_cannot_list_or_revoke_one_session(kind: str, tmp_path: Path) -> None:
    rig = Rig(kind, CookieStore(), tmp_path)
    try:
        a = rig.login()
        with pytest.raises(RuntimeError, match="MemoryStore, SQLiteStore or RedisStore"):
            rig.auth.list_user_sessions(1)
        with pytest.raises(RuntimeError, match="MemoryStore, SQLiteStore or RedisStore"):
            rig.auth.revoke_user_sessions(1)
        # Through a request the app meets the same error (Flask answers it with a 500).
        if kind == "asgi":
            with pytest.raises(RuntimeError, match="server-side store"):
                a.get("/sessions")
        else:
            assert a.get("/sessions").status_code == 500
    finally:
        rig.close()


def test_cookie_store_refuses_to_list_or_revoke_for_an_anonymous_request_too(
    kind: str, tmp_path: Path
) -> None:
    # A programming error shows at once, not only once somebody has logged in.
    rig = Rig(kind, CookieStore(), tmp_path)
    try:
        anonymous = rig.client()
        for method, path in (("GET", "/sessions"), ("POST", "/revoke")):
            if kind == "asgi":
                with pytest.raises(RuntimeError, match="MemoryStore, SQLiteStore or RedisStore"):
                    anonymous.request(method, path, data={"id": "x"})
            else:
                assert anonymous.request(method, path, data={"id": "x"}).status_code == 500
        assert anonymous.post("/everywhere").json() == {"ended": 0}  # works through the hash
    finally:
        rig.close()


def test_cookie_store_logs_out_everywhere_through_the_session_hash(
    kind: str, tmp_path: Path
) -> None:
    rig = Rig(kind, CookieStore(), tmp_path)
    try:
        a, b, bob = rig.login(), rig.login(), rig.login("bob")
        assert a.post("/everywhere").json() == {"ended": 0}
        assert [client.get("/me").json()["user"] for client in (a, b, bob)] == [1, None, 2]
        assert rig.login().get("/me").json() == {"user": 1}  # logging in again works
    finally:
        rig.close()


def test_revoking_while_the_session_is_in_use_loses_no_other_sessions_data(
    make_store: StoreFactory,
) -> None:
    for store_kind in ("sqlite", "redis"):
        store = make_store(store_kind)
        auth = SessionAuth(SECRET, store)
        victim = store.create({"_auth_user_id": 2}, 600)
        others = [store.create({"_auth_user_id": 1, "n": 0}, 600) for _ in range(3)]
        started = threading.Event()

        def write(i: int) -> None:
            started.set()
            for token in others:
                assert store.save(token, {}, {f"k{i}": i}, (), 600) == token
            store.save(victim, {}, {f"k{i}": i}, (), 600)  # None once revoked

        with ThreadPoolExecutor(4) as pool:
            jobs = [pool.submit(write, i) for i in range(20)]
            started.wait(10)
            assert auth.revoke_user_sessions(2) == 1
            for job in jobs:
                job.result()
        assert store.load(victim) is None
        assert store.user_sessions(2) == []
        for token in others:
            expected = {"_auth_user_id": 1, "n": 0, **{f"k{i}": i for i in range(20)}}
            assert store.load(token) == expected
        assert sorted(t for t, _ in store.user_sessions(1)) == sorted(others)


# -- two real server processes over one store --------------------------------------------

UVICORN = servers.uvicorn("tests.live_apps.auth_user_sessions_app:make_asgi", factory=True)
WAITRESS = servers.waitress("tests.live_apps.auth_user_sessions_app:make_wsgi", threads=4)


@pytest.mark.server
@pytest.mark.timeout(120)
@pytest.mark.parametrize("shared", ["sqlite", "redis"])
def test_three_clients_through_two_processes(
    shared: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    users = SQLiteBackend(tmp_path / "users.db", hasher=CHEAP)
    users.create_user("ada", PASSWORD)
    users.create_user("bob", PASSWORD)
    users.close()
    env = servers.store_env(shared, request, tmp_path, "us:{}:")
    env[servers.USERS] = str(tmp_path / "users.db")
    with run_server(UVICORN, env=env) as one, run_server(WAITRESS, env=env) as two:
        bases = [one.url, two.url, one.url]
        clients = [httpx.Client(base_url=url, timeout=30) for url in bases]
        try:
            for n, client in enumerate(clients):
                client.headers["user-agent"] = f"laptop-{n}"
                login = client.post("/login", data={"username": "ada", "password": PASSWORD})
                assert login.status_code == 200, (one.output(), two.output())
            assert clients[0].get("/pid").json() != clients[1].get("/pid").json()
            for n, client in enumerate(clients):
                listed = client.get("/sessions").json()
                assert [s["user_agent"] for s in listed] == ["laptop-0", "laptop-1", "laptop-2"]
                assert [s["current"] for s in listed] == [i == n for i in range(3)]
            # Revoked through one process, anonymous in the other.
            second = clients[0].get("/sessions").json()[1]
            assert clients[0].post("/revoke", data={"id": second["id"]}).json() == {"revoked": True}
            other = httpx.Client(base_url=one.url, cookies=clients[1].cookies, timeout=30)
            with other:
                assert other.get("/me").json() == {"user": None}
            assert clients[1].get("/me").json() == {"user": None}
            # Log out everywhere from the second process keeps only the caller.
            assert clients[2].get("/me").json() == {"user": 1}
            cross = httpx.Client(base_url=two.url, cookies=clients[2].cookies, timeout=30)
            with cross:
                assert cross.post("/everywhere").json() == {"ended": 1}
                assert [s["current"] for s in cross.get("/sessions").json()] == [True]
            assert clients[0].get("/me").json() == {"user": None}
            assert clients[2].get("/me").json() == {"user": 1}
        finally:
            for client in clients:
                client.close()


# -- reqsignals sessions ------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reqsignals", "sessions", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_lists_revokes_and_clears_the_sessions_of_a_sqlite_store(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    record = {"id": "opaque-id-1", "created": 1.0e9, "client": "10.0.0.9", "ua": "Firefox"}
    kept = store.create({"_auth_user_id": 7, "_auth_session": record}, 3600)
    store.create({"_auth_user_id": 7}, 1)
    other = store.create({"_auth_user_id": 8}, 3600)
    time.sleep(1.1)

    listed = _cli("--store", str(path), "list", "7", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert rows == [
        {
            "id": "opaque-id-1",
            "created": "2001-09-09T01:46:40+00:00",
            "last_seen": "2001-09-09T01:46:40+00:00",
            "client": "10.0.0.9",
            "user_agent": "Firefox",
        }
    ]
    plain = _cli("--store", str(path), "list", "7")
    assert plain.stdout.startswith("id=opaque-id-1  created=2001-09-09T01:46:40+00:00")
    assert kept not in listed.stdout + plain.stdout

    cleared = _cli("--store", f"sqlite:{path}", "clear-expired")
    assert (cleared.returncode, cleared.stdout) == (0, "removed 1 expired sessions\n")

    revoked = _cli("--store", str(path), "revoke", "7")
    assert (revoked.returncode, revoked.stdout) == (0, "revoked 1 sessions of user 7\n")
    assert store.load(kept) is None
    assert store.load(other) == {"_auth_user_id": 8}
    store.close()


def test_cli_works_on_redis(redis_server: Server) -> None:
    prefix = f"cli:{uuid.uuid4().hex}:"
    from reqsignals.auth import RedisStore

    store = RedisStore(redis_server.url, prefix=prefix)
    token = store.create({"_auth_user_id": "ada"}, 600)
    args = ("--store", redis_server.url, "--prefix", prefix)
    assert _cli(*args, "list", "ada").stdout.count("id=") == 1
    assert _cli(*args, "revoke", "ada").stdout == "revoked 1 sessions of user ada\n"
    assert store.load(token) is None
    assert _cli(*args, "clear-expired").stdout == "removed 0 expired sessions\n"
    store.close()


@pytest.mark.parametrize(
    ("store", "message"),
    [
        pytest.param("missing.db", "no session database at 'missing.db'", id="missing-file"),
        pytest.param("sqlite:", "needs a SQLite file or a redis:// URL", id="empty"),
        pytest.param("redis://127.0.0.1:1/0", "unreachable", id="redis-down"),
    ],
)
def test_cli_explains_a_store_it_cannot_use(store: str, message: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reqsignals", "sessions", "--store", store, "list", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode in (1, 2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_end_sessions_changes_only_that_users_session_hash(tmp_path: Path) -> None:
    from reqsignals.auth import MemoryBackend, session_auth_hash

    for backend in (MemoryBackend(hasher=CHEAP), SQLiteBackend(tmp_path / "u.db", hasher=CHEAP)):
        ada = backend.create_user("ada", PASSWORD)
        bob = backend.create_user("bob", PASSWORD)
        before = (session_auth_hash(ada, SECRET), session_auth_hash(bob, SECRET))
        changed = backend.end_sessions(ada)
        assert changed.session_salt
        assert changed.session_salt not in repr(changed)
        assert session_auth_hash(changed, SECRET) != before[0]
        again = backend.get_user(ada.id)
        assert again is not None
        assert session_auth_hash(again, SECRET) == session_auth_hash(changed, SECRET)
        assert session_auth_hash(backend.get_user(bob.id), SECRET) == before[1]
        with pytest.raises(LookupError):
            backend.end_sessions("nobody")


def test_a_users_file_from_before_session_salts_gains_the_column(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE reqsignals_users (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT "
        "NOT NULL UNIQUE, password_hash TEXT NOT NULL, is_active INTEGER NOT NULL DEFAULT 1, "
        "created TEXT NOT NULL DEFAULT '', updated TEXT NOT NULL DEFAULT '')"
    )
    conn.commit()
    conn.close()
    backend = SQLiteBackend(path, hasher=CHEAP)
    ada = backend.create_user("ada", PASSWORD)
    assert backend.end_sessions(ada).session_salt
    backend.close()


def test_a_sessions_file_from_before_the_index_gains_the_column(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old-sessions.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE reqsignals_sessions (key TEXT PRIMARY KEY, data TEXT NOT NULL, "
        "expires REAL NOT NULL)"
    )
    conn.execute(
        "INSERT INTO reqsignals_sessions VALUES ('old-key', '{\"n\": 1}', ?)", (time.time() + 60,)
    )
    conn.commit()
    conn.close()
    store = SQLiteStore(path)
    assert store.load("old-key") == {"n": 1}
    token = store.create({"_auth_user_id": 3}, 60)
    assert [t for t, _ in store.user_sessions(3)] == [token]
    store.close()


class TwoBackendRig(Rig):
    """ada is user 1 of the staff file, bob user 1 of the customers file."""

    def __init__(self, kind: str, store: SessionStore, tmp_path: Path) -> None:
        super().__init__(kind, store, tmp_path)
        self.customers = SQLiteBackend(tmp_path / f"customers-{uuid.uuid4().hex}.db", hasher=CHEAP)
        self.carol = self.customers.create_user("carol", PASSWORD)
        self.auth = SessionAuth(SECRET, store, backends=[self.users, self.customers])
        self.app = APPS[kind](self.auth, self.users)

    def close(self) -> None:
        super().close()
        self.customers.close()


@pytest.fixture(params=SERVER_STORES)
def two_backends(
    request: pytest.FixtureRequest, kind: str, make_store: StoreFactory, tmp_path: Path
) -> Iterator[TwoBackendRig]:
    made = TwoBackendRig(kind, make_store(request.param), tmp_path)
    yield made
    made.close()


def test_the_same_id_in_another_backend_is_another_users_sessions(
    two_backends: TwoBackendRig,
) -> None:
    rig = two_backends
    assert rig.ada.id == rig.carol.id == 1
    ada = [rig.login("ada") for _ in range(2)]
    carol = rig.login("carol")
    assert [s["current"] for s in sessions_of(carol)] == [True]
    carol_id = sessions_of(carol)[0]["id"]
    assert ada[0].post("/revoke", data={"id": carol_id}).json() == {"revoked": False}
    with capture(session_revoked) as sent:
        assert carol.post("/everywhere").json() == {"ended": 0}
        assert ada[0].post("/everywhere").json() == {"ended": 1}
    assert [call.kwargs["reason"] for call in sent] == ["logout_everywhere"]
    assert [client.get("/me").json()["user"] for client in (*ada, carol)] == [1, None, 1]
    assert ada[0].post("/password", data={"password": "a new passphrase"}).status_code == 200
    assert carol.get("/me").json() == {"user": 1}
    assert [s["id"] for s in sessions_of(carol)] == [carol_id]
