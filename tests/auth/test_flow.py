"""The login flow: authenticate, login, logout and get_user, sync and async.

Each request goes through the real session middleware, called directly: WSGI with an
environ and a start_response, ASGI with a scope on an event loop. The code under test
runs inside the app, on the request the middleware prepared.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from reqsignals.auth import (
    ANONYMOUS,
    MASK,
    MemoryBackend,
    MemoryStore,
    PermissionDenied,
    SessionAuth,
    aauthenticate,
    aget_user,
    alogin,
    alogout,
    authenticate,
    get_session,
    get_user,
    login,
    logout,
    session_auth_hash,
    update_session_auth_hash,
)
from reqsignals.auth._tracking import SESSION_LAST_SEEN, SESSION_META
from reqsignals.auth.flow import SESSION_BACKEND, SESSION_HASH, SESSION_USER_ID
from reqsignals.signals import user_logged_in, user_logged_out, user_login_failed
from reqsignals.testing import capture
from tests.helpers.hashers import cheap_hasher

SECRET = "flow-secret-key-0123456789"
CHEAP = cheap_hasher()
PASSWORD = "flow-password-5up3r"


# -- a request through the real middleware -------------------------------------------


@dataclasses.dataclass
class Response:
    value: Any
    cookie: str | None  # the cookie the client keeps: None = unchanged, "" = deleted
    request: Any


def _cookie_of(set_cookie: str | None, name: str) -> str | None:
    if set_cookie is None:
        return None
    value = set_cookie.split(";", 1)[0].partition("=")[2]
    return value or ""


class Rig:
    """Runs *fn(request)* inside one request of a WSGI or ASGI app and keeps the cookie."""

    def __init__(self, auth: SessionAuth, interface: str) -> None:
        self.auth = auth
        self.interface = interface
        self.cookie: str | None = None

    def __call__(self, fn: Callable[[Any], Any], cookie: str | None = None) -> Response:
        sent = cookie if cookie is not None else self.cookie
        if self.interface == "wsgi":
            response = self._wsgi(fn, sent)
        else:
            response = asyncio.run(self._asgi(fn, sent))
        if response.cookie is not None and cookie is None:
            self.cookie = response.cookie or None
        return response

    def _wsgi(self, fn: Callable[[Any], Any], cookie: str | None) -> Response:
        got: dict[str, Any] = {}

        def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            got["request"] = environ
            got["value"] = fn(environ)
            start_response("200 OK", [])
            return [b""]

        headers: list[tuple[str, str]] = []
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/",
            "wsgi.url_scheme": "http",
        }
        if cookie:
            environ["HTTP_COOKIE"] = f"session={cookie}"
        body = self.auth.wrap(app)(environ, lambda status, h, exc=None: headers.extend(h))
        assert list(body) == [b""]
        set_cookie = next((v for k, v in headers if k == "Set-Cookie"), None)
        return Response(got["value"], _cookie_of(set_cookie, "session"), got["request"])

    async def _asgi(self, fn: Callable[[Any], Any], cookie: str | None) -> Response:
        got: dict[str, Any] = {}

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            got["request"] = scope
            value = fn(scope)
            got["value"] = await value if asyncio.iscoroutine(value) else value
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        headers: list[tuple[bytes, bytes]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers.extend(message["headers"])

        scope: dict[str, Any] = {
            "type": "http",
            "method": "POST",
            "path": "/",
            "scheme": "http",
            "headers": [(b"cookie", f"session={cookie}".encode())] if cookie else [],
        }
        await self.auth.wrap(app)(scope, receive, send)
        set_cookie = next((v.decode() for k, v in headers if k == b"set-cookie"), None)
        return Response(got["value"], _cookie_of(set_cookie, "session"), got["request"])


# -- backends and users of our own ----------------------------------------------------


@dataclasses.dataclass
class Person:
    id: Any
    name: str
    password_hash: str | None = "argon2$fake-hash-one"
    is_authenticated = True


class SyncBackend:
    """Knows one user; records every call in *log*."""

    def __init__(self, name: str, log: list[str], user: Person | None = None) -> None:
        self.name, self.log, self.user = name, log, user

    def authenticate(self, request: Any, *, username: str, password: str) -> Person | None:
        self.log.append(self.name)
        if self.user is not None and (username, password) == (self.user.name, PASSWORD):
            return dataclasses.replace(self.user)
        return None

    def get_user(self, user_id: Any) -> Person | None:
        self.log.append(f"{self.name}.get_user")
        if self.user is not None and user_id == self.user.id:
            return dataclasses.replace(self.user)
        return None


class AsyncBackend(SyncBackend):
    """The same with ``async def`` methods."""

    async def authenticate(  # type: ignore[override]
        self, request: Any, *, username: str, password: str
    ) -> Person | None:
        await asyncio.sleep(0)
        return SyncBackend.authenticate(self, request, username=username, password=password)

    async def get_user(self, user_id: Any) -> Person | None:  # type: ignore[override]
        await asyncio.sleep(0)
        return SyncBackend.get_user(self, user_id)


class TokenBackend:
    """Takes only ``token``."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def authenticate(self, request: Any, *, token: str) -> Person | None:
        self.log.append("token")
        return Person(7, "tok") if token == "good-token-zzz" else None

    def get_user(self, user_id: Any) -> Person | None:
        return Person(7, "tok") if user_id == 7 else None


