"""SignalsMiddleware under real servers: gunicorn and waitress subprocesses, httpx clients.

The served apps are ``tests.live_apps.wsgi_apps:served_<name>``: receivers connected in the
server process count every signal, and ``GET /__stats`` (outside the middleware, so
never counted itself) reports the counts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.support import Server, run_server
from tests.live_apps import wsgi_apps

pytestmark = pytest.mark.server

SERVERS = ("gunicorn", "waitress")


def command(server: str, name: str, *extra: str) -> list[str]:
    target = f"tests.live_apps.wsgi_apps:served_{name}"
    if server == "gunicorn":
        # One sync worker: every request is counted in the one process we ask.
        return ["python", "-m", "gunicorn", "-w", "1", "-b", "127.0.0.1:{port}", *extra, target]
    return ["python", "-m", "waitress", "--listen=127.0.0.1:{port}", *extra, target]


@contextmanager
def serving(server: str, name: str, *extra: str) -> Iterator[Server]:
    with run_server(command(server, name, *extra)) as running:
        yield running


def stats(server: Server) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/__stats", timeout=5)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def settled(
    server: Server, done: Callable[[dict[str, Any]], bool], timeout: float = 15
) -> dict[str, Any]:
    """Poll the stats until *done* holds (close() may come after the client has its
    response), then once more a little later, to see that nothing else arrives."""
    deadline = time.monotonic() + timeout
    while True:
        got = stats(server)
        if done(got):
            time.sleep(0.3)
            return stats(server)
        if time.monotonic() > deadline:
            raise AssertionError(f"stats did not settle in {timeout}s: {got}\n{server.output()}")
        time.sleep(0.05)


def finished(n: int) -> Callable[[dict[str, Any]], bool]:
    return lambda s: s["counts"].get("request_finished", 0) >= n


SENDERS = {"flask": "Flask", "django": "WSGIHandler", "werkzeug": "function", "bare": "function"}


@pytest.mark.parametrize("name", wsgi_apps.NAMES)
@pytest.mark.parametrize("server", SERVERS)
def test_framework_apps_under_a_real_server(server: str, name: str) -> None:
    with serving(server, name) as running, httpx.Client(base_url=running.url) as client:
        hello = client.get("/hello")
        missing = client.get("/missing")
        streamed = client.get("/stream", params={"chunks": "3"})
        assert (hello.status_code, hello.text) == (200, f"Hello from {name}")
        assert missing.status_code == 404
        assert streamed.content == wsgi_apps.CHUNK * 3
        got = settled(running, finished(3))
    assert got["counts"] == {"request_started": 3, "request_finished": 3}
    assert got["statuses"] == {"200": 2, "404": 1}
    assert got["same_environ"] == 3
    assert got["senders"] == [SENDERS[name]]


@pytest.mark.parametrize("name", ["bare", "flask"])
@pytest.mark.parametrize("server", SERVERS)
def test_client_disconnect_mid_stream_finishes_once(server: str, name: str) -> None:
    with serving(server, name) as running:
        # 2,000 chunks of 64 KiB, 5 ms apart: far longer than the client stays.
        with httpx.stream("GET", f"{running.url}/stream?chunks=2000", timeout=10) as response:
            assert response.status_code == 200
            received = 0
            for chunk in response.iter_raw():
                received += len(chunk)
                if received >= 4 * len(wsgi_apps.CHUNK):
                    break
        # Leaving the block closed the connection mid-body.
        got = settled(running, finished(1))
    assert got["counts"] == {"request_started": 1, "request_finished": 1}
    assert got["statuses"] == {"200": 1}


@pytest.mark.parametrize("server", SERVERS)
def test_a_body_sent_through_write_reaches_the_client(server: str) -> None:
    with serving(server, "bare") as running:
        response = httpx.get(f"{running.url}/write", timeout=10)
        got = settled(running, finished(1))
    assert (response.status_code, response.content) == (200, b"written, not returned")
    assert got["counts"] == {"request_started": 1, "request_finished": 1}
    assert got["statuses"] == {"200": 1}


@pytest.mark.parametrize("server", SERVERS)
def test_an_app_failing_before_its_headers_went_out_is_a_500(server: str) -> None:
    # The app called start_response("200 OK") in two of them, but no byte of the
    # response had gone out: the client gets the server's 500, and so do the receivers.
    paths = ["/fail-in-call", "/fail-in-body", "/fail-before-start"]
    with serving(server, "bare") as running, httpx.Client(base_url=running.url) as client:
        codes = [client.get(path).status_code for path in paths]
        got = settled(running, finished(len(paths)))
    assert codes == [500] * len(paths)
    assert got["counts"] == {
        "request_started": 3,
        "got_request_exception": 3,
        "request_finished": 3,
    }
    assert got["statuses"] == {"500": 3}


@pytest.mark.parametrize(
    ("extra", "sendfile_calls"),
    [pytest.param((), 1, id="sendfile"), pytest.param(("--no-sendfile",), 0, id="no-sendfile")],
)
def test_file_wrapper_keeps_gunicorn_sendfile(extra: tuple[str, ...], sendfile_calls: int) -> None:
    # The served module counts socket.sendfile calls in the server process; with
    # --no-sendfile gunicorn iterates the wrapper instead, so the count shows which
    # path gunicorn took for the object the middleware handed back.
    with serving("gunicorn", "bare", *extra) as running:
        response = httpx.get(f"{running.url}/file", timeout=10)
        got = settled(running, finished(1))
    assert response.status_code == 200
    assert response.content == Path(wsgi_apps.__file__).read_bytes()
    assert got["sendfile_calls"] == sendfile_calls
    assert got["counts"] == {"request_started": 1, "request_finished": 1}
    assert got["statuses"] == {"200": 1}


def test_file_wrapper_finishes_once_under_waitress() -> None:
    with serving("waitress", "bare") as running:
        for _ in range(3):
            response = httpx.get(f"{running.url}/file", timeout=10)
            assert response.content == Path(wsgi_apps.__file__).read_bytes()
        got = settled(running, finished(3))
    assert got["counts"] == {"request_started": 3, "request_finished": 3}


def test_list_body_keeps_its_content_length_under_waitress() -> None:
    # waitress sets Content-Length itself for a one-item list without one: the
    # middleware passes len() on, so the headers do not change.
    with serving("waitress", "bare") as running:
        response = httpx.get(f"{running.url}/list", timeout=10)
    assert response.content == b"twelve bytes"
    assert response.headers["content-length"] == "12"
    assert "transfer-encoding" not in response.headers


@pytest.mark.load
def test_2000_requests_from_16_clients_against_waitress() -> None:
    clients, per_client = 16, 125
    errors: list[BaseException] = []

    def client_thread(url: str) -> None:
        try:
            with httpx.Client(base_url=url, timeout=10) as client:
                for _ in range(per_client):
                    response = client.get("/hello")
                    assert response.status_code == 200
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    with serving("waitress", "bare", "--threads=8") as running:
        threads = [
            threading.Thread(target=client_thread, args=(running.url,)) for _ in range(clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        got = settled(running, finished(clients * per_client), timeout=20)
    total = clients * per_client
    assert got["counts"] == {"request_started": total, "request_finished": total}
    assert got["statuses"] == {"200": total}
    assert got["same_environ"] == total
