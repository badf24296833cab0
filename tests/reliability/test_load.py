"""Fault-injection load against real servers, counted from inside the server.

Each of uvicorn, hypercorn (the ASGI app), gunicorn with gthread workers and waitress
(the WSGI app) gets 2,500 requests — 10,000 in all — from 16 concurrent httpx clients
on 127.0.0.1, while :mod:`tests.reliability.plan` injects, by request id: clients that
leave mid-stream (10 %), app exceptions before and after the response started (5 %),
sync and async receivers that raise (5 % of the sends), and a thread of the server
connecting and disconnecting receivers all along. The served app
(:mod:`tests.live_apps.reliability_served`) keeps the books; this test reads them and asserts:

* every request the clients sent reached the middleware and the app exactly once, and
  got exactly one ``request_started`` and one ``request_finished`` (a request "accepted
  by the server" is one that reached the middleware: clients leave only after the first
  body chunk, so the server had called the app for every one of them);
* ``got_request_exception`` was sent exactly for the injected app exceptions;
* every receiver failure was logged, and no request was hurt by one;
* every body that was not faulted arrived intact, byte for byte;
* once the clients are gone, no file descriptor, thread or asyncio task is left over
  beyond the baseline taken after warm-up (``TOLERANCES``), and memory is flat over
  the second half of the run: from its start to the end, the memory tracemalloc sees
  (tracing since the baseline, so its own tables have grown in the first half) grew
  by less than ``TRACED_BOUND_KIB`` and RSS by less than ``RSS_BOUND_KIB``.

The figures are printed as a table at the end of the run (see conftest.py).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.helpers.support import Server, run_all, run_server

from . import plan

pytestmark = [pytest.mark.server, pytest.mark.load, pytest.mark.timeout(150)]

REQUESTS = 2_500  # per server; four servers: 10,000
CLIENTS = 16
WARM_UP = 500  # the baseline is taken after these
FIRST_HALF_END = WARM_UP + (REQUESTS - WARM_UP) // 2

#: What a server may hold beyond the baseline once the clients are gone: the probe's
#: own connection is in both figures, so these cover the servers' internals only.
TOLERANCES = {"fds": 2, "threads": 1, "tasks": 2}
#: Memory growth allowed from the second half's start to the end. tracemalloc sees
#: every Python allocation, so its bound is tight; RSS also moves with the C
#: allocator (glibc keeps an arena per thread), so its bound is a coarse backstop.
TRACED_BOUND_KIB = 1024
RSS_BOUND_KIB = 8 * 1024

SERVERS = {
    "uvicorn": [
        "python", "-m", "uvicorn", "tests.live_apps.reliability_served:asgi_app",
        "--host", "127.0.0.1", "--port", "{port}", "--no-access-log", "--log-level", "warning",
        "--lifespan", "on",
    ],
    "hypercorn": [
        "python", "-m", "hypercorn", "tests.live_apps.reliability_served:asgi_app",
        "--bind", "127.0.0.1:{port}", "--keep-alive", "1",
    ],
    "gunicorn": [
        "python", "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "8",
        "-b", "127.0.0.1:{port}", "tests.live_apps.reliability_served:wsgi_app",
    ],
    "waitress": [
        "python", "-m", "waitress", "--listen=127.0.0.1:{port}", "--threads=8",
        "tests.live_apps.reliability_served:wsgi_app",
    ],
}  # fmt: skip
ASGI = {"uvicorn", "hypercorn"}


# -- the clients ---------------------------------------------------------------------


async def one_request(client: httpx.AsyncClient, i: int) -> str:
    """Run request *i* as the plan says; return what the client saw."""
    headers = {plan.ID_HEADER: str(i)}
    what = plan.kind(i)
    if what == plan.DISCONNECT:
        async with client.stream("GET", "/r", headers=headers) as response:
            if response.status_code != 200:
                return f"status {response.status_code}"
            async for chunk in response.aiter_raw():
                if chunk:
                    break
        # Leaving the block closed the connection in the middle of the body.
        return "left mid-stream"
    if what == plan.RAISE_AFTER:
        try:
            response = await client.get("/r", headers=headers)
        except httpx.TransportError:
            return "cut off"
        return f"status {response.status_code}, {len(response.content)} bytes"
    response = await client.get("/r", headers=headers)
    if what == plan.RAISE_BEFORE:
        return "500" if response.status_code == 500 else f"status {response.status_code}"
    if response.status_code == 200 and response.content == plan.body(i):
        return "intact"
    return f"CORRUPT: status {response.status_code}, {len(response.content)} bytes"


async def drive(url: str, ids: range, outcomes: dict[int, str]) -> None:
    """Send the requests *ids* from CLIENTS concurrent clients sharing one pool."""
    pending = iter(ids)
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def worker() -> None:
            for i in pending:
                outcomes[i] = await one_request(client, i)

        await run_all((worker() for _ in range(CLIENTS)), 100)


def control(server: Server, op: str, **params: Any) -> dict[str, Any]:
    # A fresh connection each time, closed at once: the probe sees the same
    # connections (just its own) at every measurement.
    response = httpx.get(f"{server.url}/_rel/{op}", params=params, timeout=30)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def poll(
    fetch: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
    *,
    pause: float = 0.1,
    timeout: float = 10,
) -> Any:
    """fetch() until done(result) or *timeout* seconds have passed; the last result."""
    deadline = time.monotonic() + timeout
    while True:
        got = fetch()
        if done(got) or time.monotonic() > deadline:
            return got
        time.sleep(pause)


RESOURCES = ("fds", "threads", "tasks")


def settled_probe(server: Server, within_tolerance_of: dict[str, Any] | None = None) -> Any:
    """A probe once the resources stopped moving: the same figures twice, 1 s apart
    (and, if given, within the tolerances of a baseline), or the last after 15 s.

    Servers drop closed connections a little later (hypercorn after its keep-alive
    timeout, 1 s here), so a probe taken at once would count connections just closed.
    """
    last: dict[str, Any] = {}

    def done(p: dict[str, Any]) -> bool:
        nonlocal last
        same = all(p[k] == last.get(k) for k in RESOURCES)
        last = p
        return same and (within_tolerance_of is None or leftovers(within_tolerance_of, p) == {})

    return poll(lambda: control(server, "probe"), done, pause=1, timeout=15)


def leftovers(base: dict[str, Any], now: dict[str, Any]) -> dict[str, int]:
    """The resources *now* holds beyond *base* and its tolerance."""
    over = {}
    for name, tolerance in TOLERANCES.items():
        if base[name] is not None and now[name] - base[name] > tolerance:
            over[name] = now[name] - base[name]
    return over


# -- the test ------------------------------------------------------------------------


def expected_status(i: int) -> int:
    # An app that raised before it started a response: the client was sent a 500.
    return 500 if plan.kind(i) == plan.RAISE_BEFORE else 200


def expected_outcome(i: int) -> set[str]:
    what = plan.kind(i)
    if what == plan.DISCONNECT:
        return {"left mid-stream"}
    if what == plan.RAISE_BEFORE:
        return {"500"}
    if what == plan.RAISE_AFTER:
        return {"cut off", "status 200, 7 bytes"}  # how a server ends it is its own call
    return {"intact"}


@pytest.mark.parametrize("server_name", list(SERVERS))
def test_fault_injection_load(
    server_name: str, figures: Callable[[str, dict[str, str]], None]
) -> None:
    outcomes: dict[int, str] = {}
    with run_server(SERVERS[server_name]) as server:
        began = time.perf_counter()
        asyncio.run(drive(server.url, range(WARM_UP), outcomes))
        base = settled_probe(server)
        control(server, "trace_start")
        control(server, "churn_start")
        asyncio.run(drive(server.url, range(WARM_UP, FIRST_HALF_END), outcomes))
        mid = control(server, "trace_mark")
        asyncio.run(drive(server.url, range(FIRST_HALF_END, REQUESTS), outcomes))
        elapsed = time.perf_counter() - began
        churn = control(server, "churn_stop")
        # WSGI servers may call close() (so request_finished) after the client has
        # its response: wait until every request is finished, or 10 s.
        counts = poll(
            lambda: control(server, "counts", n=REQUESTS),
            lambda c: sum(c["finished"]) >= REQUESTS,
        )

        after = settled_probe(server, within_tolerance_of=base)
        end = control(server, "trace_stop")
        log = server.output()

    ids = range(REQUESTS)
    seen = Counter(outcomes.values())
    faults = [i for i in ids if plan.kind(i) in (plan.RAISE_BEFORE, plan.RAISE_AFTER)]
    receiver_faults = [i for i in ids if plan.receiver_fault(i)]
    ok = [i for i in ids if plan.kind(i) == plan.OK]
    rss_growth = end["rss_kib"] - mid["rss_kib"]
    traced_kib = (end["traced_bytes"] - mid["traced_bytes"]) / 1024
    figures(
        "reqsignals fault-injection load (tests/reliability/test_load.py)",
        {
            "server": server_name,
            "requests": str(len(outcomes)),
            "accepted": str(sum(counts["entered"])),
            "started": str(sum(counts["started"])),
            "finished": str(sum(counts["finished"])),
            "exceptions (injected)": f"{sum(counts['exceptions'])} ({len(faults)})",
            "receiver errors logged (injected)": (
                f"{counts['receiver_errors']} ({2 * len(receiver_faults)})"
            ),
            "left mid-stream": str(seen["left mid-stream"]),
            "intact bodies": f"{seen['intact']}/{len(ok)}",
            "fds base→end": f"{base['fds']}→{after['fds']}",
            "threads base→end": f"{base['threads']}→{after['threads']}",
            "tasks base→end": (
                "—" if base["tasks"] is None else f"{base['tasks']}→{after['tasks']}"
            ),
            "RSS Δ 2nd half": f"{rss_growth:+d} KiB",
            "traced Δ 2nd half": f"{traced_kib:+.0f} KiB",
            "churn rounds": str(churn["rounds"]),
            "req/s": f"{len(outcomes) / elapsed:.0f}",
        },
    )

    # What the clients saw.
    assert len(outcomes) == REQUESTS
    wrong = {i: o for i, o in outcomes.items() if o not in expected_outcome(i)}
    assert not wrong, f"{len(wrong)} requests went wrong, e.g. {list(wrong.items())[:5]}"

    # Exactly once, per request, from inside the server.
    for name in ("entered", "app_calls", "started", "finished"):
        off = [i for i in ids if counts[name][i] != 1]
        assert not off, f"{name} != 1 for {len(off)} requests, e.g. {off[:10]}\n{log[-3000:]}"
    reported = [i for i in ids if counts["exceptions"][i]]
    assert reported == faults
    assert all(counts["exceptions"][i] == 1 for i in faults)
    assert counts["unexpected"] == []
    statuses = [i for i in ids if counts["finished_status"][i] != expected_status(i)]
    assert not statuses, [(i, counts["finished_status"][i]) for i in statuses[:10]]

    # Receivers that raise: each raised once per signal, each was logged, none hurt
    # a request (their responses are among the intact ones above).
    assert [i for i in ids if counts["raised"][i]] == receiver_faults
    assert all(counts["raised"][i] == 2 for i in receiver_faults)
    assert counts["receiver_errors"] == counts["receiver_errors_with_traceback"]
    assert counts["receiver_errors"] == 2 * len(receiver_faults)
    assert churn["rounds"] > 0

    # Nothing left behind, memory flat.
    assert leftovers(base, after) == {}, (base, after)
    assert (after["tasks"] is not None) == (server_name in ASGI)
    assert rss_growth < RSS_BOUND_KIB, (mid, end)
    assert traced_kib < TRACED_BOUND_KIB, end["top"]
