"""SessionAuth, the two middleware and get_session/get_auth (the Session: test_sessions.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from reqsignals import connection_created
from reqsignals.auth import (
    ASGISessionMiddleware,
    MemoryBackend,
    MemoryStore,
    Session,
    SessionAuth,
    SessionError,
    SessionTooLarge,
    SQLiteStore,
    WSGISessionMiddleware,
    get_auth,
    get_session,
)
from reqsignals.testing import capture
from tests.live_apps.auth_apps import SECRET, Client

from .conftest import StoreFactory

MakeClient = Callable[..., Client]


async def asgi_noop(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def wsgi_noop(environ: Any, start_response: Any) -> list[bytes]:
    start_response("204 No Content", [])
    return []


# get_session / get_auth


def test_starlette_request_session_is_ours_and_helpers_find_it() -> None:
    auth = SessionAuth(SECRET, MemoryStore())
    seen: dict[str, Any] = {}

    async def view(request: Request) -> JSONResponse:
        seen["session"] = request.session
        seen["helper"] = get_session(request)
        seen["scope"] = get_session(request.scope)
        seen["auth"] = get_auth(request)
        return JSONResponse({})

    app = Starlette(routes=[Route("/", view)])
    app.add_middleware(ASGISessionMiddleware, auth=auth)

    async def go() -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            assert (await client.get("/")).status_code == 200

    asyncio.run(go())
    assert isinstance(seen["session"], Session)
    assert seen["helper"] is seen["session"] is seen["scope"]
    assert seen["auth"] is auth


def test_flask_request_and_environ_give_the_same_session() -> None:
    auth = SessionAuth(SECRET, MemoryStore())
    app = flask.Flask(__name__)
    seen: dict[str, Any] = {}

    @app.route("/")
    def view() -> str:
        seen["request"] = get_session(flask.request)
        seen["environ"] = get_session(flask.request.environ)
        seen["auth"] = get_auth(flask.request)
        return ""

    app.wsgi_app = auth.wrap(app.wsgi_app)  # type: ignore[method-assign]
    assert app.test_client().get("/").status_code == 200
    assert seen["request"] is seen["environ"]
    assert isinstance(seen["request"], Session)
    assert seen["auth"] is auth


def _starlette_request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": []})


@pytest.mark.parametrize("helper", [get_session, get_auth], ids=["get_session", "get_auth"])
@pytest.mark.parametrize(
    "make_request",
    [
        pytest.param(_starlette_request, id="starlette"),
        pytest.param(lambda: flask.Flask("x").test_request_context("/").request, id="flask"),
        pytest.param(lambda: {"type": "http", "headers": []}, id="scope"),
        pytest.param(lambda: {"REQUEST_METHOD": "GET"}, id="environ"),
    ],
)
def test_without_the_middleware_the_error_names_the_fix(
    helper: Callable[[Any], Any], make_request: Callable[[], Any]
) -> None:
    with pytest.raises(RuntimeError, match=r"wrap the app with SessionAuth\(\.\.\.\)\.wrap\(app\)"):
        helper(make_request())


def test_helpers_reject_what_is_not_a_request() -> None:
    with pytest.raises(TypeError, match="expected a Starlette/FastAPI or Werkzeug/Flask request"):
        get_session(object())


# wrap()


class AsyncCallable:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await asgi_noop(scope, receive, send)


@pytest.mark.parametrize(
    ("app", "interface", "expected"),
    [
        pytest.param(asgi_noop, None, ASGISessionMiddleware, id="async-def"),
        pytest.param(AsyncCallable(), None, ASGISessionMiddleware, id="async-call"),
        pytest.param(Starlette(), None, ASGISessionMiddleware, id="starlette"),
        pytest.param(wsgi_noop, None, WSGISessionMiddleware, id="wsgi-function"),
        pytest.param(flask.Flask("x"), None, WSGISessionMiddleware, id="flask"),
        pytest.param(lambda *a: asgi_noop(*a), "asgi", ASGISessionMiddleware, id="override-asgi"),
        pytest.param(asgi_noop, "wsgi", WSGISessionMiddleware, id="override-wsgi"),
    ],
)
def test_wrap_picks_the_interface(app: Any, interface: Any, expected: type) -> None:
    auth = SessionAuth(SECRET, MemoryStore())
    wrapped = auth.wrap(app, interface=interface)
    assert type(wrapped) is expected
    assert isinstance(wrapped, (ASGISessionMiddleware, WSGISessionMiddleware))
    assert wrapped.app is app
    assert wrapped.auth is auth


def test_wrap_rejects_an_unknown_interface() -> None:
    with pytest.raises(ValueError, match="interface must be 'wsgi' or 'asgi'"):
        SessionAuth(SECRET, MemoryStore()).wrap(wsgi_noop, interface="rsgi")  # type: ignore[arg-type]


# SessionAuth options


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"secret_key": ""}, "secret_key must be", id="empty-secret"),
        pytest.param({"secret_key": []}, "secret_key must be", id="no-secrets"),
        pytest.param({"secret_key": ["a", ""]}, "secret_key must be", id="one-empty"),
        pytest.param({"same_site": "lenient"}, "same_site must be", id="same-site"),
        pytest.param({"cookie_name": "a b"}, "cookie_name must be", id="cookie-name-space"),
        pytest.param({"cookie_name": ""}, "cookie_name must be", id="cookie-name-empty"),
        *(
            pytest.param({option: value}, f"{option} must", id=f"{option}-{label}")
            for option, good in (("cookie_name", "sid"), ("path", "/app"), ("domain", "a.test"))
            for label, bad in (
                ("crlf", "\r\nSet-Cookie: admin=1"),
                ("lf", "\n"),
                ("tab", "\t"),
                ("nul", "\x00"),
                ("semicolon", "; Secure"),
                ("del", "\x7f"),
            )
            for value in [good + bad]
        ),
        pytest.param({"cookie_name": "sid="}, "cookie_name must be", id="cookie-name-equals"),
        pytest.param({"cookie_name": "séance"}, "cookie_name must be", id="cookie-name-latin"),
        pytest.param({"path": "app"}, "path must start with '/'", id="path-relative"),
        pytest.param({"path": "/é"}, "path must start with '/'", id="path-non-ascii"),
        pytest.param({"domain": "a.test:8000"}, "domain must be", id="domain-port"),
        pytest.param({"domain": "a b.test"}, "domain must be", id="domain-space"),
        pytest.param({"domain": ""}, "domain must be", id="domain-empty"),
        pytest.param({"max_age": 0}, "max_age must be", id="max-age"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    options = {"secret_key": SECRET, "store": MemoryStore(), **options}
    with pytest.raises(ValueError, match=message):
        SessionAuth(**options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"secret_key": None}, r"got NoneType; read it from", id="secret-none"),
        pytest.param({"secret_key": 42}, r"got int; read it from", id="secret-int"),
        pytest.param({"secret_key": ["a", None]}, r"got a list of NoneType, str", id="one-none"),
        pytest.param(
            {"store": MemoryStore},
            r"got <class .*MemoryStore'>: pass MemoryStore\(\)",
            id="store-class",
        ),
        pytest.param(
            {"store": "s.db"},
            r"got a str: for key rotation pass the keys as one list, secret_key=\['new', "
            r"'old'\]; for a SQLite file pass store=SQLiteStore\('sessions.db'\)",
            id="store-str",
        ),
        pytest.param({"store": b"k"}, r"got a bytes: for key rotation", id="store-bytes"),
        pytest.param({"store": Path("s.db")}, r"pass SQLiteStore\('s.db'\)", id="store-pathlib"),
        pytest.param(
            {"backends": MemoryBackend()},
            r"got one MemoryBackend: write backends=\[",
            id="one-backend",
        ),
    ],
)
def test_wrong_types_are_refused_with_the_fix(options: dict[str, Any], message: str) -> None:
    options = {"secret_key": SECRET, "store": MemoryStore(), **options}
    with pytest.raises(TypeError, match=message):
        SessionAuth(**options)


def test_a_secret_key_of_the_wrong_type_is_not_repeated() -> None:
    secret = ["kept-secret", 7]
    with pytest.raises(TypeError) as info:
        SessionAuth(secret, MemoryStore())  # type: ignore[arg-type]
    assert "kept-secret" not in str(info.value)


def test_wrap_refuses_what_is_not_an_app() -> None:
    with pytest.raises(TypeError, match="is not a WSGI or ASGI application"):
        SessionAuth(SECRET, MemoryStore()).wrap(42)


def test_default_store_is_sqlite_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    auth = SessionAuth(SECRET, backends=["b1", "b2"])
    try:
        assert isinstance(auth.store, SQLiteStore)
        assert auth.backends == ("b1", "b2")
        token = auth.store.create({"a": 1}, 60)
        assert (tmp_path / "reqsignals-sessions.db").exists()
        assert auth.store.exists(token)
        assert "SQLiteStore('reqsignals-sessions.db')" in repr(auth)
    finally:
        auth.close()


def test_secret_keys_are_kept_as_bytes_first_one_signing_and_never_shown() -> None:
    auth = SessionAuth(["new-key", b"old-key"], MemoryStore())
    assert auth.secret_keys == (b"new-key", b"old-key")
    assert "new-key" not in repr(auth)
    assert "old-key" not in repr(auth)


def test_aclose_closes_the_store(make_store: StoreFactory) -> None:
    store = make_store("sqlite")
    assert isinstance(store, SQLiteStore)
    auth = SessionAuth(SECRET, store)

    async def go() -> None:
        await store.acreate({}, 60)
        assert store._connections
        await auth.aclose()
        assert not store._connections

    asyncio.run(go())


def test_errors_are_session_errors() -> None:
    assert issubclass(SessionTooLarge, SessionError)
    assert issubclass(SessionTooLarge, ValueError)


# Middleware behaviour


def test_untouched_wsgi_session_never_reaches_the_store(
    make_store: StoreFactory, make_client: MakeClient
) -> None:
    store = make_store("sqlite")
    client = make_client("wsgi", SessionAuth(SECRET, store))
    client.set("a", 1)
    store.close()  # forget the connection: a new load would open (and announce) one
    with capture(connection_created) as sent:
        assert client.get("/noop").status_code == 200
    assert len(sent) == 0
    with capture(connection_created) as sent:
        assert client.get("/get", params={"k": "a"}).json() == {"value": 1}
    assert len(sent) == 1


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
@pytest.mark.parametrize("interface", ["wsgi", "asgi"])
def test_session_deleted_during_the_request_is_not_brought_back(
    make_store: StoreFactory, kind: str, interface: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store(kind)
    auth = SessionAuth(SECRET, store)
    key = store.create({"user": 1}, 60)
    cookie = f"session={auth._signer.sign(key).decode()}"

    def view(session: Session) -> None:
        assert session["user"] == 1
        store.delete(key)  # a logout in a concurrent request
        session["cart"] = [1]

    if interface == "wsgi":

        def wsgi(environ: Any, start_response: Any) -> list[bytes]:
            view(get_session(environ))
            start_response("200 OK", [])
            return []

        response = httpx.Client(transport=httpx.WSGITransport(app=auth.wrap(wsgi))).get(
            "http://t/", headers={"cookie": cookie}
        )
    else:

        async def asgi(scope: Any, receive: Any, send: Any) -> None:
            view(get_session(scope))
            await asgi_noop(scope, receive, send)

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=auth.wrap(asgi))
            async with httpx.AsyncClient(transport=transport) as client:
                response = await client.get("http://t/", headers={"cookie": cookie})
            await store.aclose()
            return response

        response = asyncio.run(go())
    assert response.headers["set-cookie"].startswith("session=;")
    assert store.load(key) is None
    [record] = [r for r in caplog.records if r.name == "reqsignals.auth"]
    assert record.levelno == logging.WARNING
    assert "deleted while this request ran" in record.getMessage()


def test_wsgi_second_start_response_keeps_the_cookie_and_writes_once() -> None:
    store = MemoryStore()
    auth = SessionAuth(SECRET, store)
    calls: list[tuple[str, list[tuple[str, str]]]] = []

    def app(environ: Any, start_response: Any) -> list[bytes]:
        get_session(environ)["a"] = 1
        start_response("200 OK", [])
        try:
            raise ValueError("late failure")
        except ValueError:
            start_response("500 Error", [], sys.exc_info())
        return [b""]

    auth.wrap(app)(
        {"wsgi.url_scheme": "http"},
        lambda status, headers, exc_info=None: calls.append((status, headers)),
    )
    assert [status for status, _ in calls] == ["200 OK", "500 Error"]
    assert calls[0][1] == calls[1][1]
    assert calls[1][1][0][0] == "Set-Cookie"
    assert len(store) == 1


def _lifespan_messages(app: Any) -> list[str]:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    asyncio.run(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    return sent


def test_lifespan_passes_through_and_shutdown_closes_the_store(make_store: StoreFactory) -> None:
    store = make_store("sqlite")
    assert isinstance(store, SQLiteStore)
    auth = SessionAuth(SECRET, store)
    store.create({}, 60)
    assert store._connections
    assert _lifespan_messages(auth.wrap(Starlette())) == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert not store._connections


def test_other_scope_types_pass_through_untouched() -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(dict(scope))

    wrapped = SessionAuth(SECRET, MemoryStore()).wrap(app)
    asyncio.run(wrapped({"type": "custom"}, None, None))
    assert seen == [{"type": "custom"}]


def test_websocket_reads_the_session_and_saves_at_accept() -> None:
    store = MemoryStore()
    auth = SessionAuth(SECRET, store)
    key = store.create({"user": 7}, 60)
    cookie = auth._signer.sign(key)

    async def ws_endpoint(websocket: WebSocket) -> None:
        websocket.session["seen"] = websocket.session["user"]
        await websocket.accept()
        await websocket.send_text(json.dumps(dict(websocket.session)))
        await websocket.close()

    app = auth.wrap(Starlette(routes=[WebSocketRoute("/ws", ws_endpoint)]))
    incoming = [{"type": "websocket.connect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/ws",
        "scheme": "wss",
        "headers": [(b"cookie", b"session=" + cookie)],
        "query_string": b"",
        "subprotocols": [],
    }
    asyncio.run(app(scope, receive, send))
    accept, text, close = sent
    assert accept["type"] == "websocket.accept"
    [(name, value)] = accept["headers"]
    assert name == b"set-cookie"
    assert b"; Secure" in value  # wss is HTTPS
    assert json.loads(text["text"]) == {"user": 7, "seen": 7}
    assert close["type"] == "websocket.close"
    assert store.load(key) == {"user": 7, "seen": 7}


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(
            "import reqsignals, sys; assert 'reqsignals.auth' not in sys.modules", id="core"
        ),
        pytest.param(
            "import reqsignals.auth, sys; assert 'redis' not in sys.modules", id="auth-no-redis"
        ),
        pytest.param(
            "import reqsignals.auth as a; from reqsignals.auth.stores.redis import RedisStore;"
            " assert a.RedisStore is RedisStore",
            id="redis-on-demand",
        ),
    ],
)
def test_imports_stay_light(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_unknown_attribute_of_the_package() -> None:
    import reqsignals.auth
    import reqsignals.auth.stores

    with pytest.raises(AttributeError):
        reqsignals.auth.Nope
    with pytest.raises(AttributeError):
        reqsignals.auth.stores.Nope


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("xsession=abc", id="longer-name"),
        pytest.param("other=session", id="as-a-value"),
        pytest.param("session", id="no-equals"),
    ],
)
def test_cookie_named_otherwise_is_not_ours(header: str) -> None:
    auth = SessionAuth(SECRET, MemoryStore())
    session = auth.open_session(header)
    assert not session.had_cookie
    assert session.get("a") is None
    assert auth.save_session(session, secure=False) is None  # no deletion cookie either


def test_a_second_secret_passed_positionally_is_never_quoted() -> None:
    # SessionAuth("new", "old"): rotation written as two arguments puts a key in store=.
    with pytest.raises(TypeError) as info:
        SessionAuth("new-key-4f2a", "old-key-9b7c")  # type: ignore[arg-type]
    assert "old-key-9b7c" not in str(info.value)
    assert all("old-key-9b7c" not in repr(arg) for arg in info.value.args)
    assert "secret_key=['new', 'old']" in str(info.value)