class DenyingBackend:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def authenticate(self, request: Any, **credentials: Any) -> None:
        self.log.append("deny")
        raise PermissionDenied("locked out")

    def get_user(self, user_id: Any) -> None:
        return None


ADA = Person(1, "ada")
BOB = Person(2, "bob", "argon2$fake-hash-bob")
BACKENDS = {"sync": SyncBackend, "async": AsyncBackend}


def path_of(backend: object) -> str:
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def make_rig(interface: str, *backends: object, secret: Any = SECRET) -> Rig:
    return Rig(SessionAuth(secret, MemoryStore(), backends=backends), interface)


def calling(interface: str, sync: Callable[..., Any], a: Callable[..., Awaitable[Any]]) -> Any:
    """The sync function for WSGI requests, its async twin for ASGI ones."""
    return sync if interface == "wsgi" else a


INTERFACES = [pytest.param("wsgi", id="wsgi-sync"), pytest.param("asgi", id="asgi-async")]


# -- authenticate ---------------------------------------------------------------------


@pytest.mark.parametrize("interface", INTERFACES)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_backends_are_tried_in_order_until_one_returns_a_user(interface: str, kind: str) -> None:
    log: list[str] = []
    cls = BACKENDS[kind]
    first, second, third = cls("first", log), cls("second", log, ADA), cls("third", log, ADA)
    rig = make_rig(interface, first, second, third)
    auth_fn = calling(interface, authenticate, aauthenticate)
    with capture(user_login_failed) as sent:
        user = rig(lambda r: auth_fn(r, username="ada", password=PASSWORD)).value
    assert user == ADA
    assert user.backend == f"{path_of(second)}#1"  # the second of three of that class
    assert log == ["first", "second"]
    sent.assert_not_sent(user_login_failed)


@pytest.mark.parametrize("interface", INTERFACES)
def test_the_builtin_backend_authenticates_through_both_functions(interface: str) -> None:
    users = MemoryBackend(hasher=CHEAP)
    ada = users.create_user("ada", PASSWORD)
    rig = make_rig(interface, users)
    auth_fn = calling(interface, authenticate, aauthenticate)
    user = rig(lambda r: auth_fn(r, username="ada", password=PASSWORD)).value
    assert (user.id, user.backend) == (ada.id, path_of(users))


@pytest.mark.parametrize("interface", INTERFACES)
@pytest.mark.parametrize(
    ("credentials", "expected_log", "expected_user"),
    [
        pytest.param(
            {"username": "ada", "password": PASSWORD}, ["second"], 1, id="password-skips-token"
        ),
        pytest.param({"token": "good-token-zzz"}, ["token"], 7, id="token-skips-password"),
        pytest.param({"username": "ada"}, [], None, id="missing-password-skips-all"),
        pytest.param(
            {"username": "ada", "password": PASSWORD, "otp": "123"},
            [],
            None,
            id="extra-credential-skips-all",
        ),
    ],
)
def test_a_backend_whose_signature_cannot_take_the_credentials_is_skipped(
    interface: str, credentials: dict[str, str], expected_log: list[str], expected_user: Any
) -> None:
    log: list[str] = []
    rig = make_rig(interface, TokenBackend(log), SyncBackend("second", log, ADA))
    auth_fn = calling(interface, authenticate, aauthenticate)
    with capture(user_login_failed) as sent:
        user = rig(lambda r: auth_fn(r, **credentials)).value
    assert log == expected_log
    assert getattr(user, "id", None) == expected_user
    assert len(sent.of(user_login_failed)) == (expected_user is None)


