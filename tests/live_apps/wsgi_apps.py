"""The WSGI apps the middleware tests use: Flask, Django, Werkzeug and a bare callable.

Each framework app answers the same paths:

* ``/hello`` — 200, ``Hello from <framework>``;
* ``/missing`` — 404 (the framework's own not-found handling);
* ``/stream?chunks=N`` — 200, N chunks of 64 KiB yielded one by one, a short sleep
  between them (a long-running streamed response, for client disconnects);
* ``/list`` — 200, a one-item list without Content-Length (bare app only);
* ``/file`` — 200, this module's source sent through ``environ["wsgi.file_wrapper"]``
  (bare app only: frameworks pick their own file responses);
* ``/write`` — 200, the body sent through ``write()`` (bare app only);
* ``/fail-in-call``, ``/fail-in-body``, ``/fail-before-start`` — the bare app raises
  ``RuntimeError`` after ``start_response`` in the call, after it before the first
  chunk, and on the first chunk before calling it: the server answers 500.

``make_app(name)`` returns the app wrapped in ``SignalsMiddleware`` the way a user of
that framework would. For a real server, point it at ``tests.live_apps.wsgi_apps:served_<name>``
(``served_flask``, ``served_django``, ``served_werkzeug``, ``served_bare``): that
object connects counting receivers in the server process, and answers
``GET /__stats`` — outside the middleware, so it is never counted — with what they
saw, as JSON. Nothing connects to any signal when this module is merely imported.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

from reqsignals import got_request_exception, request_finished, request_started
from reqsignals.wsgi import SignalsMiddleware

CHUNK = b"x" * 65536
NAMES = ("flask", "django", "werkzeug", "bare")


def _chunks(environ: dict[str, Any]) -> int:
    return int(parse_qs(environ.get("QUERY_STRING", "")).get("chunks", ["4"])[0])


def _stream(n: int) -> Iterator[bytes]:
    for _ in range(n):
        yield CHUNK
        time.sleep(0.005)


# -- bare ---------------------------------------------------------------------


def bare_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path == "/hello":
        body = b"Hello from bare"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "15")])
        return [body]
    if path == "/list":  # no Content-Length: the server may count a one-item list
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"twelve bytes"]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _stream(_chunks(environ))
    if path == "/write":  # PEP 3333's legacy write(): the body through it, none returned
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written, ")
        write(b"not returned")
        return []
    if path.startswith("/fail-"):
        return _fail(path, start_response)
    if path == "/file":
        f = open(__file__, "rb")  # noqa: SIM115 - the server closes it through the wrapper
        size = os.fstat(f.fileno()).st_size
        start_response("200 OK", [("Content-Type", "text/x-python"), ("Content-Length", str(size))])
        return environ["wsgi.file_wrapper"](f)  # type: ignore[no-any-return]
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
    return [b"not found"]


def _fail(path: str, start_response: Callable[..., Any]) -> Iterable[bytes]:
    if path == "/fail-in-call":
        start_response("200 OK", [("Content-Type", "text/plain")])
        raise RuntimeError("the app failed after start_response")

    def body() -> Iterator[bytes]:
        if path == "/fail-in-body":
            start_response("200 OK", [("Content-Type", "text/plain")])
        raise RuntimeError(f"the app failed iterating {path}")
        yield b""  # pragma: no cover - makes this a generator

    return body()


# -- Flask --------------------------------------------------------------------


def make_flask() -> Any:
    from flask import Flask, Response

    app = Flask("wsgi_apps_flask")

    @app.get("/hello")
    def hello() -> str:
        return "Hello from flask"

    @app.get("/stream")
    def stream() -> Response:
        from flask import request

        return Response(_stream(int(request.args.get("chunks", "4"))))

    # Flask's documented way to add WSGI middleware: around app.wsgi_app.
    app.wsgi_app = SignalsMiddleware(app.wsgi_app, sender=app)  # type: ignore[method-assign]
    return app


# -- Werkzeug -----------------------------------------------------------------


def make_werkzeug() -> Any:
    from werkzeug.exceptions import NotFound
    from werkzeug.routing import Map, Rule
    from werkzeug.wrappers import Request, Response

    urls = Map([Rule("/hello", endpoint="hello"), Rule("/stream", endpoint="stream")])

    @Request.application
    def app(request: Request) -> Response:
        try:
            endpoint, _ = urls.bind_to_environ(request.environ).match()
        except NotFound as exc:
            return exc.get_response()
        if endpoint == "hello":
            return Response("Hello from werkzeug")
        return Response(_stream(int(request.args.get("chunks", "4"))))

    return SignalsMiddleware(app)


# -- Django -------------------------------------------------------------------


def make_django() -> Any:
    """Django's WSGI handler, with the test process's one Django configuration."""
    from tests.live_apps.django_project import configure

    configure()
    from django.core.wsgi import get_wsgi_application

    return SignalsMiddleware(get_wsgi_application())


MAKERS: dict[str, Callable[[], Any]] = {
    "flask": make_flask,
    "django": make_django,
    "werkzeug": make_werkzeug,
    "bare": lambda: SignalsMiddleware(bare_app),
}


def make_app(name: str) -> Any:
    """The app called *name*, wrapped in ``SignalsMiddleware``."""
    return MAKERS[name]()


# -- served in a server process ------------------------------------------------


class Stats:
    """What the counting receivers saw in this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.senders: set[str] = set()
        self.same_environ = 0
        self.sendfile_calls = 0

    def started(self, sender: Any, environ: dict[str, Any], **kwargs: Any) -> None:
        environ["tests.started"] = True  # per-request state in the environ itself
        with self.lock:
            self.counts["request_started"] += 1
            self.senders.add(type(sender).__name__)

    def exception(self, sender: Any, environ: dict[str, Any], **kwargs: Any) -> None:
        with self.lock:
            self.counts["got_request_exception"] += 1

    def finished(
        self, sender: Any, environ: dict[str, Any], status: int | None, **kwargs: Any
    ) -> None:
        with self.lock:
            self.counts["request_finished"] += 1
            self.statuses[str(status)] += 1
            self.same_environ += environ.get("tests.started", False)

    def as_json(self) -> bytes:
        with self.lock:
            return json.dumps(
                {
                    "counts": dict(self.counts),
                    "statuses": dict(self.statuses),
                    "senders": sorted(self.senders),
                    "same_environ": self.same_environ,
                    "sendfile_calls": self.sendfile_calls,
                    "pid": os.getpid(),
                }
            ).encode()


