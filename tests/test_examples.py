"""Every example runs: imported and driven with httpx, and as a real server subprocess.

The Django example configures Django for its process, and this test process's Django
is configured by tests/live_apps/django_project.py, so it runs only in subprocesses.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from examples.receivers import timing
from reqsignals import got_request_exception
from reqsignals.signals import ALL_SIGNALS
from tests.helpers.support import Server, run_server

PASSWORD = "correct horse battery staple"
WRONG = "Tr0ub4dor&3-not-it"
TIMING = "examples.receivers.timing"
AUDIT = "examples.receivers.audit"


# -- helpers ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_receivers_left_behind() -> Iterator[None]:
    """Examples connect receivers; none may outlive its test and slow other tests' apps."""
    before = [s.has_listeners() for s in ALL_SIGNALS]
    yield
    assert [s.has_listeners() for s in ALL_SIGNALS] == before


def bare_example(name: str) -> Iterator[ModuleType]:
    """Import a bare example afresh (it connects its receivers at import); disconnect them
    after the test."""
    sys.modules.pop(name, None)
    module = importlib.import_module(name)
    try:
        yield module
    finally:
        timing.disconnect(sender=module.application)
        got_request_exception.disconnect(module.log_exception, sender=module.application)


@pytest.fixture
def bare_wsgi() -> Iterator[ModuleType]:
    yield from bare_example("examples.bare_wsgi")


@pytest.fixture
def bare_asgi() -> Iterator[ModuleType]:
    yield from bare_example("examples.bare_asgi")


def timing_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[Any, ...]]:
    """(method, path, status) of each timing line logged so far."""
    lines = []
    for record in caplog.records:
        if record.name == TIMING:
            assert isinstance(record.args, tuple)
            lines.append(record.args[:3])
    return lines


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of a Prometheus exposition: {(name, sorted labels): value}."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def request_counts(text: str) -> dict[str, float]:
    """{status: requests} from http_requests_total."""
    return {
        dict(labels)["status"]: value
        for (name, labels), value in samples(text).items()
        if name == "http_requests_total"
    }


def latency_counts(text: str) -> dict[str, float]:
    """{status: observations} from the latency histogram's _count."""
    return {
        dict(labels)["status"]: value
        for (name, labels), value in samples(text).items()
        if name == "http_request_duration_seconds_count"
    }


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
    """Run *app*'s ASGI lifespan as a server does: startup on entry, shutdown on exit.

    Yields the lifespan state, for :func:`asgi_client` to hand to each request.
    """
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    state: dict[str, Any] = {}
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": state}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    assert (await asyncio.wait_for(outbox.get(), 5))["type"] == "lifespan.startup.complete"
    try:
        yield state
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await asyncio.wait_for(outbox.get(), 5))["type"] == "lifespan.shutdown.complete"
        await asyncio.wait_for(task, 5)


def asgi_client(
    app: Any,
    client: tuple[str, int] = ("127.0.0.1", 50000),
    state: dict[str, Any] | None = None,
) -> httpx.AsyncClient:
    """An httpx client calling *app* in-process from *client*'s address.

    A server copies the lifespan state into each request's scope; httpx does not, so
    that part of a server's job is done here.
    """
    if state is not None:
        inner = app

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await inner({**scope, "state": dict(state)}, receive, send)

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=client)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def wait_for_output(server: Server, *needles: str, timeout: float = 10) -> str:
    """The server's log once it contains every needle (log lines may lag the response)."""
    return wait_until(server, lambda out: all(n in out for n in needles), timeout)