class _NoSignature:
    """A callable inspect cannot read a signature from (as for some C extensions)."""

    @property
    def __signature__(self) -> Any:
        raise ValueError("no signature found")

    def __call__(self, request: Any, **credentials: Any) -> Person:
        return Person(3, "native")


def test_a_backend_without_a_readable_signature_is_tried() -> None:
    backend = TokenBackend([])
    backend.authenticate = _NoSignature()  # type: ignore[method-assign]
    rig = make_rig("wsgi", backend)
    assert rig(lambda r: authenticate(r, anything="at all")).value.id == 3


@pytest.mark.parametrize("interface", INTERFACES)
def test_permission_denied_stops_the_search_and_fails_once(interface: str) -> None:
    log: list[str] = []
    rig = make_rig(interface, DenyingBackend(log), SyncBackend("after", log, ADA))
    auth_fn = calling(interface, authenticate, aauthenticate)
    with capture(user_login_failed) as sent:
        response = rig(lambda r: auth_fn(r, username="ada", password=PASSWORD))
    assert response.value is None
    assert log == ["deny"]
    sent.assert_sent(user_login_failed, times=1, sender="reqsignals.auth")


@pytest.mark.parametrize("interface", INTERFACES)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_failed_login_sends_user_login_failed_once_with_scrubbed_credentials(
    interface: str, kind: str
) -> None:
    log: list[str] = []
    cls = BACKENDS[kind]
    rig = make_rig(interface, cls("one", log, ADA), cls("two", log, ADA))
    auth_fn = calling(interface, authenticate, aauthenticate)
    credentials = {"username": "ada", "password": "wrong-" + PASSWORD}
    with capture() as sent:
        response = rig(lambda r: auth_fn(r, **credentials))
    assert response.value is None
    assert log == ["one", "two"]
    [failed] = sent.of(user_login_failed)
    assert failed.sender == "reqsignals.auth"
    assert failed.kwargs["credentials"] == {"username": "ada", "password": MASK}
    assert failed.kwargs["request"] is response.request
    assert set(failed.kwargs) == {"credentials", "request"}
    assert credentials["password"] == "wrong-" + PASSWORD  # the caller's dict is untouched
    assert sent.names == ["user_login_failed"]


@pytest.mark.parametrize("interface", INTERFACES)
def test_authenticate_without_backends_names_the_fix(interface: str) -> None:
    rig = make_rig(interface)
    auth_fn = calling(interface, authenticate, aauthenticate)
    with pytest.raises(RuntimeError, match=r"pass backends=\[\.\.\.\]"):
        rig(lambda r: auth_fn(r, username="ada", password=PASSWORD))


# -- login ----------------------------------------------------------------------------


@pytest.mark.parametrize("interface", INTERFACES)
def test_login_cycles_the_key_of_an_anonymous_session_and_keeps_its_data(interface: str) -> None:
    backend = SyncBackend("b", [], ADA)
    rig = make_rig(interface, backend)
    rig(lambda r: get_session(r).update(cart=["apple"]))
    before = rig.cookie
    assert before is not None
    login_fn = calling(interface, login, alogin)
    response = rig(lambda r: login_fn(r, dataclasses.replace(ADA)))
    assert response.cookie
    assert response.cookie != before
    session = rig(lambda r: dict(get_session(r))).value
    record = session.pop(SESSION_META)
    assert set(record) == {"id", "created", "client", "ua"}
    assert session.pop(SESSION_LAST_SEEN) == record["created"]
    assert session == {
        "cart": ["apple"],
        SESSION_USER_ID: 1,
        SESSION_BACKEND: path_of(backend),
        SESSION_HASH: session_auth_hash(ADA, SECRET),
    }
    # The key known before login is gone from the store (fixation).
    assert rig(lambda r: dict(get_session(r)), cookie=before).value == {}


