"""``SignalsMiddleware``: the request signals around any WSGI application.

Wrap a Flask app, Django's ``get_wsgi_application()``, a Werkzeug app or a bare
function, and every request sends, in this order:

* ``request_started(sender, environ=...)`` before the app is called;
* ``got_request_exception(sender, environ=..., exception=...)`` at most once, if the app
  call, the body's iteration or its ``close()`` raises an ``Exception``;
* ``request_finished(sender, environ=..., status=..., duration=..., response_duration=...)``
  exactly once, when the server closes the response (PEP 3333 says the request is over
  then), or right after ``got_request_exception`` when the app call itself raised.

The response reaches the server untouched: same chunks, as they are yielded, never
read ahead; the same ``len()`` when the app's iterable has one; the server's own
``wsgi.file_wrapper`` object when the app returned one, so sendfile still works.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from time import perf_counter
from typing import Any

from ._interface import detect
from ._keys import REPORTED_KEY, SENT_KEY
from ._sender import HasSender, Nesting
from .dispatch import ReceiverFailures
from .signals import got_request_exception, request_finished, request_started
from .types import Environ, ExcInfo, StartResponse, WSGIApp

__all__ = ["SENT_KEY", "SignalsMiddleware"]

# The sends, each with its keyword names (Signal.emitter).
_emit_started = request_started.emitter(("environ",))
_emit_exception = got_request_exception.emitter(("environ", "exception"))
_emit_finished = request_finished.emitter(("environ", "status", "duration", "response_duration"))
# The status line of the response every server sends when the app raised first.
_SERVER_ERROR = "500 Internal Server Error"


class SignalsMiddleware(HasSender):
    """WSGI middleware that sends the request signals for every request to *app*.

    Args:
        app: any WSGI application.
        sender: the ``sender`` of every signal: by default the wrapped *app*, or its
            sender when *app* is itself a signals middleware. Receivers connected with
            ``sender=`` hear only requests from it.
        strict: send with ``Signal.send`` instead of ``send_robust``, so that an
            exception raised by a receiver propagates (for tests). By default it is
            logged on the ``reqsignals`` logger with its traceback and the response
            goes on unchanged.

    Raises:
        TypeError: *app* is not callable, or is an ASGI app (see
            :func:`reqsignals.wrap`: one rule tells them apart everywhere).

    ``status`` is the status code the app passed to ``start_response``, or 500 when the
    app raised an ``Exception`` before the headers went out with the first non-empty
    chunk of the body (what the server then answers instead), or ``None``.
    ``duration`` runs until the server closed the response, the app's ``close()`` (and
    any work it does) included; ``response_duration`` runs until the server had
    iterated the whole body (for a ``wsgi.file_wrapper`` response, which the server
    sends itself, until it closed it), or is ``None`` if it never did.

    With no receiver connected to any of the three request signals, a request costs
    one check and goes straight to *app*. Receivers connected later, at any time,
    are heard from the next request on. When several instances wrap one another,
    only the outermost sends.

    Example::

        from reqsignals import receiver, request_finished
        from reqsignals.wsgi import SignalsMiddleware

        application = SignalsMiddleware(application)  # any WSGI app
        app.wsgi_app = SignalsMiddleware(app.wsgi_app, sender=app)  # Flask's way

        @receiver(request_finished)
        def log_request(sender, environ, status, duration, **kwargs):
            logger.info("%s %s -> %s in %.3fs", environ["REQUEST_METHOD"],
                        environ["PATH_INFO"], status, duration)
    """

    def __init__(self, app: WSGIApp, *, sender: Any = None, strict: bool = False) -> None:
        if not callable(app):
            raise TypeError(
                f"SignalsMiddleware needs a WSGI application (a callable taking environ "
                f"and start_response) as its first argument, got {app!r}"
            )
        try:
            interface = detect(app)[0]
        except TypeError as exc:  # an ASGI 2 app, a class, a callable taking no two
            raise TypeError(
                "SignalsMiddleware needs a WSGI application (a callable taking environ "
                f"and start_response): {exc}"
            ) from None
        if interface == "asgi":
            raise TypeError(
                f"SignalsMiddleware needs a WSGI application, and {app!r} looks like an "
                "ASGI app: use reqsignals.asgi.SignalsMiddleware, or reqsignals.wrap(app), "
                "which picks the middleware for you"
            )
        self.app = app
        self._init_sender(app, sender)
        self.strict = strict
        Nesting.note_instance()

    def __repr__(self) -> str:
        return f"<SignalsMiddleware around {self.app!r}>"

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        # `active` is False while a signal has nothing to call (muted included): three
        # attribute reads, no call. The mark only matters once requests can nest.
        app = self.app  # LOAD_ATTR specialises where `self.app(...)` does not (3.11)
        if not (
            request_started.active or got_request_exception.active or request_finished.active
        ) or (Nesting.possible and SENT_KEY in environ):
            return app(environ, start_response)
        if Nesting.possible:
            environ[SENT_KEY] = self
        # Filled in here rather than by an __init__: one Python call less per request.
        response = _Response()
        response._middleware = self
        response.environ = environ
        response._server_start_response = start_response
        response._status = None
        response._headers_out = False
        response._closed = False
        response._body_done_at = None
        return response.run(app)


class _Response:
    """One request: its state, the ``start_response`` the app is given, and the
    response iterable the server gets back.

    A class rather than a generator: a generator's ``finally`` never runs when the
    server calls ``close()`` before iterating (HEAD requests, early errors), and
    ``yield from`` would close the app's iterable a second time.

    The sends go through emitters (:meth:`~reqsignals.dispatch.Signal.emitter`):
    robust, with the keyword arguments spelled out for the receivers.
    """

    __slots__ = (
        "_body_done_at",
        "_close_inner",
        "_closed",
        "_headers_out",
        "_iterator",
        "_middleware",
        "_result",
        "_server_start_response",
        "_server_write",
        "_started_at",
        "_status",
        "environ",
    )

    _middleware: SignalsMiddleware
    environ: Environ
    _server_start_response: StartResponse
    _server_write: Callable[[bytes], object]
    _status: str | None
    _headers_out: bool
    _closed: bool
    _close_inner: Callable[[], object] | None
    _started_at: float
    _result: Iterable[bytes]
    _body_done_at: float | None
    _iterator: Iterator[bytes] | None

    # -- the request -------------------------------------------------------

    def run(self, app: WSGIApp) -> Iterable[bytes]:
        environ = self.environ
        middleware = self._middleware
        self._started_at = perf_counter()
        try:
            if middleware.strict:
                request_started.send(middleware.sender, environ=environ)
            else:
                _in_sync_code(_emit_started(middleware.sender, environ))
        except BaseException:
            # Only with strict=True (or a BaseException): the request ends here, but
            # the receivers that did run still get their request_finished.
            self._finish()
            raise
        try:
            result = app(environ, self.start_response)
        except BaseException as exc:
            self._fail(exc)
            raise
        self._result = result
        if type(result) is list:  # the common case: no close(), a len(), cannot raise
            self.__class__ = _ListResponse
            self._iterator = None
            return self

        try:
            return self._wrap(result, environ)
        except BaseException as exc:
            # Looking at the app's response object raised (a `close` or `__len__`
            # that is a failing property): the app's exception, and the end of the
            # request, since no server will get a response to close.
            self._fail(exc)
            raise

    def _wrap(self, result: Iterable[bytes], environ: Environ) -> Iterable[bytes]:
        self._close_inner = getattr(result, "close", None)
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(result, file_wrapper):
            # Servers recognise their file wrapper by type (gunicorn, waitress) and
            # send it with sendfile; a wrapper object would hide it. So hand the very
            # object back with its close() replaced, as Django does for its file
            # responses. The server alone reads the body then: errors while it reads
            # are not reported (close() errors still are).
            self.__class__ = _FileResponse  # first: its close() is the one handed over
            try:
                result.close = self.close  # type: ignore[attr-defined]
            except (AttributeError, TypeError):
                self.__class__ = _Response  # __slots__ or a read-only close: wrap it
            else:
                return result
        if hasattr(result, "__len__"):
            # PEP 3333 lets servers rely on len() (waitress sets Content-Length from a
            # one-item list): show the app's, so the response headers stay the same.
            self.__class__ = _SizedResponse
        return self

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        """The ``start_response`` the app is given: the server's, noting the status."""
        if exc_info is None:
            self._server_write = self._server_start_response(status, headers)
        else:
            # The server re-raises exc_info if the headers are already out; then the
            # status on the wire did not change and neither does ours.
            self._server_write = self._server_start_response(status, headers, exc_info)
        self._status = status
        return self  # the write() callable: __call__, with no bound method to make

    def __call__(self, data: bytes) -> object:
        """PEP 3333's ``write()``: the server's, noting that the headers went out (the
        server sends them with the first call)."""
        self._headers_out = True
        return self._server_write(data)

    # -- the response iterable ---------------------------------------------

    def __iter__(self) -> Iterator[bytes]:
        # A generator for the loop only: when it is done, the `for` in the server
        # ends without a StopIteration object, which a __next__ method would raise
        # and re-raise for every response. Closing stays with close() below: this
        # generator never closes the app's iterable, even when it is collected.
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        try:
            # Not `yield from`: closing this generator would close the app's iterable.
            for chunk in self._result:
                if chunk:  # PEP 3333: the headers go out with the first non-empty chunk
                    self._headers_out = True
                yield chunk
        except Exception as exc:
            self._fail_response()
            self._report(exc)
            raise
        self._body_done_at = perf_counter()
        # An empty body: the server sends the headers once iteration ends, before close().
        self._headers_out = True

    def close(self) -> None:
        """Close the app's iterable (once), then send ``request_finished`` (once)."""
        if self._closed:
            return
        self._closed = True
        # Dropping the reference also breaks the cycle a patched file wrapper makes
        # (it holds this method, this object held its close).
        close, self._close_inner = self._close_inner, None
        try:
            if close is not None:
                close()
        except BaseException as exc:
            self._fail(exc)
            raise
        self._finish()

    # -- sending -----------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        """End the request on *exc*, from inside its ``except`` block: report it if it
        is an ``Exception`` (``GeneratorExit``, ``KeyboardInterrupt`` and the like are
        not), then send ``request_finished`` whatever the report did."""
        try:
            if isinstance(exc, Exception):
                self._fail_response()
                self._report(exc)
        finally:
            self._finish()

    def _fail_response(self) -> None:
        # The app raised: until the headers are on the wire, the server can still
        # answer, and every server answers 500 (the app's status, if it gave one, was
        # never sent). Once they are out, the client has the app's status.
        if not self._headers_out:
            self._status = _SERVER_ERROR

    def _report(self, exc: Exception) -> None:
        # Called inside the `except` block, so sys.exc_info() is `exc` for receivers.
        # At most one per request: a framework integration may have reported it
        # already (Flask and Django turn a view's exception into a 500 themselves).
        environ = self.environ
        if REPORTED_KEY not in environ:
            environ[REPORTED_KEY] = exc
            middleware = self._middleware
            if middleware.strict:
                got_request_exception.send(middleware.sender, environ=environ, exception=exc)
            else:
                _in_sync_code(_emit_exception(middleware.sender, environ, exc))

    def _finish(self) -> None:
        end = perf_counter()
        started_at = self._started_at
        done_at = self._body_done_at
        status = self._status
        code: int | None
        try:
            code = _CODES[status]  # type: ignore[index]
        except Exception:  # a line not seen yet, or no str at all (whatever its hash does)
            code = _status_code(status)
        middleware = self._middleware
        environ = self.environ
        response_duration = None if done_at is None else done_at - started_at
        if middleware.strict:
            request_finished.send(
                middleware.sender,
                environ=environ,
                status=code,
                duration=end - started_at,
                response_duration=response_duration,
            )
        else:
            pending = _emit_finished(
                middleware.sender, environ, code, end - started_at, response_duration
            )
            _in_sync_code(pending)


def _in_sync_code(pending: Awaitable[None] | None) -> None:
    """Refuse the awaitable an emitter returns for async receivers in a running loop.

    A WSGI app is called from sync code; here one is called on a thread whose event
    loop is running (from inside a coroutine), where nothing can run async receivers.
    A receiver failure never changes the response: receiver_failed sends left to us
    (async receivers of receiver_failed) are logged as not sent, and the request goes on.
    """
    if pending is not None:
        if isinstance(pending, ReceiverFailures):
            pending.unsent()
            return
        pending.close()  # type: ignore[attr-defined]
        raise RuntimeError(
            "a request signal has async receivers, and this WSGI app was called inside a "
            "running event loop, where they cannot be run: serve the app from a thread "
            "(as WSGI servers and ASGI adapters do), or use reqsignals.asgi"
        )


#: Status line -> status code, for the lines seen so far (a few dozen in practice).
_CODES: dict[str, int] = {}


def _status_code(status: object) -> int | None:
    """The integer code of a status line, or None when there is none (or it is bad).

    PEP 3333: three digits, then a space and the reason phrase ("404 Not Found"); a
    bare code ("404") is taken too, as servers send it. Anything else ("20 OK",
    " 200 OK", "2000 OK", b"200 OK") has no code: ``int()`` alone would read some of
    them as another one.
    """
    if not isinstance(status, str):
        return None  # no start_response, or not a str as PEP 3333 requires
    digits, after = status[:3], status[3:4]
    if len(digits) != 3 or not (digits.isascii() and digits.isdigit()) or after not in ("", " "):
        return None
    code = int(digits)
    if type(status) is str and len(_CODES) < 1000:
        _CODES[status] = code
    return code


class _SizedResponse(_Response):
    """A response whose app iterable has a ``len()``, which it passes on."""

    __slots__ = ()

    def __len__(self) -> int:
        return len(self._result)  # type: ignore[arg-type]


class _ListResponse(_SizedResponse):
    """A response whose app returned a list: iterating a list cannot raise."""

    __slots__ = ()

    def __iter__(self) -> Iterator[bytes]:
        self._iterator = iterator = iter(self._result)
        return iterator

    def close(self) -> None:
        """Send ``request_finished`` (once): a list has no ``close()`` to call."""
        if not self._closed:
            self._closed = True
            iterator = self._iterator
            # A list's iterator says how many items are left: none means the server
            # iterated it to the end, which it does just before it closes (nothing of
            # the app's runs after a list's last item).
            if iterator is not None and not iterator.__length_hint__():  # type: ignore[attr-defined]
                self._body_done_at = perf_counter()
            self._finish()


class _FileResponse(_Response):
    """A ``wsgi.file_wrapper`` response: the server sends the file itself, then closes."""

    __slots__ = ()

    def close(self) -> None:
        """The end of the body (the server sent the file), then :meth:`_Response.close`."""
        if not self._closed:
            self._body_done_at = perf_counter()
            self._headers_out = True
        super().close()
