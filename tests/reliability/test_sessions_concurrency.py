"""Sessions under concurrency: two server processes over one store, 500 clients.

Two uvicorn processes share one session store — Redis, then SQLite — and one SQLite
file of 500 users. 500 clients (at most ``IN_FLIGHT`` at a time), each its own user,
each sending its requests to the two processes in turn, go through a whole session:

1. write a key while anonymous, and read it back (a session exists before login);
2. log in: the session key changes, and the pre-login cookie no longer loads anything;
3. write three keys of their own *at the same time*, through both processes;
4. read everything back: exactly their own keys and user — a lost write, or anybody
   else's key or user, fails the test;
5. log out: the client is told to drop the cookie, and the old cookie is anonymous.

Cookies are handled by hand (httpx's cookie jar is turned off), so that no client
can ever send another's cookie by accident.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from reqsignals.auth import SQLiteBackend
from tests.helpers import canary
from tests.helpers.support import Server, run_all, run_server
from tests.live_apps.reliability_sessions import HASHER

pytestmark = [pytest.mark.server, pytest.mark.load, pytest.mark.timeout(180)]

CLIENTS = 500
IN_FLIGHT = 100
PROCESSES = 2
# Idle connections kept for the whole run: with uvicorn's 5 s default, a connection the
# server closes as idle just as a busy client reuses it fails that request (the client
# reads no response), which says nothing about sessions.
UVICORN = [
    "python", "-m", "uvicorn", "--factory", "tests.live_apps.reliability_sessions:make_app",
    "--host", "127.0.0.1", "--port", "{port}", "--no-access-log", "--log-level", "warning",
    "--timeout-keep-alive", "300",
]  # fmt: skip


def username(i: int) -> str:
    return f"user{i:03d}"


def password(i: int) -> str:
    return canary.secret(f"password-{i}")


@pytest.fixture(scope="module")
def users_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.db"
    users = SQLiteBackend(path, hasher=HASHER)
    for i in range(CLIENTS):
        users.create_user(username(i), password(i))
    users.close()
    return path


@pytest.fixture(params=["redis", "sqlite"])
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def servers(
    request: pytest.FixtureRequest, store: str, users_db: Path, tmp_path: Path
) -> Iterator[list[Server]]:
    env = {"REL_USERS": str(users_db)}
    if store == "sqlite":
        env["REL_STORE"] = f"sqlite:{tmp_path / 'sessions.db'}"
    else:
        redis: Server = request.getfixturevalue("redis_server")
        env["REL_STORE"] = f"redis:{redis.url}"
        env["REL_PREFIX"] = f"rel:{uuid.uuid4().hex}:"
    with ExitStack() as stack:
        yield [stack.enter_context(run_server(UVICORN, env=env)) for _ in range(PROCESSES)]


# -- one client --------------------------------------------------------------------


def session_cookie(response: httpx.Response) -> str | None:
    """The session cookie the response sets: its value, "" when it deletes it, or None."""
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == "session":
            value = rest.split(";", 1)[0]
            return "" if "Max-Age=0" in rest else value
    return None


class Client:
    """One simulated browser: its user, its cookie, and the two servers in turn."""

    def __init__(self, i: int, urls: list[str]) -> None:
        self.i = i
        self.http: httpx.AsyncClient | None = None  # lent for the run
        self.urls = urls
        self.turn = i  # clients start on different processes
        self.pids: set[int] = set()

    async def call(self, method: str, path: str, cookie: str | None, **kw: Any) -> httpx.Response:
        url = self.urls[self.turn % len(self.urls)] + path
        self.turn += 1
        headers = {"cookie": f"session={cookie}"} if cookie else {}
        assert self.http is not None
        response = await self.http.request(method, url, headers=headers, **kw)
        assert response.status_code == 200, (self.i, path, response.status_code, response.text)
        return response

    async def read(self, cookie: str | None) -> dict[str, Any]:
        answer: dict[str, Any] = (await self.call("GET", "/read", cookie)).json()
        self.pids.add(answer.pop("pid"))
        # Whatever else is checked: never anybody else's user or data.
        assert answer["user"] in (None, username(self.i)), (self.i, answer)
        for key, value in answer["data"].items():
            assert str(value).startswith(f"{self.i}:"), (self.i, key, value)
        return answer

    async def run(self, http: httpx.AsyncClient) -> None:
        self.http = http
        i = self.i
        mine = f"{i}:"
        # 1. An anonymous session.
        c0 = session_cookie(await self.call("POST", "/write", None, json={"k": "pre", "v": mine}))
        assert c0, (i, "no session cookie for an anonymous write")
        before = await self.read(c0)
        assert before["user"] is None
        assert before["data"] == {"pre": mine}

        # 2. Login cycles the key; the pre-login cookie loads nothing any more.
        login = await self.call(
            "POST", "/login", c0, json={"username": username(i), "password": password(i)}
        )
        assert login.json() == {"user": username(i)}
        c1 = session_cookie(login)
        assert c1, (i, "login sent no cookie")
        assert c1 != c0, (i, "login did not send a new cookie")
        after_login = await self.read(c1)
        assert after_login["user"] == username(i)
        assert after_login["key"] not in (None, before["key"]), (i, "key not cycled")
        assert after_login["data"] == {"pre": mine}  # the data moved to the new key
        stale = await self.read(c0)
        assert stale == {"user": None, "data": {}, "key": None}, (i, "old key still loads")

        # 3. Three writes at once, through both processes.
        writes = [
            self.call("POST", "/write", c1, json={"k": f"k{n}", "v": f"{mine}{n}"})
            for n in range(3)
        ]
        for response in await run_all(writes, 60):
            assert session_cookie(response) != "", (i, "a write deleted the session")

        # 4. Nothing lost, nothing foreign.
        full = await self.read(c1)
        assert full["user"] == username(i)
        assert full["key"] == after_login["key"]
        assert full["data"] == {"pre": mine, **{f"k{n}": f"{mine}{n}" for n in range(3)}}, i

        # 5. Logout deletes the cookie and the session behind it.
        logout = await self.call("POST", "/logout", c1)
        assert session_cookie(logout) == "", (i, "logout did not delete the cookie")
        gone = await self.read(c1)
        assert gone == {"user": None, "data": {}, "key": None}, (i, "old cookie still works")


async def run_clients(urls: list[str]) -> tuple[list[Client], int]:
    peak = in_flight = 0
    # A jar that refuses every cookie: each client carries its own by hand.
    jar = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    # IN_FLIGHT httpx clients, each lent to one simulated client at a time (so at most
    # IN_FLIGHT run at once): one shared pool of that many connections would cost the
    # test process more CPU than both servers use.
    free: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
    async with AsyncExitStack() as stack:
        for _ in range(IN_FLIGHT):
            free.put_nowait(
                await stack.enter_async_context(httpx.AsyncClient(timeout=60, cookies=jar))
            )
        clients = [Client(i, urls) for i in range(CLIENTS)]

        async def one(client: Client) -> None:
            nonlocal peak, in_flight
            http_client = await free.get()
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                await client.run(http_client)
            finally:
                in_flight -= 1
                free.put_nowait(http_client)

        await run_all((one(c) for c in clients), 150)
    return clients, peak


def test_500_clients_log_in_write_read_and_log_out(
    store: str, servers: list[Server], figures: Callable[[str, dict[str, str]], None]
) -> None:
    began = time.perf_counter()
    clients, peak = asyncio.run(run_clients([s.url for s in servers]))
    elapsed = time.perf_counter() - began
    logs = [s.output() for s in servers]

    figures(
        "reqsignals sessions under concurrency (tests/reliability/test_sessions_concurrency.py)",
        {
            "store": store,
            "processes": str(PROCESSES),
            "clients": str(len(clients)),
            "in flight (peak)": str(peak),
            "requests": str(sum(c.turn - c.i for c in clients)),
            "seconds": f"{elapsed:.1f}",
            "req/s": f"{sum(c.turn - c.i for c in clients) / elapsed:.0f}",
        },
    )
    assert peak == IN_FLIGHT  # the clients really overlapped
    assert all(len(c.pids) == PROCESSES for c in clients)  # every one used both processes
    assert len({pid for c in clients for pid in c.pids}) == PROCESSES
    for log in logs:
        assert "Traceback" not in log, log[-3000:]
        assert canary.find(log) is None, "a password reached a server log"
    assert elapsed < 150