@pytest.mark.parametrize("interface", INTERFACES)
@pytest.mark.parametrize(
    ("second", "kept"),
    [
        pytest.param(ADA, True, id="same-user-same-hash-cycles"),
        pytest.param(BOB, False, id="other-user-flushes"),
        pytest.param(
            dataclasses.replace(ADA, password_hash="argon2$fake-hash-two"),
            False,
            id="same-user-new-hash-flushes",
        ),
    ],
)
def test_login_over_a_logged_in_session(interface: str, second: Person, kept: bool) -> None:
    backend = SyncBackend("b", [], ADA)
    # The user sessions must not be loaded before login() sees them: WSGI loads lazily;
    # an ASGI app here has a backend that knows nobody, so the middleware loads no user.
    rig = make_rig(interface, backend)
    login_fn = calling(interface, login, alogin)
    rig(lambda r: login_fn(r, dataclasses.replace(ADA)))
    rig(lambda r: get_session(r).update(cart=["apple"]))
    backend.user = None
    first_cookie = rig.cookie
    rig(lambda r: login_fn(r, dataclasses.replace(second)))
    data = rig(lambda r: dict(get_session(r))).value
    assert rig.cookie != first_cookie
    assert data[SESSION_USER_ID] == second.id
    assert data[SESSION_HASH] == session_auth_hash(second, SECRET)
    assert ("cart" in data) is kept


@pytest.mark.parametrize("interface", INTERFACES)
def test_login_over_the_same_id_from_another_backend_flushes(interface: str) -> None:
    # Users with no password hash match any stored hash: only the backend tells that
    # staff user 1 and customer 1 are two people.
    staff = SyncBackend("staff", [], Person(1, "ada", None))
    customers = SyncBackend("customers", [], Person(1, "carol", None))
    rig = make_rig(interface, staff, customers)
    login_fn = calling(interface, login, alogin)
    rig(lambda r: login_fn(r, Person(1, "ada", None), staff))
    rig(lambda r: get_session(r).update(cart=["apple"]))
    rig(lambda r: login_fn(r, Person(1, "carol", None), customers))
    data = rig(lambda r: dict(get_session(r))).value
    assert "cart" not in data
    assert data[SESSION_BACKEND].endswith("SyncBackend#1")


@pytest.mark.parametrize("interface", INTERFACES)
def test_user_logged_in_is_sent_last_with_the_session_updated(interface: str) -> None:
    backend = SyncBackend("b", [], ADA)
    rig = make_rig(interface, backend)
    seen: list[Any] = []

    def check(sender: Any, *, request: Any, user: Any, **kwargs: Any) -> None:
        session = get_session(request)
        seen.append(
            (sender, request, user, dict(session), session.modified, get_user(request) is user)
        )

    login_fn = calling(interface, login, alogin)
    user = dataclasses.replace(ADA)
    with user_logged_in.connected_to(check):
        response = rig(lambda r: login_fn(r, user))
    [(sender, request, got, data, modified, current)] = seen
    assert sender is Person
    assert request is response.request
    assert got is user
    assert data[SESSION_USER_ID] == 1
    assert data[SESSION_HASH] == session_auth_hash(ADA, SECRET)
    assert modified
    assert current


@pytest.mark.parametrize("interface", INTERFACES)
def test_login_tells_the_backend_from_the_user_or_the_argument(interface: str) -> None:
    one, two = SyncBackend("one", [], ADA), SyncBackend("two", [], BOB)
    rig = make_rig(interface, one, two)
    login_fn = calling(interface, login, alogin)
    with pytest.raises(ValueError, match="pass backend="):
        rig(lambda r: login_fn(r, dataclasses.replace(BOB)))
    with pytest.raises(ValueError, match="not one of SessionAuth's backends"):
        rig(lambda r: login_fn(r, dataclasses.replace(BOB), SyncBackend("x", [])))
    rig(lambda r: login_fn(r, dataclasses.replace(BOB), two))
    # Two backends of one class: the session names the right one, so the user comes back
    # from the backend that knows it, not the first of that class.
    assert rig(lambda r: get_user(r)).value == BOB


