"""Bad input, as property tests: the middleware never raises on its own account.

* Malformed ASGI scopes and messages through ``reqsignals.asgi.SignalsMiddleware`` and
  malformed WSGI environs, statuses and response iterables through
  ``reqsignals.wsgi.SignalsMiddleware``: every exception that comes out is one the app
  (or the server, through the app) raised, every message reaches the server as the app
  sent it, and the signals keep their promise — ``request_started`` and
  ``request_finished`` once each, ``status`` an int or None.
* Any ``Cookie`` header through the session middleware (WSGI and ASGI, every store):
  never an error, never a 5xx.
* Credentials and headers in mixed, deeply nested containers with ``bytes`` keys: the
  scrubbers never let a secret through. (tests/test_scrub.py covers the rule and
  str-keyed dicts, lists and tuples; this adds bytes keys, sets, mappings that are
  not dicts, nesting past ``MAX_DEPTH``, and header shapes.)
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reqsignals import asgi, wsgi
from reqsignals.auth import (
    Argon2Hasher,
    CookieStore,
    MemoryBackend,
    MemoryStore,
    SessionAuth,
    SQLiteStore,
    get_session,
)
from reqsignals.scrub import (
    MASK,
    MAX_DEPTH,
    SENSITIVE_HEADERS,
    scrub_credentials,
    scrub_headers,
)
from reqsignals.signals import got_request_exception, request_finished, request_started
from reqsignals.testing import Capture, capture
from tests.helpers import canary
from tests.helpers.hashers import cheap_hasher

SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class AppError(Exception):
    """Raised by the apps under test, on purpose."""


class ServerError(OSError):
    """Raised by the test's server callables (send, start_response), on purpose."""


odd_bytes = st.binary(max_size=24)
odd_text = st.one_of(
    st.text(max_size=16),
    odd_bytes.map(lambda b: b.decode("latin-1")),  # how WSGI servers give bytes
    st.sampled_from(["/caf\udce9", "/\x00", "/%ff%fe", "\r\n", ""]),  # surrogateescape, NUL
)
odd_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), odd_text, odd_bytes,
    st.lists(st.integers(), max_size=2),
)  # fmt: skip


# -- ASGI ---------------------------------------------------------------------------

header_pairs = st.lists(
    st.one_of(
        st.tuples(odd_bytes, odd_bytes),
        st.tuples(st.sampled_from([b"cookie", b"authorization", b"Host"]), odd_bytes),
        st.tuples(odd_text, odd_text),  # str pairs: wrong, but an app may get them
    ),
    max_size=4,
)


