"""The login app two server processes serve in test_sessions_concurrency.py.

``make_app()`` reads the environment: ``REL_STORE`` (``sqlite:<path>`` or
``redis:<url>``), ``REL_PREFIX`` (the Redis key prefix) and ``REL_USERS`` (the
SQLite file of users, made by the test). Routes, all JSON:

``POST /login``   ``{"username", "password"}``: authenticate and log in, or 401
``POST /write``   ``{"k", "v"}``: set one session key
``GET  /read``    the user, the session data (without the login's own keys) and a
                  fingerprint of the session key (never the key itself)
``POST /logout``  log out
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from reqsignals.auth import (
    RedisStore,
    SessionAuth,
    SQLiteBackend,
    SQLiteStore,
    aauthenticate,
    aget_user,
    alogin,
    alogout,
    get_session,
)
from reqsignals.auth.stores.base import SessionStore
from reqsignals.types import Receive, Scope, Send
from tests.helpers import canary
from tests.helpers.hashers import cheap_hasher

#: Cheap hashing for tests only: the same parameters in the test and the servers, so
#: no login rehashes.
HASHER = cheap_hasher()


def _store() -> SessionStore:
    kind, _, where = os.environ["REL_STORE"].partition(":")
    if kind == "sqlite":
        return SQLiteStore(where)
    return RedisStore(where, prefix=os.environ["REL_PREFIX"])


async def _body(receive: Receive) -> Any:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return json.loads(b"".join(chunks) or b"{}")


def make_app() -> Any:
    users = SQLiteBackend(os.environ["REL_USERS"], hasher=HASHER)
    auth = SessionAuth([canary.SECRET_KEY, canary.OLD_SECRET_KEY], _store(), backends=[users])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        action = scope["path"].strip("/")
        session = get_session(scope)
        status, answer = 200, {}
        if action == "login":
            given = await _body(receive)
            user = await aauthenticate(
                scope, username=given["username"], password=given["password"]
            )
            if user is None:
                status = 401
            else:
                await alogin(scope, user)
                answer = {"user": user.username}
        elif action == "write":
            given = await _body(receive)
            session[given["k"]] = given["v"]
        elif action == "read":
            user = await aget_user(scope)
            key = session.key
            answer = {
                "user": user.username if user.is_authenticated else None,
                "data": {k: v for k, v in session.items() if not k.startswith("_auth")},
                "key": None if key is None else hashlib.sha256(key.encode()).hexdigest()[:16],
                "pid": os.getpid(),
            }
        elif action == "logout":
            await alogout(scope)
        else:
            status = 404
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})

    return auth.wrap(app)
