"""The demo answers only its own hosts (against DNS rebinding) and keeps its secrets in
files that are private from the moment they exist."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reqsignals.demo import build
from reqsignals.demo._hosts import HostCheck
from reqsignals.types import Message
from tests.helpers.servers import serve_demo


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)  # the worst case: files would be created world-readable
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_folder_and_its_files_are_private_from_the_start(
    tmp_path: Path, permissive_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With chmod doing nothing, only files created private end up private.
    monkeypatch.setattr(Path, "chmod", lambda self, mode, **kw: None)
    data = tmp_path / "demo"
    app, _ = build(data)
    assert mode(data) == 0o700
    for name in ("demo-secrets.json", "users.db", "sessions.db"):
        assert mode(data / name) == 0o600, name
    asyncio.run(app.app.auth.aclose())  # HostCheck -> session middleware


def test_existing_files_are_made_private(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    data.mkdir()
    (data / "users.db").touch(mode=0o644)
    (data / "users.db").chmod(0o644)
    app, _ = build(data)
    assert mode(data / "users.db") == 0o600
    asyncio.run(app.app.auth.aclose())


async def _noop(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize(
    ("host", "served_on", "allowed"),
    [
        pytest.param("127.0.0.1:8000", "127.0.0.1", True, id="ipv4"),
        pytest.param("localhost:8000", "127.0.0.1", True, id="localhost"),
        pytest.param("LOCALHOST", "127.0.0.1", True, id="localhost-upper"),
        pytest.param("app.localhost:8000", "127.0.0.1", True, id="dot-localhost"),
        pytest.param("[::1]:8000", "127.0.0.1", True, id="ipv6"),
        pytest.param("192.168.1.20:8000", "0.0.0.0", True, id="lan-address"),
        pytest.param("devbox:8000", "devbox", True, id="the-host-given"),
        pytest.param("rebind.attacker.example:8000", "127.0.0.1", False, id="rebinding"),
        pytest.param("127.0.0.1.attacker.example", "127.0.0.1", False, id="ip-prefix"),
        pytest.param("localhost.attacker.example", "127.0.0.1", False, id="localhost-prefix"),
        pytest.param("devbox:8000", "127.0.0.1", False, id="another-name"),
        pytest.param("", "127.0.0.1", False, id="empty"),
    ],
)
def test_host_check(host: str, served_on: str, allowed: bool) -> None:
    check = HostCheck(_noop, host=served_on)
    transport = httpx.ASGITransport(app=check)

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            return await client.get("/feed", headers={"Host": host})

    response = asyncio.run(get())
    assert response.status_code == (200 if allowed else 400)


def test_no_host_header_is_refused() -> None:
    assert not HostCheck(_noop).allowed(None)


def test_websockets_with_a_foreign_host_are_closed() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    scope = {"type": "websocket", "headers": [(b"host", b"evil.example")], "path": "/"}
    asyncio.run(HostCheck(_noop)(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]


@pytest.mark.server
def test_the_running_demo_refuses_a_rebound_host(tmp_path: Path) -> None:
    with serve_demo(tmp_path) as (server, _):
        rebound = httpx.get(f"{server.url}/events", headers={"Host": "rebind.example"})
        assert rebound.status_code == 400
        assert "Invalid Host header" in rebound.text
        assert httpx.get(f"{server.url}/feed").status_code == 200
