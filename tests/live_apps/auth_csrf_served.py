"""The bare ASGI login app of ``auth_csrf_apps``, for uvicorn:
``tests.live_apps.auth_csrf_served:app``."""

from __future__ import annotations

from reqsignals.auth import MemoryStore, SessionAuth

from .auth_apps import SECRET
from .auth_csrf_apps import asgi_app, make_backend

calls: list[str] = []
app = asgi_app(SessionAuth(SECRET, MemoryStore(), backends=[make_backend()]), calls)
