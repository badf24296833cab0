"""The session app served by real server processes in tests/auth/test_cross_process.py.

The store comes from the environment (tests/helpers/servers.py).
"""

from __future__ import annotations

from typing import Any

from reqsignals.auth import SessionAuth
from tests.helpers import servers

from .auth_apps import asgi_app, wsgi_app

SECRET = "cross-process-secret"


def _auth() -> SessionAuth:
    return SessionAuth(SECRET, servers.store_from_env())


def make_asgi() -> Any:
    return asgi_app(_auth())


def make_wsgi() -> Any:
    return wsgi_app(_auth())
