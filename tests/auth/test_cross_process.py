"""Sessions shared by separate server processes over one SQLite file or one Redis."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.helpers import servers
from tests.helpers.support import run_server

UVICORN = servers.uvicorn("tests.live_apps.auth_xproc_app:make_asgi", factory=True)
WAITRESS = servers.waitress("tests.live_apps.auth_xproc_app:make_wsgi")
SERVERS = {"uvicorn": UVICORN, "waitress": WAITRESS}

pytestmark = [pytest.mark.server, pytest.mark.timeout(120)]


@pytest.fixture(params=["sqlite", "redis"])
def store_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    return servers.store_env(request.param, request, tmp_path, "xproc:{}:")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("uvicorn", "uvicorn", id="two-uvicorn"),
        pytest.param("uvicorn", "waitress", id="uvicorn-and-waitress"),
    ],
)
def test_session_written_through_one_process_is_read_through_the_other(
    store_env: dict[str, str], first: str, second: str
) -> None:
    with (
        run_server(SERVERS[first], env=store_env) as a,
        run_server(SERVERS[second], env=store_env) as b,
        httpx.Client(timeout=30) as client,
    ):
        written = client.post(f"{a.url}/set", params={"k": "user", "v": "42"})
        assert written.status_code == 200, a.output()
        cookie = client.cookies["session"]

        read = client.get(f"{b.url}/dump", headers={"cookie": f"session={cookie}"}).json()
        assert read["data"] == {"user": 42}
        writer_pid = client.get(f"{a.url}/dump").json()["pid"]
        assert read["pid"] != writer_pid

        # Concurrent requests through both processes, each setting its own key.
        def put(i: int) -> int:
            server = (a, b)[i % 2]
            response = httpx.post(
                f"{server.url}/set",
                params={"k": f"k{i}", "v": json.dumps(i)},
                headers={"cookie": f"session={cookie}"},
                timeout=30,
            )
            return response.status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(put, range(40))) == {200}

        final = client.get(f"{b.url}/dump", headers={"cookie": f"session={cookie}"}).json()
        assert final["data"] == {"user": 42, **{f"k{i}": i for i in range(40)}}

        # A flush through one process ends the session for the other.
        client.post(f"{b.url}/flush", headers={"cookie": f"session={cookie}"})
        after = client.get(f"{a.url}/dump", headers={"cookie": f"session={cookie}"})
        assert after.json()["data"] == {}
