"""reqsignals: Django-style signals for any WSGI or ASGI application."""

# No `from __future__ import annotations` here: it would make `reqsignals.annotations`
# a public-looking name, and this module has no annotations to postpone.

from ._deprecation import ReqsignalsDeprecationWarning
from ._wrap import wrap
from .dispatch import Signal, receiver
from .signals import (
    class_prepared,
    connection_created,
    csrf_failed,
    got_request_exception,
    m2m_changed,
    post_delete,
    post_init,
    post_migrate,
    post_save,
    pre_delete,
    pre_init,
    pre_migrate,
    pre_save,
    receiver_failed,
    request_finished,
    request_started,
    session_revoked,
    user_locked_out,
    user_logged_in,
    user_logged_out,
    user_login_failed,
)

__version__ = "0.1.0"

__all__ = [
    "ReqsignalsDeprecationWarning",
    "Signal",
    "__version__",
    "class_prepared",
    "connection_created",
    "csrf_failed",
    "got_request_exception",
    "m2m_changed",
    "post_delete",
    "post_init",
    "post_migrate",
    "post_save",
    "pre_delete",
    "pre_init",
    "pre_migrate",
    "pre_save",
    "receiver",
    "receiver_failed",
    "request_finished",
    "request_started",
    "session_revoked",
    "user_locked_out",
    "user_logged_in",
    "user_logged_out",
    "user_login_failed",
    "wrap",
]