class Served:
    """A served app: ``/__stats`` answered here, everything else by the wrapped app."""

    def __init__(self, app: Any, stats: Stats) -> None:
        self.app = app
        self.stats = stats

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == "/__stats":
            body = self.stats.as_json()
            start_response(
                "200 OK",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return self.app(environ, start_response)


_served: dict[str, Served] = {}
_served_lock = threading.Lock()


def _count_sendfile(stats: Stats) -> None:
    """Count socket.sendfile calls in this process (how gunicorn sends file wrappers)."""
    original = socket.socket.sendfile

    def sendfile(self: socket.socket, *args: Any, **kwargs: Any) -> int:
        with stats.lock:
            stats.sendfile_calls += 1
        return original(self, *args, **kwargs)

    socket.socket.sendfile = sendfile  # type: ignore[method-assign]


def serve(name: str) -> Served:
    with _served_lock:
        if name not in _served:
            stats = Stats()
            request_started.connect(stats.started, weak=False)
            got_request_exception.connect(stats.exception, weak=False)
            request_finished.connect(stats.finished, weak=False)
            _count_sendfile(stats)
            _served[name] = Served(make_app(name), stats)
        return _served[name]


def __getattr__(attr: str) -> Any:
    # `tests.live_apps.wsgi_apps:served_flask` for gunicorn and waitress: built on first use.
    if attr.startswith("served_") and attr[len("served_") :] in NAMES:
        return serve(attr[len("served_") :])
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
