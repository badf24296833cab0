"""Logout and login hold whatever the response: the old session key is dead once
``logout()`` / ``login()`` returns, even when the view then answers 500 or raises, in
every store, WSGI and ASGI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from reqsignals.auth import (
    SessionAuth,
    aget_user,
    alogin,
    alogout,
    get_session,
    get_user,
    login,
    logout,
)
from reqsignals.auth.stores.base import SessionStore
from reqsignals.signals import user_logged_out
from tests.helpers.clients import InProcessClient
from tests.live_apps.auth_apps import SECRET, Answer, json_asgi_app, json_wsgi_app
from tests.live_apps.auth_csrf_apps import make_backend

from .conftest import SERVER_STORES, StoreFactory

# Each view does its auth step, then ends as the path says: "ok", "500" or "raise".
#   /login-<end>   log ada in          /logout-<end>   log out
#   /seed          store a value in an anonymous session      /me   who, and the value


def _finish(end: str) -> Answer:
    if end == "raise":
        raise RuntimeError("the view failed after the auth step")
    return (500 if end == "500" else 200), {}


def wsgi_app(auth: SessionAuth) -> Any:
    backend = auth.backends[0]

    def view(environ: dict[str, Any], path: str) -> Answer:
        action, _, end = path.partition("-")
        if action == "login":
            login(environ, backend._find("ada"))  # type: ignore[attr-defined]
            return _finish(end)
        if action == "logout":
            logout(environ)
            return _finish(end)
        if action == "seed":
            get_session(environ)["cart"] = ["apple"]
            return 200, {}
        user = get_user(environ)
        return 200, {"user": user.username or None, "cart": get_session(environ).get("cart")}

    return json_wsgi_app(auth, view)


def asgi_app(auth: SessionAuth) -> Any:
    backend = auth.backends[0]

    async def view(scope: dict[str, Any], receive: Any, path: str) -> Answer:
        action, _, end = path.partition("-")
        if action == "login":
            await alogin(scope, backend._find("ada"))  # type: ignore[attr-defined]
            return _finish(end)
        if action == "logout":
            await alogout(scope)
            return _finish(end)
        if action == "seed":
            get_session(scope)["cart"] = ["apple"]
            return 200, {}
        user = await aget_user(scope)
        return 200, {"user": user.username or None, "cart": get_session(scope).get("cart")}

    return json_asgi_app(auth, view)


class Raw(InProcessClient):
    """Sends exactly the cookie it is given; app exceptions become a 500, as a server does."""

    def __init__(self, interface: str, store: SessionStore) -> None:
        auth = SessionAuth(SECRET, store, backends=[make_backend()])
        asgi = interface == "asgi"
        app = asgi_app(auth) if asgi else wsgi_app(auth)
        super().__init__(app, auth, asgi=asgi, raise_app_exceptions=False)

    def post(self, url: str, cookie: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Cookie": f"session={cookie}"} if cookie else {}
        try:
            return super().post(url, headers=headers, **kwargs)
        except RuntimeError:
            if self.is_asgi:
                raise
            # httpx's WSGI transport re-raises what the app raised; a server answers
            # 500 with headers of its own, never the middleware's.
            return httpx.Response(500)

    def me(self, cookie: str) -> dict[str, Any]:
        response = self.post("/me", cookie)
        assert response.status_code == 200
        return response.json()  # type: ignore[no-any-return]


def cookie_of(response: httpx.Response) -> str:
    header = response.headers["set-cookie"]
    name, _, rest = header.partition("=")
    assert name == "session"
    return rest.split(";")[0]


def tells_the_browser_to_drop_it(response: httpx.Response) -> bool:
    header = response.headers.get("set-cookie", "")
    return header.startswith("session=;") and "Max-Age=0" in header


@pytest.fixture(params=["wsgi", "asgi"])
def interface(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def raw(interface: str, store: SessionStore) -> Iterator[Raw]:
    client = Raw(interface, store)
    yield client
    client.close()


@pytest.fixture
def make_raw(interface: str, make_store: StoreFactory) -> Iterator[Callable[[str], Raw]]:
    made: list[Raw] = []

    def make(kind: str) -> Raw:
        made.append(Raw(interface, make_store(kind)))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.mark.parametrize("end", ["500", "raise"])
@pytest.mark.parametrize("kind", SERVER_STORES)
def test_logout_holds_when_the_view_then_fails(
    make_raw: Callable[[str], Raw], kind: str, end: str
) -> None:
    raw = make_raw(kind)
    cookie = cookie_of(raw.post("/login-ok"))
    assert raw.me(cookie)["user"] == "ada"
    heard: list[Any] = []
    with user_logged_out.connected_to(lambda sender, **kw: heard.append(kw["user"])):
        response = raw.post(f"/logout-{end}", cookie)
    assert response.status_code == 500
    assert [u.username for u in heard] == ["ada"]
    assert raw.me(cookie)["user"] is None  # the old key is dead in the store
    if end == "500":  # a response of the app's own still drops the cookie
        assert tells_the_browser_to_drop_it(response)


@pytest.mark.parametrize("end", ["500", "raise"])
@pytest.mark.parametrize("kind", SERVER_STORES)
def test_the_pre_login_key_is_dead_when_login_then_fails(
    make_raw: Callable[[str], Raw], kind: str, end: str
) -> None:
    raw = make_raw(kind)
    planted = cookie_of(raw.post("/seed"))
    assert raw.me(planted)["cart"] == ["apple"]
    response = raw.post(f"/login-{end}", planted)
    assert response.status_code == 500
    assert raw.me(planted) == {"user": None, "cart": None}
    if end == "500":
        assert tells_the_browser_to_drop_it(response)


def test_cookie_store_logout_with_a_500_still_drops_the_cookie(
    make_raw: Callable[[str], Raw],
) -> None:
    # A signed cookie cannot be revoked on the server (see CookieStore): the response
    # is what can end it, and a 500 of the app's own still carries the deletion.
    raw = make_raw("cookie")
    cookie = cookie_of(raw.post("/login-ok"))
    response = raw.post("/logout-500", cookie)
    assert response.status_code == 500
    assert tells_the_browser_to_drop_it(response)


def test_logout_and_login_that_succeed_still_answer_as_before(raw: Raw) -> None:
    cookie = cookie_of(raw.post("/login-ok"))
    assert raw.me(cookie)["user"] == "ada"
    out = raw.post("/logout-ok", cookie)
    assert out.status_code == 200
    assert tells_the_browser_to_drop_it(out)
    if not raw.auth.store.stateless:
        assert raw.me(cookie)["user"] is None
