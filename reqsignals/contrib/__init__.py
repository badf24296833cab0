"""Integrations for frameworks that turn a view's exception into a 500 themselves.

Flask and Django catch an exception raised by a view, answer 500, and do not re-raise
it (unless in testing or propagation mode), so the signals middleware never sees it.
``reqsignals.contrib.flask`` and ``reqsignals.contrib.django`` forward the framework's
own exception signal to :data:`reqsignals.got_request_exception`, exactly once per
request whether or not the framework re-raises afterwards. Starlette and FastAPI
re-raise from their error middleware, so they need nothing.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from .._keys import HANDLED_KEY, REPORTED_KEY, SENT_KEY
from .._sender import Nesting
from ..signals import got_request_exception

__all__ = ["report_handled_exception"]

logger = logging.getLogger("reqsignals")

# The integrations read the middleware's mark on each request: have it set.
Nesting.note_integration()


def report_handled_exception(
    request: MutableMapping[str, Any], exception: BaseException, *, sender: Any
) -> None:
    """Report an exception the framework answered with an error response itself.

    Sends ``got_request_exception`` for *exception* unless one was already sent for
    this request, and marks the request so that the signals middleware does not send
    it again if the framework re-raises.

    Args:
        request: the request's WSGI environ or ASGI scope.
        exception: the exception the framework handled.
        sender: the sender to use when the request did not pass through the signals
            middleware (otherwise the middleware's sender is used).

    Under WSGI the signal is sent at once, from the framework's handler (where the
    exception is still the active one). Under ASGI the middleware sends it with
    ``asend`` in the request's task, once the app returns and before
    ``request_finished``, so async receivers run on the app's event loop.
    """
    if REPORTED_KEY in request or HANDLED_KEY in request:
        return
    middleware = request.get(SENT_KEY)
    is_scope = "REQUEST_METHOD" not in request
    if is_scope and middleware is not None:
        request[HANDLED_KEY] = exception
        return
    request[REPORTED_KEY] = exception
    named: dict[str, Any] = {"scope" if is_scope else "environ": request, "exception": exception}
    if middleware is not None:
        sender, strict = middleware.sender, middleware.strict
    else:
        strict = False
    if strict:
        got_request_exception.send(sender, **named)
        return
    try:
        got_request_exception.send_robust(sender, **named)
    except RuntimeError as exc:  # async receivers, and a loop running in this thread
        logger.error("got_request_exception not sent for %r: %s", exception, exc)
