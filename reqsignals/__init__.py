"""reqsignals: Django-style signals for any WSGI or ASGI application."""

from __future__ import annotations

from ._wrap import wrap
from .dispatch import Signal, receiver
from .signals import (
    connection_created,
    got_request_exception,
    request_finished,
    request_started,
    user_logged_in,
    user_logged_out,
    user_login_failed,
)

__version__ = "0.1.0"

__all__ = [
    "Signal",
    "__version__",
    "connection_created",
    "got_request_exception",
    "receiver",
    "request_finished",
    "request_started",
    "user_logged_in",
    "user_logged_out",
    "user_login_failed",
    "wrap",
]
