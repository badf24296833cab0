"""Every public object has a docstring (what the API reference is generated from)."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

PUBLIC_MODULES = [
    "reqsignals",
    "reqsignals.dispatch",
    "reqsignals.signals",
    "reqsignals.types",
    "reqsignals.wsgi",
    "reqsignals.asgi",
    "reqsignals.testing",
    "reqsignals.cli",
    "reqsignals.log",
    "reqsignals.scrub",
    "reqsignals.contrib",
    "reqsignals.contrib.flask",
    "reqsignals.contrib.django",
    "reqsignals.contrib.sqlalchemy",
    "reqsignals.contrib.alembic",
    "reqsignals.auth",
    "reqsignals.auth.flow",
    "reqsignals.auth.sessions",
    "reqsignals.auth.config",
    "reqsignals.auth.middleware",
    "reqsignals.auth.exceptions",
    "reqsignals.auth.backends",
    "reqsignals.auth.backends.base",
    "reqsignals.auth.backends.memory",
    "reqsignals.auth.backends.sqlite",
    "reqsignals.auth.hashers",
    "reqsignals.auth.scrub",
    "reqsignals.auth.users",
    "reqsignals.auth.stores",
]


def public_objects() -> list[Any]:
    out = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        assert module.__doc__, f"{module_name} has no docstring"
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                out.append(pytest.param(obj, id=f"{module_name}.{name}"))
    return out


def undocumented_members(cls: type) -> list[str]:
    missing = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if not (inspect.isfunction(member) or isinstance(member, property)):
            continue
        # Read through the class, so an override inherits the interface's docstring.
        if not inspect.getdoc(getattr(cls, name)):
            missing.append(name)
    return missing


@pytest.mark.parametrize("obj", public_objects())
def test_public_object_has_a_docstring(obj: Any) -> None:
    assert inspect.getdoc(obj), f"{obj.__qualname__} has no docstring"
    if inspect.isclass(obj):
        assert undocumented_members(obj) == [], f"{obj.__qualname__}: members without docstrings"
