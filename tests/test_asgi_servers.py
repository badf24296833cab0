"""reqsignals.asgi.SignalsMiddleware under real uvicorn and hypercorn subprocesses.

The servers run tests/live_apps/asgi_served.py, which counts the signals in the server process;
``GET /_stats?t=TOKEN`` (outside every middleware, never counted) reports them. Each
test tags its requests with its own token.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

from tests.helpers.support import Server, run_all, run_server

pytestmark = pytest.mark.server

SERVERS = {
    "uvicorn": [
        "python", "-m", "uvicorn", "{app}", "--host", "127.0.0.1", "--port", "{port}",
        "--no-access-log", "--ws", "wsproto", "--lifespan", "on",
    ],
    "hypercorn": ["python", "-m", "hypercorn", "{app}", "--bind", "127.0.0.1:{port}"],
}  # fmt: skip


def serve(kind: str, app: str) -> Any:
    return run_server([a.replace("{app}", app) for a in SERVERS[kind]])


@pytest.fixture(scope="module", params=["uvicorn", "hypercorn"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with serve(request.param, "tests.live_apps.asgi_served:app") as srv:
        srv.kind = request.param
        yield srv


@pytest.fixture(scope="module")
def uvicorn_server() -> Iterator[Server]:
    with serve("uvicorn", "tests.live_apps.asgi_served:app") as srv:
        yield srv


def token() -> str:
    return uuid.uuid4().hex


def events(srv: Server, tok: str, *, until: int = 0, timeout: float = 15) -> list[dict[str, Any]]:
    """The signals the server counted for *tok*; waits until at least *until* are in."""
    deadline = time.monotonic() + timeout
    while True:
        got: list[dict[str, Any]] = httpx.get(f"{srv.url}/_stats?t={tok}").json()["events"]
        if len(got) >= until or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def names(evs: list[dict[str, Any]]) -> list[str]:
    return [e["signal"] for e in evs]


APPS = ["bare", "smw", "sadd", "fastapi", "django"]


@pytest.mark.parametrize("kind", APPS)
@pytest.mark.parametrize("action", ["ok", "stream", "boom"])
def test_signals_under_real_server(server: Server, kind: str, action: str) -> None:
    tok = token()
    response = httpx.get(f"{server.url}/{kind}/{action}?t={tok}", timeout=10)
    if action == "boom":
        assert response.status_code == 500
        # The status the client got: Django answers its own 500 inside the middleware;
        # elsewhere the app raised before a response and the server answered 500.
        status = 500
        if kind == "django":
            expected = ["request_started", "request_finished"]
        else:
            expected = ["request_started", "got_request_exception", "request_finished"]
    else:
        assert response.content == (b"ok" if action == "ok" else b"abc")
        expected = ["request_started", "request_finished"]
        status = 200
    evs = events(server, tok, until=len(expected))
    time.sleep(0.05)  # anything extra would show up now
    evs = events(server, tok)
    assert names(evs) == expected
    assert evs[-1]["status"] == status
    assert {e["path"] for e in evs} == {f"/{kind}/{action}"}
    if action == "boom" and kind != "django":
        assert evs[1]["exception"] == "RuntimeError: boom"


def test_streaming_is_not_buffered_under_uvicorn(uvicorn_server: Server) -> None:
    tok = token()
    url = uvicorn_server.url
    with (
        httpx.Client(timeout=httpx.Timeout(5.0)) as client,
        client.stream("GET", f"{url}/smw/gated?t={tok}") as response,
    ):
        chunks = response.iter_raw()
        # The app waits for /release before producing its second chunk: this read
        # times out if anything between app and client holds the first one back.
        assert next(chunks) == b"first"
        assert httpx.get(f"{url}/smw/release?t={tok}").text == "released"
        assert b"".join(chunks) == b"-second"
    evs = events(uvicorn_server, tok, until=4)
    gated = [e["signal"] for e in evs if e["path"] == "/smw/gated"]
    assert gated == ["request_started", "request_finished"]


@pytest.mark.parametrize("kind", ["smw", "bare"])
def test_client_disconnect_mid_stream_finishes_once(server: Server, kind: str) -> None:
    tok = token()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(f"GET /{kind}/infinite?t={tok} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        received = b""
        while len(received) < 8192:
            received += sock.recv(4096)
        assert received.startswith(b"HTTP/1.1 200")
        assert names(events(server, tok)) == ["request_started"]
    evs = events(server, tok, until=2)
    time.sleep(0.2)
    evs = events(server, tok)
    assert names(evs) == ["request_started", "request_finished"]
    assert evs[1]["status"] == 200


def test_request_finished_after_background_task(server: Server) -> None:
    tok = token()
    assert httpx.get(f"{server.url}/smw/background?t={tok}").text == "ok"
    evs = events(server, tok, until=2)
    assert names(evs) == ["request_started", "request_finished"]
    assert evs[1]["app_log"] == [f"background done {tok}"]


def ws_client(port: int, path: str) -> tuple[socket.socket, WSConnection]:
    """Open a websocket with wsproto over a plain socket; return once accepted."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    ws = WSConnection(ConnectionType.CLIENT)
    sock.sendall(ws.send(Request(host="127.0.0.1", target=path)))
    while True:
        ws.receive_data(sock.recv(65536))
        for event in ws.events():
            if isinstance(event, AcceptConnection):
                return sock, ws


