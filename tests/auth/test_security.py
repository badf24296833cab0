"""Cookie security and bad input: each property its own test, over WSGI and ASGI."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import TimestampSigner

from reqsignals.auth import MemoryStore, SessionAuth, SessionTooLarge, get_session
from tests.live_apps.auth_apps import SECRET, Client

from .conftest import StoreFactory

MakeClient = Callable[..., Client]


def memory_client(make_client: MakeClient, flavour: str, **options: Any) -> Client:
    https = options.pop("https", False)
    return make_client(flavour, SessionAuth(SECRET, MemoryStore(), **options), https=https)


def attributes(set_cookie: str) -> dict[str, str]:
    parts = [p.strip() for p in set_cookie.split(";")]
    return {k.lower(): v for k, _, v in (p.partition("=") for p in parts[1:])}


def written_cookie(client: Client) -> str:
    response = client.set("a", 1)
    header = response.headers["set-cookie"]
    assert isinstance(header, str)
    return header


def test_cookie_defaults(make_client: MakeClient, flavour: str) -> None:
    header = written_cookie(memory_client(make_client, flavour))
    assert attributes(header) == {
        "path": "/",
        "max-age": str(14 * 24 * 3600),
        "httponly": "",
        "samesite": "Lax",
    }


def test_cookie_value_is_signed(make_client: MakeClient, flavour: str) -> None:
    client = memory_client(make_client, flavour)
    header = written_cookie(client)
    value = header.split(";")[0].partition("=")[2]
    token, _stamp, signature = value.split(".")
    assert token == client.dump()["key"]
    assert len(signature) == 43  # HMAC-SHA256, URL-safe base64
    expected = TimestampSigner(SECRET, salt="reqsignals.session", digest_method=hashlib.sha256)
    assert expected.unsign(value).decode() == token


def test_secure_when_the_request_came_over_https(make_client: MakeClient, flavour: str) -> None:
    header = written_cookie(memory_client(make_client, flavour, https=True))
    assert "secure" in attributes(header)


def test_secure_when_https_only(make_client: MakeClient, flavour: str) -> None:
    header = written_cookie(memory_client(make_client, flavour, https_only=True))
    assert "secure" in attributes(header)


def test_not_secure_over_plain_http(make_client: MakeClient, flavour: str) -> None:
    assert "secure" not in attributes(written_cookie(memory_client(make_client, flavour)))


@pytest.mark.parametrize(
    ("same_site", "expected", "secure"),
    [
        pytest.param("strict", "Strict", False, id="strict"),
        pytest.param("none", "None", True, id="none-implies-secure"),
    ],
)
def test_same_site_option(
    make_client: MakeClient, flavour: str, same_site: str, expected: str, secure: bool
) -> None:
    header = written_cookie(memory_client(make_client, flavour, same_site=same_site))
    assert attributes(header)["samesite"] == expected
    assert ("secure" in attributes(header)) is secure


def test_name_path_domain_and_max_age_options(make_client: MakeClient, flavour: str) -> None:
    client = memory_client(
        make_client,
        flavour,
        cookie_name="sid",
        path="/app",
        domain="example.test",
        max_age=600,
    )
    header = written_cookie(client)
    assert header.startswith("sid=")
    assert attributes(header) == {
        "path": "/app",
        "domain": "example.test",
        "max-age": "600",
        "httponly": "",
        "samesite": "Lax",
    }


def test_deletion_cookie_has_the_same_scope(make_client: MakeClient, flavour: str) -> None:
    client = memory_client(make_client, flavour, cookie_name="sid", path="/", domain="x.test")
    client.set("a", 1)
    # httpx will not send a cookie for another domain: send it by hand.
    value = written_cookie(client).split(";")[0].partition("=")[2]
    response = client.post("/flush", headers={"cookie": f"sid={value}"})
    header = response.headers["set-cookie"]
    assert header.startswith("sid=;")
    assert attributes(header) == {
        "path": "/",
        "domain": "x.test",
        "max-age": "0",
        "expires": "Thu, 01 Jan 1970 00:00:00 GMT",
        "httponly": "",
        "samesite": "Lax",
    }


def test_secret_key_rotation(make_client: MakeClient, flavour: str) -> None:
    store = MemoryStore()
    old = make_client(flavour, SessionAuth("old-key", store))
    old.set("user", 1)
    old_cookie = old.cookies["session"]

    rotated = make_client(flavour, SessionAuth(["new-key", "old-key"], store))
    rotated.use_cookie(old_cookie)
    assert rotated.dump()["data"] == {"user": 1}  # the old key still verifies
    rotated.set("more", 2)
    new_cookie = rotated.cookies["session"]

    only_new = make_client(flavour, SessionAuth("new-key", store))
    only_new.use_cookie(new_cookie)
    assert only_new.dump()["data"] == {"user": 1, "more": 2}  # the first key signs
    only_new.use_cookie(old_cookie)
    assert only_new.dump()["data"] == {}  # a dropped key no longer verifies


class _OldSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 15 * 24 * 3600


def _cases(auth: SessionAuth, token: str) -> dict[str, str]:
    good = auth._signer.sign(token).decode()
    old = _OldSigner(SECRET, salt="reqsignals.session", digest_method=hashlib.sha256)
    return {
        # A middle character of the signature: all six of its bits count (the last
        # character's low bits are base64 padding, which decoding ignores).
        "tampered": good[:-10] + ("A" if good[-10] != "A" else "B") + good[-9:],
        "tampered-token": ("X" if good[0] != "X" else "Y") + good[1:],
        "other-secret": SessionAuth("another", MemoryStore())._signer.sign(token).decode(),
        "expired": old.sign(token).decode(),
        "unsigned": token,
        "truncated": good[: len(good) // 2],
        "non-ascii": good[:-1] + "é",
        "oversized": good + "A" * 8192,
        "empty": "",
        "quoted-garbage": '"abc"',
        "duplicated-bad-first": f"garbage; session={good}",
    }


BAD = [
    "tampered",
    "tampered-token",
    "other-secret",
    "expired",
    "unsigned",
    "truncated",
    "non-ascii",
    "oversized",
    "empty",
    "quoted-garbage",
    "duplicated-bad-first",
]


@pytest.mark.parametrize("case", BAD)
def test_bad_cookie_gives_a_fresh_session(
    make_client: MakeClient, flavour: str, store_kind: str, make_store: StoreFactory, case: str
) -> None:
    store = make_store(store_kind)
    auth = SessionAuth(SECRET, store)
    client = make_client(flavour, auth)
    client.set("user", 1)
    token = client.cookies["session"].split(".")[0]
    cookie = _cases(auth, token)[case]
    status, body, header = client.get_raw_cookie("/dump", f"session={cookie}".encode())
    assert status == 200
    assert body["data"] == {}
    assert header is not None
    assert header.startswith("session=;")  # the client is told to drop it


def test_duplicated_cookie_first_one_wins(make_client: MakeClient, flavour: str) -> None:
    client = memory_client(make_client, flavour)
    client.set("user", 1)
    good = client.cookies["session"]
    client.cookies.clear()
    response = client.get("/dump", headers={"cookie": f"session={good}; session=garbage"})
    assert response.json()["data"] == {"user": 1}
    assert "set-cookie" not in response.headers


def test_quoted_cookie_value_is_accepted(make_client: MakeClient, flavour: str) -> None:
    client = memory_client(make_client, flavour)
    client.set("user", 1)
    good = client.cookies["session"]
    client.cookies.clear()
    response = client.get("/dump", headers={"cookie": f'other=1; session="{good}"'})
    assert response.json()["data"] == {"user": 1}


def test_unknown_key_is_never_adopted(
    make_client: MakeClient, flavour: str, make_store: StoreFactory
) -> None:
    store = make_store("sqlite")
    auth = SessionAuth(SECRET, store)
    client = make_client(flavour, auth)
    planted = "attacker-chosen-key-" + "x" * 23
    client.use_cookie(auth._signer.sign(planted).decode())
    got = client.dump()
    assert got["data"] == {}
    assert got["key"] is None
    client.set("user", 1)
    key = client.dump()["key"]
    assert key is not None
    assert key != planted
    assert store.load(planted) is None


def test_cookie_store_too_large_raises_and_says_what_to_do(
    make_client: MakeClient, flavour: str, make_store: StoreFactory
) -> None:
    client = make_client(flavour, SessionAuth(SECRET, make_store("cookie")))
    client.set("small", 1)
    with pytest.raises(SessionTooLarge, match="server-side store"):
        client.post("/fill", params={"k": "big", "n": "5000"})
    # Nothing was dropped silently: the previous cookie still holds the previous data.
    assert client.dump()["data"] == {"small": 1}


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
def test_server_stores_hold_what_a_cookie_cannot(
    make_client: MakeClient, flavour: str, make_store: StoreFactory, kind: str
) -> None:
    client = make_client(flavour, SessionAuth(SECRET, make_store(kind)))
    client.post("/fill", params={"k": "big", "n": "100000"})
    assert len(client.dump()["data"]["big"]) == 100_000


# Fuzz: any Cookie header, through the middleware directly (no client to clean it up).


def _bare_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    session = get_session(environ)
    session["seen"] = session.get("seen", 0) + 1
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


async def _bare_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    session = get_session(scope)
    session["seen"] = session.get("seen", 0) + 1
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


FUZZ_AUTH = SessionAuth(SECRET, MemoryStore())
FUZZ_WSGI = FUZZ_AUTH.wrap(_bare_wsgi)
FUZZ_ASGI = FUZZ_AUTH.wrap(_bare_asgi)
FUZZ_GOOD = FUZZ_AUTH._signer.sign(FUZZ_AUTH.store.create({"seen": 1}, 3600)).decode()


def call_wsgi(cookie: str) -> tuple[str, list[tuple[str, str]]]:
    got: list[Any] = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "wsgi.url_scheme": "http",
        "HTTP_COOKIE": cookie,
    }
    body = FUZZ_WSGI(environ, lambda status, headers, exc_info=None: got.append((status, headers)))
    assert b"".join(body) == b"ok"
    return got[0]  # type: ignore[no-any-return]


def call_asgi(cookie: bytes) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "scheme": "http",
        "headers": [(b"cookie", cookie)],
    }
    asyncio.run(FUZZ_ASGI(scope, receive, send))
    return sent


cookie_text = st.one_of(
    st.text(st.characters(max_codepoint=255), max_size=300),
    st.text(st.characters(max_codepoint=255), max_size=50).map(lambda s: f"session={s}"),
    st.builds(
        lambda i, s: f"session={FUZZ_GOOD[:i]}{s}{FUZZ_GOOD[i + len(s) :]}",
        st.integers(0, len(FUZZ_GOOD)),
        st.text(st.characters(max_codepoint=255), min_size=1, max_size=4),
    ),
)
fuzz = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fuzz
@given(cookie_text)
def test_fuzzed_cookie_never_breaks_a_wsgi_request(cookie: str) -> None:
    status, headers = call_wsgi(cookie)
    assert status == "200 OK"
    [(name, value)] = headers[1:]
    assert name == "Set-Cookie"
    assert value.startswith("session=")


@fuzz
@given(cookie_text.map(lambda s: s.encode("latin-1")) | st.binary(max_size=300))
def test_fuzzed_cookie_never_breaks_an_asgi_request(cookie: bytes) -> None:
    start, body = call_asgi(cookie)
    assert start["status"] == 200
    assert [name for name, _ in start["headers"]] == [b"set-cookie"]
    assert body["body"] == b"ok"


def test_fuzz_sees_the_valid_cookie() -> None:
    # The fuzzers start from this cookie: it must be accepted, or they test nothing.
    status, headers = call_wsgi(f"session={FUZZ_GOOD}")
    assert status == "200 OK"
    assert headers[1][1].startswith("session=" + FUZZ_GOOD.split(".")[0])
