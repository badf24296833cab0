"""Cross-site websocket hijacking: the ASGI session middleware checks every websocket
handshake's ``Sec-Fetch-Site`` and ``Origin`` (rules 1-3 of reqsignals.auth.csrf), since
a page on any origin can open a websocket to the app and the browser sends the user's
cookies with it. In process, under uvicorn with a hand-written handshake, and in
headless Chromium from a page on another port."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from reqsignals.auth import CSRF, MemoryStore, SessionAuth
from reqsignals.auth import csrf as c
from reqsignals.types import ASGIApp, Message
from tests.auth.test_csrf import ATTACKS
from tests.auth.test_csrf_browser import attacker_site
from tests.helpers.servers import chromium, uvicorn, wait_for_output
from tests.helpers.support import run_server
from tests.live_apps.auth_apps import SECRET
from tests.live_apps.auth_ws_app import WS_PAGE

SERVED = "tests.live_apps.auth_ws_app:make_app"
ACCEPTED = ["websocket.accept", "websocket.send", "websocket.close"]
REFUSED = [{"type": "websocket.close", "code": 1008}]


def make_app(store: MemoryStore | None = None, **options: Any) -> tuple[ASGIApp, list[str]]:
    """A Starlette app with the websockets ``/ws`` and ``/hooks/ws``, each sending the
    session's user, under the session middleware; and the list of handshakes it saw."""
    seen: list[str] = []

    async def whoami(websocket: WebSocket) -> None:
        seen.append(websocket.url.path)
        await websocket.accept()
        await websocket.send_text(str(websocket.session.get("user", "anonymous")))
        await websocket.close()

    routes = [WebSocketRoute("/ws", whoami), WebSocketRoute("/hooks/ws", whoami)]
    auth = SessionAuth(SECRET, store or MemoryStore(), **options)
    return auth.wrap(Starlette(routes=routes)), seen


def connect(
    app: ASGIApp,
    headers: dict[str, str],
    *,
    scheme: str = "ws",
    path: str = "/ws",
    incoming: list[Message] | None = None,
) -> list[Message]:
    """Open a websocket to *app* at ``testserver`` in process; the messages it sent."""
    sent: list[Message] = []
    queue: list[Message] = [{"type": "websocket.connect"}] if incoming is None else incoming

    async def receive() -> Message:
        return queue.pop(0) if queue else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": path,
        "raw_path": path.encode(),
        "scheme": scheme,
        "server": ("testserver", 80),
        "headers": [(b"host", b"testserver")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "query_string": b"",
        "subprotocols": [],
    }

    async def main() -> None:
        await app(scope, receive, send)

    asyncio.run(main())
    return sent


# -- in process ------------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "reason"), ATTACKS)
def test_a_websocket_from_another_origin_is_refused_before_the_app_runs(
    headers: dict[str, str], reason: str, failures: list[dict[str, Any]]
) -> None:
    store = MemoryStore()
    app, seen = make_app(store)
    cookie = SessionAuth(SECRET, store)._signer.sign(store.create({"user": "alice"}, 60))
    sent = connect(app, {**headers, "Cookie": f"session={cookie.decode()}"})
    assert sent == REFUSED  # closed before accepting: the server answers 403
    assert seen == []
    assert [(f["sender"], f["request"]["type"], f["reason"]) for f in failures] == [
        ("reqsignals.auth", "websocket", reason)
    ]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Origin": "http://testserver"}, id="own-origin"),
        pytest.param({"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}, id="sfs"),
        pytest.param({}, id="no-browser-headers"),
    ],
)
def test_a_websocket_from_its_own_origin_passes(
    headers: dict[str, str], failures: list[dict[str, Any]]
) -> None:
    app, seen = make_app()
    sent = connect(app, headers)
    assert [m["type"] for m in sent] == ACCEPTED
    assert sent[1]["text"] == "anonymous"
    assert seen == ["/ws"]
    assert failures == []


def test_the_own_origin_of_a_wss_websocket_is_https(failures: list[dict[str, Any]]) -> None:
    app, _ = make_app()
    assert [m["type"] for m in connect(app, {"Origin": "https://testserver"}, scheme="wss")] == (
        ACCEPTED
    )
    assert connect(app, {"Origin": "http://testserver"}, scheme="wss") == REFUSED
    assert [f["reason"] for f in failures] == [c.UNTRUSTED_ORIGIN]