def test_login_with_a_single_backend_needs_no_backend_argument() -> None:
    backend = SyncBackend("b", [], ADA)
    rig = make_rig("wsgi", backend)
    rig(lambda r: login(r, dataclasses.replace(ADA)))
    assert rig(lambda r: get_session(r)[SESSION_BACKEND]).value == path_of(backend)
    assert rig(lambda r: get_user(r)).value == ADA


@dataclasses.dataclass(frozen=True)
class Frozen:
    id: int
    password_hash: str = "argon2$frozen"


class FrozenBackend:
    def authenticate(self, request: Any, *, username: str) -> Frozen:
        return Frozen(5)

    def get_user(self, user_id: Any) -> Frozen | None:
        return Frozen(5) if user_id == 5 else None


def test_a_user_that_takes_no_attributes_still_logs_in() -> None:
    frozen = FrozenBackend()
    rig = make_rig("wsgi", frozen, SyncBackend("other", []))
    user = rig(lambda r: authenticate(r, username="x")).value
    assert not hasattr(user, "backend")
    rig(lambda r: login(r, user, frozen))
    assert rig(lambda r: get_user(r)).value == Frozen(5)


def test_a_user_without_an_id_cannot_log_in() -> None:
    rig = make_rig("wsgi", SyncBackend("b", []))
    with pytest.raises(ValueError, match="no 'id'"):
        rig(lambda r: login(r, object()))


def test_a_dict_passed_as_the_user_is_named_by_type_never_echoed() -> None:
    rig = make_rig("wsgi", SyncBackend("b", []))
    form = {"username": "ada", "password": "hunter2-in-a-dict"}
    with pytest.raises(ValueError, match=r"cannot log in a dict: it has no 'id'") as info:
        rig(lambda r: login(r, form))
    assert "hunter2" not in str(info.value)


def test_a_uuid_id_is_kept_as_a_string() -> None:
    key = uuid.UUID(int=12345)

    class UUIDBackend(SyncBackend):
        def get_user(self, user_id: Any) -> Person | None:
            return Person(key, "uu") if user_id == str(key) else None

    rig = make_rig("wsgi", UUIDBackend("u", []))
    rig(lambda r: login(r, Person(key, "uu")))
    assert rig(lambda r: get_session(r)[SESSION_USER_ID]).value == str(key)
    assert rig(lambda r: get_user(r).id).value == key


@pytest.mark.parametrize("interface", INTERFACES)
def test_a_user_without_a_password_hash_stays_logged_in(interface: str) -> None:
    hashless = Person(9, "nohash", None)
    rig = make_rig(interface, SyncBackend("b", [], hashless))
    login_fn = calling(interface, login, alogin)
    get_fn = calling(interface, get_user, aget_user)
    rig(lambda r: login_fn(r, dataclasses.replace(hashless)))
    assert SESSION_HASH not in rig(lambda r: dict(get_session(r))).value
    assert rig(lambda r: get_fn(r)).value == hashless


# -- logout ---------------------------------------------------------------------------


@pytest.mark.parametrize("interface", INTERFACES)
def test_user_logged_out_is_sent_before_the_flush(interface: str) -> None:
    backend = SyncBackend("b", [], ADA)
    rig = make_rig(interface, backend)
    login_fn, logout_fn = calling(interface, login, alogin), calling(interface, logout, alogout)
    rig(lambda r: login_fn(r, dataclasses.replace(ADA)))
    logged_in_cookie = rig.cookie
    seen: list[Any] = []

    def check(sender: Any, *, request: Any, user: Any, **kwargs: Any) -> None:
        seen.append((sender, request, user, get_session(request).get(SESSION_USER_ID)))

    with user_logged_out.connected_to(check):
        response = rig(lambda r: logout_fn(r))
    [(sender, request, user, held)] = seen
    assert sender is Person
    assert user == ADA
    assert request is response.request
    assert held == 1  # the session still held the user inside the receiver
    assert response.cookie == ""  # flushed and empty: the cookie is deleted
    assert rig(lambda r: get_user(r), cookie=logged_in_cookie).value is ANONYMOUS


