from __future__ import annotations

import asyncio
import inspect
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import argon2
import pytest

from reqsignals.auth.backends import (
    AuthBackend,
    MemoryBackend,
    SQLiteBackend,
    User,
    session_auth_hash,
)
from reqsignals.auth.hashers import MAX_PASSWORD_LENGTH, Argon2Hasher
from reqsignals.signals import connection_created
from reqsignals.testing import capture
from tests.helpers.hashers import CountingPasswordHasher
from tests.helpers.support import write_locked_new_sqlite_file

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def work() -> CountingPasswordHasher:
    return CountingPasswordHasher()


@pytest.fixture
def hasher(work: CountingPasswordHasher) -> Argon2Hasher:
    hasher = Argon2Hasher(password_hasher=work)
    hasher.dummy_verify("warm-up")  # make the dummy hash now, so counts below are per call
    work.reset()
    return hasher


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "users.db"


@pytest.fixture(params=["memory", "sqlite"])
def backend(
    request: pytest.FixtureRequest, hasher: Argon2Hasher, db_path: Path
) -> Iterator[MemoryBackend | SQLiteBackend]:
    if request.param == "memory":
        yield MemoryBackend(hasher=hasher)
        return
    sqlite_backend = SQLiteBackend(db_path, hasher=hasher)
    yield sqlite_backend
    sqlite_backend.close()


def _create(
    backend: MemoryBackend | SQLiteBackend, username: str, password: str, **kw: Any
) -> User:
    return backend.create_user(username, password, **kw)


# -- the flow both built-ins share -------------------------------------------------------


def test_builtins_are_auth_backends(backend: MemoryBackend | SQLiteBackend) -> None:
    checked: AuthBackend = backend
    assert callable(checked.authenticate)
    assert callable(checked.get_user)


def test_authenticate_and_get_user(backend: MemoryBackend | SQLiteBackend) -> None:
    ada = _create(backend, "ada", "correct horse")
    assert ada.id >= 1
    assert ada.password_hash.startswith("$argon2id$")
    user = backend.authenticate(None, username="ada", password="correct horse")
    assert user == ada
    assert backend.get_user(ada.id) == ada
    assert backend.get_user(str(ada.id)) == ada


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("ada", "wrong", id="wrong-password"),
        pytest.param("ADA", "correct horse", id="username-is-case-sensitive"),
        pytest.param("nobody", "correct horse", id="unknown-user"),
        pytest.param("ada", "", id="empty-password"),
    ],
)
def test_bad_credentials_give_none_after_one_verification(
    backend: MemoryBackend | SQLiteBackend,
    work: CountingPasswordHasher,
    username: str,
    password: str,
) -> None:
    _create(backend, "ada", "correct horse")
    work.reset()
    assert backend.authenticate(None, username=username, password=password) is None
    # Known or not, the same argon2 work runs once (unknown users: the dummy hash).
    assert (work.verifies, work.hashes) == (1, 0)


def test_unknown_user_runs_the_dummy_verification(
    backend: MemoryBackend | SQLiteBackend, hasher: Argon2Hasher, work: CountingPasswordHasher
) -> None:
    assert backend.authenticate(None, username="ghost", password="boo") is None
    assert work.verifies == 1
    dummy = hasher._dummy_hash
    assert dummy is not None
    assert argon2.extract_parameters(dummy) == argon2.extract_parameters(hasher.hash("x"))


@pytest.mark.parametrize(
    "username", [pytest.param("ada", id="known"), pytest.param("ghost", id="unknown")]
)
@pytest.mark.parametrize("kind", [pytest.param(str, id="str"), pytest.param(bytes, id="bytes")])
def test_over_long_password_fails_fast_without_hashing(
    backend: MemoryBackend | SQLiteBackend,
    work: CountingPasswordHasher,
    username: str,
    kind: type,
) -> None:
    _create(backend, "ada", "correct horse")
    work.reset()
    too_long = "x" * (MAX_PASSWORD_LENGTH + 1)
    password = too_long if kind is str else too_long.encode()
    assert backend.authenticate(None, username=username, password=password) is None
    assert (work.verifies, work.hashes) == (0, 0)


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param(None, "p", id="username-none"),
        pytest.param(["ada"], "p", id="username-list"),
        pytest.param("ada", None, id="password-none"),
        pytest.param("ada", 1234, id="password-int"),
    ],
)
def test_malformed_credentials_give_none(
    backend: MemoryBackend | SQLiteBackend, username: Any, password: Any
) -> None:
    _create(backend, "ada", "p")
    assert backend.authenticate(None, username=username, password=password) is None


