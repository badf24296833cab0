"""The per-request :class:`Session`, and how to reach it from any request object.

:func:`get_session` and :func:`get_auth` find what the session middleware put on the
request. :class:`SessionConfig` is what the code that runs inside a request (the login
flow, the session middleware) asks of the configuration; :class:`~reqsignals.auth.SessionAuth`
is the implementation. They are written against this protocol, not the class, so that
``config.py`` (whose ``SessionAuth.wrap`` builds the middleware) sits above them and no
import goes the other way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any, Protocol

from .._keys import AUTH_KEY, SESSION_KEY
from ..types import Environ, Receive, Scope
from .lockout import Lockout
from .stores.base import SessionStore

__all__ = [
    "AUTH_KEY",
    "SESSION_KEY",
    "CSRFCheck",
    "Session",
    "SessionConfig",
    "get_auth",
    "get_session",
]

#: What a lazily loaded session calls on first use: it fetches the stored data and
#: hands it to :meth:`Session.load`.
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

    An app needs only the mapping, :attr:`key`, :attr:`modified`, :meth:`cycle_key` and
    :meth:`flush`. The rest is the interface between a session and the code that opens
    and saves it (:class:`~reqsignals.auth.SessionAuth`, or a middleware of your own):
    :meth:`load` and :meth:`reject` when the request's cookie has been read,
    :attr:`loaded`, :attr:`had_cookie`, :attr:`rejected`, :attr:`cycled`,
    :attr:`retired`, :meth:`snapshot` and :meth:`changes` to decide what to write,
    :meth:`mark_saved` once it is written, and :meth:`retire_key` for the login flow.

    Args:
        data: the session's data (a new session: none).
        key: its key in the store, or ``None`` for a session not stored yet.
        loader: for a session loaded on first use: called with the session the first
            time it is used; it must call :meth:`load` (or :meth:`reject`).
        had_cookie: the request carried a session cookie, so a session that ends up
            empty tells the client to delete it.

    Attributes:
        accessed: whether the app read or wrote the session.
    """

    __slots__ = (
        "_changed",
        "_data",
        "_deleted",
        "_had_cookie",
        "_key",
        "_loader",
        "_rejected",
        "_renew",
        "_retired",
        "accessed",
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        key: str | None = None,
        *,
        loader: Loader | None = None,
        had_cookie: bool = False,
    ) -> None:
        self._data: dict[str, Any] = dict(data or {})
        self._key = key
        self._loader = loader
        self._changed: set[str] = set()
        self._deleted: set[str] = set()
        self._renew = False
        self._had_cookie = had_cookie
        self._rejected = False
        self._retired = False
        self.accessed = False

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
        self._renew = True

    async def acycle_key(self) -> None:
        """Async twin of :meth:`cycle_key` (it does no I/O; the middleware does)."""
        self.cycle_key()

    async def aflush(self) -> None:
        """Async twin of :meth:`flush` (it does no I/O; the middleware does)."""
        self.flush()

    # The interface to the code that opens and saves sessions

    def load(self, data: Mapping[str, Any] | None, key: str | None) -> None:
        """Fill the session with what the store holds for the request's cookie.

        Args:
            data: the stored data, or ``None`` if the store does not know the cookie's
                token (unknown, expired, deleted): the session then stays empty, with
                no key, and is :attr:`rejected`.
            key: the key the data is stored under (``None`` for a stateless store).
        """
        self._loader = None
        if data is None:
            self.reject()
            return
        self._data = dict(data)
        self._key = key

    def reject(self) -> None:
        """Refuse the request's cookie (bad signature, unknown token): the session stays
        empty and keyless, and the client is told to delete its cookie unless something
        is stored under a new key."""
        self._loader = None
        self._rejected = True

    @property
    def loaded(self) -> bool:
        """False only for a session loaded on first use that was never used."""
        return self._loader is None

    @property
    def had_cookie(self) -> bool:
        """Whether the request carried a session cookie (accepted or not)."""
        return self._had_cookie

    @property
    def rejected(self) -> bool:
        """Whether the request's session cookie was refused (see :meth:`reject`)."""
        return self._rejected

    @property
    def cycled(self) -> bool:
        """Whether :meth:`cycle_key` or :meth:`flush` was called since the last save: the
        data then goes under a new key and the old key is deleted."""
        return self._renew

    def retire_key(self) -> str | None:
        """Take the session's key away now, for the caller to delete from the store at
        once: :func:`~reqsignals.auth.logout` and :func:`~reqsignals.auth.login` do,
        so the old key is dead whatever the response turns out to be.

        The data stays (it goes under a new key when saved). Returns the key, or
        ``None`` if there is none (a new session, a stateless store).
        """
        key = self.key
        self._key = None
        self._retired = True
        return key

    @property
    def retired(self) -> bool:
        """Whether :meth:`retire_key` was called: the request's cookie names a key that
        is gone, so even a failed response should tell the client to drop it."""
        return self._retired

    def snapshot(self) -> dict[str, Any]:
        """A copy of the whole data, loading it first if needed (not marked accessed)."""
        if self._loader is not None:
            self._load()
        return dict(self._data)

    def changes(self) -> tuple[dict[str, Any], frozenset[str]]:
        """What will be written: ``({key: new value}, {deleted keys})``."""
        return {n: self._data[n] for n in self._changed}, frozenset(self._deleted)

    def mark_saved(self, key: str | None) -> None:
        """Record that the store now holds the changes, under *key* (``None``: the
        session is not stored: emptied, deleted meanwhile, or a stateless store)."""
        self._key = key
        self._changed.clear()
        self._deleted.clear()
        self._renew = False


