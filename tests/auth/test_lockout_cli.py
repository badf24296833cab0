"""``reqsignals lockout list|reset`` on SQLite files, Redis and an app's SessionAuth."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from reqsignals.auth import MemoryStore, SessionAuth
from reqsignals.auth.lockout import Count, FailureCounter, Lockout, MemoryCounter, username_key
from reqsignals.auth.lockout.redis import RedisCounter
from reqsignals.auth.lockout.sqlite import SQLiteCounter
from reqsignals.cli import main
from tests.helpers.support import ROOT, Server, free_port

_ADA = username_key("ada")
assert _ADA is not None
ADA: tuple[str, str] = _ADA


def fill(counter: FailureCounter) -> None:
    """ada locked (3 of 3), the address counting (3 of 10), bob counting (1 of 3)."""
    ada = Count(ADA[0], "username", ADA[1], 3)
    client = Count("client:192.0.2.1", "client", "192.0.2.1", 10)
    for _ in range(3):
        counter.begin([ada, client], uuid.uuid4().hex, 600)
    counter.begin([Count("username:bob", "username", "bob", 3)], uuid.uuid4().hex, 600)


@pytest.fixture(params=["sqlite", "redis"])
def store_args(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    if request.param == "sqlite":
        path = tmp_path / "sessions.db"
        counter: FailureCounter = SQLiteCounter(path)
        args = ["--store", f"sqlite:{path}"]
    else:
        server: Server = request.getfixturevalue("redis_server")
        prefix = f"cli:{uuid.uuid4().hex}:"
        counter = RedisCounter(server.url, prefix=prefix)
        args = ["--store", server.url, "--prefix", prefix]
    fill(counter)
    counter.close()
    return args


def test_list_shows_locks_first_with_time_left(
    store_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lockout", "list", *store_args]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].split()[:3] == ["username", "ada", "3/3"]
    assert "locked, 9m 5" in lines[0] or "locked, 10m 00s" in lines[0]
    assert sorted(line.split()[1] for line in lines[1:]) == ["192.0.2.1", "bob"]
    assert all(line.endswith("counting") for line in lines[1:])


def test_list_json_and_locked_only(
    store_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lockout", "list", "--json", "--locked", *store_args]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {k: record[k] for k in ("kind", "label", "failures", "limit", "locked")} == {
        "kind": "username",
        "label": "ada",
        "failures": 3,
        "limit": 3,
        "locked": True,
    }
    assert 590 < record["retry_after"] <= 600


def test_list_prints_no_control_character_of_a_username_the_client_chose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A failed login's username is whatever the client typed: an ESC sequence there
    # must not reach the admin's terminal, nor a newline forge a line of the listing.
    forged = "mallory\x1b]0;pwned\x07\x1b[2J\nusername  root  3/3  locked\u202e"
    named = username_key(forged)
    assert named is not None
    path = tmp_path / "sessions.db"
    counter = SQLiteCounter(path)
    counter.begin([Count(named[0], "username", named[1], 3)], uuid.uuid4().hex, 600)
    counter.close()
    for extra in ([], ["--json"]):
        assert main(["lockout", "list", "--store", f"sqlite:{path}", *extra]) == 0
        out = capsys.readouterr().out
        assert out.count("\n") == 1
        assert not any(c in out for c in "\x1b\x07\u202e")
        assert "mallory" in out


def test_reset_a_username_in_any_spelling_then_an_address_then_all(
    store_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lockout", "reset", *store_args, "--username", "ADA"]) == 0
    assert capsys.readouterr().out == "lifted 1 count\n"
    assert main(["lockout", "list", "--locked", *store_args]) == 0
    assert capsys.readouterr().out == "no failed logins in the window locked\n"
    assert main(["lockout", "reset", *store_args, "--client", "192.0.2.1"]) == 0
    assert main(["lockout", "reset", *store_args, "--all"]) == 0
    assert capsys.readouterr().out == "lifted 1 count\nlifted 1 count\n"
    assert main(["lockout", "list", *store_args]) == 0
    assert capsys.readouterr().out == "no failed logins in the window\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reset", "--store", "x.db"], "reset takes --username and/or --client, or --all"),
        (
            ["reset", "--store", "x.db", "--all", "--username", "a"],
            "reset takes --username and/or --client, or --all",
        ),
        (["reset", "--store", "x.db", "--username", ""], "not a username that can be counted"),
        (["list", "--store", "sqlite:missing.db"], "no SQLite file at 'missing.db'"),
        (["list", "--app", "tests.auth.test_lockout_cli:ADA"], "is a tuple, not a SessionAuth"),
        (["list", "--app", "tests.auth.nowhere:auth"], "cannot import module"),
    ],
)
def test_mistakes_exit_2_with_one_line(
    argv: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    SQLiteCounter(tmp_path / "x.db").locks()  # makes the file
    assert main(["lockout", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reqsignals: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_a_store_that_is_down_exits_1_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert main(["lockout", "list", "--store", url]) == 1
    assert "the Redis lock-out counter at" in capsys.readouterr().err


#: Found by --app below.
auth = SessionAuth("cli-test-secret", MemoryStore(), lockout=Lockout(max_failures=3))
counter_only = MemoryCounter()


def test_app_names_the_session_auth_a_lockout_or_a_counter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    fill(auth.lockout.counter)  # type: ignore[union-attr]
    fill(counter_only)
    for name in ("auth", "auth.lockout", "counter_only"):
        assert main(["lockout", "list", "--app", f"tests.auth.test_lockout_cli:{name}"]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 3


def test_the_installed_command_runs_it(tmp_path: Path) -> None:
    fill(SQLiteCounter(tmp_path / "s.db"))
    done = subprocess.run(
        [sys.executable, "-m", "reqsignals", "lockout", "list", "--store", str(tmp_path / "s.db")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split()[:2] == ["username", "ada"]
