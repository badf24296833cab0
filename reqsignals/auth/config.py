"""SessionAuth: the session and login configuration of one app.

It holds the settings, signs and verifies the session cookie, and opens and saves each
request's :class:`~reqsignals.auth.Session`; the two session middlewares
(:mod:`reqsignals.auth.middleware`) call it, and :meth:`SessionAuth.wrap` installs
the right one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import warnings
from collections.abc import Generator, Iterable, Sequence
from typing import Any, Literal

from itsdangerous import BadData, TimestampSigner

from .._wrap import guess_interface
from ._tracking import SESSION_META, SessionInfo, aend_sessions, end_sessions, infos
from .csrf import CSRF
from .exceptions import SessionTooLarge, WeakSecretKeyWarning
from .lockout import Lockout
from .middleware import ASGISessionMiddleware, WSGISessionMiddleware
from .sessions import Session
from .stores.base import USER_ID_FIELD, SessionStore
from .stores.sqlite import SQLiteStore

__all__ = ["MIN_SECRET_KEY_LENGTH", "SessionAuth"]

#: The shortest secret key, in bytes (UTF-8 for a str), that does not warn: as long as
#: the HMAC-SHA256 output, what ``secrets.token_urlsafe(32)`` gives.
MIN_SECRET_KEY_LENGTH = 32

logger = logging.getLogger("reqsignals.auth")

#: Browsers keep cookies of up to 4096 bytes, name and value together (RFC 6265 6.1).
MAX_COOKIE_SIZE = 4093
TWO_WEEKS = 14 * 24 * 3600
_SAME_SITE = {"lax": "Lax", "strict": "Strict", "none": "None"}

# A store call the commit logic asks for: (method name, arguments). The sync driver
# calls store.<name>(...), the async one awaits store.a<name>(...).
_Step = tuple[str, tuple[Any, ...]]


def _cookie_value(header: str, name: str) -> str | None:
    # The first cookie of that name wins: browsers send the most specific path first
    # (RFC 6265 5.4). Values are never unquoted beyond a pair of double quotes.
    if name not in header:
        return None
    for part in header.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value
    return None


def _kept_login(session: Session) -> bool:
    """Whether *session* carries a login from an earlier request (not one made now)."""
    return USER_ID_FIELD in session and SESSION_META not in session.changes()[0]


def _without_token(had_cookie: bool) -> Session:
    # No cookie, or one that does not verify (tampered, expired, malformed): a new session.
    session = Session(had_cookie=had_cookie)
    if had_cookie:
        session.reject()
    return session


# RFC 6265 4.1.1: a cookie name is an RFC 2616 token; a path any CHAR but CTLs and ";";
# a domain a host name. A CR, LF, TAB, NUL or ";" in any of them would let the value
# end the header or add attributes of its own (http.cookies.Morsel refuses them too).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_PATH = re.compile(r"/[\x20-\x3a\x3c-\x7e]*\Z")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"\.?{_LABEL}(?:\.{_LABEL})*\Z")


def _check_cookie_attributes(cookie_name: object, path: object, domain: object) -> None:
    if not isinstance(cookie_name, str) or not _TOKEN.match(cookie_name):
        raise ValueError(
            "cookie_name must be a plain token (letters, digits and !#$%&'*+-.^_`|~; no "
            f'spaces, control characters or ;,="), got {cookie_name!r}'
        )
    if not isinstance(path, str) or not _PATH.match(path):
        raise ValueError(
            "path must start with '/' and hold no control characters, ';' or non-ASCII "
            f"text (percent-encode it), got {path!r}"
        )
    if domain is not None and (not isinstance(domain, str) or not _DOMAIN.match(domain)):
        raise ValueError(
            f"domain must be a host name such as 'example.com' (no port, no control "
            f"characters or ';'), or None for this host only, got {domain!r}"
        )


def _type_names(keys: object) -> str:
    if isinstance(keys, (list, tuple)):
        return f"a {type(keys).__name__} of {', '.join(sorted({type(k).__name__ for k in keys}))}"
    return type(keys).__name__


class SessionAuth:
    """The session and login configuration for one app.

    ``auth.wrap(app)`` installs the session middleware around any WSGI or ASGI app; the
    app then finds its :class:`~reqsignals.auth.Session` with
    :func:`~reqsignals.auth.get_session` (ASGI: also at ``scope["session"]``, so
    Starlette's ``request.session`` works).

    The cookie holds a value signed with the first secret key (HMAC-SHA256 with a
    timestamp, by itsdangerous); every key verifies, so keys rotate without logging
    anyone out: put the new key first, drop the old one after ``max_age``. A cookie
    that is tampered with, expired, malformed or over 4 KB is ignored: the request gets
    a new, empty session and the client is told to drop the cookie.

    Args:
        secret_key: a secret, or a list of secrets (the first signs, all verify); each
            at least ``MIN_SECRET_KEY_LENGTH`` (32) bytes of random data.
        store: where session data lives; default ``SQLiteStore()``
            (``reqsignals-sessions.db`` in the working directory).
        backends: the authentication backends, for the login flow.
        cookie_name: the cookie's name.
        max_age: seconds a session lives after its last write — in the cookie's
            ``Max-Age``, the signature's timestamp and the store's expiry.
        path: the cookie's ``Path``.
        domain: the cookie's ``Domain`` (none by default: this host only).
        same_site: ``"lax"``, ``"strict"`` or ``"none"`` (which implies ``Secure``).
        https_only: always mark the cookie ``Secure``; otherwise it is marked so when
            the request came over HTTPS.
        salt: separates these signatures from others made with the same key.
        lockout: a :class:`~reqsignals.auth.Lockout` that ``authenticate()`` asks before
            any backend (``True``: one with the defaults). It counts beside *store*
            unless given a store of its own; a ``CookieStore`` needs one.
        last_seen_interval: seconds between two writes of a session's "last seen"
            time (:func:`~reqsignals.auth.list_sessions`): read-only requests write
            the session at most this often.
        csrf: the CSRF check run before the app for every unsafe request: ``True``
            (the default) for :class:`~reqsignals.auth.CSRF` with its defaults, a
            ``CSRF(...)`` to configure it, ``False`` to turn it off.

    Warns:
        WeakSecretKeyWarning: a secret key is shorter than 32 bytes.

    Raises:
        ValueError: an empty secret key; a bad ``same_site`` or ``max_age``; a cookie
            name, path or domain with control characters, ``;`` or other characters
            a ``Set-Cookie`` header cannot carry; or a lock-out with no store of its
            own beside a ``CookieStore``.
        TypeError: a secret key that is not ``str`` or ``bytes``, a store class or a
            path instead of a store, or one backend instead of a list of them.

    Example::

        auth = SessionAuth(secret_key=["new-key", "old-key"], store=SQLiteStore("s.db"))
        app = auth.wrap(app)
    """

    def __init__(
        self,
        secret_key: str | bytes | Sequence[str | bytes],
        store: SessionStore | None = None,
        *,
        backends: Iterable[object] = (),
        cookie_name: str = "session",
        max_age: int = TWO_WEEKS,
        path: str = "/",
        domain: str | None = None,
        same_site: Literal["lax", "strict", "none"] = "lax",
        https_only: bool = False,
        salt: str = "reqsignals.session",
        lockout: Lockout | bool | None = None,
        last_seen_interval: float = 300.0,
        csrf: CSRF | bool = True,
    ) -> None:
        keys = [secret_key] if isinstance(secret_key, (str, bytes)) else secret_key
        if not isinstance(keys, Sequence) or not all(isinstance(k, (str, bytes)) for k in keys):
            # The type only: never the value, which may be a secret.
            raise TypeError(
                "secret_key must be a str or bytes secret, or a list of them (the first "
                f"signs), got {_type_names(keys)}; read it from your configuration, e.g. "
                "os.environ['SESSION_SECRET']"
            )
        if not keys or not all(keys):
            raise ValueError("secret_key must be a non-empty secret or a list of them")
        if isinstance(store, (str, bytes)):
            # Never the value: SessionAuth("new-key", "old-key") puts a secret here.
            raise TypeError(
                f"store must be a session store instance, got a {type(store).__name__}: "
                "for key rotation pass the keys as one list, secret_key=['new', 'old']; "
                "for a SQLite file pass store=SQLiteStore('sessions.db')"
            )
        if isinstance(store, (type, os.PathLike)):
            fix = (
                f"{store.__name__}()"
                if isinstance(store, type)
                else f"SQLiteStore({os.fsdecode(store)!r})"
            )
            raise TypeError(f"store must be a session store instance, got {store!r}: pass {fix}")
        if hasattr(backends, "authenticate"):
            raise TypeError(
                f"backends takes a list of backends, got one {type(backends).__name__}: "
                "write backends=[...]"
            )
        if same_site not in _SAME_SITE:
            raise ValueError(f"same_site must be 'lax', 'strict' or 'none', got {same_site!r}")
        _check_cookie_attributes(cookie_name, path, domain)
        if max_age <= 0:
            raise ValueError(f"max_age must be a positive number of seconds, got {max_age!r}")
        if lockout is True:
            lockout = Lockout()
        elif lockout is False:
            lockout = None
        elif lockout is not None and not isinstance(lockout, Lockout):
            raise TypeError(
                f"lockout takes a Lockout(...), True for the defaults or None, got "
                f"{type(lockout).__name__}"
            )
        if csrf is True:
            csrf = CSRF()
        elif csrf is not False and not isinstance(csrf, CSRF):
            raise TypeError(
                f"csrf takes True, False or a CSRF(...) configuration, got {type(csrf).__name__}"
            )
        #: The CSRF check the middlewares run, or ``None`` when it is off.
        self.csrf: CSRF | None = csrf or None
        if store is None:
            store = SQLiteStore()
        if lockout is not None:
            lockout.bind(store)  # counts beside the session store unless given its own
        #: The brute-force lock-out, or ``None``.
        self.lockout = lockout
        self.store = store
        self.backends = tuple(backends)
        self.cookie_name = cookie_name
        self.max_age = int(max_age)
        self.path = path
        self.domain = domain
        self.same_site = same_site
        self.https_only = https_only or same_site == "none"
        if not last_seen_interval >= 0:
            raise ValueError(
                f"last_seen_interval must be a number of seconds >= 0, got {last_seen_interval!r}"
            )
        self.last_seen_interval = float(last_seen_interval)
        #: The secret keys as bytes, the signing one first (for other HMACs, e.g. the
        #: login flow's session hash, that must rotate with the cookie's).
        self.secret_keys = tuple(k.encode() if isinstance(k, str) else k for k in keys)
        for i, key in enumerate(self.secret_keys):
            if len(key) < MIN_SECRET_KEY_LENGTH:
                name = "secret_key" if isinstance(secret_key, (str, bytes)) else f"secret_key[{i}]"
                warnings.warn(  # the length only: never the key
                    f"{name} is {len(key)} bytes long; use at least {MIN_SECRET_KEY_LENGTH} "
                    "bytes of random data, e.g. secrets.token_urlsafe(32): a short key can be "
                    "guessed from one session cookie, and then any session forged",
                    WeakSecretKeyWarning,
                    stacklevel=2,
                )
        # itsdangerous signs with the last key of its list; ours signs with the first.
        self._signer = TimestampSigner(
            list(reversed(self.secret_keys)), salt=salt, digest_method=hashlib.sha256
        )
        attrs = f"Path={path}" + (f"; Domain={domain}" if domain else "")
        flags = f"HttpOnly; SameSite={_SAME_SITE[same_site]}"
        self._set_attrs = f"; {attrs}; Max-Age={self.max_age}; {flags}"
        expired = "Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        self._delete_attrs = f"=; {attrs}; {expired}; {flags}"

    def __repr__(self) -> str:
        return f"SessionAuth(store={self.store!r}, cookie_name={self.cookie_name!r})"

    # Installing

    def wrap(self, app: Any, *, interface: Literal["wsgi", "asgi"] | None = None) -> Any:
        """Wrap *app* in the session middleware for its interface.

        An ``async def`` callable (or an object with an ``async def __call__``) is taken
        for ASGI, anything else for WSGI; *interface* overrides the guess (for a sync
        callable that returns an awaitable, say).

        Returns:
            an :class:`~reqsignals.auth.ASGISessionMiddleware` or a
            :class:`~reqsignals.auth.WSGISessionMiddleware`.

        Raises:
            TypeError: *app* is not callable.
            ValueError: *interface* is not ``"wsgi"``, ``"asgi"`` or ``None``.
        """
        if guess_interface(app, interface) == "asgi":
            return ASGISessionMiddleware(app, auth=self)
        return WSGISessionMiddleware(app, auth=self)

    def close(self) -> None:
        """Close the store's connections (and the lock-out's)."""
        self.store.close()
        if self.lockout is not None:
            self.lockout.close()

    async def aclose(self) -> None:
        """Close the store's connections (and the lock-out's) from async code."""
        await self.store.aclose()
        if self.lockout is not None:
            await self.lockout.aclose()

    # Sessions per user, outside a request

    def list_user_sessions(self, user_id: Any) -> list[SessionInfo]:
        """The live sessions of *user_id* (an admin page, ``reqsignals sessions list``).

        Raises:
            RuntimeError: the store keeps no sessions on the server (``CookieStore``).
        """
        return infos(self.store.user_sessions(user_id), None)

    async def alist_user_sessions(self, user_id: Any) -> list[SessionInfo]:
        """Async twin of :meth:`list_user_sessions`."""
        return infos(await self.store.auser_sessions(user_id), None)

    def revoke_user_sessions(self, user_id: Any) -> int:
        """End every session of *user_id* now, in every process; return how many.

        ``session_revoked`` (reason ``"revoked"``, ``request=None``) is sent for each.

        Raises:
            RuntimeError: the store keeps no sessions on the server (``CookieStore``).
        """
        return end_sessions(self.store, user_id, "revoked")

    async def arevoke_user_sessions(self, user_id: Any) -> int:
        """Async twin of :meth:`revoke_user_sessions`."""
        return await aend_sessions(self.store, user_id, "revoked")

    def clear_expired(self) -> int:
        """Remove expired sessions and their index entries; return how many went.

        For stores that do not expire entries themselves (SQLite, memory); Redis does,
        and this returns ``0`` there.
        """
        return self.store.cleanup()

    async def aclear_expired(self) -> int:
        """Async twin of :meth:`clear_expired`."""
        return await self.store.acleanup()

    # Cookies

    def _verify(self, value: str | None) -> str | None:
        if value is None or len(value) > MAX_COOKIE_SIZE or not value.isascii():
            return None
        try:
            return self._signer.unsign(value, max_age=self.max_age).decode("ascii")
        except (BadData, ValueError):
            return None

    def _set_cookie(self, token: str, secure: bool) -> str:
        value = self._signer.sign(token).decode("ascii")
        if len(self.cookie_name) + 1 + len(value) > MAX_COOKIE_SIZE:
            raise SessionTooLarge(
                f"the session needs a {len(value)}-byte cookie, over the "
                f"{MAX_COOKIE_SIZE} bytes browsers keep: store less in it, or use a "
                "server-side store (SQLiteStore, RedisStore) instead of CookieStore"
            )
        return f"{self.cookie_name}={value}{self._set_attrs}{'; Secure' if secure else ''}"

    def _delete_cookie(self, secure: bool) -> str:
        return f"{self.cookie_name}{self._delete_attrs}{'; Secure' if secure else ''}"

    # Opening and saving sessions

    def _read_cookie(self, cookie_header: str | None) -> tuple[bool, str | None]:
        # Whether the header holds our cookie, and the token it carries if it verifies.
        value = _cookie_value(cookie_header, self.cookie_name) if cookie_header else None
        return value is not None, self._verify(value)

    def _key(self, token: str) -> str | None:
        # A stateless store's token is the data itself, never a key.
        return None if self.store.stateless else token

    def open_session(self, cookie_header: str | None) -> Session:
        """The session for a request with this ``Cookie`` header, loaded on first use.

        The WSGI middleware calls it: a request that never touches its session costs
        no store read. :meth:`aopen_session` loads the same way, through the store's
        async twin, before it returns (a mapping access cannot await a store).
        Call either only to build a middleware of your own.
        """
        had_cookie, token = self._read_cookie(cookie_header)
        if token is None:
            return _without_token(had_cookie)

        def load(session: Session) -> None:
            session.load(self.store.load(token), self._key(token))

        return Session(had_cookie=True, loader=load)

    async def aopen_session(self, cookie_header: str | None) -> Session:
        """Async twin of :meth:`open_session`; the session is loaded before it returns."""
        had_cookie, token = self._read_cookie(cookie_header)
        if token is None:
            return _without_token(had_cookie)
        session = Session(had_cookie=True)
        session.load(await self.store.aload(token), self._key(token))
        return session

    def save_session(self, session: Session, *, secure: bool) -> str | None:
        """Write *session*'s changes; return the ``Set-Cookie`` value to send, if any.

        Raises:
            SessionTooLarge: the session does not fit in a cookie.
            SessionStoreUnavailable: the store is down.
        """
        steps = self._commit(session, secure)
        try:
            name, args = next(steps)
            while True:
                name, args = steps.send(getattr(self.store, name)(*args))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def asave_session(self, session: Session, *, secure: bool) -> str | None:
        """Async twin of :meth:`save_session`."""
        steps = self._commit(session, secure)
        try:
            name, args = next(steps)
            while True:
                name, args = steps.send(await getattr(self.store, "a" + name)(*args))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def failed_response_cookie(self, session: Session, *, secure: bool) -> str | None:
        """For a 5xx response, which saves nothing: the ``Set-Cookie`` value that drops
        the request's cookie when :func:`~reqsignals.auth.logout` or
        :func:`~reqsignals.auth.login` retired its key (it is dead in the store already:
        this tells the browser, and ends a :class:`CookieStore` session there)."""
        if session.retired and session.had_cookie:
            return self._delete_cookie(secure)
        return None

    def _commit(self, session: Session, secure: bool) -> Generator[_Step, Any, str | None]:
        if not session.loaded:  # never used: nothing can have changed
            return None
        if not session.modified:
            return self._delete_cookie(secure) if session.rejected else None
        data, old = session.snapshot(), session.key
        if self.store.stateless or session.cycled or old is None:
            # The old key goes first: if it was gone already, the session was ended
            # while this request ran, and a new key must not bring its login back.
            if old is not None and not (yield "discard", (old,)) and _kept_login(session):
                logger.warning(
                    "the session was ended while this request ran (revoked, or logged out "
                    "in a concurrent request): it was not carried over to a new key"
                )
                session.mark_saved(None)
                return self._delete_cookie(secure)
            token = (yield "create", (data, self.max_age)) if data else None
        else:
            changed, deleted = session.changes()
            token = yield "save", (old, data, changed, deleted, self.max_age)
            if token is None:
                logger.warning(
                    "the session was deleted while this request ran (a logout or flush in "
                    "a concurrent request, or expiry): its changes were not saved"
                )
                session.mark_saved(None)
                return self._delete_cookie(secure)
        session.mark_saved(None if self.store.stateless else token)
        if token is not None:
            return self._set_cookie(token, secure)
        return self._delete_cookie(secure) if session.had_cookie else None