@st.composite
def scopes(draw: st.DrawFn) -> dict[str, Any]:
    scope: dict[str, Any] = {}
    kind = draw(st.sampled_from(["http", "http", "websocket", "lifespan", "weird", None]))
    if kind is not None:
        scope["type"] = kind
    optional = {
        "path": odd_text,
        "raw_path": odd_bytes,  # often not UTF-8
        "query_string": odd_bytes,
        "root_path": odd_text,
        "method": odd_text,
        "scheme": st.sampled_from(["http", "https", "ws", "", "gopher"]),
        "headers": header_pairs,
        "http_version": st.sampled_from(["1.1", "2", "", "9.9"]),
        "asgi": st.fixed_dictionaries({}, optional={"version": odd_text}),
        "client": st.one_of(st.none(), st.tuples(odd_text, st.integers())),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            scope[key] = draw(strategy)
    return scope


statuses = st.one_of(
    st.integers(-1, 1000), st.none(), st.booleans(), st.sampled_from(["200", b"200", 200.0, [200]])
)


@st.composite
def messages(draw: st.DrawFn) -> Any:
    shape = draw(st.sampled_from(["start", "body", "ws", "no-type", "not-a-dict", "other"]))
    if shape == "start":
        message: dict[str, Any] = {
            "type": draw(st.sampled_from(["http.response.start", "websocket.http.response.start"]))
        }
        if draw(st.booleans()):
            message["status"] = draw(statuses)
        if draw(st.booleans()):
            message["headers"] = draw(header_pairs)
        return message
    if shape == "body":
        return {
            "type": "http.response.body",
            "body": draw(odd_values),
            "more_body": draw(odd_values),
        }
    if shape == "ws":
        return {"type": draw(st.sampled_from(["websocket.accept", "websocket.close"]))}
    if shape == "no-type":
        return {"status": draw(statuses)}
    if shape == "not-a-dict":
        return draw(st.one_of(st.none(), odd_text, odd_bytes, st.lists(odd_text, max_size=2)))
    return {"type": draw(odd_values)}


@st.composite
def asgi_plans(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "scope": draw(scopes()),
        "messages": draw(st.lists(messages(), max_size=4)),
        "receive": draw(st.lists(st.one_of(messages(), st.just({"type": "http.disconnect"})))),
        "app_raises": draw(st.sampled_from([None, "before", "after"])),
        "server_raises_at": draw(st.one_of(st.none(), st.integers(0, 3))),
        "strict": draw(st.booleans()),
    }


def check_signals(cap: Capture, raised: BaseException | None, *, sent: bool) -> None:
    if not sent:
        assert cap.sent == []
        return
    assert cap.sent[0].signal is request_started
    assert len(cap.of(request_started)) == 1
    assert len(cap.of(request_finished)) == 1
    assert cap.sent[-1].signal is request_finished
    status = cap.of(request_finished)[0].kwargs["status"]
    assert status is None or type(status) is int, status
    exceptions = [s.kwargs["exception"] for s in cap.of(got_request_exception)]
    assert exceptions == ([raised] if isinstance(raised, Exception) else [])


@SETTINGS
@given(asgi_plans())
def test_asgi_middleware_raises_only_what_the_app_raised(plan: dict[str, Any]) -> None:
    scope = plan["scope"]
    to_receive = iter(plan["receive"])
    delivered: list[Any] = []
    app_sent: list[Any] = []
    app_scopes: list[Any] = []

    async def receive() -> Any:
        return next(to_receive, {"type": "http.disconnect"})

    async def send(message: Any) -> None:
        if plan["server_raises_at"] == len(delivered):
            raise ServerError("the server refuses this message")
        delivered.append(message)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        app_scopes.append(scope)
        await receive()
        if plan["app_raises"] == "before":
            raise AppError("before")
        for message in plan["messages"]:
            app_sent.append(message)
            await send(message)
        if plan["app_raises"] == "after":
            raise AppError("after")

    middleware = asgi.SignalsMiddleware(app, strict=plan["strict"])
    raised: BaseException | None = None
    with capture(request_started, got_request_exception, request_finished) as cap:
        try:
            asyncio.run(middleware(scope, receive, send))
        except (AppError, ServerError) as exc:
            raised = exc
    # Anything else would have failed the test right there: the middleware's own.
    assert app_scopes == [scope]  # the very scope object, once
    assert [id(m) for m in delivered] == [id(m) for m in app_sent[: len(delivered)]]
    check_signals(cap, raised, sent=scope.get("type") in ("http", "websocket"))


# -- WSGI ---------------------------------------------------------------------------


@st.composite
def environs(draw: st.DrawFn) -> dict[str, Any]:
    environ: dict[str, Any] = {}
    optional = {
        "REQUEST_METHOD": odd_text,
        "PATH_INFO": odd_text,  # latin-1 decoded bytes, as PEP 3333 has it
        "SCRIPT_NAME": odd_text,
        "QUERY_STRING": odd_text,
        "SERVER_PROTOCOL": odd_text,
        "HTTP_COOKIE": odd_text,
        "HTTP_AUTHORIZATION": odd_text,
        "HTTP_X_ODD": odd_values,
        "wsgi.url_scheme": st.sampled_from(["http", "https", "", "gopher"]),
        "wsgi.version": st.sampled_from([(1, 0), (9, 9), None]),
        "wsgi.file_wrapper": st.sampled_from([None, "not a type", int]),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            environ[key] = draw(strategy)
    return environ


class Hostile:
    """A response iterable that fails where it is told to."""

    def __init__(self, chunks: list[bytes], fail: str | None) -> None:
        self.chunks, self.fail, self.closed = chunks, fail, 0

    def __iter__(self) -> Iterator[bytes]:
        if self.fail == "iter":
            raise AppError("iter")
        yield from self.chunks
        if self.fail == "next":
            raise AppError("next")

    def close(self) -> None:
        self.closed += 1
        if self.fail == "close":
            raise AppError("close")


class HostileCloseAttribute(Hostile):
    """Looking up ``close`` raises: an app's broken object, reported as its exception."""

    def __getattribute__(self, name: str) -> Any:
        if name == "close":
            raise AppError("close attribute")
        return super().__getattribute__(name)


@st.composite
def wsgi_plans(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "environ": draw(environs()),
        "status": draw(st.one_of(odd_text, st.none(), st.integers(), odd_bytes)),
        "headers": draw(st.one_of(st.none(), header_pairs)),
        "body": draw(st.sampled_from(["list", "generator", "hostile", "close-attribute", "none"])),
        "fail": draw(st.sampled_from([None, "call", "iter", "next", "close"])),
        "chunks": draw(st.lists(odd_bytes, max_size=3)),
        "server_raises": draw(st.booleans()),
        "strict": draw(st.booleans()),
    }


@SETTINGS
@given(wsgi_plans())
def test_wsgi_middleware_raises_only_what_the_app_raised(plan: dict[str, Any]) -> None:
    environ = plan["environ"]
    fail = plan["fail"]

    def start_response(status: Any, headers: Any, exc_info: Any = None) -> Any:
        if plan["server_raises"]:
            raise ServerError("the server refuses this status line")
        return lambda data: None

    def app(environ: Any, start_response: Any) -> Any:
        start_response(plan["status"], plan["headers"])
        if fail == "call":
            raise AppError("call")
        chunks = plan["chunks"]
        kind = plan["body"]
        if kind == "list":
            return list(chunks)
        if kind == "generator":
            return (c for c in chunks)
        if kind == "none":
            return None  # not iterable: the app's mistake, raised while iterating
        return (Hostile if kind == "hostile" else HostileCloseAttribute)(chunks, fail)

    middleware = wsgi.SignalsMiddleware(app, strict=plan["strict"])
    raised: BaseException | None = None
    got: list[Any] = []
    with capture(request_started, got_request_exception, request_finished) as cap:
        try:
            response = middleware(environ, start_response)
            try:
                got.extend(response)
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()
        except (AppError, ServerError, TypeError) as exc:
            raised = exc
    if isinstance(raised, TypeError):
        assert plan["body"] == "none", raised  # iter(None): the app returned no iterable
    if raised is None:
        assert got == plan["chunks"]
    check_signals(cap, raised, sent=True)


# -- cookies through the session middleware ----------------------------------------


def _signed(auth: SessionAuth, token: str) -> str:
    return auth._signer.sign(token).decode()


@st.composite
def cookie_headers(draw: st.DrawFn) -> bytes:
    """Random headers, and near misses of a real session cookie."""
    auth = SessionAuth(canary.SECRET_KEY, MemoryStore())
    good = _signed(auth, "k" * 32)
    value = draw(
        st.one_of(
            odd_bytes.map(lambda b: b.decode("latin-1")),
            st.just(good),
            st.just(good[:-1]),
            st.just(good + "x"),
            st.just(f'"{good}"'),
            st.just(good.replace(".", "\u00e9", 1)),
            st.just("x" * 5000),
            st.just(_signed(auth, "not base64 json {")),
            st.just(_signed(auth, "W10")),  # a signed '[]' for CookieStore: not a dict
            st.just(_signed(auth, "")),
        )
    )
    shape = draw(st.sampled_from(["alone", "twice", "among", "raw"]))
    if shape == "alone":
        header = f"session={value}"
    elif shape == "twice":
        header = f"session={value}; session={good}"
    elif shape == "among":
        header = f"a=1; session={value}; ;=; b"
    else:
        header = value
    return header.encode("latin-1", "replace")


@pytest.fixture(params=["memory", "cookie", "sqlite"])
def session_auth(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionAuth]:
    store = {"memory": MemoryStore, "cookie": CookieStore}.get(request.param)
    auth = SessionAuth(
        canary.SECRET_KEY,
        store() if store is not None else SQLiteStore(tmp_path / "sessions.db"),
    )
    yield auth
    auth.close()


@SETTINGS
@given(header=cookie_headers(), write=st.booleans())
def test_any_cookie_header_gives_a_session_never_an_error_asgi(
    session_auth: SessionAuth, header: bytes, write: bool
) -> None:
    statuses: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        session = get_session(scope)
        session.get("seen")
        if write:
            session["seen"] = True
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def receive() -> Any:
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"cookie", header)]}
    asyncio.run(session_auth.wrap(app)(scope, receive, send))
    assert statuses == [200]