def test_bytes_password(backend: MemoryBackend | SQLiteBackend) -> None:
    ada = _create(backend, "ada", "pässword")
    assert backend.authenticate(None, username="ada", password="pässword".encode()) == ada


def test_inactive_user_does_not_authenticate_but_costs_the_same(
    backend: MemoryBackend | SQLiteBackend, work: CountingPasswordHasher
) -> None:
    ada = _create(backend, "ada", "p", is_active=False)
    work.reset()
    assert backend.authenticate(None, username="ada", password="p") is None
    assert work.verifies == 1
    assert backend.get_user(ada.id) is None
    backend.set_active("ada", True)
    assert backend.authenticate(None, username="ada", password="p") is not None
    backend.set_active(ada, False)
    assert backend.get_user(ada.id) is None


def test_set_password(backend: MemoryBackend | SQLiteBackend) -> None:
    ada = _create(backend, "ada", "old")
    changed = backend.set_password("ada", "new")
    assert changed.id == ada.id
    assert changed.password_hash != ada.password_hash
    assert backend.authenticate(None, username="ada", password="old") is None
    assert backend.authenticate(None, username="ada", password="new") == changed
    again = backend.set_password(changed, "newer")
    assert backend.authenticate(None, username="ada", password="newer") == again
    # A password change changes the session hash: other sessions end.
    assert session_auth_hash(ada, "k") != session_auth_hash(again, "k")
    assert session_auth_hash(backend.get_user(ada.id), "k") == session_auth_hash(again, "k")


FULLWIDTH_ADA = "\uff41\uff44\uff41"  # "ada" in full-width letters
FULLWIDTH_USER = "\uff55\uff53\uff45\uff52"
TOO_LONG = "x" * (MAX_PASSWORD_LENGTH + 1)
GHOST = User(999, "ghost", "h")


@pytest.mark.parametrize(
    ("method", "args", "error", "match"),
    [
        pytest.param("set_password", ("ghost", "p"), LookupError, "'ghost'", id="set-pw-unknown"),
        pytest.param("set_active", ("ghost", True), LookupError, "'ghost'", id="active-unknown"),
        pytest.param("set_password", (GHOST, "p"), LookupError, "no user", id="pw-unknown-user"),
        pytest.param("create_user", ("ada", "other"), ValueError, "already exists", id="duplicate"),
        pytest.param("create_user", (FULLWIDTH_ADA, "o"), ValueError, "exists", id="dup-nfkc"),
        pytest.param("create_user", ("", "p"), ValueError, "non-empty str", id="empty-username"),
        pytest.param("create_user", (None, "p"), ValueError, "non-empty str", id="username-none"),
        pytest.param("create_user", ("bob", ""), ValueError, "non-empty", id="empty-password"),
        pytest.param("set_password", ("ada", ""), ValueError, "non-empty", id="set-empty-password"),
        pytest.param("create_user", ("bob", TOO_LONG), ValueError, "longer than", id="too-long"),
    ],
)  # fmt: skip
def test_user_management_errors(
    backend: MemoryBackend | SQLiteBackend,
    method: str,
    args: tuple[Any, ...],
    error: type[Exception],
    match: str,
) -> None:
    _create(backend, "ada", "p")
    with pytest.raises(error, match=match):
        getattr(backend, method)(*args)


def test_usernames_are_nfkc_normalised(backend: MemoryBackend | SQLiteBackend) -> None:
    user = _create(backend, FULLWIDTH_USER, "p")
    assert user.username == "user"
    assert backend.authenticate(None, username="user", password="p") == user
    assert backend.authenticate(None, username=FULLWIDTH_USER, password="p") == user


