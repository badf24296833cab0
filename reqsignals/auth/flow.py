"""Logging users in and out: ``authenticate``, ``login``, ``logout``, ``get_user``.

Every function takes the request the app has — a Starlette/FastAPI request, a
Werkzeug/Flask request, an ASGI scope or a WSGI environ — and needs the session
middleware (``SessionAuth(...).wrap(app)``) around the app. The ``a``-prefixed twins
are for async code: they await async backends (and run sync ones in a worker thread)
and send the auth signals with ``asend_robust``, so async receivers work.

The session holds three keys: the user's id, the backend that loaded it (its class
path, with ``#n`` when several configured backends share a class), and the user's
session hash (an HMAC of the password hash). A request whose session hash no
longer matches — the password changed since — is anonymous and its session flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from .._keys import LOCKOUT_REFUSAL_KEY, STARLETTE_USER_KEY, USER_KEY
from ..dispatch import Signal, is_async_callable
from ..scrub import scrub_credentials
from ..signals import user_locked_out, user_logged_in, user_logged_out, user_login_failed
from ._tracking import aend_sessions, end_sessions, record_login, touch
from .csrf import rotate as rotate_csrf_secret
from .exceptions import LockedOut, LockoutUnavailable, PermissionDenied
from .lockout import Attempt, Lockout
from .sessions import Session, SessionConfig, _namespace, get_auth, get_session
from .stores.base import USER_ID_FIELD, SessionStore
from .users import session_auth_hash, session_auth_hash_matches

__all__ = [
    "ANONYMOUS",
    "AnonymousUser",
    "aauthenticate",
    "aget_user",
    "alogin",
    "alogout",
    "aupdate_session_auth_hash",
    "authenticate",
    "get_user",
    "login",
    "logout",
    "update_session_auth_hash",
]

#: Session keys written by :func:`login`.
SESSION_USER_ID = USER_ID_FIELD
SESSION_BACKEND = "_auth_user_backend"
SESSION_HASH = "_auth_user_hash"
#: The sender of ``user_login_failed``.
LOGIN_FAILED_SENDER = "reqsignals.auth"

logger = logging.getLogger("reqsignals.auth")
# Tasks of update_session_auth_hash() called from async code, kept until they finish.
_ending: set[asyncio.Task[int]] = set()


class AnonymousUser:
    """The user of a request nobody is logged in to (Starlette's ``request.user`` too)."""

    id = None
    pk = None
    username = ""
    display_name = ""
    identity = ""
    is_active = False
    is_authenticated = False

    def __repr__(self) -> str:
        return "AnonymousUser()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnonymousUser)

    def __hash__(self) -> int:
        return 1


#: The one anonymous user.
ANONYMOUS = AnonymousUser()


# -- helpers -----------------------------------------------------------------------


def _space(request: Any) -> MutableMapping[str, Any]:
    space = _namespace(request)
    assert isinstance(space, MutableMapping)
    return space


def _class_path(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _backend_path(auth: SessionConfig, backend: object) -> str | None:
    """The name *backend* is kept under in the session: its class path, plus ``#n``
    when several configured backends share that class (two SQLiteBackend files must
    never load each other's users). ``None`` if it is not one of *auth*'s backends."""
    path = _class_path(backend)
    same = [b for b in auth.backends if _class_path(b) == path]
    for n, configured in enumerate(same):
        if configured is backend:
            return path if len(same) == 1 else f"{path}#{n}"
    return None


def _find_backend(auth: SessionConfig, path: object) -> object | None:
    for backend in auth.backends:
        if _backend_path(auth, backend) == path:
            return backend
    return None


def _user_id(user: object) -> int | str:
    """The id kept in the session: an int or str as is, anything else (a UUID) as str."""
    user_id = getattr(user, "id", None)
    if user_id is None:
        user_id = getattr(user, "pk", None)
    if user_id is None:
        # The type only: a user passed by mistake as a dict may hold the password.
        raise ValueError(
            f"cannot log in a {type(user).__name__}: it has no 'id' (or 'pk') attribute to "
            "keep in the session; pass the user object that authenticate() returned"
        )
    return user_id if isinstance(user_id, (int, str)) else str(user_id)


def _takes(method: Any, request: Any, credentials: Mapping[str, Any]) -> bool:
    """Whether *method* can be called with these credentials (Django skips it if not)."""
    try:
        inspect.signature(method).bind(request, **credentials)
    except TypeError:
        return False
    except ValueError:  # no signature to read: try it
        return True
    return True


def _run(value: Any, what: str, twin: str) -> Any:
    """A backend's result in sync code: awaited on a private loop if it is awaitable."""
    if not inspect.isawaitable(value):
        return value
    try:
        asyncio.get_running_loop()
    except RuntimeError:

        async def wait() -> Any:
            return await value

        return asyncio.run(wait())
    if inspect.iscoroutine(value):
        value.close()
    raise RuntimeError(
        f"the backend's {what} is async and an event loop is running in this thread: "
        f"use 'await {twin}(...)' instead"
    )


def _send(signal: Signal, sender: Any, twin: str, **named: Any) -> None:
    """``send_robust`` from the sync functions, with an error that names their twin."""
    try:
        signal.send_robust(sender, **named)
    except RuntimeError as exc:  # async receivers, and a loop runs in this thread
        raise RuntimeError(
            f"{signal.name} has async receivers and an event loop is running in this "
            f"thread: use 'await {twin}(...)' instead"
        ) from exc


async def _acall(backend: object, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call backend.a<name> if it has one, an async <name> directly, a sync one in a thread."""
    twin = getattr(backend, f"a{name}", None)
    if twin is not None:
        return await twin(*args, **kwargs)
    method = getattr(backend, name)
    if is_async_callable(method):
        return await method(*args, **kwargs)
    return await asyncio.to_thread(method, *args, **kwargs)


def _remember(request: Any, user: Any) -> None:
    space = _space(request)
    space[USER_KEY] = user
    if "type" in space:  # an ASGI scope: Starlette's request.user reads scope["user"]
        space[STARLETTE_USER_KEY] = user


def _annotate(auth: SessionConfig, user: Any, backend: object) -> Any:
    # A user object that takes no new attributes: login() is told the backend instead.
    with contextlib.suppress(AttributeError):
        user.backend = _backend_path(auth, backend)
    return user


# -- authenticate --------------------------------------------------------------------


def _candidates(auth: SessionConfig, request: Any, credentials: Mapping[str, Any]) -> list[object]:
    if not auth.backends:
        raise RuntimeError("SessionAuth has no backends: pass backends=[...] to authenticate users")
    found = []
    for backend in auth.backends:
        method = getattr(backend, "authenticate", None)
        if method is not None and _takes(method, request, credentials):
            found.append(backend)
    return found


def _refused(request: Any, exc: Exception) -> None:
    # Left on the request so the session middleware answers 429 (or 503) even when a
    # framework turns the uncaught exception into its own 500 page.
    _space(request)[LOCKOUT_REFUSAL_KEY] = exc


def _begin(request: Any, lockout: Lockout, credentials: Mapping[str, Any]) -> Attempt:
    try:
        return lockout.begin(request, credentials)
    except (LockedOut, LockoutUnavailable) as exc:
        _refused(request, exc)
        raise


async def _abegin(request: Any, lockout: Lockout, credentials: Mapping[str, Any]) -> Attempt:
    try:
        return await lockout.abegin(request, credentials)
    except (LockedOut, LockoutUnavailable) as exc:
        _refused(request, exc)
        raise


def _discard(lockout: Lockout, attempt: Attempt) -> None:
    try:
        lockout.discard(attempt)
    except LockoutUnavailable:
        logger.warning(_UNDISCARDED, exc_info=True)


async def _adiscard(lockout: Lockout, attempt: Attempt) -> None:
    try:
        await lockout.adiscard(attempt)
    except LockoutUnavailable:
        logger.warning(_UNDISCARDED, exc_info=True)


_UNDISCARDED = (
    "a backend raised during a login, and the lock-out's counter could not take the "
    "attempt off its counts: it stays counted as a failed login"
)


def authenticate(request: Any, **credentials: Any) -> Any | None:
    """Ask each backend in turn for the user these credentials belong to.

    A backend whose ``authenticate`` cannot take these credentials is skipped; one
    that raises :class:`~reqsignals.auth.exceptions.PermissionDenied` stops the search.
    When no backend accepts them, ``user_login_failed`` is sent once, with a scrubbed
    copy of the credentials, and ``None`` is returned.

    With ``SessionAuth(lockout=...)``, the lock-out is asked first: while the username
    or the client's address is locked, :class:`~reqsignals.auth.LockedOut` is raised
    and no backend runs. A failed attempt is counted; when it engages a lock,
    ``user_locked_out`` is sent after ``user_login_failed``. Any other exception a
    backend raises propagates, as in Django: no ``user_login_failed`` is sent, and the
    attempt is taken off the lock-out's counts (it is no failed login, so it cannot
    engage a lock; django-axes, too, counts only what reaches ``user_login_failed``).

    Returns:
        The user, or ``None``.

    Raises:
        LockedOut: too many failed logins for this username or address (the session
            middleware answers an uncaught one with 429 and ``Retry-After``).
        LockoutUnavailable: the lock-out's counter store is down (logins fail closed).
        RuntimeError: the session middleware is not installed, no backend is
            configured, or a backend is async and an event loop runs in this thread
            (use :func:`aauthenticate` there).

    Example::

        user = authenticate(flask.request, username=form["username"], password=form["password"])
        if user is not None:
            login(flask.request, user)
    """
    auth = get_auth(request)
    candidates = _candidates(auth, request, credentials)
    lockout = auth.lockout
    attempt = None if lockout is None else _begin(request, lockout, credentials)
    # From here on the attempt counts as a failure unless a backend accepts it. A
    # backend that crashes ends the login with no user_login_failed, as in Django, so
    # the attempt is no failed login either: it comes off the counts (and so cannot
    # engage a lock that user_locked_out would never report).
    for backend in candidates:
        try:
            user = _run(
                backend.authenticate(request, **credentials),  # type: ignore[attr-defined]
                "authenticate()",
                "aauthenticate",
            )
        except PermissionDenied:
            break
        except Exception:
            if lockout is not None and attempt is not None:
                _discard(lockout, attempt)
            raise
        if user is not None:
            if lockout is not None and attempt is not None:
                lockout.succeeded(attempt)
            return _annotate(auth, user, backend)
    scrubbed = scrub_credentials(credentials)
    _send(
        user_login_failed,
        LOGIN_FAILED_SENDER,
        "aauthenticate",
        credentials=scrubbed,
        request=request,
    )
    if lockout is not None and attempt is not None:
        for reason, retry_after in lockout.failed(attempt):
            _send(
                user_locked_out,
                LOGIN_FAILED_SENDER,
                "aauthenticate",
                request=request,
                credentials=scrubbed,
                reason=reason,
                retry_after=retry_after,
            )
    return None


async def aauthenticate(request: Any, **credentials: Any) -> Any | None:
    """The async twin of :func:`authenticate`: awaits async backends, runs sync ones in a
    worker thread, and sends ``user_login_failed`` (and ``user_locked_out``) with
    ``asend_robust``."""
    auth = get_auth(request)
    candidates = _candidates(auth, request, credentials)
    lockout = auth.lockout
    attempt = None if lockout is None else await _abegin(request, lockout, credentials)
    for backend in candidates:
        try:
            user = await _acall(backend, "authenticate", request, **credentials)
        except PermissionDenied:
            break
        except Exception:  # as in authenticate(): not a failed login, not counted
            if lockout is not None and attempt is not None:
                await _adiscard(lockout, attempt)
            raise
        if user is not None:
            if lockout is not None and attempt is not None:
                await lockout.asucceeded(attempt)
            return _annotate(auth, user, backend)
    scrubbed = scrub_credentials(credentials)
    await user_login_failed.asend_robust(LOGIN_FAILED_SENDER, credentials=scrubbed, request=request)
    if lockout is not None and attempt is not None:
        for reason, retry_after in await lockout.afailed(attempt):
            await user_locked_out.asend_robust(
                LOGIN_FAILED_SENDER,
                request=request,
                credentials=scrubbed,
                reason=reason,
                retry_after=retry_after,
            )
    return None


# -- login ---------------------------------------------------------------------------


def _store_login(request: Any, user: Any, backend: object | None) -> str | None:
    """Put *user* into the session; return the pre-login key, for the caller to delete
    from the store before login() returns."""
    session, auth = get_session(request), get_auth(request)
    user_id = _user_id(user)
    path: str | None
    if backend is None:
        path = getattr(user, "backend", None)
        if path is None or _find_backend(auth, path) is None:
            if len(auth.backends) != 1:
                raise ValueError(
                    "login() cannot tell which backend loaded this user: pass backend=..., "
                    "or log in a user returned by authenticate()"
                )
            path = _backend_path(auth, auth.backends[0])
    else:
        path = _backend_path(auth, backend)
        if path is None:
            raise ValueError(
                f"login() got backend={backend!r}, which is not one of SessionAuth's "
                "backends: its users could not be loaded again; add it to backends=[...]"
            )
    new_hash = session_auth_hash(user, auth.secret_keys[0])
    if SESSION_USER_ID in session:
        stored = session.get(SESSION_HASH)
        if (
            session[SESSION_USER_ID] != user_id
            or session.get(SESSION_BACKEND) != path
            or not session_auth_hash_matches(user, stored, auth.secret_keys)
        ):
            # Someone else's session (another id, or the same id in another backend),
            # or one from before a password change: nothing of it may carry over.
            session.flush()
        else:
            session.cycle_key()
    else:
        session.cycle_key()  # a new key on login: a key known before it is worthless
    rotate_csrf_secret(session)  # a token known before login is worthless after
    session[SESSION_USER_ID] = user_id
    session[SESSION_BACKEND] = path
    if new_hash is None:
        session.pop(SESSION_HASH, None)
    else:
        session[SESSION_HASH] = new_hash
    record_login(session, _space(request))
    _remember(request, user)
    return session.retire_key()


def login(request: Any, user: Any, backend: object | None = None) -> None:
    """Log *user* in on this request's session, then send ``user_logged_in``.

    The session gets a new key (its data kept), or is flushed first if it belonged to
    another user (another id, or the same id from another backend) or to this user
    before a password change; the pre-login key is
    deleted from the store before ``login()`` returns, whatever the app answers next.
    It then stores the user's id, the backend and the user's session hash, and the
    session's CSRF token secret is dropped (tokens from before the login are dead).

    Args:
        request: the app's request (see the module docstring).
        user: a user returned by :func:`authenticate` (or any object with ``id``).
        backend: the backend the user came from; needed only when *user* did not come
            from :func:`authenticate` and several backends are configured.

    Raises:
        ValueError: *user* has no ``id`` (or ``pk``); the backend cannot be told; or
            *backend* is not one of ``SessionAuth``'s backends.
        SessionStoreUnavailable: the store could not delete the pre-login key.
        RuntimeError: the session middleware is not installed, or an async receiver
            is connected and an event loop runs in this thread (use :func:`alogin`).

    Example::

        user = authenticate(request, username="ada", password=form["password"])
        if user is not None:
            login(request, user)
    """
    _delete_key(get_auth(request), _store_login(request, user, backend))
    _send(user_logged_in, type(user), "alogin", request=request, user=user)


async def alogin(request: Any, user: Any, backend: object | None = None) -> None:
    """The async twin of :func:`login` (``user_logged_in`` sent with ``asend_robust``)."""
    await _adelete_key(get_auth(request), _store_login(request, user, backend))
    await user_logged_in.asend_robust(type(user), request=request, user=user)


def _store_new_hash(request: Any, user: Any) -> tuple[Session, SessionConfig, bool]:
    session, auth = get_session(request), get_auth(request)
    session.cycle_key()
    mine = session.get(SESSION_USER_ID) == _user_id(user)
    if mine:
        new_hash = session_auth_hash(user, auth.secret_keys[0])
        if new_hash is not None:
            session[SESSION_HASH] = new_hash
        _remember(request, user)
    return session, auth, mine and not auth.store.stateless


def _same_backend(session: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
    """Whether a stored session's user came from *session*'s backend: two backends
    (two user files) may each have a user 1, and those are different people."""
    backend = session.get(SESSION_BACKEND)
    return lambda data: data.get(SESSION_BACKEND) == backend


def _stale(
    user: Any, session: Session, keys: tuple[bytes, ...]
) -> Callable[[Mapping[str, Any]], bool]:
    # The sessions a password change ends: this user's (the same id from the same
    # backend) whose hash is not the user's new one. This session has it, under its
    # old key and under the new one the response saves.
    mine = _same_backend(session)
    return lambda data: (
        mine(data) and not session_auth_hash_matches(user, data.get(SESSION_HASH), keys)
    )


def _on_event_loop(store: SessionStore) -> bool:
    """Whether sync store I/O here would block a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    # A store whose async twins are its own does I/O (MemoryStore's are the defaults).
    return type(store).auser_sessions is not SessionStore.auser_sessions


def _ended_on_loop(task: asyncio.Task[int]) -> None:
    _ending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error(
            "update_session_auth_hash() could not end the user's other sessions (they are "
            "logged out anyway: their session hash no longer matches)",
            exc_info=task.exception(),
        )


def update_session_auth_hash(request: Any, user: Any) -> None:
    """Keep this session logged in after *user*'s password changed.

    Gives the session a new key and stores the new session hash; every other session
    of the user is logged out. With a server-side store they are deleted now, each
    reported by ``session_revoked`` with reason ``"password_changed"``; with
    :class:`CookieStore` each is anonymous on its next request. Call it after saving
    the password, with the updated user (the old object still has the old hash).

    Called from async code (as it could be before it ended sessions), it does not
    block the event loop: the other sessions are ended just after, by a task on the
    loop using the store's async twins. :func:`aupdate_session_auth_hash` ends them
    before it returns.

    Example::

        changed = users.set_password(user, new_password)
        update_session_auth_hash(request, changed)
    """
    session, auth, server_side = _store_new_hash(request, user)
    if not server_side:
        return
    args = (auth.store, _user_id(user), "password_changed")
    only = _stale(user, session, auth.secret_keys)
    if _on_event_loop(auth.store):
        ending = aend_sessions(*args, request=request, keep=session.key, only=only)
        task = asyncio.get_running_loop().create_task(ending)
        _ending.add(task)
        task.add_done_callback(_ended_on_loop)
    else:
        end_sessions(*args, request=request, keep=session.key, only=only)


async def aupdate_session_auth_hash(request: Any, user: Any) -> None:
    """The async twin of :func:`update_session_auth_hash`."""
    session, auth, server_side = _store_new_hash(request, user)
    if server_side:
        await aend_sessions(
            auth.store,
            _user_id(user),
            "password_changed",
            request=request,
            keep=session.key,
            only=_stale(user, session, auth.secret_keys),
        )


def _session_backend(auth: SessionConfig, session: Session) -> Any:
    backend = _find_backend(auth, session.get(SESSION_BACKEND))
    if backend is None or getattr(backend, "end_sessions", None) is None:
        raise RuntimeError(
            "logout_everywhere() with CookieStore changes the user's session hash, which "
            "needs a backend with end_sessions(user) (MemoryBackend and SQLiteBackend "
            "have it); or use a server-side store (MemoryStore, SQLiteStore, RedisStore)"
        )
    return backend


def update_user_sessions_hash(request: Any, user: Any) -> None:
    """Change *user*'s session hash through its backend, keeping this session in.

    Every other session of the user, wherever it is kept, is anonymous on its next
    request: the way to end sessions that a :class:`CookieStore` cannot reach.
    """
    auth, session = get_auth(request), get_session(request)
    backend = _session_backend(auth, session)
    changed = _run(backend.end_sessions(user), "end_sessions()", "alogout_everywhere")
    _store_new_hash(request, changed)


async def aupdate_user_sessions_hash(request: Any, user: Any) -> None:
    """The async twin of :func:`update_user_sessions_hash`."""
    auth, session = get_auth(request), get_session(request)
    backend = _session_backend(auth, session)
    changed = await _acall(backend, "end_sessions", user)
    _store_new_hash(request, changed)


# -- logout --------------------------------------------------------------------------


def _logged_out(request: Any, session: Session) -> str | None:
    session.flush()
    _remember(request, ANONYMOUS)
    return session.retire_key()


# The key a login or logout leaves is deleted from the store before the function
# returns (Django deletes at flush() time too), not when the response starts: a view
# that then answers 5xx or raises must not leave the old cookie logged in.


def _delete_key(auth: SessionConfig, key: str | None) -> None:
    if key is not None:
        auth.store.delete(key)


async def _adelete_key(auth: SessionConfig, key: str | None) -> None:
    if key is not None:
        await auth.store.adelete(key)


def logout(request: Any) -> None:
    """Send ``user_logged_out``, then flush the session (new key, no data).

    ``sender`` is the user's type, or ``None`` with ``user=None`` when nobody was
    logged in. The old session key is deleted from the store before ``logout()``
    returns, so the old cookie no longer authenticates, whatever the app answers next
    (a 5xx response still tells the browser to drop it; a :class:`CookieStore` cookie
    can only be dropped by the browser, see its caveats).

    Raises:
        RuntimeError: the session middleware is not installed, or an async receiver
            or backend meets an event loop running in this thread (use :func:`alogout`).
    """
    user = get_user(request)
    real = user if getattr(user, "is_authenticated", False) else None
    sender = type(real) if real is not None else None
    _send(user_logged_out, sender, "alogout", request=request, user=real)
    _delete_key(get_auth(request), _logged_out(request, get_session(request)))


async def alogout(request: Any) -> None:
    """The async twin of :func:`logout`."""
    user = await aget_user(request)
    real = user if getattr(user, "is_authenticated", False) else None
    await user_logged_out.asend_robust(
        type(real) if real is not None else None, request=request, user=real
    )
    await _adelete_key(get_auth(request), _logged_out(request, get_session(request)))


# -- the request's user --------------------------------------------------------------


def _stored_backend(request: Any) -> tuple[Session, SessionConfig, Any, object | None]:
    session, auth = get_session(request), get_auth(request)
    user_id = session.get(SESSION_USER_ID)
    backend = None if user_id is None else _find_backend(auth, session.get(SESSION_BACKEND))
    return session, auth, user_id, backend


def _checked(request: Any, session: Session, auth: SessionConfig, user: Any) -> Any:
    if user is None:
        return ANONYMOUS
    stored = session.get(SESSION_HASH)
    if not session_auth_hash_matches(user, stored, auth.secret_keys):
        # The password changed since this session logged in: log it out everywhere.
        session.flush()
        return ANONYMOUS
    current = session_auth_hash(user, auth.secret_keys[0])
    if current is not None and stored != current:
        session[SESSION_HASH] = current  # matched an old key: re-sign with the new one
    touch(session, auth.last_seen_interval)
    return user


def get_user(request: Any) -> Any:
    """The user logged in on this request, or :data:`ANONYMOUS`.

    Loaded once per request from the session's backend and kept on the request. A
    session whose stored hash no longer matches the user (the password changed) is
    flushed, and the request is anonymous.

    Raises:
        RuntimeError: the session middleware is not installed, or the backend is async
            and an event loop runs in this thread (use :func:`aget_user`).

    Example::

        user = get_user(flask.request)
        if not user.is_authenticated:
            return flask.redirect("/login")
    """
    space = _space(request)
    if USER_KEY in space:
        return space[USER_KEY]
    session, auth, user_id, backend = _stored_backend(request)
    user = None
    if backend is not None:
        user = _run(backend.get_user(user_id), "get_user()", "aget_user")  # type: ignore[attr-defined]
    user = _checked(request, session, auth, user)
    _remember(request, user)
    return user


async def aget_user(request: Any) -> Any:
    """The async twin of :func:`get_user`."""
    space = _space(request)
    if USER_KEY in space:
        return space[USER_KEY]
    session, auth, user_id, backend = _stored_backend(request)
    user = None
    if backend is not None:
        user = await _acall(backend, "get_user", user_id)
    user = _checked(request, session, auth, user)
    _remember(request, user)
    return user