@pytest.mark.parametrize("interface", INTERFACES)
def test_logout_of_an_anonymous_request_sends_none(interface: str) -> None:
    rig = make_rig(interface, SyncBackend("b", []))
    logout_fn = calling(interface, logout, alogout)
    with capture(user_logged_out) as sent:
        response = rig(lambda r: logout_fn(r))
    sent.assert_sent(user_logged_out, times=1, sender=None, user=None)
    assert sent.of(user_logged_out)[0].kwargs["request"] is response.request


# -- the request's user ---------------------------------------------------------------


@pytest.mark.parametrize("interface", INTERFACES)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_get_user_loads_the_user_once_per_request(interface: str, kind: str) -> None:
    log: list[str] = []
    backend = BACKENDS[kind]("b", log, ADA)
    rig = make_rig(interface, backend)
    login_fn, get_fn = calling(interface, login, alogin), calling(interface, get_user, aget_user)
    rig(lambda r: login_fn(r, dataclasses.replace(ADA)))

    async def thrice_async(r: Any) -> list[Any]:
        return [await aget_user(r), get_user(r), await aget_user(r)]

    thrice = (lambda r: [get_fn(r) for _ in range(3)]) if interface == "wsgi" else thrice_async
    for _ in range(2):
        users = rig(thrice).value
        assert users == [ADA] * 3
        assert users[0] is users[1] is users[2]
    assert log == ["b.get_user", "b.get_user"]


@pytest.mark.parametrize("interface", INTERFACES)
def test_a_deleted_user_or_removed_backend_gives_an_anonymous_request(interface: str) -> None:
    backend = SyncBackend("b", [], ADA)
    rig = make_rig(interface, backend)
    get_fn = calling(interface, get_user, aget_user)
    login_fn = calling(interface, login, alogin)
    rig(lambda r: login_fn(r, dataclasses.replace(ADA)))
    backend.user = None  # deleted
    assert rig(lambda r: get_fn(r)).value is ANONYMOUS
    backend.user = ADA
    other = Rig(SessionAuth(SECRET, rig.auth.store, backends=[TokenBackend([])]), interface)
    assert other(lambda r: get_fn(r), cookie=rig.cookie).value is ANONYMOUS
    assert rig(lambda r: get_fn(r)).value == ADA


@pytest.mark.parametrize("interface", INTERFACES)
def test_a_password_change_logs_the_other_sessions_out(interface: str) -> None:
    users = MemoryBackend(hasher=CHEAP)
    ada = users.create_user("ada", PASSWORD)
    rig = make_rig(interface, users)
    login_fn, get_fn = calling(interface, login, alogin), calling(interface, get_user, aget_user)
    phone = rig(lambda r: login_fn(r, ada)).cookie
    laptop = rig(lambda r: login_fn(r, ada), cookie="").cookie
    assert phone
    assert laptop
    assert phone != laptop
    assert rig(lambda r: get_fn(r), cookie=phone).value.id == ada.id
    users.set_password("ada", "a-new-" + PASSWORD)
    for cookie in (phone, laptop):
        # ASGI: the middleware loaded the user; WSGI: get_user loads it now.
        response = rig(lambda r: (get_user(r), dict(get_session(r))), cookie=cookie)
        assert response.value == (ANONYMOUS, {})  # flushed
        assert response.cookie == ""  # and the client told to drop the cookie
        assert rig(lambda r: dict(get_session(r)), cookie=cookie).value == {}


@pytest.mark.parametrize("interface", INTERFACES)
def test_update_session_auth_hash_keeps_the_current_session(interface: str) -> None:
    users = MemoryBackend(hasher=CHEAP)
    ada = users.create_user("ada", PASSWORD)
    rig = make_rig(interface, users)
    login_fn, get_fn = calling(interface, login, alogin), calling(interface, get_user, aget_user)
    other = rig(lambda r: login_fn(r, ada), cookie="").cookie
    rig(lambda r: login_fn(r, ada))
    current = rig.cookie

    def change(request: Any) -> Any:
        changed = users.set_password("ada", "a-new-" + PASSWORD)
        update_session_auth_hash(request, changed)
        return changed

    changed = rig(change).value
    assert rig.cookie != current  # a new key
    assert rig(lambda r: get_fn(r)).value == changed
    assert rig(lambda r: get_session(r)[SESSION_HASH]).value == session_auth_hash(changed, SECRET)
    assert rig(lambda r: get_fn(r), cookie=other).value is ANONYMOUS


