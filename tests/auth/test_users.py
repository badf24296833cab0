from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from reqsignals.auth.users import User, session_auth_hash, session_auth_hash_matches

ADA = User(1, "ada", "$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA")


def test_session_auth_hash_is_an_hmac_of_the_password_hash() -> None:
    digest = session_auth_hash(ADA, "key")
    assert digest is not None
    assert len(digest) == 64
    assert ADA.password_hash not in digest
    expected = hmac.new(
        b"key",
        b"reqsignals.auth.session_auth_hash\x00" + ADA.password_hash.encode(),
        hashlib.sha256,
    ).hexdigest()
    assert digest == expected


@pytest.mark.parametrize(
    ("other", "key", "same"),
    [
        pytest.param(ADA, "key", True, id="same-user-same-key"),
        pytest.param(ADA, b"key", True, id="bytes-key"),
        pytest.param(User(2, "bob", ADA.password_hash), "key", True, id="depends-only-on-hash"),
        pytest.param(User(1, "ada", ADA.password_hash + "x"), "key", False, id="password-changed"),
        pytest.param(ADA, "other-key", False, id="other-key"),
    ],
)
def test_session_auth_hash_changes_with_hash_and_key(other: User, key: Any, same: bool) -> None:
    assert (session_auth_hash(other, key) == session_auth_hash(ADA, "key")) is same


def test_users_without_a_hash_have_no_session_hash() -> None:
    class Plain:
        id = 3

    class EmptyHash:
        id = 4
        password_hash = ""

    assert session_auth_hash(Plain(), "k") is None
    assert session_auth_hash(EmptyHash(), "k") is None
    assert session_auth_hash_matches(Plain(), None, "k")
    assert not session_auth_hash_matches(Plain(), "abc", "k")
    assert not session_auth_hash_matches(ADA, None, "k")


def test_user_method_wins() -> None:
    keys: list[bytes] = []

    class Custom:
        id = 5
        password_hash = "ignored"

        def get_session_auth_hash(self, secret_key: bytes) -> str:
            keys.append(secret_key)
            return "custom-" + secret_key.decode()

    assert session_auth_hash(Custom(), "k1") == "custom-k1"
    assert keys == [b"k1"]
    assert session_auth_hash_matches(Custom(), "custom-old", ["new", "old"])


def test_matches_with_rotated_keys() -> None:
    old = session_auth_hash(ADA, "old")
    assert session_auth_hash_matches(ADA, old, ["new", "old"])
    assert session_auth_hash_matches(ADA, old, "old")
    assert session_auth_hash_matches(ADA, old, [b"old"])
    assert not session_auth_hash_matches(ADA, old, ["new"])
    changed = User(1, "ada", ADA.password_hash + "x")
    assert not session_auth_hash_matches(changed, old, ["new", "old"])


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(123, id="int"),
        pytest.param(b"abc", id="bytes"),
        pytest.param("", id="empty"),
        pytest.param("\ud800", id="lone-surrogate"),
        pytest.param("é" * 64, id="non-ascii"),
    ],
)
def test_matches_rejects_junk(stored: Any) -> None:
    assert not session_auth_hash_matches(ADA, stored, ["k"])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda: session_auth_hash(ADA, ""), "must not be empty", id="empty-key"),
        pytest.param(lambda: session_auth_hash(ADA, b""), "must not be empty", id="empty-bytes"),
        pytest.param(lambda: session_auth_hash_matches(ADA, "x", []), "at least one", id="no-keys"),
        pytest.param(
            lambda: session_auth_hash_matches(ADA, "x", ["k", ""]), "empty", id="empty-in-list"
        ),
    ],
)
def test_bad_secret_keys(call: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
