"""A bare WSGI app with request signals: no framework, just a callable.

Run it (from the repository root) under any WSGI server::

    waitress-serve --listen=127.0.0.1:8000 examples.bare_wsgi:app
    gunicorn examples.bare_wsgi:app

or with the standard library's reference server::

    python -m examples.bare_wsgi

then ``curl localhost:8000/``, ``/stream`` and ``/boom``. Each request logs a timing
line; ``/boom`` raises, so ``got_request_exception`` logs the error before the server
answers 500.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import reqsignals
from examples.receivers import timing
from reqsignals.types import WSGIGotRequestExceptionArgs

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack on Python 3.11+

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
logger = logging.getLogger(__name__)


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"Hello from a bare WSGI app\n"]


def stream(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    # request_finished fires when the server closes this iterable, after the last chunk.
    def chunks() -> Iterator[bytes]:
        for n in range(3):
            yield f"chunk {n}\n".encode()
            time.sleep(0.01)

    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return chunks()


def boom(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    raise RuntimeError("boom")


def not_found(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"Not found\n"]


ROUTES = {"/": hello, "/stream": stream, "/boom": boom}


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    view = ROUTES.get(environ.get("PATH_INFO", "/"), not_found)
    return view(environ, start_response)


@reqsignals.receiver(reqsignals.got_request_exception, sender=application)
def log_exception(sender: object, **kwargs: Unpack[WSGIGotRequestExceptionArgs]) -> None:
    environ, exception = kwargs["environ"], kwargs["exception"]
    logger.error("%s %s failed: %r", environ["REQUEST_METHOD"], environ["PATH_INFO"], exception)


# A bare app's start-up code is its module: connect the receivers here. sender=application
# limits them to this app's requests (the middleware sends with the app it wraps).
timing.connect(sender=application)
app = reqsignals.wrap(application)

if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    with make_server("127.0.0.1", 8000, app) as server:
        logger.info("Serving on http://127.0.0.1:8000")
        server.serve_forever()
