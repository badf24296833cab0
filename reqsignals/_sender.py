"""What both middlewares share: their ``sender``, and whether requests can nest."""

from __future__ import annotations

from typing import Any

from .types import Scope

#: How many levels of ``.app`` to follow down a Starlette middleware stack.
_STACK_DEPTH = 32


class HasSender:
    """The ``sender`` option, defaulting to the app the user wrapped.

    That is the wrapped app itself; the wrapped app's own sender when it is a signals
    middleware too, or wraps one through other middleware's ``.app`` (so wrapping
    twice, as ``reqsignals run`` does an app the README already wrapped, changes
    nothing); and, for an instance inside a Starlette or FastAPI middleware stack,
    the Starlette or FastAPI application, which the first request shows
    (``scope["app"]``).
    """

    sender: Any
    _sender_unsettled: bool

    def _init_sender(self, app: Any, sender: Any) -> None:
        self._sender_unsettled = False
        inner = _inner_signals_middleware(app) if sender is None else None
        if sender is not None:
            self.sender = sender
        elif inner is not None:
            self.sender = inner.sender
            self._sender_unsettled = inner._sender_unsettled
        else:
            self.sender = app
            self._sender_unsettled = True

    def _settle_sender(self, scope: Scope) -> None:
        """On the first request: if this instance is a layer of the middleware stack of
        the Starlette app in ``scope["app"]``, that app is the sender."""
        self._sender_unsettled = False
        application = scope.get("app")
        layer = getattr(application, "middleware_stack", None)
        for _ in range(_STACK_DEPTH):
            if layer is None:
                return
            if layer is self:
                self.sender = application
                return
            layer = getattr(layer, "app", None)


def _inner_signals_middleware(app: Any) -> HasSender | None:
    """The signals middleware *app* is, or wraps through other middleware's ``.app``
    (Werkzeug's ``ProxyFix``, uvicorn's ``ProxyHeadersMiddleware``, ...): that one
    passes its requests on to this one, which sends for it, with its sender — else an
    app wrapped in the README's way and then in a proxy fix would report another
    sender under ``reqsignals run`` than under gunicorn or uvicorn."""
    layer = app
    for _ in range(_STACK_DEPTH):
        if isinstance(layer, HasSender):
            return layer
        layer = getattr(layer, "app", None)
        if layer is None or not callable(layer):
            return None
    return None


class _Nesting:
    """Whether a request can meet a second signals middleware, or an integration.

    Marking a request (``_keys.SENT_KEY``) and reading the mark are only needed then:
    with a single instance in the process and no framework integration, no request
    can be another instance's, and nobody reads the mark. One instance,
    :data:`Nesting`: the middlewares read ``Nesting.possible`` on every request, and
    an instance's attribute is quicker to read than a class's.
    """

    def __init__(self) -> None:
        self.instances = 0
        #: True once a second instance exists or an integration was imported.
        self.possible = False

    def note_instance(self) -> None:
        """Count a new middleware instance."""
        self.instances += 1
        if self.instances > 1:
            self.possible = True

    def note_integration(self) -> None:
        """A framework integration (reqsignals.contrib) reads the mark: always set it."""
        self.possible = True


Nesting = _Nesting()
