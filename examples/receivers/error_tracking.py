"""Send every receiver failure to an error tracker.

A receiver that raises where reqsignals sends robustly (the middlewares' request
signals, the auth signals, any ``send_robust``) is logged on the ``reqsignals`` logger
and skipped, so the request carries on and nobody is told. ``receiver_failed`` is sent
for each of those failures; this receiver hands the exception to an error tracker's
``capture_exception``: Sentry's, or any function that takes the exception and a
``tags=`` dict::

    import sentry_sdk
    from examples.receivers.error_tracking import ErrorTracking

    tracking = ErrorTracking(sentry_sdk.capture_exception)
    tracking.connect()  # keep `tracking` referenced: receivers are weak

Each report carries two tags: ``reqsignals.signal``, the signal whose receiver failed
(``request_finished``), and ``reqsignals.receiver``, that receiver's module and
qualified name, so an alert can name the receiver and a dashboard can count failures
per receiver. The exception keeps its traceback: the tracker shows where it was raised.

If ``capture_exception`` itself raises, reqsignals logs that and goes on: a failure of
a ``receiver_failed`` receiver is never sent again, so there is no loop. Under an ASGI
server this receiver runs on the event loop; Sentry's ``capture_exception`` only queues
the event for a background thread, and a tracker whose function blocks belongs behind a
queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from reqsignals import receiver_failed
from reqsignals.types import ReceiverFailedArgs, SignalLike

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack on Python 3.11+


class CaptureException(Protocol):
    """An error tracker's report function: ``sentry_sdk.capture_exception`` and alike."""

    def __call__(self, error: BaseException, /, *, tags: dict[str, str]) -> object:
        """Report *error*, with *tags* attached to the event."""


def qualified_name(fn: object) -> str:
    """``module.QualName`` of a function, method or callable object."""
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{getattr(fn, '__module__', None) or type(fn).__module__}.{name}"


class ErrorTracking:
    """Reports each ``receiver_failed`` to *capture_exception*.

    Args:
        capture_exception: called as ``capture_exception(exception, tags={...})``.
    """

    def __init__(self, capture_exception: CaptureException) -> None:
        self.capture_exception = capture_exception

    def report(self, sender: SignalLike, **kwargs: Unpack[ReceiverFailedArgs]) -> None:
        """The ``receiver_failed`` receiver; *sender* is the signal whose receiver raised."""
        tags = {
            "reqsignals.signal": sender.name or repr(sender),
            "reqsignals.receiver": qualified_name(kwargs["receiver"]),
        }
        self.capture_exception(kwargs["exception"], tags=tags)

    def connect(self) -> None:
        """Start reporting (held weakly: keep this object referenced). Twice is a no-op."""
        receiver_failed.connect(self.report)

    def disconnect(self) -> None:
        """Stop reporting."""
        receiver_failed.disconnect(self.report)
