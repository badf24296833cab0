from __future__ import annotations

from typing import Any

import argon2
import pytest

from reqsignals.auth.hashers import MAX_PASSWORD_LENGTH, Argon2Hasher, Hasher
from tests.helpers.hashers import CountingPasswordHasher, cheap_hasher


@pytest.fixture
def counting() -> CountingPasswordHasher:
    return CountingPasswordHasher()


@pytest.fixture
def hasher(counting: CountingPasswordHasher) -> Argon2Hasher:
    return Argon2Hasher(password_hasher=counting)


def test_is_a_hasher() -> None:
    h: Hasher = cheap_hasher()
    assert h.max_password_length == MAX_PASSWORD_LENGTH == 4096


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("correct horse", id="ascii"),
        pytest.param("pässwörd ☃", id="unicode"),
        pytest.param(b"\x00\xffbytes", id="bytes"),
        pytest.param("", id="empty"),
        pytest.param("x" * MAX_PASSWORD_LENGTH, id="at-the-limit"),
    ],
)
def test_hash_then_verify(hasher: Argon2Hasher, password: str | bytes) -> None:
    encoded = hasher.hash(password)
    assert encoded.startswith("$argon2id$")
    assert hasher.verify(encoded, password)
    assert not hasher.verify(encoded, "wrong")
    assert hasher.hash(password) != encoded  # fresh salt


def test_parameters_reach_argon2() -> None:
    hasher = Argon2Hasher(time_cost=2, memory_cost=2048, parallelism=2, hash_len=16, salt_len=8)
    encoded = hasher.hash("p")
    assert "m=2048,t=2,p=2" in encoded
    params = argon2.extract_parameters(encoded)
    assert (params.hash_len, params.salt_len) == (16, 8)
    assert repr(hasher) == (
        "Argon2Hasher(time_cost=2, memory_cost=2048, parallelism=2, max_password_length=4096)"
    )


def test_library_defaults_by_default() -> None:
    default = argon2.PasswordHasher()
    ph = Argon2Hasher()._ph
    assert (ph.time_cost, ph.memory_cost, ph.parallelism) == (
        default.time_cost,
        default.memory_cost,
        default.parallelism,
    )


@pytest.mark.parametrize(
    ("password_hash", "password"),
    [
        pytest.param("not a hash", "p", id="garbage-hash"),
        pytest.param("", "p", id="empty-hash"),
        pytest.param("pbkdf2_sha256$600000$salt$abc", "p", id="foreign-hash"),
        pytest.param(None, "p", id="hash-none"),
        pytest.param("HASH", None, id="password-none"),
        pytest.param("HASH", 1234, id="password-int"),
        pytest.param("HASH", "\ud800", id="lone-surrogate"),
        pytest.param("TRUNCATED", "p", id="truncated-hash"),
    ],
)
def test_verify_never_raises(hasher: Argon2Hasher, password_hash: Any, password: Any) -> None:
    good = hasher.hash("p")
    if password_hash == "HASH":
        password_hash = good
    elif password_hash == "TRUNCATED":
        password_hash = good[:-4]
    assert hasher.verify(password_hash, password) is False


def test_over_long_password_fails_fast(
    hasher: Argon2Hasher, counting: CountingPasswordHasher
) -> None:
    encoded = hasher.hash("p")
    too_long = "p" * (MAX_PASSWORD_LENGTH + 1)
    counting.hashes = counting.verifies = 0
    assert hasher.verify(encoded, too_long) is False
    assert hasher.verify(encoded, too_long.encode()) is False
    assert hasher.dummy_verify(too_long) is False
    assert counting.verifies == 0
    assert counting.hashes == 0  # not even the dummy hash
    with pytest.raises(ValueError, match="longer than 4096 characters"):
        hasher.hash(too_long)
    assert counting.hashes == 0


def test_max_password_length_is_configurable(counting: CountingPasswordHasher) -> None:
    hasher = Argon2Hasher(password_hasher=counting, max_password_length=8)
    encoded = hasher.hash("12345678")
    assert hasher.verify(encoded, "12345678")
    assert not hasher.verify(encoded, "123456789")
    with pytest.raises(ValueError, match="longer than 8"):
        hasher.hash("123456789")
    with pytest.raises(ValueError, match="must be positive"):
        Argon2Hasher(max_password_length=0)


def test_hash_rejects_non_strings(hasher: Argon2Hasher) -> None:
    with pytest.raises(TypeError, match="str or bytes, not NoneType"):
        hasher.hash(None)  # type: ignore[arg-type]


def test_hash_rejects_unencodable(hasher: Argon2Hasher) -> None:
    with pytest.raises(ValueError):
        hasher.hash("\ud800")


def test_dummy_verify_does_the_same_work(
    hasher: Argon2Hasher, counting: CountingPasswordHasher
) -> None:
    assert hasher.dummy_verify("anything") is False
    assert hasher.dummy_verify("anything") is False
    # The first call's one computation is making the dummy hash; later ones verify it.
    assert counting.verifies == 1
    assert counting.hashes == 1
    dummy = hasher._dummy_hash
    assert dummy is not None
    # made with this hasher's parameters, so it costs what a real verify costs
    assert not hasher.needs_rehash(dummy)


def test_needs_rehash(hasher: Argon2Hasher) -> None:
    weaker = Argon2Hasher(time_cost=1, memory_cost=512, parallelism=1)
    assert not hasher.needs_rehash(hasher.hash("p"))
    assert hasher.needs_rehash(weaker.hash("p"))
    assert hasher.needs_rehash("not a hash")


def test_password_hasher_excludes_parameters(counting: CountingPasswordHasher) -> None:
    with pytest.raises(TypeError, match="not both"):
        Argon2Hasher(password_hasher=counting, time_cost=2)


def argon2_runs(counting: CountingPasswordHasher) -> int:
    return counting.hashes + counting.verifies


@pytest.mark.parametrize("backend_kind", ["memory", "sqlite"])
def test_the_first_unknown_user_costs_what_a_wrong_password_costs(
    backend_kind: str, tmp_path: Any
) -> None:
    # Each refusal is one run of Argon2 with the hasher's parameters, the first unknown
    # user of the process included (it used to cost a hash and a verify: twice).
    from reqsignals.auth import MemoryBackend, SQLiteBackend

    counting = CountingPasswordHasher()
    hasher = Argon2Hasher(password_hasher=counting)
    backend: Any
    if backend_kind == "memory":
        backend = MemoryBackend(hasher=hasher)
        backend.create_user("ada", "right")
    else:
        backend = SQLiteBackend(str(tmp_path / "users.db"), hasher=hasher)
        backend.create_user("ada", "right")
    try:
        costs = []
        for username, password in [("nobody", "x"), ("ada", "wrong"), ("nobody2", "x")]:
            before = argon2_runs(counting)
            assert backend.authenticate(None, username=username, password=password) is None
            costs.append(argon2_runs(counting) - before)
        assert costs == [1, 1, 1]
    finally:
        if backend_kind == "sqlite":
            backend.close()