def wait_until(server: Server, done: Callable[[str], bool], timeout: float = 10) -> str:
    """The server's log once *done* holds for it, or when *timeout* seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        out = server.output()
        if done(out) or time.monotonic() > deadline:
            return out
        time.sleep(0.05)


# -- bare WSGI -------------------------------------------------------------------------


def test_bare_wsgi_serves_and_its_receivers_log_each_request(
    bare_wsgi: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    transport = httpx.WSGITransport(app=bare_wsgi.app)
    with httpx.Client(transport=transport, base_url="http://testserver") as client:
        assert client.get("/").text == "Hello from a bare WSGI app\n"
        assert client.get("/stream").text == "chunk 0\nchunk 1\nchunk 2\n"
        assert client.get("/nope").status_code == 404
        with pytest.raises(RuntimeError, match="boom"):  # re-raised to the server
            client.get("/boom")

    assert timing_lines(caplog) == [
        ("GET", "/", 200),
        ("GET", "/stream", 200),
        ("GET", "/nope", 404),
        ("GET", "/boom", 500),  # raised before starting a response: the server sent 500
    ]
    errors = [r.getMessage() for r in caplog.records if r.name == "examples.bare_wsgi"]
    assert errors == ["GET /boom failed: RuntimeError('boom')"]


@pytest.mark.server
@pytest.mark.parametrize(
    ("argv", "kind"),
    [
        pytest.param(
            [
                "python",
                "-m",
                "waitress",
                "--host=127.0.0.1",
                "--port={port}",
                "examples.bare_wsgi:app",
            ],
            "WSGI",
            id="wsgi-under-waitress",
        ),
        pytest.param(
            ["python", "-m", "uvicorn", "--port", "{port}", "examples.bare_asgi:app"],
            "ASGI",
            id="asgi-under-uvicorn",
        ),
    ],
)
def test_bare_example_under_a_real_server(argv: list[str], kind: str) -> None:
    module = f"examples.bare_{kind.lower()}"
    with run_server(argv) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/").text == f"Hello from a bare {kind} app\n"
            assert client.get("/stream").text == "chunk 0\nchunk 1\nchunk 2\n"
            assert client.get("/boom").status_code == 500
        needles = [
            f"{TIMING} GET / 200 ",
            f"{TIMING} GET /stream 200 ",
            f"{TIMING} GET /boom 500 ",
            f"{module} GET /boom failed: RuntimeError('boom')",
        ]
        out = wait_for_output(server, *needles)
    for needle in needles:
        assert needle in out, out
    # The ASGI example answers the lifespan protocol, so uvicorn has nothing to complain of.
    assert "lifespan" not in out.lower()


# -- bare ASGI -------------------------------------------------------------------------


async def websocket_echo(app: Any, texts: list[str]) -> list[str]:
    """Talk to *app*'s websocket at /echo the way a server would; return its replies."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    replies: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        replies.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "path": "/echo",
        "raw_path": b"/echo",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "scheme": "ws",
        "subprotocols": [],
    }
    messages: list[dict[str, Any]] = [
        {"type": "websocket.connect"},
        *({"type": "websocket.receive", "text": t} for t in texts),
        {"type": "websocket.disconnect", "code": 1000},
    ]
    for message in messages:
        inbox.put_nowait(message)
    await asyncio.wait_for(app(scope, inbox.get, send), 5)
    assert replies[0] == {"type": "websocket.accept"}
    return [m["text"] for m in replies[1:]]


def test_bare_asgi_serves_and_its_receivers_log_each_request(
    bare_asgi: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    async def go() -> None:
        async with lifespan(bare_asgi.app), asgi_client(bare_asgi.app) as client:
            assert (await client.get("/")).text == "Hello from a bare ASGI app\n"
            assert (await client.get("/stream")).text == "chunk 0\nchunk 1\nchunk 2\n"
            assert (await client.get("/nope")).status_code == 404
            assert (await client.get("/boom")).status_code == 500
            assert await websocket_echo(bare_asgi.app, ["hi", "there"]) == ["hi", "there"]

    asyncio.run(go())
    assert timing_lines(caplog) == [
        ("GET", "/", 200),
        ("GET", "/stream", 200),
        ("GET", "/nope", 404),
        ("GET", "/boom", 500),
        ("WS", "/echo", 101),
    ]
    errors = [r.getMessage() for r in caplog.records if r.name == "examples.bare_asgi"]
    assert errors == ["GET /boom failed: RuntimeError('boom')"]


# -- Flask -----------------------------------------------------------------------------


def test_flask_factory_apps_count_their_own_requests(caplog: pytest.LogCaptureFixture) -> None:
    from examples.flask_app import create_app

    caplog.set_level(logging.INFO)
    first, second = create_app(), create_app()
    clients = [
        httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://testserver")
        for app in (first, second)
    ]
    try:
        with clients[0] as one, clients[1] as two:
            for _ in range(3):
                assert one.get("/").text == "Hello from Flask\n"
            assert one.get("/hello/ada").text == "Hello, ada\n"
            assert one.get("/nope").status_code == 404
            assert two.get("/").status_code == 200
            metrics_one, metrics_two = one.get("/metrics"), two.get("/metrics")
    finally:
        for app in (first, second):  # the apps may live on until a garbage collection
            timing.disconnect(sender=app)
            app.extensions["request_metrics"].disconnect(sender=app)

    assert metrics_one.headers["content-type"].startswith("text/plain")
    assert request_counts(metrics_one.text) == {"200": 4, "404": 1}
    assert latency_counts(metrics_one.text) == {"200": 4, "404": 1}
    assert request_counts(metrics_two.text) == {"200": 1}
    assert timing_lines(caplog) == [
        *[("GET", "/", 200)] * 3,
        ("GET", "/hello/ada", 200),
        ("GET", "/nope", 404),
        ("GET", "/", 200),
        ("GET", "/metrics", 200),
        ("GET", "/metrics", 200),
    ]


# -- FastAPI ---------------------------------------------------------------------------


def test_fastapi_receivers_live_as_long_as_the_lifespan(caplog: pytest.LogCaptureFixture) -> None:
    from examples.fastapi_app import app

    caplog.set_level(logging.INFO)

    async def go() -> tuple[str, int]:
        async with lifespan(app) as state, asgi_client(app, state=state) as client:
            for n in range(3):
                assert (await client.get(f"/items/{n}")).json() == {"item_id": n}
            assert (await client.get("/items/x")).status_code == 422
            assert (await client.get("/boom")).status_code == 500
            metrics = (await client.get("/metrics")).text
        async with asgi_client(app) as client:  # after shutdown: nobody listens
            status = (await client.get("/items/9")).status_code
        return metrics, status

    metrics, status_after_shutdown = asyncio.run(go())
    # /boom raised before a response started: FastAPI re-raised it, the middleware saw it.
    assert request_counts(metrics) == {"200": 3, "422": 1, "500": 1}
    assert latency_counts(metrics) == {"200": 3, "422": 1, "500": 1}
    assert status_after_shutdown == 200
    assert timing_lines(caplog) == [
        ("GET", "/items/0", 200),
        ("GET", "/items/1", 200),
        ("GET", "/items/2", 200),
        ("GET", "/items/x", 422),
        ("GET", "/boom", 500),
        ("GET", "/metrics", 200),
    ]
    errors = [r.getMessage() for r in caplog.records if r.name == "examples.fastapi_app"]
    assert errors == ["GET /boom failed: RuntimeError('boom')"]


# -- Starlette: session login, audit log, lock-out -------------------------------------


@pytest.fixture
def starlette_example() -> Any:
    """The Starlette example's app, its lock-out's counts (kept in memory) forgotten."""
    from examples.starlette_app import app, auth

    assert auth.lockout is not None
    auth.lockout.reset()
    return app


async def log_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/login", data={"username": username, "password": password})


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == AUDIT]