@pytest.mark.parametrize(
    "user_id",
    [
        pytest.param(None, id="none"),
        pytest.param(True, id="bool"),
        pytest.param(0, id="zero"),
        pytest.param(-1, id="negative"),
        pytest.param(2**63, id="beyond-sqlite-int"),
        pytest.param("1a", id="not-digits"),
        pytest.param("\u0661", id="arabic-indic-digit"),
        pytest.param(1.0, id="float"),
        pytest.param(999, id="missing"),
    ],
)
def test_get_user_unknown_ids(backend: MemoryBackend | SQLiteBackend, user_id: Any) -> None:
    _create(backend, "ada", "p")
    assert backend.get_user(user_id) is None


def test_signature_names_the_credentials(backend: MemoryBackend | SQLiteBackend) -> None:
    # SessionAuth skips a backend whose signature cannot take the credentials given.
    signature = inspect.signature(backend.authenticate)
    signature.bind(None, username="a", password="b")
    with pytest.raises(TypeError):
        signature.bind(None, token="t")
    with pytest.raises(TypeError):
        signature.bind(None, username="a")


def test_weaker_hash_is_upgraded_on_login(
    backend: MemoryBackend | SQLiteBackend, hasher: Argon2Hasher
) -> None:
    weak = Argon2Hasher(time_cost=1, memory_cost=512, parallelism=1)
    strong = backend.hasher
    backend.hasher = weak
    old = _create(backend, "ada", "p")
    backend.hasher = strong
    assert hasher.needs_rehash(old.password_hash)
    user = backend.authenticate(None, username="ada", password="p")
    assert user is not None
    assert not hasher.needs_rehash(user.password_hash)
    stored = backend.get_user(old.id)
    assert stored is not None
    assert stored.password_hash == user.password_hash != old.password_hash


def test_upgrade_does_not_overwrite_a_concurrent_password_change(
    backend: MemoryBackend | SQLiteBackend,
) -> None:
    ada = _create(backend, "ada", "p")
    changed = backend.set_password("ada", "new")
    backend._replace_hash(ada, "stale-upgrade")  # the upgrade of the old hash arrives late
    stored = backend.get_user(ada.id)
    assert stored is not None
    assert stored.password_hash == changed.password_hash


def test_async_twins_run_in_a_worker_thread(
    backend: MemoryBackend | SQLiteBackend, work: CountingPasswordHasher
) -> None:
    ada = _create(backend, "ada", "p")
    work.reset()

    async def main() -> tuple[Any, Any, Any, int]:
        user = await backend.aauthenticate(None, username="ada", password="p")
        missing = await backend.aauthenticate(None, username="ghost", password="p")
        loaded = await backend.aget_user(ada.id)
        return user, missing, loaded, threading.get_ident()

    user, missing, loaded, loop_thread = asyncio.run(main())
    assert user == loaded == ada
    assert missing is None
    assert work.verifies == 2
    assert loop_thread not in work.threads


# -- users -----------------------------------------------------------------------------


def test_user_attributes() -> None:
    user = User(7, "ada", "$argon2id$secret-hash")
    assert (user.pk, user.identity, user.display_name) == (7, "7", "ada")
    assert user.is_authenticated is True
    assert user.is_active is True
    assert "secret-hash" not in repr(user)


def test_memory_backend_extra_and_copies(hasher: Argon2Hasher) -> None:
    backend = MemoryBackend(hasher=hasher)
    ada = backend.create_user("ada", "p", email="ada@example.com")
    assert ada.extra == {"email": "ada@example.com"}
    ada.extra["email"] = "changed"
    ada.is_active = False
    loaded = backend.get_user(ada.id)
    assert loaded is not None
    assert loaded.extra == {"email": "ada@example.com"}
    assert loaded.is_active


def test_memory_backend_ids_are_never_reused(hasher: Argon2Hasher) -> None:
    backend = MemoryBackend(hasher=hasher)
    ids = [backend.create_user(name, "p").id for name in ("a", "b", "c")]
    assert ids == [1, 2, 3]


def test_default_hasher_is_argon2_with_library_defaults(db_path: Path) -> None:
    for backend in (MemoryBackend(), SQLiteBackend(db_path)):
        assert isinstance(backend.hasher, Argon2Hasher)
        assert backend.hasher._ph.memory_cost == argon2.PasswordHasher().memory_cost


