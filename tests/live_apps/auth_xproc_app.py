"""The session app served by real server processes in tests/auth/test_cross_process.py.

The store comes from the environment: ``REQSIGNALS_TEST_STORE`` is ``sqlite:<path>`` or
``redis:<url>``, and ``REQSIGNALS_TEST_PREFIX`` the Redis key prefix.
"""

from __future__ import annotations

import os
from typing import Any

from reqsignals.auth import RedisStore, SessionAuth, SQLiteStore
from reqsignals.auth.stores.base import SessionStore

from .auth_apps import asgi_app, wsgi_app

SECRET = "cross-process-secret"


def _auth() -> SessionAuth:
    kind, _, where = os.environ["REQSIGNALS_TEST_STORE"].partition(":")
    store: SessionStore
    if kind == "sqlite":
        store = SQLiteStore(where)
    else:
        store = RedisStore(where, prefix=os.environ["REQSIGNALS_TEST_PREFIX"])
    return SessionAuth(SECRET, store)


def make_asgi() -> Any:
    return asgi_app(_auth())


def make_wsgi() -> Any:
    return wsgi_app(_auth())
