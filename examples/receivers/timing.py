"""Log one line per request: method, path, status and duration.

    GET /hello 200 1.8ms

Works for WSGI and ASGI alike: ``request_finished`` carries the ``environ`` or the
``scope``, the status and the duration measured by the middleware. A request whose app
raised before starting a response logs ``-`` for the status (the server answers 500).

Usage::

    from examples.receivers import timing

    timing.connect()            # every app in the process
    timing.connect(sender=app)  # only requests of the app wrapped with sender=app

The lines go to the ``examples.receivers.timing`` logger at INFO level, so configure
logging (``logging.basicConfig(level=logging.INFO)``) to see them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from reqsignals import request_finished
from reqsignals.types import RequestFinishedArgs

from .request_info import method_and_path

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack on Python 3.11+

logger = logging.getLogger(__name__)


def log_request(sender: object, **kwargs: Unpack[RequestFinishedArgs]) -> None:
    """The ``request_finished`` receiver: one INFO line per request."""
    scope = kwargs.get("scope")  # exactly one of scope (ASGI) and environ (WSGI) is given
    method, path = method_and_path(scope if scope is not None else kwargs.get("environ", {}))
    status, duration = kwargs["status"], kwargs["duration"]
    logger.info("%s %s %s %.1fms", method, path, status or "-", duration * 1000)


def connect(sender: Any = None) -> None:
    """Start logging requests (of *sender* only, if given). Connecting twice is a no-op."""
    request_finished.connect(log_request, sender=sender)


def disconnect(sender: Any = None) -> None:
    """Stop logging requests; pass the same *sender* as to :func:`connect`."""
    request_finished.disconnect(log_request, sender=sender)