# -- SQLite ----------------------------------------------------------------------------


@pytest.fixture
def sqlite_backend(db_path: Path, hasher: Argon2Hasher) -> Iterator[SQLiteBackend]:
    backend = SQLiteBackend(db_path, hasher=hasher)
    yield backend
    backend.close()


def test_sqlite_schema_and_wal(sqlite_backend: SQLiteBackend, db_path: Path) -> None:
    sqlite_backend.create_user("ada", "p")
    conn = sqlite3.connect(db_path)
    try:
        columns = {row[1]: row[2] for row in conn.execute("PRAGMA table_info(reqsignals_users)")}
        assert columns == {
            "id": "INTEGER",
            "username": "TEXT",
            "password_hash": "TEXT",
            "is_active": "INTEGER",
            "created": "TEXT",
            "updated": "TEXT",
            "session_salt": "TEXT",
        }
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        created, updated = conn.execute("SELECT created, updated FROM reqsignals_users").fetchone()
        assert created.endswith("Z")
        assert created == updated
    finally:
        conn.close()


def test_sqlite_users_survive_a_new_backend(db_path: Path, hasher: Argon2Hasher) -> None:
    first = SQLiteBackend(db_path, hasher=hasher)
    ada = first.create_user("ada", "p")
    first.close()
    second = SQLiteBackend(db_path, hasher=hasher)
    try:
        assert second.authenticate(None, username="ada", password="p") == ada
    finally:
        second.close()


def test_sqlite_updated_changes_with_the_password(
    sqlite_backend: SQLiteBackend, db_path: Path
) -> None:
    ada = sqlite_backend.create_user("ada", "p")
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE reqsignals_users SET updated = 'then' WHERE id = ?", (ada.id,))
    sqlite_backend.set_password(ada, "q")
    with sqlite3.connect(db_path) as conn:
        (updated,) = conn.execute("SELECT updated FROM reqsignals_users").fetchone()
    conn.close()
    assert updated != "then"


def test_sqlite_ids_are_never_reused(sqlite_backend: SQLiteBackend) -> None:
    first = sqlite_backend.create_user("a", "p")
    second = sqlite_backend.create_user("b", "p")
    assert sqlite_backend.delete_user("b") is True
    assert sqlite_backend.delete_user(second) is False
    assert sqlite_backend.get_user(second.id) is None
    third = sqlite_backend.create_user("c", "p")
    assert third.id > second.id > first.id
    assert sqlite_backend.delete_user(first) is True
    assert sqlite_backend.authenticate(None, username="a", password="p") is None


