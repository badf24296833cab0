"""Session stores: where session data lives between requests.

:class:`SessionStore` is the interface; :class:`CookieStore`, :class:`MemoryStore`,
:class:`SQLiteStore` and :class:`RedisStore` implement it. ``RedisStore`` is imported
on first use, so the ``redis`` package is needed only by those who use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import SessionStore
from .cookie import CookieStore
from .memory import MemoryStore
from .sqlite import SQLiteStore

if TYPE_CHECKING:
    from .redis import RedisStore

__all__ = ["CookieStore", "MemoryStore", "RedisStore", "SQLiteStore", "SessionStore"]


def __getattr__(name: str) -> Any:
    if name == "RedisStore":
        try:
            from .redis import RedisStore
        except ImportError as exc:  # pragma: no cover - redis is installed in the tests
            raise ImportError("RedisStore needs the redis package: pip install redis") from exc
        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
