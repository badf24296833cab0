"""The apps the fault-injection load runs under real servers, and their in-server books.

Import this module only in a server process: importing it connects receivers to the
three request signals. ``wsgi_app`` (for gunicorn and waitress) and ``asgi_app`` (for
uvicorn and hypercorn) each stack, from the outside in:

1. a router that answers ``/_rel/<op>`` itself, outside everything else, so that
   looking at the books never counts as a request;
2. a counter of the requests that reached the middleware (``entered``);
3. ``reqsignals``' ``SignalsMiddleware``;
4. the app, which counts its calls (``app_calls``) and does what
   :func:`tests.reliability.plan.kind` says for the request id in ``x-req-id``.

Receivers connected here: one counting receiver per signal (first, so every send is
counted), a sync and an async receiver that raise for the ids
:func:`~tests.reliability.plan.receiver_fault` names, and — while ``churn_start`` is
on — receivers that another thread connects and disconnects in a loop. Counters are
arrays allocated once, indexed by request id, so counting allocates nothing: the
memory figures measure the server and the middleware, not the books.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import threading
import time
import tracemalloc
from array import array
from collections.abc import Iterable, Iterator
from typing import Any

from reqsignals import asgi, wsgi
from reqsignals.signals import got_request_exception, request_finished, request_started
from reqsignals.types import Environ, Receive, Scope, Send, StartResponse
from tests.reliability import plan

ID_KEY = "tests.reliability.id"  # where the front counter leaves the parsed id
_RAW_ID = plan.ID_HEADER.encode()
_WSGI_ID = "HTTP_" + plan.ID_HEADER.upper().replace("-", "_")
NOT_FINISHED = -2
NO_STATUS = -1


def _counter(initial: int = 0) -> array[int]:
    return array("i", [initial]) * plan.MAX_IDS


entered = _counter()
app_calls = _counter()
started = _counter()
exceptions = _counter()
finished = _counter()
finished_status = _counter(NOT_FINISHED)
raised = _counter()  # faulty receivers that raised, per request id
send_errors = _counter()  # OSError from send() after a client left (ASGI)
unexpected: list[str] = []  # exceptions reported that the apps did not inject (first 10)


# -- receivers ---------------------------------------------------------------------


def _rid(named: dict[str, Any]) -> int:
    space = named.get("environ")
    if space is None:
        space = named["scope"]
    return int(space[ID_KEY])


def count_started(sender: Any, **named: Any) -> None:
    started[_rid(named)] += 1


def count_exception(sender: Any, **named: Any) -> None:
    exceptions[_rid(named)] += 1
    exc = named["exception"]
    if not isinstance(exc, plan.AppFault) and len(unexpected) < 10:
        unexpected.append(repr(exc))


def count_finished(sender: Any, **named: Any) -> None:
    i = _rid(named)
    finished[i] += 1
    status = named["status"]
    finished_status[i] = NO_STATUS if status is None else int(status)


def sync_raiser(sender: Any, **named: Any) -> None:
    i = _rid(named)
    if plan.receiver_fault(i) == "sync":
        raised[i] += 1
        raise plan.ReceiverFault(f"sync receiver fails on purpose for request {i}")


async def async_raiser(sender: Any, **named: Any) -> None:
    i = _rid(named)
    if plan.receiver_fault(i) == "async":
        raised[i] += 1
        raise plan.ReceiverFault(f"async receiver fails on purpose for request {i}")


request_started.connect(count_started, weak=False)
got_request_exception.connect(count_exception, weak=False)
request_finished.connect(count_finished, weak=False)
for _signal in (request_started, request_finished):
    _signal.connect(sync_raiser, weak=False)
    _signal.connect(async_raiser, weak=False)


class _CountErrors(logging.Handler):
    """Counts what send_robust logs for receivers that raised (emit runs under a lock)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.with_traceback = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        self.with_traceback += record.exc_info is not None


receiver_errors = _CountErrors()
_logger = logging.getLogger("reqsignals")
_logger.addHandler(receiver_errors)
_logger.propagate = False  # counted, not printed 250 times into the server log


# -- receivers connected and disconnected by another thread -------------------------


class _Churn:
    """A thread that connects and disconnects receivers while traffic flows.

    Even rounds connect one strong receiver to all three signals and disconnect it;
    odd rounds connect a fresh closure weakly and drop it, so the dispatcher purges a
    dead receiver. Stops on ``stop()`` or after ``limit`` seconds, whichever is first.
    """

    def __init__(self, limit: float = 150.0) -> None:
        self.rounds = 0
        self.calls = 0
        self.limit = limit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="churn", daemon=True)

    def _heard(self, sender: Any, **named: Any) -> None:
        self.calls += 1  # approximate across threads; only reported

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit
        signals = (request_started, got_request_exception, request_finished)
        while not self._stop.is_set() and time.monotonic() < deadline:
            if self.rounds % 2 == 0:
                for sig in signals:
                    sig.connect(self._heard, weak=False)
                time.sleep(0.001)
                for sig in signals:
                    sig.disconnect(self._heard)
            else:

                def fleeting(sender: Any, **named: Any) -> None:
                    self.calls += 1

                for sig in signals:
                    sig.connect(fleeting)  # weak: dies when this round drops it
                time.sleep(0.001)
                del fleeting
            self.rounds += 1
            time.sleep(0.001)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


_churn: _Churn | None = None
_mark: tracemalloc.Snapshot | None = None


# -- the control endpoint ----------------------------------------------------------