def test_sqlite_custom_table(db_path: Path, hasher: Argon2Hasher) -> None:
    users = SQLiteBackend(db_path, hasher=hasher, table="accounts")
    staff = SQLiteBackend(db_path, hasher=hasher, table="staff")
    try:
        users.create_user("ada", "p")
        assert staff.authenticate(None, username="ada", password="p") is None
        assert users.authenticate(None, username="ada", password="p") is not None
        assert repr(users) == f"SQLiteBackend({str(db_path)!r}, table='accounts')"
    finally:
        users.close()
        staff.close()


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        pytest.param((":memory:",), {}, "use MemoryBackend", id="memory"),
        pytest.param(("",), {}, "use MemoryBackend", id="empty-path"),
        pytest.param(("x.db",), {"table": "users; DROP TABLE x"}, "plain SQL name", id="bad-table"),
        pytest.param(("x.db",), {"table": '"quoted"'}, "plain SQL name", id="quoted-table"),
    ],
)
def test_sqlite_rejects_bad_configuration(
    args: tuple[Any, ...], kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        SQLiteBackend(*args, **kwargs)


def test_connection_created_is_sent_once_per_connection(
    sqlite_backend: SQLiteBackend,
) -> None:
    seen: list[sqlite3.Connection] = []

    def setup(sender: Any, connection: sqlite3.Connection, **kwargs: Any) -> None:
        # Receivers run set-up commands before the backend uses the connection.
        connection.execute("PRAGMA foreign_keys = ON")
        seen.append(connection)

    with capture(connection_created) as sent, connection_created.connected_to(setup):
        sqlite_backend.create_user("ada", "p")
        sqlite_backend.authenticate(None, username="ada", password="p")
        sqlite_backend.get_user(1)
    record = sent.assert_sent(connection_created, times=1, sender=SQLiteBackend)
    conn = record.kwargs["connection"]
    assert isinstance(conn, sqlite3.Connection)
    assert seen == [conn]
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA busy_timeout").fetchone() == (5000,)


def test_connection_created_sender_is_the_subclass(db_path: Path, hasher: Argon2Hasher) -> None:
    class Mine(SQLiteBackend):
        pass

    backend = Mine(db_path, hasher=hasher)
    try:
        with capture(connection_created) as sent:
            backend.get_user(1)
        sent.assert_sent(connection_created, times=1, sender=Mine)
    finally:
        backend.close()


def test_failing_connection_created_receiver_closes_the_connection(
    sqlite_backend: SQLiteBackend,
) -> None:
    opened: list[sqlite3.Connection] = []

    def broken(sender: Any, connection: sqlite3.Connection, **kwargs: Any) -> None:
        opened.append(connection)
        raise RuntimeError("set-up failed")

    with (
        connection_created.connected_to(broken),
        pytest.raises(RuntimeError, match="set-up failed"),
    ):
        sqlite_backend.get_user(1)
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        opened[0].execute("SELECT 1")
    assert sqlite_backend._connections.idle == []
    # Without the receiver the backend works again.
    sqlite_backend.create_user("ada", "p")
    assert sqlite_backend.authenticate(None, username="ada", password="p") is not None


def test_close_then_reuse(sqlite_backend: SQLiteBackend) -> None:
    sqlite_backend.create_user("ada", "p")
    idle = list(sqlite_backend._connections.idle)
    assert len(idle) == 1
    sqlite_backend.close()
    with pytest.raises(sqlite3.ProgrammingError):
        idle[0].execute("SELECT 1")
    with capture(connection_created) as sent:
        assert sqlite_backend.authenticate(None, username="ada", password="p") is not None
    sent.assert_sent(connection_created, times=1)


def test_sqlite_threads(db_path: Path, hasher: Argon2Hasher) -> None:
    """8 threads, two backends on one file: create users, authenticate everyone's."""
    backends = [SQLiteBackend(db_path, hasher=hasher, pool_size=2) for _ in range(2)]
    per_thread = 5
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    created: dict[str, int] = {}
    lock = threading.Lock()

    def worker(n: int) -> None:
        backend = backends[n % 2]
        try:
            barrier.wait(timeout=30)
            for i in range(per_thread):
                name = f"t{n}-u{i}"
                user = backend.create_user(name, f"pw-{name}")
                with lock:
                    created[name] = user.id
                assert backend.authenticate(None, username=name, password=f"pw-{name}") == user
                assert backend.authenticate(None, username=name, password="wrong") is None
                other = f"t{(n + 1) % 8}-u{i}"
                # The neighbour's user may or may not exist yet; it must never be wrong.
                found = backend.authenticate(None, username=other, password=f"pw-{other}")
                assert found is None or found.username == other
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert not errors, errors
        assert not any(t.is_alive() for t in threads)
        assert len(created) == 8 * per_thread
        assert len(set(created.values())) == 8 * per_thread
        for name, user_id in created.items():
            user = backends[0].get_user(user_id)
            assert user is not None
            assert user.username == name
        assert all(len(b._connections.idle) <= 2 for b in backends)
    finally:
        for b in backends:
            b.close()


_PROCESS_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from reqsignals.auth.backends import SQLiteBackend
    from tests.helpers.hashers import cheap_hasher

    path, me, other, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    backend = SQLiteBackend(path, hasher=cheap_hasher())
    for i in range(count):
        name = f"{me}-{i}"
        user = backend.create_user(name, "pw-" + name)
        assert backend.authenticate(None, username=name, password="pw-" + name) == user
    # Wait for the other process's users, then log them in from here.
    deadline = time.monotonic() + 30
    for i in range(count):
        name = f"{other}-{i}"
        while backend.authenticate(None, username=name, password="pw-" + name) is None:
            assert time.monotonic() < deadline, f"{me} never saw {name}"
            time.sleep(0.01)
    backend.close()
    print("ok", me)
    """
)


def test_sqlite_two_processes_share_one_file(db_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS_SCRIPT, str(db_path), me, other, "15"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for me, other in (("a", "b"), ("b", "a"))
    ]
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=90)
            results.append((proc.returncode, out.strip(), err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [(code, out) for code, out, _ in results] == [(0, "ok a"), (0, "ok b")], results
    with sqlite3.connect(db_path) as conn:
        (count,) = conn.execute("SELECT count(*) FROM reqsignals_users").fetchone()
    conn.close()
    assert count == 30


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_sqlite_connections_are_not_shared_across_fork(sqlite_backend: SQLiteBackend) -> None:
    if threading.active_count() > 1:
        pytest.skip("other threads are running; fork() would be unsafe")
    sqlite_backend.create_user("ada", "p")
    parent_conn = sqlite_backend._connections.idle[0]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            with capture(connection_created) as sent:
                ok = sqlite_backend.authenticate(None, username="ada", password="p") is not None
            fresh = len(sent.of(connection_created)) == 1
            kept = (
                sqlite_backend._connections.inherited == [parent_conn]
                and parent_conn not in sqlite_backend._connections.idle
            )
            code = 0 if ok and fresh and kept else 2
        finally:
            os.write(write, bytes([code]))
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    result = os.read(read, 1)
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    assert result == b"\x00"
    # The parent's connection still works in the parent.
    assert parent_conn.execute("SELECT count(*) FROM reqsignals_users").fetchone() == (1,)


def test_concurrent_creates_of_one_name_make_one_user(
    backend: MemoryBackend | SQLiteBackend,
) -> None:
    barrier = threading.Barrier(8)
    results: list[object] = []

    def create() -> None:
        barrier.wait(timeout=30)
        try:
            results.append(backend.create_user("same", "p"))
        except ValueError as exc:
            results.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    users = [r for r in results if isinstance(r, User)]
    errors = [r for r in results if isinstance(r, ValueError)]
    assert len(users) == 1
    assert len(errors) == 7
    assert all("already exists" in str(e) for e in errors)


def test_permission_denied_is_an_auth_error() -> None:
    from reqsignals.auth.exceptions import AuthError, PermissionDenied

    class LockoutBackend:
        def authenticate(self, request: object, *, username: str, password: str) -> None:
            raise PermissionDenied(f"{username} is locked out")

        def get_user(self, user_id: object) -> None:
            return None

    backend: AuthBackend = LockoutBackend()
    with pytest.raises(AuthError, match="ada is locked out") as info:
        backend.authenticate(None, username="ada", password="p")
    assert type(info.value) is PermissionDenied
    assert issubclass(PermissionDenied, Exception)


@pytest.fixture
def reserved_lock(db_path: Path) -> Iterator[sqlite3.Connection]:
    with write_locked_new_sqlite_file(db_path) as holder:
        yield holder


def test_switch_to_wal_waits_for_another_writer(
    reserved_lock: sqlite3.Connection, db_path: Path, hasher: Argon2Hasher
) -> None:
    # SQLite fails the switch to WAL at once, without busy_timeout, while another
    # connection holds a write lock (seen with two processes opening a new file).
    backend = SQLiteBackend(db_path, hasher=hasher)
    release = threading.Timer(0.2, reserved_lock.execute, ("COMMIT",))
    release.start()
    try:
        assert backend.get_user(1) is None
        conn = backend._connections.idle[0]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        release.join()
        backend.close()


def test_switch_to_wal_gives_up_after_the_timeout(
    reserved_lock: sqlite3.Connection, db_path: Path, hasher: Argon2Hasher
) -> None:
    backend = SQLiteBackend(db_path, hasher=hasher, timeout=0.2)
    began = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        backend.get_user(1)
    waited = time.monotonic() - began
    assert 0.2 <= waited < 2, waited  # it waited, and for about timeout= in all
    assert backend._connections.idle == []
