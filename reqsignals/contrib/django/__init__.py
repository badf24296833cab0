"""reqsignals for Django: view exceptions reported to ``got_request_exception``.

Add the app to ``INSTALLED_APPS`` and wrap the handler::

    INSTALLED_APPS = [..., "reqsignals.contrib.django"]

    # wsgi.py / asgi.py
    application = reqsignals.wrap(get_wsgi_application())   # or get_asgi_application()

Django turns a view's unhandled exception into a 500 itself, so the middleware alone
never sees it. The app's ``ready()`` connects Django's own ``got_request_exception``
to a forwarder that sends reqsignals' once per request — also when Django re-raises
(``DEBUG_PROPAGATE_EXCEPTIONS``). :func:`connect` does the same without the app.
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

from .. import report_handled_exception

__all__ = ["connect", "disconnect"]

_UID = "reqsignals.contrib.django"


def connect() -> None:
    """Forward Django's ``got_request_exception`` to reqsignals' (idempotent)."""
    from django.core.signals import got_request_exception

    got_request_exception.connect(_forward, dispatch_uid=_UID)


def disconnect() -> None:
    """Stop forwarding."""
    from django.core.signals import got_request_exception

    got_request_exception.disconnect(dispatch_uid=_UID)


def _exception_in_flight() -> BaseException | None:
    # Under ASGI, Django handles the exception in a worker thread where it is not the
    # active one (sync_to_async(response_for_exception)(request, exc)): take it from
    # that function's frame.
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "response_for_exception":
            exc = frame.f_locals.get("exc")
            if isinstance(exc, BaseException):
                return exc
        frame = frame.f_back
    return None


def _forward(sender: Any, request: Any = None, **kwargs: Any) -> None:
    exception = sys.exc_info()[1] or _exception_in_flight()
    if exception is None or request is None:
        return
    holder = getattr(request, "scope", None)
    if holder is None:
        holder = getattr(request, "environ", None)
    if holder is None:
        return
    report_handled_exception(holder, exception, sender=sender)