def test_starlette_login_logout_and_failure_are_audited_without_passwords(
    caplog: pytest.LogCaptureFixture, starlette_example: Any
) -> None:
    app = starlette_example
    caplog.set_level(logging.INFO)

    async def go() -> list[str]:
        pages = []
        async with (
            lifespan(app) as state,
            asgi_client(app, ("203.0.113.7", 4711), state) as client,
        ):
            pages.append((await client.get("/")).text)
            assert (await client.get("/login")).status_code == 200
            failed = await log_in(client, "ada", WRONG)
            assert failed.status_code == 401
            assert "Invalid username or password." in failed.text
            ok = await log_in(client, "ada", PASSWORD)
            assert (ok.status_code, ok.headers["location"]) == (303, "/")
            pages.append((await client.get("/")).text)
            out = await client.post("/logout")
            assert (out.status_code, out.headers["location"]) == (303, "/")
            pages.append((await client.get("/")).text)
        return pages

    before, logged_in, after = asyncio.run(go())
    assert "Hello, anonymous." in before
    assert "Hello, ada." in logged_in
    assert "Hello, anonymous." in after
    assert audit_lines(caplog) == [
        'login failed credentials={"password": "********************", "username": "ada"} '
        "ip=203.0.113.7",
        "login user='ada' id=1 ip=203.0.113.7",
        "logout user='ada' id=1 ip=203.0.113.7",
    ]
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert WRONG not in everything
    assert PASSWORD not in everything
    assert ("POST", "/login", 303) in timing_lines(caplog)


@pytest.mark.parametrize(
    ("attempts", "then", "expected"),
    [
        pytest.param(
            # Five failures for one account, from two addresses: the account is locked,
            # even for the right password from a third address.
            [("10.0.0.1", "ada")] * 3 + [("10.0.0.2", "ada")] * 2,
            ("10.0.0.3", "ada", PASSWORD),
            (429, "Too many failed logins for this account. Try again in 900 seconds."),
            id="per-username",
        ),
        pytest.param(
            # Five failures from one address, for five accounts: that address is locked.
            [("10.0.0.1", f"user{n}") for n in range(5)],
            ("10.0.0.1", "ada", PASSWORD),
            (429, "Too many failed logins for your address. Try again in 900 seconds."),
            id="per-address",
        ),
        pytest.param(
            [("10.0.0.1", f"user{n}") for n in range(5)],
            ("10.0.0.2", "ada", PASSWORD),
            (303, ""),
            id="other-address-unaffected",
        ),
        pytest.param(
            [("10.0.0.1", "ada")] * 4,
            ("10.0.0.2", "ada", PASSWORD),
            (303, ""),
            id="below-the-limit",
        ),
    ],
)
def test_starlette_lockout(
    attempts: list[tuple[str, str]],
    then: tuple[str, str, str],
    expected: tuple[int, str],
    starlette_example: Any,
) -> None:
    app = starlette_example

    async def go() -> httpx.Response:
        async with lifespan(app) as state:
            for ip, username in attempts:
                async with asgi_client(app, (ip, 1234), state) as client:
                    assert (await log_in(client, username, WRONG)).status_code == 401
            ip, username, password = then
            async with asgi_client(app, (ip, 1234), state) as client:
                return await log_in(client, username, password)

    response = asyncio.run(go())
    status, message = expected
    assert response.status_code == status
    if status == 429:
        assert response.headers["retry-after"] == "900"
        assert message in response.text