@SETTINGS
@given(header=cookie_headers(), write=st.booleans())
def test_any_cookie_header_gives_a_session_never_an_error_wsgi(
    session_auth: SessionAuth, header: bytes, write: bool
) -> None:
    statuses: list[str] = []

    def app(environ: Any, start_response: Any) -> Any:
        session = get_session(environ)
        session.get("seen")
        if write:
            session["seen"] = True
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_COOKIE": header.decode("latin-1")}
    assert list(session_auth.wrap(app)(environ, start_response)) == [b"ok"]
    assert statuses == ["200 OK"]


# -- the scrubbers --------------------------------------------------------------------

SENSITIVE = ["password", "api_key", "accessToken", "pin", "X-Auth-Token", "session", "jwt"]


class Secrets:
    def __init__(self) -> None:
        self.made = 0

    def new(self, as_bytes: bool) -> str | bytes:
        self.made += 1
        text = canary.secret(f"s{self.made}")
        return text.encode() if as_bytes else text


def _leaks(value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _leaks(k)
            yield from _leaks(v)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from _leaks(v)
    elif isinstance(value, (str, bytes)):
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if canary.MARK in text:
            yield value


@st.composite
def credential_trees(draw: st.DrawFn) -> Any:
    secrets = Secrets()
    key = st.one_of(
        st.sampled_from(["user", "next", "monkey", "items"]),
        st.sampled_from(["user", "data"]).map(str.encode),
    )
    sensitive = st.sampled_from(SENSITIVE).flatmap(
        lambda k: st.sampled_from([k, k.encode(), k.upper(), k.upper().encode()])
    )
    secret = st.booleans().map(secrets.new)
    leaf = st.one_of(st.integers(), st.just("plain"), st.just(b"plain"), st.none())

    def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        entries = st.one_of(
            st.tuples(key, children),
            st.tuples(sensitive, st.one_of(secret, children)),  # a whole subtree masked
        )
        as_dict = st.lists(entries, max_size=4).map(dict)
        return st.one_of(
            as_dict,
            as_dict.map(types.MappingProxyType),  # a Mapping that is not a dict
            st.lists(children, max_size=3),
            st.lists(children, max_size=3).map(tuple),
            st.frozensets(st.one_of(st.integers(), st.just(b"plain")), max_size=2),
            st.sets(st.integers(), max_size=2),
        )

    tree = draw(st.recursive(leaf, containers, max_leaves=25))
    # And a secret at the bottom of a chain deeper than MAX_DEPTH, under a sensitive key.
    depth = draw(st.integers(0, MAX_DEPTH + 10))
    deep: Any = {draw(sensitive): secrets.new(draw(st.booleans()))}
    for level in range(depth):
        deep = [deep] if level % 3 == 0 else (deep,) if level % 3 == 1 else {b"next": deep}
    return {"tree": tree, b"deep": deep, draw(sensitive): secrets.new(False)}


@SETTINGS
@given(credential_trees())
def test_scrub_credentials_lets_no_secret_through_mixed_and_bytes_keys(tree: Any) -> None:
    out = scrub_credentials(tree)
    assert list(_leaks(out)) == []
    assert canary.MARK not in repr(out)


@st.composite
def header_sets(draw: st.DrawFn) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
    names = [*SENSITIVE_HEADERS, "x-csrf-token", "x-session-key", "x-api-secret"]
    pairs: list[tuple[bytes, bytes]] = []
    secrets: list[bytes] = []
    for n in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            name = draw(st.sampled_from(names))
            name = draw(st.sampled_from([name, name.upper(), name.title()]))
            value = canary.secret(f"h{n}").encode()
            secrets.append(value)
        else:
            name, value = draw(st.sampled_from(["accept", "host", "x-monkey"])), b"fine"
        pairs.append((name.encode(), value))
    return pairs, secrets


@SETTINGS
@given(header_sets())
def test_scrub_headers_lets_no_secret_through_any_shape(
    headers: tuple[list[tuple[bytes, bytes]], list[bytes]],
) -> None:
    pairs, _secrets = headers
    environ = {"REQUEST_METHOD": "GET", "wsgi.version": (1, 0)}
    for name, value in pairs:
        environ["HTTP_" + name.decode().upper().replace("-", "_")] = value.decode()
    shapes = [
        pairs,
        tuple(pairs),
        [(n.decode(), v.decode()) for n, v in pairs],
        dict(pairs),
        environ,
    ]
    for shape in shapes:
        out = scrub_headers(shape)
        assert list(_leaks(out)) == [], (type(shape).__name__, out)
    masked = scrub_headers(pairs)
    assert all(v in (b"fine", MASK.encode()) for _n, v in masked)


# -- error messages never carry a secret --------------------------------------------


def _redis_store_down() -> Any:
    from reqsignals.auth import RedisStore
    from tests.helpers.support import free_port

    # Nothing listens on this port: every call fails with SessionStoreUnavailable.
    url = f"redis://admin:{canary.PASSWORD}@127.0.0.1:{free_port()}/0"
    store = RedisStore(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        return store.load("k" * 32)
    finally:
        store.close()


def _bad_utf8_password() -> Any:
    hasher = cheap_hasher()
    return hasher.hash(canary.PASSWORD + "\udcff")  # a lone surrogate cannot be encoded


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(_redis_store_down, id="redis-store-down"),
        pytest.param(
            lambda: Argon2Hasher(max_password_length=8).hash(canary.PASSWORD), id="too-long"
        ),
        pytest.param(_bad_utf8_password, id="unencodable-password"),
        pytest.param(lambda: MemoryBackend().create_user("", canary.PASSWORD), id="no-username"),
        pytest.param(
            lambda: SessionAuth([canary.SECRET_KEY, ""], MemoryStore()), id="empty-second-key"
        ),
        pytest.param(
            lambda: scrub_credentials(f"password={canary.PASSWORD}"),  # type: ignore[arg-type]
            id="scrub-a-string",
        ),
    ],
)
def test_errors_never_carry_the_secret_they_were_given(call: Any) -> None:
    with pytest.raises(Exception) as info:
        call()
    texts = []
    exc: BaseException | None = info.value
    while exc is not None:  # the whole chain: causes and contexts too
        texts += [str(exc), repr(exc), repr(exc.args)]
        exc = exc.__cause__ or exc.__context__
    assert canary.find("\n".join(texts)) is None, texts


