"""ASGI middleware cost: reqsignals vs a pass-through, OpenTelemetry, Sentry, Starlette.

    python -m benchmarks.middleware_asgi [--rounds 30] [--chunk-ms 40] [--json PATH]

Every variant wraps the same bare app (``http.response.start`` + one body message)
and is called directly, ``await app(scope, receive, send)``, on one event loop: no
server, no sockets. Each round times every variant in turn for about ``chunk-ms``
milliseconds; each keeps its fastest round. Prints a Markdown table of µs per request,
the overhead over the bare app, and the two targets:

* no receivers: overhead at most 1.5x the pass-through middleware's;
* one receiver on each signal (sync, or async): overhead at most 1/40 of the cheaper of
  OpenTelemetry's and Sentry's.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from importlib.metadata import version
from typing import Any

from benchmarks import results
from reqsignals.asgi import SignalsMiddleware
from reqsignals.signals import got_request_exception, request_finished, request_started
from reqsignals.types import ASGIApp, Message, Receive, Scope, Send

SIGNALS = (request_started, got_request_exception, request_finished)

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.3"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/",
    "raw_path": b"/",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench")],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
    "state": {},
}
REQUEST: Message = {"type": "http.request", "body": b"", "more_body": False}
START: Message = {"type": "http.response.start", "status": 200, "headers": []}
BODY: Message = {"type": "http.response.body", "body": b"Hello, world!"}


async def receive() -> Message:
    return REQUEST


async def send(message: Message) -> None:
    return None


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    await send(START)
    await send(BODY)


async def receivers_only(scope: Scope, receive: Receive, send: Send) -> None:
    """For reference: the two receiver calls of a successful request, with no middleware."""
    sync_receiver(signal=request_started, sender=bare, scope=scope)
    await bare(scope, receive, send)
    sync_receiver(signal=request_finished, sender=bare, scope=scope, status=200, duration=0.0,
                   response_duration=0.0)  # fmt: skip


class PassThrough:
    """The least a pure ASGI middleware can do."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def sync_receiver(sender: Any, **kwargs: Any) -> None:
    return None


async def async_receiver(sender: Any, **kwargs: Any) -> None:
    return None


@contextmanager
def connected(receiver: Callable[..., Any]) -> Iterator[None]:
    with ExitStack() as stack:
        for signal in SIGNALS:
            stack.enter_context(signal.connected_to(receiver))
        yield


def variants() -> dict[str, tuple[ASGIApp, Callable[[], AbstractContextManager[Any]]]]:
    """name -> (app, context in which it is timed)."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.sdk.trace import TracerProvider
    from sentry_sdk.integrations.asgi import SentryAsgiMiddleware
    from starlette.middleware.base import BaseHTTPMiddleware

    class NoopBaseHTTP(BaseHTTPMiddleware):
        async def dispatch(self, request: Any, call_next: Any) -> Any:
            return await call_next(request)

    import sentry_sdk

    sentry_sdk.init()  # no DSN: nothing is sent anywhere

    signalled = SignalsMiddleware(bare)
    return {
        "bare app": (bare, nullcontext),
        "pass-through middleware": (PassThrough(bare), nullcontext),
        "reqsignals, no receivers": (signalled, nullcontext),
        "reqsignals, 1 sync receiver each": (signalled, lambda: connected(sync_receiver)),
        "reqsignals, 1 async receiver each": (signalled, lambda: connected(async_receiver)),
        "(reference) the 2 receiver calls alone, sync": (receivers_only, nullcontext),
        "OpenTelemetry ASGI": (
            OpenTelemetryMiddleware(bare, tracer_provider=TracerProvider()),
            nullcontext,
        ),
        "Sentry ASGI": (SentryAsgiMiddleware(bare), nullcontext),
        "Starlette BaseHTTPMiddleware (no-op)": (NoopBaseHTTP(bare), nullcontext),
    }


async def time_chunk(app: ASGIApp, number: int) -> float:
    """Seconds per request for *number* requests (a fresh scope dict each, as servers do)."""
    scope = SCOPE
    start = time.perf_counter()
    for _ in range(number):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - start) / number


async def measure(rounds: int, chunk_ms: float) -> dict[str, float]:
    table = variants()
    numbers: dict[str, int] = {}
    for name, (app, context) in table.items():  # calibrate, and warm up
        with context():
            per = await time_chunk(app, 200)
            per = min(per, await time_chunk(app, 200))
        numbers[name] = max(200, int(chunk_ms / 1000 / per))
    best = dict.fromkeys(table, float("inf"))
    for _ in range(rounds):
        for name, (app, context) in table.items():
            with context():
                gc.collect()
                gc.disable()
                try:
                    per = await time_chunk(app, numbers[name])
                finally:
                    gc.enable()
            best[name] = min(best[name], per)
    return best


def report(
    best: dict[str, float], rounds: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Print the tables; return the rows and targets for the JSON."""
    us = {k: v * 1e6 for k, v in best.items()}
    base = us["bare app"]
    over = {k: v - base for k, v in us.items()}
    print(
        f"Machine: Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.machine()}, starlette {version('starlette')}, "
        f"opentelemetry-instrumentation-asgi {version('opentelemetry-instrumentation-asgi')}, "
        f"sentry-sdk {version('sentry-sdk')}; {rounds} rounds, fastest kept"
    )
    print()
    print("| variant | µs/request | overhead over bare (µs) | overhead vs pass-through |")
    print("|---|---:|---:|---:|")
    pt = over["pass-through middleware"]
    for name in us:
        ratio = "" if name == "bare app" else f"{over[name] / pt:.2f}x"
        print(f"| {name} | {us[name]:.2f} | {over[name]:+.2f} | {ratio} |")
    print()
    anchors = min(over["OpenTelemetry ASGI"], over["Sentry ASGI"])
    checks = [
        (
            "no receivers",
            over["reqsignals, no receivers"],
            1.5 * pt,
            "<= 1.5x pass-through",
        ),
        (
            "1 sync receiver each",
            over["reqsignals, 1 sync receiver each"],
            anchors / 40,
            "<= 1/40 of min(OTel, Sentry)",
        ),
        (
            "1 async receiver each",
            over["reqsignals, 1 async receiver each"],
            anchors / 40,
            "<= 1/40 of min(OTel, Sentry)",
        ),
    ]
    print("| target | overhead (µs) | limit (µs) | ratio | result |")
    print("|---|---:|---:|---:|---|")
    targets = []
    for (label, value, limit, rule), key in zip(checks, ("no_receivers", "one_sync", "one_async")):
        verdict = "met" if value <= limit else "MISSED"
        print(f"| {label}: {rule} | {value:.2f} | {limit:.2f} | {value / limit:.2f} | {verdict} |")
        targets.append(results.target(f"asgi.{key}", f"{label}: overhead {rule}", value, limit,
                                      unit="µs"))  # fmt: skip
    rows = [
        {
            "variant": name,
            "us": us[name],
            "overhead_us": over[name],
            "vs_passthrough": over[name] / pt,
        }
        for name in us
    ]
    return rows, targets


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--chunk-ms", type=float, default=40.0)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    # The anchors' own deprecation chatter is not what is measured here.
    warnings.simplefilter("ignore", DeprecationWarning)
    best = asyncio.run(measure(args.rounds, args.chunk_ms))
    rows, targets = report(best, args.rounds)
    results.write(args.json, "ASGI middleware, direct calls", rows, targets, rounds=args.rounds)


if __name__ == "__main__":
    main()