class CSRFCheck(Protocol):
    """What the session middlewares ask of the CSRF check
    (:class:`~reqsignals.auth.CSRF` implements it)."""

    #: Whether unsafe requests must also show the session's token.
    require_token: bool

    def check_environ(self, environ: Environ, *, secure: bool) -> str | None:
        """Why a WSGI request fails the header rules, or ``None``."""
        ...

    def check_scope(self, scope: Scope, *, secure: bool) -> str | None:
        """Why an ASGI request fails the header rules, or ``None``."""
        ...

    def check_websocket(self, scope: Scope, *, secure: bool) -> str | None:
        """Why an ASGI websocket handshake fails the header rules, or ``None``."""
        ...

    def environ_token_reason(self, environ: Environ, session: Mapping[str, Any]) -> str | None:
        """Why a WSGI request fails the token rule, or ``None``."""
        ...

    async def scope_token_reason(
        self, scope: Scope, receive: Receive, session: Mapping[str, Any]
    ) -> tuple[str | None, Receive]:
        """Why an ASGI request fails the token rule, or ``None``; and the app's receive."""
        ...


class SessionConfig(Protocol):
    """What the code running inside a request asks of the session configuration.

    :class:`~reqsignals.auth.SessionAuth` implements it; :func:`get_auth` returns it.
    """

    #: Where session data lives.
    store: SessionStore
    #: The authentication backends, tried in order.
    backends: tuple[object, ...]
    #: The secret keys as bytes, the signing one first.
    secret_keys: tuple[bytes, ...]
    #: Whether the session cookie is always marked ``Secure``.
    https_only: bool
    #: The brute-force lock-out ``authenticate()`` asks first, or ``None``.
    lockout: Lockout | None
    #: Seconds between two writes of a session's "last seen" time.
    last_seen_interval: float

    @property
    def csrf(self) -> CSRFCheck | None:
        """The CSRF check the middlewares run, or ``None`` when it is off."""
        ...

    def open_session(self, cookie_header: str | None) -> Session:
        """The session for a request with this ``Cookie`` header, loaded on first use."""
        ...

    async def aopen_session(self, cookie_header: str | None) -> Session:
        """The session for a request with this ``Cookie`` header, loaded."""
        ...

    def save_session(self, session: Session, *, secure: bool) -> str | None:
        """Write the session's changes; the ``Set-Cookie`` value to send, if any."""
        ...

    async def asave_session(self, session: Session, *, secure: bool) -> str | None:
        """Async twin of :meth:`save_session`."""
        ...

    def failed_response_cookie(self, session: Session, *, secure: bool) -> str | None:
        """For a 5xx response, which saves nothing: the ``Set-Cookie`` that drops a
        cookie whose key was retired during the request, if any."""
        ...

    def close(self) -> None:
        """Close the store's connections."""
        ...

    async def aclose(self) -> None:
        """Close the store's connections from async code."""
        ...


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


def get_auth(request: Any) -> SessionConfig:
    """The :class:`SessionAuth` whose middleware handles *request*.

    Takes the same *request* objects as :func:`get_session` and raises the same errors.
    """
    auth = _namespace(request).get(AUTH_KEY)
    if auth is None:
        raise RuntimeError(_MISSING_MIDDLEWARE)
    return auth  # type: ignore[no-any-return]
