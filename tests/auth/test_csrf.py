"""CSRF protection through the session middleware: bare WSGI, Flask, bare ASGI,
Starlette and FastAPI apps, each served the same forged and honest requests."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from reqsignals.auth import CSRF, MemoryStore, SessionAuth
from reqsignals.auth import csrf as c
from tests.live_apps.auth_apps import SECRET
from tests.live_apps.auth_csrf_apps import FLAVOURS, LoginClient, make_backend

MakeLogin = Callable[..., LoginClient]

ATTACKS = [
    pytest.param({"Sec-Fetch-Site": "cross-site"}, c.CROSS_SITE, id="sfs-cross-site"),
    pytest.param({"Sec-Fetch-Site": "same-site"}, c.SAME_SITE, id="sfs-same-site"),
    pytest.param({"Origin": "https://evil.example"}, c.UNTRUSTED_ORIGIN, id="foreign-origin"),
    pytest.param({"Origin": "null"}, c.NULL_ORIGIN, id="origin-null"),
    pytest.param(
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        c.CROSS_SITE,
        id="sfs-and-origin",
    ),
]


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_login() -> Iterator[MakeLogin]:
    """make_login(flavour, **SessionAuth options): a client over a MemoryStore."""
    made: list[LoginClient] = []

    def make(flavour: str, **options: Any) -> LoginClient:
        base_url = options.pop("base_url", "http://testserver")
        auth = SessionAuth(SECRET, MemoryStore(), backends=[make_backend()], **options)
        client = LoginClient(flavour, auth, base_url=base_url)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def assert_refused(response: Any, reason: str) -> None:
    assert response.status_code == 403
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == f"Forbidden: {reason}.\n"
    assert "set-cookie" not in response.headers


# -- forged requests -----------------------------------------------------------------


@pytest.mark.parametrize(("headers", "reason"), ATTACKS)
def test_forged_login_is_refused_before_the_app_runs(
    make_login: MakeLogin,
    flavour: str,
    headers: dict[str, str],
    reason: str,
    failures: list[dict[str, Any]],
) -> None:
    client = make_login(flavour)
    response = client.login("mallory", headers=headers)
    assert_refused(response, reason)
    assert client.calls == []
    assert not client.cookies
    assert client.me() is None
    assert len(failures) == 1
    assert failures[0]["sender"] == "reqsignals.auth"
    assert failures[0]["reason"] == reason
    request = failures[0]["request"]
    assert request.get("PATH_INFO", request.get("path")) == "/login"


@pytest.mark.parametrize(("headers", "reason"), ATTACKS)
def test_forged_logout_is_refused_and_the_user_stays_logged_in(
    make_login: MakeLogin, flavour: str, headers: dict[str, str], reason: str
) -> None:
    client = make_login(flavour)
    assert client.login(headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
    client.calls.clear()
    response = client.request("POST", "/logout", headers=headers)
    assert_refused(response, reason)
    assert client.calls == []
    assert client.me() == "ada"


# -- honest requests -----------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Sec-Fetch-Site": "same-origin"}, id="sfs-same-origin"),
        pytest.param({"Sec-Fetch-Site": "none"}, id="sfs-none"),
        pytest.param({"Origin": "http://testserver"}, id="own-origin"),
        pytest.param(
            {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}, id="sfs-and-origin"
        ),
        pytest.param(
            {"Sec-Fetch-Site": "cross-site", "Origin": "https://admin.example"},
            id="trusted-origin-cross-site",
        ),
        pytest.param({"Origin": "https://admin.example"}, id="trusted-origin"),
        pytest.param({}, id="no-browser-headers"),
    ],
)
def test_honest_login_and_logout_pass(
    make_login: MakeLogin, flavour: str, headers: dict[str, str]
) -> None:
    client = make_login(flavour, csrf=CSRF(trusted_origins=["https://admin.example"]))
    assert client.login(headers=headers).status_code == 200
    assert client.me() == "ada"
    assert client.request("POST", "/logout", headers=headers).status_code == 200
    assert client.me() is None


def test_own_origin_includes_the_port(make_login: MakeLogin, flavour: str) -> None:
    client = make_login(flavour, base_url="http://testserver:8000")
    assert client.login(headers={"Origin": "http://testserver:8000"}).status_code == 200
    assert client.login(headers={"Origin": "http://testserver"}).status_code == 403


def test_own_origin_over_https(make_login: MakeLogin, flavour: str) -> None:
    client = make_login(flavour, base_url="https://testserver")
    assert client.login(headers={"Origin": "https://testserver"}).status_code == 200
    assert client.login(headers={"Origin": "http://testserver"}).status_code == 403


def test_https_only_makes_the_own_origin_https(make_login: MakeLogin, flavour: str) -> None:
    # The Secure flag's rule: with https_only the app is taken to be served over HTTPS.
    client = make_login(flavour, https_only=True)
    assert client.login(headers={"Origin": "https://testserver"}).status_code == 200
    assert client.login(headers={"Origin": "http://testserver"}).status_code == 403


def test_safe_methods_pass_from_anywhere(make_login: MakeLogin, flavour: str) -> None:
    client = make_login(flavour)
    for method in ("GET", "HEAD", "OPTIONS"):
        response = client.request(method, "/me", headers={"Sec-Fetch-Site": "cross-site"})
        assert response.status_code in (200, 405), method
    assert client.calls[0] == "GET /me"


def test_exempt_paths_pass(make_login: MakeLogin, flavour: str) -> None:
    client = make_login(flavour, csrf=CSRF(exempt=["/hooks/"], require_token=True))
    response = client.request("POST", "/hooks/ping", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 200
    assert client.calls == ["POST /hooks/ping"]
    assert client.login(headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403


@pytest.mark.parametrize("path", ["/hooks/..%2Flogin", "/hooks/%2e%2e/login", "/hooks/.%2Flogin"])
def test_an_exempt_prefix_does_not_cover_a_path_with_dot_segments(
    make_login: MakeLogin, flavour: str, path: str
) -> None:
    # "/hooks/../login" starts with "/hooks/" but names /login to anything that resolves
    # dot segments after the check (a proxy, a static-file handler): never exempt.
    client = make_login(flavour, csrf=CSRF(exempt=["/hooks/"]))
    assert_refused(
        client.request("POST", path, headers={"Sec-Fetch-Site": "cross-site"}), c.CROSS_SITE
    )
    assert client.calls == []


def test_json_post_from_an_api_client_passes(make_login: MakeLogin, flavour: str) -> None:
    # httpx sends neither Origin nor Sec-Fetch-Site, like curl and other API clients.
    client = make_login(flavour)
    response = client.request("POST", "/upload", json={"items": [1, 2]})
    assert response.status_code == 200
    assert response.json()["sha256"] == hashlib.sha256(b'{"items":[1,2]}').hexdigest()


def test_csrf_false_turns_the_check_off(make_login: MakeLogin, flavour: str) -> None:
    client = make_login(flavour, csrf=False)
    assert client.login(headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200


def test_csrf_is_on_by_default_and_takes_true_a_csrf_or_false() -> None:
    assert isinstance(SessionAuth(SECRET, MemoryStore()).csrf, CSRF)
    assert isinstance(SessionAuth(SECRET, MemoryStore(), csrf=True).csrf, CSRF)
    assert SessionAuth(SECRET, MemoryStore(), csrf=False).csrf is None
    mine = CSRF(require_token=True)
    assert SessionAuth(SECRET, MemoryStore(), csrf=mine).csrf is mine
    with pytest.raises(TypeError, match="csrf takes True, False or a CSRF"):
        SessionAuth(SECRET, MemoryStore(), csrf="yes")  # type: ignore[arg-type]


# -- the token -----------------------------------------------------------------------


def multipart_body(fields: dict[str, str], upload: bytes = b"") -> tuple[dict[str, str], bytes]:
    boundary = "reqsignals-test-boundary"
    out = b""
    for name, value in fields.items():
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    if upload:
        out += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"'
                "\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + upload
            + b"\r\n"
        )
    out += f"--{boundary}--\r\n".encode()
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, out


def token_login(client: LoginClient, where: str, token: str | None) -> Any:
    fields = {"username": "ada", "password": "correct horse battery staple"}
    headers = {"Sec-Fetch-Site": "same-origin"}
    if where == "header":
        if token is not None:
            headers["X-CSRF-Token"] = token
        return client.request("POST", "/login", data=fields, headers=headers)
    if token is not None:
        fields = (
            {"csrf_token": token, **fields}
            if where != "form-last"
            else {**fields, "csrf_token": token}
        )
    if where == "multipart":
        extra, body = multipart_body(fields)
        return client.request("POST", "/login", content=body, headers={**headers, **extra})
    return client.request("POST", "/login", data=fields, headers=headers)


WHERE = ["header", "form", "form-last", "multipart"]


@pytest.mark.parametrize("where", WHERE)
def test_token_mode_takes_the_token_from_header_or_form(
    make_login: MakeLogin, flavour: str, where: str, failures: list[dict[str, Any]]
) -> None:
    client = make_login(flavour, csrf=CSRF(require_token=True))
    refused = token_login(client, where, None)
    assert_refused(refused, c.TOKEN_MISSING)
    assert client.calls == []
    token = client.token()
    assert token_login(client, where, token).status_code == 200
    assert client.me() == "ada"
    assert [f["reason"] for f in failures] == [c.TOKEN_MISSING]


@pytest.mark.parametrize("where", WHERE)
def test_a_token_from_another_session_fails(
    make_login: MakeLogin, flavour: str, where: str
) -> None:
    client = make_login(flavour, csrf=CSRF(require_token=True))
    mallory = LoginClient(flavour, client.auth)
    try:
        stolen = mallory.token()
    finally:
        mallory.close(store=False)
    client.token()  # the victim has a secret of its own
    assert_refused(token_login(client, where, stolen), c.TOKEN_INCORRECT)
    assert client.calls == ["GET /token"]


FORM_WHERE = ["form", "form-last", "multipart"]


def form_login(client: LoginClient, where: str, form_token: str, header: str) -> Any:
    """A login whose form carries *form_token*, with ``X-CSRF-Token: <header>`` sent too."""
    fields = {"username": "ada", "password": "correct horse battery staple"}
    fields = (
        {"csrf_token": form_token, **fields}
        if where != "form-last"
        else {**fields, "csrf_token": form_token}
    )
    headers = {"Sec-Fetch-Site": "same-origin", "X-CSRF-Token": header}
    if where == "multipart":
        extra, body = multipart_body(fields)
        return client.request("POST", "/login", content=body, headers={**headers, **extra})
    return client.request("POST", "/login", data=fields, headers=headers)


@pytest.mark.parametrize("header", ["", "   ", "\t"], ids=["empty", "spaces", "tab"])
@pytest.mark.parametrize("where", FORM_WHERE)
def test_an_empty_token_header_counts_as_absent_and_the_form_token_is_read(
    make_login: MakeLogin, flavour: str, where: str, header: str, failures: list[dict[str, Any]]
) -> None:
    client = make_login(flavour, csrf=CSRF(require_token=True))
    token = client.token()
    response = form_login(client, where, token, header)
    assert response.status_code == 200, response.text
    assert client.me() == "ada"
    assert failures == []


@pytest.mark.parametrize("header", ["", "  "], ids=["empty", "spaces"])
def test_an_empty_token_header_and_no_form_token_is_a_missing_token(
    make_login: MakeLogin, flavour: str, header: str
) -> None:
    client = make_login(flavour, csrf=CSRF(require_token=True))
    client.token()
    response = client.request(
        "POST",
        "/login",
        data={"username": "ada", "password": "correct horse battery staple"},
        headers={"Sec-Fetch-Site": "same-origin", "X-CSRF-Token": header},
    )
    assert_refused(response, c.TOKEN_MISSING)
    assert client.calls == ["GET /token"]


@pytest.mark.parametrize("where", FORM_WHERE)
def test_a_token_header_decides_and_the_form_is_not_a_fallback(
    make_login: MakeLogin, flavour: str, where: str
) -> None:
    client = make_login(flavour, csrf=CSRF(require_token=True))
    token = client.token()
    # A wrong token in the header fails, whatever the form carries.
    assert_refused(form_login(client, where, token, "not-the-token"), c.TOKEN_INCORRECT)
    assert client.calls == ["GET /token"]
    # A right token in the header passes, whatever the form carries.
    assert form_login(client, where, "not-the-token", token).status_code == 200
    assert client.me() == "ada"


def test_token_mode_still_refuses_cross_site_first(make_login: MakeLogin, flavour: str) -> None:
    client = make_login(flavour, csrf=CSRF(require_token=True))
    token = client.token()
    response = client.login(headers={"Sec-Fetch-Site": "cross-site", "X-CSRF-Token": token})
    assert_refused(response, c.CROSS_SITE)


def test_the_secret_rotates_at_login_and_goes_at_logout(
    make_login: MakeLogin, flavour: str
) -> None:
    client = make_login(flavour, csrf=CSRF(require_token=True))
    before = client.token()
    assert token_login(client, "header", before).status_code == 200
    # The pre-login token is dead: a token planted before login is worthless after.
    assert_refused(
        client.request("POST", "/logout", headers={"X-CSRF-Token": before}), c.TOKEN_INCORRECT
    )
    during = client.token()
    assert client.request("POST", "/logout", headers={"X-CSRF-Token": during}).status_code == 200
    assert client.me() is None
    assert_refused(
        client.request("POST", "/upload", headers={"X-CSRF-Token": during}), c.TOKEN_INCORRECT
    )


@pytest.mark.parametrize("first", [True, False], ids=["token-first", "token-last"])
def test_large_multipart_upload_reaches_the_app_unchanged(
    make_login: MakeLogin, flavour: str, first: bool
) -> None:
    client = make_login(flavour, csrf=CSRF(require_token=True))
    token = client.token()
    upload = os.urandom(3 * 1024 * 1024 + 17)
    boundary_headers, body = multipart_body({}, upload)
    part = (
        f'--reqsignals-test-boundary\r\nContent-Disposition: form-data; name="csrf_token"\r\n'
        f"\r\n{token}\r\n"
    ).encode()
    body = (
        part + body
        if first
        else body.replace(
            b"--reqsignals-test-boundary--", part[:-2] + b"\r\n--reqsignals-test-boundary--"
        )
    )
    response = client.request("POST", "/upload", content=body, headers=boundary_headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"sha256": hashlib.sha256(body).hexdigest(), "length": len(body)}


def test_urlencoded_body_reaches_the_app_unchanged(make_login: MakeLogin, flavour: str) -> None:
    client = make_login(flavour, csrf=CSRF(require_token=True))
    body = f"a=1&csrf_token={client.token()}&b={'x' * 200_000}".encode()
    response = client.request(
        "POST",
        "/upload",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.json() == {"sha256": hashlib.sha256(body).hexdigest(), "length": len(body)}


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data; boundary=" + "b" * 300,  # python-multipart refuses over 256
        'multipart/form-data; boundary="unterminated',
        "multipart/form-data; boundary=\x7f\x00",
    ],
    ids=["long-boundary", "unterminated-quote", "control-characters"],
)
def test_a_form_the_parser_refuses_is_a_missing_token_never_an_error(
    make_login: MakeLogin, flavour: str, content_type: str
) -> None:
    client = make_login(flavour, csrf=CSRF(require_token=True))
    response = client.request(
        "POST",
        "/login",
        content=b"--x\r\n\r\n",
        headers={"Sec-Fetch-Site": "same-origin", "Content-Type": content_type},
    )
    assert_refused(response, c.TOKEN_MISSING)
    assert client.calls == []
