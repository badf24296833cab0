"""reqsignals for Flask: the signals middleware, and view exceptions reported.

Example::

    from flask import Flask
    from reqsignals.contrib.flask import init_app

    def create_app():
        app = Flask(__name__)
        init_app(app)   # wraps app.wsgi_app; forwards Flask's got_request_exception
        return app

Flask turns a view's unhandled exception into a 500 itself, so the middleware alone
never sees it; :func:`init_app` forwards Flask's own ``got_request_exception`` to
reqsignals', once per request — also when Flask re-raises in testing or debug mode.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask.signals import got_request_exception as flask_got_request_exception

from ..wsgi import SignalsMiddleware
from . import report_handled_exception

__all__ = ["init_app"]


def init_app(app: Flask, *, wrap: bool = True, **options: Any) -> None:
    """Set reqsignals up on a Flask app.

    Args:
        app: the Flask application.
        wrap: wrap ``app.wsgi_app`` in :class:`reqsignals.wsgi.SignalsMiddleware`
            (with ``sender=app``); pass ``False`` if the app is wrapped elsewhere.
        **options: passed to the middleware (``strict``).
    """
    if wrap:
        options.setdefault("sender", app)
        app.wsgi_app = SignalsMiddleware(app.wsgi_app, **options)  # type: ignore[method-assign]
    flask_got_request_exception.connect(_forward, app, weak=False)


def _forward(sender: Flask, exception: BaseException, **extra: Any) -> None:
    report_handled_exception(request.environ, exception, sender=sender)