def test_redis_store_repr_hides_the_password() -> None:
    from reqsignals.auth import RedisStore

    store = RedisStore(f"redis://admin:{canary.PASSWORD}@127.0.0.1:6379/0")
    assert canary.find(repr(store)) is None
    store.close()


# -- the cases the properties found, pinned -----------------------------------------


@pytest.mark.parametrize(
    ("scope", "message", "status"),
    [
        pytest.param({}, {"type": "http.response.start", "status": 200}, None, id="no-type"),
        pytest.param({"type": "http"}, {"status": 200}, None, id="message-without-type"),
        pytest.param({"type": "http"}, None, None, id="message-not-a-dict"),
        pytest.param(
            {"type": "http"}, {"type": "http.response.start"}, None, id="start-without-status"
        ),
        pytest.param(
            {"type": "http"}, {"type": "http.response.start", "status": "200"}, None, id="str"
        ),
        pytest.param(
            {"type": "http"}, {"type": "http.response.start", "status": True}, None, id="bool"
        ),
        pytest.param(
            {"type": "http"}, {"type": "http.response.start", "status": 204}, 204, id="int"
        ),
        pytest.param(
            {"type": "http"},
            {"type": "http.response.start", "status": HTTPStatus.NOT_FOUND},
            404,
            id="int-enum",
        ),
        pytest.param(
            {"type": "http"}, {"type": "http.response.start", "status": 200.0}, None, id="float"
        ),
    ],
)
def test_asgi_malformed_input_reaches_the_server_unchanged(
    scope: dict[str, Any], message: Any, status: int | None
) -> None:
    delivered: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(message)

    async def send(message: Any) -> None:
        delivered.append(message)

    async def receive() -> Any:
        return {"type": "http.disconnect"}

    with capture(request_started, request_finished) as cap:
        asyncio.run(asgi.SignalsMiddleware(app)(scope, receive, send))
    assert len(delivered) == 1
    assert delivered[0] is message
    if "type" in scope:
        finished = cap.assert_sent(request_finished, times=1, status=status)
        assert type(finished.kwargs["status"]) is (int if status is not None else type(None))
    else:
        assert cap.sent == []  # not an http or websocket scope: passed through


def test_wsgi_response_whose_close_lookup_raises_is_reported_and_finished() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [])
        return HostileCloseAttribute([b"x"], None)

    with (
        capture(request_started, got_request_exception, request_finished) as cap,
        pytest.raises(AppError, match="close attribute") as info,
    ):
        wsgi.SignalsMiddleware(app)({"REQUEST_METHOD": "GET"}, lambda *a: lambda data: None)
    assert cap.names == ["request_started", "got_request_exception", "request_finished"]
    cap.assert_sent(got_request_exception, exception=info.value)
    # The app call raised before any byte went out: the server answers 500.
    cap.assert_sent(request_finished, status=500)