def test_starlette_alerts_once_when_a_lock_engages(
    starlette_example: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = starlette_example
    caplog.set_level(logging.WARNING, logger="examples.receivers.lockout")

    async def go() -> list[int]:
        async with lifespan(app) as state, asgi_client(app, ("10.0.0.9", 1), state) as client:
            return [(await log_in(client, "ada", WRONG)).status_code for _ in range(7)]

    assert asyncio.run(go()) == [401] * 5 + [429] * 2
    alerts = [r.getMessage() for r in caplog.records if r.name == "examples.receivers.lockout"]
    assert alerts == [
        "locked out username='ada' for 900s ip=10.0.0.9",
        "locked out client=10.0.0.9 for 900s ip=10.0.0.9 (last tried username='ada')",
    ]


def test_starlette_success_forgives_the_accounts_failures(starlette_example: Any) -> None:
    app = starlette_example

    async def go() -> list[int]:
        statuses = []
        async with lifespan(app) as state:
            async with asgi_client(app, ("10.0.0.1", 1), state) as client:
                statuses += [(await log_in(client, "ada", WRONG)).status_code for _ in range(4)]
                statuses.append((await log_in(client, "ada", PASSWORD)).status_code)
            # Without the reset, ada would be at 4 + 4 failures: locked at the fifth.
            async with asgi_client(app, ("10.0.0.2", 1), state) as client:
                statuses += [(await log_in(client, "ada", WRONG)).status_code for _ in range(4)]
                statuses.append((await log_in(client, "ada", PASSWORD)).status_code)
        return statuses

    assert asyncio.run(go()) == [401] * 4 + [303] + [401] * 4 + [303]


@pytest.mark.server
def test_starlette_under_uvicorn_audits_the_real_client_address() -> None:
    argv = ["python", "-m", "uvicorn", "--port", "{port}", "examples.starlette_app:app"]
    with run_server(argv) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.post("/login", data={"username": "ada", "password": WRONG}).status_code
            ok = client.post(
                "/login", data={"username": "ada", "password": PASSWORD}, follow_redirects=True
            )
            assert "Hello, ada." in ok.text
        needles = [
            f'{AUDIT} login failed credentials={{"password": "********************", '
            '"username": "ada"} ip=127.0.0.1',
            f"{AUDIT} login user='ada' id=1 ip=127.0.0.1",
            f"{TIMING} POST /login 303 ",
        ]
        out = wait_for_output(server, *needles)
    for needle in needles:
        assert needle in out, out
    assert WRONG not in out
    assert PASSWORD not in out


# -- Django (subprocesses only) --------------------------------------------------------

DJANGO_SERVERS = [
    pytest.param(
        ["python", "-m", "gunicorn", "--bind", "127.0.0.1:{port}", "--workers", "1"],
        "examples.django_app:wsgi_application",
        id="wsgi-gunicorn",
    ),
    pytest.param(
        ["python", "-m", "uvicorn", "--port", "{port}"],
        "examples.django_app:asgi_application",
        id="asgi-uvicorn",
    ),
]


@pytest.mark.server
@pytest.mark.parametrize(("argv", "target"), DJANGO_SERVERS)
def test_django_example_receivers_connected_in_ready(argv: list[str], target: str) -> None:
    timing_re = re.compile(rf"{TIMING} (GET \S+ \S+) ")
    with run_server([*argv, target]) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for _ in range(3):
                assert client.get("/").text == "Hello from Django\n"
            assert client.get("/nope").status_code == 404
            # request_finished comes once the app returns, which may be after the client
            # has its response: wait for every request's receivers to have run.
            wait_until(server, lambda out: len(timing_re.findall(out)) == 4)
            metrics = client.get("/metrics")
        out = wait_until(server, lambda out: len(timing_re.findall(out)) == 5)

    # The metrics object exists only because ExampleConfig.ready() ran in the server.
    assert request_counts(metrics.text) == {"200": 3, "404": 1}
    assert latency_counts(metrics.text) == {"200": 3, "404": 1}
    lines = timing_re.findall(out)
    assert sorted(lines[:4]) == ["GET / 200"] * 3 + ["GET /nope 404"]
    assert lines[4:] == ["GET /metrics 200"]