def test_update_session_auth_hash_of_another_user_only_cycles_the_key() -> None:
    rig = make_rig("wsgi", SyncBackend("b", [], ADA))
    rig(lambda r: login(r, dataclasses.replace(ADA)))
    before = rig.cookie
    rig(lambda r: update_session_auth_hash(r, dataclasses.replace(BOB)))
    assert rig.cookie != before
    data = rig(lambda r: dict(get_session(r))).value
    assert data[SESSION_HASH] == session_auth_hash(ADA, SECRET)
    rig(lambda r: update_session_auth_hash(r, Person(1, "ada", None)))  # no hash to store
    assert rig(lambda r: get_session(r)[SESSION_HASH]).value == session_auth_hash(ADA, SECRET)


@pytest.mark.parametrize("interface", INTERFACES)
def test_sessions_survive_a_secret_key_rotation_and_are_re_signed(interface: str) -> None:
    backend = SyncBackend("b", [], ADA)
    old = make_rig(interface, backend, secret="old-secret-key-aaaa")
    old(lambda r: calling(interface, login, alogin)(r, dataclasses.replace(ADA)))
    new = Rig(
        SessionAuth(
            ["new-secret-key-bbbb", "old-secret-key-aaaa"], old.auth.store, backends=[backend]
        ),
        interface,
    )
    new.cookie = old.cookie
    get_fn = calling(interface, get_user, aget_user)
    assert new(lambda r: get_fn(r)).value == ADA
    stored = new(lambda r: get_session(r)[SESSION_HASH]).value
    assert stored == session_auth_hash(ADA, "new-secret-key-bbbb")


# -- misuse ---------------------------------------------------------------------------

