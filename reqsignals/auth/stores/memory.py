"""A session store in this process's memory: for tests and single-process development."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Collection, Mapping
from typing import Any

from .base import USER_ID_FIELD, SessionStore, dumps_value, new_session_key, user_index_key

__all__ = ["MemoryStore"]


class MemoryStore(SessionStore):
    """Sessions in a dict, lost when the process ends and invisible to other processes.

    Values are kept as JSON, as the other stores keep them, so a test sees what a real
    store would give back (tuples come back as lists). Safe to use from several threads.

    Example::

        auth = SessionAuth(secret_key="test", store=MemoryStore())
    """

    #: Sweep expired sessions after this many creations.
    sweep_every = 1000

    def __init__(self) -> None:
        # token -> (expires at, {name: JSON text})
        self._sessions: dict[str, tuple[float, dict[str, str]]] = {}
        # The user index: JSON text of a user id -> {token: None} (ordered by creation).
        self._by_user: dict[str, dict[str, None]] = {}
        self._lock = threading.Lock()
        self._created = 0

    def __len__(self) -> int:
        """The number of sessions held, expired ones included until swept."""
        return len(self._sessions)

    def _live(self, token: str, now: float) -> dict[str, str] | None:
        entry = self._sessions.get(token)
        if entry is None or entry[0] <= now:
            return None
        return entry[1]

    def load(self, token: str) -> dict[str, Any] | None:
        fields = self._live(token, time.time())
        if fields is None:
            return None
        return {name: json.loads(text) for name, text in list(fields.items())}

    def create(self, data: Mapping[str, Any], max_age: int) -> str:
        fields = {name: dumps_value(name, value) for name, value in data.items()}
        now = time.time()
        with self._lock:
            token = new_session_key()
            while token in self._sessions:  # pragma: no cover - 2**-256
                token = new_session_key()
            self._sessions[token] = (now + max_age, fields)
            self._index(token, fields)
            self._created += 1
            if self._created % self.sweep_every == 0:
                self._sweep(now)
        return token

    def save(
        self,
        token: str,
        data: Mapping[str, Any],
        changed: Mapping[str, Any],
        deleted: Collection[str],
        max_age: int,
    ) -> str | None:
        encoded = {name: dumps_value(name, value) for name, value in changed.items()}
        now = time.time()
        with self._lock:
            fields = self._live(token, now)
            if fields is None:
                return None
            fields = {**fields, **encoded}
            for name in deleted:
                fields.pop(name, None)
            old = self._sessions[token][1].get(USER_ID_FIELD)
            if old is not None and fields.get(USER_ID_FIELD) != old:
                self._unindex(token, old)
            self._sessions[token] = (now + max_age, fields)
            self._index(token, fields)
        return token

    def delete(self, token: str) -> None:
        self.discard(token)

    def discard(self, token: str) -> bool:
        with self._lock:
            live = self._live(token, time.time()) is not None
            self._drop(token)
        return live

    def user_sessions(self, user_id: Any) -> list[tuple[str, dict[str, Any]]]:
        now = time.time()
        with self._lock:
            tokens = list(self._by_user.get(user_index_key(user_id), ()))
            found = [(t, self._live(t, now)) for t in tokens]
        return [
            (token, {name: json.loads(text) for name, text in fields.items()})
            for token, fields in found
            if fields is not None
        ]

    def cleanup(self) -> int:
        """Drop expired sessions and their index entries; return how many were dropped."""
        with self._lock:
            return self._sweep(time.time())

    # Called with the lock held.

    def _sweep(self, now: float) -> int:
        expired = [t for t, (expires, _) in self._sessions.items() if expires <= now]
        for token in expired:
            self._drop(token)
        return len(expired)

    def _index(self, token: str, fields: Mapping[str, str]) -> None:
        user = fields.get(USER_ID_FIELD)
        if user is not None:
            self._by_user.setdefault(user, {})[token] = None

    def _unindex(self, token: str, user: str) -> None:
        tokens = self._by_user.get(user)
        if tokens is not None:
            tokens.pop(token, None)
            if not tokens:
                del self._by_user[user]

    def _drop(self, token: str) -> None:
        entry = self._sessions.pop(token, None)
        if entry is not None and USER_ID_FIELD in entry[1]:
            self._unindex(token, entry[1][USER_ID_FIELD])