def test_trusted_origins_and_exempt_paths_pass_websockets(
    failures: list[dict[str, Any]],
) -> None:
    app, seen = make_app(csrf=CSRF(trusted_origins=["https://admin.example"], exempt=["/hooks/"]))
    assert [m["type"] for m in connect(app, {"Origin": "https://admin.example"})] == ACCEPTED
    evil = {"Origin": "https://evil.example"}
    assert [m["type"] for m in connect(app, evil, path="/hooks/ws")] == ACCEPTED
    assert connect(app, evil) == REFUSED
    assert seen == ["/ws", "/hooks/ws"]
    assert [f["reason"] for f in failures] == [c.UNTRUSTED_ORIGIN]


def test_csrf_false_leaves_websockets_alone(failures: list[dict[str, Any]]) -> None:
    app, seen = make_app(csrf=False)
    sent = connect(app, {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
    assert [m["type"] for m in sent] == ACCEPTED
    assert seen == ["/ws"]
    assert failures == []


def test_token_mode_asks_no_token_of_a_websocket(failures: list[dict[str, Any]]) -> None:
    # A browser's WebSocket cannot send a header of its own: the origin rules decide.
    app, _ = make_app(csrf=CSRF(require_token=True))
    assert [m["type"] for m in connect(app, {"Origin": "http://testserver"})] == ACCEPTED
    assert connect(app, {"Origin": "https://evil.example"}) == REFUSED
    assert [f["reason"] for f in failures] == [c.UNTRUSTED_ORIGIN]


def test_a_client_gone_before_a_refused_handshake_is_sent_nothing(
    failures: list[dict[str, Any]],
) -> None:
    app, seen = make_app()
    gone: list[Message] = [{"type": "websocket.disconnect", "code": 1006}]
    assert connect(app, {"Origin": "https://evil.example"}, incoming=gone) == []
    assert seen == []
    assert len(failures) == 1


# -- under uvicorn -----------------------------------------------------------------------


def handshake(port: int, headers: dict[str, str]) -> tuple[int, str | None]:
    """Open ``/ws`` on 127.0.0.1:*port* by hand: the response's status, and the text of
    the first message when the handshake was accepted."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /ws HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        status = int(head.split(b"\r\n", 1)[0].split()[1])
        if status != 101:
            return status, None
        while len(rest) < 2 or len(rest) < 2 + (rest[1] & 0x7F):
            rest += sock.recv(4096)
        assert rest[0] == 0x81  # one unmasked text frame, short enough for one length byte
        return status, rest[2 : 2 + (rest[1] & 0x7F)].decode()


@pytest.mark.server
def test_uvicorn_answers_a_forged_handshake_403_and_an_honest_one_101() -> None:
    with run_server(uvicorn(SERVED, factory=True)) as server:
        login = httpx.get(f"{server.url}/login-as", params={"user": "alice"})
        cookie = f"session={login.cookies['session']}"
        forged = handshake(server.port, {"Cookie": cookie, "Origin": "http://evil.example"})
        honest = handshake(server.port, {"Cookie": cookie, "Origin": server.url})
        out = wait_for_output(server, "csrf_failed websocket")
    assert forged == (403, None)
    assert honest == (101, "alice")
    assert f"csrf_failed websocket /ws: {c.UNTRUSTED_ORIGIN}" in out


# -- in Chromium -----------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.server
def test_a_page_on_another_port_cannot_open_the_users_websocket_in_chromium() -> None:
    from playwright.sync_api import expect

    with run_server(uvicorn(SERVED, factory=True)) as server, chromium() as browser:
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{server.url}/login-as?user=alice")
        page.goto(f"{server.url}/")  # the app's own page opens its websocket
        expect(page.locator("body")).to_have_attribute("data-got", "alice")
        forged = WS_PAGE.format(url=f"ws://127.0.0.1:{server.port}/ws")
        with attacker_site(forged) as evil:
            assert evil.split(":")[2] != str(server.port)
            # 127.0.0.1 on another port: the same site, so SameSite lets the session
            # cookie go with the handshake; another origin, which Chromium sends as
            # Origin (with no Sec-Fetch-Site on a websocket handshake).
            page.goto(evil)
            expect(page.locator("body")).to_have_attribute("data-closed", "1006")
            assert page.locator("body").get_attribute("data-got") == ""
        out = wait_for_output(server, "csrf_failed websocket")
    assert out.count("csrf_failed websocket") == 1
    assert f"csrf_failed websocket /ws: {c.UNTRUSTED_ORIGIN}" in out
