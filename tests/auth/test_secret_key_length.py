"""SessionAuth warns about a secret key shorter than MIN_SECRET_KEY_LENGTH bytes."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from reqsignals.auth import MemoryStore, SessionAuth, WeakSecretKeyWarning
from reqsignals.auth.config import MIN_SECRET_KEY_LENGTH
from tests.helpers.support import ROOT


def test_the_documented_minimum_is_32_bytes() -> None:
    assert MIN_SECRET_KEY_LENGTH == 32
    assert issubclass(WeakSecretKeyWarning, UserWarning)


@pytest.mark.parametrize(
    ("secret_key", "position"),
    [
        pytest.param("hunter2", "secret_key", id="one-short-str"),
        pytest.param(b"x" * 31, "secret_key", id="31-bytes"),
        pytest.param(["k" * 32, "0ld-k3y"], "secret_key[1]", id="short-old-key"),
        pytest.param("é" * 15, "secret_key", id="counted-in-utf8-bytes-30"),
    ],
)
def test_a_short_secret_key_warns_at_the_caller(secret_key: object, position: str) -> None:
    with pytest.warns(WeakSecretKeyWarning) as record:
        SessionAuth(secret_key, MemoryStore())  # type: ignore[arg-type]
    assert len(record) == 1
    message = str(record[0].message)
    assert message.startswith(f"{position} is ")
    assert "at least 32 bytes" in message
    assert "secrets.token_urlsafe(32)" in message
    assert record[0].filename == __file__  # points at the SessionAuth(...) line
    for key in secret_key if isinstance(secret_key, list) else [secret_key]:
        text = key.decode() if isinstance(key, bytes) else str(key)
        if len(text.encode()) < 32:
            assert text not in message  # never the secret itself


@pytest.mark.parametrize(
    "secret_key",
    [
        pytest.param("k" * 32, id="32-bytes"),
        pytest.param(secrets.token_urlsafe(32), id="token_urlsafe"),
        pytest.param([secrets.token_bytes(32), secrets.token_hex(16)], id="rotation"),
        pytest.param("é" * 16, id="counted-in-utf8-bytes-32"),
    ],
)
def test_a_long_enough_secret_key_does_not_warn(secret_key: object) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", WeakSecretKeyWarning)
        SessionAuth(secret_key, MemoryStore())  # type: ignore[arg-type]


def test_the_demo_makes_a_long_enough_key(tmp_path: Path) -> None:
    from reqsignals.demo import build

    with warnings.catch_warnings():
        warnings.simplefilter("error", WeakSecretKeyWarning)
        build(tmp_path / "demo")


def test_the_starlette_example_starts_without_the_warning() -> None:
    code = (
        "import warnings\n"
        "from reqsignals.auth import WeakSecretKeyWarning\n"
        "warnings.simplefilter('error', WeakSecretKeyWarning)\n"
        "import examples.starlette_app\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)