def _status_field(name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise LookupError(name)


def probe(tasks: int | None) -> dict[str, Any]:
    """The process's resources now, after a full garbage collection."""
    gc.collect()
    tracing = tracemalloc.is_tracing()
    return {
        "pid": os.getpid(),
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": _status_field("Threads"),
        "tasks": tasks,
        "rss_kib": _status_field("VmRSS"),
        "traced_bytes": tracemalloc.get_traced_memory()[0] if tracing else None,
        # tracemalloc's own tables, part of the RSS while it traces
        "tracemalloc_kib": tracemalloc.get_tracemalloc_memory() // 1024 if tracing else 0,
    }


def control(op: str, n: int, tasks: int | None) -> dict[str, Any]:
    global _churn
    if op == "probe":
        return probe(tasks)
    if op == "trace_start":
        gc.collect()
        tracemalloc.start()
        return probe(tasks)
    if op == "trace_mark":  # the second half starts: remember what is allocated now
        global _mark
        result = probe(tasks)
        _mark = tracemalloc.take_snapshot()
        return result
    if op == "trace_stop":
        result = probe(tasks)
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        growth = snapshot.compare_to(_mark, "lineno") if _mark is not None else []
        result["top"] = [str(stat) for stat in growth[:8]]
        return result
    if op == "churn_start":
        _churn = _Churn()
        _churn.start()
        return {}
    if op == "churn_stop":
        assert _churn is not None
        _churn.stop()
        return {"rounds": _churn.rounds, "calls": _churn.calls}
    if op == "counts":
        arrays = {
            "entered": entered,
            "app_calls": app_calls,
            "started": started,
            "exceptions": exceptions,
            "finished": finished,
            "finished_status": finished_status,
            "raised": raised,
            "send_errors": send_errors,
        }
        result = {name: a[:n].tolist() for name, a in arrays.items()}
        result["receiver_errors"] = receiver_errors.count
        result["receiver_errors_with_traceback"] = receiver_errors.with_traceback
        result["unexpected"] = list(unexpected)
        return result
    raise LookupError(op)


def _split_control(path: str, query: str) -> tuple[str, int]:
    op = path.removeprefix("/_rel/")
    n = int(query.removeprefix("n=")) if query.startswith("n=") else 0
    return op, n


# -- WSGI ---------------------------------------------------------------------------


def _wsgi_stream() -> Iterator[bytes]:
    for _ in range(plan.STREAM_CHUNKS):
        yield plan.STREAM_CHUNK
        time.sleep(plan.STREAM_PAUSE)


def _wsgi_fail_after(i: int) -> Iterator[bytes]:
    yield b"partial"
    raise plan.AppFault(f"injected after the response started, request {i}")


def wsgi_inner(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    i = environ[ID_KEY]
    app_calls[i] += 1
    what = plan.kind(i)
    if what == plan.RAISE_BEFORE:
        raise plan.AppFault(f"injected before the response, request {i}")
    if what == plan.RAISE_AFTER:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _wsgi_fail_after(i)
    if what == plan.DISCONNECT:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _wsgi_stream()
    data = plan.body(i)
    start_response(
        "200 OK",
        [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(data)))],
    )
    return iter(plan.chunks(data)) if plan.chunked(i) else [data]


_wsgi_signalled = wsgi.SignalsMiddleware(wsgi_inner)


def wsgi_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path.startswith("/_rel/"):
        op, n = _split_control(path, environ.get("QUERY_STRING", ""))
        data = json.dumps(control(op, n, None)).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [data]
    i = int(environ[_WSGI_ID])
    environ[ID_KEY] = i
    entered[i] += 1
    return _wsgi_signalled(environ, start_response)


# -- ASGI ---------------------------------------------------------------------------

_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/octet-stream")],
}


async def _asgi_stream(i: int, receive: Receive, send: Send) -> None:
    # Streams until the client leaves (or STREAM_CHUNKS run out): a task watches
    # receive() for http.disconnect, and an OSError from send() also means gone
    # (ASGI spec 2.4) — a well-behaved app ends there instead of raising.
    gone = asyncio.Event()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.create_task(watch())
    try:
        await send(_START)
        for _ in range(plan.STREAM_CHUNKS):
            if gone.is_set():
                return
            await send({"type": "http.response.body", "body": plan.STREAM_CHUNK, "more_body": True})
            await asyncio.sleep(plan.STREAM_PAUSE)
        await send({"type": "http.response.body", "body": b""})
    except OSError:
        send_errors[i] += 1
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


async def asgi_inner(scope: Scope, receive: Receive, send: Send) -> None:
    i = scope[ID_KEY]
    app_calls[i] += 1
    what = plan.kind(i)
    if what == plan.RAISE_BEFORE:
        raise plan.AppFault(f"injected before the response, request {i}")
    if what == plan.RAISE_AFTER:
        await send(_START)
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise plan.AppFault(f"injected after the response started, request {i}")
    if what == plan.DISCONNECT:
        await _asgi_stream(i, receive, send)
        return
    data = plan.body(i)
    headers = [
        (b"content-type", b"application/octet-stream"),
        (b"content-length", str(len(data)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if plan.chunked(i):
        for piece in plan.chunks(data):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:
        await send({"type": "http.response.body", "body": data})


_asgi_signalled = asgi.SignalsMiddleware(asgi_inner)


async def asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            phase = message["type"].rsplit(".", 1)[-1]
            await send({"type": f"lifespan.{phase}.complete"})
            if phase == "shutdown":
                return
    path = scope["path"]
    if path.startswith("/_rel/"):
        op, n = _split_control(path, scope["query_string"].decode())
        data = json.dumps(control(op, n, len(asyncio.all_tasks()))).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": data})
        return
    i = next(int(value) for name, value in scope["headers"] if name == _RAW_ID)
    scope[ID_KEY] = i
    entered[i] += 1
    await _asgi_signalled(scope, receive, send)
