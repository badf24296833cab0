"""What one WSGI request costs through reqsignals' middleware, next to its anchors.

Direct calls, no server: each request builds an environ, calls the (wrapped) app with
a start_response, iterates the body and closes it — what a server does, minus the
socket. Every variant is timed in every round, one after another, and the fastest
round of each is kept (the least disturbed by the rest of the machine).

Run from the repository root::

    python -m benchmarks.middleware_wsgi [--rounds 60] [--requests 2000] [--json PATH]

The OpenTelemetry variant uses an SDK ``TracerProvider`` with no span processor or
exporter; the Sentry one ``sentry_sdk.init()`` with no DSN and no default
integrations (which only makes Sentry cheaper, so the target below is harder). The
"(reference)" row calls the receiver of ``request_started`` and of ``request_finished``
directly, with the keyword arguments the middleware gives them, around the bare app:
what any request signal costs with one receiver each, the floor under the middleware.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from benchmarks import results
from reqsignals import got_request_exception, request_finished, request_started
from reqsignals.wsgi import SignalsMiddleware

BODY = b"Hello, world!"
HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(BODY)))]


def bare_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", HEADERS)
    return [BODY]


def receivers_only(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """For reference: the two receiver calls of a successful request, with no middleware."""
    receiver(signal=request_started, sender=bare_app, environ=environ)
    body = bare_app(environ, start_response)
    receiver(signal=request_finished, sender=bare_app, environ=environ, status=200, duration=0.0,
             response_duration=0.0)  # fmt: skip
    return body


class PassThrough:
    """The least a middleware can be: one line that calls the app."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self.app(environ, start_response)


def closing_iterator(app: Callable[..., Any]) -> Callable[..., Any]:
    """A middleware that wraps every response in Werkzeug's ClosingIterator."""
    from werkzeug.wsgi import ClosingIterator

    def on_close() -> None:
        pass

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return ClosingIterator(app(environ, start_response), on_close)

    return middleware


def otel(app: Callable[..., Any]) -> Callable[..., Any]:
    from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
    from opentelemetry.sdk.trace import TracerProvider

    return OpenTelemetryMiddleware(app, tracer_provider=TracerProvider())


def sentry(app: Callable[..., Any]) -> Callable[..., Any]:
    import sentry_sdk
    from sentry_sdk.integrations.wsgi import SentryWsgiMiddleware

    sentry_sdk.init(default_integrations=False)
    return SentryWsgiMiddleware(app)


ENVIRON = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/hello",
    "QUERY_STRING": "a=1",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8000",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1",
    "HTTP_HOST": "127.0.0.1:8000",
    "HTTP_USER_AGENT": "bench/1.0",
    "HTTP_ACCEPT": "*/*",
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "wsgi.input": io.BytesIO(b""),
    "wsgi.errors": sys.stderr,
    "wsgi.multithread": True,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
}


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


def time_requests(app: Callable[..., Any], n: int) -> float:
    """Seconds per request for *n* requests through *app*."""
    template = ENVIRON
    sr = start_response
    t0 = time.perf_counter()
    for _ in range(n):
        body = app(dict(template), sr)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return (time.perf_counter() - t0) / n


def receiver(sender: Any, **kwargs: Any) -> None:
    pass


class WithReceivers:
    """Connects one receiver to each request signal while its variant is timed."""

    def __enter__(self) -> None:
        for signal in (request_started, got_request_exception, request_finished):
            signal.connect(receiver)

    def __exit__(self, *exc: object) -> None:
        for signal in (request_started, got_request_exception, request_finished):
            signal.disconnect(receiver)


class NoReceivers:
    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        pass


def variants() -> list[tuple[str, Callable[..., Any], Any]]:
    mw = SignalsMiddleware(bare_app)
    return [
        ("bare app", bare_app, NoReceivers()),
        ("pass-through middleware", PassThrough(bare_app), NoReceivers()),
        ("werkzeug ClosingIterator", closing_iterator(bare_app), NoReceivers()),
        ("reqsignals, no receivers", mw, NoReceivers()),
        ("reqsignals, 1 receiver each", mw, WithReceivers()),
        ("(reference) the 2 receiver calls alone", receivers_only, NoReceivers()),
        ("opentelemetry", otel(bare_app), NoReceivers()),
        ("sentry", sentry(bare_app), NoReceivers()),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args(argv)

    table = variants()
    best = {name: float("inf") for name, _, _ in table}
    # The slow anchors get fewer requests per round, so a round takes similar time.
    counts = {name: args.requests for name, _, _ in table}
    counts["opentelemetry"] = counts["sentry"] = max(args.requests // 20, 50)
    for name, app, ctx in table:  # warm up
        with ctx:
            time_requests(app, 200)
    for _ in range(args.rounds):
        for name, app, ctx in table:
            with ctx:
                best[name] = min(best[name], time_requests(app, counts[name]))

    bare = best["bare app"]
    print(f"Python {sys.version.split()[0]}, {args.rounds} rounds, minimum kept\n")
    width = max(30, *(len(name) for name, _, _ in table))
    print(f"| {'variant':<{width}} | {'µs/request':>10} | {'overhead µs':>11} |")
    print(f"|{'-' * (width + 2)}|{'-' * 12}|{'-' * 13}|")
    for name, _, _ in table:
        over = "" if name == "bare app" else f"{(best[name] - bare) * 1e6:+.3f}"
        print(f"| {name:<{width}} | {best[name] * 1e6:>10.3f} | {over:>11} |")

    def overhead(name: str) -> float:
        return best[name] - bare

    passthrough = overhead("pass-through middleware")
    none = overhead("reqsignals, no receivers")
    one_each = overhead("reqsignals, 1 receiver each")
    cheaper = min(overhead("opentelemetry"), overhead("sentry"))
    ratio_none = none / passthrough
    ratio_one = cheaper / one_each
    print()
    print(
        f"no receivers: overhead = {ratio_none:.2f}x the pass-through's "
        f"(target <= 1.5x): {'met' if ratio_none <= 1.5 else 'MISSED'}"
    )
    print(
        f"one receiver each: overhead = 1/{ratio_one:.1f} of the cheaper of "
        f"OpenTelemetry/Sentry (target <= 1/40): {'met' if ratio_one >= 40 else 'MISSED'}"
    )
    results.write(
        args.json,
        "WSGI middleware, direct calls",
        [
            {"variant": name, "us": best[name] * 1e6, "overhead_us": overhead(name) * 1e6}
            for name, _, _ in table
        ],
        [
            results.target(
                "wsgi.no_receivers",
                "no receivers: overhead <= 1.5x the pass-through's",
                none * 1e6,
                1.5 * passthrough * 1e6,
                unit="µs",
            ),
            results.target(
                "wsgi.one_each",
                "1 receiver each: overhead <= 1/40 of min(OpenTelemetry, Sentry)",
                one_each * 1e6,
                cheaper / 40 * 1e6,
                unit="µs",
            ),
        ],
        rounds=args.rounds,
        requests=args.requests,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
