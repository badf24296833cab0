"""A Flask app factory whose receivers are connected in ``create_app``, the Flask way.

Run it (from the repository root)::

    flask --app examples.flask_app run
    gunicorn 'examples.flask_app:create_app()'

then ``curl localhost:5000/`` (gunicorn: port 8000) a few times and read the counts at
``/metrics``. Every request also logs a timing line.

``reqsignals.contrib.flask.init_app(app)`` wraps ``app.wsgi_app`` (not ``app``, so
``app.run`` and the test client keep working) with ``sender=app``; the receivers are
connected for that sender only, so two apps made by the factory — in tests, say — never
count each other's requests.

Flask turns a view's exception into a 500 response itself, so the middleware alone
would see a 500, not the exception; ``init_app`` also forwards Flask's own exception
signal, so ``got_request_exception`` reports it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import flask

from examples.receivers import timing
from examples.receivers.prometheus import RequestMetrics
from reqsignals.contrib.flask import init_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")


def create_app(config: Mapping[str, Any] | None = None) -> flask.Flask:
    """Build the app, connect its receivers, and wrap it in the signals middleware."""
    app = flask.Flask(__name__)
    app.config.from_mapping(config or {})

    # Receivers are held weakly: the app keeps the metrics object alive.
    metrics = app.extensions["request_metrics"] = RequestMetrics()
    metrics.connect(sender=app)
    timing.connect(sender=app)
    init_app(app)  # wraps app.wsgi_app with sender=app; reports view exceptions

    @app.get("/")
    def index() -> str:
        return "Hello from Flask\n"

    @app.get("/hello/<name>")
    def hello(name: str) -> str:
        return f"Hello, {name}\n"

    @app.get("/metrics")
    def prometheus_metrics() -> flask.Response:
        body, content_type = metrics.exposition()
        return flask.Response(body, content_type=content_type)

    return app
