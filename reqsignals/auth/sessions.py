"""The per-request :class:`Session`, and how to reach it from any request object."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .middleware import SessionAuth

__all__ = ["AUTH_KEY", "SESSION_KEY", "Session", "get_auth", "get_session"]

#: Where the middleware puts the session: the WSGI environ and the ASGI scope.
SESSION_KEY = "reqsignals.session"
#: Where the middleware puts its :class:`SessionAuth`.
AUTH_KEY = "reqsignals.auth"

Loader = Callable[["Session"], None]


class Session(MutableMapping[str, Any]):
    """The session of one request: a mutable mapping of ``str`` keys to JSON-able values.

    The middleware loads it before the app runs (lazily, on first use, in WSGI apps)
    and writes it when the response starts — only what changed: the keys set and the
    keys deleted. Changes made after the response started are not saved.

    A value changed in place (``session["cart"].append(item)``) is not seen; assign it
    again, or set ``session.modified = True`` to write every key.

    ``cycle_key()`` and ``flush()`` only record what to do; the middleware performs the
    store operations at response start, so both are safe to call from async code
    (``acycle_key()`` and ``aflush()`` are their awaitable twins).

    Attributes:
        key: the session key in the store, or ``None`` for a new session (and always
            for :class:`CookieStore`, which keeps no key). After the response started
            it is the key the client was sent.
        accessed: whether the app read or wrote the session.
    """

    __slots__ = (
        "_changed",
        "_data",
        "_deleted",
        "_flushed",
        "_had_cookie",
        "_key",
        "_loader",
        "_rejected",
        "_renew",
        "accessed",
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        key: str | None = None,
        *,
        loader: Loader | None = None,
    ) -> None:
        self._data: dict[str, Any] = dict(data or {})
        self._key = key
        self._loader = loader
        self._changed: set[str] = set()
        self._deleted: set[str] = set()
        self._renew = False
        self._flushed = False
        self.accessed = False
        # Set by the middleware: a session cookie came in / it was not accepted.
        self._had_cookie = False
        self._rejected = False

    def _load(self) -> None:
        loader, self._loader = self._loader, None
        assert loader is not None
        loader(self)

    def __repr__(self) -> str:
        state = "unloaded" if self._loader is not None else f"{len(self._data)} keys"
        return f"<Session key={'set' if self._key else None} {state}>"

    # Mapping

    def __getitem__(self, name: str) -> Any:
        self.accessed = True
        if self._loader is not None:
            self._load()
        return self._data[name]

    def __setitem__(self, name: str, value: Any) -> None:
        if not isinstance(name, str):
            raise TypeError(f"session keys must be str, got {type(name).__name__}")
        self.accessed = True
        if self._loader is not None:
            self._load()
        self._data[name] = value
        self._changed.add(name)
        self._deleted.discard(name)

    def __delitem__(self, name: str) -> None:
        self.accessed = True
        if self._loader is not None:
            self._load()
        del self._data[name]
        self._deleted.add(name)
        self._changed.discard(name)

    def __iter__(self) -> Iterator[str]:
        self.accessed = True
        if self._loader is not None:
            self._load()
        return iter(list(self._data))

    def __len__(self) -> int:
        self.accessed = True
        if self._loader is not None:
            self._load()
        return len(self._data)

    def __contains__(self, name: object) -> bool:
        self.accessed = True
        if self._loader is not None:
            self._load()
        return name in self._data

    def clear(self) -> None:
        """Delete every key (the key itself stays; see :meth:`flush`)."""
        for name in list(self):
            del self[name]

    # State

    @property
    def key(self) -> str | None:
        """The session's key in the store, or ``None`` for a session not saved yet."""
        if self._loader is not None:
            self._load()
        return self._key

    @property
    def modified(self) -> bool:
        """Whether anything will be written at response start."""
        return bool(self._changed or self._deleted or self._renew)

    @modified.setter
    def modified(self, value: bool) -> None:
        # Mark every current key changed: for values mutated in place.
        if value:
            self._changed.update(self.keys())
            self._deleted.difference_update(self._changed)
        else:
            self._changed.clear()
            self._deleted.clear()
            self._renew = False

    def cycle_key(self) -> None:
        """Keep the data under a new key; the old key is deleted from the store.

        Call it when the privilege level changes (login) so that a key an attacker
        planted before is worthless after (session fixation).
        """
        self.accessed = True
        if self._loader is not None:
            self._load()
        self._renew = True

    def flush(self) -> None:
        """Drop all data and the key; the old key is deleted from the store.

        Data set after ``flush()`` goes under a new key; if there is none, the client
        is told to delete its cookie.
        """
        self.accessed = True
        if self._loader is not None:
            self._load()
        self._data.clear()
        self._changed.clear()
        self._deleted.clear()
        self._renew = self._flushed = True

    async def acycle_key(self) -> None:
        """Async twin of :meth:`cycle_key` (it does no I/O; the middleware does)."""
        self.cycle_key()

    async def aflush(self) -> None:
        """Async twin of :meth:`flush` (it does no I/O; the middleware does)."""
        self.flush()

    def changes(self) -> tuple[dict[str, Any], frozenset[str]]:
        """What will be written: ``({key: new value}, {deleted keys})``."""
        return {n: self._data[n] for n in self._changed}, frozenset(self._deleted)

    def _saved(self, key: str | None) -> None:
        # Called by the middleware once the store has the changes.
        self._key = key
        self._changed.clear()
        self._deleted.clear()
        self._renew = self._flushed = False


def _namespace(request: Any) -> Mapping[str, Any]:
    for attr in ("scope", "environ"):
        space = getattr(request, attr, None)
        if isinstance(space, Mapping):
            return space
    if isinstance(request, Mapping):
        return request
    raise TypeError(
        "expected a Starlette/FastAPI or Werkzeug/Flask request, an ASGI scope or a WSGI "
        f"environ, got {type(request).__name__}"
    )


_MISSING_MIDDLEWARE = (
    "no reqsignals session on this request: wrap the app with SessionAuth(...).wrap(app) "
    "(or add reqsignals.auth.SessionMiddleware to a Starlette/FastAPI app) so that "
    "sessions are loaded before the app runs"
)


def get_session(request: Any) -> Session:
    """The :class:`Session` of *request*.

    Args:
        request: a Starlette/FastAPI ``Request`` or ``WebSocket``, a Werkzeug/Flask
            request, an ASGI scope or a WSGI environ.

    Raises:
        RuntimeError: the session middleware did not run for this request.
        TypeError: *request* is none of the above.

    Example::

        @app.route("/cart")
        def cart():
            session = get_session(flask.request)
            session["items"] = [*session.get("items", []), "apple"]
    """
    session = _namespace(request).get(SESSION_KEY)
    if session is None:
        raise RuntimeError(_MISSING_MIDDLEWARE)
    assert isinstance(session, Session)
    return session


def get_auth(request: Any) -> SessionAuth:
    """The :class:`SessionAuth` whose middleware handles *request*.

    Takes the same *request* objects as :func:`get_session` and raises the same errors.
    """
    auth = _namespace(request).get(AUTH_KEY)
    if auth is None:
        raise RuntimeError(_MISSING_MIDDLEWARE)
    return auth  # type: ignore[no-any-return]