def test_send_raising_after_websocket_disconnect_is_the_apps_exception(
    uvicorn_server: Server,
) -> None:
    # uvicorn raises ClientDisconnected (an OSError, ASGI spec 2.4) from send() once a
    # websocket client has gone; hypercorn drops such messages instead (also allowed).
    tok = token()
    sock, ws = ws_client(uvicorn_server.port, f"/ws/ticker?t={tok}")
    with sock:
        texts: list[str] = []
        while not texts:
            ws.receive_data(sock.recv(65536))
            texts += [e.data for e in ws.events() if isinstance(e, TextMessage)]
        assert texts[0] == "tick"
    # Gone without a close frame: the next send() raises, the app does not catch it,
    # so it is reported as the app's exception; then the connection is finished.
    evs = events(uvicorn_server, tok, until=3)
    assert names(evs) == ["request_started", "got_request_exception", "request_finished"]
    assert evs[1]["is_oserror"]
    assert evs[-1]["status"] == 101
    assert {e["type"] for e in evs} == {"websocket"}


@pytest.mark.parametrize("kind", ["uvicorn", "hypercorn"])
def test_receivers_connected_in_lifespan_hear_every_request(kind: str) -> None:
    tok = token()
    with serve(kind, "tests.live_apps.asgi_lifespan_served:app") as srv:
        for _ in range(5):
            assert httpx.get(f"{srv.url}/life/ok?t={tok}").text == "ok"
        evs = events(srv, tok, until=10)
    assert names(evs) == ["request_started", "request_finished"] * 5
    assert {e["status"] for e in evs[1::2]} == {200}


@pytest.mark.load
def test_2000_requests_from_64_clients_are_all_counted(uvicorn_server: Server) -> None:
    tok = token()
    total, concurrency = 2000, 64
    statuses: list[int] = []

    async def go() -> None:
        remaining = iter(range(total))

        # Each client its own httpx client and connection: one shared pool of 64
        # connections costs the test process more CPU than the server uses.
        async def worker() -> None:
            async with httpx.AsyncClient(timeout=20) as client:
                for i in remaining:
                    kind = "bare" if i % 2 else "sadd"
                    r = await client.get(f"{uvicorn_server.url}/{kind}/ok?t={tok}")
                    statuses.append(r.status_code)

        await run_all((worker() for _ in range(concurrency)), 90)

    asyncio.run(go())
    assert statuses.count(200) == total
    evs = events(uvicorn_server, tok, until=2 * total)
    counted = names(evs)
    assert counted.count("request_started") == total
    assert counted.count("request_finished") == total
    assert len(counted) == 2 * total
    assert {e["status"] for e in evs if e["signal"] == "request_finished"} == {200}