CALLS = [
    pytest.param(lambda r: authenticate(r, username="a", password="b"), id="authenticate"),
    pytest.param(lambda r: login(r, ADA), id="login"),
    pytest.param(lambda r: logout(r), id="logout"),
    pytest.param(lambda r: get_user(r), id="get_user"),
    pytest.param(lambda r: update_session_auth_hash(r, ADA), id="update_session_auth_hash"),
    pytest.param(
        lambda r: asyncio.run(aauthenticate(r, username="a", password="b")), id="aauthenticate"
    ),
    pytest.param(lambda r: asyncio.run(alogin(r, ADA)), id="alogin"),
    pytest.param(lambda r: asyncio.run(alogout(r)), id="alogout"),
    pytest.param(lambda r: asyncio.run(aget_user(r)), id="aget_user"),
]


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize(
    "request_",
    [
        pytest.param({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, id="environ"),
        pytest.param({"type": "http", "path": "/", "headers": []}, id="scope"),
    ],
)
def test_without_the_session_middleware_the_error_names_the_fix(
    call: Callable[[Any], Any], request_: dict[str, Any]
) -> None:
    with pytest.raises(RuntimeError, match=r"wrap the app with SessionAuth\(\.\.\.\)\.wrap\(app\)"):
        call(request_)


@pytest.mark.parametrize(
    ("signal", "call", "twin"),
    [
        pytest.param(
            user_login_failed,
            lambda r: authenticate(r, username="ada", password="nope"),
            "aauthenticate",
            id="authenticate",
        ),
        pytest.param(user_logged_in, lambda r: login(r, ADA), "alogin", id="login"),
        pytest.param(user_logged_out, lambda r: logout(r), "alogout", id="logout"),
    ],
)
def test_sync_functions_in_a_running_loop_with_async_receivers_name_the_twin(
    signal: Any, call: Callable[[Any], Any], twin: str
) -> None:
    async def receiver(sender: Any, **kwargs: Any) -> None:
        raise AssertionError("never called")

    rig = make_rig("asgi", SyncBackend("b", [], ADA))
    with signal.connected_to(receiver), pytest.raises(RuntimeError, match=f"await {twin}"):
        rig(call)


@pytest.mark.parametrize(
    ("call", "twin"),
    [
        pytest.param(
            lambda r: authenticate(r, username="ada", password=PASSWORD),
            "aauthenticate",
            id="authenticate",
        ),
        pytest.param(lambda r: get_user(r), "aget_user", id="get_user"),
    ],
)
def test_async_backends_from_sync_code_in_a_running_loop_name_the_twin(
    call: Callable[[Any], Any], twin: str
) -> None:
    backend = AsyncBackend("b", [], ADA)
    rig = make_rig("asgi", backend)
    rig(lambda r: alogin(r, dataclasses.replace(ADA)))
    # The middleware loaded the user already: dropping it makes get_user load it again.
    with pytest.raises(RuntimeError, match=f"await {twin}"):
        rig(lambda r: (r.pop("reqsignals.user"), call(r)))


def test_an_awaitable_that_is_no_coroutine_in_a_running_loop_is_refused() -> None:
    class FutureBackend(SyncBackend):
        async def aget_user(self, user_id: Any) -> None:  # what the middleware calls
            return None

        def get_user(self, user_id: Any) -> Any:
            future = asyncio.get_running_loop().create_future()
            future.set_result(ADA)
            return future

    rig = make_rig("wsgi", FutureBackend("f", []))
    rig(lambda r: login(r, dataclasses.replace(ADA)))
    asgi = Rig(rig.auth, "asgi")
    with pytest.raises(RuntimeError, match="await aget_user"):
        asgi(lambda r: (r.pop("reqsignals.user", None), get_user(r)), cookie=rig.cookie)


# -- async receivers ------------------------------------------------------------------


def _async_recorders() -> tuple[list[tuple[str, Any, dict[str, Any]]], dict[Any, Any]]:
    heard: list[tuple[str, Any, dict[str, Any]]] = []

    def make(name: str) -> Any:
        async def receiver(sender: Any, **kwargs: Any) -> None:
            await asyncio.sleep(0)  # really suspended on the loop
            kwargs.pop("signal")
            heard.append((name, sender, kwargs))

        return receiver

    return heard, {
        user_login_failed: make("failed"),
        user_logged_in: make("in"),
        user_logged_out: make("out"),
    }


@pytest.mark.parametrize("interface", INTERFACES)
def test_async_receivers_hear_every_auth_signal(interface: str) -> None:
    # ASGI: alogin/alogout/aauthenticate await them on the app's loop. WSGI: the sync
    # functions run them on a loop of their own (none runs in a WSGI thread).
    heard, receivers = _async_recorders()
    users = MemoryBackend(hasher=CHEAP)
    users.create_user("ada", PASSWORD)
    rig = make_rig(interface, users)
    auth_fn = calling(interface, authenticate, aauthenticate)
    login_fn, logout_fn = calling(interface, login, alogin), calling(interface, logout, alogout)

    async def a_flow(r: Any) -> Any:
        assert await aauthenticate(r, username="ada", password="wrong") is None
        user = await aauthenticate(r, username="ada", password=PASSWORD)
        await alogin(r, user)
        await alogout(r)
        return user

    def s_flow(r: Any) -> Any:
        assert auth_fn(r, username="ada", password="wrong") is None
        user = auth_fn(r, username="ada", password=PASSWORD)
        login_fn(r, user)
        logout_fn(r)
        return user

    for signal, receiver in receivers.items():
        signal.connect(receiver, weak=False)
    try:
        response = rig(s_flow if interface == "wsgi" else a_flow)
    finally:
        for signal, receiver in receivers.items():
            signal.disconnect(receiver)
    user = response.value
    assert [name for name, _, _ in heard] == ["failed", "in", "out"]
    assert heard[0][1:] == (
        "reqsignals.auth",
        {"credentials": {"username": "ada", "password": MASK}, "request": response.request},
    )
    assert heard[1][1:] == (type(user), {"request": response.request, "user": user})
    assert heard[2][1:] == (type(user), {"request": response.request, "user": user})


def test_the_anonymous_user() -> None:
    assert (repr(ANONYMOUS), bool(ANONYMOUS.is_authenticated), ANONYMOUS.id) == (
        "AnonymousUser()",
        False,
        None,
    )
    assert type(ANONYMOUS)() == ANONYMOUS
    assert ANONYMOUS != ADA
    assert len({ANONYMOUS, type(ANONYMOUS)()}) == 1
