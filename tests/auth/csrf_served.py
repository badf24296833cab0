"""The bare ASGI login app of ``csrf_apps``, for uvicorn: ``tests.auth.csrf_served:app``."""

from __future__ import annotations

from reqsignals.auth import MemoryStore, SessionAuth

from .conftest import SECRET
from .csrf_apps import asgi_app, make_backend

calls: list[str] = []
app = asgi_app(SessionAuth(SECRET, MemoryStore(), backends=[make_backend()]), calls)
