"""Usernames an attacker chooses: over-long ones and unencodable ones are ordinary
failed logins in every built-in backend, refused before any normalisation."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reqsignals.auth import (
    MemoryBackend,
    MemoryStore,
    SessionAuth,
    SQLiteBackend,
    authenticate,
)
from reqsignals.auth.backends import MAX_USERNAME_LENGTH
from reqsignals.auth.hashers import Argon2Hasher
from reqsignals.signals import user_login_failed
from tests.live_apps.auth_apps import SECRET

CHEAP = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)
# U+FDFA grows 18 times under NFKC: a megabyte of it used to stall a request.
SWELLING = "\ufdfa"


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    made: Any
    if request.param == "memory":
        made = MemoryBackend(hasher=CHEAP)
    else:
        made = SQLiteBackend(str(tmp_path / "users.db"), hasher=CHEAP)
    made.create_user("ada", "pw")
    yield made
    if request.param == "sqlite":
        made.close()


@pytest.fixture
def normalised(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every username the backends normalise (the real NFKC runs)."""
    seen: list[int] = []
    real = unicodedata.normalize

    def spy(form: Any, text: str) -> str:
        seen.append(len(text))
        return real(form, text)

    monkeypatch.setattr(unicodedata, "normalize", spy)
    return seen


def test_the_documented_limit() -> None:
    assert MAX_USERNAME_LENGTH == 150


@pytest.mark.parametrize("length", [MAX_USERNAME_LENGTH + 1, 1_000_000])
def test_an_over_long_username_is_refused_before_normalisation(
    backend: Any, normalised: list[int], length: int
) -> None:
    start = time.perf_counter()
    assert backend.authenticate(None, username=SWELLING * length, password="pw") is None
    assert time.perf_counter() - start < 0.05
    assert normalised == []


def test_a_username_at_the_limit_logs_in(backend: Any, normalised: list[int]) -> None:
    name = "a" * MAX_USERNAME_LENGTH
    backend.create_user(name, "pw")
    assert backend.authenticate(None, username=name, password="pw").username == name
    assert normalised[-1] == MAX_USERNAME_LENGTH


@pytest.mark.parametrize("username", ["\udcff", "ada\ud800", "\udfff" * 3])
def test_an_unencodable_username_is_an_ordinary_failed_login(backend: Any, username: str) -> None:
    assert backend.authenticate(None, username=username, password="pw") is None


@pytest.mark.parametrize(
    "username",
    [SWELLING * (MAX_USERNAME_LENGTH + 1), "\udcff"],
    ids=["over-long", "lone-surrogate"],
)
def test_through_authenticate_the_failure_is_signalled(backend: Any, username: str) -> None:
    # What a JSON login body can carry: user_login_failed is sent, no exception, no 500.
    auth = SessionAuth(SECRET, MemoryStore(), backends=[backend])
    environ = {"reqsignals.auth": auth, "reqsignals.session": auth.open_session(None)}
    heard: list[dict[str, Any]] = []
    with user_login_failed.connected_to(lambda sender, **kw: heard.append(kw)):
        assert authenticate(environ, username=username, password="pw") is None
    assert len(heard) == 1
    assert heard[0]["credentials"]["password"] == "********************"


@pytest.mark.parametrize(
    ("username", "message"),
    [
        pytest.param("a" * (MAX_USERNAME_LENGTH + 1), "at most 150 characters", id="long"),
        pytest.param("\udcff", "encodable as UTF-8", id="surrogate"),
    ],
)
def test_such_users_cannot_be_created(backend: Any, username: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        backend.create_user(username, "pw")
