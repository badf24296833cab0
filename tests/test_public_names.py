"""Public names import from where the docs say, and old names still work (some warn)."""

from __future__ import annotations

import importlib
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

import reqsignals
from reqsignals import ReqsignalsDeprecationWarning

ROOT = Path(__file__).parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# A dotted name in prose or code, not one inside a string ("reqsignals.session" is an
# environ key, not a module).
_DOTTED = re.compile(r"""(?<![\w.'"/-])reqsignals(?:\.\w+)+(?![\w'"(/-])""")
_FROM_IMPORT = re.compile(
    r"^\s*from (reqsignals(?:\.\w+)*) import (?:\(([\w,\s]+)\)|([\w, ]+)$)", re.M
)


def resolve(dotted: str) -> Any:
    """The object *dotted* names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:n]))
        except ModuleNotFoundError:
            continue
        for attr in parts[n:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def documented_names() -> list[Any]:
    found: dict[str, str] = {}
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        for match in _DOTTED.finditer(text):
            found.setdefault(match.group(0), path.name)
        for module, grouped, names in _FROM_IMPORT.findall(text):
            for name in filter(None, (n.strip() for n in (grouped or names).split(","))):
                found.setdefault(f"{module}.{name}", path.name)
    return [pytest.param(name, id=f"{where}:{name}") for name, where in sorted(found.items())]


def test_the_docs_name_the_moved_and_kept_homes() -> None:
    names = {p.values[0] for p in documented_names()}
    # The scan must see the names this layout promised to keep working.
    assert {
        "reqsignals.auth.SessionAuth",
        "reqsignals.auth.ASGISessionMiddleware",
        "reqsignals.scrub.scrub_credentials",
        "reqsignals.auth.config.SessionAuth",
    } <= names


@pytest.mark.parametrize("dotted", documented_names())
def test_a_documented_name_imports_without_warning(dotted: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReqsignalsDeprecationWarning)
        resolve(dotted)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("reqsignals.cli.SignalLog", "reqsignals.log.SignalLog", id="SignalLog"),
        pytest.param(
            "reqsignals.auth.scrub_credentials", "reqsignals.scrub.scrub_credentials", id="scrub"
        ),
        pytest.param(
            "reqsignals.auth.scrub.scrub_headers", "reqsignals.scrub.scrub_headers", id="scrub-mod"
        ),
        pytest.param("reqsignals.auth.scrub.MASK", "reqsignals.scrub.MASK", id="MASK"),
        pytest.param(
            "reqsignals.auth.scrub.DEFAULT_RULE", "reqsignals.scrub.DEFAULT_RULE", id="RULE"
        ),
        pytest.param("reqsignals.auth.scrub.key_words", "reqsignals.scrub.key_words", id="words"),
        pytest.param("reqsignals.auth.ScrubRule", "reqsignals.scrub.ScrubRule", id="ScrubRule"),
        pytest.param(
            "reqsignals.auth.backends.SQLiteBackend",
            "reqsignals.auth.backends.sqlite.SQLiteBackend",
            id="SQLiteBackend",
        ),
        pytest.param(
            "reqsignals.auth.backends.MemoryBackend",
            "reqsignals.auth.backends.memory.MemoryBackend",
            id="MemoryBackend",
        ),
        pytest.param(
            "reqsignals.auth.backends.AuthBackend",
            "reqsignals.auth.backends.base.AuthBackend",
            id="AuthBackend",
        ),
        pytest.param("reqsignals.auth.backends.User", "reqsignals.auth.users.User", id="User"),
        pytest.param(
            "reqsignals.auth.SessionAuth", "reqsignals.auth.config.SessionAuth", id="auth"
        ),
        pytest.param(
            "reqsignals.auth.SessionTooLarge",
            "reqsignals.auth.exceptions.SessionTooLarge",
            id="errors",
        ),
    ],
)
def test_a_moved_name_is_the_same_object_at_its_old_home(old: str, new: str) -> None:
    assert resolve(old) is resolve(new)


@pytest.mark.parametrize(
    ("module", "name", "new"),
    [
        pytest.param("reqsignals.auth", "SessionMiddleware", "ASGISessionMiddleware", id="auth"),
        pytest.param(
            "reqsignals.auth.middleware",
            "SessionMiddleware",
            "ASGISessionMiddleware",
            id="auth.middleware",
        ),
        pytest.param("reqsignals.scrub", "SCRUBBED", "MASK", id="scrub"),
        pytest.param("reqsignals.auth.scrub", "SCRUBBED", "MASK", id="auth.scrub"),
    ],
)
def test_a_deprecated_name_warns_and_is_its_replacement(module: str, name: str, new: str) -> None:
    mod = importlib.import_module(module)
    with pytest.warns(ReqsignalsDeprecationWarning, match=rf"{name} is deprecated.* use .*{new}"):
        old = getattr(mod, name)
    assert old is getattr(mod, new)
    assert name not in getattr(mod, "__all__", ())


def test_the_deprecation_warning_points_at_the_caller() -> None:
    with pytest.warns(ReqsignalsDeprecationWarning) as caught:
        from reqsignals.auth import SessionMiddleware  # noqa: F401
    assert caught[0].filename == __file__


def test_add_user_warns_and_creates_the_user() -> None:
    from reqsignals.auth import Argon2Hasher, MemoryBackend

    backend = MemoryBackend(hasher=Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1))
    with pytest.warns(ReqsignalsDeprecationWarning, match=r"add_user\(\).*create_user\(\)") as w:
        ada = backend.add_user("ada", "pw", email="ada@example.com")
    assert w[0].filename == __file__
    assert backend.authenticate(None, username="ada", password="pw") == ada
    assert ada.extra == {"email": "ada@example.com"}


def test_unknown_names_are_attribute_errors() -> None:
    import reqsignals.auth.middleware
    import reqsignals.scrub

    for module in (reqsignals.scrub, reqsignals.auth.middleware):
        with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
            module.Nope


def test_the_warning_is_a_deprecation_warning_of_our_own() -> None:
    assert issubclass(ReqsignalsDeprecationWarning, DeprecationWarning)
    assert reqsignals.ReqsignalsDeprecationWarning is ReqsignalsDeprecationWarning
    assert "ReqsignalsDeprecationWarning" in reqsignals.__all__
