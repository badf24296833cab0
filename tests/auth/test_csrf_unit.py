"""reqsignals.auth.csrf on its own: the header rules, origins, tokens, and reading the
token from a form body without taking the body from the app."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from collections.abc import Callable
from typing import Any

import pytest

from reqsignals.auth import Session
from reqsignals.auth import csrf as c
from reqsignals.auth._formtoken import CHUNK, SPOOL_SIZE, asgi_form_token, wsgi_form_token
from reqsignals.auth.sessions import SESSION_KEY
from reqsignals.signals import csrf_failed
from reqsignals.types import Message

OWN = "http://testserver"


# -- rules 1-3 -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fetch_site", "origin", "reason"),
    [
        pytest.param("same-origin", None, None, id="sfs-same-origin"),
        pytest.param("none", None, None, id="sfs-none"),
        pytest.param("Same-Origin", None, None, id="sfs-case-insensitive"),
        pytest.param("cross-site", None, c.CROSS_SITE, id="sfs-cross-site"),
        pytest.param("same-site", None, c.SAME_SITE, id="sfs-same-site"),
        pytest.param("bogus", None, c.UNKNOWN_SITE, id="sfs-unknown"),
        pytest.param("cross-site", "https://evil.example", c.CROSS_SITE, id="sfs-foreign-origin"),
        # The Origin decides nothing when Sec-Fetch-Site says cross-site, even our own.
        pytest.param("cross-site", OWN, c.CROSS_SITE, id="sfs-cross-site-own-origin"),
        pytest.param("cross-site", "https://trusted.example", None, id="sfs-trusted-origin"),
        pytest.param("same-site", "https://trusted.example:443", None, id="sfs-trusted-port"),
        pytest.param(None, OWN, None, id="origin-own"),
        pytest.param(None, "HTTP://TestServer:80", None, id="origin-own-normalised"),
        pytest.param(None, "https://testserver", c.UNTRUSTED_ORIGIN, id="origin-other-scheme"),
        pytest.param(None, "http://testserver:8080", c.UNTRUSTED_ORIGIN, id="origin-other-port"),
        pytest.param(None, "http://evil.example", c.UNTRUSTED_ORIGIN, id="origin-foreign"),
        pytest.param(None, "http://testserver.evil", c.UNTRUSTED_ORIGIN, id="origin-suffix"),
        pytest.param(None, "null", c.NULL_ORIGIN, id="origin-null"),
        pytest.param(None, "http://testserver/path", c.UNTRUSTED_ORIGIN, id="origin-with-path"),
        pytest.param(None, "http://u@testserver", c.UNTRUSTED_ORIGIN, id="origin-with-user"),
        pytest.param(None, "testserver", c.UNTRUSTED_ORIGIN, id="origin-no-scheme"),
        pytest.param(None, "", c.UNTRUSTED_ORIGIN, id="origin-empty"),
        pytest.param(None, "https://trusted.example", None, id="origin-trusted"),
        pytest.param(None, None, None, id="no-browser-headers"),
    ],
)
def test_header_rules(fetch_site: str | None, origin: str | None, reason: str | None) -> None:
    check = c.CSRF(trusted_origins=["https://trusted.example"])
    assert check.check_headers(fetch_site, origin, OWN) == reason


def environ(method: str = "POST", **headers: str) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": "/login",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
    }
    env.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    return env


def scope(method: str = "POST", path: str = "/login", **headers: str) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "scheme": "http",
        "server": ("testserver", 80),
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }


@pytest.mark.parametrize("method", sorted(c.SAFE_METHODS))
def test_safe_methods_are_never_checked(method: str) -> None:
    check = c.CSRF(require_token=True)
    assert check.check_environ(environ(method, sec_fetch_site="cross-site"), secure=False) is None
    assert check.check_scope(scope(method, sec_fetch_site="cross-site"), secure=False) is None
    assert check.environ_token_reason(environ(method), {}) is None
    assert asyncio.run(check.scope_token_reason(scope(method), _no_body, {}))[0] is None


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "PROPFIND"])
def test_unsafe_methods_are_checked(method: str) -> None:
    check = c.CSRF()
    assert check.check_environ(environ(method, origin="null"), secure=False) == c.NULL_ORIGIN
    assert check.check_scope(scope(method, origin="null"), secure=False) == c.NULL_ORIGIN


def test_environ_own_origin_follows_host_scheme_and_secure() -> None:
    assert c.environ_origin(environ(), secure=False) == "http://testserver"
    assert c.environ_origin(environ(host="Example.com:8000"), secure=False) == (
        "http://example.com:8000"
    )
    assert c.environ_origin(environ(host="example.com:443"), secure=True) == "https://example.com"
    env = environ(host="[::1]:8000")
    env["wsgi.url_scheme"] = "https"
    assert c.environ_origin(env, secure=True) == "https://[::1]:8000"
    del env["HTTP_HOST"]
    env.update(SERVER_NAME="10.0.0.1", SERVER_PORT="443")
    assert c.environ_origin(env, secure=True) == "https://10.0.0.1"
    assert c.environ_origin(environ(host="bad host"), secure=False) is None


def test_scope_own_origin_follows_host_scheme_and_secure() -> None:
    assert c.scope_origin(scope(), secure=False) == "http://testserver"
    assert c.scope_origin(scope(host="example.com:8000"), secure=False) == "http://example.com:8000"
    assert c.scope_origin(scope(host="example.com"), secure=True) == "https://example.com"
    wss = {**scope(), "scheme": "wss", "server": ("testserver", 443)}
    assert c.scope_origin(wss, secure=False) == "https://testserver"
    assert c.scope_origin({**scope(), "scheme": "ws"}, secure=False) == "http://testserver"
    assert c.scope_origin({**scope(), "server": None}, secure=False) is None
    assert c.scope_origin({**scope(), "server": ("/tmp/s.sock", None)}, secure=False) is None


def test_an_origin_the_host_does_not_match_is_refused_even_when_both_are_odd() -> None:
    # No own origin can be told (a Host header that is no host): only trusted ones pass.
    check = c.CSRF()
    assert check.check_environ(environ(origin="http://x", host="a b"), secure=False) == (
        c.UNTRUSTED_ORIGIN
    )


# -- configuration -------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        "example.com",
        "https://example.com/",
        "https://example.com/x",
        "https://*.example.com",
        "null",
        "",
        "https://u:p@example.com",
        42,
    ],
)
def test_trusted_origins_must_be_origins(origin: Any) -> None:
    with pytest.raises(ValueError, match="trusted_origins takes origins"):
        c.CSRF(trusted_origins=[origin])


@pytest.mark.parametrize("prefix", ["hooks", "", "/a\nb", "/a\x00", b"/hooks"])
def test_exempt_prefixes_must_be_paths(prefix: Any) -> None:
    with pytest.raises(ValueError, match="exempt"):
        c.CSRF(exempt=[prefix])


def test_one_string_instead_of_a_list_is_refused() -> None:
    with pytest.raises(TypeError, match="lists of strings"):
        c.CSRF(trusted_origins="https://example.com")
    with pytest.raises(TypeError, match="lists of strings"):
        c.CSRF(exempt="/hooks/")


def test_exempt_prefix_matching() -> None:
    check = c.CSRF(exempt=["/hooks", "/api/v1/"])
    assert check.exempt == ("/hooks", "/api/v1/")
    assert [
        check.is_exempt(p)
        for p in ["/hooks", "/hooks/x", "/hooksmith", "/api/v1/a", "/api/v1", "/"]
    ] == [True, True, False, True, False, False]
    dotted = ["/hooks/../admin", "/hooks/./x", "/hooks/..", "/hooks/x/.", "/api/v1/../../admin"]
    assert not any(check.is_exempt(p) for p in dotted)
    assert all(
        check.is_exempt(p) for p in ["/hooks/.well", "/hooks/x..y", "/hooks/...", "/api/v1/a.b"]
    )
    assert (
        check.check_environ(
            {**environ(sec_fetch_site="cross-site"), "PATH_INFO": "/hooks/pay"}, secure=False
        )
        is None
    )
    assert (
        check.check_scope(scope(path="/hooks/pay", sec_fetch_site="cross-site"), secure=False)
        is None
    )
    mounted = {**environ(sec_fetch_site="cross-site"), "SCRIPT_NAME": "/hooks", "PATH_INFO": "/x"}
    assert check.check_environ(mounted, secure=False) is None


def test_repr_shows_the_configuration() -> None:
    check = c.CSRF(trusted_origins=["https://B.example:443"], exempt=["/h/"], require_token=True)
    assert repr(check) == (
        "CSRF(trusted_origins=['https://b.example'], exempt=['/h/'], require_token=True)"
    )


# -- tokens --------------------------------------------------------------------------


def test_masked_tokens_are_new_bytes_every_time_and_all_match() -> None:
    secret = c.new_secret()
    tokens = {c.mask_token(secret) for _ in range(50)}
    assert len(tokens) == 50
    assert all(len(t) == 64 and c.token_matches(t, secret) for t in tokens)
    assert all(secret not in t for t in tokens)


def test_a_token_for_another_secret_or_tampered_fails() -> None:
    secret, other = c.new_secret(), c.new_secret()
    token = c.mask_token(secret)
    assert not c.token_matches(token, other)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert not c.token_matches(flipped, secret)
    assert not c.token_matches(token[:-1], secret)
    assert not c.token_matches(token + "A", secret)
    assert not c.token_matches("é" * 64, secret)
    assert not c.token_matches("*" * 64, secret)
    assert not c.token_matches(secret, secret)


def test_session_token_reasons() -> None:
    secret = c.new_secret()
    token = c.mask_token(secret)
    assert c.session_token_matches({c.SECRET_KEY: secret}, token) is None
    assert c.session_token_matches({c.SECRET_KEY: secret}, None) == c.TOKEN_MISSING
    assert c.session_token_matches({c.SECRET_KEY: secret}, "") == c.TOKEN_MISSING
    assert c.session_token_matches({}, token) == c.TOKEN_INCORRECT
    assert c.session_token_matches({c.SECRET_KEY: 5}, token) == c.TOKEN_INCORRECT
    assert c.session_token_matches({c.SECRET_KEY: "é"}, token) == c.TOKEN_INCORRECT


def test_rotate_drops_the_secret() -> None:
    session = {c.SECRET_KEY: "x", "other": 1}
    c.rotate(session)
    assert session == {"other": 1}
    c.rotate(session)
    assert session == {"other": 1}


# -- the token in a form body --------------------------------------------------------


TOKEN = "T" * 64


def urlencoded(first: bool, size: int = 0) -> tuple[str, bytes]:
    fields = [b"username=ada", b"bio=" + b"x" * size, b"csrf_token=" + TOKEN.encode()]
    if first:
        fields.reverse()
    return "application/x-www-form-urlencoded", b"&".join(fields)


def multipart(first: bool, size: int = 0) -> tuple[str, bytes]:
    boundary = "----reqsignals-boundary"
    token = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{TOKEN}\r\n'
    ).encode()
    upload = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + os.urandom(size)
        + b"\r\n"
    )
    # A file field named csrf_token is not the token.
    decoy = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"; filename="t"\r\n'
        "\r\nnot-the-token\r\n"
    ).encode()
    parts = [token, upload] if first else [decoy, upload, token]
    return f"multipart/form-data; boundary={boundary}", b"".join(
        parts
    ) + f"--{boundary}--\r\n".encode()


FORMS = [
    pytest.param(urlencoded, True, id="urlencoded-token-first"),
    pytest.param(urlencoded, False, id="urlencoded-token-last"),
    pytest.param(multipart, True, id="multipart-token-first"),
    pytest.param(multipart, False, id="multipart-token-last"),
]


def form_environ(content_type: str, body: bytes, stream: Any = None) -> dict[str, Any]:
    return {
        **environ(),
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": stream or io.BytesIO(body),
    }


class CountingStream(io.BytesIO):
    """Counts the bytes taken from it."""

    taken = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.taken += len(data)
        return data


@pytest.mark.parametrize(("make", "first"), FORMS)
def test_wsgi_form_token_hands_the_app_the_whole_body(make: Any, first: bool) -> None:
    content_type, body = make(first, size=3 * SPOOL_SIZE)
    stream = CountingStream(body)
    env = form_environ(content_type, body, stream)
    assert wsgi_form_token(env) == TOKEN
    if first:  # read only as far as the field: the rest streams to the app
        assert stream.taken <= CHUNK
    assert env["CONTENT_LENGTH"] == str(len(body))
    assert env["wsgi.input"].read() == body


@pytest.mark.parametrize("reader", ["read", "read-n", "readline", "iter", "readlines"])
def test_wsgi_replay_reads_like_a_stream(reader: str) -> None:
    content_type, body = urlencoded(True)
    body = body + b"\nline two\n" + b"y" * (CHUNK * 2) + b"\nend"
    # Only part of the stream is ever owed: a server's input past CONTENT_LENGTH is not read.
    env = form_environ(content_type, body, io.BytesIO(body + b"TRAILING GARBAGE"))
    assert wsgi_form_token(env) == TOKEN
    stream = env["wsgi.input"]
    if reader == "read":
        got = stream.read()
    elif reader == "read-n":
        got = b"".join(iter(lambda: stream.read(1000), b""))
    elif reader == "readline":
        got = b"".join(iter(stream.readline, b""))
    elif reader == "iter":
        got = b"".join(stream)
    else:
        got = b"".join(stream.readlines())
    assert got == body
    assert (stream.read(), stream.readline(), stream.read(None)) == (b"", b"", b"")


def test_wsgi_replay_readline_with_a_limit() -> None:
    env = form_environ("application/x-www-form-urlencoded", b"csrf_token=abc\nrest\n")
    wsgi_form_token(env)
    stream = env["wsgi.input"]
    assert stream.readline(4) == b"csrf"
    assert stream.readline(100) == b"_token=abc\n"
    assert stream.readlines(1) == [b"rest\n"]


def test_wsgi_body_without_a_length_is_not_read_unless_terminated() -> None:
    env = form_environ(*urlencoded(True))
    env["CONTENT_LENGTH"] = ""
    assert wsgi_form_token(env) is None
    assert isinstance(env["wsgi.input"], io.BytesIO)
    env["wsgi.input_terminated"] = True
    assert wsgi_form_token(env) == TOKEN
    assert env["wsgi.input"].read() == urlencoded(True)[1]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param("application/json", b'{"csrf_token": "x"}', id="json"),
        pytest.param("text/plain", b"csrf_token=x", id="text"),
        pytest.param("multipart/form-data", b"--x\r\n", id="multipart-no-boundary"),
        pytest.param("multipart/form-data; boundary=b", b"garbage without parts", id="garbage"),
        pytest.param("application/x-www-form-urlencoded", b"a=1&b=2", id="no-field"),
        pytest.param("application/x-www-form-urlencoded", b"csrf_token=" + b"x" * 300, id="long"),
    ],
)
def test_no_token_in_these_bodies_and_the_body_survives(content_type: str, body: bytes) -> None:
    env = form_environ(content_type, body)
    assert wsgi_form_token(env) is None
    assert env["wsgi.input"].read() == body
    got = asyncio.run(asgi_body(content_type, [body]))
    assert got == (None, body)


def test_bad_content_length_reads_nothing() -> None:
    env = form_environ(*urlencoded(True))
    env["CONTENT_LENGTH"] = "12x"
    assert wsgi_form_token(env) is None


def test_percent_encoded_field_name_and_value() -> None:
    body = b"csrf%5Ftoken=" + b"a%2Bb+c"
    assert wsgi_form_token(form_environ("application/x-www-form-urlencoded", body)) == "a+b c"


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def asgi_body(
    content_type: str, chunks: list[bytes], then: dict[str, Any] | None = None
) -> tuple[str | None, bytes]:
    """Run asgi_form_token over these body messages; return the token and the body the
    app then receives through the replaying receive."""
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    if then is not None:
        messages[-1]["more_body"] = True
        messages.append(then)

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    token, replay = await asgi_form_token(
        {"type": "http", "headers": [(b"content-type", content_type.encode())]}, receive
    )
    got = b""
    while True:
        message = await replay()
        if message["type"] != "http.request":
            assert message == (then or {"type": "http.disconnect"})
            break
        got += message["body"]
        if not message["more_body"]:
            break
    return token, got


@pytest.mark.parametrize(("make", "first"), FORMS)
def test_asgi_form_token_hands_the_app_the_whole_body(make: Any, first: bool) -> None:
    content_type, body = make(first, size=3 * SPOOL_SIZE)
    chunks = [body[i : i + 50_000] for i in range(0, len(body), 50_000)]
    token, got = asyncio.run(asgi_body(content_type, chunks))
    assert token == TOKEN
    assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest()


def test_asgi_token_split_across_messages() -> None:
    content_type, body = multipart(True)
    token, got = asyncio.run(asgi_body(content_type, [bytes([b]) for b in body]))
    assert (token, got) == (TOKEN, body)


def test_asgi_disconnect_while_reading_is_replayed() -> None:
    content_type, body = urlencoded(False)
    token, got = asyncio.run(asgi_body(content_type, [body[:10]], then={"type": "http.disconnect"}))
    assert (token, got) == (None, body[:10])


def test_asgi_other_content_types_are_not_read() -> None:
    async def receive() -> dict[str, Any]:
        raise AssertionError("the body must not be read")

    token, replay = asyncio.run(asgi_form_token({"type": "http", "headers": []}, receive))
    assert token is None
    assert replay is receive


def test_an_unread_spooled_body_is_closed_with_its_replay() -> None:
    content_type, body = multipart(False, size=2 * SPOOL_SIZE)
    env = form_environ(content_type, body)
    wsgi_form_token(env)
    head = env["wsgi.input"]._head
    assert head._rolled  # past SPOOL_SIZE: a real temporary file
    del env["wsgi.input"]
    assert head.closed


# -- tokens in pages, and the refusal ---------------------------------------------------


def test_csrf_token_makes_one_secret_per_session_and_csrf_input_carries_a_token() -> None:
    session = Session()
    request = {SESSION_KEY: session}
    first, second = c.csrf_token(request), c.csrf_token(request)
    assert first != second
    secret = session[c.SECRET_KEY]
    assert c.token_matches(first, secret)
    assert c.token_matches(second, secret)
    assert session.changes()[0] == {c.SECRET_KEY: secret}  # saved with the session
    html = c.csrf_input(request)
    assert html.startswith('<input type="hidden" name="csrf_token" value="')
    assert c.token_matches(html.split('value="')[1][:64], secret)
    assert html.__html__() == html  # type: ignore[attr-defined]
    assert session[c.SECRET_KEY] == secret


def test_csrf_token_needs_the_session_middleware() -> None:
    with pytest.raises(RuntimeError, match="wrap the app with SessionAuth"):
        c.csrf_token({})


def test_refusals_are_short_plain_text_and_send_csrf_failed() -> None:
    heard: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        heard.append(kwargs)

    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> Callable[[bytes], None]:
        started.append((status, headers))
        return lambda data: None

    env = environ()
    with csrf_failed.connected_to(receiver):
        body = c.refuse_wsgi(env, start_response, c.CROSS_SITE)
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        sc = scope()
        asyncio.run(c.refuse_asgi(sc, send, c.NULL_ORIGIN))
    assert started[0][0] == "403 Forbidden"
    assert dict(started[0][1])["Content-Type"] == "text/plain; charset=utf-8"
    assert b"".join(body) == f"Forbidden: {c.CROSS_SITE}.\n".encode()
    assert sent[0]["status"] == 403
    assert (b"x-content-type-options", b"nosniff") in sent[0]["headers"]
    assert sent[1]["body"] == f"Forbidden: {c.NULL_ORIGIN}.\n".encode()
    assert [(h["sender"], h["request"], h["reason"]) for h in heard] == [
        ("reqsignals.auth", env, c.CROSS_SITE),
        ("reqsignals.auth", sc, c.NULL_ORIGIN),
    ]


def test_token_reasons_from_headers_and_forms() -> None:
    check = c.CSRF(require_token=True, exempt=["/hooks/"])
    secret = c.new_secret()
    session = {c.SECRET_KEY: secret}
    token = c.mask_token(secret)
    assert check.environ_token_reason(environ(x_csrf_token=token), session) is None
    assert check.environ_token_reason(environ(), session) == c.TOKEN_MISSING
    assert check.environ_token_reason(environ(x_csrf_token="x"), session) == c.TOKEN_INCORRECT
    form = form_environ("application/x-www-form-urlencoded", f"csrf_token={token}".encode())
    assert check.environ_token_reason(form, session) is None
    assert check.environ_token_reason({**environ(), "PATH_INFO": "/hooks/a"}, session) is None
    assert c.CSRF().environ_token_reason(environ(), session) is None

    def reason(sc: dict[str, Any]) -> str | None:
        return asyncio.run(check.scope_token_reason(sc, _no_body, session))[0]

    assert reason(scope(x_csrf_token=token)) is None
    assert reason(scope()) == c.TOKEN_MISSING
    assert reason(scope(path="/hooks/a")) is None
    assert asyncio.run(c.CSRF().scope_token_reason(scope(), _no_body, session))[0] is None
