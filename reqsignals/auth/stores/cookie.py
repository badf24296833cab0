"""The stateless store: the session data itself, signed, in the cookie."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Mapping
from typing import Any

from .base import SessionStore, dumps_data

__all__ = ["CookieStore"]


class CookieStore(SessionStore):
    """Keeps the whole session in the cookie, signed by the middleware; the server keeps nothing.

    What it cannot promise, by its nature:

    - Two requests of one session that run at the same time each send back a whole
      cookie; the browser keeps the last one, so the other request's changes are lost
      even when they touched different keys. Server-side stores merge them.
    - A session cannot be revoked: ``flush()`` and logout make the browser drop the
      cookie, but a copy taken earlier stays valid until ``max_age`` runs out.
    - Everything must fit in a cookie (about 4 KB once signed); a larger session raises
      :class:`~reqsignals.auth.SessionTooLarge` instead of being cut.
    - The data is signed, not encrypted: the user can read it. Keep no secrets in it.

    Example::

        auth = SessionAuth(secret_key=os.environ["SECRET_KEY"], store=CookieStore())
    """

    stateless = True

    def load(self, token: str) -> dict[str, Any] | None:
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (ValueError, binascii.Error):
            return None
        return data if isinstance(data, dict) else None

    def create(self, data: Mapping[str, Any], max_age: int) -> str:
        return base64.urlsafe_b64encode(dumps_data(data).encode()).rstrip(b"=").decode("ascii")

    def save(
        self,
        token: str,
        data: Mapping[str, Any],
        changed: Mapping[str, Any],
        deleted: Collection[str],
        max_age: int,
    ) -> str | None:
        # The cookie holds everything, so everything is written again.
        return self.create(data, max_age)

    def delete(self, token: str) -> None:
        """Nothing to do on the server: the middleware expires the cookie."""
